// Data-subject requests end to end on real stores: the example shop's map, with accounts, orders
// and sessions in PostgreSQL, support tickets in MariaDB and carts in Redis, seeded with 200
// customers around one subject and a look-alike of hers. Access exports exactly her rows (checked
// against direct SQL and Redis reads), erasure changes exactly her mapped personal fields (checked
// cell by cell and by store-computed checksums), and an erasure that crashes — a write that fails
// or a process killed with SIGKILL — resumes to the byte-identical end state of an uninterrupted
// run of the same request on an identical copy.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { createConnectorRegistry } from "../src/data/privacy/dsr/connectors/index.ts";
import {
  type AccessExport,
  type Connector,
  createDsrEngine,
  dsrMigrations,
  type DsrRequest,
  type DsrTables,
  ed25519Signer,
  verifyReceipt,
} from "../src/data/privacy/dsr/index.ts";
import {
  allFields,
  type Collection,
  type DataMap,
  isPersonalCategory,
} from "../src/data/privacy/map/model.ts";
import { manualClock } from "../src/platform/clock.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import type { Store } from "../src/platform/store/index.ts";
import { startMariadb } from "./support/mariadb.ts";
import { shopData, type StoredShop, storeShop, SUPPORT, TARGET } from "./support/privacy-shop.ts";
import type { RunningService } from "./support/services.ts";
import { openTestStore, type TestStore } from "./support/stores.ts";

const USERS = 200;
const keys = generateKeyPairSync("ed25519");
const signer = ed25519Signer(keys.privateKey, "dsr-e2e-1");
const IDENT = { email: TARGET.email };

let mariadb: RunningService;
const servers = () => ({ pg: inject("pgUrl"), mysql: mariadb.url, redis: inject("redisUrl") });
const data = shopData(USERS, 10);
const shops: StoredShop[] = [];
const stores: TestStore[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  mariadb = await startMariadb();
}, 60_000);
afterAll(async () => {
  // A child left paused by a failed assertion must not outlive the suite.
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const s of shops) await s.drop().catch(() => {});
  for (const s of stores) await s.cleanup().catch(() => {});
  await mariadb?.stop();
});

const newShop = async () => {
  const shop = await storeShop(servers(), data, "dsre2e");
  shops.push(shop);
  return shop;
};
const newStore = async () => {
  const ts = await openTestStore("postgres", dsrMigrations);
  stores.push(ts);
  return ts;
};

interface Wired {
  engine: ReturnType<typeof createDsrEngine>;
  events: SecurityEvent[];
  close(): Promise<void>;
}

function engineOver(
  store: Store,
  shop: StoredShop,
  wrap?: (c: Connector) => Connector,
  map: DataMap = shop.map,
): Wired {
  const registry = createConnectorRegistry(shop.connections);
  const wrapped = new Map<string, Connector>();
  const events: SecurityEvent[] = [];
  const engine = createDsrEngine({
    store,
    map: () => map,
    connectorFor: (ds) => {
      const c = registry.connectorFor(ds);
      if (!wrap) return c;
      let w = wrapped.get(ds);
      if (!w) wrapped.set(ds, (w = wrap(c)));
      return w;
    },
    clock: manualClock("2026-11-26T09:00:00Z"),
    emit: (e) => events.push(e),
    signer,
  });
  return { engine, events, close: () => registry.close() };
}

const collectionsOf = (map: DataMap) =>
  new Map<string, Collection>(
    map.datasets.flatMap((d) => d.collections.map((c) => [`${c.dataset}.${c.name}`, c] as const)),
  );

/** A driver value as the engine keeps it (jsonSafe): dates as ISO strings. */
const norm = (v: unknown): unknown => (v instanceof Date ? v.toISOString() : v === undefined ? null : v);

