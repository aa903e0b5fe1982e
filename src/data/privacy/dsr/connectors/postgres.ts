// PostgreSQL connector: parameterised statements only; every identifier from the data map goes
// through pg's escapeIdentifier, so a hostile column or table name stays a (missing) name.
import pg from "pg";
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
  topOf,
  where,
} from "./shared.ts";

const q = (name: string): string => {
  if (name.includes("\0")) throw new Invalid("identifier contains a NUL character");
  return pg.escapeIdentifier(name);
};

export interface PostgresConnectorOptions {
  url: string;
  options?: Record<string, string>;
  /** Pool size; a DSR touches one collection at a time, so a few connections suffice. */
  max?: number;
}

/** Opens a pool (lazily connecting) for one privacy connection to PostgreSQL. */
export function postgresConnector(opts: PostgresConnectorOptions): Connector {
  const ctx: ErrorContext = { type: "postgres", url: opts.url, secrets: secretsOf(opts.url, opts.options) };
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 4,
    connectionTimeoutMillis: Number(opts.options?.connectTimeoutMs ?? 5000),
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on("error", () => {});

  const tableOf = (c: Collection) => {
    const { schema, table } = splitQualified(storeAddress(c, "sql")?.table ?? c.name);
    return { schema, table, sql: schema ? `${q(schema)}.${q(table)}` : q(table) };
  };

  const selectList = (c: Collection): string => {
    const cols = new Set([...primaryKeyOf(c), ...mappedTopLevel(c)]);
    return [...cols].map(q).join(", ");
  };

  const toRows = (c: Collection, rows: Record<string, unknown>[]): FoundRow[] => {
    const pk = primaryKeyOf(c);
    return rows.map((r) => ({ id: sqlRowId(pk, r), values: r }));
  };

  /** The SQL expression for a (possibly nested jsonb) path, adding its parameters. */
  const pathExpr = (path: string, params: unknown[]): string => {
    const [top, ...rest] = path.split(".");
    if (rest.length === 0) return q(top ?? path);
    params.push(rest);
    // #>> extracts text at a path inside a json/jsonb column
    return `(${q(top ?? path)} #>> $${params.length}::text[])`;
  };

  return {
    type: "postgres",

    async find(collection, path, values) {
      if (values.length === 0) return [];
      const t = tableOf(collection);
      const params: unknown[] = [];
      const nested = path.includes(".");
      const expr = pathExpr(path, params);
      const field = fieldAt(collection, path);
      const isArray = !nested && !!field?.dataType?.endsWith("[]") && field.dataType !== "object[]";
      params.push(nested ? values.map((v) => String(v)) : values.map((v) => toParam(v, field?.dataType)));
      const p = `$${params.length}`;
      // array columns match when any element is one of the values (&&); scalars by = any
      const cond = nested
        ? `${expr} = any(${p}::text[])`
        : isArray
          ? `${expr} && ${p}`
          : `${expr} = any(${p})`;
      const sql = `select ${selectList(collection)} from ${t.sql} where ${cond}`;
      const res = await guarded(ctx, collection, () => pool.query(sql, params));
      return toRows(collection, res.rows);
    },

    async findBefore(collection, path, before, limit) {
      const t = tableOf(collection);
      const params: unknown[] = [];
      let expr = pathExpr(path, params);
      if (path.includes(".")) expr = `${expr}::timestamptz`;
      params.push(before, Math.max(0, Math.floor(limit)));
      const sql = `select ${selectList(collection)} from ${t.sql} where ${expr} < $${params.length - 1} order by ${expr} asc limit $${params.length}`;
      const res = await guarded(ctx, collection, () => pool.query(sql, params));
      return toRows(collection, res.rows);
    },

    async delete(collection, rows) {
      if (rows.length === 0) return 0;
      const t = tableOf(collection);
      const pk = primaryKeyOf(collection);
      const keys = rows.map((r) => parseSqlRowId(collection, pk, r.id));
      return guarded(ctx, collection, () =>
        inTransaction(pool, async (client) => {
          let deleted = 0;
          for (const batch of chunks(keys, 500)) {
            const params: unknown[] = [];
            let cond: string;
            if (pk.length === 1) {
              params.push(batch.map((k) => k[0]));
              cond = `${q(pk[0] ?? "")} = any($1)`;
            } else {
              cond = batch
                .map(
                  (k) =>
                    `(${pk.map((col, i) => (params.push(k[i]), `${q(col)} = $${params.length}`)).join(" and ")})`,
                )
                .join(" or ");
            }
            const res = await client.query(`delete from ${t.sql} where ${cond}`, params);
            deleted += res.rowCount ?? 0;
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
      const statements = work.map((change) => updateStatement(collection, t.sql, pk, change));
      return guarded(ctx, collection, () =>
        inTransaction(pool, async (client) => {
          let changed = 0;
          for (const s of statements) changed += (await client.query(s.sql, s.params)).rowCount ?? 0;
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
        let rows: { column_name: string }[];
        try {
          const res = await pool.query<{ column_name: string }>(
            `select column_name from information_schema.columns
              where table_schema = coalesce($1, current_schema()) and table_name = $2`,
            [t.schema ?? null, t.table],
          );
          rows = res.rows;
        } catch (err) {
          if (isUnreachable(err)) {
            problems.push(
              `postgres store at ${safeLocation(opts.url)} is unreachable: ${scrub((err as Error).message, ctx.secrets)}`,
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
        const have = new Set(rows.map((r) => r.column_name));
        for (const col of new Set([...mappedTopLevel(c)]))
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

/** One UPDATE that only touches the row when a value differs, so a repeat changes nothing. */
function updateStatement(
  collection: Collection,
  table: string,
  pk: readonly string[],
  change: RowChange,
): { sql: string; params: unknown[] } {
  const key = parseSqlRowId(collection, pk, change.row.id);
  const params: unknown[] = [];
  const sets: string[] = [];
  const differs: string[] = [];
  for (const [name, value] of Object.entries(change.set)) {
    if (name.includes("."))
      throw new Invalid(`update of '${name}': set takes top-level columns`, where(collection));
    params.push(toParam(value, fieldAt(collection, topOf(name))?.dataType));
    sets.push(`${q(name)} = $${params.length}`);
    differs.push(`${q(name)} is distinct from $${params.length}`);
  }
  const keyCond = pk.map((col, i) => (params.push(key[i]), `${q(col)} = $${params.length}`)).join(" and ");
  return {
    sql: `update ${table} set ${sets.join(", ")} where ${keyCond} and (${differs.join(" or ")})`,
    params,
  };
}

/** A JS value as a pg parameter: objects (and arrays of non-array types) as JSON for json/jsonb. */
function toParam(value: unknown, dataType?: string): unknown {
  if (value === undefined) return null;
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value) && dataType?.endsWith("[]") && dataType !== "object[]") return value;
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return value;
}

async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    const out = await fn(client);
    await client.query("commit");
    return out;
  } catch (err) {
    await client.query("rollback").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
