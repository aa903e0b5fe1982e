// Data-subject request benchmark: access and erasure of one subject through the DSR engine and the
// PostgreSQL connector, over 10 tables of 1,000,000 rows (users + 9 tables keyed by user_id, each
// indexed), beside an anchor measured in the same run on the same server and data: the same reads
// and writes as hand-written SQL issued directly with `pg` — the minimum any tool has to do.
// See bench/privacy/README.md.
//
// Usage: node bench/privacy/dsr.ts [--rows N] [--subjects N] [--json]
// env:   RAMPART_BENCH_PG_URL, else RAMPART_TEST_PG_URL: a PostgreSQL server URL whose user may
//        create databases (two fresh databases are created, the shop's and the engine's, and
//        dropped at the end); e.g. postgres://rampart@127.0.0.1:54329/postgres
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { postgresConnector } from "../../src/data/privacy/dsr/connectors/index.ts";
import {
  createDsrEngine,
  dsrMigrations,
  type DsrReceipt,
  ed25519Signer,
  verifyReceipt,
} from "../../src/data/privacy/dsr/index.ts";
import type { Collection, DataMap, Field } from "../../src/data/privacy/map/model.ts";
import { validateDataMap } from "../../src/data/privacy/map/validate.ts";
import { systemClock } from "../../src/platform/clock.ts";
import { openStore } from "../../src/platform/store/index.ts";
import { freshDatabase } from "../../test/support/pg.ts";

/** Rows per subject in each of the nine tables keyed by user_id (a customer with a few of each). */
export const ROWS_PER_SUBJECT = 5;
export const TARGET_MS = 1000;

interface ChildTable {
  name: string;
  erasure: "mask" | "delete";
  /** Personal columns: name → [data category, SQL expression of the generated value over g]. */
  personal: Record<string, [string, string]>;
  /** Columns that are not personal data and must survive an erasure. */
  other: Record<string, string>;
}

// Nine tables of an online shop keyed by user_id; personal columns are what erasure touches.
const CHILDREN: ChildTable[] = [
  {
    name: "addresses",
    erasure: "mask",
    personal: {
      line1: ["user.contact.address.street", "(g % 997) || ' MG Road'"],
      city: ["user.contact.address.city", "(array['Bengaluru','Mumbai','Pune','Delhi'])[1 + g % 4]"],
      postal_code: ["user.contact.address.postal_code", "lpad((g % 999999)::text, 6, '0')"],
    },
    other: { country: "'IN'" },
  },
  {
    name: "orders",
    erasure: "mask",
    personal: {
      shipping_name: ["user.name", "'Customer ' || g"],
      gift_note: ["user.content.private", "'Happy birthday from ' || g"],
    },
    other: { total_cents: "1000 + g % 90000", status: "(array['placed','shipped','delivered'])[1 + g % 3]" },
  },
  {
    name: "payments",
    erasure: "mask",
    personal: {
      card_holder: ["user.name", "'Card Holder ' || g"],
      card_last4: ["user.financial.credit_card", "lpad((g % 10000)::text, 4, '0')"],
    },
    other: { amount_cents: "1000 + g % 90000" },
  },
  {
    name: "support_tickets",
    erasure: "mask",
    personal: {
      email: ["user.contact.email", "'ticket' || g || '@example.com'"],
      body: ["user.content.private", "'My parcel ' || g || ' arrived damaged, please call me'"],
    },
    other: { status: "(array['open','closed'])[1 + g % 2]" },
  },
  {
    name: "reviews",
    erasure: "mask",
    personal: {
      author_name: ["user.name", "'Reviewer ' || g"],
      body: ["user.content.public", "'Great product, number ' || g"],
    },
    other: { stars: "1 + g % 5" },
  },
  {
    name: "sessions",
    erasure: "delete",
    personal: {
      ip_address: ["user.device.ip_address", "'10.' || (g % 250) || '.' || (g % 199) || '.' || (g % 251)"],
      user_agent: ["user.device", "'Mozilla/5.0 (X11; Linux x86_64) ' || (g % 100)"],
    },
    other: { expires_at: "timestamptz '2026-01-01' + (g % 1000) * interval '1 minute'" },
  },
  {
    name: "wishlists",
    erasure: "delete",
    personal: { items: ["user.behavior.purchase_history", "'SKU-' || (g % 9999)"] },
    other: { created_at: "timestamptz '2025-01-01' + (g % 1000) * interval '1 minute'" },
  },
  {
    name: "notifications",
    erasure: "delete",
    personal: { email: ["user.contact.email", "'notify' || g || '@example.com'"] },
    other: { kind: "(array['order','promo'])[1 + g % 2]" },
  },
  {
    name: "login_events",
    erasure: "delete",
    personal: { ip_address: ["user.device.ip_address", "'192.168.' || (g % 250) || '.' || (g % 251)"] },
    other: { success: "g % 7 <> 0" },
  },
];

