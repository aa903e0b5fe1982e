// The store on both backends: migrations run once and in order, data survives a reopen, and an
// unreachable database gives a clear, retryable error.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import pino from "pino";
import type { Migration } from "kysely/migration";
import { describe, expect, test } from "vitest";
import { defaultConfig } from "../src/config/index.ts";
import { Unavailable } from "../src/platform/errors.ts";
import { createCopyDecoder } from "../src/platform/store/copy.ts";
import { openStore, sqlLiteral } from "../src/platform/store/index.ts";
import { startRuntime } from "../src/server/runtime.ts";
import { freePort } from "./support/services.ts";
import { backends, openTestStore } from "./support/stores.ts";

const applied: string[] = [];
const migrations: Record<string, Migration> = {
  "2026-01-02-01-second": {
    async up(db) {
      applied.push("second");
      await sql`alter table notes add column author text`.execute(db);
    },
  },
  "2026-01-01-01-first": {
    async up(db) {
      applied.push("first");
      await sql`create table notes (id int primary key, text text not null)`.execute(db);
    },
  },
};

describe.each(backends)("store on %s", (backend) => {
  test("migrations apply once, in name order, and data survives a reopen", async () => {
    applied.length = 0;
    const ts = await openTestStore(backend, migrations);
    try {
      expect(applied).toEqual(["first", "second"]);
      expect(ts.store.kind).toBe(backend);
      expect(await ts.store.ping()).toBe(true);
      await sql`insert into notes (id, text, author) values (1, 'kept', 'ops')`.execute(ts.store.db);
      await ts.store.close();
      const again = await ts.reopen();
      expect(applied).toEqual(["first", "second"]);
      const { rows } = await sql<{ text: string }>`select text from notes`.execute(again.db);
      expect(rows).toEqual([{ text: "kept" }]);
      if (backend === "pglite") {
        // The embedded database lives in a directory only its owner can read.
        expect(statSync(join(ts.location.dataDir, "pg")).mode & 0o777).toBe(0o700);
      }
    } finally {
      await ts.cleanup();
    }
  });

  test("a failing migration stops the start and names the migration", async () => {
    const ts = await openTestStore(backend, {});
    try {
      await ts.store.close();
      const broken = {
        "2026-03-01-01-broken": {
          up: async (db: never) => void (await sql`select * from nowhere`.execute(db)),
        },
      };
      await expect(openStore({ ...ts.location, migrations: broken })).rejects.toThrow(
        /database migration 2026-03-01-01-broken failed: relation "nowhere" does not exist/,
      );
    } finally {
      await ts.cleanup();
    }
  });

  test("copyOut streams a whole table in index order, and a failing reader leaves the store usable", async () => {
    const ts = await openTestStore(backend, migrations);
    try {
      const hostile = "it's -- a \\ 'quoted' value";
      await sql`insert into notes (id, text, author) select g, 'note ' || g, case when g % 3 = 0 then null else ${hostile} end from generate_series(1, 2500) g`.execute(
        ts.store.db,
      );
      const read = async (select: string) => {
        const rows: [number | null, string | null, string | null][] = [];
        const decoder = createCopyDecoder((r) => rows.push([r.int64(0), r.text(1), r.text(2)]));
        await ts.store.copyOut(select, (chunk) => decoder.push(chunk));
        decoder.end();
        return rows;
      };
      const rows = await read(
        `select id::int8, text, author from notes where author = ${sqlLiteral(hostile)} or author is null order by id desc`,
      );
      expect(rows).toHaveLength(2500);
      expect(rows[0]).toEqual([2500, "note 2500", hostile]);
      expect(rows[1]).toEqual([2499, "note 2499", null]);
      expect(rows.map((r) => r[0])).toEqual([...Array(2500).keys()].map((i) => 2500 - i));

      const failure = new Error("reader gave up");
      await expect(
        ts.store.copyOut("select id::int8 from notes order by id", () => {
          throw failure;
        }),
      ).rejects.toBe(failure);
      await expect(ts.store.copyOut("select nonsense from notes", () => {})).rejects.toThrow(/nonsense/);
      expect(await read("select id::int8, text, author from notes where id = 7")).toEqual([
        [7, "note 7", hostile],
      ]);
    } finally {
      await ts.cleanup();
    }
  });
});

test("an unreachable PostgreSQL fails fast with Unavailable and no password in the message", async () => {
  const port = await freePort();
  const started = Date.now();
  const err = await openStore({ url: `postgres://rampart:hunter2@127.0.0.1:${port}/x` }).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Unavailable);
  expect((err as Error).message).toMatch(
    /^cannot reach the database: connect ECONNREFUSED 127\.0\.0\.1:\d+$/,
  );
  expect((err as Error).message).not.toContain("hunter2");
  expect(Date.now() - started).toBeLessThan(10_000);
});

test("a lost audit key is refused at start instead of silently replaced", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "rampart-lostkey-"));
  try {
    const base = defaultConfig();
    const config = { ...base, database: { dataDir } };
    const rt = await startRuntime({ config, logger: pino({ level: "silent" }) });
    await rt.close();
    rmSync(join(dataDir, "keys"), { recursive: true });
    await expect(startRuntime({ config, logger: pino({ level: "silent" }) })).rejects.toThrow(
      /audit\.keyFile: audit key file .*audit\.json is missing, but the audit log already holds entries; restore the key file from backup/,
    );
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
