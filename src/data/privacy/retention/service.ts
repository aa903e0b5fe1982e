// The retention scheduler: for each policy of the data map (those under legal hold excepted) it
// finds the people whose trigger time (last activity, creation…) is older than the policy's period,
// tells them first when the policy asks for notice, and erases them through the DSR engine once the
// notice has run out, unless they came back in the meantime. Each erasure has a request id derived
// from policy, subject and period, so a run that dies half-way resumes rather than repeats.
//
// DPDP Rules 2025 (Rule 8 and its Third Schedule, as described by secondary summaries): listed
// classes of Data Fiduciaries (large e-commerce, online gaming and social media platforms) erase a
// Data Principal's personal data after three years without contact, telling them 48 hours before.
// As a policy: { period: P3Y, trigger: last_activity, notice: PT48H, action: delete }.
import { createHash, createHmac, randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Clock } from "../../../platform/clock.ts";
import { Invalid } from "../../../platform/errors.ts";
import { type EventRef, newEvent, type SecurityEvent, systemActor } from "../../../platform/events/index.ts";
import type { Store } from "../../../platform/store/index.ts";
import type { Connector, DsrEngine, FoundRow } from "../dsr/types.ts";
import { allFields, type Collection, type DataMap, type Field, type RetentionPolicy } from "../map/model.ts";
import { addDuration, requireIsoDuration } from "../duration.ts";
import type { PrivacyMailer } from "../mail.ts";
import { maskRow } from "../dsr/rows.ts";
import { categoryCovers } from "../map/model.ts";
import { createMasker, defaultMasking, newMaskingSecret } from "../masking.ts";
import { noticeText } from "./notice.ts";
import { type RetentionConfig, retentionConfigSchema, type RetentionTables } from "./schema.ts";

export interface PolicyReport {
  policy: string;
  /** Why the policy was not run: legal_hold, or the problem that stopped it. */
  skipped?: string;
  /** Trigger times before this ran out. */
  cutoff?: string;
  /** People whose period ran out (one per subject, however many rows). */
  candidates: number;
  /** Notices sent (or, in a dry run, that would be). */
  noticed: number;
  /** Notices still running. */
  waiting: number;
  erased: number;
  /** Notices ended because the person was active again (or is gone). */
  cancelled: number;
  failed: number;
  /** What failed, without personal data. */
  errors: string[];
  /** Whether every candidate was looked at (false: maxPerRun reached; the rest wait). */
  complete: boolean;
}

export interface RetentionReport {
  dryRun: boolean;
  startedAt: string;
  finishedAt: string;
  policies: PolicyReport[];
}

export interface Retention {
  /** One pass over every policy; a dry run reads but changes, sends and erases nothing. */
  run(o?: { dryRun?: boolean; by?: EventRef }): Promise<RetentionReport>;
}

type Db = Kysely<RetentionTables>;

interface Target {
  collection: Collection;
  timestamp: string;
  identity: string;
  identityType: string;
  notice?: string;
}

const MAX_ERRORS = 20;

