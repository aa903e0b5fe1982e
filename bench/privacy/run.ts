// Privacy benchmarks (npm run bench:privacy): data-subject requests (./dsr.ts) and the anonymised
// copy (./anonymize.ts, run as its own process, as it is also run alone). See bench/privacy/README.md.
//
// Usage: node bench/privacy/run.ts [--rows N] [--subjects N] [--anonymize-rows N] [--skip-anonymize] [--json]
//   --rows            rows per table of the DSR benchmark (default 1,000,000)
//   --subjects        subjects timed per DSR operation (default 20)
//   --anonymize-rows  total rows of the anonymised-copy benchmark (its own default when absent)
// env: RAMPART_BENCH_PG_URL, else RAMPART_TEST_PG_URL: a PostgreSQL server URL whose user may create
//      databases; every database the benchmarks create is dropped at the end.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { benchServerUrl, formatDsrBench, intArg, runDsrBench } from "./dsr.ts";

const argv = process.argv.slice(2);
const json = argv.includes("--json");
const progress = (m: string) => process.stderr.write(`  · ${m}\n`);

/** Runs bench/privacy/anonymize.ts as a child on the same server; its stdout is returned, its progress passed through. */
function anonymizeBench(server: string, rows: number | undefined): Promise<{ code: number; stdout: string }> {
  const script = fileURLToPath(new URL("./anonymize.ts", import.meta.url));
  const args = [script, ...(rows ? ["--rows", String(rows)] : []), ...(json ? ["--json"] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, RAMPART_BENCH_PG_URL: server },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), stdout }));
  });
}

async function main(): Promise<number> {
  const server = benchServerUrl();
  if (!server) {
    process.stderr.write(
      "set RAMPART_BENCH_PG_URL (or RAMPART_TEST_PG_URL) to a PostgreSQL server URL whose user may create databases\n",
    );
    return 1;
  }
  const dsr = await runDsrBench({
    serverUrl: server,
    rows: intArg(argv, "--rows", 1_000_000),
    subjects: intArg(argv, "--subjects", 20),
    progress,
  });
  if (!json) process.stdout.write(formatDsrBench(dsr));

  let anonymize: { code: number; stdout: string } | undefined;
  if (!argv.includes("--skip-anonymize")) {
    progress("anonymised copy (bench/privacy/anonymize.ts)");
    const rows = argv.includes("--anonymize-rows") ? intArg(argv, "--anonymize-rows", 1) : undefined;
    anonymize = await anonymizeBench(server, rows);
    if (!json) process.stdout.write(anonymize.stdout);
    if (anonymize.code !== 0) process.stderr.write(`anonymize benchmark failed (exit ${anonymize.code})\n`);
  }
  if (json) {
    let anon: unknown;
    try {
      anon = anonymize ? JSON.parse(anonymize.stdout) : null;
    } catch {
      anon = { error: "no JSON from bench/privacy/anonymize.ts", exitCode: anonymize?.code };
    }
    process.stdout.write(`${JSON.stringify({ dsr, anonymize: anon }, null, 2)}\n`);
  }
  const missed = dsr.lines.filter((l) => !l.pass).map((l) => l.operation);
  process.stdout.write(
    json
      ? ""
      : `\nsummary: DSR access and erasure p95 ${missed.length ? `MISS the 1 s target (${missed.join(", ")})` : "within the 1 s target"}${anonymize ? `; anonymised copy ${anonymize.code === 0 ? "ran" : "FAILED"}` : ""}\n`,
  );
  return anonymize && anonymize.code !== 0 ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
