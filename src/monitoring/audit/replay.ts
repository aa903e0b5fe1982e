// Replays every stored log against its MACs, sequence and signed checkpoints (`rampart audit
// verify`), and checks that each period's log chains to the one before it.
import type { KeyObject } from "node:crypto";
import type { Kysely } from "kysely";
import { NotFound } from "../../platform/errors.ts";
import { createCopyDecoder } from "../../platform/store/copy.ts";
import { type Store, sqlLiteral } from "../../platform/store/index.ts";
import { verifyCheckpoint } from "./checkpoint.ts";
import type { AuditTables } from "./schema.ts";
import {
  createLogVerifier,
  type IntegrityProblem,
  type LogVerifier,
  rowFromCopy,
  storedRowColumns,
  type TrustedCheckpoint,
} from "./verify.ts";

// Rows per COPY: bounds memory on PGlite, which returns a whole COPY at once (~40 MB here).
const VERIFY_PAGE = 100_000;

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

/** What a log's opening entry records about the log before it. */
export interface Previous {
  log: string;
  size: number;
  root: string;
}

function openingPrevious(body: Uint8Array): Previous | undefined {
  try {
    const b = JSON.parse(Buffer.from(body).toString("utf8")) as {
      type?: string;
      data?: { previous?: Previous | null };
    };
    return b.type === "audit.log_opened" ? (b.data?.previous ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

export interface ReplayDeps {
  db: Kysely<AuditTables>;
  store: Store;
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
    // Checkpoint roots authenticate what they cover, so the first pass checks MACs only past the last
    // one; a problem is then located by a second pass that checks every MAC.
    const fast = await replayLog(deps, l.log_id, list, true, (n) => o.onProgress?.((done += n), total));
    const {
      verifier,
      previous,
      problem: found,
    } = fast.problem ? await replayLog(deps, l.log_id, list, false) : fast;
    let problem = found ?? fast.problem;
    report.entries = verifier.tree.size;
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
  verifier: LogVerifier;
  /** What the opening entry says of the log before, when it says anything. */
  previous: Previous | undefined;
  problem: IntegrityProblem | undefined;
}

// Streams a log's rows in position order through a verifier, a page of binary COPY at a time.
async function replayLog(
  deps: ReplayDeps,
  log: string,
  checkpoints: readonly TrustedCheckpoint[],
  trustCheckpoints: boolean,
  onRows?: (n: number) => void,
): Promise<Replay> {
  const verifier = createLogVerifier({ log, checkpoints, macKey: deps.macKey, trustCheckpoints });
  const range = await deps.db
    .selectFrom("audit_entries")
    .select((eb) => [eb.fn.min("seq").as("first"), eb.fn.max("seq").as("last")])
    .where("log_id", "=", log)
    .executeTakeFirstOrThrow();
  let previous: Previous | undefined;
  let problem: IntegrityProblem | undefined;
  const first = range.first === null ? 0 : Number(range.first);
  const last = range.last === null ? -1 : Number(range.last);
  for (let from = Math.min(first, 0); from <= last && !problem; from += VERIFY_PAGE) {
    const decoder = createCopyDecoder((r) => {
      if (problem) return;
      const row = rowFromCopy(r);
      if (row.seq === 0) previous = openingPrevious(row.body);
      problem = verifier.push(row);
    });
    const select = `select ${storedRowColumns} from audit_entries where log_id = ${sqlLiteral(log)} and seq >= ${from} and seq < ${from + VERIFY_PAGE} order by seq`;
    await deps.store.copyOut(select, (chunk) => {
      if (!problem) decoder.push(chunk);
    });
    if (!problem) decoder.end();
    onRows?.(decoder.rows);
  }
  return { verifier, previous, problem: problem ?? verifier.finish() };
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
