import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startRedis } from "../../../test/support/services.ts";
import { Unavailable } from "../errors.ts";
import { describeHotStateContract, eventually } from "./contract.ts";
import type { HotState } from "./hot-state.ts";
import { createMemoryHotState } from "./memory.ts";
import { createRedisHotState } from "./redis.ts";

const url = inject("redisUrl");
const prefix = `test:hotstate:redis:${randomUUID()}:`;

describeHotStateContract("redis", () => ({
  hotState: createRedisHotState({ url, keyPrefix: prefix }),
  elapse: (ms) => sleep(ms),
}));

describe("redis hot state", () => {
  let raw: Redis;
  beforeAll(() => {
    raw = new Redis(url);
  });
  afterAll(async () => {
    await raw.quit();
  });

  it("stores keys and channels under the key prefix", async () => {
    const hs = createRedisHotState({ url, keyPrefix: prefix });
    await hs.set("prefixed", "v");
    expect(await raw.get(`${prefix}prefixed`)).toBe("v");
    expect(await raw.get("prefixed")).toBeNull();
    const got: string[] = [];
    await hs.subscribe("news", (m) => {
      got.push(m);
    });
    await raw.publish(`${prefix}news`, "hello");
    await eventually(() => expect(got).toEqual(["hello"]));
    await hs.close();
  });

  it("defaults the key prefix to rampart:", async () => {
    const hs = createRedisHotState({ url });
    const k = `test-default-prefix-${randomUUID()}`;
    await hs.set(k, "v", { ttlMs: 10_000 });
    expect(await raw.get(`rampart:${k}`)).toBe("v");
    await hs.del(k);
    await hs.close();
  });

  describe("shared by two replicas", () => {
    let a: HotState;
    let b: HotState;
    beforeAll(() => {
      a = createRedisHotState({ url, keyPrefix: prefix });
      b = createRedisHotState({ url, keyPrefix: prefix });
    });
    afterAll(async () => {
      await Promise.all([a.close(), b.close()]);
    });

    it("counts exactly across replicas", async () => {
      const k = `replicas:${randomUUID()}`;
      const all = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => (i % 2 ? a : b).incr(k, undefined, 60_000)),
      );
      expect(Math.max(...all)).toBe(1000);
      expect(new Set(all).size).toBe(1000);
      expect(await b.get(k)).toBe("1000");
    });

    it("lets one replica win a compareAndSet race", async () => {
      const k = `replicas:${randomUUID()}`;
      const won = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).compareAndSet(k, null, `r${i}`, 60_000)),
      );
      expect(won.filter(Boolean)).toHaveLength(1);
    });

    it("publishes from one replica to subscribers on all", async () => {
      const ch = `replicas:${randomUUID()}`;
      const got: string[] = [];
      await a.subscribe(ch, (m) => {
        got.push(`a:${m}`);
      });
      await b.subscribe(ch, (m) => {
        got.push(`b:${m}`);
      });
      await a.publish(ch, "x");
      await eventually(() => expect(got.sort()).toEqual(["a:x", "b:x"]));
    });
  });

  it("behaves like the memory backend for any sequence of operations", async () => {
    type Op =
      | { op: "incr"; key: string; by: number }
      | { op: "get"; key: string }
      | { op: "set"; key: string; value: string; ifAbsent: boolean; ttl: boolean }
      | { op: "del"; key: string }
      | { op: "ttl"; key: string }
      | { op: "cas"; key: string; expected: string | null; next: string | null; ttl: boolean };
    const key = fc.constantFrom("a", "b", "c");
    const value = fc.constantFrom("1", "2", "x", "-3", "007", "");
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant("incr" as const), key, by: fc.integer({ min: -5, max: 5 }) }),
      fc.record({ op: fc.constant("get" as const), key }),
      fc.record({ op: fc.constant("set" as const), key, value, ifAbsent: fc.boolean(), ttl: fc.boolean() }),
      fc.record({ op: fc.constant("del" as const), key }),
      fc.record({ op: fc.constant("ttl" as const), key }),
      fc.record({
        op: fc.constant("cas" as const),
        key,
        expected: fc.option(value, { nil: null }),
        next: fc.option(value, { nil: null }),
        ttl: fc.boolean(),
      }),
    );
    // Outcome of one operation, comparable across backends (ttl only as present/absent).
    async function apply(hs: HotState, ns: string, o: Op): Promise<unknown> {
      const k = `${ns}:${o.key}`;
      try {
        switch (o.op) {
          case "incr":
            return await hs.incr(k, o.by, 60_000);
          case "get":
            return await hs.get(k);
          case "set":
            return await hs.set(k, o.value, { ifAbsent: o.ifAbsent, ttlMs: o.ttl ? 60_000 : undefined });
          case "del":
            return await hs.del(k);
          case "ttl":
            return (await hs.ttl(k)) === null;
          case "cas":
            return await hs.compareAndSet(k, o.expected, o.next, o.ttl ? 60_000 : undefined);
        }
      } catch (err) {
        return `error:${(err as Error).name}`;
      }
    }
    const redis = createRedisHotState({ url, keyPrefix: prefix });
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 30 }), async (ops) => {
        const memory = createMemoryHotState();
        const ns = randomUUID();
        for (const o of ops) {
          expect(await apply(redis, ns, o), JSON.stringify(o)).toEqual(await apply(memory, ns, o));
        }
        await memory.close();
      }),
      { numRuns: 60 },
    );
    await redis.close();
  });
});

