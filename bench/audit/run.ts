// Audit log benchmark: appends, verification and inclusion proofs on PGlite and PostgreSQL, each
// figure beside an anchor measured in the same run on the same backend (see bench/README.md).
// Usage: node bench/audit/run.ts [--json]   env: BENCH_EVENTS, BENCH_BACKENDS, RAMPART_BENCH_PG_URL
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Kysely, sql } from "kysely";
import pg from "pg";
import {
  type AuditLog,
  type AuditTables,
  auditMigrations,
  createAuditLog,
  loadOrCreateAuditKeys,
  verifyBundle,
  verifyInclusion,
} from "../../src/monitoring/audit/index.ts";
import { MerkleTree } from "../../src/monitoring/audit/merkle.ts";
import { rowFromCopy, storedRowColumns } from "../../src/monitoring/audit/verify.ts";
import { createCopyDecoder } from "../../src/platform/store/copy.ts";
import { manualClock } from "../../src/platform/clock.ts";
import { openStore, type Store, sqlLiteral } from "../../src/platform/store/index.ts";
import { freshDatabase } from "../../test/support/pg.ts";
import { startPostgres } from "../../test/support/services.ts";
import { makeEvents, type PlainRow, plainRows, prng } from "./events.ts";

type Backend = "pglite" | "postgres";

interface Target {
  op: ">=" | "<";
  value: number;
}

/** One result line: a figure, its anchor from the same run, and their cost ratio. */
interface Line {
  backend: Backend | "memory";
  metric: string;
  figure: number;
  unit: string;
  anchorLabel: string;
  anchor: number;
  /** Time the figure costs per item divided by the anchor's (1.0 = as cheap as the anchor). */
  ratio: number;
  target?: Target;
  pass?: boolean;
}

interface BackendInfo {
  backend: Backend;
  events: number;
  batch: number;
  avgBodyBytes: { audit: number; anchor: number };
  appendSeconds: { audit: number; anchor: number };
  /** Node process CPU (user+system) while appending: wall minus this is time waiting on the database. */
  appendCpuSeconds: { audit: number; anchor: number };
  /** What the audit log adds on top of its anchor, per item: Merkle hashing, MACs, bookkeeping. */
  overheadMicros: { append: number; verify: number };
}

const BATCH = 1000;
const VERIFY_PAGE = 100_000;
const VERIFY_ROUNDS = 5;
const PROOF_TREE = 1_000_000;
const PROOF_SAMPLES = 10_000;
const E2E_SAMPLES = 200;
const START = new Date("2026-11-22T10:00:00.000Z");
const TARGETS = {
  appends: { postgres: 20_000, pglite: 10_000 } as Record<Backend, number>,
  verify: 200_000,
  proofMs: 1,
};

const json = process.argv.includes("--json");
const progress = (msg: string) => process.stderr.write(`  · ${msg}\n`);

const median = (xs: number[]) => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

function line(l: Omit<Line, "pass">): Line {
  if (!l.target) return l;
  const pass = l.target.op === ">=" ? l.figure >= l.target.value : l.figure < l.target.value;
  return { ...l, pass };
}

// The anchor table: audit_entries' columns and indexes, nothing else (no foreign key, no trigger).
const ANCHOR_DDL = [
  `create table bench_anchor (
     log_id text not null, seq bigint not null, id text not null, time timestamptz not null,
     type text not null, actor text not null, target text, body text not null,
     leaf_hash bytea not null, mac bytea not null, primary key (log_id, seq))`,
  "create index bench_anchor_id on bench_anchor (id)",
  "create index bench_anchor_time on bench_anchor (time)",
  "create index bench_anchor_type_time on bench_anchor (type, time)",
  "create index bench_anchor_actor_time on bench_anchor (actor, time)",
  "create index bench_anchor_target_time on bench_anchor (target, time)",
];

type BenchTables = AuditTables & { bench_anchor: PlainRow };

