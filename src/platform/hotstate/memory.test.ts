import { describe, expect, it } from "vitest";
import { manualClock } from "../clock.ts";
import { describeHotStateContract, eventually } from "./contract.ts";
import { createMemoryHotState } from "./memory.ts";

describeHotStateContract("memory", () => {
  const clock = manualClock();
  return {
    hotState: createMemoryHotState({ clock }),
    elapse: async (ms) => clock.advance(ms),
  };
});

describe("memory hot state", () => {
  it("expires exactly at the deadline of the injected clock", async () => {
    const clock = manualClock();
    const hs = createMemoryHotState({ clock });
    await hs.set("k", "v", { ttlMs: 1000 });
    clock.advance(999);
    expect(await hs.ttl("k")).toBe(1);
    expect(await hs.get("k")).toBe("v");
    clock.advance(1);
    expect(await hs.get("k")).toBeNull();
    await hs.close();
  });

  it("sweeps expired keys nobody reads, on a timer", async () => {
    const clock = manualClock();
    const hs = createMemoryHotState({ clock, sweepIntervalMs: 10 });
    for (let i = 0; i < 100; i++) await hs.incr(`c${i}`, 1, 1000);
    await hs.set("keep", "v");
    expect(hs.size()).toBe(101);
    clock.advance(1000);
    await eventually(() => expect(hs.size()).toBe(1));
    expect(await hs.get("keep")).toBe("v");
    await hs.close();
  });

  it("sweep() drops only expired keys", async () => {
    const clock = manualClock();
    const hs = createMemoryHotState({ clock });
    await hs.set("short", "v", { ttlMs: 10 });
    await hs.set("long", "v", { ttlMs: 1000 });
    clock.advance(10);
    expect(hs.sweep()).toBe(1);
    expect(hs.size()).toBe(1);
    await hs.close();
  });

  it("delivers messages asynchronously, only to subscribers present at publish time", async () => {
    const hs = createMemoryHotState();
    const got: string[] = [];
    await hs.subscribe("ch", (m) => {
      got.push(`early:${m}`);
    });
    const publishing = hs.publish("ch", "m1");
    expect(got).toEqual([]);
    await hs.subscribe("ch", (m) => {
      got.push(`late:${m}`);
    });
    await publishing;
    await eventually(() => expect(got).toEqual(["early:m1"]));
    await hs.close();
  });

  it("does not deliver a message already queued to a subscriber that left meanwhile", async () => {
    const hs = createMemoryHotState();
    const got: string[] = [];
    const un = await hs.subscribe("ch", (m) => {
      got.push(m);
    });
    const publishing = hs.publish("ch", "m1");
    await un();
    await publishing;
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([]);
    await hs.close();
  });

  it("counts a handler subscribed twice twice, and unsubscribes one at a time", async () => {
    const hs = createMemoryHotState();
    let n = 0;
    const handler = (): void => {
      n++;
    };
    const un1 = await hs.subscribe("ch", handler);
    await hs.subscribe("ch", handler);
    await hs.publish("ch", "m");
    await eventually(() => expect(n).toBe(2));
    await un1();
    await hs.publish("ch", "m");
    await eventually(() => expect(n).toBe(3));
    await hs.close();
  });
});
