// Incidents: opened by people or from detections (deduplicated on the detection's fingerprint),
// moved through their life cycle, with a commander, notes, linked evidence, a post-incident review
// and a timeline that fills itself from the events that concern them. Every change is an audited
// event on the spine.
import { type Kysely, type Selectable, sql, type Transaction } from "kysely";
import type { Registry } from "prom-client";
import type { z } from "zod";
import type { Clock } from "../../platform/clock.ts";
import { Conflict, Invalid, NotFound } from "../../platform/errors.ts";
import { type EventRef, newEvent, type SecurityEvent, type Severity } from "../../platform/events/index.ts";
import type { Logger } from "../../platform/logging.ts";
import type { Store } from "../../platform/store/index.ts";
import { atLeast, type Detection, type Priority, prioritySeverity } from "../detect/types.ts";
import { createIncidentMetrics, type IncidentMetrics } from "./metrics.ts";
import { buildReport, type IncidentReport, type ReportRow } from "./report.ts";
import {
  type Evidence,
  evidenceSchema,
  type IncidentTables,
  type OpenIncident,
  openIncidentSchema,
  type ReviewInput,
  reviewSchema,
  type TimelineKind,
} from "./schema.ts";
import { canMove, type IncidentState, isContained, isOpen, nextStates, reviewRequired } from "./states.ts";

/** Timeline entries added from events (not by people) per incident; past it they are only counted. */
export const MAX_AUTO_ENTRIES = 1000;
/** Ids an incident watches for in events (its detections' group values and entities). */
const MAX_ENTITIES = 200;
const INCIDENT_ID = /^INC-\d{4}-\d{4,}$/;

export interface Review extends ReviewInput {
  reviewedAt: string;
  reviewedBy: string;
}

export interface Incident {
  id: string;
  title: string;
  summary: string | null;
  priority: Priority;
  state: IncidentState;
  /** States it may move to next. */
  nextStates: IncidentState[];
  fingerprint: string | null;
  rule: string | null;
  commander: string | null;
  createdAt: string;
  acknowledgedAt: string | null;
  containedAt: string | null;
  recoveredAt: string | null;
  closedAt: string | null;
  review: Review | null;
  playbookRuns: string[];
  /** Timeline entries added from events, and those left out past MAX_AUTO_ENTRIES. */
  autoEntries: number;
  autoDropped: number;
}

export interface TimelineEntry {
  id: number;
  at: string;
  kind: TimelineKind;
  /** Who: `user:corp:alice`, `rule:credential-new-ip`, `system:rampart`. */
  actor: string;
  text: string;
  data: Record<string, unknown>;
}

export interface IncidentQuery {
  state?: IncidentState;
  priority?: Priority;
  /** true: not closed; false: closed. */
  open?: boolean;
  /** Created at or after. */
  since?: Date;
  limit?: number;
}

export interface Incidents {
  /** Loads what recordEvents and the open-incident gauge need; call once at start. */
  start(): Promise<void>;
  open(input: OpenIncident & { detection?: Detection }, by: EventRef): Promise<Incident>;
  /**
   * Joins `d` to the live incident with its fingerprint (raising its priority if `d` is more urgent),
   * else opens one when `d` is at least `openAt`; undefined when below it.
   */
  fromDetection(
    d: Detection,
    o: { openAt: Priority },
  ): Promise<{ incident: Incident; created: boolean } | undefined>;
  get(id: string): Promise<Incident & { timeline: TimelineEntry[] }>;
  /** Newest first. */
  list(q?: IncidentQuery): Promise<Incident[]>;
  /** Conflict (409) naming the allowed next states when the move is not in the life cycle. */
  transition(id: string, to: IncidentState, by: EventRef, note?: string): Promise<Incident>;
  /** Moves a detected incident to triaged; nothing to do once acknowledged. */
  acknowledge(id: string, by: EventRef): Promise<Incident>;
  assign(id: string, commander: string, by: EventRef): Promise<Incident>;
  setPriority(id: string, priority: Priority, by: EventRef, reason: string): Promise<Incident>;
  note(id: string, text: string, by: EventRef): Promise<TimelineEntry>;
  linkEvidence(id: string, evidence: Evidence, by: EventRef): Promise<TimelineEntry>;
  review(id: string, review: ReviewInput, by: EventRef): Promise<Incident>;
  /** Appends the events that concern incidents to their timelines (give it every batch of the bus). */
  recordEvents(events: readonly SecurityEvent[]): Promise<void>;
  report(o: { since: Date; until?: Date }): Promise<IncidentReport>;
}

