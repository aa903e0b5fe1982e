// Detection and response, wired: every batch on the bus meets the detection rules; a detection
// opens or joins an incident, is alerted through the outbox, and an incident that opens starts
// the playbooks its rule triggers. Every event also streams to the configured SIEMs.
import { Counter } from "prom-client";
import type { RampartConfig } from "../config/index.ts";
import {
  type AlertMessage,
  type Alerts,
  createAlerts,
  messageFromDetection,
} from "../monitoring/alerts/index.ts";
import {
  createDetector,
  createSeenStore,
  type Detection,
  type Detector,
  detectRules,
  durationMs,
  ruleSource,
  prioritySeverity,
  type SeenStore,
} from "../monitoring/detect/index.ts";
import type { Incident, Incidents } from "../monitoring/incidents/index.ts";
import type { Metrics } from "../monitoring/metrics/index.ts";
import {
  createPlaybooks,
  loadPlaybooks,
  type Playbook,
  type Playbooks,
} from "../monitoring/playbooks/index.ts";
import { createSiemExport, type SiemExport } from "../monitoring/siem/index.ts";
import type { Clock } from "../platform/clock.ts";
import { type EventBus, newEvent, type SecurityEvent } from "../platform/events/index.ts";
import type { Logger } from "../platform/logging.ts";
import type { Store } from "../platform/store/index.ts";
import type { BreachRegime, BreachRegister } from "../data/privacy/breach/index.ts";
import { type BreachClock, createPlaybookActions, type PlaybookRuntime } from "./playbook-actions.ts";

