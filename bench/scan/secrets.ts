// Secrets scanning throughput (MB/s) over a real corpus (this repository's node_modules by
// default), beside two anchors over the same files in the same run: a plain read (fs read + UTF-8
// decode, what any scanner must do) and `grep -rEIc` with one combined keyword pattern.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { listTree, scanFiles, type TreeFile } from "../../src/appsec/scan/secrets/index.ts";
import { progressBar } from "../../src/cli/progress.ts";

export interface SecretsBench {
  corpus: string;
  files: number;
  mb: number;
  findings: number;
  /** MB/s with `workers` worker threads. */
  scanMbps: number;
  workers: number;
  /** MB/s on the main thread alone. */
  singleMbps: number;
  readMbps: number;
  grepMbps: number | undefined;
}

const log = (msg: string) => process.stderr.write(`  · ${msg}\n`);

function timed<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const v = fn();
  return [v, (performance.now() - t) / 1000];
}

function plainRead(files: TreeFile[]): number {
  let chars = 0;
  for (const f of files) chars += readFileSync(f.path).toString("utf8").length;
  return chars;
}

// The same keywords the rules prefilter on, as one extended regex (grep's best case: no validation).
const GREP_PATTERN =
  "gh[pousr]_|github_pat_|glpat-|xox[baprs]-|AKIA|ASIA|AIza|sk_live_|rk_live_|rzp_live_|npm_|pypi-|rpk_|eyJ|PRIVATE KEY|AccountKey=|hooks\\.slack\\.com|[Pp]assword|[Ss]ecret|[Tt]oken|api_?key|postgres://|mysql://|mongodb|redis://|amqps?://";

/** Measures secrets scanning over `root` (every file, .gitignore not applied). */
export async function benchSecrets(
  root: string,
  workers = Math.min(2, availableParallelism()),
): Promise<SecretsBench> {
  log(`listing ${root}`);
  const files = listTree(root, { all: true }).filter((f) => f.size <= 10 * 1024 * 1024);
  const bytes = files.reduce((n, f) => n + f.size, 0);
  const mb = bytes / 1e6;
  log(`${files.length} files, ${mb.toFixed(0)} MB; warming the page cache`);
  plainRead(files);
  const [, readS] = timed(() => plainRead(files));
  log(`plain read: ${(mb / readS).toFixed(0)} MB/s`);

  let grepMbps: number | undefined;
  if (spawnSync("grep", ["--version"]).status === 0) {
    const [, grepS] = timed(() => {
      try {
        execFileSync("grep", ["-rEIc", "-e", GREP_PATTERN, root], {
          maxBuffer: 1 << 30,
          stdio: ["ignore", "pipe", "ignore"],
        });
      } catch {
        // grep exits 1 when some file has no match; the counts were still printed.
      }
    });
    grepMbps = mb / grepS;
    log(`grep -rEIc: ${grepMbps.toFixed(0)} MB/s`);
  }

  const bar = progressBar(`secrets ×${workers}`);
  const t = performance.now();
  const r = await scanFiles(files, {
    workers,
    onProgress: (d, tot) => bar?.update(Math.round(d / 1e6), Math.round(tot / 1e6)),
  });
  const scanS = (performance.now() - t) / 1000;
  bar?.done();
  log(`rampart, ${workers} workers: ${(mb / scanS).toFixed(0)} MB/s, ${r.found.length} findings`);

  const bar1 = progressBar("secrets ×1");
  const t1 = performance.now();
  await scanFiles(files, {
    workers: 1,
    onProgress: (d, tot) => bar1?.update(Math.round(d / 1e6), Math.round(tot / 1e6)),
  });
  const singleS = (performance.now() - t1) / 1000;
  bar1?.done();
  log(`rampart, main thread: ${(mb / singleS).toFixed(0)} MB/s`);

  return {
    corpus: root,
    files: files.length,
    mb,
    findings: r.found.length,
    scanMbps: mb / scanS,
    workers,
    singleMbps: mb / singleS,
    readMbps: mb / readS,
    grepMbps,
  };
}
