// The DSR connector conformance suite: the same cases against every store type — real
// PostgreSQL, MariaDB and Redis, the MongoDB wire double and the Elasticsearch HTTP double
// (plus real MongoDB / Elasticsearch when MONGODB_URL / ELASTICSEARCH_URL are set).
import { randomBytes } from "node:crypto";
import { Client as EsClient } from "@elastic/elasticsearch";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createConnectorRegistry, openConnector } from "../src/data/privacy/dsr/connectors/index.ts";
import type { ConnectionConfig, Connector, FoundRow, StoreType } from "../src/data/privacy/dsr/types.ts";
import type { Collection, CollectionStore, Field } from "../src/data/privacy/map/model.ts";
import { Invalid, Unavailable } from "../src/platform/errors.ts";
import { startEsDouble } from "./support/es-server.ts";
import { startMariadb } from "./support/mariadb.ts";
import { startMongoWire } from "./support/mongo-wire.ts";
import { freshDatabase } from "./support/pg.ts";
import { freePort, type RunningService } from "./support/services.ts";

const HOSTILE = "' OR 1=1; DROP TABLE customers; --";
const PASSWORD = "s3cret-Pw-h3";

export function field(name: string, opts: Partial<Field> = {}): Field {
  return { name, path: name, categories: [], primaryKey: false, references: [], fields: [], ...opts };
}

function customers(store: CollectionStore | undefined, extra: Field[] = []): Collection {
  return {
    dataset: "crm",
    name: "customers",
    fields: [
      field("id", { primaryKey: true, dataType: "integer", categories: ["system.operations"] }),
      field("email", { identity: "email", categories: ["user.contact.email"] }),
      field("name", { categories: ["user.name"] }),
      field("tags", { dataType: "string[]", categories: ["user.behavior"] }),
      field("last_seen", { categories: ["system.operations"] }),
      field("address", {
        dataType: "object",
        fields: [field("city", { path: "address.city", categories: ["user.contact.address.city"] })],
      }),
      ...extra,
    ],
    after: [],
    eraseAfter: [],
    erasure: "mask",
    ...(store ? { store } : {}),
  };
}

interface Seed {
  id: number;
  email: string;
  name: string;
  tags: string[];
  last_seen: Date;
  address: { city: string };
}

const seeds: Seed[] = [
  {
    id: 1,
    email: "ana@example.com",
    name: "Ana",
    tags: ["vip", "eu"],
    last_seen: new Date("2020-01-01T00:00:00Z"),
    address: { city: "Pune" },
  },
  {
    id: 2,
    email: "bo@example.com",
    name: "Bo",
    tags: ["eu"],
    last_seen: new Date("2024-06-01T00:00:00Z"),
    address: { city: "Lyon" },
  },
  {
    id: 3,
    email: HOSTILE,
    name: "Eve",
    tags: [],
    last_seen: new Date("2019-05-01T00:00:00Z"),
    address: { city: "Pune" },
  },
];

/** One store under test: a connector over seeded data, and what the store can express. */
interface Harness {
  connector: Connector;
  collection: Collection;
  /** A collection whose table/collection/index does not exist. */
  missing: Collection;
  /** A collection mapping a column/field the store does not have. */
  unmappedField: Collection;
  /** A collection whose map holds a hostile identifier (quoted into a missing name, or refused). */
  hostile: Collection;
  /** Connection config for a store that is down, with PASSWORD in it. */
  down: ConnectionConfig;
  arrays: boolean;
  nested: boolean;
  cleanup(): Promise<void>;
}

interface Target {
  name: string;
  type: StoreType;
  start(): Promise<Harness>;
}

const unique = () => `h3_${randomBytes(5).toString("hex")}`;
const closedPort = () => freePort();

