// A first draft of a dataset from a live PostgreSQL or MySQL/MariaDB schema: tables, columns, types,
// primary and foreign keys, and data categories guessed from column names. Every guess carries a
// `# guessed: confirm` comment: a person must read the draft before requests rely on it.
import mysql from "mysql2/promise";
import pg from "pg";
import { Invalid, Unavailable } from "../../../platform/errors.ts";

export interface DbColumn {
  name: string;
  /** The database's type name, lower case ("character varying", "bigint", "varchar"). */
  type: string;
  length?: number;
  nullable: boolean;
}

export interface DbForeignKey {
  column: string;
  refTable: string;
  refColumn: string;
}

export interface DbTable {
  name: string;
  columns: DbColumn[];
  primaryKey: string[];
  foreignKeys: DbForeignKey[];
}

export interface DbSchema {
  engine: "postgres" | "mysql";
  /** PostgreSQL schema or MySQL database. */
  schema: string;
  tables: DbTable[];
}

/** Why a URL cannot be used, without echoing its password. */
const safeUrl = (url: string) => url.replace(/\/\/[^@/]*@/, "//***@");

/** Reads tables, columns and keys of `schema` (default: public) from PostgreSQL. */
export async function readPostgresSchema(url: string, schema = "public"): Promise<DbSchema> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    throw new Unavailable(`cannot connect to PostgreSQL at ${safeUrl(url)}: ${(error as Error).message}`);
  }
  try {
    const columns = await client.query<{
      table_name: string;
      column_name: string;
      data_type: string;
      character_maximum_length: number | null;
      is_nullable: string;
    }>(
      `SELECT c.table_name, c.column_name, c.data_type, c.character_maximum_length, c.is_nullable
         FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'
        ORDER BY c.table_name, c.ordinal_position`,
      [schema],
    );
    const keys = await client.query<{ table_name: string; column_name: string }>(
      `SELECT kcu.table_name, kcu.column_name
         FROM information_schema.table_constraints tc
         JOIN information_schema.key_column_usage kcu
           ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name
          AND kcu.table_name = tc.table_name
        WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = $1
        ORDER BY kcu.table_name, kcu.ordinal_position`,
      [schema],
    );
    // information_schema hides foreign keys to tables the user cannot write; pg_constraint does not.
    const fks = await client.query<{
      table_name: string;
      column_name: string;
      ref_table: string;
      ref_column: string;
    }>(
      `SELECT cl.relname AS table_name, a.attname AS column_name, rcl.relname AS ref_table, ra.attname AS ref_column
         FROM pg_constraint con
         JOIN pg_class cl ON cl.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = cl.relnamespace
         JOIN pg_class rcl ON rcl.oid = con.confrelid
         CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(col, rcol)
         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.col
         JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.rcol
        WHERE con.contype = 'f' AND n.nspname = $1
        ORDER BY cl.relname, a.attname`,
      [schema],
    );
    return assemble(
      "postgres",
      schema,
      columns.rows.map((r) => ({
        table: r.table_name,
        column: {
          name: r.column_name,
          type: r.data_type.toLowerCase(),
          ...(r.character_maximum_length ? { length: r.character_maximum_length } : {}),
          nullable: r.is_nullable === "YES",
        },
      })),
      keys.rows.map((r) => ({ table: r.table_name, column: r.column_name })),
      fks.rows.map((r) => ({
        table: r.table_name,
        column: r.column_name,
        refTable: r.ref_table,
        refColumn: r.ref_column,
      })),
    );
  } finally {
    await client.end();
  }
}

