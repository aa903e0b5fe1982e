// Anonymised copies of the shop database (examples/privacy) on real PostgreSQL and MariaDB:
// personal values all change, everything else is identical, every reference still joins, each
// copy masks differently, and unmapped data is refused unless the operator says otherwise.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { type AnonymizeSummary, anonymizeDatabase } from "../src/data/privacy/anonymize/index.ts";
import { loadDataMap } from "../src/data/privacy/map/load.ts";
import type { Collection, DataMap, Field } from "../src/data/privacy/map/model.ts";
import { startMariadb } from "./support/mariadb.ts";
import type { RunningService } from "./support/services.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const shopSql = (file: string) => readFileSync(join(root, "examples/privacy", file), "utf8");
const map = loadDataMap([join(root, "examples/privacy")]);

// The shop's tables, parents first, with their primary keys and foreign keys.
const tables = ["users", "addresses", "orders", "order_items", "support_tickets", "sessions"] as const;
const pkOf = (_t: string) => "id";
const fks = [
  ["addresses", "user_id", "users", "id"],
  ["orders", "user_id", "users", "id"],
  ["orders", "shipping_address_id", "addresses", "id"],
  ["order_items", "order_id", "orders", "id"],
  ["support_tickets", "user_id", "users", "id"],
  ["sessions", "user_id", "users", "id"],
] as const;

/** A copy of the map in which `users.id` is masked too: keys themselves become personal. */
function mapWithMaskedUserIds(): DataMap {
  const copy = structuredClone(map);
  const users = copy.datasets.find((d) => d.key === "shop")?.collections.find((c) => c.name === "users");
  const id = users?.fields.find((f) => f.name === "id");
  if (!id) throw new Error("shop.users.id missing from the example map");
  delete id.masking;
  return copy;
}

// A data map built in code: teams and members reference each other (a cycle), members.id is
// personal (so teams.captain_id must follow it), and members.profile is JSON with one personal leaf.
const field = (name: string, categories: string[], extra: Partial<Field> = {}): Field => ({
  name,
  path: name,
  categories,
  primaryKey: false,
  references: [],
  fields: [],
  ...extra,
});
const collection = (name: string, fields: Field[]): Collection => ({
  dataset: "league",
  name,
  fields,
  after: [],
  eraseAfter: [],
  erasure: "mask",
});
const leagueMap: DataMap = {
  systems: [],
  purposes: [],
  retention: [],
  datasets: [
    {
      key: "league",
      name: "League",
      collections: [
        collection("teams", [
          field("id", ["system.operations"], { primaryKey: true }),
          field("name", ["system.operations"]),
          field("lead_email", ["user.contact.email"]),
          field("captain_id", ["system.operations"]),
        ]),
        collection("members", [
          field("id", ["user.unique_id"], { primaryKey: true }),
          field("team_id", ["system.operations"]),
          field("email", ["user.contact.email"]),
          field("profile", [], {
            fields: [
              field("phone", ["user.contact.phone_number"], { path: "profile.phone" }),
              field("team_role", ["system.operations"], { path: "profile.team_role" }),
            ],
          }),
        ]),
      ],
    },
  ],
};

/** The same map without the sessions table. */
function mapWithoutSessions(): DataMap {
  const copy = structuredClone(map);
  const shop = copy.datasets.find((d) => d.key === "shop");
  if (shop) shop.collections = shop.collections.filter((c) => c.name !== "sessions");
  return copy;
}