const postgres: Target = {
  name: "postgres (real)",
  type: "postgres",
  async start() {
    const db = await freshDatabase(inject("pgUrl"));
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`create schema crm;
      create table crm.customers (id integer primary key, email text, name text, tags text[],
        last_seen timestamptz, address jsonb, "odd""; col" text)`);
    for (const s of seeds)
      await admin.query(`insert into crm.customers values ($1, $2, $3, $4, $5, $6, $7)`, [
        s.id,
        s.email,
        s.name,
        s.tags,
        s.last_seen,
        JSON.stringify(s.address),
        `x${s.id}`,
      ]);
    await admin.end();
    const connector = await openConnector({ type: "postgres", url: db.url, datasets: ["crm"] });
    const url = new URL(db.url);
    url.password = PASSWORD;
    url.port = String(await closedPort());
    return {
      connector,
      collection: customers({ kind: "sql", table: "crm.customers" }, [field('odd"; col')]),
      missing: customers({ kind: "sql", table: "crm.nope" }),
      unmappedField: customers({ kind: "sql", table: "crm.customers" }, [
        field('ghost"; drop table crm.customers; --'),
      ]),
      hostile: customers({ kind: "sql", table: 'crm.customers"; drop table crm.customers; --' }),
      down: {
        type: "postgres",
        url: url.toString(),
        datasets: ["crm"],
        options: { connectTimeoutMs: "2000" },
      },
      arrays: true,
      nested: true,
      async cleanup() {
        await connector.close();
        await db.drop();
      },
    };
  },
};

let mariadb: RunningService | undefined;
const mysqlTarget: Target = {
  name: "mysql (real MariaDB)",
  type: "mysql",
  async start() {
    mariadb ??= await startMariadb();
    const name = unique();
    const admin = await mysql.createConnection({ uri: mariadb.url, multipleStatements: true });
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.query(`CREATE TABLE ${name}.customers (id INT PRIMARY KEY, email VARCHAR(255), name VARCHAR(255),
      tags JSON, last_seen DATETIME(3), address JSON, \`odd\`\`; col\` VARCHAR(20))`);
    for (const s of seeds)
      await admin.execute(`INSERT INTO ${name}.customers VALUES (?, ?, ?, ?, ?, ?, ?)`, [
        s.id,
        s.email,
        s.name,
        JSON.stringify(s.tags),
        s.last_seen.toISOString().slice(0, 23).replace("T", " "),
        JSON.stringify(s.address),
        `x${s.id}`,
      ]);
    const url = new URL(mariadb.url);
    url.pathname = `/${name}`;
    const connector = await openConnector({ type: "mysql", url: url.toString(), datasets: ["crm"] });
    const downUrl = new URL(url);
    downUrl.password = PASSWORD;
    downUrl.port = String(await closedPort());
    return {
      connector,
      collection: customers(undefined, [field("odd`; col")]),
      missing: customers({ kind: "sql", table: "nope" }),
      unmappedField: customers(undefined, [field("ghost`; DROP TABLE customers; --")]),
      hostile: customers({ kind: "sql", table: "customers`; DROP TABLE customers; --" }),
      down: {
        type: "mysql",
        url: downUrl.toString(),
        datasets: ["crm"],
        options: { connectTimeoutMs: "2000" },
      },
      arrays: true,
      nested: true,
      async cleanup() {
        await connector.close();
        await admin.query(`DROP DATABASE IF EXISTS ${name}`);
        await admin.end();
      },
    };
  },
};

const redisTarget: Target = {
  name: "redis (real)",
  type: "redis",
  async start() {
    const prefix = unique();
    const url = inject("redisUrl");
    const raw = new Redis(url);
    for (const s of seeds)
      await raw.hset(`${prefix}:cust:${s.email}`, {
        id: String(s.id),
        name: s.name,
        tags: JSON.stringify(s.tags),
        last_seen: s.last_seen.toISOString(),
        city: s.address.city,
      });
    const connector = await openConnector({ type: "redis", url, datasets: ["crm"] });
    const downUrl = new URL(url);
    downUrl.password = PASSWORD;
    downUrl.port = String(await closedPort());
    const store = { kind: "redis", key: `${prefix}:cust:{email}`, type: "hash" } as const;
    return {
      connector,
      collection: customers(store),
      missing: customers(undefined),
      unmappedField: customers({ ...store, key: `${prefix}:cust:{ghost}` }),
      hostile: customers({ ...store, key: `${prefix}:cust:{email` }),
      down: {
        type: "redis",
        url: downUrl.toString(),
        datasets: ["crm"],
        options: { connectTimeoutMs: "1000" },
      },
      arrays: false,
      nested: false,
      async cleanup() {
        await connector.close();
        const keys = await raw.keys(`${prefix}:*`); // test cleanup only: a private prefix
        if (keys.length) await raw.del(...keys);
        raw.disconnect();
      },
    };
  },
};

