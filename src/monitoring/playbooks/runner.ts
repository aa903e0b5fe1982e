// Runs playbooks: automated steps in file order through the PlaybookActions, manual steps recorded
// as waiting for their checklist (they never block later automated steps), every run and step
// stored, every automated step an audited event naming the playbook as actor and what triggered it.
import { randomUUID } from "node:crypto";
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";
import type { Clock } from "../../platform/clock.ts";
import { Conflict, Invalid, NotFound, RampartError } from "../../platform/errors.ts";
import { type EventRef, newEvent, type SecurityEvent } from "../../platform/events/index.ts";
import type { Logger } from "../../platform/logging.ts";
import type { Store } from "../../platform/store/index.ts";
import { atLeast, type Detection, type Priority } from "../detect/types.ts";
import {
  type ActionContext,
  type ActionName,
  type ActionResult,
  actionMethods,
  actionSchemas,
  actionTarget,
  type PlaybookActions,
} from "./actions.ts";
import type { Playbook, PlaybookStep } from "./schema.ts";
import { resolveString, resolveValue, type TemplateContext, truthy } from "./template.ts";

export type RunStatus = "running" | "waiting" | "completed" | "failed" | "dry_run";
export type StepStatus = "pending" | "done" | "skipped" | "failed" | "waiting_manual" | "checked";

export interface ChecklistItem {
  item: string;
  checked: boolean;
  /** `kind:id` of who ticked it. */
  by?: string;
  at?: string;
}

export interface StepRecord {
  step: string;
  phase: string;
  title: string;
  action?: string;
  manual: boolean;
  status: StepStatus;
  startedAt?: string;
  endedAt?: string;
  /** When the step should be done (the run's start plus its deadline). */
  dueAt?: string;
  /** Past its due time and not done, or done late. */
  overdue: boolean;
  /** What the action did, or (dry run) the resolved parameters; never a secret value. */
  result?: unknown;
  error?: string;
  checklist?: ChecklistItem[];
}

export interface RunRecord {
  id: string;
  playbook: string;
  incident?: string;
  status: RunStatus;
  startedAt: string;
  endedAt?: string;
  triggeredBy: { kind: string; id: string; label: string };
  inputs: Record<string, unknown>;
  steps: StepRecord[];
}

export interface RunOptions {
  incident?: { id: string; priority: Priority } | undefined;
  detection?: Detection | undefined;
  /** Values that win over the playbook's templated inputs. */
  inputs?: Record<string, unknown> | undefined;
  /** Resolve and validate every step, run nothing, record the run as dry_run. */
  dryRun?: boolean | undefined;
}

export interface Playbooks {
  /** The playbooks in force. */
  list(): Playbook[];
  run(playbookId: string, opts: RunOptions, by: EventRef): Promise<RunRecord>;
  /** Ticks checklist item `item` (0-based) or every item of a manual step. */
  check(runId: string, stepId: string, item: number | "all", by: EventRef): Promise<RunRecord>;
  get(runId: string): Promise<RunRecord>;
  runs(filter?: { incident?: string; limit?: number }): Promise<RunRecord[]>;
  /** Runs every playbook whose trigger matches the detection's rule and the incident's priority (when autoRun). */
  onIncidentOpened(
    incident: { id: string; priority: Priority },
    detection: Detection | undefined,
  ): Promise<RunRecord[]>;
}

export type PlaybookTables = {
  playbook_runs: {
    id: string;
    playbook: string;
    incident_id: string | null;
    status: string;
    started_at: Date;
    ended_at: Date | null;
    triggered_by: string;
    inputs: string;
  };
  playbook_steps: {
    run_id: string;
    position: number;
    step_id: string;
    status: string;
    started_at: Date | null;
    ended_at: Date | null;
    due_at: Date | null;
    result: string | null;
    error: string | null;
    checklist: string | null;
  };
};

