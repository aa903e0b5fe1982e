// Replays a log's entries and checks them three ways: each row against its keyed MAC (pinpoints a
// modified, inserted or moved row), sequence continuity (deleted rows), and the Merkle root against
// every signed checkpoint (anything else, including truncation). Used by `rampart audit verify`.
import type { KeyObject } from "node:crypto";
import type { EntryBody } from "./entry.ts";
import { macMatches } from "./entry.ts";
import { leafHash, MerkleTree } from "./merkle.ts";
import type { CopyRow } from "../../platform/store/copy.ts";

export type ProblemKind = "modified" | "deleted" | "reordered" | "inserted" | "checkpoint";

export interface IntegrityProblem {
  log: string;
  /** Position in the log where the problem shows. */
  seq: number;
  /** The id of the entry at that position, when it can be read. */
  entryId?: string | undefined;
  kind: ProblemKind;
  message: string;
}

/** One stored row as read back: the body bytes, their MAC and the indexed columns. */
export interface StoredRow {
  seq: number;
  body: Uint8Array;
  mac: Uint8Array;
  id: string;
  /** Milliseconds since the epoch; fractional when the stored time has sub-millisecond digits. */
  time: number;
  type: string;
  actor: string;
  target: string | null;
}

/** The columns `rowFromCopy` expects, in order. */
export const storedRowColumns = "seq, body, mac, id, time, type, actor, target";

const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);
const empty = Buffer.alloc(0);

/**
 * A row from binary COPY of `storedRowColumns` (timestamptz arrives as microseconds since 2000).
 * Columns are NOT NULL except target; a NULL elsewhere reads as empty and fails its check.
 */
export function rowFromCopy(r: CopyRow): StoredRow {
  const time = r.int64(4);
  return {
    seq: r.int64(0) ?? -1,
    body: r.bytes(1) ?? empty,
    mac: r.bytes(2) ?? empty,
    id: r.text(3) ?? "",
    time: time === null ? Number.NaN : POSTGRES_EPOCH_MS + time / 1000,
    type: r.text(5) ?? "",
    actor: r.text(6) ?? "",
    target: r.text(7),
  };
}

const textOf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString("utf8");

