// The control plane's side of identity: the same token keys, revocation list, API keys and
// sessions the gateways use (over the shared hot state), just-in-time access with its scheduler,
// and RBAC with the API's bindings. Built once at start from the config.
import { randomBytes } from "node:crypto";
import { type RampartConfig, routeId } from "../config/index.ts";
import { createJitAccess, type JitAccess, notifierFromConfig } from "../identity/jit/index.ts";
import { createRbac } from "../identity/rbac/index.ts";
import {
  type ApiKeys,
  createAccessTokens,
  createApiKeys,
  createRevocations,
  createServiceAccounts,
} from "../identity/service-auth/index.ts";
import { createSessionStore, type SessionStore } from "../identity/sessions/index.ts";
import { createTokenKeys } from "../identity/tokens/index.ts";
import type { Clock } from "../platform/clock.ts";
import type { EventRef, SecurityEvent } from "../platform/events/index.ts";
import type { HotState } from "../platform/hotstate/index.ts";
import type { Logger } from "../platform/logging.ts";
import type { Store } from "../platform/store/index.ts";
import { type ApiCallers, createApiCallers } from "./callers.ts";
import { createRbacBindings, type RbacBindings } from "./rbac-bindings.ts";

const SCHEDULE_MS = 60_000;

export interface ServerIdentity {
  readonly callers: ApiCallers;
  readonly jit: JitAccess;
  readonly apiKeys: ApiKeys;
  readonly bindings: RbacBindings;
  /** The gateways' SSO sessions (shared hot state): read here, ended by revokeSubject. */
  sessions: SessionStore;
  /** Ends a subject's SSO sessions, access tokens, API keys and JIT grants on every replica. */
  revokeSubject(
    subject: string,
    by: EventRef,
    reason: string,
  ): Promise<{ subject: string; sessions: number; grants: string[] }>;
  close(): Promise<void>;
}

/** The API's route id that gateway assertions are addressed to (`server.assertionAudience`). */
export function assertionAudience(config: RampartConfig): string | undefined {
  return config.server.assertionAudience;
}

/** Builds the server's identity services and starts the JIT scheduler (every minute, until close). */
export async function startServerIdentity(o: {
  config: () => RampartConfig;
  store: Store;
  hot: HotState;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  logger: Logger;
  adminTokens: readonly string[];
  leading: () => boolean;
}): Promise<ServerIdentity> {
  const { hot: hotState, clock, emit, logger } = o;
  const start = o.config();
  const cfg = start.identity;
  if (cfg.tokens.secret === undefined)
    logger.warn(
      "identity.tokens.secret is not set: the API cannot verify the gateways' access tokens or assertions",
    );
  const keys = createTokenKeys({
    secret: cfg.tokens.secret ?? randomBytes(32),
    algorithm: cfg.tokens.algorithm,
    rotationPeriodMs: cfg.tokens.rotationHours * 3_600_000,
    clock,
  });
  const accounts = createServiceAccounts(cfg.serviceAccounts);
  const revocations = createRevocations({ hotState, clock, emit });
  // The gateways' issuer (they are built without one): tokens from any of them verify here.
  const accessTokens = createAccessTokens({ keys, clock, issuer: "rampart", accounts, revocations });
  const apiKeys = createApiKeys({ hotState, clock, emit, accounts, revocations });
  const sessions = createSessionStore({ hotState, clock, emit, logger });
  const notifier = notifierFromConfig(start.jit.notify, logger);
  const jit = await createJitAccess({
    store: o.store,
    hotState,
    clock,
    emit,
    policy: () => o.config().jit,
    notify: notifier.notify,
    routes: (id) => o.config().routes.find((r) => routeId(r) === id),
  });
  const rbac = createRbac(start.rbac);
  const bindings = createRbacBindings({ rbac, store: o.store, clock, emit, logger });
  try {
    await Promise.all([revocations.start(), apiKeys.start(), bindings.load()]);
    await jit.restoreGrants();
  } catch (err) {
    await Promise.all([revocations.close(), apiKeys.close(), jit.close()]).catch(() => {});
    throw err;
  }
  const callers = createApiCallers({
    adminTokens: o.adminTokens,
    rbac,
    keys,
    clock,
    accessTokens,
    apiKeys,
    revocations,
    assertionAudience: () => assertionAudience(o.config()),
    emit,
  });

  // Expiry is enforced by hot state's TTLs; the leading server records it. Every server re-publishes
  // grants after a Redis loss and picks up bindings other servers added.
  let running: Promise<void> | undefined;
  const tick = () => {
    running ??= (async () => {
      try {
        if (o.leading()) await jit.expireDue();
        await jit.restoreGrants();
        await bindings.load();
      } catch (err) {
        logger.warn({ err: (err as Error).message }, "identity scheduler failed; will retry");
      } finally {
        running = undefined;
      }
    })();
  };
  const timer = setInterval(tick, SCHEDULE_MS);
  timer.unref();

  return {
    callers,
    jit,
    apiKeys,
    bindings,
    sessions,
    async revokeSubject(subject, by, reason) {
      // Tokens and keys first: they are what a stolen credential would be.
      await revocations.revokeSubject(subject, by, reason);
      const [n, grants] = await Promise.all([
        sessions.revokeSubject(subject, reason),
        jit.revokeSubject(subject, by, reason),
      ]);
      return { subject, sessions: n, grants: grants.map((g) => g.id) };
    },
    async close() {
      clearInterval(timer);
      await running;
      await Promise.all([revocations.close(), apiKeys.close(), jit.close(), sessions.close()]);
      await notifier.flush();
    },
  };
}
