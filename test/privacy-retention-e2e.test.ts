// Retention end to end on real PostgreSQL: the example shop's map restricted to its PostgreSQL
// dataset, the real DSR engine and PostgreSQL connector, a real SMTP sink for the DPDP inactivity
// notice, one manual clock for retention and engine. The inactive customer is told first, erased
// (masked) only after the 48-hour notice, with a signed receipt; her orders still join; a customer
// who signs in during the notice is spared; every other row stays byte-identical; a second run
// changes nothing. The map's legal hold stops a policy; the 90-day session policy removes exactly
// the sessions older than 90 days.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { createConnectorRegistry, type ConnectorRegistry } from "../src/data/privacy/dsr/connectors/index.ts";
import {
  createDsrEngine,
  dsrMigrations,
  type DsrEngineService,
  type DsrReceipt,
  ed25519Signer,
  verifyReceipt,
} from "../src/data/privacy/dsr/index.ts";
import { createSmtpMailer } from "../src/data/privacy/mail.ts";
import type { DataMap, RetentionPolicy } from "../src/data/privacy/map/model.ts";
import { dataMapProblems } from "../src/data/privacy/map/validate.ts";
import {
  createRetention,
  type PolicyReport,
  type Retention,
  retentionConfigSchema,
  retentionMigrations,
  type RetentionReport,
} from "../src/data/privacy/retention/index.ts";
import { subtractDuration } from "../src/data/privacy/duration.ts";
import { manualClock } from "../src/platform/clock.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { freshDatabase } from "./support/pg.ts";
import { loadShopMap, shopData, sqlStatements, TARGET } from "./support/privacy-shop.ts";
import { type SmtpSink, startSmtpSink } from "./support/sinks.ts";
import { openTestStore, type TestStore } from "./support/stores.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = new Date("2029-06-01T12:00:00.000Z");
const threeYearsBefore = (t: Date) => subtractDuration(t, "P3Y");

/** The people the scenario is about; everyone else was active within the last 800 days. */
const INACTIVE = TARGET.id; // 3 years and 1 day without activity: noticed, then masked
const RETURNING = TARGET.lookalikeId; // 3 years and 2 days: noticed, signs in during the notice
const ACTIVE = 10; // active yesterday
const ALMOST = 11; // 10 days short of 3 years: never due during the test
const lastActive = (id: number): Date =>
  id === INACTIVE
    ? new Date(threeYearsBefore(T0).getTime() - DAY)
    : id === RETURNING
      ? new Date(threeYearsBefore(T0).getTime() - 2 * DAY)
      : id === ACTIVE
        ? new Date(T0.getTime() - DAY)
        : id === ALMOST
          ? new Date(threeYearsBefore(T0).getTime() + 10 * DAY)
          : new Date(T0.getTime() - (((id * 37) % 800) + 2) * DAY);

/** Sessions: the inactive two only have sessions from their last visit; others alternate old (91+ days) and fresh (≤ 60 days). */
const sessionCreated = (userId: number, i: number): Date =>
  userId === INACTIVE || userId === RETURNING
    ? new Date(lastActive(userId).getTime() - i * HOUR)
    : i % 2 === 0
      ? new Date(T0.getTime() - (91 + ((userId * 13 + i) % 300)) * DAY)
      : new Date(T0.getTime() - (((userId * 7 + i) % 60) + 1) * DAY);

const TABLES = ["users", "addresses", "orders", "order_items", "support_tickets", "sessions"] as const;
type Table = (typeof TABLES)[number];
/** Table → primary key → md5 of the whole row as PostgreSQL prints it. */
type RowHashes = Record<Table, Map<string, string>>;

const keys = generateKeyPairSync("ed25519");
const signer = ed25519Signer(keys.privateKey, "retention-e2e-1");

/** The shop map restricted to its PostgreSQL dataset `shop` (support tickets stay in it), with the retention that lives there. */
function postgresShopMap(): DataMap {
  const map = structuredClone(loadShopMap());
  map.datasets = map.datasets.filter((d) => d.key === "shop");
  map.systems = map.systems.map((s) => ({ ...s, datasets: s.datasets.filter((k) => k === "shop") }));
  map.retention = map.retention.filter((r) => r.timestampField.startsWith("shop."));
  return map;
}

