// Finds credentials in text and in a directory tree: keyword prefilter, linear regexes, look-alike
// filters, inline `rampart:allow` / `gitleaks:allow`, allowlist file. Secrets never leave this
// module in clear: findings carry a redacted form and fingerprints over a SHA-256 of the value.
import { createHash } from "node:crypto";
import { isUtf8 } from "node:buffer";
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { Worker } from "node:worker_threads";
import { gitignore as ignore, type Ignore } from "./gitignore.ts";
import type { Finding } from "../types.ts";
import { createAllowlist, type SecretsAllowlist, type SecretsAllowlistFile } from "./allowlist.ts";
import { isPlaceholder, shannonEntropy } from "./entropy.ts";
import { redact, secretRules, type SecretRule } from "./rules.ts";

/** Files larger than this are skipped and reported (default 10 MB). */
export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024;
const BINARY_SNIFF = 8192;
const ALLOW_MARKERS = ["rampart:allow", "gitleaks:allow"];

/** A credential found: the finding as every output shows it, and the secret's SHA-256 for baselines. */
export interface FoundSecret {
  finding: Finding;
  /** SHA-256 hex of the secret (baselines store this, never the value). */
  secretHash: string;
}

/** Extra facts for findings from git history. */
export interface FindingOrigin {
  commit?: string;
  /** Author date, ISO 8601. */
  date?: string;
  author?: string;
  /** Maps a line of the scanned text to the line in the file (diff hunks). */
  lineMap?: number[];
}