// Deterministic seed rows, the same for both databases. Ticket emails of registered users are
// their account email, so "equal values mask equally" can be checked across tables.
const pad = (n: number) => String(n).padStart(2, "0");
function seed() {
  const users = Array.from({ length: 60 }, (_, i) => [
    i + 1,
    `person${i + 1}@example.com`,
    i % 4 === 0 ? null : `+91 98${String(10_000_000 + i * 7919).slice(0, 8)}`,
    `First${i}`,
    `Last${i}`,
    `$argon2id$v=19$hash${i}`,
    `19${50 + (i % 50)}-0${(i % 9) + 1}-1${i % 10}`,
    i % 2 === 0,
    `2025-01-${pad((i % 28) + 1)} 10:00:00`,
    `2026-0${(i % 9) + 1}-01 12:00:00`,
  ]);
  const addresses = Array.from({ length: 80 }, (_, i) => [
    i + 1,
    (i % 60) + 1,
    `${i + 1} MG Road`,
    i % 3 === 0 ? null : `Flat ${i}`,
    i % 2 ? "Bengaluru" : "Pune",
    "KA",
    `5600${pad(i % 100)}`,
    i % 5 === 0 ? "GB" : "IN",
    `2025-02-${pad((i % 28) + 1)} 09:00:00`,
  ]);
  const orders = Array.from({ length: 150 }, (_, i) => [
    i + 1,
    (i % 60) + 1,
    i % 7 === 0 ? null : (i % 80) + 1,
    i % 3 === 0 ? "shipped" : "placed",
    1000 + i * 13,
    "INR",
    `2026-03-${pad((i % 28) + 1)} 08:30:00`,
  ]);
  const items = Array.from({ length: 300 }, (_, i) => [
    i + 1,
    (i % 150) + 1,
    `SKU-${i % 17}`,
    (i % 4) + 1,
    250 + i,
  ]);
  const tickets = Array.from({ length: 40 }, (_, i) => {
    const user = i % 5 === 0 ? null : (i % 60) + 1;
    return [
      i + 1,
      user,
      user === null ? `guest${i}@example.net` : `person${user}@example.com`,
      `Where is my order ${i}?`,
      `Hello, I am First${i} and my phone is +91 99999 000${pad(i)}.`,
      i % 2 ? "open" : "closed",
      `2026-04-${pad((i % 28) + 1)} 11:00:00`,
      i % 2 ? null : `2026-05-${pad((i % 28) + 1)} 11:00:00`,
    ];
  });
  const sessions = Array.from({ length: 100 }, (_, i) => [
    `sess_${randomBytesFrom(i)}`,
    (i % 60) + 1,
    `203.0.113.${i % 250}`,
    `Mozilla/5.0 (X11; Linux) agent ${i}`,
    `2026-06-${pad((i % 28) + 1)} 07:00:00`,
    `2026-07-${pad((i % 28) + 1)} 07:00:00`,
  ]);
  return { users, addresses, orders, order_items: items, support_tickets: tickets, sessions };
}
const randomBytesFrom = (i: number) => (i * 2654435761).toString(16).padStart(12, "0");

const columns: Record<(typeof tables)[number], string[]> = {
  users: [
    "id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "password_hash",
    "date_of_birth",
    "marketing_opt_in",
    "created_at",
    "last_active_at",
  ],
  addresses: ["id", "user_id", "line1", "line2", "city", "state", "postal_code", "country", "created_at"],
  orders: ["id", "user_id", "shipping_address_id", "status", "total_cents", "currency", "placed_at"],
  order_items: ["id", "order_id", "product_sku", "quantity", "unit_price_cents"],
  support_tickets: ["id", "user_id", "email", "subject", "body", "status", "created_at", "closed_at"],
  sessions: ["id", "user_id", "ip_address", "user_agent", "created_at", "expires_at"],
};

/** One database server seen the same way for both engines: text rows, plain statements. */
interface Server {
  name: "postgres" | "mysql";
  /** A fresh empty database; its URL. */
  create(): Promise<string>;
  exec(url: string, statement: string, values?: unknown[]): Promise<void>;
  /** Rows as arrays of text (or null). */
  rows(url: string, statement: string): Promise<Array<Array<string | null>>>;
  schemaSql: string;
  cleanup(): Promise<void>;
}

