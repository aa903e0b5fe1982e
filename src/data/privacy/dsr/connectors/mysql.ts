// MySQL/MariaDB connector: server-side prepared statements (execute) with one placeholder per
// value, so no value is ever spliced into SQL text; identifiers from the map are backtick-quoted.
import mysql from "mysql2/promise";
import { Invalid } from "../../../../platform/errors.ts";
import type { Collection } from "../../map/model.ts";
import type { Connector, FoundRow, RowChange } from "../types.ts";
import {
  chunks,
  type ErrorContext,
  fieldAt,
  guarded,
  isUnreachable,
  mappedTopLevel,
  parseSqlRowId,
  primaryKeyOf,
  safeLocation,
  scrub,
  secretsOf,
  splitQualified,
  sqlRowId,
  storeAddress,
  where,
} from "./shared.ts";

/** Backtick quoting (a backtick inside is doubled); dots stay part of the name. */
const q = (name: string): string => {
  if (name.includes("\0")) throw new Invalid("identifier contains a NUL character");
  return `\`${name.replaceAll("`", "``")}\``;
};

/** A JSON path literal for keys below a column, each key quoted: $."a"."b". */
const jsonPath = (keys: readonly string[]): string =>
  `$${keys.map((k) => `."${k.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join("")}`;

const placeholders = (n: number): string => Array.from({ length: n }, () => "?").join(", ");

export interface MysqlConnectorOptions {
  url: string;
  options?: Record<string, string>;
  max?: number;
}

type Param = string | number | boolean | Date | Buffer | null;

