// Secrets in git: every line ever added on any ref (`git log -p --all`), or the staged changes a
// pre-commit hook is about to commit (`git diff --cached`). Only added lines are scanned; a
// secret removed in a later commit is still found where it was introduced.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { Invalid } from "../../../platform/errors.ts";
import type { SecretsAllowlist } from "./allowlist.ts";
import { type FoundSecret, scanText } from "./scanner.ts";

export interface GitScanOptions {
  /** A directory inside the repository. */
  cwd: string;
  allowlist?: SecretsAllowlist;
  /** History mode: only commits not reachable from this revision. */
  since?: string;
  /** Added lines scanned so far (bytes), for progress. */
  onProgress?: (bytes: number) => void;
}

export interface GitScanOutcome {
  found: FoundSecret[];
  /** Commits (history) or files (staged) whose additions were scanned. */
  commits: number;
  files: number;
  bytes: number;
}

interface Hunk {
  commit?: string;
  date?: string;
  author?: string;
  file?: string;
  lines: string[];
  lineMap: number[];
}

/** Finds secrets in every commit on every ref (newest first in git; reported once per secret and file, oldest commit). */
export function scanGitHistory(o: GitScanOptions): Promise<GitScanOutcome> {
  const args = [
    "log",
    "-p",
    "--all",
    "--no-color",
    "--no-ext-diff",
    "--no-renames",
    "-U0",
    "--format=%x00%H%x00%aI%x00%an",
  ];
  if (o.since) args.push(`^${o.since}`);
  return scanDiff(args, o, true);
}

/** Finds secrets in what is staged for the next commit (a pre-commit hook). */
export function scanStaged(o: GitScanOptions): Promise<GitScanOutcome> {
  return scanDiff(["diff", "--cached", "--no-color", "--no-ext-diff", "--no-renames", "-U0"], o, false);
}

function scanDiff(args: string[], o: GitScanOptions, history: boolean): Promise<GitScanOutcome> {
  const out: GitScanOutcome = { found: [], commits: 0, files: 0, bytes: 0 };
  const byFingerprint = new Map<string, FoundSecret>();
  const files = new Set<string>();
  let cur: Hunk = { lines: [], lineMap: [] };
  let newLine = 0;
  let inHunk = false;

  const flush = () => {
    if (cur.file && cur.lines.length && !o.allowlist?.pathAllowed(cur.file)) {
      const text = cur.lines.join("\n");
      out.bytes += text.length;
      o.onProgress?.(out.bytes);
      for (const f of scanText(text, cur.file, {
        allowlist: o.allowlist,
        lineMap: cur.lineMap,
        commit: cur.commit,
        date: cur.date,
        author: cur.author,
      })) {
        // git log lists newest first: the last one seen is where the secret came in.
        byFingerprint.set(f.finding.fingerprint, f);
      }
    }
    cur = { commit: cur.commit, date: cur.date, author: cur.author, lines: [], lineMap: [] };
  };

  return new Promise((resolve, reject) => {
    const git = spawn("git", ["-c", "core.quotepath=false", ...args], {
      cwd: o.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    git.stderr.on("data", (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    git.once("error", (err) => reject(new Invalid(`cannot run git: ${err.message}`, o.cwd)));
    const lines = createInterface({ input: git.stdout, crlfDelay: Infinity });
    lines.on("line", (line) => {
      if (history && line.startsWith("\0")) {
        flush();
        const [, commit, date, author] = line.split("\0");
        cur.commit = commit;
        cur.date = date && !Number.isNaN(Date.parse(date)) ? new Date(date).toISOString() : date;
        cur.author = author;
        out.commits++;
        inHunk = false;
      } else if (line.startsWith("diff --git ")) {
        flush();
        cur.file = undefined;
        inHunk = false;
      } else if (!inHunk && line.startsWith("+++ ")) {
        const target = line.slice(4);
        cur.file = target === "/dev/null" ? undefined : target.replace(/^b\//, "");
        if (cur.file) files.add(cur.file);
      } else if (line.startsWith("@@ ")) {
        const m = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
        newLine = m ? Number(m[1]) : 0;
        inHunk = true;
      } else if (inHunk && line.startsWith("+")) {
        cur.lines.push(line.slice(1));
        cur.lineMap.push(newLine++);
      } else if (inHunk && line.startsWith(" ")) newLine++;
    });
    git.once("close", (code) => {
      flush();
      if (code !== 0) {
        reject(
          new Invalid(`git ${args[0]} failed: ${stderr.trim().split("\n")[0] ?? `exit ${code}`}`, o.cwd),
        );
        return;
      }
      out.files = files.size;
      out.found = [...byFingerprint.values()];
      resolve(out);
    });
  });
}
