// Failed logins per client IP, with a lock that doubles with every failure past the threshold.
import { createHash } from "node:crypto";
import type { HotState } from "../../platform/hotstate/index.ts";
import { TooManyAttempts } from "./errors.ts";

export interface LockoutOptions {
  /** Failures tolerated within `windowMs` before the client is locked out (default 5). */
  maxFailures?: number;
  /** How long failures are remembered (default 15 min). */
  windowMs?: number;
  /** First lock; each further failure doubles it (default 30 s). */
  baseLockMs?: number;
  /** The longest lock (default 1 h). */
  maxLockMs?: number;
}

export interface Lockout {
  /** Throws `TooManyAttempts` while `ip` is locked out. */
  check(ip: string): Promise<void>;
  failed(ip: string): Promise<void>;
  succeeded(ip: string): Promise<void>;
}

/** Per-IP login lockout over hot state, shared by every replica. */
export function createLockout(hotState: HotState, opts: LockoutOptions = {}): Lockout {
  const maxFailures = opts.maxFailures ?? 5;
  const windowMs = opts.windowMs ?? 15 * 60_000;
  const baseLockMs = opts.baseLockMs ?? 30_000;
  const maxLockMs = opts.maxLockMs ?? 3_600_000;
  // IPs are personal data: keys carry their hash only.
  const id = (ip: string) => createHash("sha256").update(ip).digest("hex").slice(0, 32);
  return {
    async check(ip) {
      const left = await hotState.ttl(`sso:lock:${id(ip)}`);
      if (left !== null && left > 0) throw new TooManyAttempts(Math.ceil(left / 1000));
    },
    async failed(ip) {
      const n = await hotState.incr(`sso:fail:${id(ip)}`, 1, windowMs);
      if (n < maxFailures) return;
      const lockMs = Math.min(maxLockMs, baseLockMs * 2 ** Math.min(n - maxFailures, 20));
      await hotState.set(`sso:lock:${id(ip)}`, "1", { ttlMs: lockMs });
    },
    async succeeded(ip) {
      await hotState.del(`sso:fail:${id(ip)}`);
    },
  };
}