export interface IncidentResponse {
  readonly detector: Detector;
  readonly alerts: Alerts;
  readonly playbooks: Playbooks;
  readonly siem: SiemExport;
  /** Resolves once every detection handled so far has its incident, alerts and playbook runs started. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const detectActor = { kind: "system", id: "detect" } as const;
const DAY_MS = 86_400_000;

/** The longest `remember` of the first_seen rules: how long the seen store keeps a value. */
function longestMemory(config: RampartConfig): number {
  let ms = 30 * DAY_MS;
  for (const r of detectRules(config.detect))
    if (r.condition.kind === "first_seen") ms = Math.max(ms, durationMs(r.condition.remember));
  return ms;
}

/** Where the incident can be read (its API resource), when the server's public URL is known. */
const incidentUrl = (config: RampartConfig, id: string) =>
  config.server.publicUrl
    ? new URL(`/api/v1/incidents/${id}`, config.server.publicUrl).toString()
    : undefined;

function incidentMessage(config: RampartConfig, i: Incident, d: Detection): AlertMessage {
  const url = incidentUrl(config, i.id);
  const base = messageFromDetection(d, {
    incident: { id: i.id, state: i.state },
    ...(url ? { incidentUrl: url } : {}),
  });
  // One key per incident, so a later resolve closes the same PagerDuty alert.
  return {
    ...base,
    kind: "incident_opened",
    id: `incident:${i.id}:opened`,
    key: `incident:${i.id}`,
    title: `${i.id}: ${i.title}`,
  };
}

/** The breach register's regime for each playbook clock kind. */
const regimeOf: Record<BreachClock["kind"], BreachRegime> = {
  "dpdp-72h": "dpdp",
  "gdpr-72h": "gdpr",
  "cert-in-6h": "cert_in",
};

/** Starts rules, alerts, playbooks and SIEM export on the server's bus. */
export async function startIncidentResponse(o: {
  config: () => RampartConfig;
  /** Where relative playbook directories are resolved (the config file's directory). */
  configDir: string;
  store: Store;
  bus: EventBus;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  incidents: Incidents;
  /** The breach register: a playbook's breach clocks open a breach record for the incident. */
  breaches: BreachRegister;
  /** The parts of the runtime playbook actions act through. */
  runtime: PlaybookRuntime;
}): Promise<IncidentResponse> {
  const { store, bus, clock, logger, incidents } = o;
  const emit = (e: SecurityEvent) => bus.emit(e);
  const detections = new Counter({
    name: "rampart_detections_total",
    help: "Detections fired, by rule and priority.",
    labelNames: ["rule", "priority"],
    registers: [o.metrics.registry],
  });

  // Checked at start: a broken playbook file stops the server with its file:line:column.
  let playbookSection = o.config().playbooks;
  let loaded: Playbook[] = loadPlaybooks({ ...playbookSection, baseDir: o.configDir });
  const load = () => {
    const now = o.config().playbooks;
    if (now !== playbookSection) {
      try {
        loaded = loadPlaybooks({ ...now, baseDir: o.configDir });
      } catch (err) {
        logger.error({ err: (err as Error).message }, "playbooks not reloaded; keeping the ones in force");
      }
      playbookSection = now;
    }
    return loaded;
  };

  const alerts = createAlerts({
    store,
    clock,
    config: () => o.config().alerts,
    emit,
    logger,
    registry: o.metrics.registry,
  });
  const note = (id: string, text: string, by: Parameters<Incidents["note"]>[2]) =>
    incidents.note(id, text, by);
  const playbooks = createPlaybooks({
    store,
    clock,
    emit,
    logger,
    load,
    autoRun: () => o.config().playbooks.autoRun,
    actions: createPlaybookActions(o.runtime, {
      notify: (text, priority, channel, incident) =>
        alerts.send(
          {
            kind: "notice",
            id: `notice:${crypto.randomUUID()}`,
            priority,
            title: text.slice(0, 200),
            summary: text,
            key: incident ? `incident:${incident}` : `notice:${text.slice(0, 100)}`,
            ...(incident ? { incident: { id: incident, state: "open" } } : {}),
            at: clock.now().toISOString(),
            details: incident ? { incident } : {},
          },
          channel ? { channel } : {},
        ),
      incidentNote: note,
      incidentTransition: (id, to, by) => incidents.transition(id, to as Incident["state"], by),
      recordBreachClocks: async (id: string, clocks: BreachClock[], by) => {
        const regimes = [...new Set(clocks.map((c) => regimeOf[c.kind]))];
        const { breach, created } = await o.breaches.openFromIncident(
          {
            incidentId: id,
            awareAt: clocks[0]?.startedAt ?? clock.now().toISOString(),
            regimes,
            title: (await incidents.get(id)).title,
          },
          by,
        );
        const due = breach.clocks.map((c) => `${c.label} due ${c.dueAt}`).join("; ");
        await note(
          id,
          `${created ? "Breach record opened" : "Breach record already open"}: ${breach.id} (${due})`,
          by,
        );
        return breach;
      },
    }),
  });

  const seen: SeenStore = createSeenStore({ store, clock, rememberMs: longestMemory(o.config()), logger });
  await seen.load();

  // Detections are handled one after another, so an incident is open before its next detection joins it.
  let chain: Promise<void> = Promise.resolve();
  const respond = async (d: Detection) => {
    const config = o.config();
    const joined = await incidents.fromDetection(d, { openAt: config.incidents.openAt });
    if (!joined) {
      await alerts.send(messageFromDetection(d));
      return;
    }
    if (!joined.created) return; // the incident's own alert went out when it opened
    await alerts.send(incidentMessage(config, joined.incident, d));
    // Playbooks may take minutes (rotations); detections behind this one need not wait.
    void playbooks
      .onIncidentOpened({ id: joined.incident.id, priority: joined.incident.priority }, d)
      .catch((err: unknown) =>
        logger.error({ err: (err as Error).message, incident: joined.incident.id }, "playbook run failed"),
      );
  };
  const onDetection = (d: Detection) => {
    detections.inc({ rule: d.rule, priority: d.priority });
    emit(
      newEvent(
        {
          type: "detect.fired",
          severity: prioritySeverity[d.priority],
          actor: detectActor,
          target: { kind: "rule", id: d.rule },
          retention: "security",
          data: {
            detection: d.id,
            priority: d.priority,
            fingerprint: d.fingerprint,
            group: d.group,
            count: d.count,
            summary: d.summary,
            events: d.events,
          },
        },
        clock.now(),
      ),
    );
    chain = chain
      .then(() => respond(d))
      .catch((err: unknown) =>
        logger.error(
          { err: (err as Error).message, rule: d.rule },
          "detection not turned into an incident or alert",
        ),
      );
  };

  const detector = createDetector({
    rules: ruleSource(() => o.config().detect),
    clock,
    environment: () => o.config().environment,
    seen,
    onDetection,
    logger,
  });
  const siem = createSiemExport({ config: () => o.config().siem, logger, registry: o.metrics.registry });
  // A recovered incident resolves its page (PagerDuty closes the alert with the same key).
  const resolved = (events: readonly SecurityEvent[]) => {
    for (const e of events) {
      if (e.type !== "incident.state_changed" || e.data.to !== "recovered" || !e.target) continue;
      const id = e.target.id;
      const priority = e.data.priority as Detection["priority"];
      chain = chain
        .then(async () => {
          await alerts.send({
            kind: "incident_resolved",
            id: `incident:${id}:recovered:${e.id}`,
            priority,
            title: `${id} recovered`,
            summary: `${id} was marked recovered by ${e.actor.kind}:${e.actor.id}`,
            key: `incident:${id}`,
            incident: { id, state: "recovered" },
            at: e.time,
            details: { incident: id },
          });
        })
        .catch((err: unknown) =>
          logger.error({ err: (err as Error).message, incident: id }, "incident resolution not alerted"),
        );
    }
  };
  const unsubscribe = [
    bus.subscribe((events) => void detector.process(events)),
    bus.subscribe(resolved),
    bus.subscribe(siem.handle),
  ];
  alerts.start();

  return {
    detector,
    alerts,
    playbooks,
    siem,
    settled: () => chain,
    async close() {
      for (const u of unsubscribe) u();
      await chain;
      await alerts.close();
      await seen.close();
      await siem.close();
    },
  };
}