export const playbookMigrations: Record<string, Migration> = {
  "2026-11-24-20-playbook-runs": {
    async up(db: Kysely<unknown>) {
      await sql`create table playbook_runs (
          id text primary key,
          playbook text not null,
          incident_id text,
          status text not null,
          started_at timestamptz not null,
          ended_at timestamptz,
          triggered_by text not null,
          inputs text not null
        )`.execute(db);
      await sql`create index playbook_runs_incident on playbook_runs (incident_id, started_at)`.execute(db);
      await sql`create index playbook_runs_started on playbook_runs (started_at)`.execute(db);
      await sql`create table playbook_steps (
          run_id text not null references playbook_runs (id) on delete cascade,
          position integer not null,
          step_id text not null,
          status text not null,
          started_at timestamptz,
          ended_at timestamptz,
          due_at timestamptz,
          result text,
          error text,
          checklist text,
          primary key (run_id, step_id)
        )`.execute(db);
    },
  },
};

export interface PlaybooksOptions {
  store: Store;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  logger: Logger;
  actions: PlaybookActions;
  /** The playbooks in force (re-read on every call, so a reload takes effect). */
  load: () => Playbook[];
  /** Whether `onIncidentOpened` runs triggered playbooks; default true. */
  autoRun?: () => boolean;
}

const MAX_ERROR = 1000;
const MAX_RESULT = 16_000;

const label = (by: EventRef) => `${by.kind}:${by.id}`;
/**
 * Who triggered a run, as events say it: a person only as `user` (the audit log names people by
 * erasable subject keys in actor fields alone, so `playbook.started` carries them as its actor).
 */
const eventLabel = (by: EventRef) => (by.kind === "user" ? "user" : label(by));
const person = (by: EventRef) => !["rule", "playbook", "system"].includes(by.kind);
const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : undefined);

function errorText(err: unknown): string {
  // Our own errors are written to be shown; anything else may carry internals, so only its message.
  const msg = err instanceof RampartError ? err.message : err instanceof Error ? err.message : String(err);
  return msg.slice(0, MAX_ERROR);
}

function jsonSafe(v: unknown): string {
  const text = JSON.stringify(v ?? null);
  return text.length <= MAX_RESULT ? text : JSON.stringify({ truncated: true, bytes: text.length });
}

