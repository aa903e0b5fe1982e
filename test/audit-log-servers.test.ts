// Two servers of one deployment append to the same audit logs in one PostgreSQL: their appends take
// turns under a database lock, so the logs stay one gap-free Merkle tree per period that verifies.
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import {
  type AuditLog,
  auditMigrations,
  createAuditLog,
  loadOrCreateAuditKeys,
} from "../src/monitoring/audit/index.ts";
import { manualClock } from "../src/platform/clock.ts";

type ManualClock = ReturnType<typeof manualClock>;
import { newEvent } from "../src/platform/events/index.ts";
import { openTestStore, type TestStore } from "./support/stores.ts";

let ts: TestStore;
let servers: { audit: AuditLog; clock: ManualClock }[];

beforeEach(async () => {
  ts = await openTestStore("postgres", auditMigrations);
  const keys = loadOrCreateAuditKeys(join(ts.location.dataDir, "keys", "audit.json"));
  servers = [];
  for (const store of [ts.store, await ts.reopen()]) {
    const clock = manualClock("2026-11-30T23:59:00Z");
    const audit = createAuditLog({
      store,
      keys,
      clock,
      retentionDays: { security: 365, audit: 2555, application: 90 },
      period: "month",
      checkpointIntervalMs: 0,
    });
    await audit.start();
    servers.push({ audit, clock });
  }
});
afterEach(async () => {
  for (const s of servers) await s.audit.close();
  await ts.cleanup();
});

const batch = (server: number, i: number, at: Date) =>
  Array.from({ length: 25 }, (_, k) =>
    newEvent(
      { type: "waf.blocked", actor: { kind: "ip", id: `198.51.100.${k}` }, data: { server, i, k } },
      at,
    ),
  );

test("concurrent appends from two servers make one log that verifies, with nothing lost or doubled", async () => {
  const [a, b] = servers as [(typeof servers)[0], (typeof servers)[0]];
  await Promise.all(
    [a, b].flatMap((s, n) =>
      Array.from({ length: 20 }, (_, i) => s.audit.record([{ events: batch(n, i, s.clock.now()) }])),
    ),
  );
  // Both sign checkpoints over the whole tree, whichever server wrote which entries.
  const [cpA] = await a.audit.checkpoint();
  await b.audit.record([{ events: batch(1, 99, b.clock.now()) }]);
  const [cpB] = await b.audit.checkpoint();
  expect(cpA?.size).toBe(1 + 2 * 20 * 25);
  expect(cpB?.size).toBe(1 + 41 * 25);
  for (const s of servers) {
    const report = await s.audit.verify();
    expect(report.problem).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.entries).toBe(1 + 41 * 25);
  }
});

test("a batch sent to both servers is stored once", async () => {
  const [a, b] = servers as [(typeof servers)[0], (typeof servers)[0]];
  const events = batch(0, 0, a.clock.now());
  const stored = await Promise.all([
    a.audit.record([{ events, batchId: "gw-1:000001" }]),
    b.audit.record([{ events, batchId: "gw-1:000001" }]),
  ]);
  expect(stored.flat().filter(Boolean)).toHaveLength(1);
  expect((await a.audit.verify()).entries).toBe(1 + 25);
});

test("a new period opened by one server is where the other appends, even with its clock behind", async () => {
  const [a, b] = servers as [(typeof servers)[0], (typeof servers)[0]];
  await b.audit.record([{ events: batch(1, 0, b.clock.now()) }]);
  a.clock.set("2026-12-01T00:00:05Z"); // a's clock has passed midnight, b's has not
  await a.audit.record([{ events: batch(0, 1, a.clock.now()) }]);
  await b.audit.record([{ events: batch(1, 2, b.clock.now()) }]);
  const logs = await b.audit.logs();
  const security = logs.filter((l) => l.retention === "security");
  expect(security.map((l) => [l.log, l.state, l.size])).toEqual([
    ["security/2026-11", "closed", 1 + 25],
    ["security/2026-12", "open", 1 + 25 + 25],
  ]);
  for (const s of servers) expect((await s.audit.verify()).ok).toBe(true);
});