const USER_PERSONAL: Record<string, [string, string]> = {
  email: ["user.contact.email", "'user' || g || '@example.com'"],
  phone: ["user.contact.phone_number", "'+91 9' || lpad(g::text, 9, '0')"],
  first_name: [
    "user.name.first",
    "(array['Ana','Ravi','Priya','Lukas','Mei','Omar','Sara','Arjun'])[1 + g % 8]",
  ],
  last_name: ["user.name.last", "(array['Ferreira','Sharma','Chen','Iyer','Rossi','Kim'])[1 + g % 6]"],
};
const USER_OTHER: Record<string, string> = {
  created_at: "timestamptz '2024-01-01' + (g % 100000) * interval '1 minute'",
};

const field = (name: string, o: Partial<Field> = {}): Field => ({
  name,
  path: name,
  categories: ["system.operations"],
  primaryKey: false,
  references: [],
  fields: [],
  ...o,
});

/** The data map of the benchmark's shop, built in code. */
export function benchDataMap(): DataMap {
  const users: Collection = {
    dataset: "bench",
    name: "users",
    erasure: "mask",
    after: [],
    eraseAfter: [],
    fields: [
      field("id", { primaryKey: true, dataType: "integer" }),
      ...Object.entries(USER_PERSONAL).map(([name, [category]]) =>
        field(name, { categories: [category], ...(name === "email" ? { identity: "email" } : {}) }),
      ),
      ...Object.keys(USER_OTHER).map((name) => field(name)),
    ],
  };
  const children: Collection[] = CHILDREN.map((t) => ({
    dataset: "bench",
    name: t.name,
    erasure: t.erasure,
    after: [],
    eraseAfter: [],
    fields: [
      field("id", { primaryKey: true, dataType: "integer" }),
      field("user_id", {
        dataType: "integer",
        references: [{ dataset: "bench", collection: "users", field: "id", direction: "from" }],
      }),
      ...Object.entries(t.personal).map(([name, [category]]) => field(name, { categories: [category] })),
      ...Object.keys(t.other).map((name) => field(name)),
    ],
  }));
  const map: DataMap = {
    systems: [],
    purposes: [],
    retention: [],
    datasets: [{ key: "bench", name: "Benchmark shop", collections: [users, ...children] }],
  };
  validateDataMap(map);
  return map;
}

const ident = (s: string) => pg.escapeIdentifier(s);

