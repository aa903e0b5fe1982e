// The HotState contract shared by the memory and Redis backends, and the input checks both apply
// so that a caller gets the same `Invalid` from either.
import { Invalid } from "../errors.ts";

/** Options for {@link HotState.set}. */
export interface SetOptions {
  /** Expiry in milliseconds (a positive integer); without it the key does not expire. */
  ttlMs?: number | undefined;
  /** Only write when the key is absent (Redis `SET NX`). */
  ifAbsent?: boolean | undefined;
}

/** A rate for {@link HotState.gcra}: `limit` requests per `periodMs`, all of them at once at most. */
export interface GcraRate {
  limit: number;
  periodMs: number;
  /** What this request counts as (default 1). */
  cost?: number | undefined;
}

export interface GcraResult {
  allowed: boolean;
  /** Requests still admitted right now. */
  remaining: number;
  /** When refused, milliseconds until this request would be admitted; 0 when allowed. */
  retryAfterMs: number;
  /** Milliseconds until the full `limit` is available again. */
  resetMs: number;
}

/**
 * One step of the generic cell rate algorithm (GCRA): the key holds a "theoretical arrival time"
 * (TAT). A request is admitted while TAT + its cost stays within `limit` emission intervals of now.
 * The memory backend runs this; the Redis backend runs the same arithmetic in Lua.
 */
export function gcraStep(
  tat: number | null,
  now: number,
  rate: GcraRate,
): { result: GcraResult; tat?: number } {
  const interval = rate.periodMs / rate.limit;
  const tolerance = rate.periodMs;
  const from = tat === null || tat < now ? now : tat;
  const next = from + interval * (rate.cost ?? 1);
  const allowAt = next - tolerance;
  if (now < allowAt) {
    return {
      result: {
        allowed: false,
        remaining: Math.max(0, Math.floor((tolerance - (from - now)) / interval)),
        retryAfterMs: Math.ceil(allowAt - now),
        resetMs: Math.ceil(from - now),
      },
    };
  }
  return {
    result: {
      allowed: true,
      remaining: Math.floor((tolerance - (next - now)) / interval),
      retryAfterMs: 0,
      resetMs: Math.ceil(next - now),
    },
    tat: next,
  };
}

/** Rejects a rate that is not whole positive numbers, or a cost above the limit (never admitted). */
export function checkRate(rate: GcraRate): void {
  const positive = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v > 0;
  if (!positive(rate.limit)) throw new Invalid("must be a positive integer", "limit");
  if (!positive(rate.periodMs))
    throw new Invalid("must be a positive integer number of milliseconds", "periodMs");
  const cost = rate.cost ?? 1;
  if (!positive(cost) || cost > rate.limit)
    throw new Invalid("must be a positive integer no larger than limit", "cost");
}

/** Receives one published message; errors and rejections are logged, never thrown at the publisher. */
export type MessageHandler = (message: string, channel: string) => void | Promise<void>;

/**
 * Shared hot state: rate-limit counters, sessions, revocations and dynamic blocks.
 *
 * Keys and channels must never contain raw secrets (tokens, session ids, API keys): callers pass
 * keys they have already hashed (HMAC), because keys show up in Redis (`MONITOR`, `KEYS`, slow log,
 * RDB files) and in error reports. Values are opaque strings.
 * Every operation rejects with `Unavailable` when the backing store cannot be reached.
 */
export interface HotState {
  /**
   * Atomically adds `by` (default 1) to the integer at `key` and returns the new value. The expiry
   * `ttlMs` is set only when this call creates the key, so later increments do not extend it
   * (fixed-window counter). Rejects with `Invalid` if the key holds a non-integer value.
   */
  incr(key: string, by: number | undefined, ttlMs: number): Promise<number>;
  /**
   * Rate limiting by GCRA in one atomic step: admits the request (and records it) or refuses it
   * without recording anything. The key expires once the full limit is available again.
   */
  gcra(key: string, rate: GcraRate): Promise<GcraResult>;
  /** The value at `key`, or null when absent or expired. */
  get(key: string): Promise<string | null>;
  /**
   * Writes `value`; replaces any previous expiry (no `ttlMs` means no expiry, as Redis `SET`).
   * Returns false only when `ifAbsent` was set and the key already existed.
   */
  set(key: string, value: string, opts?: SetOptions): Promise<boolean>;
  /** Deletes `key`; true when it existed. */
  del(key: string): Promise<boolean>;
  /** Milliseconds until `key` expires; null when the key is absent or has no expiry. */
  ttl(key: string): Promise<number | null>;
  /**
   * Atomically writes `next` only if the current value equals `expected` (null: the key is absent).
   * `next` null deletes the key; otherwise the expiry becomes `ttlMs` (none when omitted, as `set`).
   * Returns whether the write happened.
   */
  compareAndSet(key: string, expected: string | null, next: string | null, ttlMs?: number): Promise<boolean>;
  /** Sends `message` to every current subscriber of `channel` in every process; at most once, not stored. */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Calls `handler` for each message later published on `channel`, asynchronously. Resolves once
   * the subscription is active, with a function that ends it (idempotent).
   */
  subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>>;
  /** True when the store answers; never rejects (for readiness probes). */
  ping(): Promise<boolean>;
  /** Releases connections and timers; later operations reject with `Unavailable`. */
  close(): Promise<void>;
}

/** Rejects empty or non-string keys and channel names. */
export function checkName(name: unknown, what: "key" | "channel"): asserts name is string {
  if (typeof name !== "string" || name.length === 0) throw new Invalid(`must be a non-empty string`, what);
}

/** Rejects anything but a positive safe integer number of milliseconds. */
export function checkTtl(ttlMs: unknown, where = "ttlMs"): asserts ttlMs is number {
  if (typeof ttlMs !== "number" || !Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new Invalid("must be a positive integer number of milliseconds", where);
  }
}

/** Rejects a non-integer increment. */
export function checkIncrement(by: unknown): asserts by is number {
  if (typeof by !== "number" || !Number.isSafeInteger(by)) throw new Invalid("must be a safe integer", "by");
}

/** Rejects non-string values. */
export function checkValue(value: unknown, where: string): asserts value is string {
  if (typeof value !== "string") throw new Invalid("must be a string", where);
}