function mongoTarget(
  name: string,
  serverUrl: () => Promise<{ url(db: string): string; stop(): Promise<void> }>,
): Target {
  return {
    name,
    type: "mongodb",
    async start() {
      const server = await serverUrl();
      const db = unique();
      const url = server.url(db);
      const raw = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
      await raw
        .db(db)
        .collection("customers")
        .insertMany(seeds.map((s) => ({ ...s })));
      const connector = await openConnector({ type: "mongodb", url, datasets: ["crm"] });
      const down = `mongodb://rampart:${PASSWORD}@127.0.0.1:${await closedPort()}/${db}?directConnection=true`;
      return {
        connector,
        collection: customers({ kind: "mongodb", collection: "customers" }),
        missing: customers({ kind: "mongodb", collection: "nope" }),
        unmappedField: customers({ kind: "mongodb", collection: "customers" }, [field("$where")]),
        hostile: customers({ kind: "mongodb", collection: "customers" }, [field("$where")]),
        down: { type: "mongodb", url: down, datasets: ["crm"], options: { connectTimeoutMs: "1000" } },
        arrays: true,
        nested: true,
        async cleanup() {
          await connector.close();
          await raw.db(db).dropDatabase();
          await raw.close();
          await server.stop();
        },
      };
    },
  };
}

function esTarget(name: string, node: () => Promise<{ url: string; stop(): Promise<void> }>): Target {
  return {
    name,
    type: "elasticsearch",
    async start() {
      const server = await node();
      const index = unique().replaceAll("_", "-");
      const raw = new EsClient({ node: server.url });
      await raw.indices.create({
        index,
        mappings: {
          properties: {
            id: { type: "integer" },
            email: { type: "keyword" },
            name: { type: "keyword" },
            tags: { type: "keyword" },
            last_seen: { type: "date" },
            address: { properties: { city: { type: "keyword" } } },
          },
        },
      });
      for (const s of seeds)
        await raw.index({ index, id: `c${s.id}`, document: { ...s, last_seen: s.last_seen.toISOString() } });
      await raw.indices.refresh({ index });
      const connector = await openConnector({ type: "elasticsearch", url: server.url, datasets: ["crm"] });
      const down = `http://elastic:${PASSWORD}@127.0.0.1:${await closedPort()}`;
      return {
        connector,
        collection: customers({ kind: "elasticsearch", index }),
        missing: customers({ kind: "elasticsearch", index: `${index}-nope` }),
        unmappedField: customers({ kind: "elasticsearch", index }, [field("ghost")]),
        hostile: customers({ kind: "elasticsearch", index: "../_all" }),
        down: { type: "elasticsearch", url: down, datasets: ["crm"], options: { requestTimeoutMs: "2000" } },
        arrays: true,
        nested: true,
        async cleanup() {
          await connector.close();
          await raw.indices.delete({ index }).catch(() => {});
          await raw.close();
          await server.stop();
        },
      };
    },
  };
}

const targets: Target[] = [
  postgres,
  mysqlTarget,
  redisTarget,
  mongoTarget("mongodb (wire double)", startMongoWire),
  ...(process.env.MONGODB_URL
    ? [
        mongoTarget("mongodb (real)", async () => ({
          url: (db: string) => {
            const u = new URL(process.env.MONGODB_URL ?? "");
            u.pathname = `/${db}`;
            return u.toString();
          },
          stop: async () => {},
        })),
      ]
    : []),
  esTarget("elasticsearch (HTTP double)", startEsDouble),
  ...(process.env.ELASTICSEARCH_URL
    ? [
        esTarget("elasticsearch (real)", async () => ({
          url: process.env.ELASTICSEARCH_URL ?? "",
          stop: async () => {},
        })),
      ]
    : []),
];

