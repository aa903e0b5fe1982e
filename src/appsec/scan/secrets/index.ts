// `rampart scan secrets`: credentials in a source tree, in git history or in staged changes,
// with an allowlist file, inline allow comments and a baseline so only new secrets fail CI.
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Clock, systemClock } from "../../../platform/clock.ts";
import { Invalid } from "../../../platform/errors.ts";
import type { ScanResult } from "../types.ts";
import { createAllowlist, readAllowlistFile, type SecretsAllowlistFile } from "./allowlist.ts";
import { applyBaseline, baselineExists, readBaseline, toBaseline, writeBaseline } from "./baseline.ts";
import { scanGitHistory, scanStaged } from "./git.ts";
import { DEFAULT_MAX_FILE_BYTES, type FoundSecret, listTree, scanFiles } from "./scanner.ts";

export {
  createAllowlist,
  readAllowlistFile,
  type SecretsAllowlist,
  type SecretsAllowlistFile,
  secretsAllowlistSchema,
} from "./allowlist.ts";
export {
  applyBaseline,
  readBaseline,
  type SecretsBaseline,
  secretsBaselineSchema,
  toBaseline,
  writeBaseline,
} from "./baseline.ts";
export { charClasses, isPlaceholder, isRepetitive, isUuid, shannonEntropy } from "./entropy.ts";
export { type GitScanOptions, type GitScanOutcome, scanGitHistory, scanStaged } from "./git.ts";
export { redact, type SecretRule, secretRules } from "./rules.ts";
export {
  DEFAULT_MAX_FILE_BYTES,
  type FoundSecret,
  listTree,
  scanFiles,
  scanText,
  secretFingerprint,
  type TreeFile,
} from "./scanner.ts";

/** The allowlist file looked for at the root of the scanned path. */
export const ALLOWLIST_FILE = ".rampart-secrets.yaml";

export interface SecretsScanOptions {
  /** Directory or file (a directory inside the repository for `git` and `staged`). */
  path: string;
  /** Include files .gitignore excludes. */
  all?: boolean;
  /** Scan git history instead of the working tree. */
  git?: boolean;
  /** With `git`: only commits not reachable from this revision. */
  since?: string;
  /** Scan staged changes (pre-commit). */
  staged?: boolean;
  /** Allowlist file (default: PATH/.rampart-secrets.yaml when present). */
  allowlistFile?: string;
  /** Baseline file: findings it holds are suppressed. */
  baseline?: string;
  /** Rewrite the baseline with this run's findings (the run then passes). */
  updateBaseline?: boolean;
  maxFileBytes?: number;
  workers?: number;
  onProgress?: (done: number, total: number) => void;
  clock?: Clock;
}

/** Scans for secrets and returns the shared scan result (findings redacted, baseline applied). */
export async function scanSecrets(o: SecretsScanOptions): Promise<ScanResult> {
  const clock = o.clock ?? systemClock;
  const startedAt = clock.now().toISOString();
  const root = resolve(o.path);
  if (!existsSync(root)) throw new Invalid("no such file or directory", o.path);
  if (o.updateBaseline && !o.baseline)
    throw new Invalid("--update-baseline needs --baseline FILE", "--update-baseline");
  const dir = statSync(root).isDirectory() ? root : resolve(root, "..");
  let allowlistData: SecretsAllowlistFile | undefined;
  const allowlistPath =
    o.allowlistFile ?? (existsSync(join(dir, ALLOWLIST_FILE)) ? join(dir, ALLOWLIST_FILE) : undefined);
  if (allowlistPath) allowlistData = readAllowlistFile(allowlistPath);
  const allowlist = allowlistData ? createAllowlist(allowlistData) : undefined;

  let found: FoundSecret[];
  const stats: Record<string, number> = {};
  if (o.git || o.staged) {
    const r = await (o.staged ? scanStaged : scanGitHistory)({
      cwd: dir,
      allowlist,
      since: o.since,
      onProgress: (b) => o.onProgress?.(b, 0),
    });
    found = r.found;
    Object.assign(stats, { commits: r.commits, files: r.files, bytes: r.bytes });
  } else {
    const files = listTree(root, { all: o.all, allowlist });
    const r = await scanFiles(files, {
      allowlist: allowlistData,
      maxFileBytes: o.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
      workers: o.workers,
      onProgress: o.onProgress,
    });
    found = r.found;
    Object.assign(stats, {
      files: r.files,
      bytes: r.bytes,
      skippedBinary: r.binary.length,
      skippedLarge: r.large.length,
    });
    // Files too large to scan are reported, so nobody believes they were checked.
    for (const file of r.large)
      found.push({
        finding: {
          rule: "file-too-large",
          severity: "info",
          title: `Not scanned: larger than ${Math.round((o.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES) / 1048576)} MB`,
          location: { file },
          fingerprint: createHash("sha256").update(`file-too-large\0${file}`).digest("hex").slice(0, 16),
        },
        secretHash: "",
      });
  }

  if (o.baseline) {
    if (o.updateBaseline)
      writeBaseline(
        o.baseline,
        toBaseline(
          found.filter((f) => f.secretHash),
          clock.now(),
        ),
      );
    if (baselineExists(o.baseline)) applyBaseline(found, readBaseline(o.baseline));
    else throw new Invalid("baseline file not found (create it with --update-baseline)", o.baseline);
  }
  stats.findings = found.filter((f) => f.secretHash && !f.finding.suppressed).length;
  stats.suppressed = found.filter((f) => f.finding.suppressed).length;
  return {
    kind: "secrets",
    target: o.staged
      ? `${o.path} (staged)`
      : o.git
        ? `${o.path} (git history${o.since ? ` since ${o.since}` : ""})`
        : o.path,
    startedAt,
    finishedAt: clock.now().toISOString(),
    findings: found.map((f) => f.finding),
    stats,
  };
}