/** The subject's rows read directly from each store, by collection, keyed by primary key. */
async function subjectRows(shop: StoredShop): Promise<Record<string, Map<string, Record<string, unknown>>>> {
  const byId = (rows: Record<string, unknown>[]) =>
    new Map(
      rows.map((r) => [String(r.id), Object.fromEntries(Object.entries(r).map(([k, v]) => [k, norm(v)]))]),
    );
  const q = async (sql: string, params: unknown[]) => byId((await shop.pg.query(sql, params)).rows);
  const users = await q("select * from users where email = $1", [TARGET.email]);
  const uid = [...users.keys()];
  const [tickets] = await shop.my.query("SELECT * FROM support_tickets WHERE user_id IN (?) OR email = ?", [
    uid,
    TARGET.email,
  ]);
  const cart = await shop.redis.hgetall(`${shop.redisPrefix}:cart:${TARGET.id}`);
  return {
    "shop.users": users,
    "shop.addresses": await q(
      "select * from addresses where user_id = any($1) or id in (select shipping_address_id from orders where user_id = any($1))",
      [uid],
    ),
    "shop.orders": await q("select * from orders where user_id = any($1)", [uid]),
    "shop.order_items": await q(
      "select * from order_items where order_id in (select id from orders where user_id = any($1))",
      [uid],
    ),
    "shop.sessions": await q("select * from sessions where user_id = any($1)", [uid]),
    [`${SUPPORT}.support_tickets`]: byId(tickets as Record<string, unknown>[]),
    "shop_cache.carts": new Map(
      Object.keys(cart).length
        ? [[`${shop.redisPrefix}:cart:${TARGET.id}`, { ...cart, user_id: String(TARGET.id) }]]
        : [],
    ),
  };
}

/** The row id the connectors give: canonical JSON of the key for SQL, the key for Redis. */
const keyOf = (address: string, exportId: string) =>
  address === "shop_cache.carts" ? exportId : String((JSON.parse(exportId) as { id: unknown }).id);

const pkOf = (row: Record<string, unknown>) => String(row.id ?? row.key);
const indexRows = (rows: Record<string, unknown>[] = []) => new Map(rows.map((r) => [pkOf(r), r]));

/** Snapshot table → collection address of the variant map. */
const tableAddress: Record<string, string> = {
  users: "shop.users",
  addresses: "shop.addresses",
  orders: "shop.orders",
  order_items: "shop.order_items",
  sessions: "shop.sessions",
  support_tickets: `${SUPPORT}.support_tickets`,
  "redis:carts": "shop_cache.carts",
};

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

