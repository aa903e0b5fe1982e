// Continuous compliance: runs every check against live evidence, keeps the current result per
// item with when it began failing, snapshots each run's results as evidence hashed into the audit
// log, rolls results up to controls and framework requirements, and hands failing items to the
// ticket tracker. Exceptions and manual evidence come from people, with a second person approving.
import { createHash, randomUUID } from "node:crypto";
import canonicalize from "canonicalize";
import type { Store } from "../../platform/store/index.ts";
import type { RampartConfig } from "../../config/index.ts";
import type { Clock } from "../../platform/clock.ts";
import { Conflict, Forbidden, Invalid, NotFound } from "../../platform/errors.ts";
import { type EventRef, newEvent, type SecurityEvent, systemActor } from "../../platform/events/index.ts";
import type { Logger } from "../../platform/logging.ts";
import type { ComplianceConfig } from "./config.ts";
import type {
  Catalogue,
  CheckContext,
  CheckDefinition,
  CheckItem,
  CheckSummary,
  ControlStatus,
  Evidence,
  EvidenceKind,
  EvidenceState,
  Exception,
  FrameworkReadiness,
  ItemResult,
  ItemStanding,
} from "./model.ts";
import { coveringException, fingerprintOf, readinessOf, standingOf } from "./standing.ts";
import type { ComplianceTables } from "./tables.ts";
import type { TicketSync, TicketSyncSummary } from "./tickets/sync.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MAX_EVIDENCE_BYTES = 10 * 1024 * 1024;

/** Who acts on exceptions and evidence. */
export type Actor = EventRef;

export interface CycleSummary {
  startedAt: Date;
  checks: { id: string; pass: number; fail: number; notApplicable: number; error?: string }[];
  tickets?: TicketSyncSummary;
}

export interface ComplianceStatus {
  lastCycleAt?: Date;
  frameworks: { id: string; name: string; summary: FrameworkReadiness["summary"] }[];
  checks: {
    id: string;
    title: string;
    source: string;
    lastRunAt?: Date;
    error?: string;
    counts: Record<ItemStanding, number>;
  }[];
}

export interface ExceptionInput {
  checkId: string;
  resource: string;
  justification: string;
  expiresAt: Date;
}

export interface EvidenceInput {
  kind: Exclude<EvidenceKind, "snapshot">;
  title: string;
  controls: string[];
  /** A link's URL, a file's name, or an attestation's one-line subject. */
  ref: string;
  /** A file's bytes or an attestation's statement. */
  content?: Buffer;
  validUntil?: Date;
}

export interface ComplianceService {
  readonly catalogue: Catalogue;
  readonly definitions: readonly CheckDefinition[];
  /** Runs the enabled checks (or `only` these) now, then syncs tickets. One cycle at a time. */
  runChecks(o?: { only?: string[] }): Promise<CycleSummary>;
  status(): Promise<ComplianceStatus>;
  checks(): Promise<CheckSummary[]>;
  check(id: string): Promise<CheckSummary>;
  readiness(frameworkId: string, window?: { from: Date; to: Date }): Promise<FrameworkReadiness>;
  exceptions(): Promise<Exception[]>;
  requestException(input: ExceptionInput, by: Actor): Promise<Exception>;
  decideException(id: string, decision: "approved" | "rejected" | "revoked", by: Actor): Promise<Exception>;
  evidence(o?: { control?: string; from?: Date; to?: Date; kind?: EvidenceKind }): Promise<Evidence[]>;
  evidenceContent(id: string): Promise<{ evidence: Evidence; content: Buffer | undefined }>;
  addEvidence(input: EvidenceInput, by: Actor): Promise<Evidence>;
  reviewEvidence(id: string, state: "approved" | "rejected", by: Actor, note?: string): Promise<Evidence>;
  /** Runs a cycle now and every `intervalSeconds`; config reloads change the interval. */
  start(): void;
  close(): Promise<void>;
}

