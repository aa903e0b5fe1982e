// The consent ledger: every decision a subject makes about a purpose, appended to a per-subject
// hash chain, with a current-state table written in the same transaction so the check apps make
// before processing is one indexed read. Subjects are stored only as the keyed HMAC the server
// derives from the app's id; withdrawing is the same call as giving.
import { createHash } from "node:crypto";
import { type Kysely, sql } from "kysely";
import type { Clock } from "../../../platform/clock.ts";
import { Invalid, NotFound } from "../../../platform/errors.ts";
import { type EventRef, newEvent, type SecurityEvent } from "../../../platform/events/index.ts";
import type { Store } from "../../../platform/store/index.ts";
import { subtractDuration } from "../duration.ts";
import { parseInput } from "../input.ts";
import {
  type ConsentEntry,
  type ConsentProof,
  entryHash,
  GENESIS,
  type ProofVerification,
  verifyConsentProof,
} from "./chain.ts";
import {
  type ConsentChannel,
  type ConsentConfig,
  consentConfigSchema,
  type ConsentRecordInput,
  consentRecordSchema,
  type ConsentState,
  type ConsentTables,
  type Jurisdiction,
  type ParentalConsent,
  purposeKey,
  subjectId,
  withdrawAllSchema,
} from "./schema.ts";

export type CheckReason =
  "given" | "no_record" | "withdrawn" | "expired" | "child_without_parental_consent" | "refused_for_children";

/** What a processing check answers; anything but `allowed: true` means do not process. */
export interface ConsentCheck {
  allowed: boolean;
  state: ConsentState | null;
  noticeVersion: { id: string; hash: string } | null;
  since: string | null;
  expiresAt: string | null;
  reason: CheckReason;
}

export interface ConsentStatus extends ConsentCheck {
  purpose: string;
  channel: ConsentChannel;
  jurisdiction: Jurisdiction;
  seq: number;
}

export interface SubjectConsents {
  subjectHash: string;
  subjectRef: string | null;
  child: boolean;
  parentalConsentOnFile: boolean;
  consents: ConsentStatus[];
}

export interface ConsentLedger {
  /** Appends a decision (given or withdrawn) and updates the current state; Invalid when refused. */
  record(input: ConsentRecordInput, by: EventRef): Promise<ConsentEntry>;
  /** Withdraws every purpose the subject has consent for; the entries appended. */
  withdrawAll(
    subject: string,
    by: EventRef,
    o?: { channel?: ConsentChannel; evidence?: Record<string, unknown> },
  ): Promise<ConsentEntry[]>;
  /** Whether `purpose` may be processed for `subject` now; default deny. */
  check(subject: string, purpose: string): Promise<ConsentCheck>;
  /** The subject's current state per purpose (empty when nothing is recorded). */
  current(subject: string): Promise<SubjectConsents>;
  /** Every ledger entry of the subject, chained, with the chain's verification; NotFound when none. */
  proof(subject: string): Promise<ConsentProof & { verification: ProofVerification }>;
  /** Deletes the chains of subjects with no live consent whose last decision is older than retention. */
  purgeExpired(): Promise<{ subjects: number; entries: number }>;
  /** Current consent per purpose, counts only (never a subject): what the console charts. */
  stats(): Promise<ConsentStats>;
}

/** Current consent per purpose: live consents, withdrawals, and consents given but past their expiry. */
export interface ConsentStats {
  at: string;
  /** Subjects with any decision on record. */
  subjects: number;
  purposes: { purpose: string; given: number; withdrawn: number; expired: number }[];
}

