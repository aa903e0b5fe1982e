// Export bundles an auditor can check offline with nothing but the public key: each log's slice
// of entries, a signed checkpoint, a range proof tying the slice to that checkpoint's root, and a
// signed manifest of SHA-256 hashes over every file (as CloudTrail digest files do).
import { createHash, type createPublicKey, sign as edSign, verify as edVerify } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Kysely } from "kysely";
import { Invalid } from "../../platform/errors.ts";
import { parseVerifierKey, verifyCheckpoint } from "./checkpoint.ts";
import type { EntryBody } from "./entry.ts";
import type { AuditKeys } from "./keys.ts";
import { leafHash, type MerkleTree, nodeHash } from "./merkle.ts";
import type { AuditTables } from "./schema.ts";

const BUNDLE_FILES = ["entries.jsonl", "logs.json"] as const;

export interface BundleLog {
  log: string;
  /** First and one-past-last position of the exported slice. */
  from: number;
  to: number;
  checkpoint: string;
  rangeProof: string[];
}

export interface BundleManifest {
  version: 1;
  createdAt: string;
  range: { from: string; to: string };
  verifierKey: string;
  entries: number;
  files: Record<string, string>;
}

export interface BundleResult {
  ok: boolean;
  entries: number;
  logs: number;
  problem?: string;
  keyPinned: boolean;
}

function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Hashes of the subtrees outside [a, b) that, with the leaves in [a, b), rebuild the root of size n. */
function rangeProof(tree: MerkleTree, a: number, b: number, n: number): Buffer[] {
  const out: Buffer[] = [];
  const walk = (lo: number, hi: number) => {
    if (hi <= a || lo >= b) out.push(tree.subtreeHash(lo, hi - lo));
    else if (hi - lo > 1) {
      const k = splitPoint(hi - lo);
      walk(lo, lo + k);
      walk(lo + k, hi);
    }
  };
  if (n > 0) walk(0, n);
  return out;
}

/** Rebuilds the root of size n from the leaves of [a, b) and a `rangeProof`; undefined if the proof does not fit. */
function rootFromRange(
  leaves: readonly Buffer[],
  a: number,
  n: number,
  proof: readonly Buffer[],
): Buffer | undefined {
  const b = a + leaves.length;
  let i = 0;
  const walk = (lo: number, hi: number): Buffer | undefined => {
    if (hi <= a || lo >= b) return proof[i++];
    if (hi - lo === 1) return leaves[lo - a];
    const k = splitPoint(hi - lo);
    const l = walk(lo, lo + k);
    const r = walk(lo + k, hi);
    return l && r ? nodeHash(l, r) : undefined;
  };
  if (n === 0 || b > n) return undefined;
  const root = walk(0, n);
  return i === proof.length ? root : undefined;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** Writes the bundle for entries whose time is in [from, to) into `dir`. */
export async function exportBundle(opts: {
  db: Kysely<AuditTables>;
  keys: AuditKeys;
  verifierKey: string;
  treeOf: (log: string) => Promise<MerkleTree>;
  from: Date;
  to: Date;
  dir: string;
  now: Date;
}): Promise<BundleManifest> {
  const { db, from, to } = opts;
  if (!(from < to)) throw new Invalid("'from' must be before 'to'", "from");
  // Each log contributes the contiguous slice from its first to its last entry in the range.
  const spans = await db
    .selectFrom("audit_entries")
    .select((eb) => ["log_id", eb.fn.min("seq").as("a"), eb.fn.max("seq").as("z")])
    .where("time", ">=", from)
    .where("time", "<", to)
    .groupBy("log_id")
    .orderBy("log_id")
    .execute();
  mkdirSync(opts.dir, { recursive: true });
  const lines: string[] = [];
  const logs: BundleLog[] = [];
  for (const s of spans) {
    const a = Number(s.a);
    const b = Number(s.z) + 1;
    const cp = await db
      .selectFrom("audit_checkpoints")
      .select(["tree_size", "note"])
      .where("log_id", "=", s.log_id)
      .where("tree_size", ">=", b)
      .orderBy("tree_size")
      .limit(1)
      .executeTakeFirst();
    if (!cp)
      throw new Invalid(
        `no signed checkpoint covers ${s.log_id} up to entry ${b - 1} yet; try again after the next checkpoint`,
      );
    const rows = await db
      .selectFrom("audit_entries")
      .select(["seq", "body"])
      .where("log_id", "=", s.log_id)
      .where("seq", ">=", a)
      .where("seq", "<", b)
      .orderBy("seq")
      .execute();
    // Each line is the signed entry itself, byte for byte; logs follow each other in logs.json's order.
    for (const r of rows) lines.push(r.body);
    const tree = await opts.treeOf(s.log_id);
    logs.push({
      log: s.log_id,
      from: a,
      to: b,
      checkpoint: cp.note,
      rangeProof: rangeProof(tree, a, b, cp.tree_size).map((h) => h.toString("hex")),
    });
  }
  const files: Record<string, string> = {
    "entries.jsonl": lines.length > 0 ? `${lines.join("\n")}\n` : "",
    "logs.json": `${JSON.stringify(logs, null, 2)}\n`,
  };
  const manifest: BundleManifest = {
    version: 1,
    createdAt: opts.now.toISOString(),
    range: { from: from.toISOString(), to: to.toISOString() },
    verifierKey: opts.verifierKey,
    entries: lines.length,
    files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, sha256(v)])),
  };
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
  for (const [k, v] of Object.entries(files)) writeFileSync(join(opts.dir, k), v);
  writeFileSync(join(opts.dir, "manifest.json"), manifestText);
  writeFileSync(
    join(opts.dir, "manifest.sig"),
    `${edSign(null, Buffer.from(manifestText), opts.keys.signingKey).toString("base64")}\n`,
  );
  return manifest;
}

