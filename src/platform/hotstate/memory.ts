// In-process hot state for the embedded single-process mode (`rampart up`). Every operation
// finishes synchronously inside its call, which is what makes incr and compareAndSet atomic here.
import type { Logger } from "pino";
import { type Clock, systemClock } from "../clock.ts";
import { Invalid, Unavailable } from "../errors.ts";
import {
  checkIncrement,
  checkRate,
  gcraStep,
  checkName,
  checkTtl,
  checkValue,
  type HotState,
  type MessageHandler,
  type SetOptions,
} from "./hot-state.ts";

export interface MemoryHotStateOptions {
  clock?: Clock;
  /** How often expired keys are swept out even if nobody reads them (default 30 s). */
  sweepIntervalMs?: number;
  logger?: Logger;
}

/** The memory backend, with its housekeeping exposed for tests and metrics. */
export interface MemoryHotState extends HotState {
  /** Drops every expired key now; returns how many were dropped. */
  sweep(): number;
  /** Number of keys held, expired or not. */
  size(): number;
}

interface Entry {
  value: string;
  /** Epoch milliseconds, or null for no expiry. */
  expiresAt: number | null;
}

interface Subscription {
  readonly handler: MessageHandler;
}

/** Hot state held in this process: expiry follows the injected clock, checked on access and by a periodic sweep. */
export function createMemoryHotState(opts: MemoryHotStateOptions = {}): MemoryHotState {
  const clock = opts.clock ?? systemClock;
  const entries = new Map<string, Entry>();
  const channels = new Map<string, Set<Subscription>>();
  let closed = false;

  const sweepEvery = opts.sweepIntervalMs ?? 30_000;
  checkTtl(sweepEvery, "sweepIntervalMs");
  const sweeper = setInterval(sweep, sweepEvery);
  sweeper.unref();

  function now(): number {
    return clock.now().getTime();
  }

  function sweep(): number {
    const t = now();
    let dropped = 0;
    for (const [key, e] of entries) {
      if (e.expiresAt !== null && e.expiresAt <= t) {
        entries.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  function live(key: string): Entry | undefined {
    const e = entries.get(key);
    if (e && e.expiresAt !== null && e.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return e;
  }

  function open(): void {
    if (closed) throw new Unavailable("hot state is closed");
  }

  function write(key: string, value: string, ttlMs: number | undefined): void {
    entries.set(key, { value, expiresAt: ttlMs === undefined ? null : now() + ttlMs });
  }

  function deliver(sub: Subscription, subs: Set<Subscription>, message: string, channel: string): void {
    // Unsubscribed between publish and delivery: Redis would not deliver either.
    if (!subs.has(sub)) return;
    try {
      const r = sub.handler(message, channel);
      if (r instanceof Promise) r.catch((err: unknown) => reportHandlerError(err, channel));
    } catch (err) {
      reportHandlerError(err, channel);
    }
  }

  function reportHandlerError(err: unknown, channel: string): void {
    opts.logger?.error({ err, channel }, "hot state subscriber failed");
  }

  return {
    async incr(key, by = 1, ttlMs) {
      open();
      checkName(key, "key");
      checkIncrement(by);
      checkTtl(ttlMs);
      const e = live(key);
      if (!e) {
        write(key, String(by), ttlMs);
        return by;
      }
      // Same rule as Redis INCRBY: the stored string must be a canonical 64-bit integer.
      const current = /^(0|-?[1-9][0-9]*)$/.test(e.value) ? Number(e.value) : Number.NaN;
      const next = current + by;
      if (!Number.isSafeInteger(current) || !Number.isSafeInteger(next)) {
        throw new Invalid("value is not an integer or out of range", "key");
      }
      e.value = String(next);
      return next;
    },

    async gcra(key, rate) {
      open();
      checkName(key, "key");
      checkRate(rate);
      const stored = live(key)?.value;
      const t = now();
      const step = gcraStep(stored === undefined ? null : Number(stored), t, rate);
      if (step.tat !== undefined) write(key, String(step.tat), Math.max(1, Math.ceil(step.tat - t)));
      return step.result;
    },

    async get(key) {
      open();
      checkName(key, "key");
      return live(key)?.value ?? null;
    },

    async set(key, value, setOpts: SetOptions = {}) {
      open();
      checkName(key, "key");
      checkValue(value, "value");
      if (setOpts.ttlMs !== undefined) checkTtl(setOpts.ttlMs);
      if (setOpts.ifAbsent && live(key)) return false;
      write(key, value, setOpts.ttlMs);
      return true;
    },

    async del(key) {
      open();
      checkName(key, "key");
      const existed = live(key) !== undefined;
      entries.delete(key);
      return existed;
    },

    async ttl(key) {
      open();
      checkName(key, "key");
      const e = live(key);
      return e?.expiresAt == null ? null : e.expiresAt - now();
    },

    async compareAndSet(key, expected, next, ttlMs) {
      open();
      checkName(key, "key");
      if (expected !== null) checkValue(expected, "expected");
      if (next !== null) checkValue(next, "next");
      if (ttlMs !== undefined) checkTtl(ttlMs);
      const current = live(key)?.value ?? null;
      if (current !== expected) return false;
      if (next === null) entries.delete(key);
      else write(key, next, ttlMs);
      return true;
    },

    async publish(channel, message) {
      open();
      checkName(channel, "channel");
      checkValue(message, "message");
      const subs = channels.get(channel);
      if (!subs) return;
      // Snapshot now: a subscriber added after publish must not see this message.
      for (const sub of [...subs]) queueMicrotask(() => deliver(sub, subs, message, channel));
    },

    async subscribe(channel, handler) {
      open();
      checkName(channel, "channel");
      if (typeof handler !== "function") throw new Invalid("must be a function", "handler");
      let subs = channels.get(channel);
      if (!subs) {
        subs = new Set();
        channels.set(channel, subs);
      }
      const sub: Subscription = { handler };
      subs.add(sub);
      const set = subs;
      return async () => {
        set.delete(sub);
        if (set.size === 0 && channels.get(channel) === set) channels.delete(channel);
      };
    },

    async ping() {
      return !closed;
    },

    async close() {
      closed = true;
      clearInterval(sweeper);
      entries.clear();
      channels.clear();
    },

    sweep,
    size: () => entries.size,
  };
}
