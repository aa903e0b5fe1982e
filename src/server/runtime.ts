// The composition root of the control plane: wires store, hot state, event spine, audit log
// and metrics from a config, and shuts them down in order (events flushed, checkpoint signed).
import { hostname } from "node:os";
import { createHmac, createSecretKey, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  ADMIN_ROLE,
  openSecrets,
  type Secrets,
  type SecretsCaller,
  type SecretsTables,
  secretsMigrations,
} from "../appsec/secrets/index.ts";
import { createCloudRoot, isCloudRoot } from "../appsec/secrets/keys/cloud.ts";
import { kubernetesMigrations, withKubernetesPolicies } from "../appsec/secrets/kubernetes/index.ts";
import {
  createRotationScheduler,
  type RotationScheduler,
  rotationMigrations,
} from "../appsec/secrets/rotation/index.ts";
import type { RampartConfig, SecretResolver } from "../config/index.ts";
import {
  type AuditLog,
  type AuditTables,
  auditMigrations,
  createAuditLog,
  openAuditKeys,
  type VerifyReport,
} from "../monitoring/audit/index.ts";
import { jitMigrations } from "../identity/jit/index.ts";
import { createIncidents, type Incidents, incidentMigrations } from "../monitoring/incidents/index.ts";
import { createIdentityMetrics } from "../identity/metrics.ts";
import { createIamSchedule, type IamSchedule } from "../identity/iam/schedule.ts";
import { createSecretsMetrics } from "../appsec/secrets/metrics.ts";
import { countEvents, createMetrics, type Metrics } from "../monitoring/metrics/index.ts";
import { type Clock, systemClock } from "../platform/clock.ts";
import {
  createEventBus,
  type EventBus,
  newEvent,
  type SecurityEvent,
  systemActor,
} from "../platform/events/index.ts";
import { createHotState, type HotState } from "../platform/hotstate/index.ts";
import { Unavailable } from "../platform/errors.ts";
import type { Logger } from "../platform/logging.ts";
import { openStore, type Store } from "../platform/store/index.ts";
import { electLeader } from "../platform/store/leader.ts";
import { type ServerIdentity, startServerIdentity } from "./identity.ts";
import { bindingMigrations } from "./rbac-bindings.ts";
import { hotCopyMigrations, keepHotStateCopies } from "./kept-hot-state.ts";
import { scanMigrations } from "../appsec/scan/evidence.ts";
import { type IncidentResponse, startIncidentResponse } from "./response.ts";
import { type Alerts, alertMigrations } from "../monitoring/alerts/index.ts";
import { detectMigrations } from "../monitoring/detect/index.ts";
import { playbookMigrations, type Playbooks } from "../monitoring/playbooks/index.ts";
import { type Privacy, privacyMigrations, startPrivacy } from "./privacy.ts";
import { allComplianceMigrations, startCompliance } from "./compliance.ts";
import { type ComplianceReports, createComplianceReports } from "./compliance-reports.ts";
import type { ComplianceService } from "../monitoring/compliance/service.ts";

