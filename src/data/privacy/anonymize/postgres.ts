// PostgreSQL ends of a copy: the catalog from pg_catalog/information_schema, rows through a
// cursor in a REPEATABLE READ READ ONLY snapshot, writes as multi-row parameterised INSERTs in
// one transaction (the target is either complete or untouched).
import pg from "pg";
import { Invalid, Unavailable } from "../../../platform/errors.ts";
import type { Catalog, ColumnInfo, ColumnKind, ForeignKey, TableInfo } from "./catalog.ts";
import type { Cell } from "./cells.ts";
import { safeUrl, scrubbed, type SourceDatabase, type TargetDatabase } from "./endpoint.ts";

const q = (name: string): string => {
  if (name.includes("\0")) throw new Invalid("identifier contains a NUL character");
  return pg.escapeIdentifier(name);
};
// Values travel as the server's own text: no precision lost (bigint, numeric, timestamps' microseconds).
const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

async function connect(url: URL, role: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url.href, connectionTimeoutMillis: 10_000 });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw new Unavailable(`cannot connect to the ${role} database ${safeUrl(url)}: ${scrubbed(err, url)}`);
  }
  return client;
}

function kindOf(dataType: string, udt: string): ColumnKind {
  switch (dataType) {
    case "character varying":
    case "character":
    case "text":
      return "text";
    case "smallint":
    case "integer":
    case "bigint":
      return "integer";
    case "numeric":
      return "numeric";
    case "real":
    case "double precision":
      return "float";
    case "boolean":
      return "boolean";
    case "date":
      return "date";
    case "timestamp without time zone":
      return "timestamp";
    case "timestamp with time zone":
      return "timestamptz";
    case "uuid":
      return "uuid";
    case "json":
    case "jsonb":
      return "json";
    case "bytea":
      return "binary";
    case "inet":
    case "cidr":
      return "inet";
    default:
      return udt === "citext" ? "text" : "other";
  }
}

const intMax: Record<string, number> = { smallint: 32_767, integer: 2_147_483_647 };

interface ColumnRow {
  table_name: string;
  column_name: string;
  data_type: string;
  udt_name: string;
  column_type: string;
  character_maximum_length: number | null;
  numeric_precision: number | null;
  numeric_scale: number | null;
  is_nullable: string;
  column_default: string | null;
  is_identity: string;
  is_generated: string;
  generation_expression: string | null;
}

interface ConstraintRow {
  table: string;
  name: string;
  type: "p" | "f" | "u" | "c";
  def: string;
  columns: string[];
  ref_table: string | null;
  ref_columns: string[] | null;
}

