// Sizing benchmark: the three figures a deployment is sized from, each beside an anchor measured in
// the same run — requests per second per core (nginx on the same core), memory per 10,000 sessions
// (plain Redis SETs / plain strings of the same size), audit growth per million requests (the same
// bodies as plain jsonb rows) — and a sizing table. See bench/README.md and docs/sizing.md.
// Usage: node bench/sizing/run.ts [--json]
// env: BENCH_PARTS (rps,sessions,audit), BENCH_SECONDS (8), BENCH_ROUNDS (3), BENCH_CONNECTIONS (50),
//      BENCH_SESSIONS (10000), BENCH_REQUESTS (200000), BENCH_WORST_REQUESTS (20000),
//      RAMPART_BENCH_PG_URL (a PostgreSQL server to use; a fresh database is created and dropped)
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { freshDatabase } from "../../test/support/pg.ts";
import { type RunningService, startPostgres, startRedis } from "../../test/support/services.ts";
import { auditGrowth } from "./audit-growth.ts";
import { machineBusy, pinSelf, Procs } from "./procs.ts";
import { sessionSizing } from "./sessions.ts";
import { startUpstream, throughput } from "./throughput.ts";
import { markdown, type SizingResults } from "./report.ts";

const num = (name: string, fallback: number, min = 0): number => {
  const raw = process.env[name];
  const v = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isInteger(v) || v < min)
    throw new Error(`${name} must be a whole number ≥ ${min}, got '${raw}'`);
  return v;
};

const json = process.argv.includes("--json");
const progress = (msg: string) => process.stderr.write(`  · ${msg}\n`);

async function main(): Promise<void> {
  const parts = new Set((process.env.BENCH_PARTS ?? "rps,sessions,audit").split(",").map((s) => s.trim()));
  for (const p of parts)
    if (!["rps", "sessions", "audit"].includes(p))
      throw new Error(`BENCH_PARTS: unknown part '${p}' (use rps, sessions, audit)`);
  const o = {
    seconds: num("BENCH_SECONDS", 8, 1),
    rounds: num("BENCH_ROUNDS", 3, 1),
    connections: num("BENCH_CONNECTIONS", 50, 1),
    sessions: num("BENCH_SESSIONS", 10_000, 100),
    requests: num("BENCH_REQUESTS", 200_000, 1000),
    worstRequests: num("BENCH_WORST_REQUESTS", 20_000, 0),
  };
  const busyBefore = await machineBusy(1000);
  if (busyBefore > 20)
    progress(`warning: the machine is already ${busyBefore}% busy; figures will be skewed`);
  const results: SizingResults = {
    machine: {
      node: process.version,
      cpu: cpus()[0]?.model ?? "unknown CPU",
      cores: cpus().length,
      memoryBytes: totalmem(),
      busyBefore,
    },
  };

  const dir = mkdtempSync(join(tmpdir(), "rampart-bench-sizing-"));
  const procs = new Procs();
  const services: RunningService[] = [];
  let dropDb: (() => Promise<void>) | undefined;
  let stopping: Promise<void> | undefined;
  const cleanup = () =>
    (stopping ??= (async () => {
      await procs.stopAll();
      await dropDb?.().catch(() => {});
      for (const s of services.reverse()) await s.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    })());
  // A service that came up after a stop began is stopped at once rather than left behind.
  const keep = async <T extends RunningService>(s: T): Promise<T> => {
    if (stopping) {
      await s.stop();
      throw new Error("interrupted");
    }
    services.push(s);
    return s;
  };
  // Ctrl-C or a kill mid-run must not leave nginx, Redis, PostgreSQL or a gateway behind.
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      progress(`${signal}: stopping everything started`);
      void cleanup().finally(() => process.exit(1));
    });
  try {
    // This process, and so what it starts (Redis, the upstream, wrk), runs on core 1; the process
    // measured for req/s is put on core 0. Later parts use every core again.
    const pinned = cpus().length >= 2 && pinSelf("1");
    if (!pinned) progress("taskset not available or one core: processes are not pinned");
    const redis = await keep(await startRedis());
    const upstreamPort = parts.has("rps") || parts.has("audit") ? await startUpstream(procs, dir) : 0;
    if (parts.has("rps"))
      results.throughput = await throughput({
        procs,
        dir,
        upstreamPort,
        redisUrl: redis.url,
        progress,
        ...o,
      });
    if (pinned) pinSelf(`0-${cpus().length - 1}`);
    if (parts.has("sessions")) results.sessions = await sessionSizing(redis.url, o.sessions, progress);
    if (parts.has("audit")) {
      let pgUrl: string;
      const given = process.env.RAMPART_BENCH_PG_URL;
      if (given) {
        const fresh = await freshDatabase(given);
        if (stopping) {
          await fresh.drop();
          throw new Error("interrupted");
        }
        dropDb = fresh.drop;
        pgUrl = fresh.url;
      } else {
        progress("audit: starting a throwaway PostgreSQL");
        const pg = await keep(await startPostgres());
        pgUrl = pg.url;
      }
      results.audit = await auditGrowth({
        procs,
        dir,
        pgUrl,
        redisUrl: redis.url,
        upstreamPort,
        requests: o.requests,
        worstRequests: o.worstRequests,
        progress,
      });
    }
  } finally {
    await cleanup();
  }
  process.stdout.write(json ? `${JSON.stringify(results, null, 2)}\n` : markdown(results));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/sizing: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