/** Creates the playbook runner over its two tables. */
export function createPlaybooks(o: PlaybooksOptions): Playbooks {
  const { clock, emit, logger, actions } = o;
  const db = o.store.db.withTables<PlaybookTables>();

  const find = (id: string): Playbook => {
    const p = o.load().find((x) => x.id === id);
    if (!p) throw new NotFound(`no playbook '${id}'`);
    return p;
  };

  function event(
    type: string,
    playbook: string,
    fields: {
      target?: EventRef | undefined;
      data: Record<string, unknown>;
      failed?: boolean;
      severity?: SecurityEvent["severity"];
      /** Who acted, when not the playbook itself (a person starting a run). */
      actor?: EventRef;
    },
  ): SecurityEvent {
    return newEvent(
      {
        type,
        actor: fields.actor ?? { kind: "playbook", id: playbook },
        ...(fields.target ? { target: fields.target } : {}),
        severity: fields.severity ?? (fields.failed ? "high" : "medium"),
        outcome: fields.failed ? "failure" : "success",
        retention: "security",
        data: fields.data,
      },
      clock.now(),
    );
  }

  async function read(runId: string): Promise<RunRecord> {
    const run = await db.selectFrom("playbook_runs").selectAll().where("id", "=", runId).executeTakeFirst();
    if (!run) throw new NotFound(`no playbook run ${runId}`);
    const steps = await db
      .selectFrom("playbook_steps")
      .selectAll()
      .where("run_id", "=", runId)
      .orderBy("position")
      .execute();
    const defs = new Map(
      o
        .load()
        .find((p) => p.id === run.playbook)
        ?.steps.map((s) => [s.id, s]) ?? [],
    );
    const now = clock.now().getTime();
    const trig = JSON.parse(run.triggered_by) as RunRecord["triggeredBy"];
    return {
      id: run.id,
      playbook: run.playbook,
      ...(run.incident_id ? { incident: run.incident_id } : {}),
      status: run.status as RunStatus,
      startedAt: new Date(run.started_at).toISOString(),
      ...(run.ended_at ? { endedAt: new Date(run.ended_at).toISOString() } : {}),
      triggeredBy: trig,
      inputs: JSON.parse(run.inputs) as Record<string, unknown>,
      steps: steps.map((r) => {
        const def = defs.get(r.step_id);
        const status = r.status as StepStatus;
        const due = r.due_at ? new Date(r.due_at).getTime() : undefined;
        const end = r.ended_at ? new Date(r.ended_at).getTime() : undefined;
        const settled = status === "done" || status === "checked" || status === "skipped";
        const overdue =
          run.status !== "dry_run" &&
          due !== undefined &&
          status !== "skipped" &&
          (settled ? (end ?? 0) > due : now > due);
        return {
          step: r.step_id,
          phase: def?.phase ?? "",
          title: def?.title ?? r.step_id,
          ...(def?.action ? { action: def.action } : {}),
          manual: def?.manual === true,
          status,
          ...(r.started_at ? { startedAt: iso(r.started_at) } : {}),
          ...(r.ended_at ? { endedAt: iso(r.ended_at) } : {}),
          ...(r.due_at ? { dueAt: iso(r.due_at) } : {}),
          overdue,
          ...(r.result !== null ? { result: JSON.parse(r.result) as unknown } : {}),
          ...(r.error !== null ? { error: r.error } : {}),
          ...(r.checklist !== null ? { checklist: JSON.parse(r.checklist) as ChecklistItem[] } : {}),
        } as StepRecord;
      }),
    };
  }

  async function setStep(
    runId: string,
    stepId: string,
    patch: Partial<Omit<PlaybookTables["playbook_steps"], "run_id" | "step_id" | "position">>,
  ): Promise<void> {
    await db
      .updateTable("playbook_steps")
      .set(patch)
      .where("run_id", "=", runId)
      .where("step_id", "=", stepId)
      .execute();
  }

  /** The run's status from its steps: waiting while a manual step is open, else failed or completed. */
  function settle(statuses: readonly string[]): RunStatus {
    if (statuses.includes("waiting_manual") || statuses.includes("pending")) return "waiting";
    return statuses.includes("failed") ? "failed" : "completed";
  }

  function resolveInputs(p: Playbook, ctx: TemplateContext, given: Record<string, unknown>) {
    const inputs: Record<string, unknown> = {};
    for (const [k, t] of Object.entries(p.inputs)) {
      // A missing detection value leaves the input unset: a step's `when` (or its error) says so.
      const v = resolveString(t, ctx, `inputs.${k}`, true);
      if (v !== undefined) inputs[k] = v;
    }
    for (const [k, v] of Object.entries(given)) {
      if (!/^[A-Za-z_][\w-]*$/.test(k)) throw new Invalid("expected a plain name", `inputs.${k}`);
      if (v !== undefined && v !== null) inputs[k] = v;
    }
    return inputs;
  }

  async function execute(
    step: PlaybookStep,
    ctx: TemplateContext,
    base: Omit<ActionContext, "step">,
  ): Promise<{ status: StepStatus; result?: unknown; error?: string; target?: EventRef | undefined }> {
    const action = step.action as ActionName;
    let params: Record<string, unknown>;
    try {
      if (step.when !== undefined && !truthy(resolveString(step.when, ctx, `steps.${step.id}.when`, true)))
        return { status: "skipped", result: { reason: "when is empty" } };
      const raw = resolveValue(step.with ?? {}, ctx, `steps.${step.id}.with`);
      const parsed = actionSchemas[action].safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = [`steps.${step.id}.with`, ...(issue?.path ?? []).map(String)].join(".");
        throw new Invalid(issue?.message ?? "invalid parameters", where);
      }
      params = parsed.data as Record<string, unknown>;
    } catch (err) {
      return { status: "failed", error: errorText(err) };
    }
    const target = actionTarget(action, params, base.incident?.id);
    if (base.dryRun) return { status: "pending", result: { with: params }, target };
    try {
      const method = actions[actionMethods[action]] as (
        params: unknown,
        ctx: ActionContext,
      ) => Promise<ActionResult>;
      const result = await method(params, { ...base, step: step.id });
      return { status: "done", result, target };
    } catch (err) {
      return { status: "failed", error: errorText(err), target };
    }
  }

  async function run(playbookId: string, opts: RunOptions, by: EventRef): Promise<RunRecord> {
    const p = find(playbookId);
    const dryRun = opts.dryRun === true;
    const trigger = { kind: by.kind, id: by.id, label: label(by) };
    const ctx: TemplateContext = {
      detection: opts.detection ?? {},
      incident: opts.incident ?? {},
      steps: {} as Record<string, unknown>,
    };
    ctx.inputs = resolveInputs(p, ctx, opts.inputs ?? {});
    const runId = randomUUID();
    const started = clock.now();
    const incidentId = opts.incident?.id;
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto("playbook_runs")
        .values({
          id: runId,
          playbook: p.id,
          incident_id: incidentId ?? null,
          status: dryRun ? "dry_run" : "running",
          started_at: started,
          ended_at: null,
          triggered_by: JSON.stringify(trigger),
          inputs: jsonSafe(ctx.inputs),
        })
        .execute();
      await tx
        .insertInto("playbook_steps")
        .values(
          p.steps.map((s, i) => ({
            run_id: runId,
            position: i,
            step_id: s.id,
            status: "pending",
            started_at: null,
            ended_at: null,
            due_at: s.deadline !== undefined ? new Date(started.getTime() + s.deadline * 1000) : null,
            result: null,
            error: null,
            checklist: s.manual
              ? JSON.stringify((s.checklist ?? []).map((item) => ({ item, checked: false })))
              : null,
          })),
        )
        .execute();
    });
    const common = { incident: incidentId ?? null, run: runId, triggeredBy: eventLabel(by), dryRun };
    emit(
      event("playbook.started", p.id, {
        target: incidentId ? { kind: "incident", id: incidentId } : undefined,
        data: { ...common, title: p.title },
        ...(person(by) ? { actor: by } : {}),
      }),
    );

    const base: Omit<ActionContext, "step"> = {
      by: { kind: "playbook", id: p.id },
      triggeredBy: eventLabel(by),
      incident: opts.incident,
      run: runId,
      dryRun,
    };
    const statuses: StepStatus[] = [];
    let stopped = false;
    for (const step of p.steps) {
      if (stopped) {
        statuses.push("pending");
        continue;
      }
      if (step.manual) {
        // A manual step's `when` decides whether people are asked at all.
        const wanted =
          step.when === undefined || truthy(resolveString(step.when, ctx, `steps.${step.id}.when`, true));
        const status: StepStatus = wanted ? "waiting_manual" : "skipped";
        await setStep(runId, step.id, {
          status,
          started_at: clock.now(),
          ...(wanted ? {} : { ended_at: clock.now(), result: jsonSafe({ reason: "when is empty" }) }),
        });
        statuses.push(status);
        continue;
      }
      const at = clock.now();
      const out = await execute(step, ctx, base);
      (ctx.steps as Record<string, unknown>)[step.id] = { status: out.status, result: out.result };
      await setStep(runId, step.id, {
        status: out.status,
        started_at: at,
        ended_at: dryRun ? null : clock.now(),
        result: out.result === undefined ? null : jsonSafe(out.result),
        error: out.error ?? null,
      });
      statuses.push(out.status);
      if (out.status === "skipped") continue;
      const failed = out.status === "failed";
      emit(
        event(failed ? "playbook.step_failed" : "playbook.step_executed", p.id, {
          target: out.target,
          failed,
          data: {
            ...common,
            step: step.id,
            action: step.action,
            ...(failed ? { error: out.error } : {}),
          },
        }),
      );
      if (failed) {
        logger.warn({ playbook: p.id, run: runId, step: step.id, err: out.error }, "playbook step failed");
        if ((step.onError ?? "stop") === "stop" && !dryRun) stopped = true;
      }
    }

    const status: RunStatus = dryRun ? "dry_run" : stopped ? "failed" : settle(statuses);
    const ended = status === "waiting" ? null : clock.now();
    await db.updateTable("playbook_runs").set({ status, ended_at: ended }).where("id", "=", runId).execute();
    if (ended) emitCompleted(p.id, runId, incidentId, eventLabel(by), status, dryRun);
    return read(runId);
  }

  function emitCompleted(
    playbook: string,
    runId: string,
    incident: string | undefined,
    triggeredBy: string,
    status: RunStatus,
    dryRun: boolean,
  ) {
    emit(
      event("playbook.completed", playbook, {
        target: incident ? { kind: "incident", id: incident } : undefined,
        failed: status === "failed",
        data: { incident: incident ?? null, run: runId, triggeredBy, dryRun, status },
      }),
    );
  }

  return {
    list: () => o.load(),

    run,

    async check(runId, stepId, item, by) {
      const outcome = await db.transaction().execute(async (tx) => {
        const r = await tx
          .selectFrom("playbook_runs")
          .selectAll()
          .where("id", "=", runId)
          .forUpdate()
          .executeTakeFirst();
        if (!r) throw new NotFound(`no playbook run ${runId}`);
        if (r.status === "dry_run") throw new Conflict("a dry run's checklist cannot be ticked");
        const s = await tx
          .selectFrom("playbook_steps")
          .selectAll()
          .where("run_id", "=", runId)
          .where("step_id", "=", stepId)
          .executeTakeFirst();
        if (!s) throw new NotFound(`run ${runId} has no step '${stepId}'`);
        if (s.checklist === null) throw new Invalid(`'${stepId}' is not a manual step`, "step");
        if (s.status !== "waiting_manual" && s.status !== "checked" && s.status !== "pending")
          throw new Conflict(`step '${stepId}' is ${s.status}`);
        const list = JSON.parse(s.checklist) as ChecklistItem[];
        if (item !== "all" && (!Number.isInteger(item) || item < 0 || item >= Math.max(list.length, 1)))
          throw new Invalid(`expected an item from 0 to ${Math.max(list.length - 1, 0)}, or all`, "item");
        const now = clock.now();
        const ticked = list.map((x, i) =>
          (item === "all" || i === item) && !x.checked
            ? { ...x, checked: true, by: label(by), at: now.toISOString() }
            : x,
        );
        const done = ticked.every((x) => x.checked);
        await tx
          .updateTable("playbook_steps")
          .set({
            checklist: JSON.stringify(ticked),
            status: done ? "checked" : s.status,
            ...(done && s.status !== "checked" ? { ended_at: now } : {}),
          })
          .where("run_id", "=", runId)
          .where("step_id", "=", stepId)
          .execute();
        const all = await tx
          .selectFrom("playbook_steps")
          .select("status")
          .where("run_id", "=", runId)
          .execute();
        let runStatus = r.status as RunStatus;
        // A run stopped by a failure stays failed; a waiting one settles once every step has.
        if (runStatus === "waiting" || runStatus === "running") {
          runStatus = settle(all.map((x) => x.status));
          if (runStatus !== "waiting")
            await tx
              .updateTable("playbook_runs")
              .set({ status: runStatus, ended_at: now })
              .where("id", "=", runId)
              .execute();
        }
        return {
          playbook: r.playbook,
          incident: r.incident_id ?? undefined,
          triggeredBy: eventLabel(JSON.parse(r.triggered_by) as EventRef),
          runStatus,
          ended: runStatus !== "waiting" && runStatus !== r.status,
          items: item === "all" ? ticked.length : 1,
          done,
        };
      });
      emit(
        newEvent(
          {
            type: "playbook.step_checked",
            actor: by,
            target: { kind: "playbook_run", id: runId },
            severity: "info",
            retention: "security",
            data: {
              playbook: outcome.playbook,
              run: runId,
              step: stepId,
              item,
              complete: outcome.done,
              incident: outcome.incident ?? null,
            },
          },
          clock.now(),
        ),
      );
      if (outcome.ended)
        emitCompleted(
          outcome.playbook,
          runId,
          outcome.incident,
          outcome.triggeredBy,
          outcome.runStatus,
          false,
        );
      return read(runId);
    },

    get: read,

    async runs(filter = {}) {
      const limit = filter.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new Invalid("expected an integer from 1 to 1000", "limit");
      let q = db.selectFrom("playbook_runs").select("id").orderBy("started_at", "desc").limit(limit);
      if (filter.incident) q = q.where("incident_id", "=", filter.incident);
      const ids = await q.execute();
      return Promise.all(ids.map((r) => read(r.id)));
    },

    async onIncidentOpened(incident, detection) {
      if (o.autoRun && !o.autoRun()) return [];
      if (!detection) return [];
      const matching = o
        .load()
        .filter(
          (p) =>
            p.trigger &&
            p.trigger.rules.includes(detection.rule) &&
            atLeast(incident.priority, p.trigger.minPriority),
        );
      const out: RunRecord[] = [];
      for (const p of matching) {
        try {
          out.push(await run(p.id, { incident, detection }, { kind: "rule", id: detection.rule }));
        } catch (err) {
          // One playbook that cannot start must not keep the others from running.
          logger.error(
            { playbook: p.id, incident: incident.id, err: errorText(err) },
            "playbook did not start",
          );
        }
      }
      return out;
    },
  };
}