describe("redis hot state when Redis goes away", () => {
  // Measured on this machine: ~50 ms for the first operation after the server stops (the
  // reconnect attempt is refused), then ~0 ms; 500 ms when the server hangs (command timeout).
  const bound = 1000;

  async function expectUnavailableWithin(what: string, op: () => Promise<unknown>): Promise<void> {
    const t0 = performance.now();
    await expect(op(), what).rejects.toBeInstanceOf(Unavailable);
    expect(performance.now() - t0, what).toBeLessThan(bound);
  }

  it("rejects with Unavailable quickly while down, and works again once Redis is back", async () => {
    const server = await startRedis();
    const port = Number(new URL(server.url).port);
    const hs = createRedisHotState({ url: server.url, keyPrefix: "failover:" });
    let restarted: Awaited<ReturnType<typeof startRedis>> | undefined;
    try {
      expect(await hs.incr("c", 1, 60_000)).toBe(1);
      const got: string[] = [];
      await hs.subscribe("ch", (m) => {
        got.push(m);
      });
      await server.stop();

      await expectUnavailableWithin("get", () => hs.get("c"));
      await expectUnavailableWithin("incr", () => hs.incr("c", 1, 60_000));
      await expectUnavailableWithin("set", () => hs.set("s", "v"));
      await expectUnavailableWithin("compareAndSet", () => hs.compareAndSet("s", null, "v"));
      await expectUnavailableWithin("ttl", () => hs.ttl("c"));
      await expectUnavailableWithin("del", () => hs.del("c"));
      await expectUnavailableWithin("publish", () => hs.publish("ch", "lost"));
      await expectUnavailableWithin("subscribe", () => hs.subscribe("other", () => {}));
      const burst = await Promise.allSettled(Array.from({ length: 200 }, () => hs.incr("c", 1, 60_000)));
      expect(burst.every((r) => r.status === "rejected" && r.reason instanceof Unavailable)).toBe(true);
      const t0 = performance.now();
      expect(await hs.ping()).toBe(false);
      expect(performance.now() - t0).toBeLessThan(bound);

      restarted = await startRedis(port);
      // The client retries at least every second (maxReconnectDelayMs).
      const t1 = performance.now();
      let ok = false;
      while (!ok && performance.now() - t1 < 3000) {
        ok = await hs.set("s", "back").then(
          () => true,
          () => false,
        );
        if (!ok) await sleep(25);
      }
      expect(ok).toBe(true);
      expect(await hs.ping()).toBe(true);
      expect(await hs.get("s")).toBe("back");
      // Restarted without persistence: the counter starts over, with its own expiry.
      expect(await hs.incr("c", 1, 60_000)).toBe(1);
      // The subscription made before the outage is restored on the new connection.
      const deadline = performance.now() + 3000;
      while (got.length === 0 && performance.now() < deadline) {
        await hs.publish("ch", "after-restart");
        await sleep(50);
      }
      expect(got[0]).toBe("after-restart");
    } finally {
      await hs.close();
      await restarted?.stop();
    }
  });

  it("rejects with Unavailable quickly when Redis was never reachable", async () => {
    const server = await startRedis();
    await server.stop();
    const hs = createRedisHotState({ url: server.url });
    try {
      await expectUnavailableWithin("get", () => hs.get("k"));
      await expectUnavailableWithin("subscribe", () => hs.subscribe("ch", () => {}));
      expect(await hs.ping()).toBe(false);
    } finally {
      await hs.close();
    }
  });
});
