// Replays every stored log against its MACs, sequence and signed checkpoints (`rampart audit
// verify`), and checks that each period's log chains to the one before it.
import type { KeyObject } from "node:crypto";
import { type Kysely, sql } from "kysely";
import { NotFound } from "../../platform/errors.ts";
import { verifyCheckpoint } from "./checkpoint.ts";
import type { AuditTables } from "./schema.ts";
import { columnsSql, createLogVerifier, type IntegrityProblem, type TrustedCheckpoint } from "./verify.ts";

const VERIFY_PAGE = 10_000;

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

function openingPrevious(body: string): Previous | undefined {
  try {
    const b = JSON.parse(body) as { type?: string; data?: { previous?: Previous | null } };
    return b.type === "audit.log_opened" ? (b.data?.previous ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

export interface ReplayDeps {
  db: Kysely<AuditTables>;
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
    const verifier = createLogVerifier({ log: l.log_id, checkpoints: list, macKey: deps.macKey });
    let problem: IntegrityProblem | undefined;
    let previous: Previous | undefined;
    const page = (after: number) =>
      db
        .selectFrom("audit_entries")
        .select(["seq", "body", "mac", sql<string>`${sql.raw(columnsSql)}`.as("columns")])
        .where("log_id", "=", l.log_id)
        .where("seq", ">", after)
        .orderBy("seq")
        .limit(VERIFY_PAGE)
        .execute();
    let next = page(-1);
    for (;;) {
      const rows = await next;
      if (rows.length === 0) break;
      // Read the next page while this one is hashed.
      next = rows.length === VERIFY_PAGE ? page((rows.at(-1) as { seq: number }).seq) : Promise.resolve([]);
      for (const r of rows) {
        if (r.seq === 0) previous = openingPrevious(r.body);
        problem = verifier.push(r);
        if (problem) break;
      }
      done += rows.length;
      o.onProgress?.(done, total);
      if (problem) {
        await next.catch(() => {});
        break;
      }
    }
    problem ??= verifier.finish();
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
