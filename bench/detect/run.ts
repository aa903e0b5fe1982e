// Detection benchmark. Part 1: events/s through the rule engine with 50 rules (target >= 50,000/s
// on one core), beside the anchor measured in the same run: the same rules as scheduled SQL
// searches over the same events in a database, the way a log-search SIEM detects (engine.ts says
// why). Part 2: event-to-webhook latency through a running server (target < 2 s), beside the time
// the same events take to be journaled alone (latency.ts).
// Usage: node bench/detect/run.ts [--json]
// env: BENCH_EVENTS (default 1,000,000), BENCH_REPEATS (5), BENCH_ANCHOR_EVENTS (50,000),
//      BENCH_LATENCY_SAMPLES (100),
//      BENCH_ANCHOR_STORE (postgres | pglite; default postgres, pglite when it cannot start),
//      RAMPART_BENCH_PG_URL / RAMPART_TEST_PG_URL (use that server; a fresh database is made and dropped)
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { freshDatabase } from "../../test/support/pg.ts";
import { type RestartableService, startPostgres } from "../../test/support/services.ts";
import { openStore, type Store } from "../../src/platform/store/index.ts";
import {
  type AnchorResult,
  benchEvents,
  benchRules,
  engineThroughput,
  EVENTS_PER_SECOND,
  sqlAnchor,
  type Throughput,
} from "./engine.ts";
import { type Latency, webhookLatency } from "./latency.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const ANCHOR_EVENTS = Number(process.env.BENCH_ANCHOR_EVENTS ?? 50_000);
const json = process.argv.includes("--json");
const progress = (msg: string) => process.stderr.write(`  · ${msg}\n`);
const TARGET_EPS = 50_000;
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 100);
const TARGET_LATENCY_MS = 2000;

/** A store for the anchor: PostgreSQL unless asked for PGlite or none can be started. */
async function anchorStore(dir: string): Promise<{ store: Store; kind: string; close(): Promise<void> }> {
  const pglite = async () => {
    const store = await openStore({ dataDir: join(dir, "pglite") });
    return { store, kind: "PGlite", close: () => store.close() };
  };
  if (process.env.BENCH_ANCHOR_STORE === "pglite") return pglite();
  let pg: RestartableService | undefined;
  try {
    let url = process.env.RAMPART_BENCH_PG_URL ?? process.env.RAMPART_TEST_PG_URL;
    if (!url) {
      progress("starting PostgreSQL for the anchor");
      pg = await startPostgres();
      url = pg.url;
    }
    const db = await freshDatabase(url);
    const store = await openStore({ url: db.url });
    return {
      store,
      kind: "PostgreSQL",
      async close() {
        await store.close();
        await db.drop();
        await pg?.stop();
      },
    };
  } catch (err) {
    await pg?.stop();
    progress(`PostgreSQL unavailable (${(err as Error).message}); the anchor runs on PGlite`);
    return pglite();
  }
}