const data = shopData(90, 11);
for (const u of data.users) {
  const id = u.id as number;
  u.created_at = new Date(T0.getTime() - 5 * 365 * DAY).toISOString();
  u.last_active_at = lastActive(id).toISOString();
}
{
  const perUser = new Map<number, number>();
  for (const s of data.sessions) {
    const uid = s.user_id as number;
    const i = perUser.get(uid) ?? 0;
    perUser.set(uid, i + 1);
    const created = sessionCreated(uid, i);
    s.created_at = created.toISOString();
    s.expires_at = new Date(created.getTime() + 30 * DAY).toISOString();
  }
}
const inactiveUser = data.users.find((u) => u.id === INACTIVE) as Record<string, unknown>;
const returningUser = data.users.find((u) => u.id === RETURNING) as Record<string, unknown>;

let shopDb: { url: string; drop(): Promise<void> };
let shop: pg.Pool;
let ts: TestStore;
let sink: SmtpSink;
let mailer: ReturnType<typeof createSmtpMailer>;
let registry: ConnectorRegistry;
let engine: DsrEngineService;
let retention: Retention;
const clock = manualClock(T0);
const events: SecurityEvent[] = [];
const map = postgresShopMap();

const retentionOver = (m: DataMap) =>
  createRetention({
    store: ts.store,
    clock,
    emit: (e) => events.push(e),
    map: () => m,
    connectorFor: (ds) => registry.connectorFor(ds),
    engine,
    mailer,
    config: () => retentionConfigSchema.parse({ organisation: "Shop Ltd" }),
    subjectKey: randomBytes(32),
  });

async function rowHashes(): Promise<RowHashes> {
  const out = {} as RowHashes;
  for (const t of TABLES) {
    const { rows } = await shop.query<{ id: string; h: string }>(
      `select id::text as id, md5(t::text) as h from ${t} t order by id`,
    );
    out[t] = new Map(rows.map((r) => [r.id, r.h]));
  }
  return out;
}

/** Keys of the rows that belong to `userId` (by user_id, plus tickets written from their address). */
async function rowsOf(userId: number, email: string): Promise<Record<Table, Set<string>>> {
  const ids = async (sql: string, params: unknown[]) =>
    new Set((await shop.query<{ id: string }>(sql, params)).rows.map((r) => r.id));
  return {
    users: await ids("select id::text as id from users where id = $1", [userId]),
    addresses: await ids("select id::text as id from addresses where user_id = $1", [userId]),
    orders: await ids("select id::text as id from orders where user_id = $1", [userId]),
    order_items: await ids(
      "select i.id::text as id from order_items i join orders o on o.id = i.order_id where o.user_id = $1",
      [userId],
    ),
    support_tickets: await ids(
      "select id::text as id from support_tickets where user_id = $1 or email = $2",
      [userId, email],
    ),
    sessions: await ids("select id::text as id from sessions where user_id = $1", [userId]),
  };
}

/** Which rows differ between two hash sets: changed, removed and added keys per table. */
function diff(a: RowHashes, b: RowHashes) {
  const out: Record<string, { changed: string[]; removed: string[]; added: string[] }> = {};
  for (const t of TABLES) {
    const changed = [...a[t]].filter(([k, h]) => b[t].has(k) && b[t].get(k) !== h).map(([k]) => k);
    const removed = [...a[t].keys()].filter((k) => !b[t].has(k));
    const added = [...b[t].keys()].filter((k) => !a[t].has(k));
    out[t] = { changed: changed.sort(), removed: removed.sort(), added: added.sort() };
  }
  return out;
}

const policy = (r: RetentionReport, key: string): PolicyReport => {
  const p = r.policies.find((x) => x.policy === key);
  if (!p) throw new Error(`report has no policy ${key}`);
  return p;
};

const notices = () =>
  ts.store.db
    .withTables<{ privacy_retention_notices: Record<string, unknown> }>()
    .selectFrom("privacy_retention_notices")
    .selectAll()
    .orderBy("noticed_at")
    .execute();

const eventsSince = (n: number) => events.slice(n);
const personal = [
  String(inactiveUser.email),
  String(inactiveUser.phone),
  String(returningUser.email),
  String(returningUser.phone),
  "Ferreira",
];

