// The processor register (who handles personal data for us, under which contract, where) and the
// DPIA register (GDPR Art. 35, DPDP s.10 for Significant Data Fiduciaries), with the findings the
// compliance checks read: missing DPAs, stale assessments, overdue reviews, unlawful transfers.
import canonicalize from "canonicalize";
import type { Kysely } from "kysely";
import type { Clock } from "../../../platform/clock.ts";
import { Conflict, Invalid, NotFound } from "../../../platform/errors.ts";
import { type EventRef, newEvent, type SecurityEvent } from "../../../platform/events/index.ts";
import type { Store } from "../../../platform/store/index.ts";
import { addDuration, subtractDuration } from "../duration.ts";
import { parseInput } from "../input.ts";
import {
  type DpiaApproval,
  approveDpiaSchema,
  type DpiaData,
  type DpiaInput,
  dpiaSchema,
  type DpiaState,
  type ProcessorData,
  type ProcessorInput,
  processorSchema,
  type RegisterConfig,
  registerConfigSchema,
  type RegisterTables,
} from "./schema.ts";

export interface Processor extends Omit<ProcessorData, "nextReviewAt"> {
  nextReviewAt: string;
  /** Regions outside the home regions (a transfer needing a mechanism). */
  outsideHomeRegions: string[];
  createdAt: string;
  updatedAt: string;
}

export interface Dpia extends Omit<DpiaData, "reviewDue"> {
  state: DpiaState;
  approvedBy: string | null;
  approvedAt: string | null;
  reviewDue: string | null;
  createdAt: string;
  updatedAt: string;
}

export const findingCodes = [
  "processor_without_dpa",
  "processor_assessment_stale",
  "processor_review_overdue",
  "transfer_without_mechanism",
  "dpia_not_approved",
  "dpia_review_overdue",
] as const;
export type FindingCode = (typeof findingCodes)[number];

/** A problem in the register, for compliance checks and people. */
export interface RegisterFinding {
  code: FindingCode;
  severity: "high" | "medium" | "low";
  kind: "processor" | "dpia";
  key: string;
  message: string;
}

export interface PrivacyRegister {
  listProcessors(): Promise<Processor[]>;
  getProcessor(key: string): Promise<Processor>;
  /** Conflict when the key exists. */
  addProcessor(input: ProcessorInput, by: EventRef): Promise<Processor>;
  /** Creates or replaces; `created` says which. */
  putProcessor(input: ProcessorInput, by: EventRef): Promise<{ processor: Processor; created: boolean }>;
  removeProcessor(key: string, by: EventRef): Promise<void>;
  listDpias(): Promise<Dpia[]>;
  getDpia(key: string): Promise<Dpia>;
  addDpia(input: DpiaInput, by: EventRef): Promise<Dpia>;
  /** Creates or replaces; a changed DPIA goes back to draft until approved again. */
  putDpia(input: DpiaInput, by: EventRef): Promise<{ dpia: Dpia; created: boolean }>;
  /** Approves; Invalid when the DPIA has no outcome. */
  approveDpia(key: string, approval: DpiaApproval, by: EventRef): Promise<Dpia>;
  removeDpia(key: string, by: EventRef): Promise<void>;
  /** What is wrong with the register at `now` (default the clock's). */
  findings(now?: Date): Promise<RegisterFinding[]>;
}

type Db = Kysely<RegisterTables>;
type ProcessorRow = RegisterTables["privacy_processors"];
type DpiaRow = RegisterTables["privacy_dpias"];

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const who = (r: EventRef) => `${r.kind}:${r.id}`;
const day = (t: string | null) => (t ? t.slice(0, 10) : "-");

/** Whether `region` is one of `home` or inside one ("eu" covers "eu-west-1"); case-insensitive. */
export function inHomeRegions(region: string, home: readonly string[]): boolean {
  const r = region.toLowerCase();
  return home.some((h) => {
    const k = h.toLowerCase();
    return r === k || r.startsWith(`${k}-`);
  });
}

const uniqueViolation = (err: unknown) => (err as { code?: string }).code === "23505";