type Row = IncidentTables["incidents"];
type Db = Kysely<IncidentTables>;
type NewEntry = {
  kind: TimelineKind;
  text: string;
  data?: Record<string, unknown>;
  at?: Date;
  actor?: string;
};

/** Whether `by` is a person or their token, rather than a rule, a playbook or the system. */
const byPerson = (by: EventRef) => !["rule", "playbook", "system"].includes(by.kind);
const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const who = (r: EventRef) => `${r.kind}:${r.id}`;

function toIncident(r: Row): Incident {
  const state = r.state as IncidentState;
  return {
    id: r.id,
    title: r.title,
    summary: r.summary,
    priority: r.priority as Priority,
    state,
    nextStates: nextStates(state),
    fingerprint: r.fingerprint,
    rule: r.rule,
    commander: r.commander,
    createdAt: iso(r.created_at) as string,
    acknowledgedAt: iso(r.acknowledged_at),
    containedAt: iso(r.contained_at),
    recoveredAt: iso(r.recovered_at),
    closedAt: iso(r.closed_at),
    review: r.review ? (JSON.parse(r.review) as Review) : null,
    playbookRuns: JSON.parse(r.playbook_runs) as string[],
    autoEntries: r.auto_entries,
    autoDropped: r.auto_dropped,
  };
}

function toEntry(r: Selectable<IncidentTables["incident_timeline"]>): TimelineEntry {
  return {
    id: Number(r.id),
    at: iso(r.at) as string,
    kind: r.kind as TimelineKind,
    actor: r.actor,
    text: r.text,
    data: JSON.parse(r.data) as Record<string, unknown>,
  };
}

const uniqueViolation = (err: unknown) => (err as { code?: string }).code === "23505";

/** The ids a detection's events are recognised by: group values and entities (the system actor is everyone's). */
function detectionEntities(d: Detection): string[] {
  const ids = [...Object.values(d.group), ...d.entities.filter((e) => e.kind !== "system").map((e) => e.id)];
  return [...new Set(ids.filter((v) => v.length > 0))];
}

function parse<T>(schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  throw new Invalid(first?.message ?? "invalid", first?.path.map(String).join(".") || undefined);
}

