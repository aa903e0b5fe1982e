// Store-specific behaviour of the DSR connectors beyond the shared conformance cases: Redis key
// templates (SCAN, string/JSON values, TTL kept, identity in the key), MongoDB cursors and ids,
// Elasticsearch optimistic concurrency and result limits.
import { randomBytes } from "node:crypto";
import { Client as EsClient } from "@elastic/elasticsearch";
import { Redis } from "ioredis";
import { BSON, MongoClient } from "mongodb";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  connectionConfigSchema,
  postgresConnector,
  dsrConnectionsConfigSchema,
  elasticsearchConnector,
  mongodbConnector,
  redisConnector,
} from "../src/data/privacy/dsr/connectors/index.ts";
import type { Collection, CollectionStore, Field } from "../src/data/privacy/map/model.ts";
import { Invalid } from "../src/platform/errors.ts";
import { type EsDouble, startEsDouble } from "./support/es-server.ts";
import { type MongoWireDouble, startMongoWire } from "./support/mongo-wire.ts";
import { freshDatabase } from "./support/pg.ts";

const field = (name: string, opts: Partial<Field> = {}): Field => ({
  name,
  path: name,
  categories: [],
  primaryKey: false,
  references: [],
  fields: [],
  ...opts,
});

const coll = (name: string, store: CollectionStore, fields: Field[]): Collection => ({
  dataset: "app",
  name,
  fields,
  after: [],
  eraseAfter: [],
  erasure: "mask",
  store,
});

