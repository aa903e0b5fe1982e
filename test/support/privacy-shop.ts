// The example shop (examples/privacy) on real stores for data-subject-request tests: a map variant
// whose one request crosses PostgreSQL (accounts, addresses, orders, sessions), MariaDB (support
// tickets) and Redis (carts); a deterministic seed of many customers around one target subject and
// a look-alike; and store-side snapshots and checksums read directly, not through the connectors.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";
import { parse, stringify } from "yaml";
import type { ConnectionConfig } from "../../src/data/privacy/dsr/types.ts";
import { loadDataMap } from "../../src/data/privacy/map/load.ts";
import type { Collection, DataMap, Dataset } from "../../src/data/privacy/map/model.ts";
import { freshDatabase } from "./pg.ts";

export const SHOP_DIR = resolve(import.meta.dirname, "../../examples/privacy");

/** The example shop map as H1 ships it. */
export const loadShopMap = (): DataMap => loadDataMap([resolve(SHOP_DIR, "shop.yaml")]);

/** Statements of a SQL file, comments dropped. */
export function sqlStatements(file: string): string[] {
  return readFileSync(resolve(SHOP_DIR, file), "utf8")
    .split("\n")
    .map((l) => l.replace(/--.*$/, ""))
    .join("\n")
    .split(";")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const mentions = (stmt: string, table: string) => new RegExp(`\\b${table}\\b`, "i").test(stmt);

/** The shop's PostgreSQL schema without support_tickets (they live in MariaDB in the variant). */
export const postgresShopDdl = (): string[] =>
  sqlStatements("shop-postgres.sql").filter((s) => !mentions(s, "support_tickets"));

/** MariaDB's support_tickets from shop-mysql.sql, without the foreign key to users (in PostgreSQL here). */
export function mysqlTicketsDdl(): string {
  const stmt = sqlStatements("shop-mysql.sql").find((s) => /create table support_tickets\b/i.test(s));
  if (!stmt) throw new Error("shop-mysql.sql has no support_tickets table");
  return stmt
    .split("\n")
    .filter((l) => !/\bCONSTRAINT\b.*\bFOREIGN KEY\b/i.test(l))
    .join("\n")
    .replace(/,(\s*\)\s*ENGINE)/i, "$1");
}

export const SUPPORT = "support";
const rename = (address: string) =>
  address === "shop.support_tickets" ? `${SUPPORT}.support_tickets` : address;

/**
 * The three-store variant of the shop map: support tickets move to a `support` dataset (MariaDB),
 * carts keep Redis under `redisPrefix`, the MongoDB and Elasticsearch datasets are left out.
 */
export function shopVariant(base: DataMap, redisPrefix: string): DataMap {
  const map = structuredClone(base);
  const shop = map.datasets.find((d) => d.key === "shop");
  const cache = map.datasets.find((d) => d.key === "shop_cache");
  if (!shop || !cache) throw new Error("the shop map lost its shop or shop_cache dataset");
  const tickets = shop.collections.find((c) => c.name === "support_tickets");
  if (!tickets) throw new Error("the shop map has no support_tickets collection");
  shop.collections = shop.collections.filter((c) => c !== tickets);
  const support: Dataset = {
    key: SUPPORT,
    name: "Support desk (MariaDB)",
    collections: [{ ...tickets, dataset: SUPPORT }],
  };
  map.datasets = [shop, support, cache];
  for (const d of map.datasets)
    for (const c of d.collections) {
      c.after = c.after.map(rename);
      c.eraseAfter = c.eraseAfter.map(rename);
      for (const f of walk(c.fields))
        for (const r of f.references)
          if (r.dataset === "shop" && r.collection === "support_tickets") r.dataset = SUPPORT;
    }
  const carts = cache.collections.find((c) => c.name === "carts");
  if (carts?.store?.kind !== "redis") throw new Error("the shop map's carts are not a Redis collection");
  carts.store = { ...carts.store, key: `${redisPrefix}:${carts.store.key}` };
  const kept = new Set(map.datasets.map((d) => d.key));
  map.systems = map.systems.map((s) => ({ ...s, datasets: s.datasets.filter((k) => kept.has(k)) }));
  map.retention = map.retention.filter((r) => kept.has(r.timestampField.split(".")[0] ?? ""));
  return map;
}

function walk(fields: Collection["fields"]): Collection["fields"] {
  return fields.flatMap((f) => [f, ...walk(f.fields)]);
}