/** Reads tables, columns and keys of database `schema` (default: the URL's) from MySQL or MariaDB. */
export async function readMysqlSchema(url: string, schema?: string): Promise<DbSchema> {
  const database = schema ?? decodeURIComponent(new URL(url).pathname.slice(1));
  if (!database)
    throw new Invalid("name the database in the URL (mysql://…/shop) or with --schema", "--schema");
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection(url);
  } catch (error) {
    throw new Unavailable(`cannot connect to MySQL at ${safeUrl(url)}: ${(error as Error).message}`);
  }
  try {
    const [columns] = await conn.query<mysql.RowDataPacket[]>(
      `SELECT TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS type, CHARACTER_MAXIMUM_LENGTH AS len,
              IS_NULLABLE AS nullable, COLUMN_KEY AS k, COLUMN_TYPE AS full
         FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN
              (SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE')
        ORDER BY TABLE_NAME, ORDINAL_POSITION`,
      [database, database],
    );
    const [fks] = await conn.query<mysql.RowDataPacket[]>(
      `SELECT TABLE_NAME AS t, COLUMN_NAME AS c, REFERENCED_TABLE_NAME AS rt, REFERENCED_COLUMN_NAME AS rc
         FROM information_schema.KEY_COLUMN_USAGE
        WHERE TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME IS NOT NULL
        ORDER BY TABLE_NAME, COLUMN_NAME`,
      [database],
    );
    return assemble(
      "mysql",
      database,
      columns.map((r) => ({
        table: String(r.t),
        column: {
          name: String(r.c),
          // BOOLEAN is TINYINT(1) in MySQL and MariaDB.
          type: String(r.full).toLowerCase() === "tinyint(1)" ? "boolean" : String(r.type).toLowerCase(),
          // TEXT columns report 65535 and more: not a length worth cutting masked values to.
          ...(r.len && Number(r.len) < 65_535 ? { length: Number(r.len) } : {}),
          nullable: r.nullable === "YES",
        },
      })),
      columns.filter((r) => r.k === "PRI").map((r) => ({ table: String(r.t), column: String(r.c) })),
      fks.map((r) => ({
        table: String(r.t),
        column: String(r.c),
        refTable: String(r.rt),
        refColumn: String(r.rc),
      })),
    );
  } finally {
    await conn.end();
  }
}

