// Accuracy of Rampart's WAF beside nginx + ModSecurity + OWASP CRS, both reached over HTTP with the
// same bytes: every dev-set request is sent as recorded, and a request counts as refused when the
// upstream never saw it (a 403 from the WAF, or a 400 from the proxy's own HTTP parser).
import type { ChildProcess } from "node:child_process";
import { progressBar } from "../../src/cli/progress.ts";
import { freePort } from "../../test/support/services.ts";
import { devSet, type Sample } from "./dev-set.ts";
import { waitUp } from "../load.ts";
import { ensureModSecurity, startModSecurity, startRampart, startUpstream } from "./servers.ts";
import { type Outcome, sendAll, wireBytes } from "./wire.ts";

export const SYSTEMS = ["Rampart PL1", "CRS PL1", "Rampart PL2", "CRS PL2"] as const;
type System = (typeof SYSTEMS)[number];

/** Strictness checks (protocol conformance, PL3-4 cases) are reported apart from exploits. */
export function kindOf(r: Sample): "exploit" | "strictness" | "benign" {
  if (r.label === "benign") return "benign";
  const pl = r.meta?.paranoia_level ?? 0;
  return r.source === "crs-regression" && (r.category === "protocol" || pl >= 3) ? "strictness" : "exploit";
}

const REAL_TRAFFIC = new Set(["elastic-apache-log", "httpparams"]);

export interface Counts {
  n: number;
  refused: Record<System, number>;
}

export interface AccuracyReport {
  requests: number;
  summary: Record<
    System,
    {
      exploitsCaught: number;
      attacksCaught: number;
      strictnessCaught: number;
      realTrafficBlocked: number;
      benignBlocked: number;
      balancedAccuracyExploits: number;
      balancedAccuracyAll: number;
    }
  >;
  rows: Record<string, Counts>;
  refusals: Record<System, Record<string, number>>;
}

export async function measureAccuracy(o: {
  dir: string;
  progress: (msg: string) => void;
  limit?: number;
}): Promise<AccuracyReport> {
  ensureModSecurity(o.progress);
  let samples = devSet();
  if (o.limit) samples = samples.filter((_, i) => i % Math.ceil(samples.length / o.limit!) === 0);
  const bytes = samples.map(wireBytes);
  const procs: ChildProcess[] = [];
  const upstreamPort = await freePort();
  const upstream = await startUpstream(upstreamPort);
  const outcomes = {} as Record<System, Outcome[]>;
  try {
    for (const system of SYSTEMS) {
      const port = await freePort();
      const paranoia = system.endsWith("PL1") ? 1 : 2;
      const proc = system.startsWith("CRS")
        ? startModSecurity({ dir: o.dir, name: `crs-${paranoia}`, port, upstreamPort, paranoia, workers: 2 })
        : startRampart({ dir: o.dir, port, upstreamPort, paranoia, workers: 2 });
      procs.push(proc);
      await waitUp(`http://127.0.0.1:${port}/`, { anyStatus: true });
      o.progress(`${system}: ${samples.length} requests`);
      const bar = progressBar(`  ${system}`);
      let done = 0;
      outcomes[system] = await sendAll(port, bytes, 16, () => bar?.update(++done, samples.length));
      bar?.done();
      proc.kill("SIGTERM");
    }
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    upstream.close();
  }
  return tally(samples, outcomes);
}

function tally(samples: Sample[], outcomes: Record<System, Outcome[]>): AccuracyReport {
  const rows: Record<string, Counts> = {};
  const zero = () => Object.fromEntries(SYSTEMS.map((s) => [s, 0])) as Record<System, number>;
  const refusals = Object.fromEntries(SYSTEMS.map((s) => [s, {}])) as AccuracyReport["refusals"];
  const add = (key: string, i: number) => {
    const row = (rows[key] ??= { n: 0, refused: zero() });
    row.n++;
    for (const s of SYSTEMS) if (!(outcomes[s][i] as Outcome).passed) row.refused[s]++;
  };
  samples.forEach((r, i) => {
    const kind = kindOf(r);
    add(`${kind} (all)`, i);
    if (kind === "benign") {
      add(`benign ${r.source}`, i);
      if (REAL_TRAFFIC.has(r.source)) add("benign real traffic", i);
      if (r.source === "crs-regression") add(`benign crs-regression PL${r.meta?.paranoia_level ?? "?"}`, i);
    } else {
      add(`${kind} ${r.source}`, i);
      add(`${kind} ${r.source} ${r.category}`, i);
      if (r.source === "crs-regression") add(`${kind} crs-regression PL${r.meta?.paranoia_level ?? "?"}`, i);
      add("attack (all)", i);
    }
    for (const s of SYSTEMS) {
      const out = outcomes[s][i] as Outcome;
      if (!out.passed) refusals[s][String(out.status)] = (refusals[s][String(out.status)] ?? 0) + 1;
    }
  });
  const rate = (key: string, s: System) => {
    const row = rows[key];
    return row ? row.refused[s] / row.n : 0;
  };
  const summary = Object.fromEntries(
    SYSTEMS.map((s) => {
      const tnr = 1 - rate("benign (all)", s);
      return [
        s,
        {
          exploitsCaught: rate("exploit (all)", s),
          attacksCaught: rate("attack (all)", s),
          strictnessCaught: rate("strictness (all)", s),
          realTrafficBlocked: rate("benign real traffic", s),
          benignBlocked: rate("benign (all)", s),
          balancedAccuracyExploits: (rate("exploit (all)", s) + tnr) / 2,
          balancedAccuracyAll: (rate("attack (all)", s) + tnr) / 2,
        },
      ];
    }),
  ) as AccuracyReport["summary"];
  return { requests: samples.length, summary, rows, refusals };
}