// ---- deterministic shop data -------------------------------------------------------------------

type Row = Record<string, string | number | boolean | null>;

export interface ShopData {
  users: Row[];
  addresses: Row[];
  orders: Row[];
  order_items: Row[];
  support_tickets: Row[];
  sessions: Row[];
  carts: { user_id: number; fields: Record<string, string> }[];
}

export interface TargetSubject {
  id: number;
  email: string;
  phone: string;
  firstName: string;
  lastName: string;
  /** A second address the target wrote to support from (found through user_id, not email). */
  workEmail: string;
  /** The customer with the same name (and a near-identical email), whose rows must stay untouched. */
  lookalikeId: number;
}

/** Where the seed puts the subject whose requests the tests run. */
export const TARGET: TargetSubject = {
  id: 77,
  email: "ana.ferreira@example.com",
  phone: "+91 98450 00077",
  firstName: "Ana",
  lastName: "Ferreira",
  workEmail: "ana.f@work.example",
  lookalikeId: 78,
};

/** mulberry32: a small seeded PRNG, so two seeds of the same size are identical copies. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = [
  "Ana",
  "Ravi",
  "Priya",
  "Lukas",
  "Mei",
  "Omar",
  "Sara",
  "Tomás",
  "Aisha",
  "Jonas",
  "Nia",
  "Arjun",
];
const LAST = ["Ferreira", "Sharma", "Müller", "Chen", "Haddad", "Okafor", "Novak", "Iyer", "Rossi", "Kim"];
const CITIES = [
  ["Bengaluru", "KA", "IN"],
  ["Mumbai", "MH", "IN"],
  ["Berlin", "BE", "DE"],
  ["Lisbon", "11", "PT"],
  ["Dublin", "D", "IE"],
] as const;
const BASE = Date.parse("2025-01-01T00:00:00.000Z");

/** Timestamps as MariaDB DATETIME(3) and PostgreSQL both accept them (UTC, no zone suffix for MariaDB). */
const at = (minutes: number) => new Date(BASE + minutes * 60_000).toISOString();
export const mysqlTime = (iso: string) => iso.replace("T", " ").replace("Z", "");

