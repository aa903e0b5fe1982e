// A worker thread of `rampart audit verify`'s fast path: checks batches of rows (see `soundLeaf`)
// and returns their leaf hashes, while the main thread reads the database and builds the tree.
import type { KeyObject } from "node:crypto";
import { parentPort } from "node:worker_threads";
import { decodeCopyRows } from "../../platform/store/copy.ts";
import { HASH_SIZE } from "./merkle.ts";
import { openingPrevious, parseBody, type Previous, rowFromCopy, soundLeaf } from "./verify.ts";

export interface RowBatch {
  /** Rows as `CopyRow.raw()` encodes them, in position order. */
  bytes: Uint8Array;
  log: string;
  /** Rows at this position and beyond have their MAC checked (no checkpoint covers them). */
  macFrom: number;
}

export interface CheckedRows {
  /** Position of the first row, -1 when the batch is empty. */
  firstSeq: number;
  /** Rows that were sound and consecutive from `firstSeq`, each with its leaf hash in `leaves`. */
  sound: number;
  /** Whether a row after those was not sound (or out of sequence). */
  flawed: boolean;
  leaves: Uint8Array;
  /** The previous log named by the opening entry, when the batch holds entry 0. */
  previous?: Previous | undefined;
}

export type ToRowChecker = { kind: "key"; macKey: KeyObject } | ({ kind: "rows" } & RowBatch);
export type FromRowChecker = { kind: "checked"; rows: CheckedRows } | { kind: "failed"; message: string };

let macKey: KeyObject | undefined;

function check(batch: RowBatch, key: KeyObject): CheckedRows {
  const leaves: Buffer[] = [];
  let firstSeq = -1;
  let flawed = false;
  let previous: Previous | undefined;
  decodeCopyRows(batch.bytes, (r) => {
    if (flawed) return;
    const row = rowFromCopy(r);
    if (firstSeq === -1) firstSeq = row.seq;
    const leaf =
      row.seq === firstSeq + leaves.length
        ? soundLeaf(row, batch.log, key, row.seq >= batch.macFrom)
        : undefined;
    if (!leaf) {
      flawed = true;
      return;
    }
    if (row.seq === 0) previous = openingPrevious(parseBody(row.body));
    leaves.push(leaf);
  });
  const packed = new Uint8Array(leaves.length * HASH_SIZE);
  leaves.forEach((l, i) => packed.set(l, i * HASH_SIZE));
  return { firstSeq, sound: leaves.length, flawed, leaves: packed, previous };
}

parentPort?.on("message", (m: ToRowChecker) => {
  if (m.kind === "key") {
    macKey = m.macKey;
    return;
  }
  let reply: FromRowChecker;
  try {
    if (!macKey) throw new Error("no MAC key was sent");
    reply = { kind: "checked", rows: check(m, macKey) };
  } catch (err) {
    reply = { kind: "failed", message: (err as Error).message };
  }
  parentPort?.postMessage(reply, reply.kind === "checked" ? [reply.rows.leaves.buffer as ArrayBuffer] : []);
});