export async function openPostgresSource(url: URL): Promise<SourceDatabase> {
  const client = await connect(url, "source");
  let columnRows: ColumnRow[] = [];
  let constraints: ConstraintRow[] = [];
  let indexes: Array<{ table: string; def: string; qualified: string }> = [];

  return {
    dialect: "postgres",
    async catalog(): Promise<Catalog> {
      const tables = await client.query<{ name: string }>(
        `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = current_schema() and c.relkind = 'r' and not c.relispartition order by 1`,
      );
      columnRows = (
        await client.query<ColumnRow>(
          `select col.table_name, col.column_name, col.data_type, col.udt_name,
                  format_type(a.atttypid, a.atttypmod) as column_type,
                  col.character_maximum_length, col.numeric_precision, col.numeric_scale, col.is_nullable,
                  col.column_default, col.is_identity, col.is_generated, col.generation_expression
             from information_schema.columns col
             join pg_attribute a
               on a.attrelid = (quote_ident(col.table_schema) || '.' || quote_ident(col.table_name))::regclass
              and a.attname = col.column_name
            where col.table_schema = current_schema()
            order by col.table_name, col.ordinal_position`,
        )
      ).rows;
      constraints = (
        await client.query<ConstraintRow>(
          `select cl.relname as table, con.conname as name, con.contype as type, pg_get_constraintdef(con.oid) as def,
                  (select array_agg(a.attname::text order by k.ord) from unnest(con.conkey) with ordinality k(attnum, ord)
                     join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum) as columns,
                  rcl.relname as ref_table,
                  (select array_agg(a.attname::text order by k.ord) from unnest(con.confkey) with ordinality k(attnum, ord)
                     join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum) as ref_columns
             from pg_constraint con
             join pg_class cl on cl.oid = con.conrelid
             join pg_namespace n on n.oid = cl.relnamespace
             left join pg_class rcl on rcl.oid = con.confrelid
            where n.nspname = current_schema() and con.contype in ('p', 'f', 'u', 'c')
            order by cl.relname, con.conname`,
        )
      ).rows;
      indexes = (
        await client.query<{ table: string; def: string; qualified: string }>(
          `select t.relname as table, pg_get_indexdef(i.indexrelid) as def,
                  quote_ident(n.nspname) || '.' || quote_ident(t.relname) as qualified
             from pg_index i
             join pg_class t on t.oid = i.indrelid
             join pg_namespace n on n.oid = t.relnamespace
            where n.nspname = current_schema()
              and not exists (select 1 from pg_constraint c
                               where c.conindid = i.indexrelid and c.conrelid = t.oid and c.contype in ('p', 'u', 'x'))
            order by 1, 2`,
        )
      ).rows;
      const out = new Map<string, TableInfo>();
      for (const { name } of tables.rows) out.set(name, { name, columns: [], primaryKey: [] });
      for (const r of columnRows) {
        const t = out.get(r.table_name);
        if (!t) continue;
        const kind = kindOf(r.data_type, r.udt_name);
        const col: ColumnInfo = {
          name: r.column_name,
          type: r.column_type,
          kind,
          nullable: r.is_nullable === "YES",
          generated: r.is_generated === "ALWAYS",
        };
        if (r.character_maximum_length !== null) col.length = r.character_maximum_length;
        const max = intMax[r.data_type];
        if (max !== undefined) col.max = max;
        if (kind === "numeric" && r.numeric_precision !== null)
          col.max = 10 ** Math.min(15, r.numeric_precision - (r.numeric_scale ?? 0)) - 1;
        t.columns.push(col);
      }
      const foreignKeys: ForeignKey[] = [];
      for (const c of constraints) {
        const t = out.get(c.table);
        if (!t) continue;
        if (c.type === "p") t.primaryKey = c.columns;
        if (c.type === "f" && c.ref_table && c.ref_columns && out.has(c.ref_table))
          foreignKeys.push({
            name: c.name,
            table: c.table,
            columns: c.columns,
            refTable: c.ref_table,
            refColumns: c.ref_columns,
          });
      }
      return { tables: out, foreignKeys };
    },
    async begin() {
      await client.query("begin isolation level repeatable read read only");
    },
    async count(table) {
      const r = await client.query<{ n: string }>(`select count(*)::text as n from ${q(table.name)}`);
      return Number(r.rows[0]?.n ?? 0);
    },
    async *rows(table, columns, batch) {
      const cursor = q(`rampart_anonymize_${table.name}`.slice(0, 63));
      const list = columns.length > 0 ? columns.map(q).join(", ") : "null";
      await client.query(`declare ${cursor} no scroll cursor for select ${list} from ${q(table.name)}`);
      try {
        for (;;) {
          const r = await client.query<Cell[]>({
            text: `fetch forward ${batch} from ${cursor}`,
            rowMode: "array",
            types: asText,
          });
          if (r.rows.length === 0) break;
          yield r.rows;
          if (r.rows.length < batch) break;
        }
      } finally {
        await client.query(`close ${cursor}`).catch(() => {});
      }
    },
    async definition(table) {
      const cols = columnRows.filter((r) => r.table_name === table.name);
      const serials: string[] = [];
      const lines = cols.map((r) => {
        let line = `${q(r.column_name)} ${r.column_type}`;
        if (r.is_generated === "ALWAYS") line += ` generated always as (${r.generation_expression}) stored`;
        else if (r.is_identity === "YES" || r.column_default?.startsWith("nextval(")) {
          // Serial and identity columns become identity columns whose sequence resumes after the copy.
          line += " generated by default as identity";
          serials.push(r.column_name);
        } else if (r.column_default !== null) line += ` default ${r.column_default}`;
        if (r.is_nullable !== "YES") line += " not null";
        return line;
      });
      const mine = constraints.filter((c) => c.table === table.name);
      const pk = mine.find((c) => c.type === "p");
      if (pk) lines.push(`constraint ${q(pk.name)} ${pk.def}`);
      const create = [`create table ${q(table.name)} (\n  ${lines.join(",\n  ")}\n)`];
      const after = [
        ...mine
          .filter((c) => c.type === "u")
          .map((c) => `alter table ${q(table.name)} add constraint ${q(c.name)} ${c.def}`),
        ...indexes
          .filter((i) => i.table === table.name)
          .map((i) =>
            i.def
              .replace(` ON ${i.qualified} `, ` ON ${q(table.name)} `)
              .replace(` ON ONLY ${i.qualified} `, ` ON ONLY ${q(table.name)} `),
          ),
        ...mine
          .filter((c) => c.type === "f")
          .map((c) => `alter table ${q(table.name)} add constraint ${q(c.name)} ${c.def}`),
        ...serials.map(
          (c) =>
            `select setval(pg_get_serial_sequence(${pg.escapeLiteral(q(table.name))}, ${pg.escapeLiteral(c)}), coalesce(max(${q(c)}), 0) + 1, false) from ${q(table.name)}`,
        ),
      ];
      const checks = mine
        .filter((c) => c.type === "c")
        .map((c) => `alter table ${q(table.name)} add constraint ${q(c.name)} ${c.def}`);
      return { create, after, checks };
    },
    async end() {
      await client.query("commit");
    },
    close: () => client.end().catch(() => {}),
  };
}