async function benchBackend(
  backend: Backend,
  n: number,
  url: string | undefined,
): Promise<[BackendInfo, Line[]]> {
  const dir = mkdtempSync(join(tmpdir(), "rampart-bench-"));
  const store: Store = await openStore({ url, dataDir: dir, migrations: auditMigrations });
  let audit: AuditLog | undefined;
  try {
    const db = store.db.withTables<BenchTables>() as unknown as Kysely<BenchTables>;
    for (const s of ANCHOR_DDL) await sql.raw(s).execute(db);
    audit = createAuditLog({
      store,
      keys: loadOrCreateAuditKeys(join(dir, "keys", "audit.json")),
      clock: manualClock(START),
      retentionDays: { security: 365, audit: 2555, application: 90 },
      period: "month",
      checkpointIntervalMs: 0,
    });
    await audit.start();

    // Appends: the audit log and the anchor take turns batch by batch (alternating who goes first),
    // so both see the same table sizes, WAL and checkpoint activity.
    progress(`${backend}: generating ${n.toLocaleString("en")} events`);
    const events = makeEvents(n, START);
    const rows = plainRows(events, "security/bench", 0);
    progress(`${backend}: appending (audit.record vs plain INSERT, batches of ${BATCH})`);
    let tAudit = 0;
    let tAnchor = 0;
    let cAudit = 0;
    let cAnchor = 0;
    const cpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    };
    for (let i = 0, b = 0; i < n; i += BATCH, b++) {
      const evs = events.slice(i, i + BATCH);
      const plain = rows.slice(i, i + BATCH);
      const runAudit = async () => {
        const [t0, c0] = [performance.now(), cpu()];
        await (audit as AuditLog).record([{ events: evs }]);
        tAudit += performance.now() - t0;
        cAudit += cpu() - c0;
      };
      const runAnchor = async () => {
        const [t0, c0] = [performance.now(), cpu()];
        await db.insertInto("bench_anchor").values(plain).execute();
        tAnchor += performance.now() - t0;
        cAnchor += cpu() - c0;
      };
      if (b % 2 === 0) {
        await runAudit();
        await runAnchor();
      } else {
        await runAnchor();
        await runAudit();
      }
    }
    const appendRate = n / (tAudit / 1000);
    const anchorRate = n / (tAnchor / 1000);
    await audit.checkpoint();

    const avg = async (table: "audit_entries" | "bench_anchor") =>
      Number(
        (await sql<{ a: string }>`select avg(octet_length(body)) as a from ${sql.table(table)}`.execute(db))
          .rows[0]?.a,
      );
    const info: BackendInfo = {
      backend,
      events: n,
      batch: BATCH,
      avgBodyBytes: {
        audit: Math.round(await avg("audit_entries")),
        anchor: Math.round(await avg("bench_anchor")),
      },
      appendSeconds: { audit: tAudit / 1000, anchor: tAnchor / 1000 },
      appendCpuSeconds: { audit: cAudit, anchor: cAnchor },
      overheadMicros: { append: ((tAudit - tAnchor) * 1000) / n, verify: 0 },
    };

    // Verification vs reading the same rows and columns the way verify reads them (binary COPY in
    // pages, each field decoded), with no parsing or hashing. One untimed round first warms the JIT
    // and verify's worker threads, as a long-running server or a large log would have them.
    progress(
      `${backend}: verifying (audit.verify vs binary COPY of the same rows), 1 + ${VERIFY_ROUNDS} rounds`,
    );
    const logIds = (await db.selectFrom("audit_logs").select("log_id").execute()).map((r) => r.log_id);
    const scan = async () => {
      const t0 = performance.now();
      let count = 0;
      for (const log of logIds) {
        for (let from = 0; ; from += VERIFY_PAGE) {
          const decoder = createCopyDecoder((row) => void rowFromCopy(row));
          await store.copyOut(
            `select ${storedRowColumns} from audit_entries where log_id = ${sqlLiteral(log)} and seq >= ${from} and seq < ${from + VERIFY_PAGE} order by seq`,
            (chunk) => decoder.push(chunk),
          );
          decoder.end();
          count += decoder.rows;
          if (decoder.rows < VERIFY_PAGE) break;
        }
      }
      return count / ((performance.now() - t0) / 1000);
    };
    const verifyRates: number[] = [];
    const scanRates: number[] = [];
    for (let round = 0; round <= VERIFY_ROUNDS; round++) {
      const scanRate = await scan();
      const report = await audit.verify();
      if (!report.ok) throw new Error(`verify failed: ${report.problem?.message}`);
      if (round === 0) continue;
      scanRates.push(scanRate);
      verifyRates.push(report.entries / report.seconds);
    }

    info.overheadMicros.verify = 1e6 / median(verifyRates) - 1e6 / median(scanRates);

    // Offline verification of an export bundle (what an auditor runs) vs reading and parsing the same files.
    progress(`${backend}: offline bundle verification`);
    const bundleDir = join(dir, "bundle");
    await audit.checkpoint();
    await audit.exportBundle({ from: new Date(0), to: new Date("2100-01-01T00:00:00Z"), dir: bundleDir });
    const bundleRates: number[] = [];
    const parseRates: number[] = [];
    for (let round = 0; round < 3; round++) {
      let t0 = performance.now();
      const text = readFileSync(join(bundleDir, "entries.jsonl"), "utf8");
      let parsed = 0;
      for (const l of text.split("\n")) if (l) parsed += (JSON.parse(l) as { seq: number }).seq >= 0 ? 1 : 0;
      parseRates.push(parsed / ((performance.now() - t0) / 1000));
      t0 = performance.now();
      const res = verifyBundle(bundleDir, audit.verifierKey);
      if (!res.ok) throw new Error(`bundle verification failed: ${res.problem}`);
      bundleRates.push(res.entries / ((performance.now() - t0) / 1000));
    }

    // End-to-end inclusion proofs vs the indexed lookup of the same row by id.
    progress(`${backend}: inclusion proofs end to end (${E2E_SAMPLES} calls)`);
    const r = prng(99);
    const ids = Array.from({ length: E2E_SAMPLES + 20 }, () => events[Math.floor(r() * n)]?.id as string);
    const tProof: number[] = [];
    const tLookup: number[] = [];
    for (const [k, id] of ids.entries()) {
      const t0 = performance.now();
      await audit.inclusionProof(id);
      const t1 = performance.now();
      await db
        .selectFrom("audit_entries")
        .select(["log_id", "seq", "id", "leaf_hash"])
        .where("id", "=", id)
        .executeTakeFirstOrThrow();
      const t2 = performance.now();
      if (k < 20) continue; // warm-up
      tProof.push(t1 - t0);
      tLookup.push(t2 - t1);
    }

    const lines = [
      line({
        backend,
        metric: `appends (record, ${BATCH}/batch)`,
        figure: appendRate,
        unit: "/s",
        anchorLabel: "plain multi-row INSERT",
        anchor: anchorRate,
        ratio: anchorRate / appendRate,
        target: { op: ">=", value: TARGETS.appends[backend] },
      }),
      line({
        backend,
        metric: "verification (verify)",
        figure: median(verifyRates),
        unit: "/s",
        anchorLabel: `binary COPY, pages of ${VERIFY_PAGE / 1000}k`,
        anchor: median(scanRates),
        ratio: median(scanRates) / median(verifyRates),
        target: { op: ">=", value: TARGETS.verify },
      }),
      line({
        backend,
        metric: "offline bundle verification",
        figure: median(bundleRates),
        unit: "/s",
        anchorLabel: "read + JSON.parse same files",
        anchor: median(parseRates),
        ratio: median(parseRates) / median(bundleRates),
        target: { op: ">=", value: TARGETS.verify },
      }),
      line({
        backend,
        metric: "inclusionProof(id) e2e, median",
        figure: median(tProof),
        unit: "ms",
        anchorLabel: "SELECT one row by id",
        anchor: median(tLookup),
        ratio: median(tProof) / median(tLookup),
        target: { op: "<", value: TARGETS.proofMs },
      }),
    ];
    return [info, lines];
  } finally {
    await audit?.close().catch(() => {});
    await store.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

/** MerkleTree.inclusionProof on a 1M-leaf tree vs verifying the same proof (the ~20 node hashes a client does). */
function benchTreeProofs(): Line[] {
  progress(`memory: building a ${PROOF_TREE.toLocaleString("en")}-leaf tree`);
  const leaves = randomBytes(32 * PROOF_TREE);
  const list = Array.from({ length: PROOF_TREE }, (_, i) => leaves.subarray(i * 32, i * 32 + 32));
  const tree = new MerkleTree();
  tree.appendMany(list);
  const root = tree.root();
  const r = prng(1);
  const idx = Array.from({ length: PROOF_SAMPLES + 1000 }, () => Math.floor(r() * PROOF_TREE));
  progress(`memory: ${PROOF_SAMPLES.toLocaleString("en")} inclusion proofs`);
  const gen: number[] = [];
  const ver: number[] = [];
  for (const [k, i] of idx.entries()) {
    const t0 = performance.now();
    const proof = tree.inclusionProof(i);
    const t1 = performance.now();
    const ok = verifyInclusion(list[i] as Buffer, i, PROOF_TREE, proof, root);
    const t2 = performance.now();
    if (!ok) throw new Error(`proof for leaf ${i} does not verify`);
    if (k < 1000) continue; // warm-up
    gen.push((t1 - t0) * 1000);
    ver.push((t2 - t1) * 1000);
  }
  const mk = (label: string, q: number) =>
    line({
      backend: "memory",
      metric: `MerkleTree.inclusionProof 1M, ${label}`,
      figure: quantile(gen, q),
      unit: "µs",
      anchorLabel: "verifyInclusion same proof",
      anchor: quantile(ver, q),
      ratio: quantile(gen, q) / quantile(ver, q),
      target: { op: "<", value: TARGETS.proofMs * 1000 },
    });
  return [mk("median", 0.5), mk("p99", 0.99)];
}

/**
 * Stops the throwaway server by signalling its postmaster directly before the helper's own stop:
 * as root the server runs under runuser, which does not pass SIGINT on, so the helper alone waits
 * 5 s and leaves PostgreSQL running (until it notices its deleted data directory).
 */
async function fastStop(url: string, stop: () => Promise<void>): Promise<() => Promise<void>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const dir = (await c.query<{ data_directory: string }>("show data_directory")).rows[0]?.data_directory;
  await c.end();
  const pid = dir ? Number(readFileSync(join(dir, "postmaster.pid"), "utf8").split("\n")[0]) : Number.NaN;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  return async () => {
    if (Number.isInteger(pid) && pid > 1 && alive()) {
      process.kill(pid, "SIGINT"); // fast shutdown
      for (let i = 0; i < 100 && alive(); i++) await sleep(50);
    }
    await stop();
  };
}

