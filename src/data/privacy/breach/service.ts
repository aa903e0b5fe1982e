// The personal-data breach register: records of breaches (GDPR Art. 33(5) asks for one per breach,
// reportable or not), their notification clocks per regime started from the moment of awareness,
// reminders before each deadline, notifications recorded against the clocks and draft notices.
// Events carry ids, regimes and deadlines only: a breach's text may name people, so it stays here.
import { type Kysely, type Selectable, sql } from "kysely";
import type { Clock } from "../../../platform/clock.ts";
import { Conflict, Invalid, NotFound } from "../../../platform/errors.ts";
import {
  type EventRef,
  newEvent,
  type SecurityEvent,
  type Severity,
  systemActor,
} from "../../../platform/events/index.ts";
import type { Store } from "../../../platform/store/index.ts";
import { parseInput } from "../input.ts";
import {
  type BreachRegime,
  type ClockDefinition,
  type ClockKey,
  clockMetBy,
  clockState,
  definitionOf,
  definitionsFor,
  type NotificationRecipient,
  reminderTimes,
} from "./clocks.ts";
import { draftsFor } from "./drafts.ts";
import {
  type BreachConfig,
  type BreachStatus,
  type BreachTables,
  type OpenBreach,
  openBreachSchema,
  type UpdateBreach,
  updateBreachSchema,
} from "./schema.ts";
import { canMoveBreach, clocksStopped, nextStatuses, statusAfterNotice } from "./status.ts";
import type { Breach, BreachClock, BreachDraft, BreachNotification, DraftKind } from "./types.ts";

export interface BreachQuery {
  status?: BreachStatus;
  /** true: not closed; false: closed. */
  open?: boolean;
  limit?: number;
}

export interface OpenFromIncident {
  incidentId: string;
  awareAt: Date | string;
  regimes?: BreachRegime[];
  title: string;
  description?: string;
}

export interface BreachRegister {
  open(input: OpenBreach, by: EventRef): Promise<Breach>;
  /** For playbooks: the incident's breach record, opened the first time only. */
  openFromIncident(o: OpenFromIncident, by?: EventRef): Promise<{ breach: Breach; created: boolean }>;
  get(id: string): Promise<Breach>;
  /** Most recently aware first. */
  list(q?: BreachQuery): Promise<Breach[]>;
  /** Changes facts and/or moves the status; Conflict names the allowed moves. */
  update(id: string, patch: UpdateBreach, by: EventRef): Promise<Breach>;
  /** Records a notification sent; it meets the regime's clock for that recipient. */
  recordNotification(
    breachId: string,
    regime: BreachRegime,
    recipient: NotificationRecipient,
    sentAt: Date,
    reference?: string,
    by?: EventRef,
  ): Promise<Breach>;
  drafts(id: string, kind?: DraftKind): Promise<BreachDraft[]>;
  /** Sends due reminders and missed-deadline alerts, each once; the server calls it every minute. */
  tick(): Promise<{ near: number; missed: number }>;
}

type Db = Kysely<BreachTables>;
type Row = Selectable<BreachTables["privacy_breaches"]>;
type ClockRow = Selectable<BreachTables["privacy_breach_clocks"]>;
type NoticeRow = Selectable<BreachTables["privacy_breach_notifications"]>;

const HOUR = 3_600_000;
/** How far ahead of the server's clock a reported time may be (clock skew), before it is refused. */
const FUTURE_SLACK_MS = 5 * 60_000;
const BREACH_ID = /^BR-\d{4}-\d{4,}$/;

const iso = (d: Date | string) => new Date(d).toISOString();
const json = <T>(s: string) => JSON.parse(s) as T;
const uniqueViolation = (err: unknown) => (err as { code?: string }).code === "23505";

