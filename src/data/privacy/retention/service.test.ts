// Retention on both storage backends with a manual clock, an in-memory connector and a DSR engine
// that records requests and applies them to that memory (the real connectors and engine are
// tested with their own suites): notice, then erasure after 48 hours; activity during the notice
// cancels; legal hold skips; a dry run changes nothing; masked rows are not erased twice.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { backends, openTestStore, type TestStore } from "../../../../test/support/stores.ts";
import { manualClock } from "../../../platform/clock.ts";
import type { SecurityEvent } from "../../../platform/events/index.ts";
import type { Connector, DsrEngine, DsrReceipt, DsrRequest, FoundRow } from "../dsr/types.ts";
import type { Collection, DataMap, Field, RetentionPolicy } from "../map/model.ts";
import { subtractDuration } from "../duration.ts";
import { createRetention, retentionConfigSchema, retentionMigrations } from "./index.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const field = (name: string, o: Partial<Field> = {}): Field => ({
  name,
  path: name,
  categories: [],
  primaryKey: false,
  references: [],
  fields: [],
  ...o,
});

const users: Collection = {
  dataset: "shop",
  name: "users",
  fields: [
    field("id", { primaryKey: true, categories: ["system.operations"] }),
    field("email", { identity: "email", categories: ["user.contact.email"] }),
    field("name", { categories: ["user.name"] }),
    field("last_active_at", { categories: ["system.operations"] }),
  ],
  after: [],
  eraseAfter: [],
  erasure: "delete",
};

const dpdp: RetentionPolicy = {
  key: "dpdp-inactive",
  categories: [],
  purposes: [],
  period: "P3Y",
  trigger: "last_activity",
  timestampField: "shop.users.last_active_at",
  identityField: "shop.users.email",
  action: "delete",
  notice: "PT48H",
  noticeField: "shop.users.email",
  legalHold: false,
};

const mapWith = (...retention: RetentionPolicy[]): DataMap => ({
  systems: [],
  purposes: [],
  datasets: [{ key: "shop", name: "Shop", collections: [users] }],
  retention,
});

/** Rows of one collection in memory, read as a store would. */
function memoryConnector() {
  const rows = new Map<string, Record<string, unknown>>();
  const calls = { findBefore: 0, find: 0 };
  const connector: Connector = {
    type: "postgres",
    async find(_c, path, values) {
      calls.find++;
      return [...rows].filter(([, v]) => values.includes(v[path])).map(([id, values]) => ({ id, values }));
    },
    async findBefore(_c, path, before, limit) {
      calls.findBefore++;
      return [...rows]
        .filter(([, v]) => (v[path] as Date).getTime() < before.getTime())
        .sort(([, a], [, b]) => (a[path] as Date).getTime() - (b[path] as Date).getTime())
        .slice(0, limit)
        .map(([id, values]): FoundRow => ({ id, values: { ...values } }));
    },
    async delete(_c, found) {
      let n = 0;
      for (const r of found) if (rows.delete(r.id)) n++;
      return n;
    },
    async update(_c, changes) {
      for (const ch of changes) rows.set(ch.row.id, { ...rows.get(ch.row.id), ...ch.set });
      return changes.length;
    },
    async check() {
      return [];
    },
    async close() {},
  };
  return { rows, calls, connector };
}

/** Records every request and applies erasures to the memory: delete, or mask the personal fields. */
function recordingEngine(mem: ReturnType<typeof memoryConnector>) {
  const requests: DsrRequest[] = [];
  let failures = 0;
  const engine: DsrEngine = {
    plan: () => ({ kind: "erasure", order: ["shop.users"], unreachable: [] }),
    async run(r) {
      requests.push(r);
      if (failures > 0) {
        failures--;
        throw new Error("store unavailable");
      }
      const email = r.identities["email"];
      for (const [id, v] of [...mem.rows]) {
        if (v["email"] !== email) continue;
        if (r.policy?.force === "mask") mem.rows.set(id, { ...v, email: `masked-${id}`, name: null });
        else mem.rows.delete(id);
      }
      return {
        requestId: r.id,
        kind: r.kind,
        completedAt: new Date().toISOString(),
        collections: [],
        signature: "",
        keyId: "",
      } satisfies DsrReceipt;
    },
    resumePending: async () => 0,
    exportOf: async () => ({ contentType: "application/json", body: "{}" }),
    receiptOf: async () => undefined,
  };
  return { engine, requests, failNext: (n: number) => void (failures = n) };
}