/** `users` customers (ids 1..users) with addresses, orders, items, tickets, sessions and carts. */
export function shopData(users: number, seed = 1): ShopData {
  if (users < TARGET.lookalikeId) throw new Error(`seed at least ${TARGET.lookalikeId} users`);
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const d: ShopData = {
    users: [],
    addresses: [],
    orders: [],
    order_items: [],
    support_tickets: [],
    sessions: [],
    carts: [],
  };
  const ids = { address: 0, order: 0, item: 0, ticket: 0 };
  for (let id = 1; id <= users; id++) {
    const target = id === TARGET.id;
    const lookalike = id === TARGET.lookalikeId;
    const first = target || lookalike ? TARGET.firstName : pick(FIRST);
    const last = target || lookalike ? TARGET.lastName : pick(LAST);
    const email = target
      ? TARGET.email
      : lookalike
        ? "ana.ferreira@example.net"
        : `${first}.${last}.${id}@example.com`.toLowerCase();
    const created = int(0, 200_000);
    d.users.push({
      id,
      email,
      phone: target ? TARGET.phone : `+91 98450 ${String(10_000 + id).padStart(5, "0")}`,
      first_name: first,
      last_name: last,
      password_hash: `$argon2id$v=19$m=65536,t=3,p=4$${createHash("sha256").update(`pw${id}`).digest("base64")}`,
      date_of_birth: `${int(1950, 2005)}-${String(int(1, 12)).padStart(2, "0")}-${String(int(1, 28)).padStart(2, "0")}`,
      marketing_opt_in: r() < 0.4,
      created_at: at(created),
      last_active_at: at(created + int(0, 100_000)),
    });
    const addressIds: number[] = [];
    for (let i = 0, n = target ? 2 : int(1, 2); i < n; i++) {
      const [city, state, country] = pick(CITIES);
      const aid = ++ids.address;
      addressIds.push(aid);
      d.addresses.push({
        id: aid,
        user_id: id,
        line1: `${int(1, 999)} ${pick(["MG Road", "Hauptstraße", "Rua Augusta", "Church St", "Linking Rd"])}`,
        line2: r() < 0.3 ? `Flat ${int(1, 40)}` : null,
        city,
        state,
        postal_code: String(int(10_000, 999_999)),
        country,
        created_at: at(created + i),
      });
    }
    for (let i = 0, n = target ? 3 : int(0, 4); i < n; i++) {
      const oid = ++ids.order;
      let total = 0;
      for (let j = 0, m = int(1, 3); j < m; j++) {
        const qty = int(1, 4);
        const price = int(199, 9_999);
        total += qty * price;
        d.order_items.push({
          id: ++ids.item,
          order_id: oid,
          product_sku: `SKU-${int(1000, 9999)}`,
          quantity: qty,
          unit_price_cents: price,
        });
      }
      d.orders.push({
        id: oid,
        user_id: id,
        shipping_address_id: target ? (addressIds[i === 0 ? 0 : 1] as number) : pick(addressIds),
        status: pick(["placed", "shipped", "delivered"]),
        total_cents: total,
        currency: "INR",
        placed_at: at(created + 100 + i * 1000),
      });
    }
    const ticket = (user: number | null, from: string, subject: string, body: string) =>
      d.support_tickets.push({
        id: ++ids.ticket,
        user_id: user,
        email: from,
        subject,
        body,
        status: pick(["open", "closed"]),
        created_at: at(created + 50),
        closed_at: r() < 0.5 ? at(created + 500) : null,
      });
    if (target) {
      ticket(
        id,
        TARGET.email,
        "Where is my order?",
        `Hi, this is ${first} ${last}, call me on ${TARGET.phone}.`,
      );
      ticket(id, TARGET.workEmail, "Invoice for my company", "Please send the invoice to my work address.");
      // Written before she had an account: found by the email identity, not by user_id.
      ticket(null, TARGET.email, "Do you ship to Lisbon?", "Asking before I sign up.");
    } else {
      for (let i = 0, n = int(0, 2); i < n; i++)
        ticket(id, email, pick(["Refund", "Damaged parcel", "Wrong size"]), `Order issue from ${first}.`);
    }
    if (lookalike)
      // Same name, and it even mentions the target's address in the text: still not hers.
      ticket(
        null,
        "ana.ferreira@example.org",
        "Account help",
        `Is ${TARGET.email} my account? I am ${first} ${last}.`,
      );
    for (let i = 0, n = target ? 3 : int(0, 3); i < n; i++)
      d.sessions.push({
        id: createHash("sha256").update(`${seed}:session:${id}:${i}`).digest("hex"),
        user_id: id,
        ip_address: `10.${id % 250}.${i}.${int(1, 254)}`,
        user_agent: pick(["Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (iPhone)", "curl/8.5.0"]),
        created_at: at(created + 10 + i),
        expires_at: at(created + 10 + i + 60 * 24 * 30),
      });
    if (target || r() < 0.5)
      d.carts.push({
        user_id: id,
        fields: {
          items: JSON.stringify([{ sku: `SKU-${int(1000, 9999)}`, qty: int(1, 3) }]),
          updated_at: at(created + 300),
          // Not in the map: deleting the cart removes it with the key; masking would have left it.
          coupon: r() < 0.3 ? "WELCOME10" : "",
        },
      });
  }
  return d;
}

// ---- the shop on real stores -------------------------------------------------------------------

export const PG_TABLES = ["users", "addresses", "orders", "order_items", "sessions"] as const;
/** Primary key of each table (all single-column). */
const ORDER_BY = "id";

export interface ShopServers {
  /** PostgreSQL server URL; a fresh database is created on it. */
  pg: string;
  /** MariaDB/MySQL URL of an account that may create databases. */
  mysql: string;
  redis: string;
}

export interface StoredShop {
  /** Dataset key → connection, ready for createConnectorRegistry. */
  connections: Record<string, ConnectionConfig>;
  map: DataMap;
  redisPrefix: string;
  pgUrl: string;
  mysqlUrl: string;
  pg: pg.Pool;
  my: mysql.Pool;
  redis: Redis;
  /** Every row of every store, by table ("redis:carts" for the carts), ordered by key. */
  snapshot(): Promise<Record<string, Record<string, unknown>[]>>;
  /** Row count and a digest of every table and key family, computed by the stores themselves where they can. */
  checksums(): Promise<Record<string, { rows: number; digest: string }>>;
  drop(): Promise<void>;
}