describe("redis key families", () => {
  const prefix = `h3_${randomBytes(5).toString("hex")}`;
  let raw: Redis;
  const connector = () => redisConnector({ url: inject("redisUrl") });
  let c: ReturnType<typeof redisConnector>;

  beforeAll(async () => {
    raw = new Redis(inject("redisUrl"));
    c = connector();
  });
  afterAll(async () => {
    await c.close();
    const keys = await raw.keys(`${prefix}:*`); // test cleanup of a private prefix
    if (keys.length) await raw.del(...keys);
    raw.disconnect();
  });

  it("finds a subject's keys with SCAN for a wildcard template, exact values only", async () => {
    const sessions = coll("sessions", { kind: "redis", key: `${prefix}:session:{user_id}:*`, type: "hash" }, [
      field("user_id", { identity: "user_id" }),
      field("ip", { categories: ["user.device.ip_address"] }),
      field("seen_at"),
    ]);
    await raw.hset(`${prefix}:session:u1:a`, { ip: "10.0.0.1", seen_at: "2020-01-01T00:00:00Z", other: "x" });
    await raw.hset(`${prefix}:session:u1:b`, { ip: "10.0.0.2", seen_at: "2025-01-01T00:00:00Z" });
    await raw.hset(`${prefix}:session:u10:a`, { ip: "10.0.0.3", seen_at: "2019-01-01T00:00:00Z" });
    await raw.hset(`${prefix}:session:u*:a`, { ip: "10.0.0.4", seen_at: "2018-01-01T00:00:00Z" });
    await raw.set(`${prefix}:session:u1:zz`, "not a hash"); // WRONGTYPE is skipped, not fatal

    const rows = await c.find(sessions, "user_id", ["u1"]);
    expect(rows.map((r) => r.id).sort()).toEqual([`${prefix}:session:u1:a`, `${prefix}:session:u1:b`]);
    const a = rows.find((r) => r.id.endsWith(":a"));
    // the placeholder's value comes from the key; unmapped hash fields are left out
    expect(a?.values).toEqual({ user_id: "u1", ip: "10.0.0.1", seen_at: "2020-01-01T00:00:00Z" });

    // a glob character in a value is a literal, not a pattern
    const star = await c.find(sessions, "user_id", ["u*"]);
    expect(star.map((r) => r.id)).toEqual([`${prefix}:session:u*:a`]);

    // findBefore scans the family: oldest first
    const old = await c.findBefore(sessions, "seen_at", new Date("2024-01-01T00:00:00Z"), 10);
    expect(old.map((r) => r.values.user_id)).toEqual(["u*", "u10", "u1"]);
    expect(
      (await c.findBefore(sessions, "seen_at", new Date("2024-01-01T00:00:00Z"), 1)).map((r) => r.id),
    ).toEqual([`${prefix}:session:u*:a`]);

    // refusing a non-key field: Redis families are found by their key only
    await expect(c.find(sessions, "ip", ["10.0.0.1"])).rejects.toBeInstanceOf(Invalid);
  });

  it("masks string and JSON values keeping the TTL, and renames a key that holds the identity", async () => {
    const carts = coll("carts", { kind: "redis", key: `${prefix}:cart:{email}`, type: "json" }, [
      field("email", { identity: "email" }),
      field("items"),
      field("name"),
    ]);
    await raw.set(
      `${prefix}:cart:ana@example.com`,
      JSON.stringify({ name: "Ana", items: [1, 2], note: "kept" }),
      "EX",
      3600,
    );
    const [row] = await c.find(carts, "email", ["ana@example.com"]);
    expect(row?.values).toEqual({ email: "ana@example.com", name: "Ana", items: [1, 2] });
    if (!row) throw new Error("cart missing");
    expect(await c.update(carts, [{ row, set: { name: "MASKED" } }])).toBe(1);
    expect(await c.update(carts, [{ row, set: { name: "MASKED" } }])).toBe(0);
    const doc = JSON.parse((await raw.get(row.id)) ?? "{}") as Record<string, unknown>;
    expect(doc).toEqual({ name: "MASKED", items: [1, 2], note: "kept" });
    expect(await raw.ttl(row.id)).toBeGreaterThan(3500);

    // masking the identity held in the key renames the key (RENAMENX keeps the TTL)
    expect(await c.update(carts, [{ row, set: { email: "h:1f2e" } }])).toBe(1);
    expect(await raw.exists(row.id)).toBe(0);
    expect(await raw.ttl(`${prefix}:cart:h:1f2e`)).toBeGreaterThan(3500);
    expect(await c.find(carts, "email", ["ana@example.com"])).toEqual([]);

    const tokens = coll("tokens", { kind: "redis", key: `${prefix}:token:{user_id}`, type: "string" }, [
      field("user_id", { identity: "user_id" }),
      field("value"),
    ]);
    await raw.set(`${prefix}:token:u7`, "secret-token", "PX", 600_000);
    const [t] = await c.find(tokens, "user_id", ["u7"]);
    expect(t?.values).toEqual({ user_id: "u7", value: "secret-token" });
    if (!t) throw new Error("token missing");
    expect(await c.update(tokens, [{ row: t, set: { value: "***" } }])).toBe(1);
    expect(await raw.get(t.id)).toBe("***");
    expect(await raw.pttl(t.id)).toBeGreaterThan(500_000);
    // an update never recreates a key that expired or was deleted meanwhile
    await raw.del(t.id);
    expect(await c.update(tokens, [{ row: t, set: { value: "again" } }])).toBe(0);
    expect(await raw.exists(t.id)).toBe(0);
  });

  it("refuses row ids that are not keys of the collection's family", async () => {
    await raw.set(`${prefix}:unrelated`, "keep me");
    const tokens = coll("tokens", { kind: "redis", key: `${prefix}:token:{user_id}`, type: "string" }, [
      field("user_id", { identity: "user_id" }),
    ]);
    const forged = { id: `${prefix}:unrelated`, values: {} };
    await expect(c.delete(tokens, [forged])).rejects.toBeInstanceOf(Invalid);
    await expect(c.update(tokens, [{ row: forged, set: { value: "x" } }])).rejects.toBeInstanceOf(Invalid);
    expect(await raw.get(`${prefix}:unrelated`)).toBe("keep me");
  });

  it("hash updates touch only changed fields; null removes a field", async () => {
    const profiles = coll("profiles", { kind: "redis", key: `${prefix}:profile:{id}`, type: "hash" }, [
      field("id", { identity: "user_id" }),
      field("phone"),
      field("name"),
    ]);
    await raw.hset(`${prefix}:profile:9`, { phone: "+91 98", name: "Ravi" });
    const [row] = await c.find(profiles, "id", [9]);
    if (!row) throw new Error("profile missing");
    expect(await c.update(profiles, [{ row, set: { phone: null, name: "Ravi" } }])).toBe(1);
    expect(await raw.hgetall(row.id)).toEqual({ name: "Ravi" });
    expect(await c.update(profiles, [{ row, set: { phone: null } }])).toBe(0);
    expect(await c.delete(profiles, [row])).toBe(1);
    expect(await c.delete(profiles, [row])).toBe(0);
  });
});

describe("postgres statement errors", () => {
  it("never quote the value that failed (values are personal data)", async () => {
    const db = await freshDatabase(inject("pgUrl"));
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query("create table accounts (id integer primary key, email text)");
    await admin.end();
    const c = postgresConnector({ url: db.url });
    try {
      const accounts = coll("accounts", { kind: "sql", table: "accounts" }, [
        field("id", { primaryKey: true, identity: "account_id" }),
        field("email"),
      ]);
      const err = await c.find(accounts, "id", ["ana@example.com"]).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(/postgres store at .* failed \(app\.accounts\) \[22P02\]/);
      expect(err?.message).not.toContain("ana@example.com");
    } finally {
      await c.close();
      await db.drop();
    }
  });
});