function postgresServer(): Server {
  const made: string[] = [];
  const admin = () => inject("pgUrl");
  const withClient = async <T>(url: string, fn: (c: pg.Client) => Promise<T>) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    name: "postgres",
    schemaSql: shopSql("shop-postgres.sql"),
    async create() {
      const name = `h7anon_${randomBytes(5).toString("hex")}`;
      await withClient(admin(), (c) => c.query(`create database ${name}`));
      made.push(name);
      const u = new URL(admin());
      u.pathname = `/${name}`;
      return u.href;
    },
    exec: (url, statement, values) => withClient(url, async (c) => void (await c.query(statement, values))),
    rows: (url, statement) =>
      withClient(url, async (c) => {
        const r = await c.query<Array<string | null>>({
          text: statement,
          rowMode: "array",
          types: { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig,
        });
        return r.rows;
      }),
    async cleanup() {
      for (const name of made)
        await withClient(admin(), (c) => c.query(`drop database if exists ${name} with (force)`)).catch(
          () => {},
        );
    },
  };
}

function mysqlServer(service: () => RunningService): Server {
  const made: string[] = [];
  const base = () => service().url.replace(/\/$/, "");
  const withConn = async <T>(url: string, fn: (c: mysql.Connection) => Promise<T>) => {
    const c = await mysql.createConnection({ uri: url, multipleStatements: true, dateStrings: true });
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    name: "mysql",
    schemaSql: shopSql("shop-mysql.sql"),
    async create() {
      const name = `h7anon_${randomBytes(5).toString("hex")}`;
      await withConn(base(), (c) => c.query(`create database ${name}`));
      made.push(name);
      return `${base()}/${name}`;
    },
    exec: (url, statement, values) => withConn(url, async (c) => void (await c.query(statement, values))),
    rows: (url, statement) =>
      withConn(url, async (c) => {
        const [rows] = await c.query({ sql: statement, rowsAsArray: true });
        // JSON columns arrive parsed: back to text, as PostgreSQL's rows are.
        const text = (v: unknown) =>
          v === null ? null : typeof v === "object" && !Buffer.isBuffer(v) ? JSON.stringify(v) : String(v);
        return (rows as unknown[][]).map((r) => r.map(text));
      }),
    async cleanup() {
      for (const name of made)
        await withConn(base(), (c) => c.query(`drop database if exists ${name}`)).catch(() => {});
    },
  };
}

let mariadb: RunningService | undefined;
const servers = [postgresServer(), mysqlServer(() => mariadb as RunningService)];

beforeAll(async () => {
  mariadb = await startMariadb();
});
afterAll(async () => {
  for (const s of servers) await s.cleanup();
  await mariadb?.stop();
});