/** Opens a pool (lazily connecting) for one privacy connection to MySQL or MariaDB. */
export function mysqlConnector(opts: MysqlConnectorOptions): Connector {
  const ctx: ErrorContext = { type: "mysql", url: opts.url, secrets: secretsOf(opts.url, opts.options) };
  const pool = mysql.createPool({
    uri: opts.url,
    connectionLimit: opts.max ?? 4,
    connectTimeout: Number(opts.options?.connectTimeoutMs ?? 5000),
    // DATETIME/TIMESTAMP values are read and written as UTC
    timezone: "Z",
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  // A pooled connection losing its server must not crash the process.
  pool.on("connection", (conn) => conn.on("error", () => {}));

  const tableOf = (c: Collection) => {
    const { schema, table } = splitQualified(storeAddress(c, "sql")?.table ?? c.name);
    return { schema, table, sql: schema ? `${q(schema)}.${q(table)}` : q(table) };
  };

  const selectList = (c: Collection): string =>
    [...new Set([...primaryKeyOf(c), ...mappedTopLevel(c)])].map(q).join(", ");

  const toRows = (c: Collection, rows: Record<string, unknown>[]): FoundRow[] => {
    const pk = primaryKeyOf(c);
    return rows.map((r) => ({ id: sqlRowId(pk, r), values: { ...r } }));
  };

  const exec = async (collection: Collection, sql: string, params: Param[]) =>
    guarded(ctx, collection, async () => (await pool.execute(sql, params))[0]);

  return {
    type: "mysql",

    async find(collection, path, values) {
      if (values.length === 0) return [];
      const t = tableOf(collection);
      const [top = path, ...rest] = path.split(".");
      const field = fieldAt(collection, path);
      const rows: Record<string, unknown>[] = [];
      for (const batch of chunks(values, 500)) {
        let cond: string;
        let params: Param[];
        if (rest.length > 0) {
          // nested path inside a JSON column: compare the unquoted scalar as text
          cond = `JSON_UNQUOTE(JSON_EXTRACT(${q(top)}, ?)) IN (${placeholders(batch.length)})`;
          params = [jsonPath(rest), ...batch.map((v) => String(v))];
        } else if (field?.dataType?.endsWith("[]")) {
          // a JSON array column matches when it contains any of the values
          cond = batch.map(() => `JSON_CONTAINS(${q(top)}, ?)`).join(" OR ");
          params = batch.map((v) => JSON.stringify(v));
        } else {
          cond = `${q(top)} IN (${placeholders(batch.length)})`;
          params = batch.map((v) => toParam(v));
        }
        const sql = `SELECT ${selectList(collection)} FROM ${t.sql} WHERE ${cond}`;
        rows.push(...((await exec(collection, sql, params)) as Record<string, unknown>[]));
      }
      return toRows(collection, rows);
    },

    async findBefore(collection, path, before, limit) {
      const t = tableOf(collection);
      const [top = path, ...rest] = path.split(".");
      const params: Param[] = [];
      let expr = q(top);
      if (rest.length > 0) {
        expr = `CAST(JSON_UNQUOTE(JSON_EXTRACT(${q(top)}, ?)) AS DATETIME(6))`;
        params.push(jsonPath(rest));
      }
      // LIMIT takes a literal in prepared statements on older servers: an integer we computed
      const n = Math.max(0, Math.floor(limit));
      const sql = `SELECT ${selectList(collection)} FROM ${t.sql} WHERE ${expr} < ? ORDER BY ${expr} ASC LIMIT ${n}`;
      const orderParams = rest.length > 0 ? [jsonPath(rest)] : [];
      const rows = await exec(collection, sql, [...params, before, ...orderParams]);
      return toRows(collection, rows as Record<string, unknown>[]);
    },

    async delete(collection, rows) {
      if (rows.length === 0) return 0;
      const t = tableOf(collection);
      const pk = primaryKeyOf(collection);
      const keys = rows.map((r) => parseSqlRowId(collection, pk, r.id).map((v) => toParam(v)));
      return guarded(ctx, collection, () =>
        inTransaction(pool, async (conn) => {
          let deleted = 0;
          for (const batch of chunks(keys, 500)) {
            const cond =
              pk.length === 1
                ? `${q(pk[0] ?? "")} IN (${placeholders(batch.length)})`
                : batch.map(() => `(${pk.map((c) => `${q(c)} = ?`).join(" AND ")})`).join(" OR ");
            const [res] = await conn.execute(`DELETE FROM ${t.sql} WHERE ${cond}`, batch.flat());
            deleted += (res as mysql.ResultSetHeader).affectedRows;
          }
          return deleted;
        }),
      );
    },

    async update(collection, changes) {
      const work = changes.filter((c) => Object.keys(c.set).length > 0);
      if (work.length === 0) return 0;
      const t = tableOf(collection);
      const pk = primaryKeyOf(collection);
      const statements = work.map((c) => updateStatement(collection, t.sql, pk, c));
      return guarded(ctx, collection, () =>
        inTransaction(pool, async (conn) => {
          let changed = 0;
          for (const s of statements) {
            const [res] = await conn.execute(s.sql, s.params);
            changed += (res as mysql.ResultSetHeader).affectedRows;
          }
          return changed;
        }),
      );
    },

    async check(collections) {
      const problems: string[] = [];
      for (const c of collections) {
        let t;
        try {
          t = tableOf(c);
        } catch (err) {
          problems.push((err as Error).message);
          continue;
        }
        let rows: { name: string }[];
        try {
          const [res] = await pool.execute(
            `SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS
              WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?`,
            [t.schema ?? null, t.table],
          );
          rows = res as { name: string }[];
        } catch (err) {
          if (isUnreachable(err)) {
            problems.push(
              `mysql store at ${safeLocation(opts.url)} is unreachable: ${scrub((err as Error).message, ctx.secrets)}`,
            );
            return problems;
          }
          problems.push(`${where(c)}: ${scrub((err as Error).message, ctx.secrets)}`);
          continue;
        }
        const name = t.schema ? `${t.schema}.${t.table}` : t.table;
        if (rows.length === 0) {
          problems.push(`${where(c)}: table '${name}' not found`);
          continue;
        }
        const have = new Set(rows.map((r) => r.name));
        for (const col of mappedTopLevel(c))
          if (!have.has(col)) problems.push(`${where(c)}: column '${col}' not found in table '${name}'`);
        if (!c.fields.some((f) => f.primaryKey)) problems.push(`${where(c)}: no field is marked primary_key`);
      }
      return problems;
    },

    async close() {
      await pool.end();
    },
  };
}

/** One UPDATE that only matches the row when a value differs (<=> is NULL-safe equality). */
function updateStatement(
  collection: Collection,
  table: string,
  pk: readonly string[],
  change: RowChange,
): { sql: string; params: Param[] } {
  const key = parseSqlRowId(collection, pk, change.row.id).map((v) => toParam(v));
  const entries = Object.entries(change.set).map(([name, value]) => {
    if (name.includes("."))
      throw new Invalid(`update of '${name}': set takes top-level columns`, where(collection));
    return [name, toParam(value)] as const;
  });
  const sets = entries.map(([n]) => `${q(n)} = ?`).join(", ");
  const differs = entries.map(([n]) => `NOT (${q(n)} <=> ?)`).join(" OR ");
  const keyCond = pk.map((c) => `${q(c)} = ?`).join(" AND ");
  return {
    sql: `UPDATE ${table} SET ${sets} WHERE ${keyCond} AND (${differs})`,
    params: [...entries.map(([, v]) => v), ...key, ...entries.map(([, v]) => v)],
  };
}

/** A JS value as a prepared-statement parameter: objects and arrays as JSON text. */
function toParam(value: unknown): Param {
  if (value === undefined || value === null) return null;
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "object") return JSON.stringify(value);
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  return String(value);
}

async function inTransaction<T>(
  pool: mysql.Pool,
  fn: (conn: mysql.PoolConnection) => Promise<T>,
): Promise<T> {
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const out = await fn(conn);
    await conn.commit();
    return out;
  } catch (err) {
    await conn.rollback().catch(() => {});
    throw err;
  } finally {
    conn.release();
  }
}