/** Creates and fills the 10 tables with generate_series, indexes after the load (as a bulk load would). */
async function generate(pool: pg.Pool, rows: number, progress: (m: string) => void): Promise<void> {
  const subjects = Math.max(1, Math.floor(rows / ROWS_PER_SUBJECT));
  const cols = (o: Record<string, [string, string]>, other: Record<string, string>) => [
    ...Object.entries(o).map(([n, [, expr]]) => [n, expr] as const),
    ...Object.entries(other),
  ];
  const userCols = cols(USER_PERSONAL, USER_OTHER);
  const t0 = performance.now();
  await pool.query(
    `create table users (id bigint primary key, ${userCols.map(([n]) => `${ident(n)} ${n === "created_at" ? "timestamptz" : "text"}`).join(", ")})`,
  );
  await pool.query(
    `insert into users (id, ${userCols.map(([n]) => ident(n)).join(", ")})
     select g, ${userCols.map(([, e]) => e).join(", ")} from generate_series(1, $1::bigint) g`,
    [rows],
  );
  await pool.query("create unique index users_email_key on users (email)");
  progress(`users: ${rows.toLocaleString("en")} rows (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  for (const t of CHILDREN) {
    const t1 = performance.now();
    const c = cols(t.personal, t.other);
    // Column types follow the generated expression (text, bigint, boolean, timestamptz).
    await pool.query(
      `create table ${ident(t.name)} as
       select g::bigint as id, ((g - 1) % $2::bigint + 1)::bigint as user_id, ${c.map(([n, e]) => `${e} as ${ident(n)}`).join(", ")}
       from generate_series(1, $1::bigint) g`,
      [rows, subjects],
    );
    await pool.query(`alter table ${ident(t.name)} add primary key (id)`);
    await pool.query(`create index ${ident(`${t.name}_user_id_idx`)} on ${ident(t.name)} (user_id)`);
    progress(
      `${t.name}: ${rows.toLocaleString("en")} rows (${((performance.now() - t1) / 1000).toFixed(1)} s)`,
    );
  }
  await pool.query("analyze");
}

/** The anchor's access: the same ten indexed reads the engine needs, by hand. */
async function anchorAccess(client: pg.PoolClient, email: string): Promise<number> {
  const u = await client.query(`select * from users where email = $1`, [email]);
  let found = u.rowCount ?? 0;
  for (const row of u.rows as { id: string }[])
    for (const t of CHILDREN) {
      const r = await client.query(`select * from ${ident(t.name)} where user_id = $1`, [row.id]);
      found += r.rowCount ?? 0;
    }
  return found;
}

/** The anchor's erasure: find the subject and her rows, then one statement per table (keyed hash in SQL, or delete). */
async function anchorErasure(client: pg.PoolClient, email: string, secret: string): Promise<number> {
  const u = await client.query(`select * from users where email = $1`, [email]);
  const row = u.rows[0] as { id: string } | undefined;
  if (!row) return 0;
  let changed = 0;
  const mask = (cols: string[]) => cols.map((c) => `${ident(c)} = md5($2 || ${ident(c)})`).join(", ");
  for (const t of CHILDREN) {
    await client.query(`select * from ${ident(t.name)} where user_id = $1`, [row.id]);
    const r =
      t.erasure === "delete"
        ? await client.query(`delete from ${ident(t.name)} where user_id = $1`, [row.id])
        : await client.query(
            `update ${ident(t.name)} set ${mask(Object.keys(t.personal))} where user_id = $1`,
            [row.id, secret],
          );
    changed += r.rowCount ?? 0;
  }
  const r = await client.query(`update users set ${mask(Object.keys(USER_PERSONAL))} where id = $1`, [
    row.id,
    secret,
  ]);
  return changed + (r.rowCount ?? 0);
}

export interface DsrBenchOptions {
  /** PostgreSQL server URL (a user that may create databases). */
  serverUrl: string;
  /** Rows per table (default 1,000,000). */
  rows?: number;
  /** Subjects timed per operation (default 20). */
  subjects?: number;
  progress?: (message: string) => void;
}

export interface DsrBenchLine {
  operation: "access" | "erasure";
  samples: number;
  p50Ms: number;
  p95Ms: number;
  anchorP50Ms: number;
  anchorP95Ms: number;
  /** Engine p50 ÷ anchor p50. */
  ratio: number;
  targetMs: number;
  pass: boolean;
}

export interface DsrBenchResult {
  tables: number;
  rowsPerTable: number;
  rowsPerSubject: number;
  generateSeconds: number;
  cores: number;
  loadAverage: number;
  lines: DsrBenchLine[];
}

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? Number.NaN;
};

/** Generates the data, then times access and erasure of `subjects` subjects each, engine and anchor taking turns. */
export async function runDsrBench(o: DsrBenchOptions): Promise<DsrBenchResult> {
  // Whole subjects only: every subject then has exactly ROWS_PER_SUBJECT rows in each table.
  const rows = (o.rows ?? 1_000_000) - ((o.rows ?? 1_000_000) % ROWS_PER_SUBJECT);
  const n = o.subjects ?? 20;
  const progress = o.progress ?? (() => {});
  const population = Math.floor(rows / ROWS_PER_SUBJECT);
  // Access subjects are shared (access writes nothing); each erasure needs a subject of its own.
  if (population < 3 * n + 4) throw new Error(`--rows ${rows} is too small for ${n} subjects`);
  const shopDb = await freshDatabase(o.serverUrl);
  const storeDb = await freshDatabase(o.serverUrl);
  const pool = new pg.Pool({ connectionString: shopDb.url, max: 2 });
  const connector = postgresConnector({ url: shopDb.url });
  const store = await openStore({ url: storeDb.url, migrations: dsrMigrations });
  try {
    progress(`generating ${CHILDREN.length + 1} tables of ${rows.toLocaleString("en")} rows`);
    const g0 = performance.now();
    await generate(pool, rows, progress);
    const generateSeconds = (performance.now() - g0) / 1000;

    const keys = generateKeyPairSync("ed25519");
    const engine = createDsrEngine({
      store,
      map: benchDataMap,
      connectorFor: () => connector,
      clock: systemClock,
      emit: () => {},
      signer: ed25519Signer(keys.privateKey, "bench"),
    });
    const client = await pool.connect();
    const spread = (i: number) => 1 + Math.floor(((i + 0.5) * population) / (3 * n + 4));
    const email = (id: number) => `user${id}@example.com`;
    const runId = randomBytes(4).toString("hex");
    const check = (r: DsrReceipt, expectFound: number) => {
      const found = r.collections.reduce((s, c) => s + c.found, 0);
      if (found !== expectFound)
        throw new Error(`request ${r.requestId} found ${found} rows, expected ${expectFound}`);
      if (!verifyReceipt(r, keys.publicKey)) throw new Error(`receipt of ${r.requestId} does not verify`);
    };
    const perSubject = 1 + CHILDREN.length * ROWS_PER_SUBJECT;
    const timed = async (fn: () => Promise<unknown>) => {
      const t = performance.now();
      await fn();
      return performance.now() - t;
    };

    // Warm-up (untimed): plans, prepared paths, connection pools, JIT.
    progress("warming up");
    for (let w = 0; w < 2; w++) {
      const id = spread(3 * n + w);
      check(
        await engine.run({ id: `warm-${runId}-${w}`, kind: "access", identities: { email: email(id) } }),
        perSubject,
      );
      await anchorAccess(client, email(id));
    }

    const times = {
      access: [] as number[],
      anchorAccess: [] as number[],
      erasure: [] as number[],
      anchorErasure: [] as number[],
    };
    progress(`access: ${n} subjects, engine and anchor taking turns`);
    for (let i = 0; i < n; i++) {
      const id = spread(i);
      const engineRun = async () => {
        let r: DsrReceipt | undefined;
        times.access.push(
          await timed(async () => {
            r = await engine.run({
              id: `acc-${runId}-${i}`,
              kind: "access",
              identities: { email: email(id) },
            });
          }),
        );
        check(r as DsrReceipt, perSubject);
      };
      const anchorRun = async () => {
        let found = 0;
        times.anchorAccess.push(await timed(async () => (found = await anchorAccess(client, email(id)))));
        if (found !== perSubject) throw new Error(`anchor found ${found} rows for subject ${id}`);
      };
      // Alternate who goes first, so neither always reads from a cache the other warmed.
      if (i % 2 === 0) await engineRun().then(anchorRun);
      else await anchorRun().then(engineRun);
    }
    progress(`erasure: ${n} subjects each (different ones), engine and anchor taking turns`);
    const secret = randomBytes(16).toString("hex");
    for (let i = 0; i < n; i++) {
      const mine = spread(n + i);
      const theirs = spread(2 * n + i);
      const engineRun = async () => {
        let r: DsrReceipt | undefined;
        times.erasure.push(
          await timed(async () => {
            r = await engine.run({
              id: `era-${runId}-${i}`,
              kind: "erasure",
              identities: { email: email(mine) },
            });
          }),
        );
        check(r as DsrReceipt, perSubject);
      };
      const anchorRun = async () => {
        times.anchorErasure.push(await timed(() => anchorErasure(client, email(theirs), secret)));
      };
      if (i % 2 === 0) await engineRun().then(anchorRun);
      else await anchorRun().then(engineRun);
    }
    client.release();

    // The erasures did what they say: the subject's delete-mode rows are gone, her email is masked.
    const left = await pool.query("select count(*)::int as n from sessions where user_id = $1", [spread(n)]);
    if (left.rows[0].n !== 0) throw new Error("erasure left sessions behind");
    const masked = await pool.query("select count(*)::int as n from users where email = $1", [
      email(spread(n)),
    ]);
    if (masked.rows[0].n !== 0) throw new Error("erasure left the email in users");

    const line = (operation: "access" | "erasure", xs: number[], anchor: number[]): DsrBenchLine => {
      const p50Ms = quantile(xs, 0.5);
      const p95Ms = quantile(xs, 0.95);
      const anchorP50Ms = quantile(anchor, 0.5);
      return {
        operation,
        samples: xs.length,
        p50Ms,
        p95Ms,
        anchorP50Ms,
        anchorP95Ms: quantile(anchor, 0.95),
        ratio: p50Ms / anchorP50Ms,
        targetMs: TARGET_MS,
        pass: p95Ms < TARGET_MS,
      };
    };
    return {
      tables: CHILDREN.length + 1,
      rowsPerTable: rows,
      rowsPerSubject: perSubject,
      generateSeconds,
      cores: cpus().length,
      loadAverage: loadavg()[0] ?? 0,
      lines: [
        line("access", times.access, times.anchorAccess),
        line("erasure", times.erasure, times.anchorErasure),
      ],
    };
  } finally {
    await store.close().catch(() => {});
    await connector.close().catch(() => {});
    await pool.end().catch(() => {});
    await shopDb.drop().catch(() => {});
    await storeDb.drop().catch(() => {});
  }
}

/** The summary table. */
export function formatDsrBench(r: DsrBenchResult): string {
  const ms = (x: number) => x.toFixed(1).padStart(8);
  const out = [
    "",
    `data-subject requests, PostgreSQL: ${r.tables} tables × ${r.rowsPerTable.toLocaleString("en")} rows, ${r.rowsPerSubject} rows per subject (generated in ${r.generateSeconds.toFixed(0)} s; ${r.cores} cores, load ${r.loadAverage.toFixed(1)})`,
    "",
    `  ${"operation".padEnd(10)} ${"n".padStart(3)} ${"p50 ms".padStart(8)} ${"p95 ms".padStart(8)} ${"anchor p50".padStart(10)} ${"anchor p95".padStart(10)} ${"ratio".padStart(7)}  target`,
  ];
  for (const l of r.lines)
    out.push(
      `  ${l.operation.padEnd(10)} ${String(l.samples).padStart(3)} ${ms(l.p50Ms)} ${ms(l.p95Ms)} ${ms(l.anchorP50Ms).padStart(10)} ${ms(l.anchorP95Ms).padStart(10)} ${`${l.ratio.toFixed(2)}×`.padStart(7)}  p95 < ${l.targetMs} ms ${l.pass ? "PASS" : "MISS"}`,
    );
  out.push(
    "",
    "figure: engine.run() through the PostgreSQL connector, with its bookkeeping in a PostgreSQL store and a signed receipt",
    "anchor: the same reads (and, for erasure, one UPDATE or DELETE per table) issued by hand with pg on one connection",
    "",
  );
  return out.join("\n");
}

/** The PostgreSQL server of the run: RAMPART_BENCH_PG_URL, else RAMPART_TEST_PG_URL. */
export function benchServerUrl(): string | undefined {
  return process.env.RAMPART_BENCH_PG_URL || process.env.RAMPART_TEST_PG_URL || undefined;
}

/** `--name N` from argv as a positive integer, or the default. */
export function intArg(argv: readonly string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: expected a positive integer`);
  return v;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const server = benchServerUrl();
  if (!server) {
    process.stderr.write("set RAMPART_BENCH_PG_URL (or RAMPART_TEST_PG_URL) to a PostgreSQL server URL\n");
    process.exit(1);
  }
  try {
    const result = await runDsrBench({
      serverUrl: server,
      rows: intArg(argv, "--rows", 1_000_000),
      subjects: intArg(argv, "--subjects", 20),
      progress: (m) => process.stderr.write(`  · ${m}\n`),
    });
    process.stdout.write(
      argv.includes("--json") ? `${JSON.stringify(result, null, 2)}\n` : formatDsrBench(result),
    );
  } catch (err) {
    process.stderr.write(`bench failed: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