export interface Runtime {
  /** The config in force; replaced whole when a reload is accepted. */
  config: RampartConfig;
  readonly store: Store;
  readonly hot: HotState;
  readonly bus: EventBus;
  readonly audit: AuditLog;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly dataDir: string;
  /** Tokens allowed to call the admin API (constant-time compared by the server). */
  readonly adminTokens: readonly string[];
  /** API callers and RBAC, just-in-time access, API keys, revocation. */
  readonly identity: ServerIdentity;
  /** The secrets store; undefined when it could not open (`secretsProblem` says why). Sealed is open. */
  readonly secrets: Secrets | undefined;
  readonly secretsProblem: string | undefined;
  readonly secretsRotation: RotationScheduler | undefined;
  /** Incidents: life cycle, timeline from events, MTTA/MTTR. */
  readonly incidents: Incidents;
  /** Detection rules, alerts, playbooks and SIEM export on the bus. */
  readonly response: IncidentResponse;
  readonly playbooks: Playbooks;
  readonly alerts: Alerts;
  /** Scheduled least-privilege analysis: proposals written to files, findings as events. */
  readonly iam: IamSchedule;
  /** Privacy operations: data map, data-subject requests, consent, registers, breaches, retention. */
  readonly privacy: Privacy;
  /** Continuous compliance: checks on live evidence, controls, evidence, exceptions, tickets. */
  readonly compliance: ComplianceService;
  /** Readiness reports, the OSCAL export and the auditor bundle. */
  readonly complianceReports: ComplianceReports;
  /** Resolves rampart.yaml's `${secret:…}` references as the system caller `config` (each read audited). */
  readonly configSecrets: SecretResolver;
  /** Starts re-wrapping data keys under the current KEK in the background (once at a time). */
  rewrapSecrets(): void;
  /** Re-verifies the audit log now and emits audit.verified or audit.verify_failed (also run on a timer). */
  verifyAudit(): Promise<void>;
  /** Verifies every log now, records the result as that event and returns the report (the API's verify). */
  verifyAuditNow(): Promise<VerifyReport>;
  close(): Promise<void>;
}

export const migrations = {
  ...auditMigrations,
  ...jitMigrations,
  ...bindingMigrations,
  ...hotCopyMigrations,
  ...secretsMigrations,
  ...rotationMigrations,
  ...kubernetesMigrations,
  ...incidentMigrations,
  ...detectMigrations,
  ...alertMigrations,
  ...playbookMigrations,
  ...scanMigrations,
  ...privacyMigrations,
  ...allComplianceMigrations,
};

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

interface ServerSecrets {
  secrets: Secrets | undefined;
  problem: string | undefined;
  rotation: RotationScheduler | undefined;
  rewrap(): void;
  close(): Promise<void>;
}

/**
 * Opens the secrets store, its rotation scheduler and the KEK rotation timer. A store that cannot
 * open (a KMS away, a missing root key variable) leaves the rest of the control plane running:
 * its routes answer 503 with the reason. A sealed store opens and waits for its shares.
 */
async function startSecrets(o: {
  config: () => RampartConfig;
  store: Store;
  clock: Clock;
  dataDir: string;
  bus: EventBus;
  logger: Logger;
  leading: () => boolean;
}): Promise<ServerSecrets> {
  const { store, clock, logger } = o;
  // Each Kubernetes namespace reads through a synthetic policy on its own paths.
  const section = () => withKubernetesPolicies(o.config().secrets);
  const emit = (e: SecurityEvent) => o.bus.emit(e);
  let secrets: Secrets;
  try {
    const root = section().root;
    secrets = await openSecrets({
      store,
      config: section,
      dataDir: o.dataDir,
      clock,
      emit,
      logger,
      ...(isCloudRoot(root) ? { root: createCloudRoot(root) } : {}),
    });
  } catch (err) {
    const problem = (err as Error).message;
    logger.error({ err: problem }, "the secrets store did not open; its API answers 503");
    return { secrets: undefined, problem, rotation: undefined, rewrap() {}, async close() {} };
  }
  if (secrets.status().sealed)
    logger.warn("the secrets store is sealed: unseal it with `rampart secrets unseal`");

  const rotation = createRotationScheduler({
    secrets,
    config: section,
    store,
    clock,
    emit,
    logger,
    leading: o.leading,
  });
  rotation.start();

  // One re-wrap at a time; it runs until no data key is left under an older KEK.
  let rewrapping: Promise<void> | undefined;
  const rewrap = () => {
    rewrapping ??= (async () => {
      try {
        while (!secrets.status().sealed && (await secrets.rewrap({ batch: 500 })) > 0);
      } catch (err) {
        logger.error({ err: (err as Error).message }, "re-wrapping secret data keys failed; will retry");
      } finally {
        rewrapping = undefined;
      }
    })();
  };
  // The newest KEK's age decides, so a restart does not postpone rotation.
  const kekCheck = async () => {
    if (secrets.status().sealed || !o.leading()) return;
    const newest = await store.db
      .withTables<SecretsTables>()
      .selectFrom("secret_keks")
      .select((eb) => eb.fn.max("created_at").as("at"))
      .executeTakeFirst();
    const at = newest?.at ? new Date(newest.at).getTime() : undefined;
    if (at !== undefined && clock.now().getTime() - at >= section().kekRotationDays * DAY_MS) {
      await secrets.rotateKek({ kind: "system", id: "rampart" });
    }
    rewrap();
  };
  const checkKeks = () =>
    void kekCheck().catch((err: unknown) =>
      logger.error({ err: (err as Error).message }, "key-encryption key rotation failed; will retry"),
    );
  checkKeks();
  // Hourly: a timer of kekRotationDays would overflow setInterval's 24.8-day limit.
  const keyTimer = setInterval(checkKeks, HOUR_MS);
  keyTimer.unref();

  return {
    secrets,
    problem: undefined,
    rotation,
    rewrap,
    async close() {
      clearInterval(keyTimer);
      await rotation
        .close()
        .catch((err) => logger.error({ err: (err as Error).message }, "rotation did not stop cleanly"));
      await rewrapping;
      await secrets.close();
    },
  };
}