type Db = Kysely<ConsentTables>;
type LedgerRow = ConsentTables["consent_ledger"] & { id: number };

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const who = (r: EventRef) => `${r.kind}:${r.id}`;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Whether `purpose` is `key` or one of its dotted children (fideslang's prefix match). */
export const purposeMatches = (purpose: string, key: string) =>
  purpose === key || purpose.startsWith(`${key}.`);

function toEntry(r: LedgerRow): ConsentEntry {
  return {
    seq: r.seq,
    subjectHash: r.subject_hash,
    purpose: r.purpose,
    state: r.state as ConsentState,
    notice: { id: r.notice_id, hash: r.notice_hash },
    channel: r.channel as ConsentChannel,
    jurisdiction: r.jurisdiction as Jurisdiction,
    evidence: JSON.parse(r.evidence) as Record<string, unknown>,
    expiresAt: iso(r.expires_at),
    child: r.child,
    parental: r.parental ? (JSON.parse(r.parental) as ParentalConsent) : null,
    subjectRef: r.subject_ref,
    recordedAt: iso(r.recorded_at) as string,
    recordedBy: r.recorded_by,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** The consent ledger over `store`; `subjectKey` turns an app's subject id into its keyed HMAC. */
export function createConsentLedger(o: {
  store: Store;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  subjectKey: (id: string) => string;
  config?: Partial<ConsentConfig>;
}): ConsentLedger {
  const { clock } = o;
  const config = consentConfigSchema.parse(o.config ?? {});
  const db: Db = o.store.db.withTables<ConsentTables>();
  const refusedForChildren = (purpose: string) =>
    config.childRefusedPurposes.some((k) => purposeMatches(purpose, k));
  const key = (subject: string) => o.subjectKey(parseInput(subjectId, subject));

  const judge = (
    row: { state: string; expires_at: Date | null } | undefined,
    purpose: string,
    child: boolean,
    parentalOnFile: boolean,
    now: Date,
  ): { allowed: boolean; reason: CheckReason } => {
    if (!row) return { allowed: false, reason: "no_record" };
    if (row.state !== "given") return { allowed: false, reason: "withdrawn" };
    if (row.expires_at && new Date(row.expires_at) <= now) return { allowed: false, reason: "expired" };
    if (child && refusedForChildren(purpose)) return { allowed: false, reason: "refused_for_children" };
    if (child && !parentalOnFile) return { allowed: false, reason: "child_without_parental_consent" };
    return { allowed: true, reason: "given" };
  };

  const append = async (
    trx: Db,
    hash: string,
    rec: {
      purpose: string;
      state: ConsentState;
      notice?: { id: string; hash: string };
      channel: ConsentChannel;
      jurisdiction?: Jurisdiction;
      evidence: Record<string, unknown>;
      expiresAt?: string;
      child?: boolean;
      parental?: ParentalConsent;
      subjectRef?: string;
    },
    by: EventRef,
  ): Promise<ConsentEntry> => {
    const now = clock.now();
    await trx
      .insertInto("consent_subjects")
      .values({
        subject_hash: hash,
        last_seq: 0,
        last_hash: GENESIS,
        child: false,
        parental: null,
        subject_ref: null,
        updated_at: now,
      })
      .onConflict((oc) => oc.column("subject_hash").doNothing())
      .execute();
    // The row lock serialises every writer of this subject, across servers: the chain stays linear.
    const head = await trx
      .selectFrom("consent_subjects")
      .selectAll()
      .where("subject_hash", "=", hash)
      .forUpdate()
      .executeTakeFirstOrThrow();
    const cur = await trx
      .selectFrom("consent_current")
      .selectAll()
      .where("subject_hash", "=", hash)
      .where("purpose", "=", rec.purpose)
      .executeTakeFirst();
    const child = rec.child ?? head.child;
    const parental = rec.parental ?? (head.parental ? (JSON.parse(head.parental) as ParentalConsent) : null);
    if (rec.state === "given") {
      if (child && refusedForChildren(rec.purpose))
        throw new Invalid(
          `'${rec.purpose}' is tracking, behavioural monitoring or targeted advertising, which is refused for children (DPDP s.9(3))`,
          "purpose",
        );
      if (child && !parental)
        throw new Invalid(
          "consent for a child needs verifiable parental consent: { guardianRef, method, verifiedAt, verifiedBy } (DPDP s.9(1))",
          "parental",
        );
      if (rec.expiresAt && new Date(rec.expiresAt) <= now)
        throw new Invalid("must be in the future", "expiresAt");
    }
    const notice =
      rec.notice ?? (cur ? { id: cur.notice_id, hash: cur.notice_hash } : { id: "none", hash: GENESIS });
    const jurisdiction = rec.jurisdiction ?? (cur?.jurisdiction as Jurisdiction | undefined);
    if (!jurisdiction)
      throw new Invalid(
        "no consent on record for this purpose to take it from; give gdpr or dpdp",
        "jurisdiction",
      );
    const subjectRef = rec.subjectRef ?? head.subject_ref;
    const body: Omit<ConsentEntry, "hash"> = {
      seq: head.last_seq + 1,
      subjectHash: hash,
      purpose: rec.purpose,
      state: rec.state,
      notice,
      channel: rec.channel,
      jurisdiction,
      evidence: rec.evidence,
      expiresAt: rec.state === "given" && rec.expiresAt ? new Date(rec.expiresAt).toISOString() : null,
      child,
      parental: rec.parental ?? null,
      subjectRef,
      recordedAt: now.toISOString(),
      recordedBy: who(by),
      prevHash: head.last_hash,
    };
    const entry: ConsentEntry = { ...body, hash: entryHash(body) };
    await trx
      .insertInto("consent_ledger")
      .values({
        subject_hash: hash,
        seq: entry.seq,
        purpose: entry.purpose,
        state: entry.state,
        notice_id: notice.id,
        notice_hash: notice.hash,
        channel: entry.channel,
        jurisdiction,
        evidence: JSON.stringify(entry.evidence),
        expires_at: entry.expiresAt ? new Date(entry.expiresAt) : null,
        child,
        parental: entry.parental ? JSON.stringify(entry.parental) : null,
        subject_ref: subjectRef,
        recorded_at: now,
        recorded_by: entry.recordedBy,
        prev_hash: entry.prevHash,
        hash: entry.hash,
      })
      .execute();
    const state = {
      state: entry.state,
      notice_id: notice.id,
      notice_hash: notice.hash,
      channel: entry.channel,
      jurisdiction,
      since: now,
      expires_at: entry.expiresAt ? new Date(entry.expiresAt) : null,
      seq: entry.seq,
    };
    await trx
      .insertInto("consent_current")
      .values({ subject_hash: hash, purpose: entry.purpose, ...state })
      .onConflict((oc) => oc.columns(["subject_hash", "purpose"]).doUpdateSet(state))
      .execute();
    await trx
      .updateTable("consent_subjects")
      .set({
        last_seq: entry.seq,
        last_hash: entry.hash,
        child,
        parental: parental ? JSON.stringify(parental) : null,
        subject_ref: subjectRef,
        updated_at: now,
      })
      .where("subject_hash", "=", hash)
      .execute();
    return entry;
  };

  const announce = (subject: string, entry: ConsentEntry, by: EventRef) =>
    o.emit(
      newEvent(
        {
          type: entry.state === "given" ? "privacy.consent_given" : "privacy.consent_withdrawn",
          actor: by,
          // The audit log pseudonymises the subject; data carries nothing that identifies them.
          target: { kind: "subject", id: subject },
          retention: "audit",
          data: {
            purpose: entry.purpose,
            noticeVersion: entry.notice.id,
            noticeHash: entry.notice.hash,
            channel: entry.channel,
            jurisdiction: entry.jurisdiction,
            seq: entry.seq,
            child: entry.child,
          },
        },
        clock.now(),
      ),
    );

  return {
    async record(input, by) {
      const rec = parseInput(consentRecordSchema, input);
      const hash = key(rec.subject);
      const notice = rec.notice
        ? { id: rec.notice.id, hash: "hash" in rec.notice ? rec.notice.hash : sha256(rec.notice.text) }
        : undefined;
      const entry = await db.transaction().execute((trx) =>
        append(
          trx,
          hash,
          {
            purpose: rec.purpose,
            state: rec.state,
            ...(notice ? { notice } : {}),
            channel: rec.channel,
            ...(rec.jurisdiction ? { jurisdiction: rec.jurisdiction } : {}),
            evidence: rec.evidence,
            ...(rec.expiresAt ? { expiresAt: rec.expiresAt } : {}),
            ...(rec.child !== undefined ? { child: rec.child } : {}),
            ...(rec.parental ? { parental: rec.parental } : {}),
            ...(rec.subjectRef ? { subjectRef: rec.subjectRef } : {}),
          },
          by,
        ),
      );
      announce(rec.subject, entry, by);
      return entry;
    },

    async withdrawAll(subject, by, opts = {}) {
      const w = parseInput(withdrawAllSchema, {
        subject,
        channel: opts.channel ?? "api",
        evidence: opts.evidence ?? {},
      });
      const hash = key(w.subject);
      const entries = await db.transaction().execute(async (trx) => {
        const given = await trx
          .selectFrom("consent_current")
          .select("purpose")
          .where("subject_hash", "=", hash)
          .where("state", "=", "given")
          .orderBy("purpose")
          .execute();
        const out: ConsentEntry[] = [];
        for (const { purpose } of given)
          out.push(
            await append(
              trx,
              hash,
              { purpose, state: "withdrawn", channel: w.channel, evidence: w.evidence },
              by,
            ),
          );
        return out;
      });
      for (const e of entries) announce(w.subject, e, by);
      return entries;
    },

    async check(subject, purpose) {
      const hash = key(subject);
      const p = parseInput(purposeKey, purpose);
      const row = await db
        .selectFrom("consent_subjects as s")
        .leftJoin("consent_current as c", (j) =>
          j.onRef("c.subject_hash", "=", "s.subject_hash").on("c.purpose", "=", p),
        )
        .select([
          "s.child",
          "s.parental",
          "c.state",
          "c.notice_id",
          "c.notice_hash",
          "c.since",
          "c.expires_at",
        ])
        .where("s.subject_hash", "=", hash)
        .executeTakeFirst();
      const cur = row?.state ? { state: row.state, expires_at: row.expires_at } : undefined;
      const verdict = judge(cur, p, row?.child ?? false, Boolean(row?.parental), clock.now());
      return {
        ...verdict,
        state: (row?.state ?? null) as ConsentState | null,
        noticeVersion: row?.notice_id ? { id: row.notice_id, hash: row.notice_hash as string } : null,
        since: iso(row?.since ?? null),
        expiresAt: iso(row?.expires_at ?? null),
      };
    },

    async current(subject) {
      const hash = key(subject);
      const [head, rows] = await Promise.all([
        db.selectFrom("consent_subjects").selectAll().where("subject_hash", "=", hash).executeTakeFirst(),
        db
          .selectFrom("consent_current")
          .selectAll()
          .where("subject_hash", "=", hash)
          .orderBy("purpose")
          .execute(),
      ]);
      const child = head?.child ?? false;
      const parentalOnFile = Boolean(head?.parental);
      const now = clock.now();
      return {
        subjectHash: hash,
        subjectRef: head?.subject_ref ?? null,
        child,
        parentalConsentOnFile: parentalOnFile,
        consents: rows.map((r) => ({
          purpose: r.purpose,
          ...judge(r, r.purpose, child, parentalOnFile, now),
          state: r.state as ConsentState,
          noticeVersion: { id: r.notice_id, hash: r.notice_hash },
          since: iso(r.since),
          expiresAt: iso(r.expires_at),
          channel: r.channel as ConsentChannel,
          jurisdiction: r.jurisdiction as Jurisdiction,
          seq: r.seq,
        })),
      };
    },

    async proof(subject) {
      const hash = key(subject);
      // One transaction: the head and the entries must be read at the same point in the chain.
      const { head, rows } = await db.transaction().execute(async (trx) => ({
        head: await trx
          .selectFrom("consent_subjects")
          .selectAll()
          .where("subject_hash", "=", hash)
          .executeTakeFirst(),
        rows: (await trx
          .selectFrom("consent_ledger")
          .selectAll()
          .where("subject_hash", "=", hash)
          .orderBy("seq")
          .execute()) as LedgerRow[],
      }));
      if (!head || rows.length === 0) throw new NotFound("no consent recorded for this subject");
      const proof: ConsentProof = {
        format: "rampart.consent-proof/1",
        algorithm: "sha256-jcs-chain",
        subjectHash: hash,
        subjectRef: head.subject_ref,
        generatedAt: clock.now().toISOString(),
        head: head.last_hash,
        entries: rows.map(toEntry),
      };
      return { ...proof, verification: verifyConsentProof(proof) };
    },

    async purgeExpired() {
      const cutoff = subtractDuration(clock.now(), config.retention);
      return db.transaction().execute(async (trx) => {
        const stale = await trx
          .selectFrom("consent_subjects as s")
          .select("s.subject_hash")
          .where("s.updated_at", "<", cutoff)
          .where((eb) =>
            eb.not(
              eb.exists(
                eb
                  .selectFrom("consent_current as c")
                  .select("c.subject_hash")
                  .whereRef("c.subject_hash", "=", "s.subject_hash")
                  .where("c.state", "=", "given")
                  .where((w) => w.or([w("c.expires_at", "is", null), w("c.expires_at", ">", clock.now())])),
              ),
            ),
          )
          .execute();
        const hashes = stale.map((s) => s.subject_hash);
        if (hashes.length === 0) return { subjects: 0, entries: 0 };
        // Only this transaction may delete ledger rows (the trigger checks the setting).
        await sql`select set_config('rampart.consent_expiry', 'on', true)`.execute(trx);
        const deleted = await trx
          .deleteFrom("consent_ledger")
          .where("subject_hash", "in", hashes)
          .executeTakeFirst();
        await trx.deleteFrom("consent_current").where("subject_hash", "in", hashes).execute();
        await trx.deleteFrom("consent_subjects").where("subject_hash", "in", hashes).execute();
        return { subjects: hashes.length, entries: Number(deleted.numDeletedRows) };
      });
    },

    async stats() {
      const now = clock.now();
      const rows = await db
        .selectFrom("consent_current")
        .select((eb) => [
          "purpose",
          "state",
          sql<boolean>`(expires_at is not null and expires_at <= ${now})`.as("expired"),
          eb.fn.countAll<string>().as("n"),
        ])
        .groupBy(["purpose", "state", sql`3`])
        .execute();
      const byPurpose = new Map<string, ConsentStats["purposes"][number]>();
      for (const r of rows) {
        const p = byPurpose.get(r.purpose) ?? { purpose: r.purpose, given: 0, withdrawn: 0, expired: 0 };
        const n = Number(r.n);
        if (r.state === "withdrawn") p.withdrawn += n;
        else if (r.expired) p.expired += n;
        else p.given += n;
        byPurpose.set(r.purpose, p);
      }
      const subjects = await db
        .selectFrom("consent_subjects")
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .executeTakeFirst();
      return {
        at: now.toISOString(),
        subjects: Number(subjects?.n ?? 0),
        purposes: [...byPurpose.values()].sort((a, b) => a.purpose.localeCompare(b.purpose)),
      };
    },
  };
}