describe("data-subject requests across PostgreSQL, MariaDB and Redis (the example shop)", () => {
  test("the plan of one request reaches all three stores", async () => {
    const shop = await newShop();
    const ts = await newStore();
    const { engine, close } = engineOver(ts.store, shop);
    try {
      const plan = engine.plan("erasure", ["email"]);
      expect(plan.order).toEqual(
        expect.arrayContaining([
          "shop.users",
          `${SUPPORT}.support_tickets`,
          "shop_cache.carts",
          "shop.sessions",
        ]),
      );
      expect(plan.unreachable).toEqual([]);
      // Every mapped collection of the variant is in the walk.
      expect(new Set(plan.order)).toEqual(new Set(collectionsOf(shop.map).keys()));
    } finally {
      await close();
    }
  });

  test("access exports every row of the subject and nothing of anyone else, in JSON, CSV and HTML, with a verifiable receipt", async () => {
    const shop = await newShop();
    const ts = await newStore();
    const before = await shop.checksums();
    const { engine, events, close } = engineOver(ts.store, shop);
    try {
      const expected = await subjectRows(shop);
      // The seed gave her rows in every collection (the comparison below is not vacuous).
      for (const [address, rows] of Object.entries(expected))
        expect(rows.size, `${address} has rows of the subject`).toBeGreaterThan(0);
      expect(expected[`${SUPPORT}.support_tickets`]?.size).toBe(3);

      const receipt = await engine.run({ id: "e2e-access-1", kind: "access", identities: IDENT });
      expect(verifyReceipt(receipt, keys.publicKey)).toBe(true);
      expect(verifyReceipt({ ...receipt, completedAt: "2030-01-01T00:00:00.000Z" }, keys.publicKey)).toBe(
        false,
      );

      const json = await engine.exportOf("e2e-access-1", "json");
      expect(receipt.exportHash).toBe(sha256(json.body));
      const exp = JSON.parse(json.body) as AccessExport;
      const collections = collectionsOf(shop.map);
      for (const [address, want] of Object.entries(expected)) {
        const c = collections.get(address) as Collection;
        const got = exp.datasets[c.dataset]?.[c.name] ?? [];
        const gotById = new Map(got.map((r) => [keyOf(address, r.id), r.values]));
        expect([...gotById.keys()].sort(), `rows of ${address}`).toEqual([...want.keys()].sort());
        for (const [id, row] of want) {
          const values = gotById.get(id) ?? {};
          for (const f of c.fields)
            if (f.fields.length === 0 && Object.hasOwn(row, f.name))
              expect(String(values[f.name]), `${address} ${id} ${f.name}`).toBe(String(row[f.name]));
          // Unmapped columns are not exported (the cart's coupon is in the hash but not in the map).
          expect(Object.keys(values).every((k) => c.fields.some((f) => f.name === k))).toBe(true);
        }
        const outcome = receipt.collections.find((o) => o.collection === address);
        expect(outcome?.found, `receipt count of ${address}`).toBe(want.size);
      }
      // Nothing of the look-alike: not her account, not her ticket that names the subject's address.
      expect(json.body).not.toContain("ana.ferreira@example.net");
      expect(json.body).not.toContain("ana.ferreira@example.org");
      expect(json.body).toContain(TARGET.workEmail);

      const csv = await engine.exportOf("e2e-access-1", "csv");
      expect(csv.contentType).toMatch(/^text\/csv/);
      const lines = csv.body.trim().split("\r\n");
      expect(lines[0]).toBe("dataset,collection,row,field,category,value");
      expect(csv.body).toContain(TARGET.email);
      expect(csv.body).toContain(TARGET.phone);
      expect(csv.body).not.toContain("ana.ferreira@example.net");
      // One line per exported leaf value.
      const leaves = Object.values(exp.datasets)
        .flatMap((d) => Object.values(d))
        .flat()
        .reduce((n, r) => n + Object.keys(r.values).length, 0);
      expect(lines.length - 1).toBe(leaves);

      const html = await engine.exportOf("e2e-access-1", "html");
      expect(html.contentType).toMatch(/^text\/html/);
      expect(html.body).toContain(TARGET.email);
      expect(html.body).toContain("Where is my order?");
      expect(html.body).not.toContain("ana.ferreira@example.net");

      // Access wrote nothing anywhere.
      expect(await shop.checksums()).toEqual(before);
      // Events carry no identity values.
      const emitted = JSON.stringify(events);
      expect(emitted).not.toContain(TARGET.email);
      expect(emitted).not.toContain(TARGET.phone);
    } finally {
      await close();
    }
  });

  test("erasure masks or deletes exactly the subject's mapped personal fields, nothing else", async () => {
    const shop = await newShop();
    const ts = await newStore();
    const before = await shop.snapshot();
    const subject = await subjectRows(shop);
    const { engine, events, close } = engineOver(ts.store, shop);
    try {
      const receipt = await engine.run({ id: "e2e-erasure-1", kind: "erasure", identities: IDENT });
      expect(verifyReceipt(receipt, keys.publicKey)).toBe(true);
      const after = await shop.snapshot();
      expectErasedExactly(shop.map, before, after, subject);

      // Her identities appear nowhere any more, but in the look-alike's own words.
      const dump = JSON.stringify(after);
      const left = [...dump.matchAll(new RegExp(TARGET.email.replaceAll(".", "\\."), "g"))].length;
      expect(left).toBe(1);
      expect(dump.split(TARGET.phone).length - 1).toBe(0);
      expect(dump).not.toContain(TARGET.workEmail);

      // Links kept: her orders still join her (masked) account and their addresses, her tickets
      // in MariaDB still name an existing account in PostgreSQL.
      const joined = await shop.pg.query(
        "select count(*)::int as n from orders o join users u on u.id = o.user_id join addresses a on a.id = o.shipping_address_id where o.id = any($1)",
        [[...(subject["shop.orders"]?.keys() ?? [])]],
      );
      expect(joined.rows[0].n).toBe(subject["shop.orders"]?.size);
      const [ticketUsers] = await shop.my.query(
        "SELECT DISTINCT user_id FROM support_tickets WHERE id IN (?) AND user_id IS NOT NULL",
        [[...(subject[`${SUPPORT}.support_tickets`]?.keys() ?? [])]],
      );
      for (const { user_id } of ticketUsers as { user_id: string }[]) {
        const u = await shop.pg.query("select 1 from users where id = $1", [user_id]);
        expect(u.rowCount, `ticket user ${user_id} still joins`).toBe(1);
      }

      // A masked value is the same in every store within the request: her account's email in
      // PostgreSQL and the tickets she wrote from it in MariaDB still join on the masked address.
      const maskedEmail = after.users?.find((u) => String(u.id) === String(TARGET.id))?.email;
      expect(maskedEmail).toMatch(/^[0-9a-f]{64}$/);
      const fromHer = [...(subject[`${SUPPORT}.support_tickets`]?.values() ?? [])].filter(
        (t) => t.email === TARGET.email,
      );
      expect(fromHer.length).toBe(2);
      const [joinedTickets] = await shop.my.query("SELECT id FROM support_tickets WHERE email = ?", [
        maskedEmail,
      ]);
      expect((joinedTickets as { id: string }[]).map((t) => String(t.id)).sort()).toEqual(
        fromHer.map((t) => String(t.id)).sort(),
      );

      // Running it again changes nothing and returns the same receipt.
      const checks = await shop.checksums();
      expect(await engine.run({ id: "e2e-erasure-1", kind: "erasure", identities: IDENT })).toEqual(receipt);
      expect(await shop.checksums()).toEqual(checks);
      const emitted = JSON.stringify(events);
      expect(emitted).not.toContain(TARGET.email);
    } finally {
      await close();
    }
  });

  test("erasure keeps a primary key whose masking is 'preserve' (shop.users.id), so foreign keys hold", async () => {
    // Minimal case of the full erasure above: the map says users.id stays ("orders keep pointing
    // at a row that no longer says who"); rewriting it breaks orders_user_id_fkey in PostgreSQL.
    const shop = await newShop();
    const ts = await newStore();
    const { engine, close } = engineOver(ts.store, shop);
    try {
      await engine.run({ id: "e2e-erasure-preserve", kind: "erasure", identities: IDENT });
      const u = await shop.pg.query("select email from users where id = $1", [TARGET.id]);
      expect(u.rowCount).toBe(1);
      expect(u.rows[0].email).not.toBe(TARGET.email);
    } finally {
      await close();
    }
  });

  test("'preserve' on shop.users.id holds on its own, not only when another key (the carts' user_id) locks it", async () => {
    // The same map without the Redis carts: users.id then has no primary-key reference that
    // locks it, and its masking_strategy_override (preserve) must still keep it.
    const shop = await newShop();
    const ts = await newStore();
    const map = { ...shop.map, datasets: shop.map.datasets.filter((d) => d.key !== "shop_cache") };
    const { engine, close } = engineOver(ts.store, shop, undefined, map);
    try {
      await engine.run({ id: "e2e-erasure-preserve-alone", kind: "erasure", identities: IDENT });
      const u = await shop.pg.query("select email from users where id = $1", [TARGET.id]);
      expect(u.rowCount).toBe(1);
      expect(u.rows[0].email).not.toBe(TARGET.email);
    } finally {
      await close();
    }
  });

  test("an erasure whose write fails mid-run resumes, in a fresh engine, to the state of an uninterrupted run", async () => {
    const crashed = await newShop();
    const reference = await newShop();
    expect(await crashed.checksums()).toEqual(await reference.checksums());
    const ts = await newStore();
    const before = await crashed.snapshot();
    const subject = await subjectRows(crashed);
    const request: DsrRequest = { id: "e2e-erasure-crash", kind: "erasure", identities: IDENT };

    // The third write commits, then its connection drops before the engine hears back.
    let writes = 0;
    const failing = (c: Connector): Connector => ({
      type: c.type,
      find: (...a) => c.find(...a),
      findBefore: (...a) => c.findBefore(...a),
      check: (...a) => c.check(...a),
      close: () => c.close(),
      async update(col, changes) {
        const n = await c.update(col, changes);
        if (++writes === 3) throw new Error("connection reset by peer");
        return n;
      },
      async delete(col, rows) {
        const n = await c.delete(col, rows);
        if (++writes === 3) throw new Error("connection reset by peer");
        return n;
      },
    });
    const first = engineOver(ts.store, crashed, failing);
    await expect(first.engine.run(request)).rejects.toThrow(/connection reset/);
    await first.close();
    expect(writes).toBeGreaterThanOrEqual(3);
    const midway = await crashed.checksums();
    expect(midway).not.toEqual(await reference.checksums()); // it did stop half-way

    await referenceRun(ts.store, reference, request.id);

    // A fresh engine (a restarted server) over a reopened store finishes the request.
    const reopened = await ts.reopen();
    const second = engineOver(reopened, crashed);
    try {
      const receipt = await second.engine.run(request);
      expect(verifyReceipt(receipt, keys.publicKey)).toBe(true);
    } finally {
      await second.close();
    }
    expect(await crashed.checksums()).toEqual(await reference.checksums());
    expectErasedExactly(crashed.map, before, await crashed.snapshot(), subject);
  });

  test("an erasure whose process is killed with SIGKILL mid-run resumes to the state of an uninterrupted run", async () => {
    const crashed = await newShop();
    const reference = await newShop();
    const ts = await newStore();
    const id = "e2e-erasure-sigkill";
    const url = ts.location.url as string;

    const child = spawnEraser({ storeUrl: url, shop: crashed, requestId: id, stopAfterWrites: 2 });
    await child.paused;
    child.proc.kill("SIGKILL");
    await child.exited;
    expect(child.proc.signalCode).toBe("SIGKILL");
    const midway = await crashed.checksums();
    expect(midway).not.toEqual(await reference.checksums());

    await referenceRun(ts.store, reference, id);

    const reopened = await ts.reopen();
    const fresh = engineOver(reopened, crashed);
    try {
      // The killed request is still "running": resumePending picks it up.
      expect(await fresh.engine.resumePending()).toBe(1);
      const receipt = await fresh.engine.receiptOf(id);
      expect(receipt && verifyReceipt(receipt, keys.publicKey)).toBe(true);
    } finally {
      await fresh.close();
    }
    expect(await crashed.checksums()).toEqual(await reference.checksums());
  });
});

