// The two ends of a copy. Source and target are the same kind of database; each dialect reads its
// own catalog, streams rows from a consistent snapshot, and writes batches in one session.
import { Invalid } from "../../../platform/errors.ts";
import type { Catalog, TableInfo } from "./catalog.ts";
import type { Cell } from "./cells.ts";

export type Dialect = "postgres" | "mysql";

export interface SourceDatabase {
  readonly dialect: Dialect;
  catalog(): Promise<Catalog>;
  /** Starts a read-only snapshot: every table is read as of the same moment. */
  begin(): Promise<void>;
  count(table: TableInfo): Promise<number>;
  /** Rows of `columns` in batches of at most `batch`, in the order of `columns`. */
  rows(table: TableInfo, columns: readonly string[], batch: number): AsyncIterable<Cell[][]>;
  /** Statements that rebuild the table in an empty target: before the data, and after it. */
  definition(
    table: TableInfo,
    catalog: Catalog,
  ): Promise<{ create: string[]; after: string[]; checks: string[] }>;
  end(): Promise<void>;
  close(): Promise<void>;
}

export interface TargetDatabase {
  readonly dialect: Dialect;
  /** Bytea is written as `\x…` text (PostgreSQL) rather than raw bytes. */
  readonly binaryAsText: boolean;
  /** Tables that exist, with their columns and whether they hold rows. */
  existing(names: readonly string[]): Promise<Map<string, { columns: Set<string>; empty: boolean }>>;
  begin(): Promise<void>;
  exec(statement: string): Promise<void>;
  /** Writes rows; `types` are the columns' types as the source names them. */
  insert(
    table: string,
    columns: readonly string[],
    types: readonly string[],
    rows: readonly Cell[][],
  ): Promise<void>;
  /** Runs a statement that may fail without ending the copy (CHECK constraints masked data breaks). */
  tryExec(statement: string): Promise<string | undefined>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  close(): Promise<void>;
}

/** A database URL without its password, for messages. */
export function safeUrl(url: URL): string {
  return `${url.protocol}//${url.username ? `${decodeURIComponent(url.username)}@` : ""}${url.host}${url.pathname}`;
}

/** Parses `--from`/`--to`; the text itself never appears in the error (it may hold a password). */
export function parseDatabaseUrl(raw: string, where: string): { url: URL; dialect: Dialect } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Invalid(
      "is not a database URL (expected postgres://user:password@host:port/db or mysql://…)",
      where,
    );
  }
  const dialect =
    url.protocol === "postgres:" || url.protocol === "postgresql:"
      ? "postgres"
      : url.protocol === "mysql:" || url.protocol === "mariadb:"
        ? "mysql"
        : undefined;
  if (!dialect)
    throw new Invalid(
      `${url.protocol} URLs are not supported; use postgres:// or mysql:// (MariaDB too)`,
      where,
    );
  if (url.pathname.length <= 1) throw new Invalid(`${safeUrl(url)} names no database`, where);
  return { url, dialect };
}

/** The message of a driver error with every secret of `url` removed. */
export function scrubbed(err: unknown, url: URL): string {
  let m = err instanceof Error ? err.message : String(err);
  for (const s of [url.password, decodeURIComponent(url.password), url.href])
    if (s) m = m.split(s).join("***");
  return m;
}
