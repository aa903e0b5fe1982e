// Anonymised copy benchmark: `anonymizeDatabase` PostgreSQL → PostgreSQL over a generated shop
// (examples/privacy), beside an anchor measured in the same run on the same server and data: a
// plain unmasked copy of the same tables by `pg_dump --data-only | psql` (see bench/privacy/README.md).
// Usage: RAMPART_BENCH_PG_URL=postgres://u@host/postgres node bench/privacy/anonymize.ts [--rows N] [--json]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { anonymizeDatabase } from "../../src/data/privacy/anonymize/index.ts";
import { loadDataMap } from "../../src/data/privacy/map/load.ts";
import { freshDatabase } from "../../test/support/pg.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const args = process.argv.slice(2);
const json = args.includes("--json");
const rowsArg = args.indexOf("--rows");
const ROWS = rowsArg >= 0 ? Number(args[rowsArg + 1]) : 1_000_000;
if (!Number.isInteger(ROWS) || ROWS < 1000) {
  process.stderr.write("--rows: expected an integer of at least 1000\n");
  process.exit(1);
}
const server = process.env.RAMPART_BENCH_PG_URL;
if (!server) {
  process.stderr.write(
    "RAMPART_BENCH_PG_URL is not set: point it at a PostgreSQL server where this user may create databases\n" +
      "(e.g. postgres://rampart@127.0.0.1:54329/postgres); the benchmark starts nothing itself.\n",
  );
  process.exit(1);
}
const progress = (msg: string) => process.stderr.write(`  · ${msg}\n`);

// How the rows split over the shop's tables (sums to 1).
const SHARE = {
  users: 0.1,
  addresses: 0.1,
  orders: 0.3,
  order_items: 0.3,
  support_tickets: 0.05,
  sessions: 0.15,
};

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const schemaSql = readFileSync(join(root, "examples/privacy/shop-postgres.sql"), "utf8");
const createSchema = (url: string) => withClient(url, (c) => c.query(schemaSql));

async function generate(url: string): Promise<Record<string, number>> {
  const n = Object.fromEntries(Object.entries(SHARE).map(([t, s]) => [t, Math.max(1, Math.round(ROWS * s))]));
  await withClient(url, async (c) => {
    await c.query(schemaSql);
    await c.query(
      `insert into users (id, email, phone, first_name, last_name, password_hash, date_of_birth, marketing_opt_in, created_at, last_active_at)
       select i, 'person' || i || '@example.com', '+91 98' || lpad((i * 7919 % 100000000)::text, 8, '0'),
              'First' || (i % 5000), 'Last' || (i % 20000), '$argon2id$v=19$' || md5(i::text),
              date '1950-01-01' + (i % 18000), i % 2 = 0, timestamptz '2025-01-01' + i * interval '1 minute',
              timestamptz '2026-01-01' + i * interval '1 second'
         from generate_series(1, $1::int) i`,
      [n.users],
    );
    await c.query(
      `insert into addresses (id, user_id, line1, line2, city, state, postal_code, country, created_at)
       select i, 1 + i % $2::int, i || ' MG Road', case when i % 3 = 0 then null else 'Flat ' || i end,
              case when i % 2 = 0 then 'Pune' else 'Bengaluru' end, 'KA', lpad((560000 + i % 100)::text, 6, '0'),
              case when i % 5 = 0 then 'GB' else 'IN' end, timestamptz '2025-02-01' + i * interval '1 minute'
         from generate_series(1, $1::int) i`,
      [n.addresses, n.users],
    );
    await c.query(
      `insert into orders (id, user_id, shipping_address_id, status, total_cents, currency, placed_at)
       select i, 1 + i % $2::int, case when i % 7 = 0 then null else 1 + i % $3::int end,
              case when i % 3 = 0 then 'shipped' else 'placed' end, 1000 + i % 50000, 'INR',
              timestamptz '2026-03-01' + i * interval '1 second'
         from generate_series(1, $1::int) i`,
      [n.orders, n.users, n.addresses],
    );
    await c.query(
      `insert into order_items (id, order_id, product_sku, quantity, unit_price_cents)
       select i, 1 + i % $2::int, 'SKU-' || (i % 997), 1 + i % 4, 250 + i % 10000 from generate_series(1, $1::int) i`,
      [n.order_items, n.orders],
    );
    await c.query(
      `insert into support_tickets (id, user_id, email, subject, body, status, created_at, closed_at)
       select i, case when i % 5 = 0 then null else 1 + i % $2::int end,
              case when i % 5 = 0 then 'guest' || i || '@example.net' else 'person' || (1 + i % $2::int) || '@example.com' end,
              'Where is my order ' || i || '?', 'Hello, I am First' || i || ' and my phone is +91 99999 ' || lpad(i::text, 5, '0'),
              case when i % 2 = 0 then 'closed' else 'open' end, timestamptz '2026-04-01' + i * interval '1 minute',
              case when i % 2 = 0 then timestamptz '2026-05-01' + i * interval '1 minute' end
         from generate_series(1, $1::int) i`,
      [n.support_tickets, n.users],
    );
    await c.query(
      `insert into sessions (id, user_id, ip_address, user_agent, created_at, expires_at)
       select 'sess_' || md5(i::text), 1 + i % $2::int, '203.0.' || (i % 250) || '.' || (i % 200),
              'Mozilla/5.0 (X11; Linux x86_64) agent ' || (i % 300), timestamptz '2026-06-01' + i * interval '1 second',
              timestamptz '2026-07-01' + i * interval '1 second'
         from generate_series(1, $1::int) i`,
      [n.sessions, n.users],
    );
    for (const t of Object.keys(SHARE)) await c.query(`analyze ${t}`);
  });
  return n;
}

