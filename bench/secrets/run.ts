// Secrets benchmark: reads per second and p99 of GET /api/v1/secrets/data/<path> through the real
// control plane (admin-token caller, path policy, envelope decryption, an audit event per read),
// beside the anchor in the same server process and the same run: the same caller check and the
// same row read as stored, unencrypted and unaudited (bench/secrets/server.ts). On PGlite and on
// PostgreSQL. Every timed read must reach the audit log: the bench waits for the event queue to
// drain and counts the `secrets.read` events, and the drain time counts against the figure.
// Usage: node bench/secrets/run.ts [--json]
// env: BENCH_SECONDS (default 8), BENCH_REPEATS (3), BENCH_CONNECTIONS (32)
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freshDatabase } from "../../test/support/pg.ts";
import { freePort, type RestartableService, startPostgres } from "../../test/support/services.ts";
import { type Load, wrk } from "../load.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const json = process.argv.includes("--json");
const progress = (msg: string) => process.stderr.write(`  · ${msg}\n`);
const TARGET_RPS = 5000;
const TARGET_RATIO = 2;

// A bench-only admin token for a loopback server that lives as long as the run.
const TOKEN = "bench-secrets-admin-token-0123456789abcdef";
const SECRET_PATH = "/prod/api/db";
const VALUE = { username: "api", password: "bench-password-0123456789", host: "db.internal", port: "5432" };

interface Row {
  backend: string;
  secrets: Load;
  plain: Load;
  /** Requests answered per second once the audit queue has drained (reads ÷ (load + drain time)). */
  auditedRps: number;
  /** secrets.read events counted during the timed rounds. */
  auditedReads: number;
  drainMs: number;
  /** The anchor's req/s ÷ the secrets API's. */
  ratio: number;
}

async function api(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text.startsWith("{") ? JSON.parse(text) : text;
}

/** A counter's value in the Prometheus text of /metrics (0 when absent). */
async function metric(base: string, name: string, labels: string): Promise<number> {
  const text = (await api(base, "GET", "/metrics")) as string;
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

function startServer(dir: string, name: string, database: object, port: number): Promise<ChildProcess> {
  const config = join(dir, `${name}.yaml`);
  writeFileSync(
    config,
    JSON.stringify({ version: 1, server: { host: "127.0.0.1", port }, database, secrets: {} }, null, 2),
  );
  const script = fileURLToPath(new URL("server.ts", import.meta.url));
  const proc = spawn(process.execPath, [script, config, String(port)], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RAMPART_ADMIN_TOKEN: TOKEN },
  });
  return new Promise((resolve, reject) => {
    proc.once("exit", (code) => reject(new Error(`${name} server exited with ${code}`)));
    proc.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve(proc);
    });
  });
}

async function measure(dir: string, backend: string, database: object): Promise<Row> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  progress(`${backend}: starting the server`);
  const server = await startServer(dir, backend, database, port);
  try {
    await api(base, "PUT", `/api/v1/secrets/data${SECRET_PATH}`, { data: VALUE });
    const got = (await api(base, "GET", `/api/v1/secrets/data${SECRET_PATH}`)) as { data: typeof VALUE };
    if (got.data.password !== VALUE.password)
      throw new Error("the secret read back differs from what was written");
    const script = join(dir, "auth.lua");
    writeFileSync(script, `wrk.headers["Authorization"] = "Bearer ${TOKEN}"\n`);
    const load = { seconds: SECONDS, connections: CONNECTIONS, script };
    const targets = {
      secrets: `${base}/api/v1/secrets/data${SECRET_PATH}`,
      plain: `${base}/bench/plain${SECRET_PATH}`,
    };
    progress(`${backend}: warm-up`);
    wrk(targets.secrets, { ...load, seconds: 2 });
    wrk(targets.plain, { ...load, seconds: 2 });
    await drained(base);
    const rounds: { secrets: Load; plain: Load; audited: number; drainMs: number }[] = [];
    for (let r = 1; r <= REPEATS; r++) {
      progress(`${backend}: round ${r}/${REPEATS}, wrk ${SECONDS}s × 2, ${CONNECTIONS} connections`);
      const before = await metric(base, "rampart_events_total", 'type="secrets.read"');
      const secrets = wrk(targets.secrets, load);
      const started = performance.now();
      await drained(base);
      const drainMs = performance.now() - started;
      const audited = (await metric(base, "rampart_events_total", 'type="secrets.read"')) - before;
      const plain = wrk(targets.plain, load);
      rounds.push({ secrets, plain, audited, drainMs });
    }
    rounds.sort((a, b) => a.secrets.rps - b.secrets.rps);
    const m = rounds[Math.floor(rounds.length / 2)] as (typeof rounds)[number];
    const plains = rounds.map((r) => r.plain).sort((a, b) => a.rps - b.rps);
    const plain = plains[Math.floor(plains.length / 2)] as Load;
    return {
      backend,
      secrets: m.secrets,
      plain,
      auditedReads: m.audited,
      drainMs: m.drainMs,
      auditedRps: m.audited / (SECONDS + m.drainMs / 1000),
      ratio: plain.rps / m.secrets.rps,
    };
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
  }
}