// Names the first entry whose body is unreadable or claims another position or log.
function firstInconsistent(log: string, from: number, rows: readonly string[]): string | undefined {
  for (const [i, text] of rows.entries()) {
    const seq = from + i;
    let body: EntryBody;
    try {
      body = JSON.parse(text) as EntryBody;
    } catch {
      return `entry ${seq}: body is not JSON`;
    }
    if (body.seq !== seq || body.log !== log) return `entry ${seq}: out of order or from another log`;
  }
  return undefined;
}

/**
 * Reads a bundle's files from its directory, or from the single JSON file the API's export answers
 * with (`{ manifest, files: { name: text } }`, what the console downloads).
 */
function bundleReader(path: string): (name: string) => string {
  if (!statSync(path).isFile()) return (name) => readFileSync(join(path, name), "utf8");
  const { files } = JSON.parse(readFileSync(path, "utf8")) as { files?: Record<string, unknown> };
  return (name) => {
    const text = files?.[name];
    if (typeof text !== "string") throw new Error(`no such file in the export: ${name}`);
    return text;
  };
}

/**
 * Checks a bundle offline: a directory, or the API's one-file JSON export. `pinnedKey` (the
 * deployment's verifier key, obtained out of band) should be given.
 */
export function verifyBundle(path: string, pinnedKey?: string): BundleResult {
  try {
    return checkBundle(bundleReader(path), pinnedKey);
  } catch (err) {
    // Hostile or truncated files end in a failed verification, never in a crash.
    return {
      ok: false,
      problem: `malformed bundle: ${(err as Error).message}`,
      entries: 0,
      logs: 0,
      keyPinned: !!pinnedKey,
    };
  }
}

function checkBundle(read: (name: string) => string, pinnedKey?: string): BundleResult {
  const fail = (problem: string, entries = 0, logs = 0): BundleResult => ({
    ok: false,
    problem,
    entries,
    logs,
    keyPinned: !!pinnedKey,
  });
  let manifestText: string;
  let manifest: BundleManifest;
  try {
    manifestText = read("manifest.json");
    manifest = JSON.parse(manifestText) as BundleManifest;
  } catch (err) {
    return fail(`manifest.json unreadable: ${(err as Error).message}`);
  }
  const key = pinnedKey ?? manifest.verifierKey;
  if (pinnedKey && manifest.verifierKey !== pinnedKey)
    return fail("manifest.json names a different verifier key than the pinned one");
  let pub: ReturnType<typeof createPublicKey>;
  try {
    pub = parseVerifierKey(key).publicKey;
  } catch (err) {
    return fail(`verifier key is malformed: ${(err as Error).message}`);
  }
  let sig: Buffer;
  try {
    sig = Buffer.from(read("manifest.sig").trim(), "base64");
  } catch {
    return fail("manifest.sig is missing");
  }
  if (!edVerify(null, Buffer.from(manifestText), pub, sig))
    return fail("manifest.sig is not a valid signature of manifest.json");
  const contents: Record<string, string> = {};
  for (const name of BUNDLE_FILES) {
    let text: string;
    try {
      text = read(name);
    } catch {
      return fail(`${name} is missing`);
    }
    if (sha256(text) !== manifest.files?.[name])
      return fail(`${name} does not match its SHA-256 in the signed manifest`);
    contents[name] = text;
  }
  const logs = JSON.parse(contents["logs.json"] as string) as BundleLog[];
  const lines = (contents["entries.jsonl"] as string).split("\n");
  if (lines.pop() !== "") return fail("entries.jsonl does not end with a newline");
  const declared = logs.reduce((n, l) => n + (l.to - l.from), 0);
  if (lines.length !== declared || lines.length !== manifest.entries) {
    return fail(
      `entries.jsonl holds ${lines.length} entries; logs.json declares ${declared}, the manifest ${manifest.entries}`,
    );
  }
  let offset = 0;
  for (const l of logs) {
    let cp: ReturnType<typeof verifyCheckpoint>;
    try {
      cp = verifyCheckpoint(l.checkpoint, key);
    } catch (err) {
      return fail(`${l.log}: checkpoint signature invalid: ${(err as Error).message}`);
    }
    if (!cp.origin.endsWith(`/${l.log}`)) return fail(`${l.log}: checkpoint is for ${cp.origin}`);
    const rows = lines.slice(offset, offset + (l.to - l.from));
    offset += rows.length;
    // Fast path: the signed root binds every entry to its position; entries are parsed only to explain a mismatch.
    const leaves = rows.map((body) => leafHash(Buffer.from(body, "utf8")));
    const root = rootFromRange(
      leaves,
      l.from,
      cp.size,
      l.rangeProof.map((h) => Buffer.from(h, "hex")),
    );
    if (!root?.equals(cp.root)) {
      return fail(
        `${l.log}: ${firstInconsistent(l.log, l.from, rows) ?? `entries ${l.from}..${l.to - 1} do not match the signed checkpoint at size ${cp.size}`}`,
      );
    }
  }
  return { ok: true, entries: lines.length, logs: logs.length, keyPinned: !!pinnedKey };
}