const emails = (rows: FoundRow[]) => rows.map((r) => String(r.values.email)).sort();

afterAll(async () => {
  await mariadb?.stop();
});

describe.each(targets)("DSR connector conformance: $name", (target) => {
  let h: Harness;
  beforeAll(async () => {
    h = await target.start();
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it("has the store's type", () => {
    expect(h.connector.type).toBe(target.type);
  });

  it("finds rows by one identity value and by several, with the mapped fields", async () => {
    const one = await h.connector.find(h.collection, "email", ["ana@example.com"]);
    expect(one).toHaveLength(1);
    expect(one[0]?.values.email).toBe("ana@example.com");
    expect(String(one[0]?.values.name)).toBe("Ana");
    expect(typeof one[0]?.id).toBe("string");
    const again = await h.connector.find(h.collection, "email", ["ana@example.com"]);
    expect(again[0]?.id).toBe(one[0]?.id);
    const two = await h.connector.find(h.collection, "email", [
      "ana@example.com",
      "bo@example.com",
      "nobody@example.com",
    ]);
    expect(emails(two)).toEqual(["ana@example.com", "bo@example.com"]);
    expect(await h.connector.find(h.collection, "email", ["nobody@example.com"])).toEqual([]);
    expect(await h.connector.find(h.collection, "email", [])).toEqual([]);
  });

  it("treats hostile values as values: an injection string finds only the row holding it", async () => {
    const rows = await h.connector.find(h.collection, "email", [HOSTILE]);
    expect(emails(rows)).toEqual([HOSTILE]);
    expect(await h.connector.find(h.collection, "email", ["x' OR '1'='1"])).toEqual([]);
    expect(await h.connector.find(h.collection, "email", ["*"])).toEqual([]);
    expect(await h.connector.find(h.collection, "email", ['" || "1"=="1'])).toEqual([]);
    // the table/collection is still there and whole
    expect(
      await h.connector.find(
        h.collection,
        "email",
        seeds.map((s) => s.email),
      ),
    ).toHaveLength(3);
  });

  it("matches any element of an array field", async () => {
    if (!h.arrays) {
      // Redis key families are found by their key only: any other field is refused, not scanned.
      await expect(h.connector.find(h.collection, "tags", ["vip"])).rejects.toBeInstanceOf(Invalid);
      return;
    }
    expect(emails(await h.connector.find(h.collection, "tags", ["vip"]))).toEqual(["ana@example.com"]);
    expect(emails(await h.connector.find(h.collection, "tags", ["eu"]))).toEqual([
      "ana@example.com",
      "bo@example.com",
    ]);
  });

  it("finds by a nested path", async () => {
    if (!h.nested) {
      await expect(h.connector.find(h.collection, "address.city", ["Pune"])).rejects.toBeInstanceOf(Invalid);
      return;
    }
    const rows = await h.connector.find(h.collection, "address.city", ["Pune"]);
    expect(emails(rows)).toEqual(["ana@example.com", HOSTILE].sort());
  });

  it("finds rows older than a time, oldest first, up to a limit", async () => {
    const before = new Date("2023-01-01T00:00:00Z");
    const rows = await h.connector.findBefore(h.collection, "last_seen", before, 10);
    expect(rows.map((r) => r.values.email)).toEqual([HOSTILE, "ana@example.com"]);
    const first = await h.connector.findBefore(h.collection, "last_seen", before, 1);
    expect(first.map((r) => r.values.email)).toEqual([HOSTILE]);
    expect(
      await h.connector.findBefore(h.collection, "last_seen", new Date("2000-01-01T00:00:00Z"), 10),
    ).toEqual([]);
  });

  it("updates idempotently: a repeat changes nothing", async () => {
    const [row] = await h.connector.find(h.collection, "email", ["ana@example.com"]);
    if (!row) throw new Error("seed row missing");
    expect(await h.connector.update(h.collection, [{ row, set: { name: "MASKED-1" } }])).toBe(1);
    expect(await h.connector.update(h.collection, [{ row, set: { name: "MASKED-1" } }])).toBe(0);
    const [after] = await h.connector.find(h.collection, "email", ["ana@example.com"]);
    expect(after?.values.name).toBe("MASKED-1");
    expect(after?.id).toBe(row.id);
    // other rows untouched
    const [bo] = await h.connector.find(h.collection, "email", ["bo@example.com"]);
    expect(bo?.values.name).toBe("Bo");
    expect(await h.connector.update(h.collection, [])).toBe(0);
  });

  it("deletes idempotently: rows already gone are not an error", async () => {
    const rows = await h.connector.find(h.collection, "email", ["bo@example.com"]);
    expect(rows).toHaveLength(1);
    expect(await h.connector.delete(h.collection, rows)).toBe(1);
    expect(await h.connector.find(h.collection, "email", ["bo@example.com"])).toEqual([]);
    expect(await h.connector.delete(h.collection, rows)).toBe(0);
    expect(
      await h.connector.update(h.collection, [{ row: rows[0] as FoundRow, set: { name: "late" } }]),
    ).toBe(0);
    expect(await h.connector.find(h.collection, "email", ["bo@example.com"])).toEqual([]);
    expect(await h.connector.find(h.collection, "email", ["ana@example.com"])).toHaveLength(1);
  });

  it("checks: nothing to report for a sound mapping; names a missing table and a missing column", async () => {
    expect(await h.connector.check([h.collection])).toEqual([]);
    const missing = await h.connector.check([h.missing]);
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatch(/^crm\.customers: /);
    const unmapped = await h.connector.check([h.unmappedField]);
    expect(unmapped.length).toBeGreaterThan(0);
    expect(unmapped.join("\n")).toMatch(/ghost|\$where/);
  });

  it("refuses or quotes hostile identifiers from the map; the store stays intact", async () => {
    const hostile = h.hostile;
    await expect(h.connector.find(hostile, "email", ["ana@example.com"])).rejects.toBeInstanceOf(Invalid);
    expect(await h.connector.find(h.collection, "email", ["ana@example.com"])).toHaveLength(1);
  });

  it("reports a store that is down as Unavailable, without the password", async () => {
    const down = await openConnector(h.down);
    try {
      const err = await down.find(h.collection, "email", ["ana@example.com"]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Unavailable);
      expect((err as Error).message).toMatch(new RegExp(`${target.type} store at`));
      expect((err as Error).message).not.toContain(PASSWORD);
      const problems = await down.check([h.collection]);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/unreachable/);
      expect(problems[0]).not.toContain(PASSWORD);
    } finally {
      await down.close();
    }
  });
});

describe("connector registry", () => {
  it("opens one connector per connection lazily and names an unknown dataset", async () => {
    const opened: string[] = [];
    const registry = createConnectorRegistry(
      {
        main: {
          type: "postgres",
          url: `postgres://u:${PASSWORD}@127.0.0.1:1/x`,
          datasets: ["crm", "billing"],
        },
        cache: { type: "redis", url: "redis://127.0.0.1:1", datasets: ["sessions"] },
      },
      (config) => {
        opened.push(config.type);
        return {
          type: config.type,
          find: async () => [],
          findBefore: async () => [],
          delete: async () => 0,
          update: async () => 0,
          check: async () => [],
          close: async () => {
            opened.push(`closed ${config.type}`);
          },
        };
      },
    );
    expect(opened).toEqual([]);
    const a = registry.connectorFor("crm");
    const b = registry.connectorFor("billing");
    expect(a).toBe(b);
    expect(registry.connectorFor("sessions").type).toBe("redis");
    expect(opened).toEqual(["postgres", "redis"]);
    expect(() => registry.connectorFor("hr")).toThrow(Invalid);
    expect(() => registry.connectorFor("hr")).toThrow(/'hr'/);
    await registry.close();
    expect(opened.filter((o) => o.startsWith("closed")).sort()).toEqual(["closed postgres", "closed redis"]);
  });

  it("refuses a dataset served by two connections", () => {
    expect(() =>
      createConnectorRegistry({
        a: { type: "postgres", url: "postgres://h/x", datasets: ["crm"] },
        b: { type: "mysql", url: "mysql://h/x", datasets: ["crm"] },
      }),
    ).toThrow(/'crm'/);
  });
});