const pct = (x: number, digits = 1) => `${(100 * x).toFixed(digits)}%`;

export function printAccuracy(r: AccuracyReport): void {
  const head = `| ${"".padEnd(44)} | ${"n".padStart(6)} | ${SYSTEMS.map((s) => s.padStart(11)).join(" | ")} |`;
  const line = `|${"-".repeat(46)}|${"-".repeat(8)}|${SYSTEMS.map(() => "-".repeat(13)).join("|")}|`;
  console.log(`\nWAF accuracy on the dev set (${r.requests} requests, each over HTTP to every system)\n`);
  const s = r.summary;
  const rowsOf = (label: string, f: (x: AccuracyReport["summary"][System]) => number, digits = 1) =>
    console.log(
      `| ${label.padEnd(44)} | ${"".padStart(6)} | ${SYSTEMS.map((x) => pct(f(s[x]), digits).padStart(11)).join(" | ")} |`,
    );
  console.log(head);
  console.log(line);
  rowsOf("exploits caught (TPR)", (x) => x.exploitsCaught);
  rowsOf("real traffic blocked (FPR)", (x) => x.realTrafficBlocked, 2);
  rowsOf("all benign blocked (FPR)", (x) => x.benignBlocked, 2);
  rowsOf("balanced accuracy, exploits", (x) => x.balancedAccuracyExploits, 2);
  rowsOf("strictness checks caught", (x) => x.strictnessCaught);
  rowsOf("all attacks caught", (x) => x.attacksCaught);
  rowsOf("balanced accuracy, all attacks", (x) => x.balancedAccuracyAll, 2);
  console.log("\nPer group: share refused (attacks: caught; benign: wrongly blocked)\n");
  console.log(head);
  console.log(line);
  for (const [key, row] of Object.entries(r.rows).sort(([a], [b]) => a.localeCompare(b)))
    console.log(
      `| ${key.padEnd(44)} | ${String(row.n).padStart(6)} | ${SYSTEMS.map((x) => pct(row.refused[x] / row.n).padStart(11)).join(" | ")} |`,
    );
  console.log("\nHow requests were refused (status from the proxy; reset/timeout: no answer)");
  for (const x of SYSTEMS) console.log(`  ${x.padEnd(12)} ${JSON.stringify(r.refusals[x])}`);
}

/** The accuracy targets, each as a line with ✓ or ✗. */
export function accuracyChecks(r: AccuracyReport): [string, boolean][] {
  const s = r.summary;
  const ba = (x: System) => s[x].balancedAccuracyAll;
  return [
    [
      `balanced accuracy: Rampart PL1 ${pct(ba("Rampart PL1"), 2)} > CRS PL1 ${pct(ba("CRS PL1"), 2)} and CRS PL2 ${pct(ba("CRS PL2"), 2)}`,
      ba("Rampart PL1") > ba("CRS PL1") && ba("Rampart PL1") > ba("CRS PL2"),
    ],
    [
      `exploits caught at PL1: ${pct(s["Rampart PL1"].exploitsCaught)} (target >= 97%)`,
      s["Rampart PL1"].exploitsCaught >= 0.97,
    ],
    [
      `real traffic blocked at PL1: ${pct(s["Rampart PL1"].realTrafficBlocked, 2)} (target <= 0.5%)`,
      s["Rampart PL1"].realTrafficBlocked <= 0.005,
    ],
  ];
}
