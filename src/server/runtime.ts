// The composition root of the control plane: wires store, hot state, event spine, audit log
// and metrics from a config, and shuts them down in order (events flushed, checkpoint signed).
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RampartConfig } from "../config/index.ts";
import {
  type AuditLog,
  type AuditTables,
  auditMigrations,
  createAuditLog,
  openAuditKeys,
} from "../monitoring/audit/index.ts";
import { jitMigrations } from "../identity/jit/index.ts";
import { countEvents, createMetrics, type Metrics } from "../monitoring/metrics/index.ts";
import { type Clock, systemClock } from "../platform/clock.ts";
import { createEventBus, type EventBus, newEvent, systemActor } from "../platform/events/index.ts";
import { createHotState, type HotState } from "../platform/hotstate/index.ts";
import type { Logger } from "../platform/logging.ts";
import { openStore, type Store } from "../platform/store/index.ts";
import { type ServerIdentity, startServerIdentity } from "./identity.ts";
import { bindingMigrations } from "./rbac-bindings.ts";

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
  close(): Promise<void>;
}

export const migrations = { ...auditMigrations, ...jitMigrations, ...bindingMigrations };

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

export async function startRuntime(opts: {
  config: RampartConfig;
  logger: Logger;
  clock?: Clock;
}): Promise<Runtime> {
  const { config, logger } = opts;
  const clock = opts.clock ?? systemClock;
  const dataDir = resolve(config.database.dataDir);
  const store = await openStore({ url: config.database.url, dataDir, migrations });
  // The whole section: a key prefix given here (tests sharing one Redis) reaches the backend.
  const hot = createHotState(config.hotState);
  const metrics = createMetrics();
  const audit = createAuditLog({
    store,
    clock,
    logger,
    ...(await auditOptions(config, dataDir, store).catch(async (err) => {
      await store.close();
      throw err;
    })),
  });
  await audit.start();
  const bus = createEventBus({
    journal: audit,
    logger,
    maxBatchEvents: config.events.batchMaxEvents,
    maxDelayMs: config.events.batchMaxDelayMs,
  });
  countEvents(bus, metrics);
  const adminTokens = process.env.RAMPART_ADMIN_TOKEN
    ? [process.env.RAMPART_ADMIN_TOKEN]
    : [bootstrapAdminToken(dataDir)];
  // Follows reloads: the server replaces `config` on the runtime object.
  const live = { config };
  const identity = await startServerIdentity({
    config: () => live.config,
    store,
    hot,
    clock,
    emit: (e) => bus.emit(e),
    logger,
    adminTokens,
  }).catch(async (err: unknown) => {
    await bus.close().catch(() => {});
    await audit.close().catch(() => {});
    await hot.close();
    await store.close();
    throw err;
  });
  bus.emit(
    newEvent(
      {
        type: "server.started",
        actor: systemActor,
        retention: "audit",
        data: { environment: config.environment, store: store.kind },
      },
      clock.now(),
    ),
  );
  // Retention: drop whole expired periods at start and every hour.
  const expire = () =>
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
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(expiry);
      await identity
        .close()
        .catch((err) =>
          logger.error({ err: (err as Error).message }, "identity services did not stop cleanly"),
        );
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
