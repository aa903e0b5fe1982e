// The auditor bundle for an audit window: each framework's report as JSON, CSV and HTML, the OSCAL
// assessment results, the evidence files, and the audit log's own offline-verifiable export, tied
// together by a manifest of SHA-256 hashes signed with Ed25519. An auditor checks it offline with
// the deployment's verifier key: every file hashed, nothing missing, nothing added.
import { createHash, verify as edVerify } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { Invalid } from "../../../platform/errors.ts";
import { type BundleResult, verifyBundle } from "../../audit/bundle.ts";
import { parseVerifierKey } from "../../audit/checkpoint.ts";
import type { FrameworkReadiness } from "../model.ts";
import { readinessCsv } from "./csv.ts";
import { renderReadinessHtml } from "./html.ts";
import { readinessJson } from "./json.ts";

const MANIFEST = "manifest.json";
const SIGNATURE = "manifest.sig";

export interface AuditorManifest {
  version: 1;
  kind: "rampart-auditor-bundle";
  createdAt: string;
  window: { from: string; to: string };
  frameworks: string[];
  verifierKey: string;
  /** Bundle-relative path (always with '/') → SHA-256 hex. */
  files: Record<string, string>;
}

export interface AuditorBundleOptions {
  dir: string;
  window: { from: Date; to: Date };
  reports: FrameworkReadiness[];
  oscal: object;
  evidenceFiles: { name: string; bytes: Buffer }[];
  /** Writes the audit log's export bundle for the window into the directory given. */
  exportAuditLog: (dir: string) => Promise<unknown>;
  /** Ed25519 signature over the manifest bytes. */
  sign: (data: Buffer) => Buffer;
  /** The verifier key ("<name>+<id>+<base64>") auditors check the signature and the audit log with. */
  verifierKey: string;
  html?: (r: FrameworkReadiness) => string;
  now?: Date;
}

export interface AuditorBundleResult {
  ok: boolean;
  /** Everything found wrong, each naming the file concerned. */
  problems: string[];
  files: number;
  keyPinned: boolean;
  audit?: BundleResult;
}

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/**
 * A safe file name for evidence: path separators, "." and ".." segments and characters outside a
 * plain set are dropped or replaced, so a name can never leave evidence/.
 */
export function sanitiseEvidenceName(name: string): string {
  const flat = name
    .split(/[\\/]+/)
    .filter((s) => s !== "" && s !== "." && s !== "..")
    .join("_")
    .replace(/[^A-Za-z0-9._ -]+/g, "_")
    .replace(/^[.\s]+/, "")
    .trim()
    .slice(0, 180);
  return flat || "evidence";
}

function uniqueNames(names: string[]): string[] {
  const seen = new Set<string>();
  return names.map((n) => {
    let name = sanitiseEvidenceName(n);
    if (seen.has(name.toLowerCase())) {
      const dot = name.lastIndexOf(".");
      const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
      let i = 2;
      while (seen.has(`${stem}-${i}${ext}`.toLowerCase())) i++;
      name = `${stem}-${i}${ext}`;
    }
    seen.add(name.toLowerCase());
    return name;
  });
}

/** Every regular file under `dir`, as '/'-separated paths relative to it, sorted. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    out.push(relative(dir, join(entry.parentPath, entry.name)).split(sep).join("/"));
  }
  return out.sort();
}

/** Writes the bundle into `dir` (which must be absent or empty) and returns its signed manifest. */
export async function writeAuditorBundle(o: AuditorBundleOptions): Promise<AuditorManifest> {
  if (!(o.window.from < o.window.to)) throw new Invalid("'from' must be before 'to'", "window");
  parseVerifierKey(o.verifierKey);
  if (existsSync(o.dir) && readdirSync(o.dir).length > 0)
    throw new Invalid("the bundle directory must be empty or not exist yet", o.dir);
  const write = (path: string, data: string | Buffer) => {
    const full = join(o.dir, ...path.split("/"));
    mkdirSync(join(full, ".."), { recursive: true });
    writeFileSync(full, data);
  };
  const html = o.html ?? ((r: FrameworkReadiness) => renderReadinessHtml(r));
  for (const r of o.reports) {
    const id = sanitiseEvidenceName(r.framework.id);
    write(`reports/${id}.json`, readinessJson(r));
    write(`reports/${id}.csv`, readinessCsv(r));
    write(`reports/${id}.html`, html(r));
  }
  write("oscal/assessment-results.json", `${JSON.stringify(o.oscal, null, 2)}\n`);
  const names = uniqueNames(o.evidenceFiles.map((f) => f.name));
  o.evidenceFiles.forEach((f, i) => write(`evidence/${names[i]}`, f.bytes));
  const auditDir = join(o.dir, "audit");
  mkdirSync(auditDir, { recursive: true });
  await o.exportAuditLog(auditDir);

  const files: Record<string, string> = {};
  for (const path of listFiles(o.dir)) files[path] = sha256(readFileSync(join(o.dir, ...path.split("/"))));
  const manifest: AuditorManifest = {
    version: 1,
    kind: "rampart-auditor-bundle",
    createdAt: (o.now ?? new Date()).toISOString(),
    window: { from: o.window.from.toISOString(), to: o.window.to.toISOString() },
    frameworks: o.reports.map((r) => r.framework.id),
    verifierKey: o.verifierKey,
    files,
  };
  const text = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(o.dir, MANIFEST), text);
  writeFileSync(join(o.dir, SIGNATURE), `${o.sign(text).toString("base64")}\n`);
  return manifest;
}

