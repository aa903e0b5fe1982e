// Replays every stored log against its MACs, sequence and signed checkpoints (`rampart audit
// verify`), and checks that each period's log chains to the one before it.
import type { KeyObject } from "node:crypto";
import type { Kysely } from "kysely";
import { NotFound } from "../../platform/errors.ts";
import { type CopyRow, createCopyDecoder } from "../../platform/store/copy.ts";
import { type Store, sqlLiteral } from "../../platform/store/index.ts";
import { verifyCheckpoint } from "./checkpoint.ts";
import type { AuditTables } from "./schema.ts";
import { MerkleTree, HASH_SIZE } from "./merkle.ts";
import type { CheckedRows } from "./row-check-worker.ts";
import type { RowCheckers } from "./row-checkers.ts";
import {
  createLogVerifier,
  type IntegrityProblem,
  openingPrevious,
  parseBody,
  type Previous,
  rowFromCopy,
  storedRowColumns,
  type TrustedCheckpoint,
} from "./verify.ts";

// Rows per COPY. It bounds memory: PGlite returns a whole COPY at once (~40 MB here), and the fast
// pass lets the worker threads catch up at the end of each page.
const VERIFY_PAGE = 100_000;
// Bytes of rows per batch sent to a worker: enough that posting costs nothing per row.
const BATCH_BYTES = 256 * 1024;

export interface LogReport {
  log: string;
  state: "open" | "closed" | "expired";
  entries: number;
  checkpoints: number;
  problem?: IntegrityProblem;
}

export interface VerifyReport {
  ok: boolean;
  logs: LogReport[];
  entries: number;
  seconds: number;
  /** First problem found across all logs. */
  problem?: IntegrityProblem;
}

export interface ReplayDeps {
  db: Kysely<AuditTables>;
  store: Store;
  /** Worker threads for the fast pass, kept by the caller so their compiled code stays warm. */
  checkers(): RowCheckers;
  verifierKey: string;
  macKey: KeyObject;
  origin(log: string): string;
}