type Tickets = Pick<TicketSync, "sync">;

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const actorId = (a: Actor) => `${a.kind}:${a.id}`;
const zeroCounts = (): Record<ItemStanding, number> => ({
  passing: 0,
  at_risk: 0,
  failing: 0,
  overdue: 0,
  excepted: 0,
  not_applicable: 0,
});

export function createCompliance(o: {
  db: Store["db"];
  clock: Clock;
  config: () => RampartConfig;
  catalogue: Catalogue;
  checks: readonly CheckDefinition[];
  /** Extra evidence sources for checks (TLS probe, audit verification, privacy). */
  context: () => Omit<CheckContext, "now" | "config" | "db">;
  emit: (e: SecurityEvent) => void;
  logger: Logger;
  /** Built from compliance.tickets when set; follows config reloads. */
  tickets?: () => Tickets | undefined;
  /** Gathers evidence a cycle needs first (e.g. verifies the audit log when no verification is on record). */
  beforeCycle?: () => Promise<void>;
  /** Told the status after each cycle (metrics). */
  afterCycle?: (status: ComplianceStatus) => void;
  /** Whether this server runs scheduled jobs now (one server of a deployment leads them). */
  leading?: () => boolean;
}): ComplianceService {
  const db = o.db.withTables<ComplianceTables>();
  const section = (): ComplianceConfig => o.config().compliance;
  const byId = new Map(o.checks.map((c) => [c.id, c]));
  const settings = (c: CheckDefinition) => {
    const s = section().checks[c.id];
    return {
      enabled: s?.enabled ?? true,
      slaDays: s?.slaDays ?? c.slaDays,
      toleranceDays: s?.toleranceDays ?? c.toleranceDays,
    };
  };
  const controlsOf = (checkId: string) =>
    o.catalogue.controls.filter((c) => c.checks.includes(checkId)).map((c) => c.id);
  const emit = (e: Parameters<typeof newEvent>[0]) => o.emit(newEvent(e, o.clock.now()));

  const loadExceptions = async (): Promise<Exception[]> =>
    (await db.selectFrom("compliance_exceptions").selectAll().orderBy("created_at", "desc").execute()).map(
      (r) => ({
        id: r.id,
        checkId: r.check_id,
        resource: r.resource,
        justification: r.justification,
        requestedBy: r.requested_by,
        ...(r.approved_by ? { approvedBy: r.approved_by } : {}),
        expiresAt: new Date(r.expires_at),
        state: r.state as Exception["state"],
      }),
    );

  const toResult = (
    def: CheckDefinition,
    row: ComplianceTables["compliance_items"],
    exceptions: readonly Exception[],
    now: Date,
  ): ItemResult => {
    const s = settings(def);
    const observed = row.observed ? (JSON.parse(row.observed) as { failingSince?: string }) : {};
    const since = observed.failingSince
      ? new Date(observed.failingSince)
      : row.first_failed_at
        ? new Date(row.first_failed_at)
        : undefined;
    const exception =
      row.status === "fail" ? coveringException(exceptions, def.id, row.resource, now) : undefined;
    const { standing, dueAt } = standingOf(
      { status: row.status as CheckItem["status"], ...(since ? { since } : {}), ...s, excepted: !!exception },
      now,
    );
    return {
      checkId: def.id,
      resource: row.resource,
      standing,
      status: row.status as CheckItem["status"],
      detail: row.detail,
      fingerprint: row.fingerprint,
      ...(since && row.status === "fail" ? { firstFailedAt: since } : {}),
      ...(dueAt ? { dueAt } : {}),
      lastRunAt: new Date(row.last_run_at),
      ...(exception ? { exceptionId: exception.id } : {}),
    };
  };

  const summaries = async (now: Date, exceptions?: Exception[]): Promise<Map<string, CheckSummary>> => {
    const ex = exceptions ?? (await loadExceptions());
    const rows = await db.selectFrom("compliance_items").selectAll().orderBy("resource").execute();
    const lastRuns = await db.selectFrom("compliance_checks").selectAll().execute();
    const out = new Map<string, CheckSummary>();
    for (const def of o.checks) {
      const run = lastRuns.find((r) => r.check_id === def.id);
      out.set(def.id, {
        id: def.id,
        title: def.title,
        source: def.source,
        remediation: def.remediation,
        ...(run ? { lastRunAt: new Date(run.last_run_at) } : {}),
        ...(run?.last_error ? { error: run.last_error } : {}),
        items: rows.filter((r) => r.check_id === def.id).map((r) => toResult(def, r, ex, now)),
      });
    }
    return out;
  };

  /** Stores a snapshot of a run's items unless an identical one is still valid; returns its id. */
  const snapshot = async (def: CheckDefinition, items: CheckItem[], now: Date): Promise<string> => {
    const content = Buffer.from(
      canonicalize({
        check: def.id,
        items: [...items]
          .sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0))
          .map((i) => ({
            resource: i.resource,
            status: i.status,
            detail: i.detail,
            observed: i.observed ?? {},
          })),
      }) as string,
    );
    const hash = sha256(content);
    const validUntil = new Date(now.getTime() + section().snapshotValidityHours * HOUR_MS);
    const prior = await db
      .selectFrom("compliance_evidence")
      .select(["id", "sha256", "valid_until"])
      .where("check_id", "=", def.id)
      .where("kind", "=", "snapshot")
      .orderBy("collected_at", "desc")
      .limit(1)
      .executeTakeFirst();
    const renewBy = now.getTime() + section().intervalSeconds * 1000;
    if (
      prior &&
      prior.sha256 === hash &&
      prior.valid_until &&
      new Date(prior.valid_until).getTime() > renewBy
    )
      return prior.id;
    const id = randomUUID();
    await db
      .insertInto("compliance_evidence")
      .values({
        id,
        kind: "snapshot",
        title: `${def.title}: results of ${now.toISOString()}`,
        controls: JSON.stringify(controlsOf(def.id)),
        sha256: hash,
        collected_at: now,
        valid_until: validUntil,
        state: "approved",
        added_by: "system:rampart",
        reviewed_by: null,
        review_note: null,
        ref: `check:${def.id}`,
        check_id: def.id,
        content,
      })
      .execute();
    // The hash enters the audit log's chain, so a snapshot altered later no longer matches it.
    emit({
      type: "compliance.evidence_collected",
      actor: systemActor,
      target: { kind: "evidence", id },
      retention: "audit",
      data: { checkId: def.id, sha256: hash, kind: "snapshot", validUntil: validUntil.toISOString() },
    });
    return id;
  };

  /** Keeps the run in the history and marks it as the check's latest. */
  const recordRun = async (
    checkId: string,
    startedAt: Date,
    counts: string,
    error: string | null,
    evidenceId: string | null,
  ) => {
    const id = randomUUID();
    await db
      .insertInto("compliance_runs")
      .values({
        id,
        check_id: checkId,
        started_at: startedAt,
        finished_at: o.clock.now(),
        counts,
        error,
        evidence_id: evidenceId,
      })
      .execute();
    const latest = { check_id: checkId, last_run_id: id, last_run_at: startedAt, last_error: error };
    await db
      .insertInto("compliance_checks")
      .values(latest)
      .onConflict((oc) => oc.column("check_id").doUpdateSet(latest))
      .execute();
  };

  /** Runs one check and stores its items; returns the results of items that vanished (as passing). */
  const runOne = async (
    def: CheckDefinition,
    ctx: CheckContext,
    exceptions: Exception[],
  ): Promise<{ summary: CycleSummary["checks"][number]; vanished: ItemResult[] }> => {
    const now = ctx.now;
    let items: CheckItem[];
    try {
      items = await def.run(ctx);
    } catch (err) {
      const error = (err as Error).message;
      await recordRun(def.id, now, "{}", error, null);
      o.logger.warn({ check: def.id, err: error }, "a compliance check could not read its evidence");
      emit({
        type: "compliance.check_error",
        actor: systemActor,
        target: { kind: "check", id: def.id },
        severity: "medium",
        outcome: "error",
        data: { error },
      });
      return { summary: { id: def.id, pass: 0, fail: 0, notApplicable: 0, error }, vanished: [] };
    }
    const unique = new Map(items.map((i) => [i.resource, i]));
    items = [...unique.values()];
    const before = await db
      .selectFrom("compliance_items")
      .selectAll()
      .where("check_id", "=", def.id)
      .execute();
    const prior = new Map(before.map((r) => [r.resource, r]));
    // Each item's standing as its last run left it, so a deadline passed since then is news.
    const oldStanding = new Map(
      before.map((r) => [r.resource, toResult(def, r, exceptions, new Date(r.last_run_at)).standing]),
    );
    for (const item of items) {
      const was = prior.get(item.resource);
      const firstFailed =
        item.status === "fail"
          ? was?.status === "fail" && was.first_failed_at
            ? was.first_failed_at
            : now
          : null;
      const observed = {
        ...(item.observed ?? {}),
        ...(item.failingSince ? { failingSince: item.failingSince.toISOString() } : {}),
      };
      const row = {
        check_id: def.id,
        resource: item.resource,
        fingerprint: fingerprintOf(def.id, item.resource),
        status: item.status,
        detail: item.detail,
        observed: Object.keys(observed).length ? JSON.stringify(observed) : null,
        first_failed_at: firstFailed,
        last_passed_at: item.status === "pass" ? now : (was?.last_passed_at ?? null),
        last_run_at: now,
      };
      await db
        .insertInto("compliance_items")
        .values(row)
        .onConflict((oc) => oc.columns(["check_id", "resource"]).doUpdateSet(row))
        .execute();
      const result = toResult(def, row, exceptions, now);
      const previous = oldStanding.get(item.resource);
      if (previous !== result.standing) transition(def, result, previous);
    }
    const vanished = before
      .filter((r) => !unique.has(r.resource))
      .map((r) => ({
        ...toResult(def, r, exceptions, now),
        status: "pass" as const,
        standing: "passing" as const,
        detail: "no longer present",
        lastRunAt: now,
      }));
    for (const v of vanished)
      await db
        .deleteFrom("compliance_items")
        .where("check_id", "=", def.id)
        .where("resource", "=", v.resource)
        .execute();
    const count = (s: CheckItem["status"]) => items.filter((i) => i.status === s).length;
    const summary = {
      id: def.id,
      pass: count("pass"),
      fail: count("fail"),
      notApplicable: count("not_applicable"),
    };
    const evidenceId = await snapshot(def, items, now);
    await recordRun(
      def.id,
      now,
      JSON.stringify({ pass: summary.pass, fail: summary.fail, not_applicable: summary.notApplicable }),
      null,
      evidenceId,
    );
    return { summary, vanished };
  };

  /** An item's standing changed: failing items and recoveries become events (alerts can follow). */
  const transition = (def: CheckDefinition, r: ItemResult, previous: ItemStanding | undefined) => {
    const bad = (s: ItemStanding | undefined) => s === "at_risk" || s === "failing" || s === "overdue";
    if (!bad(r.standing) && !bad(previous)) return;
    const type = bad(r.standing)
      ? r.standing === "overdue"
        ? "compliance.item_overdue"
        : "compliance.item_failing"
      : "compliance.item_passing";
    if (type === "compliance.item_failing" && bad(previous)) return; // at_risk → failing is not news
    emit({
      type,
      actor: systemActor,
      target: { kind: "check", id: def.id },
      severity:
        type === "compliance.item_passing" ? "info" : type === "compliance.item_overdue" ? "high" : "medium",
      outcome: type === "compliance.item_passing" ? "success" : "failure",
      data: {
        checkId: def.id,
        resource: r.resource,
        standing: r.standing,
        detail: r.detail,
        ...(r.dueAt ? { dueAt: r.dueAt.toISOString() } : {}),
        controls: controlsOf(def.id),
      },
    });
  };

  let lastCycleAt: Date | undefined;
  let lastControls = new Map<string, ControlStatus>();
  let running: Promise<CycleSummary> | undefined;

  const cycle = async (only?: string[]): Promise<CycleSummary> => {
    const now = o.clock.now();
    for (const id of only ?? []) if (!byId.has(id)) throw new NotFound(`no compliance check '${id}'`);
    await o.beforeCycle?.();
    const exceptions = await loadExceptions();
    const ctx: CheckContext = { ...o.context(), now, config: o.config(), db: o.db };
    const out: CycleSummary = { startedAt: now, checks: [] };
    const vanished: ItemResult[] = [];
    for (const def of o.checks) {
      if (!settings(def).enabled || (only && !only.includes(def.id))) continue;
      const r = await runOne(def, ctx, exceptions);
      out.checks.push(r.summary);
      vanished.push(...r.vanished);
    }
    lastCycleAt = now;
    const current = await summaries(now, exceptions);
    await controlChanges(current, now);
    const tickets = o.tickets?.();
    if (tickets) {
      const results = [...[...current.values()].flatMap((c) => c.items), ...vanished];
      out.tickets = await tickets.sync(results, (r) => {
        const def = byId.get(r.checkId);
        const exception = exceptions.find((e) => e.id === r.exceptionId);
        return {
          title: def?.title ?? r.checkId,
          remediation: def?.remediation ?? "",
          controls: controlsOf(r.checkId),
          ...(exception ? { exception: { id: exception.id, expiresAt: exception.expiresAt } } : {}),
        };
      });
    }
    o.afterCycle?.(await service.status());
    return out;
  };

  const controlChanges = async (current: Map<string, CheckSummary>, now: Date) => {
    const evidence = await listEvidence({});
    const next = new Map<string, ControlStatus>();
    for (const f of section().frameworks) {
      if (!o.catalogue.frameworks.some((x) => x.id === f)) continue;
      for (const c of readinessOf(o.catalogue, f, current, evidence, now).controls)
        next.set(c.control.id, c.status);
    }
    for (const [id, status] of next) {
      const was = lastControls.get(id);
      if (was !== undefined && was !== status)
        emit({
          type: "compliance.control_changed",
          actor: systemActor,
          target: { kind: "control", id },
          severity: status === "failing" ? "medium" : "info",
          data: { from: was, to: status },
        });
    }
    lastControls = next;
  };

  const toEvidence = (r: ComplianceTables["compliance_evidence"], now: Date): Evidence => {
    const validUntil = r.valid_until ? new Date(r.valid_until) : undefined;
    const expired =
      r.state === "approved" && validUntil !== undefined && validUntil.getTime() <= now.getTime();
    return {
      id: r.id,
      kind: r.kind as EvidenceKind,
      title: r.title,
      controls: JSON.parse(r.controls) as string[],
      sha256: r.sha256,
      collectedAt: new Date(r.collected_at),
      ...(validUntil ? { validUntil } : {}),
      state: expired ? "expired" : (r.state as EvidenceState),
      addedBy: r.added_by,
      ...(r.reviewed_by ? { reviewedBy: r.reviewed_by } : {}),
      ref: r.ref,
    };
  };

  const evidenceColumns = [
    "id",
    "kind",
    "title",
    "controls",
    "sha256",
    "collected_at",
    "valid_until",
    "state",
    "added_by",
    "reviewed_by",
    "review_note",
    "ref",
    "check_id",
  ] as const;

  /**
   * Manual evidence, plus each check's latest snapshot (or, for a window, every snapshot taken in
   * it), so reports do not carry thousands of identical runs.
   */
  const listEvidence = async (f: { control?: string; from?: Date; to?: Date; kind?: EvidenceKind }) => {
    const now = o.clock.now();
    let q = db.selectFrom("compliance_evidence").select(evidenceColumns).orderBy("collected_at", "desc");
    if (f.from) q = q.where("collected_at", ">=", f.from);
    if (f.to) q = q.where("collected_at", "<", f.to);
    if (f.kind) q = q.where("kind", "=", f.kind);
    const rows = await q.execute();
    const seen = new Set<string>();
    const windowed = f.from !== undefined || f.to !== undefined;
    return rows
      .filter((r) => {
        if (r.kind !== "snapshot" || windowed) return true;
        if (seen.has(r.check_id ?? "")) return false;
        seen.add(r.check_id ?? "");
        return true;
      })
      .map((r) => toEvidence({ ...r, content: null }, now))
      .filter((e) => f.control === undefined || e.controls.includes(f.control));
  };

  const knownControls = new Set(o.catalogue.controls.map((c) => c.id));

  const service: ComplianceService = {
    catalogue: o.catalogue,
    definitions: o.checks,
    runChecks(opts = {}) {
      // One cycle at a time: a second caller waits for the one under way, then runs its own.
      const run = (running ?? Promise.resolve()).catch(() => undefined).then(() => cycle(opts.only));
      running = run;
      return run.finally(() => {
        if (running === run) running = undefined;
      });
    },
    async status() {
      const now = o.clock.now();
      const current = await summaries(now);
      const evidence = await listEvidence({});
      return {
        ...(lastCycleAt ? { lastCycleAt } : {}),
        frameworks: section()
          .frameworks.filter((f) => o.catalogue.frameworks.some((x) => x.id === f))
          .map((f) => {
            const r = readinessOf(o.catalogue, f, current, evidence, now);
            return { id: f, name: r.framework.name, summary: r.summary };
          }),
        checks: [...current.values()].map((c) => {
          const counts = zeroCounts();
          for (const i of c.items) counts[i.standing]++;
          return {
            id: c.id,
            title: c.title,
            source: c.source,
            ...(c.lastRunAt ? { lastRunAt: c.lastRunAt } : {}),
            ...(c.error ? { error: c.error } : {}),
            counts,
          };
        }),
      };
    },
    async checks() {
      return [...(await summaries(o.clock.now())).values()];
    },
    async check(id) {
      const s = (await summaries(o.clock.now())).get(id);
      if (!s) throw new NotFound(`no compliance check '${id}'`);
      return s;
    },
    async readiness(frameworkId, window) {
      if (!o.catalogue.frameworks.some((f) => f.id === frameworkId))
        throw new NotFound(
          `no framework '${frameworkId}' (known: ${o.catalogue.frameworks.map((f) => f.id).join(", ")})`,
        );
      const now = o.clock.now();
      const evidence = await listEvidence(window ?? {});
      return readinessOf(o.catalogue, frameworkId, await summaries(now), evidence, now, window);
    },
    exceptions: loadExceptions,
    async requestException(input, by) {
      const now = o.clock.now();
      if (!byId.has(input.checkId)) throw new Invalid(`no compliance check '${input.checkId}'`, "checkId");
      if (input.justification.trim().length < 10)
        throw new Invalid("say why the risk is accepted (at least 10 characters)", "justification");
      if (input.expiresAt.getTime() <= now.getTime()) throw new Invalid("must be in the future", "expiresAt");
      if (input.expiresAt.getTime() > now.getTime() + 366 * DAY_MS)
        throw new Invalid("at most a year ahead: exceptions are reviewed at least yearly", "expiresAt");
      const id = randomUUID();
      await db
        .insertInto("compliance_exceptions")
        .values({
          id,
          check_id: input.checkId,
          resource: input.resource,
          justification: input.justification.trim(),
          requested_by: actorId(by),
          approved_by: null,
          state: "pending",
          expires_at: input.expiresAt,
          created_at: now,
          decided_at: null,
        })
        .execute();
      emit({
        type: "compliance.exception_requested",
        actor: by,
        target: { kind: "exception", id },
        retention: "audit",
        data: { checkId: input.checkId, resource: input.resource, expiresAt: input.expiresAt.toISOString() },
      });
      return (await loadExceptions()).find((e) => e.id === id) as Exception;
    },
    async decideException(id, decision, by) {
      const e = (await loadExceptions()).find((x) => x.id === id);
      if (!e) throw new NotFound(`no exception '${id}'`);
      if (decision === "revoked" ? e.state !== "approved" && e.state !== "pending" : e.state !== "pending")
        throw new Conflict(`exception ${id} is ${e.state}`);
      // Four eyes: whoever asked for the risk to be accepted cannot accept it.
      if (decision === "approved" && e.requestedBy === actorId(by))
        throw new Forbidden("an exception needs approval by someone other than who requested it");
      await db
        .updateTable("compliance_exceptions")
        .set({
          state: decision,
          decided_at: o.clock.now(),
          ...(decision === "approved" ? { approved_by: actorId(by) } : {}),
        })
        .where("id", "=", id)
        .execute();
      emit({
        type: `compliance.exception_${decision}`,
        actor: by,
        target: { kind: "exception", id },
        retention: "audit",
        data: { checkId: e.checkId, resource: e.resource, expiresAt: e.expiresAt.toISOString() },
      });
      return (await loadExceptions()).find((x) => x.id === id) as Exception;
    },
    evidence: listEvidence,
    async evidenceContent(id) {
      const r = await db
        .selectFrom("compliance_evidence")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirst();
      if (!r) throw new NotFound(`no evidence '${id}'`);
      return {
        evidence: toEvidence(r, o.clock.now()),
        content: r.content ? Buffer.from(r.content) : undefined,
      };
    },
    async addEvidence(input, by) {
      const now = o.clock.now();
      const unknown = input.controls.filter((c) => !knownControls.has(c));
      if (input.controls.length === 0)
        throw new Invalid("name at least one control it evidences", "controls");
      if (unknown.length) throw new Invalid(`unknown control ${unknown.join(", ")}`, "controls");
      if (input.kind === "link" && !/^https?:\/\//.test(input.ref))
        throw new Invalid("a link is an http(s) URL", "ref");
      if (input.kind !== "link" && !input.content?.length)
        throw new Invalid(`a ${input.kind} needs content`, "content");
      if ((input.content?.length ?? 0) > MAX_EVIDENCE_BYTES)
        throw new Invalid(`at most ${MAX_EVIDENCE_BYTES / 1024 / 1024} MiB`, "content");
      if (input.validUntil && input.validUntil.getTime() <= now.getTime())
        throw new Invalid("must be in the future", "validUntil");
      const id = randomUUID();
      const hash = sha256(input.content ?? input.ref);
      await db
        .insertInto("compliance_evidence")
        .values({
          id,
          kind: input.kind,
          title: input.title,
          controls: JSON.stringify(input.controls),
          sha256: hash,
          collected_at: now,
          valid_until: input.validUntil ?? new Date(now.getTime() + 365 * DAY_MS),
          state: "in_review",
          added_by: actorId(by),
          reviewed_by: null,
          review_note: null,
          ref: input.ref,
          check_id: null,
          content: input.content ?? null,
        })
        .execute();
      emit({
        type: "compliance.evidence_added",
        actor: by,
        target: { kind: "evidence", id },
        retention: "audit",
        data: { kind: input.kind, sha256: hash, controls: input.controls },
      });
      return (await service.evidenceContent(id)).evidence;
    },
    async reviewEvidence(id, state, by, note) {
      const { evidence } = await service.evidenceContent(id);
      if (evidence.kind === "snapshot")
        throw new Conflict("snapshots are collected by Rampart, not reviewed");
      if (evidence.state !== "in_review" && evidence.state !== "draft")
        throw new Conflict(`evidence ${id} is ${evidence.state}`);
      if (evidence.addedBy === actorId(by))
        throw new Forbidden("evidence is reviewed by someone other than who added it");
      await db
        .updateTable("compliance_evidence")
        .set({ state, reviewed_by: actorId(by), review_note: note ?? null })
        .where("id", "=", id)
        .execute();
      emit({
        type: `compliance.evidence_${state}`,
        actor: by,
        target: { kind: "evidence", id },
        retention: "audit",
        data: { sha256: evidence.sha256, controls: evidence.controls },
      });
      return (await service.evidenceContent(id)).evidence;
    },
    start() {
      if (timer || closed) return;
      const tick = () => {
        if (closed) return;
        if (section().enabled && (o.leading?.() ?? true))
          void service
            .runChecks()
            .catch((err: unknown) =>
              o.logger.error({ err: (err as Error).message }, "compliance cycle failed; will retry"),
            );
        timer = setTimeout(tick, section().intervalSeconds * 1000);
        timer.unref();
      };
      tick();
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  return service;
}
