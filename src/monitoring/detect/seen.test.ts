// first_seen memory across a restart, on both stores: a new detector over the same database does
// not fire for an address the key already used; values are stored only as hashes.
import { afterEach, describe, expect, test } from "vitest";
import { backends, openTestStore, type TestStore } from "../../../test/support/stores.ts";
import { manualClock } from "../../platform/clock.ts";
import { type NewEvent, newEvent } from "../../platform/events/index.ts";
import { createDetector } from "./engine.ts";
import { parseRule } from "./schema.ts";
import { createSeenStore, detectMigrations, type SeenTables } from "./seen.ts";
import type { Detection } from "./types.ts";

const rule = parseRule({
  id: "credential-new-ip",
  title: "API key used from a new address",
  priority: "P1",
  match: { type: "identity.api_key_used" },
  groupBy: { credential: "target.id" },
  condition: { kind: "first_seen", field: "data.ip", remember: "30d", minKnown: 1 },
});
const used = (ip: string): NewEvent => ({
  type: "identity.api_key_used",
  actor: { kind: "service", id: "billing" },
  target: { kind: "api_key", id: "k-1" },
  data: { ip },
});
const DAY = 86_400_000;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe.each(backends)("first_seen memory on %s", (backend) => {
  async function server(ts: TestStore, clock: ReturnType<typeof manualClock>, reopen: boolean) {
    const store = reopen ? await ts.reopen() : ts.store;
    const seen = createSeenStore({ store, clock, rememberMs: 30 * DAY });
    await seen.load();
    const fired: Detection[] = [];
    const detector = createDetector({
      rules: () => [rule],
      clock,
      environment: () => "prod",
      seen,
      onDetection: (d) => fired.push(d),
    });
    const send = (ip: string) => detector.process([newEvent(used(ip), clock.now())]);
    return { store, seen, fired, send };
  }

  test("a restart remembers the key's addresses; a new one still fires", async () => {
    const ts = await openTestStore(backend, detectMigrations);
    cleanups.push(() => ts.cleanup());
    const clock = manualClock("2026-03-02T10:00:00Z");
    const first = await server(ts, clock, false);
    expect(first.send("10.1.2.3")).toEqual([]);
    expect(first.send("10.1.2.4")).toHaveLength(1);
    await first.seen.close();

    const rows = await first.store.db
      .withTables<SeenTables>()
      .selectFrom("detect_seen")
      .selectAll()
      .execute();
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r.value_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(r.group_key).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(r)).not.toContain("10.1.2");
    }

    clock.advance(DAY);
    const second = await server(ts, clock, true);
    expect(second.send("10.1.2.3")).toEqual([]);
    expect(second.send("10.1.2.4")).toEqual([]);
    const [d] = second.send("203.0.113.9");
    expect(d?.group).toEqual({ credential: "k-1", ip: "203.0.113.9" });
    await second.seen.close();
  });

  test("rows older than `remember` are not loaded: the address is new again", async () => {
    const ts = await openTestStore(backend, detectMigrations);
    cleanups.push(() => ts.cleanup());
    const clock = manualClock("2026-03-02T10:00:00Z");
    const first = await server(ts, clock, false);
    first.send("10.1.2.3");
    first.send("10.1.2.4");
    await first.seen.close();
    clock.advance(31 * DAY);
    const second = await server(ts, clock, true);
    expect(second.seen.stats().values).toBe(0);
    second.send("10.9.9.9"); // the baseline again
    expect(second.send("10.1.2.3")).toHaveLength(1);
    await second.seen.close();
  });
});

test("memory is capped: the least recently used groups are forgotten first", () => {
  const clock = manualClock();
  const seen = createSeenStore({ clock, rememberMs: 30 * DAY, maxValues: 100 });
  for (let i = 0; i < 60; i++) seen.add("r", "hot", `v${i}`, 1);
  for (let g = 0; g < 50; g++) {
    seen.has("r", "hot", "v0"); // a read does not count as use
    seen.add("r", `cold-${g}`, "x", 2);
    seen.add("r", "hot", "v0", 3); // a use does
  }
  const s = seen.stats();
  expect(s.values).toBeLessThanOrEqual(100);
  expect(s.evicted).toBeGreaterThan(0);
  expect(seen.knownCount("r", "hot")).toBe(60);
  expect(seen.has("r", "cold-0", "x")).toBe(false);
  expect(seen.has("r", "cold-49", "x")).toBe(true);
});
