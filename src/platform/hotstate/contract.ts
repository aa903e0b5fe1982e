// The behaviour every HotState backend must show, as one vitest suite run against each backend
// (test support only: not exported from index.ts).
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Invalid, Unavailable } from "../errors.ts";
import type { HotState } from "./hot-state.ts";

export interface HotStateFixture {
  hotState: HotState;
  /** Lets `ms` of hot-state time pass: moves a manual clock, or really waits for a real store. */
  elapse(ms: number): Promise<void>;
}

/** Polls until `check` passes or `timeoutMs` runs out (then fails with the last error). */
export async function eventually(check: () => void, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(5);
    }
  }
}

/** Registers the shared HotState contract suite for one backend. */
export function describeHotStateContract(
  name: string,
  makeBackend: () => HotStateFixture | Promise<HotStateFixture>,
) {
  describe(`HotState contract: ${name}`, () => {
    let fx: HotStateFixture;
    let hs: HotState;
    // Unique per test so runs against a shared Redis never see each other's keys.
    let ns: string;
    const key = (s: string): string => `${ns}:${s}`;

    beforeEach(async () => {
      fx = await makeBackend();
      hs = fx.hotState;
      ns = randomUUID();
    });
    afterEach(async () => {
      await hs.close();
    });

    it("gets, sets and deletes string values", async () => {
      expect(await hs.get(key("a"))).toBeNull();
      expect(await hs.set(key("a"), "one")).toBe(true);
      expect(await hs.get(key("a"))).toBe("one");
      expect(await hs.set(key("a"), "two")).toBe(true);
      expect(await hs.get(key("a"))).toBe("two");
      expect(await hs.del(key("a"))).toBe(true);
      expect(await hs.del(key("a"))).toBe(false);
      expect(await hs.get(key("a"))).toBeNull();
    });

    it("set ifAbsent writes only when the key is absent", async () => {
      expect(await hs.set(key("a"), "first", { ifAbsent: true })).toBe(true);
      expect(await hs.set(key("a"), "second", { ifAbsent: true })).toBe(false);
      expect(await hs.get(key("a"))).toBe("first");
      await hs.del(key("a"));
      expect(await hs.set(key("a"), "third", { ifAbsent: true, ttlMs: 10_000 })).toBe(true);
      expect(await hs.get(key("a"))).toBe("third");
    });

    it("reports the remaining ttl, and a plain set removes an expiry", async () => {
      expect(await hs.ttl(key("none"))).toBeNull();
      await hs.set(key("a"), "v", { ttlMs: 10_000 });
      const ttl = await hs.ttl(key("a"));
      expect(ttl).toBeGreaterThan(9_000);
      expect(ttl).toBeLessThanOrEqual(10_000);
      await hs.set(key("a"), "w");
      expect(await hs.ttl(key("a"))).toBeNull();
      expect(await hs.get(key("a"))).toBe("w");
    });

    it("expires values and counters", async () => {
      await hs.set(key("s"), "v", { ttlMs: 150 });
      expect(await hs.incr(key("c"), 5, 150)).toBe(5);
      await fx.elapse(200);
      expect(await hs.get(key("s"))).toBeNull();
      expect(await hs.ttl(key("s"))).toBeNull();
      expect(await hs.get(key("c"))).toBeNull();
      expect(await hs.set(key("s"), "again", { ifAbsent: true })).toBe(true);
      expect(await hs.incr(key("c"), undefined, 150)).toBe(1);
    });

    it("gcra admits a burst of limit, refuses the next with a retry time, and refills over the period", async () => {
      const rate = { limit: 3, periodMs: 600 };
      const first = await hs.gcra(key("r"), rate);
      expect(first).toMatchObject({ allowed: true, remaining: 2, retryAfterMs: 0 });
      expect((await hs.gcra(key("r"), rate)).remaining).toBe(1);
      expect((await hs.gcra(key("r"), rate)).remaining).toBe(0);
      const refused = await hs.gcra(key("r"), rate);
      expect(refused.allowed).toBe(false);
      expect(refused.remaining).toBe(0);
      // One emission interval (200 ms) minus what has passed since the burst began.
      expect(refused.retryAfterMs).toBeGreaterThan(100);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(200);
      expect(refused.resetMs).toBeGreaterThan(500);
      // A refusal records nothing: waiting out retryAfter is enough.
      await fx.elapse(refused.retryAfterMs + 20);
      expect((await hs.gcra(key("r"), rate)).allowed).toBe(true);
      expect((await hs.gcra(key("r"), rate)).allowed).toBe(false);
      // Keys are independent, and a cost counts as that many requests.
      expect(await hs.gcra(key("other"), { ...rate, cost: 3 })).toMatchObject({
        allowed: true,
        remaining: 0,
      });
      await fx.elapse(700);
      expect((await hs.gcra(key("r"), rate)).remaining).toBe(2);
    });

    it("gcra rejects rates that can never admit anything", async () => {
      await expect(hs.gcra(key("r"), { limit: 0, periodMs: 1000 })).rejects.toThrow(Invalid);
      await expect(hs.gcra(key("r"), { limit: 2, periodMs: 1.5 })).rejects.toThrow(/periodMs/);
      await expect(hs.gcra(key("r"), { limit: 2, periodMs: 1000, cost: 3 })).rejects.toThrow(/cost/);
    });

    it("increments by 1 by default or by the given amount, stored as a decimal string", async () => {
      expect(await hs.incr(key("c"), undefined, 10_000)).toBe(1);
      expect(await hs.incr(key("c"), 1, 10_000)).toBe(2);
      expect(await hs.incr(key("c"), 40, 10_000)).toBe(42);
      expect(await hs.incr(key("c"), -50, 10_000)).toBe(-8);
      expect(await hs.get(key("c"))).toBe("-8");
    });

    it("rejects incrementing a value that is not an integer", async () => {
      await hs.set(key("s"), "not a number");
      await expect(hs.incr(key("s"), 1, 1000)).rejects.toBeInstanceOf(Invalid);
      expect(await hs.get(key("s"))).toBe("not a number");
    });

    it("counts exactly under 1,000 concurrent increments", async () => {
      const results = await Promise.all(Array.from({ length: 1000 }, () => hs.incr(key("c"), 1, 60_000)));
      expect(results.sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      expect(await hs.get(key("c"))).toBe("1000");
    });

    it("does not extend a counter's expiry on later increments (fixed window)", async () => {
      // Generous margins: on a real store the waits may overshoot on a busy machine.
      expect(await hs.incr(key("c"), 1, 600)).toBe(1);
      await fx.elapse(300);
      expect(await hs.incr(key("c"), 1, 600)).toBe(2);
      const left = await hs.ttl(key("c"));
      expect(left).not.toBeNull();
      expect(left).toBeLessThanOrEqual(300);
      await fx.elapse(400);
      expect(await hs.get(key("c"))).toBeNull();
      expect(await hs.incr(key("c"), 1, 600)).toBe(1);
    });

    it("compareAndSet writes only when the current value matches, null meaning absent", async () => {
      const k = key("cas");
      expect(await hs.compareAndSet(k, "x", "y")).toBe(false);
      expect(await hs.get(k)).toBeNull();
      expect(await hs.compareAndSet(k, null, "v1")).toBe(true);
      expect(await hs.get(k)).toBe("v1");
      expect(await hs.compareAndSet(k, null, "v2")).toBe(false);
      expect(await hs.compareAndSet(k, "wrong", "v2")).toBe(false);
      expect(await hs.get(k)).toBe("v1");
      expect(await hs.compareAndSet(k, "v1", "v2")).toBe(true);
      expect(await hs.get(k)).toBe("v2");
      expect(await hs.compareAndSet(k, "v2", null)).toBe(true);
      expect(await hs.get(k)).toBeNull();
      // null -> null: succeeds only while absent and writes nothing.
      expect(await hs.compareAndSet(k, null, null)).toBe(true);
      expect(await hs.get(k)).toBeNull();
      await hs.set(k, "present");
      expect(await hs.compareAndSet(k, null, null)).toBe(false);
      expect(await hs.get(k)).toBe("present");
    });

    it("compareAndSet sets the given ttl, and none without one", async () => {
      const k = key("cas");
      expect(await hs.compareAndSet(k, null, "a", 60_000)).toBe(true);
      expect(await hs.ttl(k)).toBeGreaterThan(50_000);
      expect(await hs.compareAndSet(k, "a", "b")).toBe(true);
      expect(await hs.ttl(k)).toBeNull();
      expect(await hs.compareAndSet(k, "b", "c", 150)).toBe(true);
      await fx.elapse(200);
      expect(await hs.get(k)).toBeNull();
    });

    it("lets exactly one of many concurrent compareAndSet attempts win", async () => {
      for (const expected of [null, "v0"]) {
        const k = key(`race-${expected}`);
        if (expected !== null) await hs.set(k, expected);
        const attempts = Array.from({ length: 50 }, (_, i) => hs.compareAndSet(k, expected, `next-${i}`));
        const won = await Promise.all(attempts);
        const winners = won.flatMap((w, i) => (w ? [i] : []));
        expect(winners).toHaveLength(1);
        expect(await hs.get(k)).toBe(`next-${winners[0]}`);
      }
    });

    it("delivers published messages to every subscriber, in order, until they unsubscribe", async () => {
      const ch = key("ch");
      const a: string[] = [];
      const b: string[] = [];
      const other: string[] = [];
      const unA = await hs.subscribe(ch, (m) => {
        a.push(m);
      });
      const unB = await hs.subscribe(ch, (m, channel) => {
        expect(channel).toBe(ch);
        b.push(m);
      });
      const unOther = await hs.subscribe(key("other"), (m) => {
        other.push(m);
      });
      await hs.publish(ch, "m1");
      await hs.publish(ch, "m2");
      await eventually(() => {
        expect(a).toEqual(["m1", "m2"]);
        expect(b).toEqual(["m1", "m2"]);
      });
      await unA();
      await unA(); // idempotent
      await hs.publish(ch, "m3");
      await eventually(() => expect(b).toEqual(["m1", "m2", "m3"]));
      await unB();
      await hs.publish(ch, "m4");
      await hs.publish(key("other"), "o1");
      await eventually(() => expect(other).toEqual(["o1"]));
      // The message on the other channel was published later, so m4 would have arrived by now.
      await sleep(50);
      expect(a).toEqual(["m1", "m2"]);
      expect(b).toEqual(["m1", "m2", "m3"]);
      await unOther();
    });

    it("keeps delivering to other subscribers when one handler fails", async () => {
      const ch = key("ch");
      const got: string[] = [];
      await hs.subscribe(ch, () => {
        throw new Error("handler bug");
      });
      await hs.subscribe(ch, async () => {
        throw new Error("async handler bug");
      });
      await hs.subscribe(ch, (m) => {
        got.push(m);
      });
      await hs.publish(ch, "m1");
      await eventually(() => expect(got).toEqual(["m1"]));
    });

    it("answers ping, and after close rejects with Unavailable", async () => {
      expect(await hs.ping()).toBe(true);
      await hs.close();
      expect(await hs.ping()).toBe(false);
      await expect(hs.get(key("a"))).rejects.toBeInstanceOf(Unavailable);
      await expect(hs.incr(key("a"), 1, 1000)).rejects.toBeInstanceOf(Unavailable);
      await expect(hs.subscribe(key("ch"), () => {})).rejects.toBeInstanceOf(Unavailable);
    });

    it("rejects malformed input with Invalid", async () => {
      await expect(hs.get("")).rejects.toBeInstanceOf(Invalid);
      for (const ttl of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        await expect(hs.incr(key("c"), 1, ttl)).rejects.toBeInstanceOf(Invalid);
        await expect(hs.set(key("s"), "v", { ttlMs: ttl })).rejects.toBeInstanceOf(Invalid);
        await expect(hs.compareAndSet(key("s"), null, "v", ttl)).rejects.toBeInstanceOf(Invalid);
      }
      await expect(hs.incr(key("c"), 0.5, 1000)).rejects.toBeInstanceOf(Invalid);
      expect(await hs.get(key("c"))).toBeNull();
      expect(await hs.get(key("s"))).toBeNull();
    });
  });
}