export async function openPostgresTarget(url: URL): Promise<TargetDatabase> {
  const client = await connect(url, "target");
  let savepoints = 0;
  return {
    dialect: "postgres",
    binaryAsText: true,
    async existing(names) {
      const r = await client.query<{ table_name: string; column_name: string }>(
        `select table_name, column_name from information_schema.columns
          where table_schema = current_schema() and table_name = any($1)`,
        [names],
      );
      const out = new Map<string, { columns: Set<string>; empty: boolean }>();
      for (const row of r.rows) {
        const t = out.get(row.table_name) ?? { columns: new Set<string>(), empty: true };
        t.columns.add(row.column_name);
        out.set(row.table_name, t);
      }
      for (const [name, t] of out) {
        const any = await client.query(`select 1 from ${q(name)} limit 1`);
        t.empty = any.rows.length === 0;
      }
      return out;
    },
    async begin() {
      await client.query("begin");
      // Constraints declared deferrable (reference cycles) are checked at commit.
      await client.query("set constraints all deferred");
    },
    async exec(statement) {
      await client.query(statement);
    },
    async insert(table, columns, types, rows) {
      if (rows.length === 0) return;
      // One array parameter per column (unnest): a batch costs a handful of parameters, not rows × columns.
      const arrays = columns.map((_, j) => rows.map((r) => r[j] ?? null));
      const list = types.map((t, j) => `$${j + 1}::${t}[]`).join(", ");
      await client.query(
        `insert into ${q(table)} (${columns.map(q).join(", ")}) overriding system value select * from unnest(${list})`,
        arrays,
      );
    },
    async tryExec(statement) {
      const sp = `rampart_try_${++savepoints}`;
      await client.query(`savepoint ${sp}`);
      try {
        await client.query(statement);
        await client.query(`release savepoint ${sp}`);
        return undefined;
      } catch (err) {
        await client.query(`rollback to savepoint ${sp}`);
        return (err as Error).message;
      }
    },
    async commit() {
      await client.query("commit");
    },
    async rollback() {
      await client.query("rollback").catch(() => {});
    },
    close: () => client.end().catch(() => {}),
  };
}