function assemble(
  engine: DbSchema["engine"],
  schema: string,
  columns: { table: string; column: DbColumn }[],
  keys: { table: string; column: string }[],
  fks: { table: string; column: string; refTable: string; refColumn: string }[],
): DbSchema {
  const tables = new Map<string, DbTable>();
  for (const { table, column } of columns) {
    let t = tables.get(table);
    if (!t) tables.set(table, (t = { name: table, columns: [], primaryKey: [], foreignKeys: [] }));
    t.columns.push(column);
  }
  for (const k of keys) tables.get(k.table)?.primaryKey.push(k.column);
  for (const f of fks)
    tables.get(f.table)?.foreignKeys.push({ column: f.column, refTable: f.refTable, refColumn: f.refColumn });
  // Code-point order, so both engines (whose collations sort "_" differently) give the same draft.
  const sorted = [...tables.values()].toSorted((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { engine, schema, tables: sorted };
}

/** Reads the schema behind a postgres:// or mysql:// (mariadb://) URL. */
export async function readDbSchema(url: string, schema?: string): Promise<DbSchema> {
  const scheme = url.slice(0, url.indexOf(":")).toLowerCase();
  if (scheme === "postgres" || scheme === "postgresql") return readPostgresSchema(url, schema);
  if (scheme === "mysql" || scheme === "mariadb")
    return readMysqlSchema(scheme === "mariadb" ? `mysql${url.slice(scheme.length)}` : url, schema);
  throw new Invalid(`expected a postgres:// or mysql:// URL; got '${scheme}:'`, "--from");
}

interface Guess {
  category: string;
  identity?: string;
}

const PERSON_TABLE =
  /(user|customer|client|employee|person|people|member|contact|account|profile|patient|student|subscriber)/;

/** Column-name heuristics, first match wins; `table` lets ambiguous names ("name", "state") look at context. */
const rules: [RegExp, (t: DbTable, column: string) => Guess | undefined][] = [
  [/^(e_?mail|email_?address|.*_e_?mail)$/, () => ({ category: "user.contact.email", identity: "email" })],
  [/(phone|mobile|msisdn|^tel$|telephone|whatsapp)/, () => ({ category: "user.contact.phone_number" })],
  [/^(first_?name|given_?name|forename)$/, () => ({ category: "user.name.first" })],
  [/^(last_?name|family_?name|surname)$/, () => ({ category: "user.name.last" })],
  [
    /^(name|full_?name|display_?name|customer_name|contact_name)$/,
    // A bare "name" is a person's only in a table of people (products have names too).
    (t, column) => (column !== "name" || PERSON_TABLE.test(t.name) ? { category: "user.name" } : undefined),
  ],
  [/^(user_?name|login|handle|nickname)$/, () => ({ category: "user.account.username" })],
  [
    /(password|passwd|pass_hash|pwd|_hash$|^hash$|secret|api_?key|otp)/,
    () => ({ category: "user.authorization.credentials" }),
  ],
  [/(^dob$|birth)/, () => ({ category: "user.demographic.date_of_birth" })],
  [/^(gender|sex)$/, () => ({ category: "user.demographic.gender" })],
  [/(^ip$|ip_?addr|^ip_|_ip$|remote_addr)/, () => ({ category: "user.device.ip_address" })],
  [/(user_?agent|device_?id|fingerprint)/, () => ({ category: "user.device" })],
  [/(^zip|postcode|postal_?code|pin_?code)/, () => ({ category: "user.contact.address.postal_code" })],
  [/^(city|town)$/, () => ({ category: "user.contact.address.city" })],
  [/^(country|country_code)$/, () => ({ category: "user.contact.address.country" })],
  [
    /^(state|province|region)$/,
    (t) =>
      /address/.test(t.name) || t.columns.some((c) => /^(city|zip|postcode|postal_?code)$/.test(c.name))
        ? { category: "user.contact.address.state" }
        : undefined,
  ],
  [/(address|street|^line_?\d$|^house)/, () => ({ category: "user.contact.address.street" })],
  [
    /(ssn|aadhaa?r|^pan$|national_?id|tax_?id)/,
    () => ({ category: "user.government_id.national_identification_number" }),
  ],
  [/passport/, () => ({ category: "user.government_id.passport_number" })],
  [/(card_?number|^ccn$|^pan_number$|^card$)/, () => ({ category: "user.financial.credit_card" })],
  [/(iban|account_?number|bank)/, () => ({ category: "user.financial.bank_account" })],
  [/(^lat$|^lng$|^lon$|latitude|longitude|geo)/, () => ({ category: "user.location.precise" })],
  [/(avatar|photo|selfie|picture)/, () => ({ category: "user.content.self_image" })],
  [
    /^(subject|body|message|comment|comments|notes?|content|text)$/,
    () => ({ category: "user.content.private" }),
  ],
  [/(consent|opt_?in|opt_?out|marketing)/, () => ({ category: "user.privacy_preferences" })],
];

const TIMESTAMP = /(_at$|_on$|^created|^updated|^deleted|^expires|_time$|_date$|^date$|^time$)/;

const dataTypeOf = (type: string): string | undefined => {
  if (/(int|serial)/.test(type)) return "integer";
  if (/(numeric|decimal|real|double|float)/.test(type)) return "float";
  if (/^(boolean|bool|bit)$/.test(type)) return "boolean";
  if (/^(json|jsonb)$/.test(type)) return "object";
  if (/(char|text|uuid|citext|enum)/.test(type)) return "string";
  return undefined;
};

/** Tables that hold an identity column, then their neighbours by foreign key, by distance. */
function identityDepths(schema: DbSchema, hasIdentity: (t: DbTable) => boolean): Map<string, number> {
  const depth = new Map<string, number>();
  let frontier = schema.tables.filter(hasIdentity).map((t) => t.name);
  for (const name of frontier) depth.set(name, 0);
  for (let d = 1; frontier.length > 0; d++) {
    const next: string[] = [];
    for (const t of schema.tables) {
      const neighbours = [
        ...t.foreignKeys.map((f) => f.refTable),
        ...schema.tables.filter((o) => o.foreignKeys.some((f) => f.refTable === t.name)).map((o) => o.name),
      ];
      if (depth.has(t.name)) continue;
      if (neighbours.some((n) => frontier.includes(n))) {
        depth.set(t.name, d);
        next.push(t.name);
      }
    }
    frontier = next;
  }
  return depth;
}

export interface ProposeOptions {
  /** The dataset's fides_key; default: the schema name ("public" → "main"). */
  key?: string;
  /** Written in the header comment (a date, the source): leave out for stable output in tests. */
  note?: string;
}

const yamlScalar = (s: string) => (/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(s) ? s : JSON.stringify(s));

/** The proposed Fides dataset YAML for `schema`, guesses marked `# guessed: confirm`. */
export function proposeDataset(schema: DbSchema, options: ProposeOptions = {}): string {
  const key = (options.key ?? (schema.schema === "public" ? "main" : schema.schema)).replace(
    /[^A-Za-z0-9_-]/g,
    "_",
  );
  const guessOf = (t: DbTable, c: DbColumn): Guess | undefined => {
    const name = c.name.toLowerCase();
    for (const [pattern, guess] of rules) if (pattern.test(name)) return guess(t, name);
    return undefined;
  };
  const depth = identityDepths(schema, (t) => t.columns.some((c) => guessOf(t, c)?.identity));
  const personTable = (name: string) => PERSON_TABLE.test(name);

  const out = [
    `# Proposed by \`rampart privacy bootstrap\` from ${schema.engine} ${schema.engine === "postgres" ? "schema" : "database"} ${schema.schema}${options.note ? ` (${options.note})` : ""}.`,
    "# Lines marked 'guessed: confirm' come from column names: check each one, then delete the comment.",
    "# Columns without a guess are tagged system.operations; retag any that hold personal data.",
    "dataset:",
    `  - fides_key: ${yamlScalar(key)}`,
    `    name: ${JSON.stringify(`${schema.schema} (${schema.engine})`)}`,
    "    collections:",
  ];
  for (const t of schema.tables) {
    out.push(`      - name: ${yamlScalar(t.name)}`, "        fields:");
    for (const c of t.columns) {
      const fk = t.foreignKeys.find((f) => f.column === c.name);
      const pk = t.primaryKey.includes(c.name);
      const guess = pk || fk ? undefined : guessOf(t, c);
      let category: string;
      let comment = "";
      if (pk && !fk)
        category = personTable(t.name) && depth.has(t.name) ? "user.unique_id" : "system.operations";
      else if (fk) category = personTable(fk.refTable) ? "user.unique_id" : "system.operations";
      else if (guess) {
        category = guess.category;
        comment = " # guessed: confirm";
      } else category = "system.operations";
      if (!pk && !fk && !guess && !TIMESTAMP.test(c.name.toLowerCase()) && depth.has(t.name))
        comment = " # guessed: confirm";
      out.push(
        `          - name: ${yamlScalar(c.name)}`,
        `            data_categories: [${category}]${comment}`,
      );
      const meta: string[] = [];
      if (pk) meta.push("primary_key: true");
      if (guess?.identity) meta.push(`identity: ${guess.identity} # guessed: confirm`);
      const dataType = dataTypeOf(c.type);
      if (dataType) meta.push(`data_type: ${dataType}`);
      if (c.length && dataType === "string") meta.push(`length: ${c.length}`);
      if (fk) {
        const here = depth.get(t.name);
        const there = depth.get(fk.refTable);
        // The side nearer an identity is reached first: a user's orders come "from" users.
        const direction =
          there === undefined && here === undefined
            ? undefined
            : (there ?? Infinity) <= (here ?? Infinity)
              ? "from"
              : "to";
        meta.push("references:");
        meta.push(`  - dataset: ${yamlScalar(key)}`);
        meta.push(`    field: ${yamlScalar(`${fk.refTable}.${fk.refColumn}`)}`);
        if (direction) meta.push(`    direction: ${direction}`);
      }
      if (meta.length > 0) out.push("            fides_meta:", ...meta.map((m) => `              ${m}`));
    }
  }
  return `${out.join("\n")}\n`;
}

/** Reads a live schema and proposes its dataset YAML. */
export async function bootstrapDataset(
  url: string,
  options: ProposeOptions & { schema?: string } = {},
): Promise<string> {
  const schema = await readDbSchema(url, options.schema);
  // PostgreSQL's "public" says nothing: name the dataset after the database instead.
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  const key = options.key ?? (schema.schema === "public" && database ? database : undefined);
  return proposeDataset(schema, { ...options, ...(key ? { key } : {}) });
}
