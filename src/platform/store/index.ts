// Durable state: one Kysely instance over embedded PGlite (default) or PostgreSQL, with
// versioned migrations that every module contributes and that run at start.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PGliteDialect, PostgresDialect, sql } from "kysely";
import { type Migration, Migrator } from "kysely/migration";
import pg from "pg";
import { Unavailable } from "../errors.ts";
import { type Listener, type ListenHandlers, listenPostgres } from "./listen.ts";
import { copyOutPostgres } from "./pg-copy.ts";

export type { Listener, ListenHandlers } from "./listen.ts";

export type StoreKind = "pglite" | "postgres";

export interface Store {
  readonly kind: StoreKind;
  /** Untyped handle; modules narrow it to their own tables with `db.withTables<T>()`. */
  readonly db: Kysely<object>;
  ping(): Promise<boolean>;
  /**
   * Streams the rows of `select` in PostgreSQL's binary COPY format to `onData` (feed them to
   * `createCopyDecoder`): for reads of a whole table, where building row objects would cost more
   * than the read. A chunk is valid only during the call. Sorting is disabled for the statement, so
   * an ORDER BY must match an index and rows flow from the first one. COPY takes no bind
   * parameters: values go in as `sqlLiteral`s. If `onData` throws, the rest is drained and the
   * promise rejects with that error.
   */
  copyOut(select: string, onData: (chunk: Uint8Array) => void): Promise<void>;
  /**
   * LISTENs on `channel` over a dedicated connection, reconnecting with a bounded backoff; resolves
   * after the first attempt to connect, listening or not. PostgreSQL only: PGlite belongs to one
   * process, so there is no other server to hear from, and it has none.
   */
  listen?(channel: string, handlers: ListenHandlers): Promise<Listener>;
  /** Closes the pool and every listener. */
  close(): Promise<void>;
}

// Without fresh statistics the planner sorts a range it thinks is small, and no row arrives until the
// sort is done; a COPY's reader wants rows in index order from the first.
const STREAMING_PLAN = "SET LOCAL enable_sort = off";

/** A string as a quoted SQL literal, for the statements (COPY) that take no bind parameters. */
export const sqlLiteral: (value: string) => string = pg.escapeLiteral;

// How node-postgres reports a database it cannot reach: socket errors, SQLSTATE class 08
// (connection exception) and 57P0x (shutting down, cannot connect now), and its own pool messages.
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND"]);
const UNREACHABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed/;

/** Whether `err` (or its cause) says the database cannot be reached right now, rather than that a statement failed. */
export function databaseUnreachable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (
      typeof code === "string" &&
      (UNREACHABLE_CODES.has(code) || code.startsWith("08") || /^57P0[123]$/.test(code))
    )
      return true;
    if (UNREACHABLE_MESSAGE.test(e.message)) return true;
  }
  return false;
}

const hasCode = (err: unknown, code: string): boolean => {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++)
    if ((e as { code?: unknown }).code === code) return true;
  return false;
};

/** Whether `err` (or its cause) is PostgreSQL refusing a write because it is read-only (SQLSTATE 25006). */
export const databaseReadOnly = (err: unknown): boolean => hasCode(err, "25006");

/** Whether `err` (or its cause) is the database out of disk space (SQLSTATE 53100): PGlite's data directory or a server's. */
export const databaseDiskFull = (err: unknown): boolean => hasCode(err, "53100");

export interface StoreOptions {
  /** postgres:// URL; absent means embedded PGlite in `dataDir`. */
  url?: string | undefined;
  dataDir?: string;
  /** Migrations by name; names sort into the order they run (date-prefixed: `2026-11-22-01-audit`). */
  migrations?: Record<string, Migration>;
  poolSize?: number;
}

// int8 (bigint) columns come back as JS numbers: sequence numbers and counts stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

/** Opens the store and applies pending migrations; fails with `Unavailable` if the database cannot be reached. */
export async function openStore(opts: StoreOptions): Promise<Store> {
  const store = opts.url
    ? openPostgres(opts.url, opts.poolSize ?? 10)
    : await openPglite(opts.dataDir ?? ".rampart");
  try {
    await migrate(store.db, opts.migrations ?? {});
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}

function openPostgres(url: string, max: number): Store {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000 });
  // An idle client that loses its server emits 'error'; the pool replaces it on next use. A client
  // checked out when the server goes (shutdown, restart) emits it too, besides failing its query:
  // without a listener that would be an uncaught exception.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  const db = new Kysely<object>({ dialect: new PostgresDialect({ pool }) });
  const listeners = new Set<Listener>();
  return {
    kind: "postgres",
    db,
    ping: () => pingDb(db),
    copyOut: (select, onData) =>
      copyOutPostgres(
        pool,
        `BEGIN READ ONLY; ${STREAMING_PLAN}; COPY (${select}) TO STDOUT (FORMAT binary); COMMIT`,
        onData,
      ),
    async listen(channel, handlers) {
      const l = await listenPostgres(url, channel, handlers);
      listeners.add(l);
      return {
        get listening() {
          return l.listening;
        },
        close: () => {
          listeners.delete(l);
          return l.close();
        },
      };
    },
    async close() {
      await Promise.all([...listeners].map((l) => l.close()));
      listeners.clear();
      await db.destroy();
    },
  };
}

// No `listen`: every write to an embedded PGlite passes through this process.
async function openPglite(dataDir: string): Promise<Store> {
  const dir = resolve(dataDir, "pg");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lite = await PGlite.create(dir);
  const db = new Kysely<object>({ dialect: new PGliteDialect({ pglite: lite }) });
  return {
    kind: "pglite",
    db,
    ping: () => pingDb(db),
    async copyOut(select, onData) {
      // Holding Kysely's one connection keeps the read out of any transaction in progress on it.
      const bytes = await db.connection().execute(() =>
        lite.transaction(async (tx) => {
          await tx.query(STREAMING_PLAN);
          const res = await tx.query(`COPY (${select}) TO '/dev/blob' WITH (FORMAT binary)`);
          return new Uint8Array(await (res.blob as Blob).arrayBuffer());
        }),
      );
      onData(bytes);
    },
    close: () => db.destroy(),
  };
}

async function pingDb(db: Kysely<object>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}

async function migrate(db: Kysely<object>, migrations: Record<string, Migration>): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: "rampart_migrations",
    migrationLockTableName: "rampart_migrations_lock",
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    const why = (error as Error).message;
    // Kysely's words for a schema with migrations this release does not have.
    if (why.startsWith("corrupted migrations"))
      throw new Unavailable(
        `the database was migrated by a newer Rampart release (${why}); run that release, or restore a backup taken before the upgrade`,
        { cause: error },
      );
    throw new Unavailable(
      failed ? `database migration ${failed} failed: ${why}` : `cannot reach the database: ${why}`,
      {
        cause: error,
      },
    );
  }
}