describe.each(backends)("retention on %s", (backend) => {
  let ts: TestStore;
  let clock: ReturnType<typeof manualClock>;
  let events: SecurityEvent[];
  let mem: ReturnType<typeof memoryConnector>;
  let rec: ReturnType<typeof recordingEngine>;
  let mails: { to: string; subject: string; text: string }[];
  let map: DataMap;
  let batchSize: number;
  const retention = () =>
    createRetention({
      store: ts.store,
      clock,
      emit: (e) => events.push(e),
      map: () => map,
      connectorFor: (dataset) => {
        if (dataset !== "shop") throw new Error(`no connector for ${dataset}`);
        return mem.connector;
      },
      engine: rec.engine,
      mailer: { send: async (to, subject, text) => void mails.push({ to, subject, text }) },
      config: () => retentionConfigSchema.parse({ batchSize, organisation: "Shop Ltd" }),
      subjectKey: Buffer.alloc(32, 7),
    });
  const user = (id: string, email: string, lastActive: Date) =>
    mem.rows.set(id, { id, email, name: `Name ${id}`, last_active_at: lastActive });
  const ago = (ms: number) => new Date(clock.now().getTime() - ms);
  const threeYearsAgo = () => subtractDuration(clock.now(), "P3Y");
  const notices = () =>
    ts.store.db
      .withTables<{ privacy_retention_notices: Record<string, unknown> }>()
      .selectFrom("privacy_retention_notices")
      .selectAll()
      .execute();

  beforeAll(async () => {
    ts = await openTestStore(backend, retentionMigrations);
  });
  afterAll(async () => {
    await ts?.cleanup();
  });
  beforeEach(async () => {
    const db = ts.store.db.withTables<Record<string, object>>();
    await db.deleteFrom("privacy_retention_notices").execute();
    await db.deleteFrom("privacy_retention_erased").execute();
    clock = manualClock("2029-06-01T12:00:00Z");
    events = [];
    mem = memoryConnector();
    rec = recordingEngine(mem);
    mails = [];
    map = mapWith(dpdp);
    batchSize = 500;
  });

  test("DPDP: notice to the inactive person, erasure 48 h later, never the active one", async () => {
    user("1", "ana@example.com", new Date(threeYearsAgo().getTime() - DAY));
    user("2", "bo@example.com", ago(30 * DAY));
    const r = retention();

    const first = await r.run();
    expect(first.policies[0]).toMatchObject({
      policy: "dpdp-inactive",
      candidates: 1,
      noticed: 1,
      erased: 0,
      complete: true,
    });
    expect(mails).toHaveLength(1);
    expect(mails[0]?.to).toBe("ana@example.com");
    expect(mails[0]?.text).toContain("Shop Ltd has not seen any activity");
    expect(mails[0]?.text).toContain("2029-06-03 12:00");
    // The person is stored only as a keyed hash.
    const stored = JSON.stringify(await notices());
    expect(stored).not.toContain("ana@example.com");
    expect((await notices())[0]).toMatchObject({ state: "pending", mailed: true });

    clock.advance(24 * HOUR);
    expect((await r.run()).policies[0]).toMatchObject({ candidates: 1, noticed: 0, waiting: 1, erased: 0 });
    expect(rec.requests).toHaveLength(0);
    expect(mails).toHaveLength(1);

    clock.advance(24 * HOUR);
    expect((await r.run()).policies[0]).toMatchObject({ erased: 1, waiting: 0 });
    expect(rec.requests).toEqual([
      {
        id: expect.stringMatching(/^ret-[0-9a-f]{32}$/),
        kind: "erasure",
        identities: { email: "ana@example.com" },
        policy: { force: "delete" },
      },
    ]);
    expect([...mem.rows.keys()]).toEqual(["2"]);
    expect((await notices())[0]).toMatchObject({ state: "erased", request_id: rec.requests[0]?.id });
    expect((await r.run()).policies[0]).toMatchObject({ candidates: 0, erased: 0 });

    const types = events.map((e) => e.type);
    expect(types).toContain("privacy.retention_notice_sent");
    expect(types).toContain("privacy.retention_erased");
    expect(types.filter((t) => t === "privacy.retention_run")).toHaveLength(4);
    expect(events.find((e) => e.type === "privacy.retention_erased")?.data).toEqual({
      policy: "dpdp-inactive",
      action: "delete",
      count: 1,
    });
    expect(JSON.stringify(events)).not.toContain("ana@");
  });

  test("activity during the notice cancels the erasure", async () => {
    user("1", "ana@example.com", new Date(threeYearsAgo().getTime() - DAY));
    const r = retention();
    await r.run();
    clock.advance(20 * HOUR);
    user("1", "ana@example.com", clock.now()); // she signs in
    clock.advance(30 * HOUR);
    expect((await r.run()).policies[0]).toMatchObject({ candidates: 0, cancelled: 1, erased: 0 });
    expect(rec.requests).toHaveLength(0);
    expect(mem.rows.has("1")).toBe(true);
    expect((await notices())[0]).toMatchObject({ state: "cancelled" });
    expect(events.find((e) => e.type === "privacy.retention_cancelled")?.data).toMatchObject({ count: 1 });
  });

  test("the timestamp is checked again before erasing: another fresh row of the person cancels", async () => {
    user("1", "ana@example.com", new Date(threeYearsAgo().getTime() - DAY));
    const r = retention();
    await r.run();
    clock.advance(49 * HOUR);
    user("9", "ana@example.com", clock.now());
    expect((await r.run()).policies[0]).toMatchObject({ cancelled: 1, erased: 0 });
    expect(rec.requests).toHaveLength(0);
  });

  test("a failed erasure is retried with the same request id", async () => {
    user("1", "ana@example.com", new Date(threeYearsAgo().getTime() - DAY));
    const r = retention();
    await r.run();
    clock.advance(49 * HOUR);
    rec.failNext(1);
    const failed = (await r.run()).policies[0];
    expect(failed).toMatchObject({ failed: 1, erased: 0 });
    expect(failed?.errors[0]).toMatch(/^erasure ret-[0-9a-f]{32} failed: store unavailable$/);
    expect((await r.run()).policies[0]).toMatchObject({ erased: 1, failed: 0 });
    expect(rec.requests.map((q) => q.id)).toEqual([rec.requests[0]?.id, rec.requests[0]?.id]);
  });

  test("legal hold skips the policy without reading the store", async () => {
    map = mapWith({ ...dpdp, legalHold: true });
    user("1", "ana@example.com", new Date(threeYearsAgo().getTime() - DAY));
    const report = await retention().run();
    expect(report.policies[0]).toMatchObject({ skipped: "legal_hold", candidates: 0 });
    expect(mem.calls.findBefore).toBe(0);
    expect(mails).toHaveLength(0);
  });

  test("a dry run changes, sends and erases nothing", async () => {
    user("1", "ana@example.com", new Date(threeYearsAgo().getTime() - DAY));
    const r = retention();
    const dry = await r.run({ dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(dry.policies[0]).toMatchObject({ candidates: 1, noticed: 1 });
    expect(await notices()).toHaveLength(0);
    expect(mails).toHaveLength(0);
    expect(events.map((e) => e.type)).toEqual(["privacy.retention_run"]);

    await r.run();
    clock.advance(49 * HOUR);
    expect((await r.run({ dryRun: true })).policies[0]).toMatchObject({ erased: 1 });
    expect(rec.requests).toHaveLength(0);
    expect(mem.rows.has("1")).toBe(true);
    expect((await notices())[0]).toMatchObject({ state: "pending" });
  });

  test("without notice: erased at once; masked rows are not erased again", async () => {
    map = mapWith({ ...dpdp, key: "mask-old", action: "mask", notice: undefined, noticeField: undefined });
    user("1", "ana@example.com", new Date(threeYearsAgo().getTime() - DAY));
    const r = retention();
    expect((await r.run()).policies[0]).toMatchObject({ candidates: 1, erased: 1, noticed: 0 });
    expect(rec.requests[0]?.policy).toEqual({ force: "mask" });
    expect(mem.rows.get("1")?.["email"]).toBe("masked-1");
    expect((await r.run()).policies[0]).toMatchObject({ candidates: 0, erased: 0 });
    expect(rec.requests).toHaveLength(1);
  });

  test("batches: every candidate is reached when findBefore returns a few at a time", async () => {
    batchSize = 2;
    for (let i = 0; i < 7; i++)
      user(String(i), `p${i}@example.com`, new Date(threeYearsAgo().getTime() - (i + 1) * DAY));
    const r = retention();
    expect((await r.run()).policies[0]).toMatchObject({ candidates: 7, noticed: 7, complete: true });
    clock.advance(49 * HOUR);
    expect((await r.run()).policies[0]).toMatchObject({ candidates: 7, erased: 7, complete: true });
    expect(mem.rows.size).toBe(0);
  });

  test("a policy that does not fit the map is skipped with a message that points at it", async () => {
    map = mapWith(
      { ...dpdp, key: "bad", identityField: "shop.users.name" },
      { ...dpdp, key: "gone", timestampField: "shop.nope.at" },
    );
    const report = await retention().run();
    expect(report.policies.map((p) => p.skipped)).toEqual([
      "retention.bad: identity_field 'shop.users.name' is not an identity (fides_meta.identity)",
      "retention.gone: timestamp_field 'shop.nope.at' names no collection of the data map",
    ]);
  });
});