async function main(): Promise<void> {
  const rules = benchRules(50);
  progress(`generating ${EVENTS.toLocaleString("en")} events`);
  const events = benchEvents(EVENTS);
  progress(`engine: ${rules.length} rules, ${REPEATS} timed runs after one warm-up`);
  const engine = await engineThroughput({ events, rules, runs: REPEATS, progress });

  const dir = mkdtempSync(join(tmpdir(), "rampart-bench-detect-"));
  let anchor: AnchorResult & { store: string };
  try {
    const s = await anchorStore(dir);
    try {
      progress(
        `anchor: the same rules as SQL searches per second of event time, ${ANCHOR_EVENTS.toLocaleString("en")} events, ${s.kind}`,
      );
      const slice = events.slice(0, ANCHOR_EVENTS);
      anchor = { ...(await sqlAnchor({ store: s.store, events: slice, rules, progress })), store: s.kind };
    } finally {
      await s.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  progress(`latency: ${LATENCY_SAMPLES} events through a running server (PGlite) to a webhook`);
  const latency = await webhookLatency({ samples: LATENCY_SAMPLES, progress });
  report(engine, anchor, latency);
}

function report(engine: Throughput, anchor: AnchorResult & { store: string }, latency: Latency): void {
  const ms = (x: number) => `${Math.round(x)} ms`;
  const ratio = engine.median / anchor.eventsPerSecond;
  const checks = [
    {
      check: `engine events/s >= ${TARGET_EPS.toLocaleString("en")} with ${engine.rules} rules`,
      pass: engine.median >= TARGET_EPS,
    },
    {
      check: `event-to-webhook p95 < ${TARGET_LATENCY_MS} ms`,
      pass: latency.webhook.p95 < TARGET_LATENCY_MS,
    },
  ];
  if (json) {
    process.stdout.write(`${JSON.stringify({ engine, anchor, ratio, latency, checks }, null, 2)}\n`);
    return;
  }
  const n = (x: number) => Math.round(x).toLocaleString("en");
  const busy = (loadavg()[0] ?? 0) > cpus().length * 0.75;
  const lines = [
    ...(busy
      ? [
          "⚠ the machine is busy (load average above 0.75 per core): wall-clock figures are low; read the CPU-second line",
        ]
      : []),
    `Rampart detection benchmark — ${process.version}, ${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, load average ${(loadavg()[0] ?? 0).toFixed(2)}`,
    `stream: ${n(engine.events)} events at ${n(EVENTS_PER_SECOND)}/s of event time (gateway refusals with data.count, logins, secret reads, API key uses, tokens, client auth, bindings, config)`,
    "",
    `${"line".padEnd(44)}${"events/s".padStart(14)}  detail`,
    `${`engine, ${engine.rules} rules, median of ${engine.runs.length}`.padEnd(44)}${n(engine.median).padStart(14)}  runs ${engine.runs.map(n).join(" / ")}; ${n(engine.detections)} detections`,
    `${"engine, per CPU second (median)".padEnd(44)}${n(engine.cpuMedian).padStart(14)}  events ÷ this process's user+system CPU time: steadier when the machine is busy`,
    `${`anchor: SQL searches (${anchor.store})`.padEnd(44)}${n(anchor.eventsPerSecond).padStart(14)}  ${n(anchor.events)} events: insert ${anchor.insertSeconds.toFixed(1)} s + ${n(anchor.queries)} queries ${anchor.querySeconds.toFixed(1)} s; ${n(anchor.hits)} rows matched`,
    `${"ratio (engine ÷ anchor)".padEnd(44)}${`${ratio.toFixed(1)}x`.padStart(14)}`,
    "",
    "engine: createDetector.process over batches of 1000 (as the event bus delivers), one core, a fresh detector per run,",
    "after one untimed warm-up run; the 50 rules are the built-ins plus generated count/distinct rules on the same types.",
    "anchor: the same 50 rules as one SQL query each per second of event time over the events inserted into a table",
    "(index on type, time): windowed GROUP BY/HAVING, count(DISTINCT), NOT EXISTS for first_seen; no suppression.",
    `Its slice spans ${(anchor.events / EVENTS_PER_SECOND).toFixed(0)} s of event time, so its 1-10 minute windows hold only that much: in a`,
    "steady state each search reads up to 10 minutes of events, so the anchor is flattered, not the engine.",
    "",
    `${"latency, ".concat(String(latency.samples), " events one at a time").padEnd(44)}${"p50".padStart(10)}${"p95".padStart(10)}${"max".padStart(10)}`,
    `${"event → webhook (ingest, rule, outbox, POST)".padEnd(44)}${ms(latency.webhook.p50).padStart(10)}${ms(latency.webhook.p95).padStart(10)}${ms(latency.webhook.max).padStart(10)}`,
    `${"anchor: event → journaled (ingest answered)".padEnd(44)}${ms(latency.journaled.p50).padStart(10)}${ms(latency.journaled.p95).padStart(10)}${ms(latency.journaled.max).padStart(10)}`,
    `${"ratio (p50 webhook ÷ p50 journaled)".padEnd(44)}${`${(latency.webhook.p50 / latency.journaled.p50).toFixed(1)}x`.padStart(10)}`,
    "",
    ...checks.map((c) => `${c.pass ? "✅" : "❌"} ${c.check}`),
    "",
    `SUMMARY: ${checks.filter((c) => c.pass).length}/${checks.length} detect checks pass; engine ${n(engine.median)} events/s, ${ratio.toFixed(1)}x the SQL anchor; event to webhook p95 ${ms(latency.webhook.p95)}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