const fmt = (x: number, unit: string) => {
  if (unit === "/s") return `${Math.round(x).toLocaleString("en")}/s`;
  if (unit === "ms") return `${x.toFixed(3)} ms`;
  return `${x.toFixed(1)} ${unit}`;
};

function table(lines: Line[], infos: BackendInfo[], meta: Record<string, unknown>): string {
  const out: string[] = [];
  out.push(
    `Rampart audit log benchmark — ${meta.node}, ${meta.cpu}, ${meta.cores} cores, ${meta.memGiB} GiB RAM`,
  );
  for (const i of infos) {
    out.push(
      `  ${i.backend}: ${i.events.toLocaleString("en")} events in batches of ${i.batch}; ` +
        `avg body ${i.avgBodyBytes.audit} B (anchor ${i.avgBodyBytes.anchor} B); ` +
        `append wall ${i.appendSeconds.audit.toFixed(2)} s / node CPU ${i.appendCpuSeconds.audit.toFixed(2)} s ` +
        `(anchor ${i.appendSeconds.anchor.toFixed(2)} s / ${i.appendCpuSeconds.anchor.toFixed(2)} s)`,
    );
    out.push(
      `  ${i.backend}: audit overhead beyond the anchor: ${i.overheadMicros.append.toFixed(1)} µs per append, ` +
        `${i.overheadMicros.verify.toFixed(1)} µs per verified entry`,
    );
  }
  if ((meta.busyBefore as number) > 20)
    out.push(
      `  WARNING: other processes used ${meta.busyBefore}% of the CPUs just before the run; figures are unreliable`,
    );
  out.push("  ratio = time per item of the figure ÷ the anchor's (1.00× = no overhead)");
  out.push("");
  const head = ["backend", "metric", "figure", "anchor", "", "ratio", "target", ""];
  const rows = lines.map((l) => [
    l.backend,
    l.metric,
    fmt(l.figure, l.unit),
    l.anchorLabel,
    fmt(l.anchor, l.unit),
    `${l.ratio.toFixed(2)}×`,
    l.target ? `${l.target.op} ${fmt(l.target.value, l.unit)}` : "",
    l.pass === undefined ? "" : l.pass ? "PASS" : "MISS",
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] as string).length)));
  const right = new Set([2, 4, 5]);
  const render = (r: string[]) =>
    r
      .map((cell, c) =>
        right.has(c) ? cell.padStart(widths[c] as number) : cell.padEnd(widths[c] as number),
      )
      .join("  ");
  out.push(render(head).trimEnd());
  out.push(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) out.push(render(r).trimEnd());
  return out.join("\n");
}

