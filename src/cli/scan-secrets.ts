// `rampart scan secrets [PATH]`: credentials in a source tree, its git history or staged changes.
import { availableParallelism } from "node:os";
import { type Command, InvalidArgumentError } from "commander";
import { scanSecrets } from "../appsec/scan/secrets/index.ts";
import { type CommonScanOptions, commonScanOptions, type ScanRunner } from "./scan.ts";

interface SecretsOptions extends CommonScanOptions {
  all?: boolean;
  git?: boolean;
  since?: string;
  staged?: boolean;
  baseline?: string;
  updateBaseline?: boolean;
  allowlist?: string;
  maxFileSize: number;
  workers?: number;
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
};

/** Registers `rampart scan secrets` under the `scan` command group. */
export function registerSecretsScan(scan: Command, run: ScanRunner): void {
  commonScanOptions(
    scan
      .command("secrets")
      .description(
        "find credentials in a source tree (honouring .gitignore), its git history (--git) or staged changes (--staged); output is redacted",
      )
      .argument(
        "[path]",
        "directory or file to scan (a directory inside the repository for --git and --staged)",
        ".",
      )
      .option("--all", "also scan files .gitignore excludes")
      .option("--git", "scan every commit on every ref (git log -p --all) instead of the working tree")
      .option("--since <rev>", "with --git: only commits not reachable from this revision")
      .option("--staged", "scan the staged changes (for a pre-commit hook)")
      .option(
        "--baseline <file>",
        "findings in this baseline are reported as suppressed and do not fail the gate",
      )
      .option("--update-baseline", "write this run's findings to --baseline (accepting them)")
      .option("--allowlist <file>", "allowlist file (default: PATH/.rampart-secrets.yaml when present)")
      .option("--max-file-size <mb>", "skip (and report) files larger than this many MB", positiveInt, 10)
      .option("--workers <n>", "worker threads for large trees (default: CPU count)", positiveInt),
  ).action(async (path: string, o: SecretsOptions) => {
    if (o.git && o.staged) {
      process.stderr.write("rampart scan secrets: --git and --staged are exclusive\n");
      process.exitCode = 2;
      return;
    }
    if (o.since && !o.git) {
      process.stderr.write("rampart scan secrets: --since needs --git\n");
      process.exitCode = 2;
      return;
    }
    await run(o, (progress) =>
      scanSecrets({
        path,
        all: o.all,
        git: o.git,
        since: o.since,
        staged: o.staged,
        baseline: o.baseline,
        updateBaseline: o.updateBaseline,
        allowlistFile: o.allowlist,
        maxFileBytes: o.maxFileSize * 1024 * 1024,
        workers: o.workers ?? availableParallelism(),
        // In KiB: the bar shows "done/total", and byte counts would not fit on the line.
        onProgress: (done, total) => {
          if (total > 0) progress.update(Math.round(done / 1024), Math.round(total / 1024));
        },
      }),
    );
  });
}