/**
 * Runs, on `reference`, the same request as `requestId` in `store` — same id, same per-request
 * masking secret, copied before the crashed run resumed — without interruption, in its own store.
 */
async function referenceRun(store: Store, reference: StoredShop, requestId: string) {
  const db = store.db.withTables<DsrTables>();
  const row = await db
    .selectFrom("privacy_dsr_requests")
    .selectAll()
    .where("id", "=", requestId)
    .executeTakeFirstOrThrow();
  expect(row.status).not.toBe("completed");
  expect(row.secret).toBeTruthy();
  const other = await newStore();
  await other.store.db
    .withTables<DsrTables>()
    .insertInto("privacy_dsr_requests")
    .values({ ...row, status: "running", attempts: 0, error: null, receipt: null, finished_at: null })
    .execute();
  const w = engineOver(other.store, reference);
  try {
    expect(await w.engine.resumePending()).toBe(1);
  } finally {
    await w.close();
  }
}

/** Checks an erasure's end state cell by cell against the state before it. */
function expectErasedExactly(
  map: DataMap,
  before: Record<string, Record<string, unknown>[]>,
  after: Record<string, Record<string, unknown>[]>,
  subject: Record<string, Map<string, Record<string, unknown>>>,
) {
  const collections = collectionsOf(map);
  let changedCells = 0;
  for (const [table, rowsBefore] of Object.entries(before)) {
    const address = tableAddress[table] as string;
    const c = collections.get(address) as Collection;
    const isRedis = table.startsWith("redis:");
    const hers = new Set(
      [...(subject[address]?.keys() ?? [])].map((k) => (isRedis ? k.slice(k.indexOf(":") + 1) : k)),
    );
    const b = indexRows(rowsBefore);
    const a = indexRows(after[table]);
    const mode = c?.erasure ?? "keep";
    if (mode === "delete") {
      expect([...a.keys()].sort(), `${table}: exactly her rows deleted`).toEqual(
        [...b.keys()].filter((k) => !hers.has(k)).sort(),
      );
    } else expect([...a.keys()].sort(), `${table}: no row added or removed`).toEqual([...b.keys()].sort());
    const fields = new Map((c ? allFields(c.fields) : []).map((f) => [f.name, f]));
    for (const [key, old] of b) {
      const now = a.get(key);
      if (!now) continue;
      if (!hers.has(key) || mode === "delete") {
        expect(now, `${table} ${key} (not hers) unchanged`).toEqual(old);
        continue;
      }
      for (const [col, v] of Object.entries(old)) {
        const f = fields.get(col);
        const personal = !!f && f.categories.some(isPersonalCategory);
        const where = `${table} ${key}.${col}`;
        if (!personal || f.masking?.strategy === "preserve") expect(now[col], where).toEqual(v);
        else if (v === null) expect(now[col], where).toBeNull();
        else {
          if (f.masking?.strategy === "null_rewrite") expect(now[col], where).toBeNull();
          expect(now[col], `${where} no longer holds the original`).not.toEqual(v);
          changedCells++;
        }
      }
    }
  }
  expect(changedCells).toBeGreaterThan(10);
}

