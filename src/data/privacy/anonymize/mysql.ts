// MySQL and MariaDB ends of a copy: the catalog from information_schema and SHOW CREATE TABLE,
// rows streamed from a consistent snapshot, writes as multi-row INSERTs with foreign key checks
// off during the load (any order, cycles too) and the constraints added (and checked) after it.
import type { Connection as CoreConnection } from "mysql2";
import mysql from "mysql2/promise";
import { Unavailable } from "../../../platform/errors.ts";
import type { Catalog, ColumnInfo, ColumnKind, ForeignKey, TableInfo } from "./catalog.ts";
import type { Cell } from "./cells.ts";
import { safeUrl, scrubbed, type SourceDatabase, type TargetDatabase } from "./endpoint.ts";

const q = (name: string): string => `\`${name.replaceAll("`", "``")}\``;
const binaryTypes = new Set(["binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob"]);

async function connect(url: URL, role: string): Promise<mysql.Connection> {
  try {
    const conn = await mysql.createConnection({
      uri: url.href,
      connectTimeout: 10_000,
      charset: "utf8mb4",
      // Values travel as the server's own text (bytes for binary columns), never as JS numbers or Dates.
      typeCast: (field) => field.buffer(),
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
    conn.on("error", () => {});
    return conn;
  } catch (err) {
    throw new Unavailable(`cannot connect to the ${role} database ${safeUrl(url)}: ${scrubbed(err, url)}`);
  }
}

function kindOf(dataType: string, columnType: string): ColumnKind {
  if (["varchar", "char", "text", "tinytext", "mediumtext", "longtext"].includes(dataType)) return "text";
  if (["tinyint", "smallint", "mediumint", "int", "bigint"].includes(dataType)) return "integer";
  if (dataType === "decimal") return "numeric";
  if (dataType === "float" || dataType === "double") return "float";
  if (dataType === "date") return "date";
  if (dataType === "datetime" || dataType === "timestamp") return "timestamp";
  if (dataType === "json") return "json";
  if (binaryTypes.has(dataType)) return "binary";
  return columnType === "uuid" ? "uuid" : "other";
}

const intMax: Record<string, number> = {
  tinyint: 127,
  smallint: 32_767,
  mediumint: 8_388_607,
  int: 2_147_483_647,
};

interface ColumnRow {
  table_name: string;
  column_name: string;
  data_type: string;
  column_type: string;
  is_nullable: string;
  max_length: number | null;
  numeric_precision: number | null;
  numeric_scale: number | null;
  extra: string;
}

// information_schema comes back as Buffers (typeCast above); catalog reads want plain values.
const plain = (v: unknown): unknown => (Buffer.isBuffer(v) ? v.toString("utf8") : v);
async function select<T>(conn: mysql.Connection, sql: string, values: unknown[] = []): Promise<T[]> {
  const [rows] = await conn.query({ sql, values, typeCast: true } as mysql.QueryOptions);
  return (rows as Record<string, unknown>[]).map(
    (r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.toLowerCase(), plain(v)])) as T,
  );
}

