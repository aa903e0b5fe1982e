// Drafting a dataset from live schemas: the shop's tables (examples/privacy/shop-*.sql) in a real
// PostgreSQL and a real MariaDB, plus a products table whose "name" is not a person's.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { parse } from "yaml";
import { startMariadb } from "../../../../test/support/mariadb.ts";
import type { RunningService } from "../../../../test/support/services.ts";
import { Unavailable } from "../../../platform/errors.ts";
import { bootstrapDataset, type DbSchema, proposeDataset, readDbSchema } from "./bootstrap.ts";
import { parseDataMap } from "./load.ts";

const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));
const sql = (name: string) => readFileSync(join(repoRoot, "examples/privacy", name), "utf8");
const name = `h1map_${randomBytes(4).toString("hex")}`;
const extraPg = `CREATE TABLE products (id BIGINT PRIMARY KEY, name TEXT NOT NULL, price_cents BIGINT NOT NULL);
CREATE VIEW active_users AS SELECT id, email FROM users;`;
const extraMysql = `CREATE TABLE products (id BIGINT PRIMARY KEY, name TEXT NOT NULL, price_cents BIGINT NOT NULL);
CREATE VIEW active_users AS SELECT id, email FROM users;`;

let pgUrl: string;
let mariadb: RunningService;
let mysqlUrl: string;
let pgSchema: DbSchema;
let mysqlSchema: DbSchema;