/** `pg_dump --data-only SOURCE | psql TARGET`: the plain copy, no masking, same tables and rows. */
function dumpAndRestore(source: string, target: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const dump = spawn("pg_dump", ["--data-only", "--no-owner", "--no-privileges", "-d", source], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const restore = spawn("psql", ["-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", target], {
      stdio: ["pipe", "ignore", "pipe"],
    });
    let errors = "";
    dump.stderr.on("data", (d: Buffer) => (errors += d.toString()));
    restore.stderr.on("data", (d: Buffer) => (errors += d.toString()));
    dump.stdout.pipe(restore.stdin);
    let pending = 2;
    const done = (what: string) => (code: number | null) => {
      if (code !== 0) reject(new Error(`${what} exited ${code}: ${errors.trim()}`));
      else if (--pending === 0) resolve();
    };
    dump.on("error", reject);
    restore.on("error", reject);
    dump.on("exit", done("pg_dump"));
    restore.on("exit", done("psql"));
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

const made: Array<{ drop(): Promise<void> }> = [];
async function fresh(): Promise<string> {
  const db = await freshDatabase(server as string);
  made.push(db);
  return db.url;
}

async function main() {
  const load = loadavg()[0] ?? 0;
  if (load > cpus().length * 0.5)
    process.stderr.write(
      `warning: load average ${load.toFixed(1)} on ${cpus().length} cores; figures will be low\n`,
    );
  const map = loadDataMap([join(root, "examples/privacy")]);
  const source = await fresh();
  progress(`generating ${ROWS} rows in 6 tables`);
  const counts = await generate(source);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);

  // Anchor and figure take turns on targets made the same way (schema first, then the data).
  const anchorTarget = await fresh();
  await createSchema(anchorTarget);
  progress("anchor: pg_dump --data-only | psql");
  const anchorSeconds = await timed(() => dumpAndRestore(source, anchorTarget));

  const target = await fresh();
  await createSchema(target);
  progress("anonymizeDatabase into the same schema");
  let masked = 0;
  const seconds = await timed(async () => {
    const s = await anonymizeDatabase({ from: source, to: target, map });
    masked = s.maskedFields;
  });

  const created = await fresh();
  progress("anonymizeDatabase --create-schema (keys and indexes built after the data)");
  const createdSeconds = await timed(() =>
    anonymizeDatabase({ from: source, to: created, map, createSchema: true }),
  );

  const lines = [
    { metric: "anonymize (existing schema)", rowsPerSecond: Math.round(total / seconds), seconds },
    {
      metric: "anonymize --create-schema",
      rowsPerSecond: Math.round(total / createdSeconds),
      seconds: createdSeconds,
    },
  ].map((l) => ({
    ...l,
    anchor: "pg_dump --data-only | psql",
    anchorRowsPerSecond: Math.round(total / anchorSeconds),
    anchorSeconds,
    ratio: l.seconds / anchorSeconds,
  }));
  if (json)
    process.stdout.write(
      `${JSON.stringify({ rows: total, tables: counts, maskedFields: masked, lines }, null, 2)}\n`,
    );
  else {
    process.stdout.write(
      `\nanonymised copy, PostgreSQL → PostgreSQL: ${total} rows in 6 tables, ${masked} masked fields\n\n`,
    );
    process.stdout.write(
      `  ${"metric".padEnd(30)} ${"rows/s".padStart(10)} ${"anchor rows/s".padStart(14)}  ratio\n`,
    );
    for (const l of lines)
      process.stdout.write(
        `  ${l.metric.padEnd(30)} ${String(l.rowsPerSecond).padStart(10)} ${String(l.anchorRowsPerSecond).padStart(14)}  ${l.ratio.toFixed(2)}×\n`,
      );
    process.stdout.write(
      `\nanchor: ${lines[0]?.anchor} of the same tables (no masking), ${anchorSeconds.toFixed(1)} s\n`,
    );
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  for (const db of made) await db.drop().catch(() => {});
}