beforeAll(async () => {
  shopDb = await freshDatabase(inject("pgUrl"));
  shop = new pg.Pool({ connectionString: shopDb.url, max: 2 });
  for (const s of sqlStatements("shop-postgres.sql")) await shop.query(s);
  for (const t of TABLES) {
    const rows = data[t];
    if (rows.length === 0) continue;
    const cols = Object.keys(rows[0] as object).join(", ");
    await shop.query(
      `insert into ${t} (${cols}) select ${cols} from jsonb_populate_recordset(null::${t}, $1::jsonb)`,
      [JSON.stringify(rows)],
    );
  }
  ts = await openTestStore("postgres", { ...dsrMigrations, ...retentionMigrations });
  sink = await startSmtpSink();
  mailer = createSmtpMailer({ url: `smtp://127.0.0.1:${sink.port}`, from: "privacy@shop.example" });
  registry = createConnectorRegistry({ shop_pg: { type: "postgres", url: shopDb.url, datasets: ["shop"] } });
  engine = createDsrEngine({
    store: ts.store,
    map: () => map,
    connectorFor: (ds) => registry.connectorFor(ds),
    clock,
    emit: (e) => events.push(e),
    signer,
  });
  retention = retentionOver(map);
});

afterAll(async () => {
  await registry?.close();
  mailer?.close();
  await sink?.close();
  await ts?.cleanup();
  await shop?.end();
  await shopDb?.drop();
});