describe.each(servers)("anonymised copy on $name", (server) => {
  let source: string;
  const personalValueColumns: Record<string, string[]> = {
    users: ["email", "phone", "first_name", "last_name"],
    addresses: ["line1", "line2", "city", "state", "postal_code", "country"],
    support_tickets: ["email", "subject", "body"],
    sessions: ["ip_address", "user_agent"],
  };
  const nulledColumns: Record<string, string[]> = {
    users: ["password_hash", "date_of_birth", "marketing_opt_in"],
  };

  const all = (url: string, t: string) =>
    server.rows(url, `select ${columns[t as keyof typeof columns].join(", ")} from ${t} order by ${pkOf(t)}`);
  const count = async (url: string, statement: string) => Number((await server.rows(url, statement))[0]?.[0]);
  const joins = (url: string, [child, col, parent, pcol]: (typeof fks)[number]) =>
    count(url, `select count(*) from ${child} c join ${parent} p on c.${col} = p.${pcol}`);

  beforeAll(async () => {
    source = await server.create();
    for (const statement of server.schemaSql
      .split(/;\s*\n/)
      .filter((s) => /\S/.test(s.replace(/--.*$/gm, ""))))
      await server.exec(source, statement);
    const rows = seed();
    for (const t of tables) {
      const cols = columns[t];
      const data = rows[t];
      if (server.name === "mysql") {
        await server.exec(source, `insert into ${t} (${cols.join(", ")}) values ?`, [data]);
      } else {
        const ph = data.map((r, i) => `(${r.map((_, j) => `$${i * r.length + j + 1}`).join(", ")})`);
        await server.exec(
          source,
          `insert into ${t} (${cols.join(", ")}) values ${ph.join(", ")}`,
          data.flat(),
        );
      }
    }
  });

  let first: { url: string; summary: AnonymizeSummary };

  test("every personal value changes, everything else and every reference stays", async () => {
    const target = await server.create();
    const progress: number[] = [];
    const summary = await anonymizeDatabase({
      from: source,
      to: target,
      map,
      createSchema: true,
      batchSize: 37,
      onProgress: (p) => progress.push(p.doneRows),
    });
    first = { url: target, summary };
    expect(summary.dataset).toBe("shop");
    expect(summary.tables.map((t) => t.table)).toEqual([
      "users",
      "addresses",
      "orders",
      "order_items",
      "sessions",
      "support_tickets",
    ]);
    expect(summary.rows).toBe(60 + 80 + 150 + 300 + 40 + 100);
    expect(progress.at(-1)).toBe(summary.rows);
    // sessions.user_id is personal in the map, but it references users.id, which is kept: it masks
    // as users.id does (kept), or the sessions would no longer belong to anyone.
    const sessions = summary.tables.find((t) => t.table === "sessions");
    expect(sessions?.masked.map((m) => m.column).sort()).toEqual(["ip_address", "user_agent"]);

    for (const t of tables) {
      const before = await all(source, t);
      const after = await all(target, t);
      expect(after, `${t} row count`).toHaveLength(before.length);
      const cols = columns[t];
      const personal = new Set([...(personalValueColumns[t] ?? []), ...(nulledColumns[t] ?? [])]);
      before.forEach((row, r) => {
        cols.forEach((c, j) => {
          const was = row[j];
          const now = after[r]?.[j];
          if (nulledColumns[t]?.includes(c)) expect(now, `${t}.${c}`).toBeNull();
          else if (personal.has(c)) {
            if (was === null) expect(now, `${t}.${c}`).toBeNull();
            else expect(now, `${t}.${c} row ${r}`).not.toBe(was);
          } else expect(now, `${t}.${c} row ${r}`).toBe(was);
        });
      });
    }
    // No personal value of the source appears anywhere in the copy's personal columns.
    const sourceEmails = new Set((await server.rows(source, "select email from users")).map((r) => r[0]));
    for (const [email] of await server.rows(target, "select email from support_tickets"))
      expect(sourceEmails.has(email ?? null)).toBe(false);
    // Masked text fits its column (country is CHAR(2)).
    for (const [c] of await server.rows(target, "select country from addresses"))
      expect(c).toMatch(/^[0-9a-f]{2}$/);

    for (const fk of fks) expect(await joins(target, fk), fk.join(".")).toBe(await joins(source, fk));
    // Equal values mask equally across tables: a registered user's ticket email is still their email.
    const same =
      "select count(*) from support_tickets t join users u on t.user_id = u.id where t.email = u.email";
    expect(await count(target, same)).toBe(await count(source, same));
    expect(await count(target, same)).toBe(32);
  });

  test("the copy keeps the schema: keys, references and indexes exist in the target", async () => {
    const target = first.url;
    // A reference the copy must enforce: an order of a user who does not exist is refused.
    await expect(
      server.exec(
        target,
        "insert into orders (id, user_id, status, total_cents, currency, placed_at) values (999999, 424242, 'placed', 1, 'INR', '2026-01-01 00:00:00')",
      ),
    ).rejects.toThrow(/foreign key/i);
    // Unique email kept as a constraint.
    const [[email]] = (await server.rows(target, "select email from users where id = 1")) as [[string]];
    await expect(
      server.exec(target, `insert into users (id, email) values (999999, '${email}')`),
    ).rejects.toThrow(/duplicate|unique/i);
    // Identity / auto-increment resumes after the copied rows.
    await server.exec(target, "insert into users (email) values ('new@example.com')");
    expect(await count(target, "select max(id) from users")).toBeGreaterThan(60);
  });

  test("masked keys still join: users.id masked, every reference follows it", async () => {
    const target = await server.create();
    const summary = await anonymizeDatabase({
      from: source,
      to: target,
      map: mapWithMaskedUserIds(),
      createSchema: true,
    });
    const users = summary.tables.find((t) => t.table === "users");
    expect(users?.masked.map((m) => m.column)).toContain("id");
    const srcIds = new Set((await server.rows(source, "select id from users")).map((r) => r[0]));
    const ids = (await server.rows(target, "select id from users")).map((r) => r[0]);
    expect(ids).toHaveLength(60);
    expect(ids.every((id) => typeof id === "string" && /^\d+$/.test(id) && !srcIds.has(id))).toBe(true);
    for (const fk of fks) expect(await joins(target, fk), fk.join(".")).toBe(await joins(source, fk));
    // Columns that only reference users.id (system.operations in the map) moved with it.
    const orderUsers = (await server.rows(target, "select distinct user_id from orders")).map((r) => r[0]);
    expect(orderUsers.every((u) => !srcIds.has(u))).toBe(true);
  });

  test("a second copy into existing empty tables masks with a new secret", async () => {
    const target = await server.create();
    for (const statement of server.schemaSql
      .split(/;\s*\n/)
      .filter((s) => /\S/.test(s.replace(/--.*$/gm, ""))))
      await server.exec(target, statement);
    const summary = await anonymizeDatabase({ from: source, to: target, map });
    expect(summary.rows).toBe(first.summary.rows);
    const a = await server.rows(
      first.url,
      "select id, email, last_name from users where id <= 60 order by id",
    );
    const b = await server.rows(target, "select id, email, last_name from users where id <= 60 order by id");
    expect(b).toHaveLength(a.length);
    b.forEach((row, i) => {
      expect(row[0]).toBe(a[i]?.[0]);
      expect(row[1]).not.toBe(a[i]?.[1]);
      expect(row[2]).not.toBe(a[i]?.[2]);
    });
    for (const fk of fks) expect(await joins(target, fk)).toBe(await joins(source, fk));
    // Not empty any more: a copy into it is refused.
    await expect(anonymizeDatabase({ from: source, to: target, map })).rejects.toThrow(/not empty/);
  });

  test("tables the map does not describe are refused by default, and copied or skipped only when told", async () => {
    const target = await server.create();
    await expect(
      anonymizeDatabase({ from: source, to: target, map: mapWithoutSessions(), createSchema: true }),
    ).rejects.toThrow(/does not describe tables: sessions; map them, or pass --unmapped copy/);
    // Nothing was written.
    expect(
      await count(
        target,
        server.name === "postgres"
          ? "select count(*) from information_schema.tables where table_schema = current_schema()"
          : "select count(*) from information_schema.tables where table_schema = database()",
      ),
    ).toBe(0);
    const skipped = await anonymizeDatabase({
      from: source,
      to: target,
      map: mapWithoutSessions(),
      createSchema: true,
      unmapped: "skip",
    });
    expect(skipped.tables.map((t) => t.table)).not.toContain("sessions");
    const copied = await anonymizeDatabase({
      from: source,
      to: await server.create(),
      map: mapWithoutSessions(),
      createSchema: true,
      unmapped: "copy",
    });
    expect(copied.tables.find((t) => t.table === "sessions")).toMatchObject({
      rows: 100,
      copiedInClear: true,
    });
  });

  test("tables that reference each other copy, personal keys and JSON leaves mask, references hold", async () => {
    const src = await server.create();
    const pgSql = [
      "create table teams (id bigint primary key, name text not null, lead_email varchar(100), captain_id bigint)",
      "create table members (id bigint primary key, team_id bigint not null references teams (id), email varchar(100) not null unique, profile jsonb)",
      "alter table teams add constraint teams_captain_fk foreign key (captain_id) references members (id) deferrable initially deferred",
    ];
    const mySql = [
      "create table teams (id bigint primary key, name text not null, lead_email varchar(100), captain_id bigint)",
      "create table members (id bigint primary key, team_id bigint not null, email varchar(100) not null unique, profile json, constraint members_team_fk foreign key (team_id) references teams (id))",
      "alter table teams add constraint teams_captain_fk foreign key (captain_id) references members (id)",
    ];
    for (const st of server.name === "postgres" ? pgSql : mySql) await server.exec(src, st);
    const teams = Array.from(
      { length: 10 },
      (_, i) => `(${i + 1}, 'Team ${i}', 'lead${i}@example.com', ${i * 5 + 1})`,
    );
    const members = Array.from(
      { length: 50 },
      (_, i) =>
        `(${i + 1}, ${Math.floor(i / 5) + 1}, 'm${i}@example.com', '{"phone": "+91 90000 ${String(i).padStart(5, "0")}", "team_role": "${i % 5 === 0 ? "captain" : "player"}"}')`,
    );
    const load = [
      `insert into teams values ${teams.join(", ")}`,
      `insert into members values ${members.join(", ")}`,
    ];
    if (server.name === "postgres") await server.exec(src, `begin; ${load.join("; ")}; commit`);
    else await server.exec(src, `set foreign_key_checks = 0; ${load.join("; ")}; set foreign_key_checks = 1`);

    const target = await server.create();
    const summary = await anonymizeDatabase({ from: src, to: target, map: leagueMap, createSchema: true });
    expect(summary.rows).toBe(60);
    expect(summary.tables.find((t) => t.table === "teams")?.masked).toContainEqual({
      column: "captain_id",
      strategy: "hmac",
      via: "members.id (referenced)",
    });
    const links = [
      "select count(*) from members m join teams t on m.team_id = t.id",
      "select count(*) from teams t join members m on t.captain_id = m.id",
      "select count(*) from teams t join members m on t.captain_id = m.id and m.team_id = t.id",
    ];
    for (const l of links) expect(await count(target, l), l).toBe(await count(src, l));
    expect(await count(target, links[2] as string)).toBe(10);
    const srcIds = new Set((await server.rows(src, "select id from members")).map((r) => r[0]));
    expect(
      (await server.rows(target, "select id from members")).every((r) => !srcIds.has(r[0] ?? null)),
    ).toBe(true);
    const profiles = (await server.rows(target, "select profile from members")).map(
      (r) => JSON.parse(r[0] as string) as { phone: string; team_role: string },
    );
    expect(profiles).toHaveLength(50);
    expect(profiles.every((p) => /^[0-9a-f]{64}$/.test(p.phone))).toBe(true);
    expect(profiles.filter((p) => p.team_role === "captain")).toHaveLength(10);
  });

  test("a bad URL fails clearly and never shows the password", async () => {
    const scheme = server.name === "postgres" ? "postgres" : "mysql";
    const err = await anonymizeDatabase({
      from: `${scheme}://rampart:Sup3rSecretPw@127.0.0.1:1/shop`,
      to: await server.create(),
      map,
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/cannot connect to the source database .*127\.0\.0\.1:1\/shop/);
    expect((err as Error).message).not.toContain("Sup3rSecretPw");
    const garbled = await anonymizeDatabase({ from: "Sup3rSecretPw not a url", to: source, map }).catch(
      (e: Error) => e,
    );
    expect((garbled as Error).message).toMatch(/^from: is not a database URL/);
    expect((garbled as Error).message).not.toContain("Sup3rSecretPw");
  });
});