export async function openMysqlSource(url: URL): Promise<SourceDatabase> {
  const conn = await connect(url, "source");
  const showCreate = new Map<string, string>();
  return {
    dialect: "mysql",
    async catalog(): Promise<Catalog> {
      const tables = await select<{ name: string }>(
        conn,
        `select table_name as name from information_schema.tables
          where table_schema = database() and table_type = 'BASE TABLE' order by 1`,
      );
      const columns = await select<ColumnRow>(
        conn,
        `select table_name, column_name, data_type, column_type, is_nullable,
                character_maximum_length as max_length, numeric_precision, numeric_scale, extra
           from information_schema.columns where table_schema = database()
          order by table_name, ordinal_position`,
      );
      const keys = await select<{
        table_name: string;
        constraint_name: string;
        column_name: string;
        referenced_table_name: string | null;
        referenced_column_name: string | null;
      }>(
        conn,
        `select table_name, constraint_name, column_name, referenced_table_name, referenced_column_name
           from information_schema.key_column_usage
          where table_schema = database()
            and (constraint_name = 'PRIMARY' or referenced_table_schema = database())
          order by table_name, constraint_name, ordinal_position`,
      );
      const out = new Map<string, TableInfo>();
      for (const { name } of tables) out.set(name, { name, columns: [], primaryKey: [] });
      for (const r of columns) {
        const t = out.get(r.table_name);
        if (!t) continue;
        const type = String(r.column_type);
        const unsigned = type.includes("unsigned");
        const col: ColumnInfo = {
          name: r.column_name,
          type,
          kind: kindOf(r.data_type, type),
          nullable: r.is_nullable === "YES",
          generated: /GENERATED/i.test(r.extra ?? ""),
        };
        if (r.max_length !== null && r.max_length !== undefined) col.length = Number(r.max_length);
        const max = intMax[r.data_type];
        if (max !== undefined) col.max = type.startsWith("tinyint(1)") ? 1 : unsigned ? max * 2 + 1 : max;
        if (col.kind === "numeric" && r.numeric_precision !== null)
          col.max = 10 ** Math.min(15, Number(r.numeric_precision) - Number(r.numeric_scale ?? 0)) - 1;
        t.columns.push(col);
      }
      const fks = new Map<string, ForeignKey>();
      for (const k of keys) {
        const t = out.get(k.table_name);
        if (!t) continue;
        if (k.constraint_name === "PRIMARY") t.primaryKey.push(k.column_name);
        else if (k.referenced_table_name && out.has(k.referenced_table_name)) {
          const id = `${k.table_name}.${k.constraint_name}`;
          const fk = fks.get(id) ?? {
            name: k.constraint_name,
            table: k.table_name,
            columns: [],
            refTable: k.referenced_table_name,
            refColumns: [],
          };
          fk.columns.push(k.column_name);
          fk.refColumns.push(k.referenced_column_name as string);
          fks.set(id, fk);
        }
      }
      return { tables: out, foreignKeys: [...fks.values()] };
    },
    async begin() {
      await conn.query("set session transaction isolation level repeatable read");
      await conn.query("start transaction with consistent snapshot");
    },
    async count(table) {
      const [r] = await select<{ n: string }>(conn, `select count(*) as n from ${q(table.name)}`);
      return Number(r?.n ?? 0);
    },
    async *rows(table, columns, batch) {
      const isBinary = columns.map((c) => table.columns.find((x) => x.name === c)?.kind === "binary");
      const list = columns.length > 0 ? columns.map(q).join(", ") : "null";
      // A streamed result: the driver pauses the socket while this generator's consumer is busy.
      // The promise wrapper keeps the callback connection, which alone can stream.
      const core = (conn as unknown as { connection: CoreConnection }).connection;
      const stream = core
        .query({ sql: `select ${list} from ${q(table.name)}`, rowsAsArray: true })
        .stream({ highWaterMark: batch });
      let rows: Cell[][] = [];
      for await (const raw of stream as AsyncIterable<Array<Buffer | null>>) {
        rows.push(raw.map((v, i) => (v === null ? null : isBinary[i] ? v : v.toString("utf8"))));
        if (rows.length >= batch) {
          yield rows;
          rows = [];
        }
      }
      if (rows.length > 0) yield rows;
    },
    async definition(table) {
      let text = showCreate.get(table.name);
      if (!text) {
        const [row] = await select<Record<string, string>>(conn, `show create table ${q(table.name)}`);
        text = String(row?.["create table"] ?? "");
        showCreate.set(table.name, text);
      }
      const lines = text.split("\n");
      const keep: string[] = [];
      const after: string[] = [];
      const checks: string[] = [];
      for (const line of lines) {
        const body = line.trim().replace(/,$/, "");
        if (/^CONSTRAINT .* FOREIGN KEY /i.test(body)) after.push(`alter table ${q(table.name)} add ${body}`);
        else if (/^CONSTRAINT .* CHECK /i.test(body)) checks.push(`alter table ${q(table.name)} add ${body}`);
        else keep.push(line);
      }
      // Dropping lines can leave a comma before the closing parenthesis.
      const create = keep
        .join("\n")
        .replace(/,(\s*\n\))/, "$1")
        .replace(/ AUTO_INCREMENT=\d+/, "");
      return { create: [create], after, checks };
    },
    async end() {
      await conn.query("commit");
    },
    close: () => conn.end().catch(() => {}),
  };
}

const MAX_PACKET_BYTES = 4 * 1024 * 1024;

export async function openMysqlTarget(url: URL): Promise<TargetDatabase> {
  const conn = await connect(url, "target");
  return {
    dialect: "mysql",
    binaryAsText: false,
    async existing(names) {
      const out = new Map<string, { columns: Set<string>; empty: boolean }>();
      if (names.length === 0) return out;
      const rows = await select<{ table_name: string; column_name: string }>(
        conn,
        `select table_name, column_name from information_schema.columns
          where table_schema = database() and table_name in (?)`,
        [names],
      );
      for (const r of rows) {
        const t = out.get(r.table_name) ?? { columns: new Set<string>(), empty: true };
        t.columns.add(r.column_name);
        out.set(r.table_name, t);
      }
      for (const [name, t] of out)
        t.empty = (await select(conn, `select 1 from ${q(name)} limit 1`)).length === 0;
      return out;
    },
    async begin() {
      // DDL commits implicitly in MySQL: the load is not one transaction; references are checked after it.
      await conn.query("set foreign_key_checks = 0");
    },
    async exec(statement) {
      if (/^alter table .* add CONSTRAINT .* FOREIGN KEY/i.test(statement))
        await conn.query("set foreign_key_checks = 1");
      await conn.query(statement);
    },
    async insert(table, columns, _types, rows) {
      let start = 0;
      let bytes = 0;
      const flush = async (end: number) => {
        if (end > start)
          await conn.query(`insert into ${q(table)} (${columns.map(q).join(", ")}) values ?`, [
            rows.slice(start, end),
          ]);
        start = end;
        bytes = 0;
      };
      for (let i = 0; i < rows.length; i++) {
        for (const v of rows[i] as Cell[]) bytes += v === null ? 4 : v.length * 2 + 4;
        if (bytes > MAX_PACKET_BYTES) await flush(i + 1);
      }
      await flush(rows.length);
    },
    async tryExec(statement) {
      try {
        await conn.query(statement);
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
    async commit() {
      await conn.query("set foreign_key_checks = 1");
    },
    async rollback() {
      await conn.query("set foreign_key_checks = 1").catch(() => {});
    },
    close: () => conn.end().catch(() => {}),
  };
}