describe("retention on the example shop in PostgreSQL", () => {
  test("the restricted map is valid and keeps the shop's three PostgreSQL policies", () => {
    expect(map.datasets.map((d) => d.key)).toEqual(["shop"]);
    expect(map.retention.map((r) => r.key)).toEqual([
      "dpdp-inactive-customers",
      "sessions-90-days",
      "invoices-8-years",
    ]);
    expect(dataMapProblems(map)).toEqual([]);
  });

  test("legal hold: a held DPDP policy notices, erases and changes nothing", async () => {
    const dpdp = map.retention.find((r) => r.key === "dpdp-inactive-customers") as RetentionPolicy;
    const held: DataMap = { ...map, retention: [{ ...dpdp, legalHold: true }] };
    const before = await rowHashes();
    const from = events.length;
    const report = await retentionOver(held).run();
    expect(report.policies).toEqual([
      expect.objectContaining({
        policy: dpdp.key,
        skipped: "legal_hold",
        candidates: 0,
        noticed: 0,
        erased: 0,
      }),
    ]);
    expect(sink.received).toHaveLength(0);
    expect(await notices()).toHaveLength(0);
    expect(await rowHashes()).toEqual(before);
    expect(eventsSince(from).map((e) => e.type)).toEqual(["privacy.retention_run"]);
  });

  test("run 1: notices to the two inactive customers, nothing erased, old sessions deleted", async () => {
    const before = await rowHashes();
    const from = events.length;
    const report = await retention.run();

    const dpdp = policy(report, "dpdp-inactive-customers");
    expect(dpdp).toMatchObject({
      cutoff: threeYearsBefore(T0).toISOString(),
      candidates: 2,
      noticed: 2,
      waiting: 0,
      erased: 0,
      cancelled: 0,
      failed: 0,
      complete: true,
    });
    expect(policy(report, "invoices-8-years")).toMatchObject({ skipped: "legal_hold" });

    // Two mails, one to each inactive customer, naming the moment of erasure (48 h on).
    expect(sink.received.map((m) => m.to).sort()).toEqual(
      [[String(inactiveUser.email)], [String(returningUser.email)]].sort(),
    );
    const mail = sink.received.find((m) => m.to[0] === inactiveUser.email);
    expect(mail?.from).toBe("privacy@shop.example");
    expect(mail?.parsed.subject).toBe("Your account is about to be deleted");
    expect(mail?.parsed.text).toContain(
      "Shop Ltd has not seen any activity on your account since 2026-05-31.",
    );
    expect(mail?.parsed.text).toContain("will be deleted after 2029-06-03 12:00 UTC");
    const pending = await notices();
    expect(pending.map((n) => n.state)).toEqual(["pending", "pending"]);
    expect(pending.every((n) => n.mailed === true)).toBe(true);
    expect(JSON.stringify(pending)).not.toContain("@");

    // Nothing erased: users, addresses, orders, items and tickets untouched.
    const after = await rowHashes();
    for (const t of TABLES.filter((x) => x !== "sessions")) expect(after[t]).toEqual(before[t]);

    const types = eventsSince(from).map((e) => e.type);
    expect(types).toContain("privacy.retention_notice_sent");
    // Only the sessions policy erased anything in this run (its old rows).
    const erased = eventsSince(from).filter((e) => e.type === "privacy.retention_erased");
    expect(erased.map((e) => e.data.policy)).toEqual(["sessions-90-days"]);
    expect(types).not.toContain("privacy.dsr_started");
    expect(eventsSince(from).find((e) => e.type === "privacy.retention_notice_sent")?.data).toEqual({
      policy: "dpdp-inactive-customers",
      action: "mask",
      count: 2,
    });
    for (const p of personal) expect(JSON.stringify(events)).not.toContain(p);

    // sessions-90-days (no notice): every session older than 90 days goes, every fresher one stays
    // byte-identical. Soft, so the DPDP scenario below still runs when this part fails.
    const cutoff = new Date(T0.getTime() - 90 * DAY);
    const old = data.sessions.filter((s) => new Date(String(s.created_at)) < cutoff).map((s) => String(s.id));
    const fresh = data.sessions
      .filter((s) => new Date(String(s.created_at)) >= cutoff)
      .map((s) => String(s.id));
    expect(old.length).toBeGreaterThan(10);
    expect(fresh.length).toBeGreaterThan(10);
    const sessions = policy(report, "sessions-90-days");
    expect.soft(sessions.skipped, "sessions-90-days must run, not be skipped").toBeUndefined();
    expect.soft(sessions).toMatchObject({ failed: 0, noticed: 0, complete: true });
    expect.soft(sessions.erased).toBeGreaterThan(0);
    expect
      .soft(old.filter((id) => after.sessions.has(id)).length, "sessions older than 90 days left")
      .toBe(0);
    expect
      .soft(
        fresh.filter((id) => after.sessions.get(id) !== before.sessions.get(id)),
        "fresh sessions deleted or changed",
      )
      .toEqual([]);
    // No mail for the session policy.
    expect(sink.received).toHaveLength(2);
  });

  test("+47 h: nothing erased; the customer who signed in during the notice is cancelled", async () => {
    clock.advance(24 * HOUR);
    // The look-alike comes back: the shop records her activity.
    await shop.query("update users set last_active_at = $1 where id = $2", [clock.now(), RETURNING]);
    clock.advance(23 * HOUR);
    const before = await rowHashes();
    const from = events.length;
    const report = await retention.run();
    expect(policy(report, "dpdp-inactive-customers")).toMatchObject({
      candidates: 1,
      noticed: 0,
      waiting: 1,
      erased: 0,
      cancelled: 1,
      failed: 0,
    });
    expect(await rowHashes()).toEqual(before);
    expect(sink.received).toHaveLength(2);
    expect((await notices()).map((n) => n.state).sort()).toEqual(["cancelled", "pending"]);
    const types = eventsSince(from).map((e) => e.type);
    expect(types).not.toContain("privacy.dsr_started");
    expect(types).not.toContain("privacy.retention_erased");
    expect(eventsSince(from).find((e) => e.type === "privacy.retention_cancelled")?.data).toEqual({
      policy: "dpdp-inactive-customers",
      action: "mask",
      count: 1,
    });
  });

  test("+49 h: the inactive customer is masked, her orders still join, all else is byte-identical", async () => {
    clock.advance(2 * HOUR);
    const before = await rowHashes();
    const hers = await rowsOf(INACTIVE, String(inactiveUser.email));
    const ordersBefore = (
      await shop.query(
        `select o.id, o.total_cents, o.placed_at, a.id as address_id from orders o
           join users u on u.id = o.user_id join addresses a on a.id = o.shipping_address_id
          where u.id = $1 order by o.id`,
        [INACTIVE],
      )
    ).rows;
    expect(ordersBefore).toHaveLength(3);
    const from = events.length;

    const report = await retention.run();
    expect(policy(report, "dpdp-inactive-customers")).toMatchObject({
      candidates: 1,
      noticed: 0,
      waiting: 0,
      erased: 1,
      cancelled: 0,
      failed: 0,
      errors: [],
    });
    expect(sink.received).toHaveLength(2);

    // Exactly her users, addresses, tickets and sessions rows changed; orders and items did not.
    const after = await rowHashes();
    const d = diff(before, after);
    for (const t of TABLES) {
      expect(d[t]?.removed, `${t} removed`).toEqual([]);
      expect(d[t]?.added, `${t} added`).toEqual([]);
    }
    expect(d.users?.changed).toEqual([String(INACTIVE)]);
    expect(new Set(d.addresses?.changed)).toEqual(hers.addresses);
    expect(new Set(d.support_tickets?.changed)).toEqual(hers.support_tickets);
    expect(new Set(d.sessions?.changed)).toEqual(hers.sessions);
    expect(d.orders?.changed).toEqual([]);
    expect(d.order_items?.changed).toEqual([]);
    expect(hers.support_tickets.size).toBe(3); // two with her user id, one written as a guest

    // Her personal fields per the map: hmac (cut to the column length) or null; keys and times kept.
    const u = (await shop.query("select * from users where id = $1", [INACTIVE])).rows[0];
    expect(u.email).not.toBe(inactiveUser.email);
    expect(u.email).toMatch(/^[0-9a-f]{64}$/);
    expect(u.phone).not.toBe(inactiveUser.phone);
    expect(u.phone).toMatch(/^[0-9a-f]{32}$/);
    expect(u.first_name).not.toBe(inactiveUser.first_name);
    expect(u.last_name).not.toBe(inactiveUser.last_name);
    expect([u.password_hash, u.date_of_birth, u.marketing_opt_in]).toEqual([null, null, null]);
    expect(u.last_active_at.toISOString()).toBe(inactiveUser.last_active_at);
    expect(u.created_at.toISOString()).toBe(inactiveUser.created_at);
    for (const a of (await shop.query("select * from addresses where user_id = $1", [INACTIVE])).rows) {
      const was = data.addresses.find((x) => x.id === Number(a.id)) as Record<string, unknown>;
      expect(a.line1).not.toBe(was.line1);
      expect(a.city).not.toBe(was.city);
      expect(a.postal_code).not.toBe(was.postal_code);
    }
    const tickets = (
      await shop.query("select * from support_tickets where id = any($1)", [[...hers.support_tickets]])
    ).rows;
    for (const t of tickets) {
      expect(t.email).not.toContain("@");
      expect(t.body).not.toContain(TARGET.phone);
    }
    // Her address survives only where the look-alike quoted it in her own ticket (not hers to erase).
    const mentions = await shop.query<{ id: string; email: string }>(
      "select id::text as id, email from support_tickets t where t::text like $1",
      [`%${String(inactiveUser.email)}%`],
    );
    expect(mentions.rows.map((r) => r.email)).toEqual(["ana.ferreira@example.org"]);
    const anywhere = await Promise.all(
      ["users", "addresses", "orders", "sessions"].map(async (t) =>
        Number(
          (
            await shop.query(`select count(*) as n from ${t} t where t::text like $1`, [
              `%${String(inactiveUser.email)}%`,
            ])
          ).rows[0].n,
        ),
      ),
    );
    expect(anywhere).toEqual([0, 0, 0, 0]);

    // Her orders still join her (masked) account and their shipping addresses, amounts kept.
    const ordersAfter = (
      await shop.query(
        `select o.id, o.total_cents, o.placed_at, a.id as address_id from orders o
           join users u on u.id = o.user_id join addresses a on a.id = o.shipping_address_id
          where u.id = $1 order by o.id`,
        [INACTIVE],
      )
    ).rows;
    expect(ordersAfter).toEqual(ordersBefore);

    // The notice is closed with the request it ran; the engine signed a receipt for it.
    const closed = (await notices()).find((n) => n.state === "erased") as Record<string, unknown>;
    expect(closed.request_id).toMatch(/^ret-[0-9a-f]{32}$/);
    const requestId = String(closed.request_id);
    const receipt = (await engine.receiptOf(requestId)) as DsrReceipt;
    expect(receipt).toMatchObject({ requestId, kind: "erasure", keyId: "retention-e2e-1" });
    expect(verifyReceipt(receipt, keys.publicKey)).toBe(true);
    const forged = structuredClone(receipt);
    (forged.collections[0] as { masked: number }).masked += 1;
    expect(verifyReceipt(forged, keys.publicKey)).toBe(false);
    const outcome = Object.fromEntries(receipt.collections.map((c) => [c.collection, c]));
    expect(outcome["shop.users"]).toMatchObject({ found: 1, masked: 1, deleted: 0 });
    expect(outcome["shop.addresses"]).toMatchObject({
      found: hers.addresses.size,
      masked: hers.addresses.size,
    });
    expect(outcome["shop.support_tickets"]).toMatchObject({ found: 3, masked: 3 });
    expect(outcome["shop.orders"]).toMatchObject({ found: 3, masked: 0, deleted: 0 });
    expect(outcome["shop.sessions"]).toMatchObject({
      found: hers.sessions.size,
      masked: hers.sessions.size,
      deleted: 0,
    });

    const mine = eventsSince(from);
    expect(mine.find((e) => e.type === "privacy.retention_erased")?.data).toEqual({
      policy: "dpdp-inactive-customers",
      action: "mask",
      count: 1,
    });
    const completed = mine.find((e) => e.type === "privacy.dsr_completed");
    expect(completed?.data).toMatchObject({ requestId, signature: receipt.signature });
    for (const p of personal) expect(JSON.stringify(events)).not.toContain(p);
  });

  test("the look-alike who signed in is not erased and gets no second notice", async () => {
    const r = (await shop.query("select * from users where id = $1", [RETURNING])).rows[0];
    expect(r.email).toBe(returningUser.email);
    expect(r.phone).toBe(returningUser.phone);
    expect(r.first_name).toBe(returningUser.first_name);
    expect(sink.received.filter((m) => m.to[0] === returningUser.email)).toHaveLength(1);
    const active = (await shop.query("select email from users where id = $1", [ACTIVE])).rows[0];
    expect(sink.received.some((m) => m.to[0] === active.email)).toBe(false);
    const almost = (await shop.query("select email from users where id = $1", [ALMOST])).rows[0];
    expect(sink.received.some((m) => m.to[0] === almost.email)).toBe(false);
  });

  test("running again (a day later) changes, sends and erases nothing", async () => {
    clock.advance(DAY);
    const before = await rowHashes();
    const noticesBefore = await notices();
    const from = events.length;
    const report = await retention.run();
    expect(policy(report, "dpdp-inactive-customers")).toMatchObject({
      candidates: 0,
      noticed: 0,
      waiting: 0,
      erased: 0,
      cancelled: 0,
      failed: 0,
      complete: true,
    });
    expect(policy(report, "sessions-90-days")).toMatchObject({ erased: 0, failed: 0 });
    expect(await rowHashes()).toEqual(before);
    expect(await notices()).toEqual(noticesBefore);
    expect(sink.received).toHaveLength(2);
    expect(eventsSince(from).map((e) => e.type)).toEqual(["privacy.retention_run"]);
  });

  test("sessions-90-days with user_id marked an identity deletes the old sessions only", async () => {
    // The smallest map fix for the skip above (fides_meta.identity on sessions.user_id): does the
    // policy then remove exactly the expired rows, or every session of a person with one expired?
    const variant = structuredClone(map);
    const sessions = variant.datasets[0]?.collections.find((c) => c.name === "sessions");
    const userId = sessions?.fields.find((f) => f.name === "user_id");
    if (!userId) throw new Error("no sessions.user_id");
    userId.identity = "user_id";
    variant.retention = variant.retention.filter((r) => r.key === "sessions-90-days");
    const before = await rowHashes();
    const cutoff = new Date(clock.now().getTime() - 90 * DAY);
    const created = new Map(
      (await shop.query<{ id: string; created_at: Date }>("select id, created_at from sessions")).rows.map(
        (r) => [r.id, r.created_at],
      ),
    );
    const old = [...created].filter(([, at]) => at < cutoff).map(([id]) => id);
    const fresh = [...created].filter(([, at]) => at >= cutoff).map(([id]) => id);
    const engineV = createDsrEngine({
      store: ts.store,
      map: () => variant,
      connectorFor: (ds) => registry.connectorFor(ds),
      clock,
      emit: (e) => events.push(e),
      signer,
    });
    const report = await createRetention({
      store: ts.store,
      clock,
      emit: (e) => events.push(e),
      map: () => variant,
      connectorFor: (ds) => registry.connectorFor(ds),
      engine: engineV,
      mailer,
    }).run();
    const after = await rowHashes();
    expect(policy(report, "sessions-90-days")).toMatchObject({ failed: 0, errors: [] });
    expect(old.filter((id) => after.sessions.has(id)).length, "old sessions left").toBe(0);
    expect(fresh.filter((id) => !after.sessions.has(id)).length, "fresh sessions deleted").toBe(0);
    for (const t of TABLES.filter((x) => x !== "sessions")) expect(after[t]).toEqual(before[t]);
  });
});