/** Percent of all CPUs busy over `ms` (Linux /proc/stat; -1 elsewhere): others' load skews every figure. */
async function machineBusy(ms: number): Promise<number> {
  const sample = () => {
    const f = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { total: f.slice(0, 8).reduce((a, b) => a + b, 0), idle };
  };
  try {
    const a = sample();
    await sleep(ms);
    const b = sample();
    return Math.round((100 * (b.total - a.total - (b.idle - a.idle))) / Math.max(1, b.total - a.total));
  } catch {
    return -1;
  }
}

async function main(): Promise<void> {
  const backends = (process.env.BENCH_BACKENDS ?? "pglite,postgres")
    .split(",")
    .map((s) => s.trim()) as Backend[];
  const override = process.env.BENCH_EVENTS ? Number(process.env.BENCH_EVENTS) : undefined;
  if (override !== undefined && !(Number.isInteger(override) && override > 0))
    throw new Error(`BENCH_EVENTS must be a positive integer, got '${process.env.BENCH_EVENTS}'`);
  const counts: Record<Backend, number> = { pglite: override ?? 50_000, postgres: override ?? 100_000 };
  const busyBefore = await machineBusy(1000);
  if (busyBefore > 20)
    progress(`warning: the machine is already ${busyBefore}% busy; figures will be skewed`);
  const started = performance.now();
  const lines: Line[] = [];
  const infos: BackendInfo[] = [];

  lines.push(...benchTreeProofs());
  for (const backend of backends) {
    if (backend === "pglite") {
      const [info, l] = await benchBackend("pglite", counts.pglite, undefined);
      infos.push(info);
      lines.push(...l);
    } else if (backend === "postgres") {
      let server = process.env.RAMPART_BENCH_PG_URL;
      let stop: (() => Promise<void>) | undefined;
      if (!server) {
        progress("postgres: starting a throwaway server");
        const s = await startPostgres();
        server = s.url;
        stop = await fastStop(s.url, s.stop);
      }
      try {
        const fresh = await freshDatabase(server);
        try {
          const [info, l] = await benchBackend("postgres", counts.postgres, fresh.url);
          infos.push(info);
          lines.push(...l);
        } finally {
          await fresh.drop().catch(() => {});
        }
      } finally {
        await stop?.();
      }
    } else {
      throw new Error(`unknown backend '${backend}' in BENCH_BACKENDS (pglite, postgres)`);
    }
  }

  const cpu = cpus();
  const meta = {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpu[0]?.model.trim() ?? "unknown CPU",
    cores: cpu.length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    busyBefore,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    seconds: (performance.now() - started) / 1000,
  };
  const judged = lines.filter((l) => l.pass !== undefined);
  const missed = judged.filter((l) => !l.pass);
  const summary =
    `SUMMARY: ${judged.length - missed.length}/${judged.length} targets met` +
    (missed.length
      ? `; missed: ${missed.map((l) => `${l.backend} ${l.metric.split(" (")[0]}`).join(", ")}`
      : "") +
    ` (${meta.seconds.toFixed(0)} s, ${meta.cores} cores)`;
  if (json) {
    process.stdout.write(`${JSON.stringify({ meta, backends: infos, results: lines, summary }, null, 2)}\n`);
  } else {
    process.stdout.write(`\n${table(lines, infos, meta)}\n\n${summary}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`benchmark failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