beforeAll(async () => {
  pgUrl = inject("pgUrl");
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${name}`);
    await client.query(`SET search_path TO ${name};\n${sql("shop-postgres.sql")}\n${extraPg}`);
  } finally {
    await client.end();
  }
  mariadb = await startMariadb();
  const conn = await mysql.createConnection({ uri: mariadb.url, multipleStatements: true });
  try {
    await conn.query(`CREATE DATABASE ${name}; USE ${name};\n${sql("shop-mysql.sql")}\n${extraMysql}`);
  } finally {
    await conn.end();
  }
  mysqlUrl = `${mariadb.url.replace(/\/$/, "")}/${name}`;
  pgSchema = await readDbSchema(pgUrl, name);
  mysqlSchema = await readDbSchema(mysqlUrl);
});

afterAll(async () => {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  await client.end();
  const conn = await mysql.createConnection(mariadb.url);
  await conn.query(`DROP DATABASE IF EXISTS ${name}`);
  await conn.end();
  await mariadb.stop();
});

describe.each([
  ["PostgreSQL", () => pgSchema],
  ["MariaDB", () => mysqlSchema],
])("reading the schema from %s", (_, schemaOf) => {
  test("base tables (not views) with columns, primary and foreign keys", () => {
    const s = schemaOf();
    expect(s.schema).toBe(name);
    expect(s.tables.map((t) => t.name)).toEqual([
      "addresses",
      "order_items",
      "orders",
      "products",
      "sessions",
      "support_tickets",
      "users",
    ]);
    const orders = s.tables.find((t) => t.name === "orders");
    expect(orders?.primaryKey).toEqual(["id"]);
    expect(orders?.foreignKeys.toSorted((a, b) => a.column.localeCompare(b.column))).toEqual([
      { column: "shipping_address_id", refTable: "addresses", refColumn: "id" },
      { column: "user_id", refTable: "users", refColumn: "id" },
    ]);
    const email = s.tables.find((t) => t.name === "users")?.columns.find((c) => c.name === "email");
    expect(email).toMatchObject({ length: 254, nullable: false });
  });
});

describe("the proposed dataset", () => {
  const fieldsOf = (yaml: string) => {
    const doc = parse(yaml) as {
      dataset: { fides_key: string; collections: { name: string; fields: Record<string, unknown>[] }[] }[];
    };
    const out = new Map<string, Record<string, unknown>>();
    for (const c of doc.dataset[0]?.collections ?? [])
      for (const f of c.fields) out.set(`${c.name}.${String(f.name)}`, f);
    return out;
  };
  /** The line of YAML that holds `collection.field`'s categories. */
  const categoryLine = (yaml: string, collection: string, field: string) => {
    const lines = yaml.split("\n");
    const start = lines.indexOf(`      - name: ${collection}`);
    const at = lines.indexOf(`          - name: ${field}`, start);
    return lines[at + 1] ?? "";
  };

  test("guesses categories and identities from column names, marked for a person to confirm", () => {
    const yaml = proposeDataset(pgSchema);
    const f = fieldsOf(yaml);
    const category = (k: string) => (f.get(k)?.data_categories as string[] | undefined)?.[0];
    expect(category("users.email")).toBe("user.contact.email");
    expect((f.get("users.email")?.fides_meta as Record<string, unknown>).identity).toBe("email");
    expect(category("users.phone")).toBe("user.contact.phone_number");
    expect(category("users.first_name")).toBe("user.name.first");
    expect(category("users.last_name")).toBe("user.name.last");
    expect(category("users.password_hash")).toBe("user.authorization.credentials");
    expect(category("users.date_of_birth")).toBe("user.demographic.date_of_birth");
    expect(category("addresses.line1")).toBe("user.contact.address.street");
    expect(category("addresses.city")).toBe("user.contact.address.city");
    expect(category("addresses.state")).toBe("user.contact.address.state");
    expect(category("addresses.postal_code")).toBe("user.contact.address.postal_code");
    expect(category("addresses.country")).toBe("user.contact.address.country");
    expect(category("sessions.ip_address")).toBe("user.device.ip_address");
    expect(category("support_tickets.body")).toBe("user.content.private");
    expect(category("users.created_at")).toBe("system.operations");
    // A product's name is not a person's; a user's primary key is their id.
    expect(category("products.name")).toBe("system.operations");
    expect(category("users.id")).toBe("user.unique_id");
    expect(category("orders.user_id")).toBe("user.unique_id");
    expect(category("order_items.order_id")).toBe("system.operations");

    expect(categoryLine(yaml, "users", "email")).toBe(
      "            data_categories: [user.contact.email] # guessed: confirm",
    );
    expect(yaml).toContain("              identity: email # guessed: confirm");
    expect(categoryLine(yaml, "users", "id")).toBe("            data_categories: [user.unique_id]");
    expect(categoryLine(yaml, "users", "created_at")).toBe(
      "            data_categories: [system.operations]",
    );
  });

  test("keys, types and references with directions away from the identity", () => {
    const f = fieldsOf(proposeDataset(pgSchema));
    const meta = (k: string) => f.get(k)?.fides_meta as Record<string, unknown>;
    expect(meta("users.id")).toEqual({ primary_key: true, data_type: "integer" });
    expect(meta("users.email")).toMatchObject({ data_type: "string", length: 254 });
    expect(meta("users.marketing_opt_in")).toEqual({ data_type: "boolean" });
    expect(meta("orders.user_id").references).toEqual([
      { dataset: name, field: "users.id", direction: "from" },
    ]);
    expect(meta("order_items.order_id").references).toEqual([
      { dataset: name, field: "orders.id", direction: "from" },
    ]);
  });

  test("the draft is a valid data map, SQL primary keys and all", () => {
    const map = parseDataMap(proposeDataset(pgSchema), "draft.yaml", { storeTypes: { [name]: "postgres" } });
    expect(map.datasets[0]?.collections).toHaveLength(7);
  });

  test("PostgreSQL and MariaDB give the same draft for the same tables", () => {
    const body = (yaml: string) =>
      yaml
        .split("\n")
        .slice(1)
        .join("\n")
        .replace(/\((postgres|mysql)\)/, "(db)");
    expect(body(proposeDataset(mysqlSchema))).toBe(body(proposeDataset(pgSchema)));
  });

  test("from a URL: the key defaults to the schema, or is given", async () => {
    const yaml = await bootstrapDataset(mysqlUrl, { key: "shop" });
    expect(yaml).toContain("  - fides_key: shop\n");
    expect(yaml).toContain("# Proposed by `rampart privacy bootstrap` from mysql database");
    const pgYaml = await bootstrapDataset(pgUrl, { schema: name });
    expect(pgYaml).toContain(`  - fides_key: ${name}\n`);
  });
});

test("an unreachable database is Unavailable, and the password stays out of the message", async () => {
  const error = await readDbSchema("postgres://someone:s3cret-pw@127.0.0.1:1/x").catch((e: unknown) => e);
  expect(error).toBeInstanceOf(Unavailable);
  expect((error as Error).message).toContain("postgres://***@127.0.0.1:1/x");
  expect((error as Error).message).not.toContain("s3cret-pw");
  const my = await readDbSchema("mysql://someone:s3cret-pw@127.0.0.1:1/x").catch((e: unknown) => e);
  expect(my).toBeInstanceOf(Unavailable);
  expect((my as Error).message).not.toContain("s3cret-pw");
  await expect(readDbSchema("sqlite:///tmp/x")).rejects.toThrow(/postgres:\/\/ or mysql:\/\//);
});
