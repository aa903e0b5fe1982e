// Lockout with backoff for client authentication, per client id and per source IP, counted in hot
// state so every replica sees the same failures. Past the threshold each further failure doubles
// the lock. Unknown client ids are counted too, so a lockout says nothing about which ids exist.
import { createHash } from "node:crypto";
import type { Clock } from "../../platform/clock.ts";
import { newEvent, type SecurityEvent } from "../../platform/events/index.ts";
import type { HotState } from "../../platform/hotstate/index.ts";

export interface LockoutPolicy {
  /** Failures within the window before the first lock. */
  threshold: number;
  windowMs: number;
  /** The first lock; each later failure doubles it, up to `maxLockMs`. */
  baseLockMs: number;
  maxLockMs: number;
}

export interface ClientLockoutOptions {
  hotState: HotState;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  perClient?: Partial<LockoutPolicy>;
  perIp?: Partial<LockoutPolicy>;
}

export interface ClientLockout {
  /** Milliseconds until `clientId` from `ip` may try again; 0 when it may now. */
  retryAfterMs(clientId: string, ip: string): Promise<number>;
  /** Counts a failed authentication; may lock the client id, the IP, or both. */
  failed(clientId: string, ip: string): Promise<void>;
  /** Clears the client id's failures after a success. */
  succeeded(clientId: string): Promise<void>;
}

const DEFAULTS: LockoutPolicy = {
  threshold: 5,
  windowMs: 15 * 60_000,
  baseLockMs: 1000,
  maxLockMs: 15 * 60_000,
};

// Client ids and IPs are hashed: hot-state keys show up in Redis tooling, and IPs are personal data.
const hashed = (v: string) => createHash("sha256").update(v).digest("base64url").slice(0, 22);

/** Client-authentication lockout; see the module comment. */
export function createClientLockout(opts: ClientLockoutOptions): ClientLockout {
  const scopes = {
    client: { ...DEFAULTS, ...opts.perClient },
    ip: { ...DEFAULTS, threshold: 20, ...opts.perIp },
  };
  const keys = (scope: "client" | "ip", v: string) => ({
    fail: `identity:client-auth:fail:${scope}:${hashed(v)}`,
    lock: `identity:client-auth:lock:${scope}:${hashed(v)}`,
  });

  async function count(scope: "client" | "ip", value: string): Promise<void> {
    const policy = scopes[scope];
    const k = keys(scope, value);
    const n = await opts.hotState.incr(k.fail, 1, policy.windowMs);
    if (n < policy.threshold) return;
    const lockMs = Math.min(policy.maxLockMs, policy.baseLockMs * 2 ** Math.min(n - policy.threshold, 30));
    await opts.hotState.set(k.lock, "1", { ttlMs: lockMs });
    opts.emit(
      newEvent(
        {
          type: "identity.client_locked_out",
          severity: n === policy.threshold ? "medium" : "high",
          actor: scope === "client" ? { kind: "service", id: value } : { kind: "ip", id: value },
          outcome: "denied",
          data: { scope, failures: n, lockMs },
        },
        opts.clock.now(),
      ),
    );
  }

  return {
    async retryAfterMs(clientId, ip) {
      const [c, i] = await Promise.all([
        opts.hotState.ttl(keys("client", clientId).lock),
        opts.hotState.ttl(keys("ip", ip).lock),
      ]);
      return Math.max(c ?? 0, i ?? 0);
    },
    async failed(clientId, ip) {
      await Promise.all([count("client", clientId), count("ip", ip)]);
    },
    async succeeded(clientId) {
      await opts.hotState.del(keys("client", clientId).fail);
    },
  };
}