/** The processor and DPIA registers over `store`. */
export function createPrivacyRegister(o: {
  store: Store;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  config?: Partial<RegisterConfig>;
}): PrivacyRegister {
  const { clock } = o;
  const config = registerConfigSchema.parse(o.config ?? {});
  const db: Db = o.store.db.withTables<RegisterTables>();

  const toProcessor = (r: ProcessorRow): Processor => {
    const d = JSON.parse(r.data) as ProcessorData;
    const { nextReviewAt: _given, ...rest } = d;
    return {
      ...rest,
      nextReviewAt: iso(r.next_review_at) as string,
      outsideHomeRegions:
        config.homeRegions.length === 0 ? [] : d.regions.filter((x) => !inHomeRegions(x, config.homeRegions)),
      createdAt: iso(r.created_at) as string,
      updatedAt: iso(r.updated_at) as string,
    };
  };

  const toDpia = (r: DpiaRow, now = clock.now()): Dpia => {
    const d = JSON.parse(r.data) as DpiaData;
    const overdue = r.state === "approved" && r.review_due !== null && new Date(r.review_due) <= now;
    return {
      ...d,
      state: overdue ? "review_due" : (r.state as DpiaState),
      approvedBy: r.approved_by,
      approvedAt: iso(r.approved_at),
      reviewDue: iso(r.review_due),
      createdAt: iso(r.created_at) as string,
      updatedAt: iso(r.updated_at) as string,
    };
  };

  const nextReview = (d: ProcessorData, now: Date) =>
    d.nextReviewAt
      ? new Date(d.nextReviewAt)
      : addDuration(new Date(d.lastAssessedAt ?? d.dpa?.signedAt ?? now), config.reviewInterval);

  const processorChanged = (key: string, change: string, status: string | null, by: EventRef) =>
    o.emit(
      newEvent(
        {
          type: "privacy.processor_changed",
          actor: by,
          target: { kind: "processor", id: key },
          retention: "audit",
          data: { key, change, ...(status ? { status } : {}) },
        },
        clock.now(),
      ),
    );
  const dpiaChanged = (key: string, change: string, state: string | null, by: EventRef) =>
    o.emit(
      newEvent(
        {
          type: "privacy.dpia_changed",
          actor: by,
          target: { kind: "dpia", id: key },
          retention: "audit",
          data: { key, change, ...(state ? { state } : {}) },
        },
        clock.now(),
      ),
    );

  const getProcessorRow = async (key: string) => {
    const row = await db
      .selectFrom("privacy_processors")
      .selectAll()
      .where("key", "=", key)
      .executeTakeFirst();
    if (!row) throw new NotFound(`no processor '${key}'`);
    return row;
  };
  const getDpiaRow = async (key: string) => {
    const row = await db.selectFrom("privacy_dpias").selectAll().where("key", "=", key).executeTakeFirst();
    if (!row) throw new NotFound(`no DPIA '${key}'`);
    return row;
  };

  const writeProcessor = async (input: ProcessorInput, by: EventRef, replace: boolean) => {
    const d = parseInput(processorSchema, input);
    const now = clock.now();
    const values = {
      data: JSON.stringify(d),
      status: d.status,
      next_review_at: nextReview(d, now),
      updated_at: now,
    };
    const row = await db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom("privacy_processors")
        .select("created_at")
        .where("key", "=", d.key)
        .forUpdate()
        .executeTakeFirst();
      if (existing && !replace) throw new Conflict(`processor '${d.key}' exists; replace it with PUT`);
      if (existing) {
        await trx.updateTable("privacy_processors").set(values).where("key", "=", d.key).execute();
        return { ...values, key: d.key, created_at: existing.created_at, created: false };
      }
      try {
        await trx
          .insertInto("privacy_processors")
          .values({ key: d.key, ...values, created_at: now })
          .execute();
      } catch (err) {
        if (uniqueViolation(err)) throw new Conflict(`processor '${d.key}' was added meanwhile; try again`);
        throw err;
      }
      return { ...values, key: d.key, created_at: now, created: true };
    });
    processorChanged(d.key, row.created ? "created" : "updated", d.status, by);
    return { processor: toProcessor(row), created: row.created };
  };

  const writeDpia = async (input: DpiaInput, by: EventRef, replace: boolean) => {
    const d = parseInput(dpiaSchema, input);
    const now = clock.now();
    const row = await db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom("privacy_dpias")
        .selectAll()
        .where("key", "=", d.key)
        .forUpdate()
        .executeTakeFirst();
      if (existing && !replace) throw new Conflict(`DPIA '${d.key}' exists; replace it with PUT`);
      // An assessment that changes needs approving again: the approval covered the old text.
      const unchanged = existing !== undefined && canonicalize(JSON.parse(existing.data)) === canonicalize(d);
      const values = {
        data: JSON.stringify(d),
        state: unchanged ? existing.state : "draft",
        approved_by: unchanged ? existing.approved_by : null,
        approved_at: unchanged ? existing.approved_at : null,
        review_due: unchanged ? existing.review_due : d.reviewDue ? new Date(d.reviewDue) : null,
        updated_at: now,
      };
      if (existing) {
        await trx.updateTable("privacy_dpias").set(values).where("key", "=", d.key).execute();
        return { ...values, key: d.key, created_at: existing.created_at, created: false };
      }
      try {
        await trx
          .insertInto("privacy_dpias")
          .values({ key: d.key, ...values, created_at: now })
          .execute();
      } catch (err) {
        if (uniqueViolation(err)) throw new Conflict(`DPIA '${d.key}' was added meanwhile; try again`);
        throw err;
      }
      return { ...values, key: d.key, created_at: now, created: true };
    });
    dpiaChanged(d.key, row.created ? "created" : "updated", row.state, by);
    return { dpia: toDpia(row), created: row.created };
  };

  return {
    async listProcessors() {
      const rows = await db.selectFrom("privacy_processors").selectAll().orderBy("key").execute();
      return rows.map(toProcessor);
    },
    async getProcessor(key) {
      return toProcessor(await getProcessorRow(key));
    },
    async addProcessor(input, by) {
      return (await writeProcessor(input, by, false)).processor;
    },
    putProcessor: (input, by) => writeProcessor(input, by, true),
    async removeProcessor(key, by) {
      const r = await db.deleteFrom("privacy_processors").where("key", "=", key).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw new NotFound(`no processor '${key}'`);
      processorChanged(key, "deleted", null, by);
    },

    async listDpias() {
      const now = clock.now();
      const rows = await db.selectFrom("privacy_dpias").selectAll().orderBy("key").execute();
      return rows.map((r) => toDpia(r, now));
    },
    async getDpia(key) {
      return toDpia(await getDpiaRow(key));
    },
    async addDpia(input, by) {
      return (await writeDpia(input, by, false)).dpia;
    },
    putDpia: (input, by) => writeDpia(input, by, true),
    async approveDpia(key, approval, by) {
      const a = parseInput(approveDpiaSchema, approval);
      const now = clock.now();
      const row = await db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom("privacy_dpias")
          .selectAll()
          .where("key", "=", key)
          .forUpdate()
          .executeTakeFirst();
        if (!existing) throw new NotFound(`no DPIA '${key}'`);
        const d = JSON.parse(existing.data) as DpiaData;
        const outcome = a.outcome ?? d.outcome;
        if (!outcome)
          throw new Invalid(
            "a DPIA is approved with its outcome: proceed, proceed_with_measures, consult_authority or do_not_proceed",
            "outcome",
          );
        const unmitigated = d.risks.findIndex((r) => r.severity === "high" && r.measures.length === 0);
        if (unmitigated >= 0 && outcome !== "do_not_proceed" && outcome !== "consult_authority")
          throw new Invalid(
            "a high-severity risk has no measures; add them or consult the authority",
            `risks.${unmitigated}.measures`,
          );
        const data = JSON.stringify({ ...d, outcome });
        const values = {
          data,
          state: "approved",
          approved_by: a.approvedBy ?? who(by),
          approved_at: now,
          review_due: a.reviewDue ? new Date(a.reviewDue) : addDuration(now, config.reviewInterval),
          updated_at: now,
        };
        if (values.review_due <= now) throw new Invalid("must be after the approval", "reviewDue");
        await trx.updateTable("privacy_dpias").set(values).where("key", "=", key).execute();
        return { ...existing, ...values };
      });
      dpiaChanged(key, "approved", "approved", by);
      return toDpia(row);
    },
    async removeDpia(key, by) {
      const r = await db.deleteFrom("privacy_dpias").where("key", "=", key).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw new NotFound(`no DPIA '${key}'`);
      dpiaChanged(key, "deleted", null, by);
    },

    async findings(at) {
      const now = at ?? clock.now();
      const out: RegisterFinding[] = [];
      const staleBefore = subtractDuration(now, config.assessmentMaxAge);
      const processors = await db.selectFrom("privacy_processors").selectAll().orderBy("key").execute();
      for (const row of processors) {
        const p = toProcessor(row);
        if (p.status === "offboarded") continue;
        const add = (code: FindingCode, severity: RegisterFinding["severity"], message: string) =>
          out.push({ code, severity, kind: "processor", key: p.key, message });
        if (!p.dpa)
          add("processor_without_dpa", "high", `${p.name} handles personal data without a signed DPA`);
        if (!p.lastAssessedAt)
          add("processor_assessment_stale", "medium", `${p.name} has never been assessed`);
        else if (new Date(p.lastAssessedAt) < staleBefore)
          add(
            "processor_assessment_stale",
            "medium",
            `${p.name} was last assessed ${day(p.lastAssessedAt)}, more than ${config.assessmentMaxAge} ago`,
          );
        if (new Date(p.nextReviewAt) <= now)
          add("processor_review_overdue", "medium", `${p.name}'s review was due ${day(p.nextReviewAt)}`);
        if (p.outsideHomeRegions.length > 0 && !p.transfer)
          add(
            "transfer_without_mechanism",
            "high",
            `${p.name} handles data in ${p.outsideHomeRegions.join(", ")}, outside the home regions, with no transfer mechanism`,
          );
      }
      const dpias = await db.selectFrom("privacy_dpias").selectAll().orderBy("key").execute();
      for (const row of dpias) {
        const d = toDpia(row, now);
        if (d.state === "draft")
          out.push({
            code: "dpia_not_approved",
            severity: "low",
            kind: "dpia",
            key: d.key,
            message: `the DPIA of ${d.system} is not approved`,
          });
        if (d.state === "review_due")
          out.push({
            code: "dpia_review_overdue",
            severity: d.significantDataFiduciary ? "high" : "medium",
            kind: "dpia",
            key: d.key,
            message: `the DPIA of ${d.system} was due for review ${day(d.reviewDue)}${d.significantDataFiduciary ? " (a Significant Data Fiduciary's yearly DPIA)" : ""}`,
          });
      }
      return out;
    },
  };
}