// A manifest path must stay inside the bundle: relative, '/'-separated, no "." or ".." segments.
const safePath = (p: string): boolean =>
  p.length > 0 &&
  !p.startsWith("/") &&
  !p.includes("\\") &&
  p.split("/").every((s) => s !== "" && s !== "." && s !== "..");

/**
 * Verifies a bundle offline: the manifest's signature (with `pinnedKey`, the deployment's verifier
 * key obtained out of band, when given), every file's hash, no missing or extra file, and the audit
 * log's own bundle under audit/. Never throws on hostile input.
 */
export function verifyAuditorBundle(dir: string, pinnedKey?: string): AuditorBundleResult {
  const keyPinned = !!pinnedKey;
  const fail = (problem: string): AuditorBundleResult => ({
    ok: false,
    problems: [problem],
    files: 0,
    keyPinned,
  });
  let text: Buffer;
  let manifest: AuditorManifest;
  try {
    text = readFileSync(join(dir, MANIFEST));
    manifest = JSON.parse(text.toString("utf8")) as AuditorManifest;
  } catch (err) {
    return fail(`${MANIFEST} is missing or unreadable: ${(err as Error).message}`);
  }
  if (!manifest || typeof manifest !== "object" || typeof manifest.files !== "object" || !manifest.files)
    return fail(`${MANIFEST} is not an auditor bundle manifest`);
  if (pinnedKey && manifest.verifierKey !== pinnedKey)
    return fail(`${MANIFEST} names a different verifier key than the pinned one`);
  const key = pinnedKey ?? manifest.verifierKey;
  let publicKey: ReturnType<typeof parseVerifierKey>["publicKey"];
  try {
    publicKey = parseVerifierKey(key).publicKey;
  } catch (err) {
    return fail(`verifier key is malformed: ${(err as Error).message}`);
  }
  let sig: Buffer;
  try {
    sig = Buffer.from(readFileSync(join(dir, SIGNATURE), "utf8").trim(), "base64");
  } catch {
    return fail(`${SIGNATURE} is missing`);
  }
  if (!edVerify(null, text, publicKey, sig))
    return fail(`bad signature: ${SIGNATURE} is not a valid signature of ${MANIFEST} by the verifier key`);

  // The manifest is authentic from here on; compare it with what is on disk.
  const problems: string[] = [];
  const listed = Object.keys(manifest.files).sort();
  for (const path of listed) {
    if (!safePath(path)) {
      problems.push(`${path}: not a path inside the bundle`);
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(dir, ...path.split("/")));
    } catch {
      problems.push(`${path} is missing`);
      continue;
    }
    if (sha256(bytes) !== manifest.files[path])
      problems.push(`${path} does not match its SHA-256 in the signed manifest`);
  }
  let onDisk: string[] = [];
  try {
    onDisk = listFiles(dir);
  } catch (err) {
    problems.push(`cannot list the bundle: ${(err as Error).message}`);
  }
  const known = new Set(listed);
  for (const path of onDisk)
    if (path !== MANIFEST && path !== SIGNATURE && !known.has(path))
      problems.push(`${path} is an extra file not in the signed manifest`);
  const audit = verifyBundle(join(dir, "audit"), key);
  if (!audit.ok) problems.push(`audit/: ${audit.problem ?? "the audit log bundle does not verify"}`);
  return { ok: problems.length === 0, problems, files: listed.length, keyPinned, audit };
}