/** Verifies every log (or one); the report names the first problem of each. */
export async function verifyStoredLogs(
  deps: ReplayDeps,
  o: { log?: string; onProgress?: (done: number, total: number) => void } = {},
): Promise<VerifyReport> {
  const { db } = deps;
  const started = performance.now();
  const logRows = await db
    .selectFrom("audit_logs")
    .selectAll()
    .orderBy("retention")
    .orderBy("period_start")
    .execute();
  const targets = o.log ? logRows.filter((l) => l.log_id === o.log) : logRows;
  if (o.log && targets.length === 0) throw new NotFound(`audit log ${o.log} not found`);
  const total = Number(
    (
      await db
        .selectFrom("audit_entries")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  );
  const reports: LogReport[] = [];
  let done = 0;
  const finalRoots = new Map<string, { size: number; root: string }>();
  for (const l of targets) {
    const state: LogReport["state"] = l.expired_at ? "expired" : l.closed_at ? "closed" : "open";
    const { list, problem: cpProblem } = await trustedCheckpoints(deps, l.log_id);
    const last = list.at(-1);
    if (last) finalRoots.set(l.log_id, { size: last.size, root: last.root.toString("hex") });
    const report: LogReport = { log: l.log_id, state, entries: 0, checkpoints: list.length };
    reports.push(report);
    if (cpProblem) {
      report.problem = cpProblem;
      continue;
    }
    if (state === "expired") continue;
    // The fast pass only says whether the log is sound; if not, the exact pass names the first problem.
    const onRows = (n: number) => o.onProgress?.((done += n), total);
    const replay =
      (await fastReplay(deps, deps.checkers(), l.log_id, list, onRows)) ??
      (await exactReplay(deps, l.log_id, list));
    let { problem } = replay;
    const { previous } = replay;
    report.entries = replay.size;
    if (!problem && previous) problem = checkChain(l.log_id, previous, finalRoots, logRows);
    if (problem) report.problem = problem;
  }
  const first = reports.find((r) => r.problem)?.problem;
  return {
    ok: !first,
    logs: reports,
    entries: reports.reduce((s, r) => s + r.entries, 0),
    seconds: (performance.now() - started) / 1000,
    ...(first ? { problem: first } : {}),
  };
}

interface Replay {
  /** Entries replayed in order before the end or the first problem. */
  size: number;
  /** What the opening entry says of the log before, when it says anything. */
  previous: Previous | undefined;
  problem?: IntegrityProblem | undefined;
}

const pageSelect = (log: string, from: number) =>
  `select ${storedRowColumns} from audit_entries where log_id = ${sqlLiteral(log)} and seq >= ${from} and seq < ${from + VERIFY_PAGE} order by seq`;

async function seqRange(deps: ReplayDeps, log: string): Promise<{ first: number; last: number }> {
  const r = await deps.db
    .selectFrom("audit_entries")
    .select((eb) => [eb.fn.min("seq").as("first"), eb.fn.max("seq").as("last")])
    .where("log_id", "=", log)
    .executeTakeFirstOrThrow();
  // A hostile row at a negative position is read too, from where it sits.
  return {
    first: Math.min(r.first === null ? 0 : Number(r.first), 0),
    last: r.last === null ? -1 : Number(r.last),
  };
}

/**
 * Streams a log's rows in position order to `onRow`, a page of binary COPY at a time, until `stop()`;
 * `afterPage` runs once each page has been read.
 */
async function readLog(
  deps: ReplayDeps,
  log: string,
  onRow: (r: CopyRow) => void,
  stop: () => boolean,
  afterPage?: () => Promise<void>,
): Promise<void> {
  const { first, last } = await seqRange(deps, log);
  for (let from = first; from <= last && !stop(); from += VERIFY_PAGE) {
    const decoder = createCopyDecoder(onRow);
    await deps.store.copyOut(pageSelect(log, from), (chunk) => {
      if (!stop()) decoder.push(chunk);
    });
    if (!stop()) decoder.end();
    await afterPage?.();
  }
}

/**
 * Worker threads check the rows (body, columns, position; MACs only past the last checkpoint, as
 * the signed roots authenticate what they cover) while this thread reads the next rows and builds
 * the tree. Returns undefined at the first sign of a problem, without saying which.
 */
async function fastReplay(
  deps: ReplayDeps,
  checkers: RowCheckers,
  log: string,
  checkpoints: readonly TrustedCheckpoint[],
  onRows: (n: number) => void,
): Promise<Replay | undefined> {
  const tree = new MerkleTree();
  const macFrom = checkpoints.at(-1)?.size ?? 0;
  let nextCheckpoint = 0;
  let sound = true;
  let previous: Previous | undefined;
  const apply = (r: CheckedRows) => {
    if (!sound) return;
    if (r.previous) previous = r.previous;
    if (r.sound > 0 && r.firstSeq !== tree.size) sound = false;
    for (let i = 0; sound && i < r.sound; i++) {
      tree.append(r.leaves.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
      for (
        let cp = checkpoints[nextCheckpoint];
        cp && cp.size <= tree.size;
        cp = checkpoints[++nextCheckpoint]
      ) {
        if (cp.size === tree.size && !tree.root().equals(cp.root)) sound = false;
      }
    }
    if (r.flawed) sound = false;
    onRows(r.sound);
  };
  let applied: Promise<void> = Promise.resolve();
  let batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
  let used = 0;
  const send = (bytes: Uint8Array) => {
    const checked = checkers.check({ bytes, log, macFrom });
    applied = applied.then(() => checked).then(apply);
    applied.catch(() => {}); // awaited at the end of the page
  };
  const flush = () => {
    if (used === 0) return;
    send(batch.subarray(0, used));
    batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
    used = 0;
  };
  const forward = (r: CopyRow) => {
    const raw = r.raw();
    if (raw.length > BATCH_BYTES - used) flush();
    if (raw.length > BATCH_BYTES) return send(new Uint8Array(raw));
    batch.set(raw, used);
    used += raw.length;
  };
  // The workers catch up at the end of each page, which bounds what waits for them.
  await readLog(
    deps,
    log,
    forward,
    () => !sound,
    () => {
      flush();
      return applied;
    },
  );
  if (!sound || (checkpoints.at(-1)?.size ?? 0) > tree.size) return undefined;
  return { size: tree.size, previous };
}

/** Replays a log row by row in this thread, every MAC checked, and names the first problem. */
async function exactReplay(
  deps: ReplayDeps,
  log: string,
  checkpoints: readonly TrustedCheckpoint[],
): Promise<Replay> {
  const verifier = createLogVerifier({ log, checkpoints, macKey: deps.macKey });
  let previous: Previous | undefined;
  let problem: IntegrityProblem | undefined;
  const replayRow = (r: CopyRow) => {
    if (problem) return;
    const row = rowFromCopy(r);
    if (row.seq === 0) previous = openingPrevious(parseBody(row.body));
    problem = verifier.push(row);
  };
  await readLog(deps, log, replayRow, () => problem !== undefined);
  problem ??= verifier.finish();
  return { size: verifier.tree.size, previous, problem };
}

async function trustedCheckpoints(
  deps: ReplayDeps,
  log: string,
): Promise<{ list: TrustedCheckpoint[]; problem?: IntegrityProblem }> {
  const rows = await deps.db
    .selectFrom("audit_checkpoints")
    .select(["tree_size", "note"])
    .where("log_id", "=", log)
    .orderBy("tree_size")
    .execute();
  const list: TrustedCheckpoint[] = [];
  for (const r of rows) {
    try {
      const cp = verifyCheckpoint(r.note, deps.verifierKey);
      if (cp.origin !== deps.origin(log) || cp.size !== r.tree_size)
        throw new Error("checkpoint does not belong here");
      list.push({ size: cp.size, root: cp.root });
    } catch (err) {
      return {
        list,
        problem: {
          log,
          seq: r.tree_size,
          kind: "checkpoint",
          message: `checkpoint at size ${r.tree_size} is not validly signed: ${(err as Error).message}`,
        },
      };
    }
  }
  return { list };
}

// A log's opening entry names the previous period's log and final root: a deleted period shows here.
function checkChain(
  log: string,
  prev: Previous,
  finals: Map<string, { size: number; root: string }>,
  known: ReadonlyArray<{ log_id: string }>,
): IntegrityProblem | undefined {
  if (!known.some((k) => k.log_id === prev.log)) {
    return {
      log,
      seq: 0,
      kind: "deleted",
      message: `log ${prev.log}, which this log's opening entry chains to, is missing`,
    };
  }
  const f = finals.get(prev.log);
  if (f && (f.size !== prev.size || f.root !== prev.root)) {
    return {
      log,
      seq: 0,
      kind: "modified",
      message: `log ${prev.log} does not end at the root this log's opening entry recorded`,
    };
  }
  return undefined;
}