/** The body as an object, or undefined when it is not one (reported as modified). */
export function parseBody(bytes: Uint8Array): EntryBody | undefined {
  try {
    const parsed: unknown = JSON.parse(textOf(bytes));
    return typeof parsed === "object" && parsed !== null ? (parsed as EntryBody) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verification's fast path for one row: its leaf hash when the row is sound (the body names this
 * log and position and agrees with the indexed columns, and its MAC matches when `checkMac`), else
 * undefined. It does not say what is wrong: a caller that gets undefined re-runs `createLogVerifier`.
 */
export function soundLeaf(
  row: StoredRow,
  log: string,
  macKey: KeyObject,
  checkMac: boolean,
): Buffer | undefined {
  const leaf = leafHash(row.body);
  const b = parseBody(row.body);
  if (b === undefined || b.log !== log || b.seq !== row.seq || changedColumn(row, b) !== undefined)
    return undefined;
  if (checkMac && !macMatches(macKey, leaf, row.mac)) return undefined;
  return leaf;
}

/** What a log's opening entry records about the log before it. */
export interface Previous {
  log: string;
  size: number;
  root: string;
}

/** The previous log an opening entry (`audit.log_opened`) names, if the body is one. */
export function openingPrevious(body: EntryBody | undefined): Previous | undefined {
  const data = body?.data as { previous?: Previous | null } | undefined;
  return body?.type === "audit.log_opened" ? (data?.previous ?? undefined) : undefined;
}

// The first indexed column that differs from the signed body, if any.
function changedColumn(row: StoredRow, b: EntryBody): string | undefined {
  if (row.id !== b.id) return "id";
  if (row.time !== Date.parse(b.time)) return "time";
  if (row.type !== b.type) return "type";
  if (row.actor !== b.actor) return "actor";
  if (row.target !== (b.target ?? null)) return "target";
  return undefined;
}

export interface TrustedCheckpoint {
  size: number;
  root: Buffer;
}

interface Parsed {
  row: StoredRow;
  body: EntryBody | undefined;
  leaf: Buffer;
  authentic: boolean;
}

export interface LogVerifier {
  /** Feeds the next row in position order; returns the first problem once it is known. */
  push(row: StoredRow): IntegrityProblem | undefined;
  finish(): IntegrityProblem | undefined;
  readonly tree: MerkleTree;
}

export function createLogVerifier(opts: {
  log: string;
  checkpoints: readonly TrustedCheckpoint[];
  macKey: KeyObject;
}): LogVerifier {
  const { log, macKey } = opts;
  const checkpoints = [...opts.checkpoints].sort((a, b) => a.size - b.size);
  const tree = new MerkleTree();
  let nextCheckpoint = 0;
  let held: Parsed | undefined;
  let problem: IntegrityProblem | undefined;

  const fail = (p: Parsed | undefined, seq: number, kind: ProblemKind, message: string) => {
    problem = { log, seq, entryId: p?.body?.id, kind, message };
    return problem;
  };

  function parse(row: StoredRow): Parsed {
    const leaf = leafHash(row.body);
    return { row, body: parseBody(row.body), leaf, authentic: macMatches(macKey, leaf, row.mac) };
  }

  // Decides on `cur` with one row of look-ahead, which tells an insertion from an edit and a swap from a deletion.
  function check(cur: Parsed, next: Parsed | undefined): IntegrityProblem | undefined {
    const expected = tree.size;
    const seq = cur.row.seq;
    if (seq !== expected) {
      return fail(
        undefined,
        expected,
        "deleted",
        `entry ${expected} is missing: the log jumps from ${expected - 1} to ${seq}`,
      );
    }
    if (!cur.authentic || cur.body === undefined) {
      if (next?.authentic && next.body?.seq === seq) {
        return fail(
          cur,
          seq,
          "inserted",
          `entry ${seq} was inserted: it is not authentic and the original entry ${seq} follows it`,
        );
      }
      return fail(cur, seq, "modified", `entry ${seq} was modified: its content no longer matches its MAC`);
    }
    const b = cur.body;
    if (b.log !== log || b.seq !== seq) {
      if (b.log === log && b.seq > seq && next?.body?.seq !== seq) {
        return fail(
          cur,
          seq,
          "deleted",
          `entry ${seq} was deleted: entry ${b.seq} was renumbered into its place`,
        );
      }
      return fail(
        cur,
        seq,
        "reordered",
        `entry ${seq} is out of order: position ${seq} holds entry ${b.seq} of log ${b.log}`,
      );
    }
    const changed = changedColumn(cur.row, b);
    if (changed) {
      return fail(
        cur,
        seq,
        "modified",
        `entry ${seq} was modified: column '${changed}' differs from the signed entry`,
      );
    }
    tree.append(cur.leaf);
    while (
      nextCheckpoint < checkpoints.length &&
      (checkpoints[nextCheckpoint] as TrustedCheckpoint).size <= tree.size
    ) {
      const cp = checkpoints[nextCheckpoint] as TrustedCheckpoint;
      nextCheckpoint++;
      if (cp.size === tree.size && !tree.root().equals(cp.root)) {
        const from = nextCheckpoint > 1 ? (checkpoints[nextCheckpoint - 2] as TrustedCheckpoint).size : 0;
        return fail(
          cur,
          from,
          "modified",
          `entries ${from}..${cp.size - 1} do not match the checkpoint signed at size ${cp.size}`,
        );
      }
    }
    return undefined;
  }

  return {
    tree,
    push(row) {
      if (problem) return problem;
      const p = parse(row);
      const prev = held;
      held = p;
      return prev ? check(prev, p) : undefined;
    },
    finish() {
      if (problem) return problem;
      if (held) {
        const last = held;
        held = undefined;
        if (check(last, undefined)) return problem;
      }
      const last = checkpoints.at(-1);
      if (last && last.size > tree.size) {
        return fail(
          undefined,
          tree.size,
          "deleted",
          `entries ${tree.size}..${last.size - 1} are missing: a checkpoint signed them at size ${last.size}`,
        );
      }
      return undefined;
    },
  };
}