export interface TextScanOptions {
  rules?: readonly SecretRule[];
  allowlist?: SecretsAllowlist;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** Stable identity of a secret at a place: rule + file + the secret's hash (never the value). */
export function secretFingerprint(rule: string, file: string, secretHash: string): string {
  return sha256(`${rule}\0${file}\0${secretHash}`).slice(0, 16);
}

interface Candidate {
  rule: SecretRule;
  priority: number;
  secret: string;
  start: number;
  end: number;
}

interface CompiledRules {
  /** One case-insensitive pass finds every keyword; longest first so prefixes do not hide them. */
  keywords: RegExp;
  /** Lowercased keyword → the rules (by index) it wakes, and whether the rule wants exact case. */
  byKeyword: Map<string, { rule: number; exact: string | undefined }[]>;
  global: RegExp[];
  sticky: RegExp[];
}

const compiledCache = new WeakMap<readonly SecretRule[], CompiledRules>();
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function compile(rules: readonly SecretRule[]): CompiledRules {
  let c = compiledCache.get(rules);
  if (c) return c;
  const byKeyword = new Map<string, { rule: number; exact: string | undefined }[]>();
  rules.forEach((rule, i) => {
    for (const k of rule.keywords) {
      const key = k.toLowerCase();
      const list = byKeyword.get(key) ?? [];
      list.push({ rule: i, exact: rule.exactKeywords ? k : undefined });
      byKeyword.set(key, list);
    }
  });
  const words = [...byKeyword.keys()].sort((a, b) => b.length - a.length);
  c = {
    keywords: new RegExp(words.map(escapeRe).join("|"), "gi"),
    byKeyword,
    global: rules.map(
      (r) => new RegExp(r.regex.source, r.regex.flags.includes("g") ? r.regex.flags : `${r.regex.flags}g`),
    ),
    sticky: rules.map((r) => new RegExp(r.regex.source, `${r.regex.flags.replace("g", "")}y`)),
  };
  compiledCache.set(rules, c);
  return c;
}

/** Every credential in `text` (as found in `file`), look-alikes filtered out. */
export function scanText(text: string, file: string, o: TextScanOptions & FindingOrigin = {}): FoundSecret[] {
  const rules = o.rules ?? secretRules;
  const compiled = compile(rules);
  // Where each rule's keywords occur: one pass over the text for all rules (gitleaks-style prefilter).
  const hits = new Map<number, number[]>();
  const kw = compiled.keywords;
  kw.lastIndex = 0;
  for (let m = kw.exec(text); m; m = kw.exec(text)) {
    for (const { rule, exact } of compiled.byKeyword.get(m[0].toLowerCase()) ?? []) {
      if (exact !== undefined && !text.startsWith(exact, m.index)) continue;
      const list = hits.get(rule);
      if (list) list.push(m.index);
      else hits.set(rule, [m.index]);
    }
  }
  if (hits.size === 0) return [];
  const candidates: Candidate[] = [];
  const consider = (r: number, m: RegExpExecArray) => {
    const rule = rules[r]!;
    const secret = m.groups?.s ?? m[0];
    const start = m.index + Math.max(0, m[0].indexOf(secret));
    if (rule.minEntropy !== undefined && shannonEntropy(secret) < rule.minEntropy) return;
    if (!rule.ownPlaceholderCheck && isPlaceholder(secret)) return;
    if (rule.validate && !rule.validate(secret, m, { text, index: start, file })) return;
    candidates.push({ rule, priority: r, secret, start, end: start + secret.length });
  };
  for (const [r, positions] of [...hits].sort((a, b) => a[0] - b[0])) {
    const rule = rules[r]!;
    if (o.allowlist?.ruleDisabled(rule.id)) continue;
    if (rule.path && !rule.path.test(file)) continue;
    if (rule.anchored) {
      const re = compiled.sticky[r]!;
      let end = -1;
      for (const p of positions) {
        if (p < end) continue;
        re.lastIndex = p;
        const m = re.exec(text);
        if (!m) continue;
        end = m.index + m[0].length;
        consider(r, m);
      }
    } else {
      const re = compiled.global[r]!;
      re.lastIndex = 0;
      for (let m = re.exec(text); m; m = re.exec(text)) consider(r, m);
    }
  }
  if (candidates.length === 0) return [];
  // A match inside a more specific rule's match (a PEM block inside service-account JSON, a
  // password inside a connection string that a generic rule also saw) is the same credential.
  const kept = candidates.filter(
    (c) => !candidates.some((d) => d.priority < c.priority && d.start < c.end && c.start < d.end),
  );
  const lineStarts = newlineIndex(text);
  return kept.map((c) => toFound(c, text, file, lineStarts, o));
}

function newlineIndex(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

function lineOf(starts: number[], index: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function toFound(
  c: Candidate,
  text: string,
  file: string,
  starts: number[],
  o: TextScanOptions & FindingOrigin,
): FoundSecret {
  const li = lineOf(starts, c.start);
  const lineStart = starts[li]!;
  const lineEnd = li + 1 < starts.length ? starts[li + 1]! - 1 : text.length;
  const lineText = text.slice(lineStart, lineEnd);
  const secretHash = sha256(c.secret);
  const finding: Finding = {
    rule: c.rule.id,
    severity: c.rule.severity,
    title: `${c.rule.title}: ${redact(c.secret)}`,
    fix: c.rule.fix ?? "Remove the value, rotate it, and load it from a secret store or the environment",
    location: { file, line: o.lineMap ? (o.lineMap[li] ?? li + 1) : li + 1, column: c.start - lineStart + 1 },
    fingerprint: secretFingerprint(c.rule.id, file, secretHash),
    references: ["CWE-798"],
    details: {
      redacted: redact(c.secret),
      entropy: Math.round(shannonEntropy(c.secret) * 100) / 100,
      ...(o.commit ? { commit: o.commit } : {}),
      ...(o.date ? { date: o.date } : {}),
      ...(o.author ? { author: o.author } : {}),
    },
  };
  if (ALLOW_MARKERS.some((m) => lineText.includes(m)))
    finding.suppressed = { by: "inline", reason: "rampart:allow" };
  else {
    const why = o.allowlist?.secretAllowed(c.secret);
    if (why) finding.suppressed = { by: "ignore", reason: why };
  }
  return { finding, secretHash };
}

/** Text of a file as the scanner reads it, or why it was skipped. */
export function readScannable(
  path: string,
  size: number,
  maxBytes = DEFAULT_MAX_FILE_BYTES,
): string | "binary" | "large" {
  if (size > maxBytes) return "large";
  const buf = readFileSync(path);
  if (buf.subarray(0, BINARY_SNIFF).includes(0)) return "binary";
  // Credentials are ASCII, so Latin-1 finds the same ones in text that is not UTF-8.
  return isUtf8(buf) ? buf.toString("utf8") : buf.toString("latin1");
}

export interface TreeFile {
  path: string;
  /** Relative to the scanned root, forward slashes. */
  rel: string;
  size: number;
}

export interface WalkOptions {
  /** Include what .gitignore excludes. */
  all?: boolean;
  allowlist?: SecretsAllowlist;
}

/** Files under `root` (skipping .git, honouring .gitignore files unless `all`), sorted. */
export function listTree(root: string, o: WalkOptions = {}): TreeFile[] {
  const out: TreeFile[] = [];
  const rootStat = lstatSync(root);
  if (rootStat.isFile()) return [{ path: root, rel: root.split(sep).pop()!, size: rootStat.size }];
  const walk = (dir: string, ignores: { base: string; ig: Ignore }[]) => {
    let scoped = ignores;
    if (!o.all) {
      const gi = join(dir, ".gitignore");
      if (existsSync(gi)) scoped = [...ignores, { base: dir, ig: ignore().add(readFileSync(gi, "utf8")) }];
    }
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (e.name === ".git") continue;
      const path = join(dir, e.name);
      const isDir = e.isDirectory();
      if (!isDir && !e.isFile()) continue; // symlinks, sockets, devices
      const rel = relative(root, path).split(sep).join("/");
      if (o.allowlist?.pathAllowed(isDir ? `${rel}/` : rel)) continue;
      if (
        scoped.some(({ base, ig }) =>
          ig.ignores(relative(base, path).split(sep).join("/") + (isDir ? "/" : "")),
        )
      )
        continue;
      if (isDir) walk(path, scoped);
      else out.push({ path, rel, size: lstatSync(path).size });
    }
  };
  walk(root, []);
  return out;
}

export interface FilesScanOptions {
  allowlist?: SecretsAllowlistFile;
  maxFileBytes?: number;
  /** Worker threads (default 1: scan on this thread). */
  workers?: number;
  /** Bytes done so far and in total, as files finish. */
  onProgress?: (done: number, total: number) => void;
  /** How a file is named in findings (default: its relative path). */
  display?: (f: TreeFile) => string;
}

export interface FilesScanOutcome {
  found: FoundSecret[];
  files: number;
  bytes: number;
  binary: string[];
  large: string[];
}

/** Scans one file; the worker and the main thread share this. */
export function scanFile(
  f: TreeFile,
  name: string,
  allowlist: SecretsAllowlist | undefined,
  maxBytes: number,
) {
  const text = readScannable(f.path, f.size, maxBytes);
  if (text === "binary" || text === "large") return { skipped: text, found: [] as FoundSecret[] };
  return { skipped: undefined, found: scanText(text, name, { allowlist }) };
}

/** Scans files, on worker threads when asked; findings sorted by file and line. */
export async function scanFiles(files: TreeFile[], o: FilesScanOptions = {}): Promise<FilesScanOutcome> {
  const maxBytes = o.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const display = o.display ?? ((f: TreeFile) => f.rel);
  const total = files.reduce((n, f) => n + f.size, 0);
  const outcome: FilesScanOutcome = { found: [], files: 0, bytes: 0, binary: [], large: [] };
  let done = 0;
  const record = (f: TreeFile, skipped: string | undefined, found: FoundSecret[]) => {
    done += f.size;
    if (skipped === "binary") outcome.binary.push(display(f));
    else if (skipped === "large") outcome.large.push(display(f));
    else {
      outcome.files++;
      outcome.bytes += f.size;
      outcome.found.push(...found);
    }
    o.onProgress?.(done, total);
  };
  // Starting a worker costs a few hundred milliseconds: only worth it for a large tree.
  const workers =
    total < 32 * 1024 * 1024 ? 1 : Math.max(1, Math.min(o.workers ?? 1, Math.ceil(files.length / 64)));
  if (workers <= 1) {
    const allowlist = o.allowlist ? createAllowlist(o.allowlist) : undefined;
    for (const f of files) {
      const r = scanFile(f, display(f), allowlist, maxBytes);
      record(f, r.skipped, r.found);
    }
  } else {
    await scanOnWorkers(
      files,
      workers,
      { allowlist: o.allowlist, maxBytes, names: files.map(display) },
      record,
    );
  }
  outcome.found.sort(
    (a, b) =>
      (a.finding.location.file! < b.finding.location.file!
        ? -1
        : a.finding.location.file! > b.finding.location.file!
          ? 1
          : 0) ||
      a.finding.location.line! - b.finding.location.line! ||
      a.finding.location.column! - b.finding.location.column!,
  );
  return outcome;
}

/** Message protocol with worker.ts. */
export interface WorkerJob {
  batch: { index: number; file: TreeFile; name: string }[];
}
export interface WorkerReply {
  results: { index: number; skipped: string | undefined; found: FoundSecret[] }[];
}

function scanOnWorkers(
  files: TreeFile[],
  count: number,
  o: { allowlist?: SecretsAllowlistFile; maxBytes: number; names: string[] },
  record: (f: TreeFile, skipped: string | undefined, found: FoundSecret[]) => void,
): Promise<void> {
  // Small batches keep the workers evenly loaded; one message per file would cost more than small files take.
  const BATCH_BYTES = 1 << 20;
  let next = 0;
  const takeBatch = (): WorkerJob["batch"] => {
    const batch: WorkerJob["batch"] = [];
    let bytes = 0;
    while (next < files.length && (batch.length === 0 || (bytes < BATCH_BYTES && batch.length < 256))) {
      bytes += files[next]!.size;
      batch.push({ index: next, file: files[next]!, name: o.names[next]! });
      next++;
    }
    return batch;
  };
  return new Promise((resolve, reject) => {
    let live = count;
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL("./worker.ts", import.meta.url), {
        workerData: { allowlist: o.allowlist, maxBytes: o.maxBytes },
      });
      const feed = () => {
        const batch = takeBatch();
        if (batch.length) worker.postMessage({ batch } satisfies WorkerJob);
        else void worker.terminate();
      };
      worker.on("message", (reply: WorkerReply) => {
        for (const r of reply.results) record(files[r.index]!, r.skipped, r.found);
        feed();
      });
      worker.once("error", (err) => {
        live = -1;
        reject(err);
      });
      worker.once("exit", () => {
        if (live > 0 && --live === 0) resolve();
      });
      feed();
    }
  });
}