/** Who reads rampart.yaml's `${secret:…}` references: the store's admin role, `system:config` in events. */
export const configCaller: SecretsCaller = {
  identity: {
    kind: "service",
    subject: "rampart:config",
    groups: [],
    roles: [ADMIN_ROLE],
    claims: {},
    credential: "api-key",
  },
  actor: { kind: "system", id: "config" },
};

/** A resolver over the server's secrets store; its errors (sealed, not found) name no value. */
function configSecretResolver(s: ServerSecrets): SecretResolver {
  return async (path) => {
    if (!s.secrets)
      throw new Unavailable(`the secrets store is not open: ${s.problem ?? "see the server log"}`);
    return (await s.secrets.get(configCaller, path)).data;
  };
}

/** Path of the admin token created on first start of an embedded deployment. */
export function adminTokenPath(dataDir: string): string {
  return join(resolve(dataDir), "admin.token");
}

function bootstrapAdminToken(dataDir: string): string {
  const path = adminTokenPath(dataDir);
  if (!existsSync(path)) {
    mkdirSync(resolve(dataDir), { recursive: true, mode: 0o700 });
    writeFileSync(path, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
  }
  return readFileSync(path, "utf8").trim();
}

async function auditOptions(config: RampartConfig, dataDir: string, store: Store) {
  const keyFile = config.audit.keyFile ?? join(dataDir, "keys", "audit.json");
  return {
    keys: await openAuditKeys(store.db.withTables<AuditTables>(), keyFile),
    retentionDays: config.audit.retention,
    period: config.audit.period,
    checkpointIntervalMs: config.audit.checkpointIntervalSeconds * 1000,
  };
}

/** The audit log without a server, for offline CLI work; read-only unless `write` (expiry, checkpoints). */
export async function openAuditOffline(
  config: RampartConfig,
  opts: { write?: boolean; logger?: Logger } = {},
) {
  const dataDir = resolve(config.database.dataDir);
  const store = await openStore({ url: config.database.url, dataDir, migrations });
  const audit = createAuditLog({
    store,
    ...(await auditOptions(config, dataDir, store).catch(async (err) => {
      await store.close();
      throw err;
    })),
    checkpointIntervalMs: 0,
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  try {
    await audit.start({ readOnly: !opts.write });
  } catch (err) {
    await store.close();
    throw err;
  }
  return {
    audit,
    store,
    async close() {
      await audit.close();
      await store.close();
    },
  };
}

/** Starts the control plane's long-lived parts from `config`; see `resolveConfig` for `${secret:…}`. */
export async function startRuntime(opts: {
  config: RampartConfig;
  logger: Logger;
  clock?: Clock;
  /**
   * When `config` is only the bootstrap sections (store, audit, secrets...): called once the
   * secrets store is open, before anything else starts, for the whole config resolved with the
   * resolver it is given. A throw stops the start-up and closes what had started.
   */
  resolveConfig?: (secrets: SecretResolver) => Promise<RampartConfig>;
  /** Where the config's relative paths (playbook directories) are resolved; default the working directory. */
  configDir?: string;
  /** The config file, if any: compliance reads it as written (references unresolved). */
  configPath?: string;
}): Promise<Runtime> {
  const { config, logger } = opts;
  const clock = opts.clock ?? systemClock;
  const dataDir = resolve(config.database.dataDir);
  const store = await openStore({ url: config.database.url, dataDir, migrations });
  // Servers sharing one PostgreSQL elect one of them to run the scheduled jobs.
  const serverId = `${hostname()}:${process.pid}`;
  const leadership = await electLeader({ url: config.database.url, name: "scheduler", id: serverId, logger });
  const leading = () => leadership.leading;
  // The whole section: a key prefix given here (tests sharing one Redis) reaches the backend.
  // Blocks and lockdowns are also kept in the database: hot state that comes back empty gets them back.
  const kept = keepHotStateCopies(createHotState(config.hotState), { store, clock });
  const hot = kept.hot;
  const metrics = createMetrics();
  const auditOpts = await auditOptions(config, dataDir, store).catch(async (err) => {
    // The lock and Redis would keep a process that cannot start alive, and leading.
    await leadership.close();
    await hot.close();
    await store.close();
    throw err;
  });
  const audit = createAuditLog({
    store,
    clock,
    logger,
    ...auditOpts,
    onCheckpoint: () => metrics.auditCheckpointsTotal.inc(),
  });
  await audit.start();
  const bus = createEventBus({
    // Timed here, so the histogram covers the server's own events as well as the gateways'.
    journal: {
      async record(items) {
        const end = metrics.auditAppendSeconds.startTimer();
        try {
          return await audit.record(items);
        } finally {
          end();
        }
      },
    },
    logger,
    maxBatchEvents: config.events.batchMaxEvents,
    maxDelayMs: config.events.batchMaxDelayMs,
  });
  countEvents(bus, metrics);
  const incidents = createIncidents({
    store,
    clock,
    emit: (e) => bus.emit(e),
    logger,
    registry: metrics.registry,
  });
  bus.subscribe((events) => incidents.recordEvents(events));
  const adminTokens = process.env.RAMPART_ADMIN_TOKEN
    ? [process.env.RAMPART_ADMIN_TOKEN]
    : [bootstrapAdminToken(dataDir)];
  // Follows reloads: the server replaces `config` on the runtime object.
  const live = { config };
  // Secrets first: the rest of the config may reference them.
  const announceLeadership = (now: boolean) =>
    bus.emit(
      newEvent(
        {
          type: now ? "server.leading" : "server.stepped_down",
          actor: systemActor,
          retention: "audit",
          data: { server: serverId },
        },
        clock.now(),
      ),
    );
  // Embedded PGlite has one server and no election to record.
  if (config.database.url) {
    if (leadership.leading) announceLeadership(true);
    leadership.onChange(announceLeadership);
  }
  const secrets = await startSecrets({
    config: () => live.config,
    store,
    clock,
    dataDir,
    bus,
    logger,
    leading,
  });
  const configSecrets = configSecretResolver(secrets);
  const abort = async (err: unknown): Promise<never> => {
    await leadership.close();
    await secrets.close().catch(() => {});
    await bus.close().catch(() => {});
    await audit.close().catch(() => {});
    await hot.close();
    await store.close();
    throw err;
  };
  if (opts.resolveConfig) live.config = await opts.resolveConfig(configSecrets).catch(abort);
  const identity = await startServerIdentity({
    config: () => live.config,
    store,
    hot,
    clock,
    emit: (e) => bus.emit(e),
    logger,
    adminTokens,
    leading,
  }).catch(abort);
  await incidents.start().catch(abort);
  const privacy = await startPrivacy({
    config: () => live.config,
    configDir: opts.configDir ?? process.cwd(),
    store,
    clock,
    emit: (e) => bus.emit(e),
    logger,
    keys: {
      signingKey: auditOpts.keys.signingKey,
      keyId: audit.verifierKey,
      // People's ids become HMACs under a key of their own, derived from the audit secret (never rotated: the ledgers key on it).
      subjectKey: createSecretKey(
        createHmac("sha256", auditOpts.keys.valueHashKey).update("rampart privacy subject v1").digest(),
      ),
    },
    shredAuditSubject: async (identifier) => {
      const key = await audit.subjectKey(identifier);
      if (!key) return false;
      // Entries already on their way for this person land before their key goes.
      await bus.flush();
      await audit.eraseSubject(identifier);
      bus.emit(
        newEvent(
          {
            type: "audit.subject_erased",
            actor: systemActor,
            target: { kind: "audit_subject", id: key },
            retention: "audit",
          },
          clock.now(),
        ),
      );
      return true;
    },
    leading,
  }).catch(async (err: unknown) => {
    await identity.close().catch(() => {});
    return abort(err);
  });
  const response = await startIncidentResponse({
    config: () => live.config,
    configDir: opts.configDir ?? process.cwd(),
    store,
    bus,
    clock,
    metrics,
    logger,
    incidents,
    breaches: privacy.breaches,
    runtime: {
      get config() {
        return live.config;
      },
      hot,
      clock,
      bus,
      audit,
      store,
      identity,
      secrets: secrets.secrets,
      secretsProblem: secrets.problem,
      secretsRotation: secrets.rotation,
      dataDir,
      logger,
    },
  }).catch(async (err: unknown) => {
    await privacy.close().catch(() => {});
    await identity.close().catch(() => {});
    return abort(err);
  });
  bus.subscribe(
    createIdentityMetrics(metrics.registry, { grantsInForce: () => identity.jit.grantsInForce() }).observe,
  );
  bus.subscribe(
    createSecretsMetrics(metrics.registry, { status: () => secrets.secrets?.status(), clock }).observe,
  );
  const iam = createIamSchedule({
    config: () => live.config.iam,
    configDir: opts.configDir ?? process.cwd(),
    dataDir,
    clock,
    emit: (e) => bus.emit(e),
    logger,
    leading,
  });
  iam.start();
  const compliance = startCompliance({
    config: () => live.config,
    store,
    clock,
    bus,
    logger,
    privacy,
    verifyAudit: () => verifyLog(),
    registry: metrics.registry,
    leading,
    ...(opts.configPath ? { configPath: opts.configPath } : {}),
  });
  const complianceReports = createComplianceReports({
    compliance,
    config: () => live.config.compliance,
    audit,
    signingKey: auditOpts.keys.signingKey,
    clock,
  });
  bus.emit(
    newEvent(
      {
        type: "server.started",
        actor: systemActor,
        retention: "audit",
        data: { environment: live.config.environment, store: store.kind },
      },
      clock.now(),
    ),
  );
  // Retention: drop whole expired periods at start and every hour.
  const expire = () =>
    leading() &&
    audit
      .expire()
      .then((logs) => {
        for (const log of logs)
          bus.emit(
            newEvent(
              { type: "audit.log_expired", actor: systemActor, retention: "audit", data: { log } },
              clock.now(),
            ),
          );
      })
      .catch((err) => logger.warn({ err: (err as Error).message }, "audit expiry failed; will retry"));
  void expire();
  const expiry = setInterval(expire, 3_600_000);
  expiry.unref();
  // Every whole-log verification, scheduled or asked for, becomes an event: a broken chain is what
  // the detection rules page on, and the latest result is the evidence compliance and the console show.
  const verifyAndRecord = async (): Promise<VerifyReport> => {
    const report = await audit.verify();
    const p = report.problem;
    bus.emit(
      newEvent(
        {
          type: report.ok ? "audit.verified" : "audit.verify_failed",
          severity: report.ok ? "info" : "critical",
          outcome: report.ok ? "success" : "failure",
          actor: systemActor,
          retention: "audit",
          data: {
            entries: report.entries,
            seconds: report.seconds,
            ...(p ? { log: p.log, seq: p.seq, kind: p.kind, problem: p.message } : {}),
          },
        },
        clock.now(),
      ),
    );
    return report;
  };
  let verifying = false;
  const verifyLog = async () => {
    if (verifying || live.config.audit.verifyIntervalHours === 0) return;
    verifying = true;
    try {
      await verifyAndRecord();
    } catch (err) {
      logger.warn({ err: (err as Error).message }, "scheduled audit verification did not run; will retry");
    } finally {
      verifying = false;
    }
  };
  const verifier = setInterval(
    () => leading() && void verifyLog(),
    Math.max(1, live.config.audit.verifyIntervalHours) * HOUR_MS,
  );
  verifier.unref();
  compliance.start();
  const restoreKept = () =>
    void kept
      .restore()
      .then((keys) => keys.length > 0 && logger.warn({ keys }, "put back lists that hot state had lost"))
      .catch((err) =>
        logger.warn({ err: (err as Error).message }, "checking hot state's kept lists failed; will retry"),
      );
  restoreKept();
  const keptTimer = setInterval(restoreKept, 5000);
  keptTimer.unref();
  let closed = false;
  return {
    get config() {
      return live.config;
    },
    set config(next) {
      live.config = next;
    },
    store,
    hot,
    bus,
    audit,
    metrics,
    logger,
    clock,
    dataDir,
    adminTokens,
    identity,
    secrets: secrets.secrets,
    secretsProblem: secrets.problem,
    secretsRotation: secrets.rotation,
    incidents,
    response,
    playbooks: response.playbooks,
    alerts: response.alerts,
    iam,
    privacy,
    compliance,
    complianceReports,
    configSecrets,
    rewrapSecrets: secrets.rewrap,
    verifyAudit: verifyLog,
    verifyAuditNow: verifyAndRecord,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(expiry);
      clearInterval(verifier);
      clearInterval(keptTimer);
      await compliance
        .close()
        .catch((err) =>
          logger.error({ err: (err as Error).message }, "compliance checks did not stop cleanly"),
        );
      await iam
        .close()
        .catch((err) =>
          logger.error({ err: (err as Error).message }, "least-privilege analysis did not stop cleanly"),
        );
      await response
        .close()
        .catch((err) =>
          logger.error({ err: (err as Error).message }, "incident response did not stop cleanly"),
        );
      await privacy
        .close()
        .catch((err) =>
          logger.error({ err: (err as Error).message }, "privacy services did not stop cleanly"),
        );
      await secrets.close();
      await identity
        .close()
        .catch((err) =>
          logger.error({ err: (err as Error).message }, "identity services did not stop cleanly"),
        );
      await leadership.close();
      bus.emit(newEvent({ type: "server.stopped", actor: systemActor, retention: "audit" }, clock.now()));
      await bus
        .close()
        .catch((err) => logger.error({ err: (err as Error).message }, "events not flushed at shutdown"));
      await audit
        .close()
        .catch((err) => logger.error({ err: (err as Error).message }, "final checkpoint failed"));
      await hot.close();
      await store.close();
    },
  };
}
