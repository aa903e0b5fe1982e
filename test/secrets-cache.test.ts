// The cache of sealed rows on PostgreSQL, shared by several servers: each write NOTIFYs its path at
// commit, so another server's next read sees it; while a server's listener is down (killed,
// PostgreSQL restarted) it reads the database every time, and it caches again once back.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { KyselyPlugin } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  openSecrets,
  type Secrets,
  secretsConfigSchema,
  secretsMigrations,
} from "../src/appsec/secrets/index.ts";
import { manualClock } from "../src/platform/clock.ts";
import { openStore, type Store } from "../src/platform/store/index.ts";
import { freshDatabase } from "./support/pg.ts";
import { type RestartableService, startPostgres } from "./support/services.ts";
import { callerOf } from "./support/secrets.ts";

const admin = callerOf("user", "corp:root", [], ["admin"]);
const config = secretsConfigSchema.parse({});
const PATH = "/prod/api/db";

let server: RestartableService;
let dbName: string;
let dataDir: string;
let stores: Store[];
let a: Secrets;
let b: Secrets;
let bQueries = 0;

// Server B's store counts every query it sends, so a read served from its cache is visible.
const counting: KyselyPlugin = {
  transformQuery: (args) => {
    bQueries++;
    return args.node;
  },
  transformResult: async (args) => args.result,
};

beforeAll(async () => {
  server = await startPostgres();
  const db = await freshDatabase(server.url);
  dbName = new URL(db.url).pathname.slice(1);
  dataDir = mkdtempSync(join(tmpdir(), "rampart-secrets-cache-"));
  const storeA = await openStore({ url: db.url, migrations: secretsMigrations, poolSize: 4 });
  const storeB = await openStore({ url: db.url, migrations: secretsMigrations, poolSize: 4 });
  stores = [storeA, storeB];
  const open = (store: Store) =>
    openSecrets({
      store,
      config: () => config,
      dataDir,
      clock: manualClock("2026-11-23T10:00:00Z"),
      emit: () => {},
    });
  a = await open(storeA);
  b = await open({ ...storeB, db: storeB.db.withPlugin(counting) });
}, 60_000);

afterAll(async () => {
  for (const s of stores ?? []) await s.close().catch(() => {});
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** B's next read, and whether it was served from B's cache (no query). */
async function readB(): Promise<{ value: string | Error; cached: boolean }> {
  const before = bQueries;
  const value = await b.get(admin, PATH).then(
    (s) => `${s.data.v}@${s.version}`,
    (err: Error) => err,
  );
  return { value, cached: bQueries === before };
}

/** Polls B until `check` holds, for at most `ms`. */
async function until(check: (r: Awaited<ReturnType<typeof readB>>) => boolean, ms = 1000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await readB();
    if (check(r)) return;
    if (Date.now() > deadline) throw new Error(`B still reads ${String(r.value)} (cached: ${r.cached})`);
    await sleep(5);
  }
}

const reads = (value: string) => (r: { value: string | Error }) =>
  typeof r.value === "string" && (r.value === value || r.value.startsWith(`${value}@`));
const fails = (text: string) => (r: { value: string | Error }) =>
  r.value instanceof Error && r.value.message.includes(text);
/** B serves the path from its cache: a read, then one that sends no query. */
const caching = async () => (await readB(), (await readB()).cached);

async function admin_(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

test("another server's put, delete, revoke and rollback show on B's next read; B reads from its cache between them", async () => {
  await a.put(admin, PATH, { v: "one" });
  await until(reads("one@1"));
  expect(await caching()).toBe(true);
  expect(await readB()).toEqual({ value: "one@1", cached: true });

  await a.put(admin, PATH, { v: "two" });
  await until(reads("two@2"));
  expect(await caching()).toBe(true);

  await a.delete(admin, PATH);
  await until(fails("is deleted"));
  await a.undelete(admin, PATH, [2]);
  await until(reads("two@2"));

  await a.put(admin, PATH, { v: "three" });
  await until(reads("three@3"));
  expect(await caching()).toBe(true);
  await a.revoke(admin, PATH, 3, "leaked in a log");
  await until(fails("is revoked"));

  await a.rollback(admin, PATH, 2);
  await until(reads("two@4"));
  expect(await caching()).toBe(true);
  await a.setMetadata(admin, PATH, { expiresAt: "2026-01-01T00:00:00Z" });
  await until(fails("expired"));
  await a.setMetadata(admin, PATH, { expiresAt: null });
  await until(reads("two@4"));
});

test("the listener's connection killed: B reads the database until it listens again, then caches", async () => {
  await a.put(admin, PATH, { v: "five" });
  await until(reads("five"));
  expect(await caching()).toBe(true);

  // No new connection to the database while the listeners are gone: the outage lasts.
  await admin_(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
  try {
    await admin_(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${dbName}' AND query LIKE 'LISTEN %'`,
    );
    const deadline = Date.now() + 2000;
    while (await caching()) {
      if (Date.now() > deadline) throw new Error("B still caches with its listener gone");
      await sleep(10);
    }
    // A's NOTIFY reaches nobody; B reads the database, so sees it at once.
    await a.put(admin, PATH, { v: "six" });
    expect(await readB()).toMatchObject({ value: expect.stringMatching(/^six@/), cached: false });
    expect(await readB()).toMatchObject({ value: expect.stringMatching(/^six@/), cached: false });
  } finally {
    await admin_(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
  }
  await until((r) => r.cached && reads("six")(r), 10_000);
  await a.put(admin, PATH, { v: "seven" });
  await until(reads("seven"));
});

test("PostgreSQL restarted while both servers run: no stale read afterwards", async () => {
  await a.put(admin, PATH, { v: "eight" });
  await until(reads("eight"));
  expect(await caching()).toBe(true);

  await server.halt();
  await server.resume();
  // The pools' old connections are dead: retry A's write until it goes through.
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await a.put(admin, PATH, { v: "nine" });
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
  // B's first read that succeeds already sees the new version.
  const first = Date.now() + 10_000;
  for (;;) {
    const r = await readB();
    if (!(r.value instanceof Error)) {
      expect(r.value).toMatch(/^nine@/);
      break;
    }
    if (Date.now() > first) throw r.value;
    await sleep(50);
  }
  await until((r) => r.cached && reads("nine")(r), 10_000);
  await a.put(admin, PATH, { v: "ten" });
  await until(reads("ten"));
});