interface ErasingChild {
  proc: ChildProcess;
  /** Resolves when the child has made `stopAfterWrites` writes and stopped, waiting to be killed. */
  paused: Promise<void>;
  exited: Promise<void>;
}

/** Runs an erasure in a child `node` that stops after a number of writes so the test can kill it. */
function spawnEraser(o: { storeUrl: string; shop: StoredShop; requestId: string; stopAfterWrites: number }) {
  const root = resolve(import.meta.dirname, "..");
  const script = `
import { generateKeyPairSync } from "node:crypto";
import { createConnectorRegistry } from ${JSON.stringify(`${root}/src/data/privacy/dsr/connectors/index.ts`)};
import { createDsrEngine, dsrMigrations, ed25519Signer } from ${JSON.stringify(`${root}/src/data/privacy/dsr/index.ts`)};
import { systemClock } from ${JSON.stringify(`${root}/src/platform/clock.ts`)};
import { openStore } from ${JSON.stringify(`${root}/src/platform/store/index.ts`)};
import { loadShopMap, shopVariant } from ${JSON.stringify(`${root}/test/support/privacy-shop.ts`)};
const cfg = JSON.parse(process.env.DSR_E2E_CHILD);
const store = await openStore({ url: cfg.storeUrl, migrations: dsrMigrations });
const registry = createConnectorRegistry(cfg.connections);
const map = shopVariant(loadShopMap(), cfg.redisPrefix);
let writes = 0;
const gate = async () => {
  if (++writes === cfg.stopAfterWrites) {
    process.stdout.write("PAUSED\\n");
    await new Promise(() => {});
  }
};
const wrap = (c) => ({
  type: c.type,
  find: (...a) => c.find(...a),
  findBefore: (...a) => c.findBefore(...a),
  check: (...a) => c.check(...a),
  close: () => c.close(),
  async update(col, ch) { const n = await c.update(col, ch); await gate(); return n; },
  async delete(col, rows) { const n = await c.delete(col, rows); await gate(); return n; },
});
const wrapped = new Map();
const engine = createDsrEngine({
  store,
  map: () => map,
  connectorFor: (ds) => wrapped.get(ds) ?? (wrapped.set(ds, wrap(registry.connectorFor(ds))), wrapped.get(ds)),
  clock: systemClock,
  emit: () => {},
  signer: ed25519Signer(generateKeyPairSync("ed25519").privateKey, "child"),
});
await engine.run({ id: cfg.requestId, kind: "erasure", identities: { email: cfg.email } });
process.stdout.write("FINISHED\\n");
process.exit(0);
`;
  const proc = spawn(process.execPath, ["--input-type=module", "-e", script], {
    cwd: root,
    env: {
      ...process.env,
      DSR_E2E_CHILD: JSON.stringify({
        storeUrl: o.storeUrl,
        connections: o.shop.connections,
        redisPrefix: o.shop.redisPrefix,
        requestId: o.requestId,
        email: TARGET.email,
        stopAfterWrites: o.stopAfterWrites,
      }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(proc);
  let out = "";
  let err = "";
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const paused = new Promise<void>((ok, fail) => {
    proc.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes("PAUSED")) ok();
      if (out.includes("FINISHED")) fail(new Error("the child finished before it was stopped"));
    });
    proc.stderr?.on("data", (b: Buffer) => (err += b.toString()));
    proc.once("exit", (code, signal) =>
      fail(new Error(`the child exited (${code ?? signal}) before pausing: ${err.slice(0, 2000)}`)),
    );
  });
  return { proc, paused, exited } satisfies ErasingChild;
}