const insertPg = async (pool: pg.Pool, table: string, rows: Row[]) => {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0] as Row);
  // One jsonb array per batch, expanded server-side: fast and immune to the 65535-parameter cap.
  for (let i = 0; i < rows.length; i += 5000) {
    const batch = rows.slice(i, i + 5000);
    await pool.query(
      `insert into ${table} (${cols.join(", ")}) select ${cols.join(", ")} from jsonb_populate_recordset(null::${table}, $1::jsonb)`,
      [JSON.stringify(batch)],
    );
  }
};

const insertMysql = async (pool: mysql.Pool, table: string, rows: Row[], times: readonly string[]) => {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0] as Row);
  const values = rows.map((row) =>
    cols.map((c) => {
      const v = row[c] ?? null;
      return times.includes(c) && typeof v === "string" ? mysqlTime(v) : v;
    }),
  );
  for (let i = 0; i < values.length; i += 2000)
    await pool.query(`INSERT INTO ${table} (${cols.join(", ")}) VALUES ?`, [values.slice(i, i + 2000)]);
};

/** JSON-comparable form of a driver value. */
const plain = (v: unknown): unknown =>
  v instanceof Date
    ? v.toISOString()
    : Buffer.isBuffer(v)
      ? v.toString("hex")
      : typeof v === "bigint"
        ? String(v)
        : v;

/** Creates the shop on fresh stores (a PostgreSQL database, a MariaDB database, a Redis key prefix) and seeds `data`. */
export async function storeShop(servers: ShopServers, data: ShopData, tag = "shop"): Promise<StoredShop> {
  const suffix = randomBytes(4).toString("hex");
  const redisPrefix = `${tag}_${suffix}`;
  const pgDb = await freshDatabase(servers.pg);
  const myName = `${tag}_${suffix}`;
  const admin = await mysql.createConnection({ uri: servers.mysql });
  await admin.query(`CREATE DATABASE \`${myName}\` CHARACTER SET utf8mb4`);
  await admin.end();
  const myUrl = new URL(servers.mysql);
  myUrl.pathname = `/${myName}`;
  const mysqlUrl = myUrl.toString();

  const pool = new pg.Pool({ connectionString: pgDb.url, max: 4 });
  // Read as the connector reads: UTC dates, big integers as strings.
  const my = mysql.createPool({
    uri: mysqlUrl,
    connectionLimit: 2,
    timezone: "Z",
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  const redis = new Redis(servers.redis);
  const drop = async () => {
    await pool.end().catch(() => {});
    await my.end().catch(() => {});
    for (let cursor = "0"; ;) {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${redisPrefix}:*`, "COUNT", 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
      if (cursor === "0") break;
    }
    redis.disconnect();
    const a = await mysql.createConnection({ uri: servers.mysql });
    await a.query(`DROP DATABASE IF EXISTS \`${myName}\``);
    await a.end();
    await pgDb.drop();
  };
  try {
    for (const s of postgresShopDdl()) await pool.query(s);
    await my.query(mysqlTicketsDdl());
    for (const t of PG_TABLES) await insertPg(pool, t, data[t]);
    await insertMysql(my, "support_tickets", data.support_tickets, ["created_at", "closed_at"]);
    const pipe = redis.pipeline();
    for (const c of data.carts) pipe.hset(`${redisPrefix}:cart:${c.user_id}`, c.fields);
    // A key of another family under the same prefix, which no request may touch.
    pipe.set(`${redisPrefix}:cart-stats`, String(data.carts.length));
    await pipe.exec();
  } catch (err) {
    await drop();
    throw err;
  }

  const map = shopVariant(loadShopMap(), redisPrefix);
  const redisKeys = async () => {
    const keys: string[] = [];
    for (let cursor = "0"; ;) {
      const [next, batch] = await redis.scan(cursor, "MATCH", `${redisPrefix}:*`, "COUNT", 1000);
      keys.push(...batch);
      cursor = next;
      if (cursor === "0") break;
    }
    return keys.sort();
  };
  const redisRows = async () => {
    const out: Record<string, unknown>[] = [];
    for (const key of await redisKeys()) {
      const type = await redis.type(key);
      const value =
        type === "hash"
          ? Object.fromEntries(Object.entries(await redis.hgetall(key)).sort(([a], [b]) => (a < b ? -1 : 1)))
          : await redis.get(key);
      // Keys without the per-copy prefix, so two copies compare equal.
      out.push({ key: key.slice(redisPrefix.length + 1), type, value });
    }
    return out;
  };

  return {
    connections: {
      shop_pg: { type: "postgres", url: pgDb.url, datasets: ["shop"] },
      support_mariadb: { type: "mysql", url: mysqlUrl, datasets: [SUPPORT] },
      cache_redis: { type: "redis", url: servers.redis, datasets: ["shop_cache"] },
    },
    map,
    redisPrefix,
    pgUrl: pgDb.url,
    mysqlUrl,
    pg: pool,
    my,
    redis,
    async snapshot() {
      const out: Record<string, Record<string, unknown>[]> = {};
      for (const t of PG_TABLES)
        out[t] = (await pool.query(`select to_jsonb(t) as r from ${t} t order by ${ORDER_BY}`)).rows.map(
          (x: { r: Record<string, unknown> }) => x.r,
        );
      const [tickets] = await my.query(`SELECT * FROM support_tickets ORDER BY ${ORDER_BY}`);
      out.support_tickets = (tickets as Record<string, unknown>[]).map((row) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)])),
      );
      out["redis:carts"] = await redisRows();
      return out;
    },
    async checksums() {
      const out: Record<string, { rows: number; digest: string }> = {};
      for (const t of PG_TABLES) {
        const { rows } = await pool.query<{ n: string; digest: string }>(
          `select count(*) as n, md5(coalesce(string_agg(t::text, E'\\n' order by ${ORDER_BY}), '')) as digest from ${t} t`,
        );
        out[t] = { rows: Number(rows[0]?.n), digest: rows[0]?.digest ?? "" };
      }
      const conn = await my.getConnection();
      try {
        await conn.query("SET SESSION group_concat_max_len = 1073741824");
        const [cols] = await conn.query(
          "SELECT column_name AS c FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'support_tickets' ORDER BY ordinal_position",
        );
        const list = (cols as { c: string }[]).map((x) => `QUOTE(\`${x.c}\`)`).join(", ");
        const [rows] = await conn.query(
          `SELECT COUNT(*) AS n, COALESCE(SHA2(GROUP_CONCAT(CONCAT_WS('|', ${list}) ORDER BY id SEPARATOR '\\n'), 256), '') AS digest FROM support_tickets`,
        );
        const row = (rows as { n: number; digest: string }[])[0];
        out.support_tickets = { rows: Number(row?.n), digest: row?.digest ?? "" };
      } finally {
        conn.release();
      }
      const carts = await redisRows();
      out["redis:carts"] = {
        rows: carts.length,
        digest: createHash("sha256").update(JSON.stringify(carts)).digest("hex"),
      };
      return out;
    },
    drop,
  };
}

