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