/** The incident service over `store`; metrics go on `registry` when given. */
export function createIncidents(o: {
  store: Store;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  logger: Logger;
  registry?: Registry;
}): Incidents {
  const { clock, logger } = o;
  const db: Db = o.store.db.withTables<IncidentTables>();
  const metrics: IncidentMetrics | undefined = o.registry ? createIncidentMetrics(o.registry) : undefined;
  // Watched id → open incidents watching it: lets recordEvents match a batch without a query.
  const watchers = new Map<string, Set<string>>();
  const watched = new Map<string, Set<string>>();
  let loaded: Promise<void> | undefined;
  let counting: Promise<void> = Promise.resolve();

  const watch = (incident: string, ids: Iterable<string>) => {
    const mine = watched.get(incident) ?? new Set<string>();
    watched.set(incident, mine);
    for (const v of ids) {
      mine.add(v);
      const set = watchers.get(v) ?? new Set<string>();
      set.add(incident);
      watchers.set(v, set);
    }
  };
  const unwatch = (incident: string) => {
    for (const v of watched.get(incident) ?? []) {
      const set = watchers.get(v);
      set?.delete(incident);
      if (set?.size === 0) watchers.delete(v);
    }
    watched.delete(incident);
  };

  const refreshCounts = () => {
    if (!metrics) return Promise.resolve();
    // Chained so an older count never lands after a newer one.
    counting = counting.then(async () => {
      try {
        const rows = await db
          .selectFrom("incidents")
          .select(["priority", "state", (eb) => eb.fn.countAll<string>().as("n")])
          .where("state", "<>", "closed")
          .groupBy(["priority", "state"])
          .execute();
        metrics.setOpen(
          rows.map((r) => ({
            priority: r.priority as Priority,
            state: r.state as IncidentState,
            count: Number(r.n),
          })),
        );
      } catch (err) {
        logger.warn({ err: (err as Error).message }, "counting open incidents failed; the gauge may lag");
      }
    });
    return counting;
  };

  const load = async () => {
    const rows = await db
      .selectFrom("incidents")
      .select(["id", "entities"])
      .where("state", "<>", "closed")
      .execute();
    for (const r of rows) watch(r.id, JSON.parse(r.entities) as string[]);
    await refreshCounts();
  };
  const ready = () =>
    (loaded ??= load().catch((err: unknown) => {
      loaded = undefined;
      throw err;
    }));

  const audit = (
    type: string,
    by: EventRef,
    inc: Incident,
    data: Record<string, unknown> = {},
    severity: Severity = "medium",
  ) =>
    o.emit(
      newEvent(
        {
          type,
          severity,
          retention: "audit",
          actor: by,
          target: { kind: "incident", id: inc.id },
          data: { incident: inc.id, priority: inc.priority, state: inc.state, ...data },
        },
        clock.now(),
      ),
    );

  const addEntries = async (tx: Kysely<IncidentTables>, id: string, by: string, entries: NewEntry[]) => {
    if (entries.length === 0) return [];
    const now = clock.now();
    const rows = await tx
      .insertInto("incident_timeline")
      .values(
        entries.map((e) => ({
          incident_id: id,
          at: e.at ?? now,
          kind: e.kind,
          actor: e.actor ?? by,
          text: e.text,
          data: JSON.stringify(e.data ?? {}),
        })),
      )
      .returningAll()
      .execute();
    return rows.map(toEntry);
  };

  const row = async (tx: Kysely<IncidentTables> | Transaction<IncidentTables>, id: string, lock = false) => {
    let q = tx.selectFrom("incidents").selectAll().where("id", "=", id);
    if (lock) q = q.forUpdate();
    const r = await q.executeTakeFirst();
    if (!r) throw new NotFound(`no incident ${id}`);
    return r;
  };

  /**
   * One change of one incident in a transaction: `plan` sees the locked row and says what to set
   * and which timeline entries to add; events and metrics follow the commit.
   */
  const change = async (
    id: string,
    by: EventRef,
    plan: (r: Row) => { set: Partial<Row>; entries: NewEntry[] } | undefined,
  ): Promise<{ before: Row; after: Row; entries: TimelineEntry[] }> => {
    await ready();
    return db.transaction().execute(async (tx) => {
      const before = await row(tx, id, true);
      const p = plan(before);
      if (!p) return { before, after: before, entries: [] };
      const after =
        Object.keys(p.set).length > 0
          ? await tx
              .updateTable("incidents")
              .set(p.set)
              .where("id", "=", id)
              .returningAll()
              .executeTakeFirstOrThrow()
          : before;
      const entries = await addEntries(tx, id, who(by), p.entries);
      return { before, after, entries };
    });
  };

  const nextId = async (tx: Kysely<IncidentTables>) => {
    const year = clock.now().getUTCFullYear();
    const { last } = await tx
      .insertInto("incident_sequences")
      .values({ year, last: 1 })
      .onConflict((oc) => oc.column("year").doUpdateSet({ last: sql<number>`incident_sequences.last + 1` }))
      .returning("last")
      .executeTakeFirstOrThrow();
    return `INC-${year}-${String(last).padStart(4, "0")}`;
  };

  const live = (fingerprint: string) =>
    db
      .selectFrom("incidents")
      .selectAll()
      .where("fingerprint", "=", fingerprint)
      .where("state", "<>", "closed")
      .executeTakeFirst();

  const detectionEntry = (d: Detection): NewEntry => ({
    kind: "detection",
    at: new Date(d.firedAt),
    actor: `rule:${d.rule}`,
    text: d.summary,
    data: {
      detection: d.id,
      rule: d.rule,
      priority: d.priority,
      count: d.count,
      firstAt: d.firstAt,
      lastAt: d.lastAt,
      group: d.group,
      events: d.events,
    },
  });

  const open: Incidents["open"] = async (raw, by) => {
    const { detection, ...rest } = raw;
    const input = parse(openIncidentSchema, rest);
    await ready();
    const entities = detection ? detectionEntities(detection).slice(0, MAX_ENTITIES) : [];
    const now = clock.now();
    let created: Row;
    try {
      created = await db.transaction().execute(async (tx) => {
        const r = await tx
          .insertInto("incidents")
          .values({
            id: await nextId(tx),
            title: input.title,
            summary: input.summary ?? detection?.summary ?? null,
            priority: input.priority,
            state: "detected",
            fingerprint: input.fingerprint ?? null,
            rule: input.rule ?? null,
            commander: input.commander ?? null,
            created_at: now,
            acknowledged_at: null,
            contained_at: null,
            recovered_at: null,
            closed_at: null,
            review: null,
            playbook_runs: "[]",
            entities: JSON.stringify(entities),
            auto_entries: 0,
            auto_dropped: 0,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        const entries: NewEntry[] = [
          { kind: "state", text: `opened as ${input.priority}: ${input.title}`, data: { to: "detected" } },
        ];
        if (input.commander)
          entries.push({
            kind: "commander",
            text: `commander: ${input.commander}`,
            data: { to: input.commander },
          });
        if (detection) {
          entries.push(detectionEntry(detection));
          for (const e of detection.events)
            entries.push({
              kind: "evidence",
              actor: `rule:${detection.rule}`,
              text: `event ${e}`,
              data: { kind: "event", ref: e, description: `contributed to detection ${detection.id}` },
            });
        }
        await addEntries(tx, r.id, who(by), entries);
        return r;
      });
    } catch (err) {
      if (uniqueViolation(err) && input.fingerprint) {
        const other = await live(input.fingerprint);
        throw new Conflict(
          `incident ${other?.id ?? "(another)"} is open with the fingerprint ${input.fingerprint}`,
        );
      }
      throw err;
    }
    const inc = toIncident(created);
    watch(inc.id, entities);
    metrics?.opened(inc.priority);
    await refreshCounts();
    audit(
      "incident.opened",
      by,
      inc,
      {
        title: inc.title,
        to: "detected",
        ...(inc.rule ? { rule: inc.rule } : {}),
        ...(inc.fingerprint ? { fingerprint: inc.fingerprint } : {}),
        ...(detection ? { detection: detection.id } : {}),
      },
      prioritySeverity[inc.priority],
    );
    return inc;
  };

  const setPriority: Incidents["setPriority"] = async (id, priority, by, reason) => {
    const { before, after } = await change(id, by, (r) => {
      if (!isOpen(r.state as IncidentState)) throw new Conflict(`${id} is closed; reopen it first`);
      if (r.priority === priority) return undefined;
      return {
        set: { priority },
        entries: [
          {
            kind: "priority",
            text: `priority ${r.priority} → ${priority}: ${reason}`,
            data: { from: r.priority, to: priority, reason },
          },
        ],
      };
    });
    const inc = toIncident(after);
    if (before.priority !== after.priority) {
      await refreshCounts();
      const raised = atLeast(priority, before.priority as Priority);
      audit(
        "incident.priority_changed",
        by,
        inc,
        { from: before.priority, to: priority },
        raised ? prioritySeverity[priority] : "medium",
      );
    }
    return inc;
  };

  const fromDetection: Incidents["fromDetection"] = async (d, { openAt }) => {
    const rule: EventRef = { kind: "rule", id: d.rule };
    for (let attempt = 0; ; attempt++) {
      await ready();
      const existing = await live(d.fingerprint);
      if (existing) {
        const ids = detectionEntities(d);
        const { after } = await change(existing.id, rule, (r) => {
          const known = JSON.parse(r.entities) as string[];
          const merged = [...new Set([...known, ...ids])].slice(0, MAX_ENTITIES);
          return { set: { entities: JSON.stringify(merged) }, entries: [detectionEntry(d)] };
        });
        if (isOpen(after.state as IncidentState)) watch(after.id, JSON.parse(after.entities) as string[]);
        const incident =
          atLeast(d.priority, after.priority as Priority) && d.priority !== after.priority
            ? await setPriority(after.id, d.priority, rule, `detection ${d.id} is ${d.priority}`)
            : toIncident(after);
        return { incident, created: false };
      }
      if (!atLeast(d.priority, openAt)) return undefined;
      try {
        const incident = await open(
          {
            title: d.title,
            priority: d.priority,
            summary: d.summary,
            fingerprint: d.fingerprint,
            rule: d.rule,
            detection: d,
          },
          rule,
        );
        return { incident, created: true };
      } catch (err) {
        // Another server (or batch) opened it first: join that one.
        if (err instanceof Conflict && attempt === 0) continue;
        throw err;
      }
    }
  };

  const transition: Incidents["transition"] = async (id, to, by, note) => {
    const now = clock.now();
    const moved = change(id, by, (r) => {
      const from = r.state as IncidentState;
      if (!canMove(from, to)) {
        const allowed = nextStates(from);
        throw new Conflict(
          `${id} cannot move from ${from} to ${to}; allowed next: ${allowed.join(", ")}` +
            (to === "closed" && from !== "recovered" ? " (an incident closes only once recovered)" : ""),
        );
      }
      if (to === "closed" && reviewRequired(r.priority as Priority) && !r.review)
        throw new Conflict(
          `${id} is ${r.priority}: it needs a post-incident review (summary, root cause, lessons, action items) before it closes`,
        );
      if (from === "closed" && !note) throw new Invalid("a reason is required to reopen an incident", "note");
      const set: Partial<Row> = { state: to };
      // Acknowledgement is a person's: a playbook containing the incident does not count for MTTA.
      if (!r.acknowledged_at && byPerson(by)) set.acknowledged_at = now;
      if (isContained(to) && !r.contained_at) set.contained_at = now;
      if (to === "recovered") set.recovered_at = now;
      // Back to containment or reopened: not recovered any more.
      if (to === "contained" || from === "closed") set.recovered_at = null;
      if (to === "closed") set.closed_at = now;
      if (from === "closed") set.closed_at = null;
      const verb = from === "closed" ? "reopened" : to === "closed" ? "closed" : `${from} → ${to}`;
      return {
        set,
        entries: [
          {
            kind: "state",
            text: note ? `${verb}: ${note}` : verb,
            data: { from, to, ...(note ? { note } : {}) },
          },
        ],
      };
    });
    const { before, after } = await moved.catch(async (err: unknown) => {
      if (!uniqueViolation(err)) throw err;
      const r = await row(db, id);
      const other = r.fingerprint ? await live(r.fingerprint) : undefined;
      throw new Conflict(
        `${id} cannot reopen: ${other?.id ?? "another incident"} is open with its fingerprint ${r.fingerprint}; add to that one`,
      );
    });
    const inc = toIncident(after);
    const p = inc.priority;
    const secs = (d: Date) => (d.getTime() - new Date(after.created_at).getTime()) / 1000;
    if (!before.acknowledged_at && after.acknowledged_at)
      metrics?.acknowledged(p, secs(after.acknowledged_at));
    if (to === "recovered" && after.recovered_at) metrics?.recovered(p, secs(after.recovered_at));
    if (to === "closed") unwatch(id);
    if (before.state === "closed") watch(id, JSON.parse(after.entities) as string[]);
    await refreshCounts();
    const from = before.state;
    const type =
      to === "closed"
        ? "incident.closed"
        : from === "closed"
          ? "incident.reopened"
          : "incident.state_changed";
    audit(type, by, inc, { from, to });
    return inc;
  };

  const closedGuard = (r: Row, what: string) => {
    if (!isOpen(r.state as IncidentState)) throw new Conflict(`${r.id} is closed; reopen it to ${what}`);
  };

  return {
    start: ready,
    open,
    fromDetection,
    setPriority,
    transition,

    async acknowledge(id, by) {
      await ready();
      const r = await row(db, id);
      if (r.acknowledged_at || !isOpen(r.state as IncidentState)) return toIncident(r);
      if (r.state === "detected") return transition(id, "triaged", by, "acknowledged");
      // Automation moved it on before anyone looked: acknowledge where it stands.
      const { after } = await change(id, by, () => ({
        set: { acknowledged_at: clock.now() },
        entries: [{ kind: "state", text: "acknowledged", data: { acknowledged: true } }],
      }));
      const inc = toIncident(after);
      if (after.acknowledged_at)
        metrics?.acknowledged(
          inc.priority,
          (new Date(after.acknowledged_at).getTime() - new Date(after.created_at).getTime()) / 1000,
        );
      audit("incident.acknowledged", by, inc, {});
      return inc;
    },

    async get(id) {
      await ready();
      const r = await row(db, id);
      const timeline = await db
        .selectFrom("incident_timeline")
        .selectAll()
        .where("incident_id", "=", id)
        .orderBy("at")
        .orderBy("id")
        .execute();
      return { ...toIncident(r), timeline: timeline.map(toEntry) };
    },

    async list(q = {}) {
      let s = db.selectFrom("incidents").selectAll();
      if (q.state) s = s.where("state", "=", q.state);
      if (q.priority) s = s.where("priority", "=", q.priority);
      if (q.open === true) s = s.where("state", "<>", "closed");
      if (q.open === false) s = s.where("state", "=", "closed");
      if (q.since) s = s.where("created_at", ">=", q.since);
      const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
      const rows = await s.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute();
      return rows.map(toIncident);
    },

    async assign(id, commander, by) {
      const name = commander.trim();
      if (name.length === 0 || name.length > 256) throw new Invalid("expected 1-256 characters", "commander");
      const { before, after } = await change(id, by, (r) => {
        closedGuard(r, "assign a commander");
        if (r.commander === name) return undefined;
        return {
          set: { commander: name },
          entries: [
            {
              kind: "commander",
              text: r.commander ? `commander: ${name} (was ${r.commander})` : `commander: ${name}`,
              data: { from: r.commander, to: name },
            },
          ],
        };
      });
      const inc = toIncident(after);
      if (before.commander !== after.commander)
        audit("incident.commander_assigned", by, inc, { from: before.commander, to: name });
      return inc;
    },

    async note(id, text, by) {
      const t = text.trim();
      if (t.length === 0 || t.length > 10_000) throw new Invalid("expected 1-10000 characters", "text");
      const { after, entries } = await change(id, by, () => ({
        set: {},
        entries: [{ kind: "note", text: t }],
      }));
      const entry = entries[0] as TimelineEntry;
      // Notes are free text (people paste things): the event records that one was written, not what.
      audit("incident.note_added", by, toIncident(after), { entry: entry.id }, "info");
      return entry;
    },

    async linkEvidence(id, raw, by) {
      const e = parse(evidenceSchema, raw);
      const { after, entries } = await change(id, by, () => ({
        set: {},
        entries: [
          {
            kind: "evidence",
            text: `${e.kind} ${e.ref}: ${e.description}`,
            data: {
              kind: e.kind,
              ref: e.ref,
              ...(e.sha256 ? { sha256: e.sha256 } : {}),
              description: e.description,
            },
          },
        ],
      }));
      const entry = entries[0] as TimelineEntry;
      // URLs and paths may carry tokens: only event and bundle references go on the spine.
      audit("incident.evidence_linked", by, toIncident(after), {
        entry: entry.id,
        kind: e.kind,
        ...(e.kind === "event" || e.kind === "audit_bundle" ? { ref: e.ref } : {}),
        ...(e.sha256 ? { sha256: e.sha256 } : {}),
      });
      return entry;
    },

    async review(id, raw, by) {
      const input = parse(reviewSchema, raw);
      const review: Review = { ...input, reviewedAt: clock.now().toISOString(), reviewedBy: who(by) };
      const { before, after } = await change(id, by, () => ({
        set: { review: JSON.stringify(review) },
        entries: [
          {
            kind: "review",
            text: `post-incident review: ${input.summary}`,
            data: { lessons: input.lessons.length, actionItems: input.actionItems.length },
          },
        ],
      }));
      audit("incident.reviewed", by, toIncident(after), {
        revised: before.review !== null,
        lessons: input.lessons.length,
        actionItems: input.actionItems.length,
      });
      return toIncident(after);
    },

    async recordEvents(events) {
      await ready();
      const byIncident = new Map<string, Array<{ e: SecurityEvent; kind: "event" | "action" }>>();
      const add = (id: string, e: SecurityEvent, kind: "event" | "action") => {
        const list = byIncident.get(id) ?? [];
        if (!list.some((x) => x.e.id === e.id)) list.push({ e, kind });
        byIncident.set(id, list);
      };
      for (const e of events) {
        // Our own changes are on the timeline already.
        if (e.type.startsWith("incident.")) continue;
        const ref = e.data.incident;
        if (typeof ref === "string" && INCIDENT_ID.test(ref))
          add(ref, e, e.type.startsWith("playbook.") ? "action" : "event");
        for (const v of [e.actor.id, e.target?.id])
          if (v !== undefined) for (const id of watchers.get(v) ?? []) add(id, e, "event");
      }
      for (const [id, list] of byIncident) {
        try {
          await db.transaction().execute(async (tx) => {
            const r = await tx
              .selectFrom("incidents")
              .select(["auto_entries", "auto_dropped", "playbook_runs"])
              .where("id", "=", id)
              .forUpdate()
              .executeTakeFirst();
            if (!r) return;
            const room = Math.max(0, MAX_AUTO_ENTRIES - r.auto_entries);
            const kept = list.slice(0, room);
            const runs = new Set(JSON.parse(r.playbook_runs) as string[]);
            for (const { e } of list)
              if (e.type.startsWith("playbook.") && typeof e.data.run === "string") runs.add(e.data.run);
            await addEntries(
              tx,
              id,
              "",
              kept.map(({ e, kind }) => ({
                kind,
                at: new Date(e.time),
                actor: who(e.actor),
                text:
                  `${e.type} (${e.outcome})` +
                  (e.target ? ` on ${who(e.target)}` : "") +
                  (e.source ? ` from ${e.source}` : ""),
                data: {
                  event: e.id,
                  type: e.type,
                  severity: e.severity,
                  outcome: e.outcome,
                  ...(e.target ? { target: e.target } : {}),
                  data: e.data,
                },
              })),
            );
            await tx
              .updateTable("incidents")
              .set({
                auto_entries: r.auto_entries + kept.length,
                auto_dropped: r.auto_dropped + (list.length - kept.length),
                playbook_runs: JSON.stringify([...runs]),
              })
              .where("id", "=", id)
              .execute();
          });
        } catch (err) {
          logger.warn(
            { incident: id, err: (err as Error).message },
            "events not added to the incident timeline",
          );
        }
      }
    },

    async report({ since, until }) {
      const end = until ?? clock.now();
      const rows = await db
        .selectFrom("incidents")
        .select(["id", "priority", "state", "created_at", "acknowledged_at", "recovered_at", "closed_at"])
        .where((eb) =>
          eb.or([
            eb("state", "<>", "closed"),
            eb("created_at", ">=", since),
            eb("acknowledged_at", ">=", since),
            eb("recovered_at", ">=", since),
            eb("closed_at", ">=", since),
          ]),
        )
        .execute();
      const reportRows: ReportRow[] = rows.map((r) => ({
        id: r.id,
        priority: r.priority as Priority,
        open: r.state !== "closed",
        createdAt: new Date(r.created_at),
        acknowledgedAt: r.acknowledged_at ? new Date(r.acknowledged_at) : null,
        recoveredAt: r.recovered_at ? new Date(r.recovered_at) : null,
        closedAt: r.closed_at ? new Date(r.closed_at) : null,
      }));
      return buildReport(reportRows, { since, until: end, now: clock.now() });
    },
  };
}