/** The example shop's map with only its PostgreSQL dataset (the other stores are not here). */
export function postgresShopMap(): string {
  const doc = parse(readFileSync(resolve(SHOP_DIR, "shop.yaml"), "utf8")) as {
    dataset: { fides_key: string }[];
    system: { datasets: string[] }[];
    retention: { timestamp_field: string }[];
  };
  doc.dataset = doc.dataset.filter((d) => d.fides_key === "shop");
  doc.system = doc.system
    .map((s) => ({ ...s, datasets: s.datasets.filter((k) => k === "shop") }))
    .filter((s) => s.datasets.length > 0);
  doc.retention = doc.retention.filter((r) => r.timestamp_field.startsWith("shop."));
  return stringify(doc);
}

/** The shop's PostgreSQL schema with one customer (the seed's target) and everything of hers. */
export async function seedOneCustomer(db: pg.Client): Promise<void> {
  for (const s of sqlStatements("shop-postgres.sql")) await db.query(s);
  const all = shopData(TARGET.lookalikeId);
  const orders = all.orders.filter((o) => o.user_id === TARGET.id);
  const orderIds = new Set(orders.map((o) => o.id));
  const tables: [string, Record<string, unknown>[]][] = [
    ["users", all.users.filter((u) => u.id === TARGET.id)],
    ["addresses", all.addresses.filter((a) => a.user_id === TARGET.id)],
    ["orders", orders],
    ["order_items", all.order_items.filter((i) => orderIds.has(i.order_id))],
    [
      "support_tickets",
      all.support_tickets.filter((t) => t.user_id === TARGET.id || t.email === TARGET.email),
    ],
    ["sessions", all.sessions.filter((s) => s.user_id === TARGET.id)],
  ];
  for (const [table, rows] of tables)
    await db.query(`insert into ${table} select * from jsonb_populate_recordset(null::${table}, $1::jsonb)`, [
      JSON.stringify(rows),
    ]);
}