describe("mongodb over the wire double", () => {
  let server: MongoWireDouble;
  let raw: MongoClient;
  const db = `h3_${randomBytes(5).toString("hex")}`;
  beforeAll(async () => {
    server = await startMongoWire();
    raw = new MongoClient(server.url(db));
  });
  afterAll(async () => {
    await raw.close();
    await server.stop();
  });

  it("pages through cursors (getMore), keeps _id as extended JSON, and $sets dotted paths", async () => {
    const events = raw.db(db).collection("events");
    await events.insertMany(
      Array.from({ length: 250 }, (_, i) => ({
        _id: new BSON.ObjectId(),
        user: { id: i % 2 ? "odd" : "even" },
        n: i,
      })),
    );
    const c = mongodbConnector({ url: server.url(db) });
    const events2 = coll("events", { kind: "mongodb", collection: "events" }, [
      field("user", { fields: [field("id", { path: "user.id" })] }),
      field("n"),
    ]);
    const rows = await c.find(events2, "user.id", ["odd"]);
    expect(rows).toHaveLength(125);
    expect(server.commands).toContain("getMore");
    const first = rows[0];
    if (!first) throw new Error("no rows");
    expect(JSON.parse(first.id)).toHaveProperty("$oid");
    expect(await c.update(events2, [{ row: first, set: { user: { id: "masked" } } }])).toBe(1);
    expect(await c.update(events2, [{ row: first, set: { user: { id: "masked" } } }])).toBe(0);
    const back = await events.findOne({ _id: BSON.EJSON.parse(first.id) as BSON.ObjectId });
    expect(back?.user).toEqual({ id: "masked" });
    expect(await c.delete(events2, rows)).toBe(125);
    expect(await events.find({}).toArray()).toHaveLength(125);
    await c.close();
  });
});

describe("elasticsearch over the HTTP double", () => {
  let es: EsDouble;
  beforeAll(async () => {
    es = await startEsDouble();
  });
  afterAll(async () => {
    await es.stop();
  });

  it("re-reads and retries once when another writer updated the document (409)", async () => {
    const raw = new EsClient({ node: es.url });
    await raw.index({
      index: "people",
      id: "p1",
      document: { email: "ana@example.com", name: "Ana" },
      refresh: true,
    });
    const people = coll("people", { kind: "elasticsearch", index: "people" }, [
      field("email"),
      field("name"),
    ]);
    const c = elasticsearchConnector({ url: es.url });
    const [row] = await c.find(people, "email", ["ana@example.com"]);
    if (!row) throw new Error("doc missing");
    es.conflictOnce("people", "p1");
    expect(await c.update(people, [{ row, set: { name: "MASKED" } }])).toBe(1);
    expect(es.requests.filter((r) => r === "POST /people/_update/p1")).toHaveLength(2);
    expect(es.requests).toContain("GET /people/_doc/p1");
    expect(es.requests.some((r) => /^(GET|POST) \/people\/_refresh$/.test(r))).toBe(true);
    expect((await raw.get({ index: "people", id: "p1" }))._source).toEqual({
      email: "ana@example.com",
      name: "MASKED",
    });
    await c.close();
    await raw.close();
  });

  it("refuses to act on a silent subset when matches exceed maxHits", async () => {
    const raw = new EsClient({ node: es.url });
    await raw.bulk({
      refresh: true,
      operations: Array.from({ length: 5 }, (_, i) => [
        { index: { _index: "logs", _id: `l${i}` } },
        { user: "u1", i },
      ]).flat(),
    });
    const logs = coll("logs", { kind: "elasticsearch", index: "logs" }, [field("user"), field("i")]);
    const small = elasticsearchConnector({ url: es.url, options: { maxHits: "3" } });
    await expect(small.find(logs, "user", ["u1"])).rejects.toThrow(/more than 3 matching documents/);
    const big = elasticsearchConnector({ url: es.url });
    expect(await big.find(logs, "user", ["u1"])).toHaveLength(5);
    await small.close();
    await big.close();
    await raw.close();
  });
});

describe("privacy.connections config", () => {
  it("accepts a connection per store type and checks the URL scheme without echoing the URL", () => {
    const ok = dsrConnectionsConfigSchema.parse({
      app: { type: "postgres", url: "postgres://u:p@db/app", datasets: ["crm"] },
      search: { type: "elasticsearch", url: "https://es:9200", datasets: ["logs"], options: { apiKey: "k" } },
    });
    expect(Object.keys(ok)).toEqual(["app", "search"]);
    expect(dsrConnectionsConfigSchema.parse(undefined)).toEqual({});
    const bad = connectionConfigSchema.safeParse({
      type: "mysql",
      url: "postgres://u:hunter2@db/x",
      datasets: ["a"],
    });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).not.toContain("hunter2");
    const twice = dsrConnectionsConfigSchema.safeParse({
      a: { type: "redis", url: "redis://r", datasets: ["crm"] },
      b: { type: "redis", url: "redis://r2", datasets: ["crm"] },
    });
    expect(twice.success).toBe(false);
    expect(JSON.stringify(twice.error?.issues)).toContain(
      "dataset 'crm' is already served by connection 'a'",
    );
  });
});