/** Waits until the server's event queue is empty: every read so far is in the audit log. */
async function drained(base: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await metric(base, "rampart_event_queue_events", "")) === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the audit log did not catch up within 30 s");
}

async function main(): Promise<void> {
  try {
    execFileSync("sh", ["-c", "command -v wrk"], { stdio: "ignore" });
  } catch {
    throw new Error("wrk is not installed: apt-get install wrk");
  }
  const dir = mkdtempSync(join(tmpdir(), "rampart-bench-secrets-"));
  let pg: RestartableService | undefined;
  const rows: Row[] = [];
  try {
    rows.push(await measure(dir, "PGlite", { dataDir: join(dir, "data-pglite") }));
    let url = process.env.RAMPART_TEST_PG_URL;
    if (!url) {
      progress("starting PostgreSQL");
      pg = await startPostgres();
      url = pg.url;
    }
    const db = await freshDatabase(url);
    try {
      rows.push(await measure(dir, "PostgreSQL", { url: db.url, dataDir: join(dir, "data-pg") }));
    } finally {
      await db.drop();
    }
  } finally {
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  report(rows);
}

function report(rows: Row[]): void {
  const checks = rows.flatMap((r) => [
    { check: `${r.backend}: audited reads/s >= ${TARGET_RPS}`, pass: r.auditedRps >= TARGET_RPS },
    { check: `${r.backend}: cost <= ${TARGET_RATIO}x the plain read`, pass: r.ratio <= TARGET_RATIO },
  ]);
  if (json) {
    const out = { seconds: SECONDS, repeats: REPEATS, connections: CONNECTIONS, rows, checks };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const n = (x: number) => Math.round(x).toLocaleString("en").padStart(9);
  const lines = [
    `Rampart secrets benchmark — ${process.version}, ${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, load average ${(loadavg()[0] ?? 0).toFixed(2)}; wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, median of ${REPEATS} interleaved rounds`,
    "",
    `${"store".padEnd(12)}${"API reads/s".padStart(12)}${"p99 ms".padStart(9)}${"audited/s".padStart(11)}${"drain ms".padStart(10)}${"plain/s".padStart(10)}${"p99 ms".padStart(9)}${"cost".padStart(8)}`,
    ...rows.map(
      (r) =>
        `${r.backend.padEnd(12)}${n(r.secrets.rps).padStart(12)}${r.secrets.p99ms.toFixed(2).padStart(9)}${n(r.auditedRps).padStart(11)}${Math.round(r.drainMs).toString().padStart(10)}${n(r.plain.rps).padStart(10)}${r.plain.p99ms.toFixed(2).padStart(9)}${`${r.ratio.toFixed(2)}x`.padStart(8)}`,
    ),
    "",
    "API reads: GET /api/v1/secrets/data/<path> (admin token, policy, decryption, one audit event each). The server",
    "keeps a secret's sealed row in memory after a read (coherent across servers through LISTEN/NOTIFY), so a read",
    "unwraps the data key and decrypts every time but seldom asks the database; the anchor asks it every time.",
    "audited/s: the secrets.read events counted in the round ÷ (load time + time for the audit queue to drain).",
    "plain: the same caller check and the same row, as stored, in the same process (the anchor). cost = plain/s ÷ API/s.",
    "",
    ...checks.map((c) => `${c.pass ? "✅" : "❌"} ${c.check}`),
    "",
    `SUMMARY: ${checks.filter((c) => c.pass).length}/${checks.length} secrets checks pass`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/secrets: ${(err as Error).message}\n`);
  process.exit(1);
});