/** The breach register over `store`; `config` is read on every use so reloads apply to new breaches. */
export function createBreachRegister(o: {
  store: Store;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  config: () => BreachConfig;
}): BreachRegister {
  const { clock } = o;
  const db: Db = o.store.db.withTables<BreachTables>();

  const audit = (
    type: string,
    by: EventRef,
    breachId: string,
    data: Record<string, unknown>,
    severity: Severity = "medium",
  ) =>
    o.emit(
      newEvent(
        {
          type,
          severity,
          retention: "audit",
          actor: by,
          target: { kind: "privacy_breach", id: breachId },
          data: { breach: breachId, ...data },
        },
        clock.now(),
      ),
    );

  const notInFuture = (d: Date, where: string) => {
    if (d.getTime() > clock.now().getTime() + FUTURE_SLACK_MS)
      throw new Invalid(`is in the future (${d.toISOString()})`, where);
    return d;
  };

  const toClock = (r: ClockRow, awareAt: Date, stopped: boolean, now: Date): BreachClock => {
    const d = definitionOf(r.clock as ClockKey);
    const due = new Date(r.due_at);
    const met = r.met_at ? new Date(r.met_at) : null;
    return {
      key: d.key,
      regime: d.regime,
      recipient: d.recipient,
      label: d.label,
      hours: Number(r.hours),
      withoutDelay: d.withoutDelay,
      startedAt: awareAt.toISOString(),
      dueAt: due.toISOString(),
      metAt: met ? met.toISOString() : null,
      state: clockState({ dueAt: due, metAt: met }, now, stopped),
    };
  };

  const toNotification = (r: NoticeRow): BreachNotification => ({
    id: Number(r.id),
    regime: r.regime as BreachRegime,
    recipient: r.recipient as NotificationRecipient,
    sentAt: iso(r.sent_at),
    reference: r.reference,
    recordedAt: iso(r.recorded_at),
    recordedBy: r.recorded_by,
  });

  const order = (k: string) => definitionsFor(["gdpr", "dpdp", "cert_in"]).findIndex((d) => d.key === k);

  const hydrate = async (rows: Row[]): Promise<Breach[]> => {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [clocks, notices] = await Promise.all([
      db.selectFrom("privacy_breach_clocks").selectAll().where("breach_id", "in", ids).execute(),
      db
        .selectFrom("privacy_breach_notifications")
        .selectAll()
        .where("breach_id", "in", ids)
        .orderBy("id")
        .execute(),
    ]);
    const now = clock.now();
    return rows.map((r) => {
      const status = r.status as BreachStatus;
      const awareAt = new Date(r.aware_at);
      return {
        id: r.id,
        title: r.title,
        description: r.description,
        status,
        statusReason: r.status_reason,
        nextStatuses: [...nextStatuses(status)],
        awareAt: awareAt.toISOString(),
        detectedAt: iso(r.detected_at),
        incidentId: r.incident_id,
        regimes: json<BreachRegime[]>(r.regimes),
        dataCategories: json<string[]>(r.data_categories),
        subjectCategories: json<string[]>(r.subject_categories),
        approxSubjects: r.approx_subjects === null ? null : Number(r.approx_subjects),
        approxRecords: r.approx_records === null ? null : Number(r.approx_records),
        regions: json<string[]>(r.regions),
        systems: json<string[]>(r.systems),
        incidentType: r.incident_type,
        consequences: r.consequences,
        measures: r.measures,
        createdAt: iso(r.created_at),
        updatedAt: iso(r.updated_at),
        createdBy: r.created_by,
        clocks: clocks
          .filter((c) => c.breach_id === r.id)
          .sort((a, b) => order(a.clock) - order(b.clock))
          .map((c) => toClock(c, awareAt, clocksStopped(status), now)),
        notifications: notices.filter((n) => n.breach_id === r.id).map(toNotification),
      };
    });
  };

  const get = async (id: string): Promise<Breach> => {
    if (!BREACH_ID.test(id)) throw new NotFound(`no breach ${id}: ids look like BR-2026-0001`);
    const r = await db.selectFrom("privacy_breaches").selectAll().where("id", "=", id).executeTakeFirst();
    if (!r) throw new NotFound(`no breach ${id}`);
    return (await hydrate([r]))[0] as Breach;
  };

  const clockRows = (id: string, defs: ClockDefinition[], awareAt: Date) => {
    const hours = o.config().hours;
    return defs.map((d) => ({
      breach_id: id,
      clock: d.key,
      regime: d.regime,
      hours: hours[d.hours],
      due_at: new Date(awareAt.getTime() + hours[d.hours] * HOUR),
      met_at: null,
    }));
  };

  const nextId = async (tx: Db) => {
    const year = clock.now().getUTCFullYear();
    const { last } = await tx
      .insertInto("privacy_breach_sequences")
      .values({ year, last: 1 })
      .onConflict((oc) =>
        oc.column("year").doUpdateSet({ last: sql<number>`privacy_breach_sequences.last + 1` }),
      )
      .returning("last")
      .executeTakeFirstOrThrow();
    return `BR-${year}-${String(last).padStart(4, "0")}`;
  };

  const open: BreachRegister["open"] = async (raw, by) => {
    const input = parseInput(openBreachSchema, raw);
    const now = clock.now();
    const awareAt = notInFuture(input.awareAt ? new Date(input.awareAt) : now, "awareAt");
    const detectedAt = notInFuture(input.detectedAt ? new Date(input.detectedAt) : awareAt, "detectedAt");
    const regimes = [...new Set(input.regimes ?? o.config().regimes)];
    const id = await db.transaction().execute(async (tx) => {
      const id = await nextId(tx);
      await tx
        .insertInto("privacy_breaches")
        .values({
          id,
          title: input.title,
          description: input.description,
          status: "detected",
          status_reason: null,
          aware_at: awareAt,
          detected_at: detectedAt,
          incident_id: input.incidentId ?? null,
          regimes: JSON.stringify(regimes),
          data_categories: JSON.stringify(input.dataCategories ?? []),
          subject_categories: JSON.stringify(input.subjectCategories ?? []),
          regions: JSON.stringify(input.regions ?? []),
          systems: JSON.stringify(input.systems ?? []),
          approx_subjects: input.approxSubjects ?? null,
          approx_records: input.approxRecords ?? null,
          incident_type: input.incidentType ?? null,
          consequences: input.consequences ?? null,
          measures: input.measures ?? null,
          created_at: now,
          updated_at: now,
          created_by: `${by.kind}:${by.id}`,
        })
        .execute();
      const clocks = clockRows(id, definitionsFor(regimes), awareAt);
      if (clocks.length > 0) await tx.insertInto("privacy_breach_clocks").values(clocks).execute();
      return id;
    });
    const breach = await get(id);
    audit(
      "privacy.breach_opened",
      by,
      id,
      {
        regimes,
        awareAt: breach.awareAt,
        ...(breach.incidentId ? { incident: breach.incidentId } : {}),
        clocks: breach.clocks.map((c) => ({ clock: c.key, regime: c.regime, dueAt: c.dueAt })),
      },
      "high",
    );
    return breach;
  };

  const byIncident = (incidentId: string) =>
    db.selectFrom("privacy_breaches").selectAll().where("incident_id", "=", incidentId).executeTakeFirst();

  const openFromIncident: BreachRegister["openFromIncident"] = async (x, by = systemActor) => {
    const existing = await byIncident(x.incidentId);
    if (existing) return { breach: (await hydrate([existing]))[0] as Breach, created: false };
    try {
      const breach = await open(
        {
          title: x.title.slice(0, 200),
          description:
            x.description ??
            `Opened from incident ${x.incidentId}; the facts of the breach are still being assessed.`,
          incidentId: x.incidentId,
          awareAt: iso(x.awareAt),
          ...(x.regimes ? { regimes: x.regimes } : {}),
        },
        by,
      );
      return { breach, created: true };
    } catch (err) {
      // Two playbook runs of one incident at once: the loser finds the winner's record.
      if (!uniqueViolation(err)) throw err;
      const winner = await byIncident(x.incidentId);
      if (!winner) throw err;
      return { breach: (await hydrate([winner]))[0] as Breach, created: false };
    }
  };

  const list: BreachRegister["list"] = async (q = {}) => {
    let query = db
      .selectFrom("privacy_breaches")
      .selectAll()
      .orderBy("aware_at", "desc")
      .orderBy("id", "desc")
      .limit(Math.min(q.limit ?? 100, 1000));
    if (q.status) query = query.where("status", "=", q.status);
    if (q.open !== undefined) query = query.where("status", q.open ? "<>" : "=", "closed");
    return hydrate(await query.execute());
  };

  const update: BreachRegister["update"] = async (id, raw, by) => {
    const patch = parseInput(updateBreachSchema, raw);
    await get(id);
    const now = clock.now();
    const changed: string[] = [];
    const result = await db.transaction().execute(async (tx) => {
      const before = await tx
        .selectFrom("privacy_breaches")
        .selectAll()
        .where("id", "=", id)
        .forUpdate()
        .executeTakeFirstOrThrow();
      const from = before.status as BreachStatus;
      if (from === "closed" && Object.keys(patch).length > 0)
        throw new Conflict(`breach ${id} is closed; it can no longer change`);
      const set: Partial<BreachTables["privacy_breaches"]> = {};
      const put = <K extends keyof BreachTables["privacy_breaches"]>(
        key: K,
        value: BreachTables["privacy_breaches"][K],
        name: string,
      ) => {
        if (String(before[key]) === String(value)) return;
        set[key] = value;
        changed.push(name);
      };
      if (patch.title !== undefined) put("title", patch.title, "title");
      if (patch.description !== undefined) put("description", patch.description, "description");
      if (patch.incidentId !== undefined) put("incident_id", patch.incidentId, "incidentId");
      if (patch.dataCategories)
        put("data_categories", JSON.stringify(patch.dataCategories), "dataCategories");
      if (patch.subjectCategories)
        put("subject_categories", JSON.stringify(patch.subjectCategories), "subjectCategories");
      if (patch.regions) put("regions", JSON.stringify(patch.regions), "regions");
      if (patch.systems) put("systems", JSON.stringify(patch.systems), "systems");
      if (patch.approxSubjects !== undefined) put("approx_subjects", patch.approxSubjects, "approxSubjects");
      if (patch.approxRecords !== undefined) put("approx_records", patch.approxRecords, "approxRecords");
      if (patch.incidentType !== undefined) put("incident_type", patch.incidentType, "incidentType");
      if (patch.consequences !== undefined) put("consequences", patch.consequences, "consequences");
      if (patch.measures !== undefined) put("measures", patch.measures, "measures");
      if (patch.detectedAt !== undefined)
        put("detected_at", notInFuture(new Date(patch.detectedAt), "detectedAt"), "detectedAt");

      let awareAt = new Date(before.aware_at);
      if (patch.awareAt !== undefined && new Date(patch.awareAt).getTime() !== awareAt.getTime()) {
        awareAt = notInFuture(new Date(patch.awareAt), "awareAt");
        set.aware_at = awareAt;
        changed.push("awareAt");
        // The deadlines move with the moment of awareness; the hours each clock had stay.
        await tx
          .updateTable("privacy_breach_clocks")
          .set({ due_at: sql<Date>`${awareAt}::timestamptz + hours * interval '1 hour'` })
          .where("breach_id", "=", id)
          .execute();
      }
      if (patch.regimes) {
        const now = [...new Set(patch.regimes)];
        const was = json<BreachRegime[]>(before.regimes);
        if (now.join() !== was.join()) {
          set.regimes = JSON.stringify(now);
          changed.push("regimes");
          const gone = was.filter((r) => !now.includes(r));
          const added = now.filter((r) => !was.includes(r));
          if (gone.length > 0) {
            const keys = definitionsFor(gone).map((d) => d.key);
            await tx
              .deleteFrom("privacy_breach_reminders")
              .where("breach_id", "=", id)
              .where("clock", "in", keys)
              .execute();
            await tx
              .deleteFrom("privacy_breach_clocks")
              .where("breach_id", "=", id)
              .where("clock", "in", keys)
              .execute();
          }
          const rows = clockRows(id, definitionsFor(added), awareAt);
          if (rows.length > 0) await tx.insertInto("privacy_breach_clocks").values(rows).execute();
        }
      }
      if (patch.status !== undefined && patch.status !== from) {
        if (!canMoveBreach(from, patch.status))
          throw new Conflict(
            `breach ${id} cannot move from ${from} to ${patch.status}; allowed: ${nextStatuses(from).join(", ") || "none"}`,
          );
        set.status = patch.status;
        set.status_reason = patch.reason ?? null;
        changed.push("status");
      } else if (patch.reason !== undefined && patch.status === undefined) {
        throw new Invalid("a reason goes with a status move", "reason");
      }
      if (changed.length === 0) return { from, to: from };
      set.updated_at = now;
      await tx.updateTable("privacy_breaches").set(set).where("id", "=", id).execute();
      return { from, to: (set.status as BreachStatus | undefined) ?? from };
    });
    const breach = await get(id);
    if (changed.length > 0)
      audit("privacy.breach_updated", by, id, {
        changed,
        status: breach.status,
        ...(result.to !== result.from ? { from: result.from } : {}),
      });
    return breach;
  };

  const recordNotification: BreachRegister["recordNotification"] = async (
    breachId,
    regime,
    recipient,
    sentAt,
    reference,
    by = systemActor,
  ) => {
    const before = await get(breachId);
    if (!before.regimes.includes(regime))
      throw new Invalid(
        `breach ${breachId} is not under ${regime} (regimes: ${before.regimes.join(", ")})`,
        "regime",
      );
    if (before.status === "closed") throw new Conflict(`breach ${breachId} is closed`);
    notInFuture(sentAt, "sentAt");
    const key = clockMetBy(regime, recipient);
    const now = clock.now();
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto("privacy_breach_notifications")
        .values({
          breach_id: breachId,
          regime,
          recipient,
          sent_at: sentAt,
          reference: reference ?? null,
          recorded_at: now,
          recorded_by: `${by.kind}:${by.id}`,
        })
        .execute();
      if (key)
        await tx
          .updateTable("privacy_breach_clocks")
          .set({ met_at: sentAt })
          .where("breach_id", "=", breachId)
          .where("clock", "=", key)
          .where((eb) => eb.or([eb("met_at", "is", null), eb("met_at", ">", sentAt)]))
          .execute();
      const status =
        recipient === "authority"
          ? statusAfterNotice(before.status, "notified_authority")
          : recipient === "subjects"
            ? statusAfterNotice(before.status, "notified_subjects")
            : before.status;
      await tx
        .updateTable("privacy_breaches")
        .set({ updated_at: now, ...(status !== before.status ? { status, status_reason: null } : {}) })
        .where("id", "=", breachId)
        .execute();
    });
    const breach = await get(breachId);
    const c = key ? breach.clocks.find((x) => x.key === key) : undefined;
    audit(
      "privacy.breach_notified",
      by,
      breachId,
      {
        regime,
        recipient,
        sentAt: sentAt.toISOString(),
        ...(c ? { clock: c.key, dueAt: c.dueAt, onTime: c.state === "met" } : {}),
        ...(breach.status !== before.status ? { status: breach.status } : {}),
      },
      "info",
    );
    return breach;
  };

  const drafts: BreachRegister["drafts"] = async (id, kind) => draftsFor(await get(id), o.config(), kind);

  const remind = async (breachId: string, clockKey: string, kind: string) => {
    const r = await db
      .insertInto("privacy_breach_reminders")
      .values({ breach_id: breachId, clock: clockKey, kind, sent_at: clock.now() })
      .onConflict((oc) => oc.columns(["breach_id", "clock", "kind"]).doNothing())
      .returning("kind")
      .executeTakeFirst();
    return r !== undefined;
  };

  const tick: BreachRegister["tick"] = async () => {
    const now = clock.now();
    const offsets = o.config().reminders;
    const rows = await db
      .selectFrom("privacy_breach_clocks as c")
      .innerJoin("privacy_breaches as b", "b.id", "c.breach_id")
      .select(["c.breach_id", "c.clock", "c.regime", "c.due_at", "b.aware_at"])
      .where("c.met_at", "is", null)
      .where("b.status", "not in", ["closed", "not_reportable"])
      .execute();
    let near = 0;
    let missed = 0;
    for (const r of rows) {
      const due = new Date(r.due_at);
      const data = { regime: r.regime, clock: r.clock, dueAt: due.toISOString() };
      if (now.getTime() > due.getTime()) {
        if (await remind(r.breach_id, r.clock, "missed")) {
          missed++;
          audit("privacy.breach_deadline_missed", systemActor, r.breach_id, data, "high");
        }
        continue;
      }
      // Every reminder whose time has come is marked sent; only the latest is announced, so a
      // breach recorded late does not ring several times at once.
      let latest: string | undefined;
      for (const t of reminderTimes(new Date(r.aware_at), due, offsets)) {
        if (t.at.getTime() > now.getTime()) break;
        if (await remind(r.breach_id, r.clock, `near:${t.offset}`)) latest = t.offset;
      }
      if (latest) {
        near++;
        audit("privacy.breach_deadline_near", systemActor, r.breach_id, {
          ...data,
          reminder: latest,
          remainingMinutes: Math.floor((due.getTime() - now.getTime()) / 60_000),
        });
      }
    }
    return { near, missed };
  };

  return { open, openFromIncident, get, list, update, recordNotification, drafts, tick };
}