/** Reads a dotted path out of a row's nested values. */
function valueAt(values: Record<string, unknown>, path: string): unknown {
  let v: unknown = values;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** A trigger time as stores hold it: Date, ISO text, epoch seconds or milliseconds. */
function timeOf(v: unknown): Date | undefined {
  const d =
    v instanceof Date
      ? v
      : typeof v === "string"
        ? new Date(v)
        : typeof v === "number"
          ? new Date(v < 1e11 ? v * 1000 : v)
          : undefined;
  return d && Number.isFinite(d.getTime()) ? d : undefined;
}

/** The policy's fields, resolved against the map; they must sit in one collection. */
function resolve(map: DataMap, p: RetentionPolicy): Target {
  const where = `retention.${p.key}`;
  const find = (address: string, what: string) => {
    const [dataset, name, ...rest] = address.split(".");
    const collection = map.datasets.find((d) => d.key === dataset)?.collections.find((c) => c.name === name);
    if (!collection || rest.length === 0)
      throw new Invalid(`${what} '${address}' names no collection of the data map`, where);
    const path = rest.join(".");
    const field = allFields(collection.fields).find((f) => f.path === path);
    if (!field) throw new Invalid(`${what} '${address}' names no field of ${dataset}.${name}`, where);
    return { collection, field };
  };
  const ts = find(p.timestampField, "timestamp_field");
  const id = find(p.identityField, "identity_field");
  const same = (x: { collection: Collection }, what: string) => {
    if (x.collection !== ts.collection)
      throw new Invalid(`${what} must be in the timestamp field's collection (${p.timestampField})`, where);
  };
  same(id, "identity_field");
  // A row-level policy (trigger: created) acts on the expired rows themselves; a person-level one
  // erases the person through the DSR engine, so it starts from an identity.
  const identityType = (id.field as Field).identity ?? (p.trigger === "created" ? id.field.path : undefined);
  if (!identityType)
    throw new Invalid(`identity_field '${p.identityField}' is not an identity (fides_meta.identity)`, where);
  const notice = p.noticeField ? find(p.noticeField, "notice_field") : undefined;
  if (notice) same(notice, "notice_field");
  return {
    collection: ts.collection,
    timestamp: ts.field.path,
    identity: id.field.path,
    identityType,
    ...(notice ? { notice: notice.field.path } : {}),
  };
}

/** The retention scheduler over the data map's policies. */
export function createRetention(o: {
  store: Store;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  map: () => DataMap;
  /** The connector of the store holding `dataset`. */
  connectorFor: (dataset: string) => Connector | Promise<Connector>;
  engine: DsrEngine;
  mailer?: PrivacyMailer;
  config?: () => RetentionConfig;
  /** Key of the subject hashes (32+ random bytes, kept across restarts); without it, plain SHA-256. */
  subjectKey?: Buffer;
}): Retention {
  const { clock } = o;
  const db: Db = o.store.db.withTables<RetentionTables>();
  const config = o.config ?? (() => retentionConfigSchema.parse({}));
  let running: Promise<unknown> = Promise.resolve();

  const subjectHash = (type: string, value: string) => {
    const text = `${type}:${value}`;
    return o.subjectKey
      ? createHmac("sha256", o.subjectKey).update(text).digest("hex")
      : createHash("sha256").update("rampart-retention-subject\0").update(text).digest("hex");
  };
  const requestId = (policy: string, hash: string, period: Date) =>
    `ret-${createHash("sha256").update(`${policy}\0${hash}\0${period.toISOString()}`).digest("hex").slice(0, 32)}`;

  const emit = (type: string, by: EventRef, data: Record<string, unknown>, target?: string) =>
    o.emit(
      newEvent(
        {
          type,
          actor: by,
          retention: "audit",
          ...(target ? { target: { kind: "retention_policy", id: target } } : {}),
          data,
        },
        clock.now(),
      ),
    );

  const runPolicy = async (p: RetentionPolicy, dryRun: boolean, by: EventRef): Promise<PolicyReport> => {
    const report: PolicyReport = {
      policy: p.key,
      candidates: 0,
      noticed: 0,
      waiting: 0,
      erased: 0,
      cancelled: 0,
      failed: 0,
      errors: [],
      complete: false,
    };
    const fail = (text: string) => {
      report.failed++;
      if (report.errors.length < MAX_ERRORS) report.errors.push(text);
    };
    if (p.legalHold) return { ...report, skipped: "legal_hold", complete: true };

    let target: Target;
    let connector: Connector;
    let period;
    let notice;
    try {
      period = requireIsoDuration(p.period, `retention.${p.key}.period`, { positive: true });
      notice = p.notice
        ? requireIsoDuration(p.notice, `retention.${p.key}.notice`, { positive: true })
        : undefined;
      target = resolve(o.map(), p);
      connector = await o.connectorFor(target.collection.dataset);
    } catch (err) {
      return { ...report, skipped: (err as Error).message };
    }
    const now = clock.now();
    const cutoff = addDuration(now, period, -1);
    report.cutoff = cutoff.toISOString();
    const { batchSize, maxPerRun, mail } = config();

    const erase = async (value: string, hash: string, period: Date) => {
      const id = requestId(p.key, hash, period);
      await o.engine.run({
        id,
        kind: "erasure",
        identities: { [target.identityType]: value },
        policy: { force: p.action, ...(p.categories.length > 0 ? { categories: p.categories } : {}) },
      });
      return id;
    };

    const markErased = async (row: FoundRow, activity: Date, request: string) => {
      await db
        .insertInto("privacy_retention_erased")
        .values({ policy: p.key, row_id: row.id, activity_at: activity, request_id: request, erased_at: now })
        .onConflict((oc) =>
          oc
            .columns(["policy", "row_id"])
            .doUpdateSet({ activity_at: activity, request_id: request, erased_at: now }),
        )
        .execute();
    };

    /** Whether the person is still inactive: every row of theirs older than the cutoff (and some left). */
    const stillDue = async (value: string): Promise<"due" | "active" | "gone"> => {
      const rows = await connector.find(target.collection, target.identity, [value]);
      if (rows.length === 0) return "gone";
      const times = rows.map((r) => timeOf(valueAt(r.values, target.timestamp)));
      return times.some((t) => t === undefined || t.getTime() >= cutoff.getTime()) ? "active" : "due";
    };

    const closeNotice = (id: string, state: "erased" | "cancelled" | "gone", request?: string) =>
      db
        .updateTable("privacy_retention_notices")
        .set({ state, closed_at: now, request_id: request ?? null })
        .where("id", "=", id)
        .where("state", "=", "pending")
        .execute();

    const seenRows = new Set<string>();
    const seenSubjects = new Set<string>();
    let deletedRows = 0;

    const handle = async (row: FoundRow, erasedBefore: Map<string, number>) => {
      const raw = valueAt(row.values, target.identity);
      const activity = timeOf(valueAt(row.values, target.timestamp));
      if (raw === undefined || raw === null || String(raw).trim() === "")
        return fail(
          `a row of ${target.collection.dataset}.${target.collection.name} has no ${target.identity}`,
        );
      if (!activity)
        return fail(
          `a row of ${target.collection.dataset}.${target.collection.name} has no readable ${target.timestamp}`,
        );
      // A masked row keeps its timestamp: it was erased for this period already.
      if (erasedBefore.get(row.id) === activity.getTime()) return;
      const value = String(raw);
      const hash = subjectHash(target.identityType, value);
      if (seenSubjects.has(hash)) return;
      seenSubjects.add(hash);
      report.candidates++;

      if (p.trigger === "created") {
        // Only the expired row goes: the person's newer rows stay.
        seenSubjects.delete(hash);
        if (dryRun) return void report.erased++;
        try {
          if (p.action === "delete") {
            await connector.delete(target.collection, [row]);
            deletedRows++;
          } else {
            const set = maskRow(target.collection, row.values, createMasker(newMaskingSecret()), {
              covers: (f) =>
                !f.primaryKey &&
                f.categories.some((c) =>
                  (p.categories.length > 0 ? p.categories : ["user"]).some((w) => categoryCovers(w, c)),
                ),
              strategy: (f) => f.masking ?? defaultMasking,
            });
            if (Object.keys(set).length > 0) await connector.update(target.collection, [{ row, set }]);
            await markErased(row, activity, `row:${p.key}`);
          }
          report.erased++;
        } catch (err) {
          fail(`retention of a ${target.collection.name} row failed: ${(err as Error).message}`);
        }
        return;
      }

      if (!notice) {
        if (dryRun) return void report.erased++;
        try {
          const request = await erase(value, hash, activity);
          await markErased(row, activity, request);
          report.erased++;
          if (p.action === "delete") deletedRows++;
        } catch (err) {
          fail(`erasure ${requestId(p.key, hash, activity)} failed: ${(err as Error).message}`);
        }
        return;
      }

      const pending = await db
        .selectFrom("privacy_retention_notices")
        .selectAll()
        .where("policy", "=", p.key)
        .where("subject_hash", "=", hash)
        .where("state", "=", "pending")
        .executeTakeFirst();

      if (!pending) {
        report.noticed++;
        if (dryRun) return;
        const eraseAfter = addDuration(now, notice);
        const to = target.notice ? valueAt(row.values, target.notice) : undefined;
        let mailed = false;
        if (o.mailer && typeof to === "string" && to.includes("@")) {
          try {
            await o.mailer.send(
              to,
              mail.subject,
              noticeText({ organisation: config().organisation, eraseAfter, lastActive: activity }),
            );
            mailed = true;
          } catch (err) {
            // Without the notice the clock must not start: the person hears first, or nothing happens.
            report.noticed--;
            return fail(`notice ${hash.slice(0, 12)} could not be sent: ${(err as Error).message}`);
          }
        }
        await db
          .insertInto("privacy_retention_notices")
          .values({
            id: randomUUID(),
            policy: p.key,
            subject_hash: hash,
            state: "pending",
            activity_at: activity,
            noticed_at: now,
            erase_after: eraseAfter,
            mailed,
            closed_at: null,
            request_id: null,
          })
          .onConflict((oc) => oc.doNothing())
          .execute();
        return;
      }

      if (new Date(pending.erase_after).getTime() > now.getTime()) return void report.waiting++;
      try {
        const state = await stillDue(value);
        if (state !== "due") {
          report.cancelled++;
          if (!dryRun) await closeNotice(pending.id, state === "gone" ? "gone" : "cancelled");
          return;
        }
        if (dryRun) return void report.erased++;
        const request = await erase(value, hash, new Date(pending.activity_at));
        await closeNotice(pending.id, "erased", request);
        await markErased(row, activity, request);
        report.erased++;
        if (p.action === "delete") deletedRows++;
      } catch (err) {
        fail(
          `erasure ${requestId(p.key, hash, new Date(pending.activity_at))} failed: ${(err as Error).message}`,
        );
      }
    };

    try {
      // findBefore has no cursor: rows we leave in place (notices running, masked, failed) come back
      // first, so each call asks for those plus one more batch.
      for (;;) {
        const limit = seenRows.size - deletedRows + batchSize;
        const rows = await connector.findBefore(target.collection, target.timestamp, cutoff, limit);
        const fresh = rows.filter((r) => !seenRows.has(r.id));
        const erasedBefore = new Map(
          fresh.length === 0
            ? []
            : (
                await db
                  .selectFrom("privacy_retention_erased")
                  .select(["row_id", "activity_at"])
                  .where("policy", "=", p.key)
                  .where(
                    "row_id",
                    "in",
                    fresh.map((r) => r.id),
                  )
                  .execute()
              ).map((r) => [r.row_id, new Date(r.activity_at).getTime()] as const),
        );
        for (const r of fresh) {
          seenRows.add(r.id);
          await handle(r, erasedBefore);
        }
        if (rows.length < limit) {
          report.complete = true;
          break;
        }
        if (fresh.length === 0 || seenRows.size >= maxPerRun) break;
      }
    } catch (err) {
      fail(
        `reading ${target.collection.dataset}.${target.collection.name} failed: ${(err as Error).message}`,
      );
    }

    // Notices of people no longer among the candidates: they were active again (or are gone).
    if (notice && report.complete) {
      const pending = await db
        .selectFrom("privacy_retention_notices")
        .select(["id", "subject_hash"])
        .where("policy", "=", p.key)
        .where("state", "=", "pending")
        .execute();
      for (const n of pending.filter((x) => !seenSubjects.has(x.subject_hash))) {
        report.cancelled++;
        if (!dryRun) await closeNotice(n.id, "cancelled");
      }
    }

    if (!dryRun) {
      const data = { policy: p.key, action: p.action };
      if (report.noticed > 0)
        emit("privacy.retention_notice_sent", by, { ...data, count: report.noticed }, p.key);
      if (report.erased > 0) emit("privacy.retention_erased", by, { ...data, count: report.erased }, p.key);
      if (report.cancelled > 0)
        emit("privacy.retention_cancelled", by, { ...data, count: report.cancelled }, p.key);
    }
    return report;
  };

  const run: Retention["run"] = async ({ dryRun = false, by = systemActor } = {}) => {
    // One run at a time in this process; notices' unique index and erasure ids cover other servers.
    const mine = running.then(async () => {
      const startedAt = clock.now().toISOString();
      const policies: PolicyReport[] = [];
      for (const p of o.map().retention) policies.push(await runPolicy(p, dryRun, by));
      const report: RetentionReport = { dryRun, startedAt, finishedAt: clock.now().toISOString(), policies };
      emit("privacy.retention_run", by, {
        dryRun,
        policies: policies.map(({ errors: _errors, cutoff: _cutoff, ...counts }) => counts),
      });
      return report;
    });
    running = mine.catch(() => {});
    return mine;
  };

  return { run };
}
