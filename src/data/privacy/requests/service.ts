// Data-subject requests from intake to answer: the requester proves who they are (an emailed code
// or a token from the app they are signed in to), a person approves where config says so, the DSR
// engine does the work, deadlines are watched and the requester is told at each step. Operators
// hear through events; personal data never goes into one (events carry the request id).
import type { Kysely, Selectable, Transaction } from "kysely";
import type { Clock } from "../../../platform/clock.ts";
import { Conflict, Invalid, NotFound } from "../../../platform/errors.ts";
import {
  type EventRef,
  newEvent,
  type SecurityEvent,
  type Severity,
} from "../../../platform/events/index.ts";
import type { Store } from "../../../platform/store/index.ts";
import type { DsrEngine, DsrReceipt, RequestKind } from "../dsr/types.ts";
import { type AppTokenVerifier, createAppTokenVerifier } from "./app-token.ts";
import { needsApproval, type PrivacyRequestsConfig } from "./config.ts";
import { addDays, addMonths, reminderDue } from "./deadlines.ts";
import type { PrivacyMailer } from "../mail.ts";
import * as messages from "./messages.ts";
import type { ApproveInput, Intake, RequestTables } from "./schema.ts";
import {
  codeMatches,
  hashCode,
  newCode,
  newRequestId,
  newToken,
  tokenHash,
  tokenMatches,
} from "./secrets.ts";
import {
  type EngineAction,
  isClosed,
  isInHand,
  isManual,
  nextStates,
  type PrivacyRequestKind,
  type RequestState,
} from "./states.ts";

type Row = RequestTables["privacy_requests"];
type Db = Kysely<RequestTables>;

const MINUTE = 60_000;
/** How long one engine run may hold a request before another server (or tick) may take it over. */
const LEASE_MS = 15 * MINUTE;
const ERROR_MAX = 500;
const INTAKE: EventRef = { kind: "system", id: "privacy-intake" };

export interface Correction {
  field: string;
  value: string | number | boolean | null;
}

export interface Nominee {
  name: string;
  ground: "deceased" | "incapacitated";
  relation?: string;
  evidenceRef: string;
}

export interface ReceiptRef {
  requestId: string;
  completedAt: string;
  keyId: string;
  signature: string;
  exportHash?: string;
  collections: number;
}

/** A request as operators see it. */
export interface PrivacyRequest {
  id: string;
  kind: PrivacyRequestKind;
  state: RequestState;
  nextStates: readonly RequestState[];
  email: string;
  /** What the engine is asked to do (a nominee's chosen action; the kind itself otherwise). */
  action: EngineAction | null;
  details: string | null;
  nominee: Nominee | null;
  principalEmail: string | null;
  relatesTo: string | null;
  corrections: Correction[] | null;
  /** How the requester proved who they are; operator: a person checked (a letter, a call) and said how. */
  verification: "email_code" | "app_token" | "operator" | null;
  app: string | null;
  approvalRequired: boolean;
  receivedAt: string;
  verifiedAt: string | null;
  approvedAt: string | null;
  approvedBy: string | null;
  dueAt: string;
  overdue: boolean;
  extended: boolean;
  extensionReason: string | null;
  completedAt: string | null;
  resolution: string | null;
  rejectionReason: string | null;
  receipt: ReceiptRef | null;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
}

export interface HistoryEntry {
  at: string;
  actor: string;
  action: string;
  note: string | null;
}

/** What the requester may know: no personal data, nothing about whether data was found. */
export interface PublicStatus {
  id: string;
  kind: PrivacyRequestKind;
  state: RequestState;
  dueAt: string;
  /** enter_code: a code was mailed; resend_code: mailing it failed; wait: in hand; download: the answer is ready; none: finished. */
  next: "enter_code" | "resend_code" | "wait" | "download" | "none";
}

export interface IntakeResult extends PublicStatus {
  /** Shown once: the requester's key to GET …/status. */
  statusToken: string;
}

export interface RequestQuery {
  state?: RequestState;
  kind?: PrivacyRequestKind;
  /** overdue: past due and open; soon: due within the first reminder; open: not finished. */
  due?: "overdue" | "soon" | "open";
  limit?: number;
}

export interface TickReport {
  reminded: number;
  overdue: number;
  started: number;
  expired: number;
}

export interface PrivacyRequests {
  /** Public intake: stores the request and starts verification; the answer never says whether we hold data on the person. */
  submit(input: Intake): Promise<IntakeResult>;
  /** A request received another way (post, phone, in person), whose identity an operator checked: `check` says how. */
  record(input: Intake, by: EventRef, check: string): Promise<PrivacyRequest>;
  verifyCode(id: string, code: string): Promise<PublicStatus>;
  resendCode(id: string, statusToken: string): Promise<PublicStatus>;
  status(id: string, statusToken: string): Promise<PublicStatus>;
  /** The requester withdraws a request not yet in the engine's hands. */
  cancel(id: string, statusToken: string): Promise<PublicStatus>;
  /** The requester's copy of an access/portability answer, with the download token mailed to them. */
  download(
    id: string,
    token: string,
    format?: "json" | "csv" | "html",
  ): Promise<{ contentType: string; body: string }>;
  list(q?: RequestQuery): Promise<PrivacyRequest[]>;
  get(id: string): Promise<PrivacyRequest & { history: HistoryEntry[] }>;
  approve(id: string, by: EventRef, input?: ApproveInput): Promise<PrivacyRequest>;
  reject(id: string, by: EventRef, reason: string): Promise<PrivacyRequest>;
  /** GDPR Art. 12(3) extension, once, with the reason told to the requester. */
  extend(id: string, by: EventRef, reason: string): Promise<PrivacyRequest>;
  /** Closes a request a person carried out (objection, withdrawal, grievance). */
  complete(
    id: string,
    by: EventRef,
    o: { resolution: string; link?: string | undefined },
  ): Promise<PrivacyRequest>;
  /** Runs a failed request again now. */
  retry(id: string, by: EventRef): Promise<PrivacyRequest>;
  /** The access export for operators. */
  exportOf(id: string, format: "json" | "csv" | "html"): Promise<{ contentType: string; body: string }>;
  /** Reminders, overdue flags, retries, resumption and expiry of unverified requests; call every minute. */
  tick(): Promise<TickReport>;
  /** Resolves when the engine runs started so far have ended (tests, shutdown). */
  idle(): Promise<void>;
}

export interface PrivacyRequestsDeps {
  store: Store;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  engine: DsrEngine;
  mailer: PrivacyMailer;
  config: () => PrivacyRequestsConfig;
  /** Defaults to one over config().appTokens. */
  appTokens?: AppTokenVerifier;
}

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());
const who = (r: EventRef) => `${r.kind}:${r.id}`;
const DAY = 86_400_000;

interface Extra {
  nominee?: Nominee;
  principalEmail?: string;
  relatesTo?: string;
  corrections?: Correction[];
  app?: string;
}

function toRequest(r: Row, now: Date): PrivacyRequest {
  const extra = JSON.parse(r.extra) as Extra;
  const state = r.state as RequestState;
  const receipt = r.receipt ? (JSON.parse(r.receipt) as ReceiptRef) : null;
  return {
    id: r.id,
    kind: r.kind as PrivacyRequestKind,
    state,
    nextStates: nextStates(state),
    email: r.email,
    action: r.action as EngineAction | null,
    details: r.details,
    nominee: extra.nominee ?? null,
    principalEmail: extra.principalEmail ?? null,
    relatesTo: extra.relatesTo ?? null,
    corrections: extra.corrections ?? null,
    verification: r.verification as PrivacyRequest["verification"],
    app: extra.app ?? null,
    approvalRequired: r.approval_required,
    receivedAt: iso(r.received_at) as string,
    verifiedAt: iso(r.verified_at),
    approvedAt: iso(r.approved_at),
    approvedBy: r.approved_by,
    dueAt: iso(r.due_at) as string,
    overdue: !isClosed(state) && new Date(r.due_at).getTime() <= now.getTime(),
    extended: r.extended,
    extensionReason: r.extension_reason,
    completedAt: iso(r.completed_at),
    resolution: r.resolution,
    rejectionReason: r.rejection_reason,
    receipt,
    attempts: r.attempts,
    nextAttemptAt: iso(r.next_attempt_at),
    lastError: r.last_error,
  };
}

/** The engine's request kind for an action: portability is an access answered in JSON. */
const engineKind = (a: EngineAction): RequestKind => (a === "portability" ? "access" : a);

function receiptRef(r: DsrReceipt): ReceiptRef {
  return {
    requestId: r.requestId,
    completedAt: r.completedAt,
    keyId: r.keyId,
    signature: r.signature,
    ...(r.exportHash ? { exportHash: r.exportHash } : {}),
    collections: r.collections.length,
  };
}

/** The data-subject-request workflow over `store`. */
export function createPrivacyRequests(deps: PrivacyRequestsDeps): PrivacyRequests {
  const { clock, engine, mailer, config } = deps;
  const db: Db = deps.store.db.withTables<RequestTables>();
  const appTokens = deps.appTokens ?? createAppTokenVerifier(() => config().appTokens, clock);
  const running = new Map<string, Promise<void>>();

  const emit = (
    type: string,
    r: Row,
    by: EventRef,
    data: Record<string, unknown> = {},
    severity: Severity = "info",
    outcome: "success" | "failure" = "success",
  ) =>
    deps.emit(
      newEvent(
        {
          type,
          severity,
          outcome,
          retention: "audit",
          actor: by,
          target: { kind: "privacy_request", id: r.id },
          // The request id, kind and dates only: never the requester's address or name.
          data: { request: r.id, kind: r.kind, state: r.state, dueAt: iso(r.due_at), ...data },
        },
        clock.now(),
      ),
    );

  const note = async (
    tx: Kysely<RequestTables>,
    id: string,
    actor: string,
    action: string,
    text?: string,
  ) => {
    await tx
      .insertInto("privacy_request_history")
      .values({ request_id: id, at: clock.now(), actor, action, note: text ?? null })
      .execute();
  };

  /** Mail that must not undo the change it reports: a failure is written to the history. */
  const tell = async (r: Row, m: messages.Mail, to = r.email) => {
    try {
      await mailer.send(to, m.subject, m.text, m.html);
      return true;
    } catch (err) {
      await note(db, r.id, "system:mailer", "mail_failed", (err as Error).message.slice(0, ERROR_MAX)).catch(
        () => {},
      );
      return false;
    }
  };
  const tellOperators = async (r: Row, what: string) => {
    const to = config().operatorEmail;
    if (to)
      await tell(
        r,
        messages.operatorMail({ id: r.id, what, due: new Date(r.due_at), org: config().organisation }),
        to,
      );
  };

  const find = async (tx: Kysely<RequestTables> | Transaction<RequestTables>, id: string, lock = false) => {
    let q = tx.selectFrom("privacy_requests").selectAll().where("id", "=", id);
    if (lock) q = q.forUpdate();
    const r = await q.executeTakeFirst();
    if (!r) throw new NotFound(`no privacy request ${id}`);
    return r;
  };

  /** The same answer for an unknown id and a wrong token: neither says the request exists. */
  const withToken = async (id: string, token: string, hash: (r: Row) => string | null) => {
    const r = await db.selectFrom("privacy_requests").selectAll().where("id", "=", id).executeTakeFirst();
    const h = r ? hash(r) : null;
    // Compare even when there is nothing to compare with, so timing says nothing either.
    const ok = tokenMatches(token, h ?? tokenHash("no request"));
    if (!r || !h || !ok) throw new NotFound("no such request, or the token does not match");
    return r;
  };

  const publicStatus = (r: Row): PublicStatus => {
    const state = r.state as RequestState;
    const ready =
      state === "completed" &&
      r.download_token_hash !== null &&
      r.download_expires_at !== null &&
      new Date(r.download_expires_at).getTime() > clock.now().getTime();
    const next: PublicStatus["next"] =
      state === "verifying"
        ? r.otp_sends > 0 && r.otp_hash !== null
          ? "enter_code"
          : "resend_code"
        : ready
          ? "download"
          : isClosed(state)
            ? "none"
            : "wait";
    return { id: r.id, kind: r.kind as PrivacyRequestKind, state, dueAt: iso(r.due_at) as string, next };
  };

  const dueFor = (kind: PrivacyRequestKind, received: Date) => {
    const d = config().deadlines;
    return kind === "grievance" ? addDays(received, d.grievanceDays) : addMonths(received, d.responseMonths);
  };

  /** Creates a code, stores its hash and mails it; a mail failure leaves the send uncounted. */
  const sendCode = async (r: Row): Promise<Row> => {
    const c = config();
    const code = newCode(c.otp.digits);
    const { hash, salt } = await hashCode(code);
    const now = clock.now();
    let row = await db
      .updateTable("privacy_requests")
      .set({
        otp_hash: hash,
        otp_salt: salt,
        otp_expires_at: new Date(now.getTime() + c.otp.ttlMinutes * MINUTE),
        otp_attempts: 0,
        otp_sends: r.otp_sends + 1,
        otp_sent_at: now,
        updated_at: now,
      })
      .where("id", "=", r.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    const sent = await tell(
      row,
      messages.codeMail({ id: r.id, code, ttlMinutes: c.otp.ttlMinutes, org: c.organisation }),
    );
    if (!sent)
      row = await db
        .updateTable("privacy_requests")
        .set({ otp_hash: null, otp_salt: null, otp_sends: r.otp_sends, otp_sent_at: r.otp_sent_at })
        .where("id", "=", r.id)
        .returningAll()
        .executeTakeFirstOrThrow();
    else await note(db, r.id, "system:privacy", "code_sent");
    return row;
  };

  /** After verification: a person's turn, the engine's, or approval first. */
  const afterVerified = async (r: Row): Promise<Row> => {
    const c = config();
    await tell(
      r,
      messages.receivedMail({
        id: r.id,
        kind: r.kind as PrivacyRequestKind,
        due: new Date(r.due_at),
        org: c.organisation,
      }),
    );
    if (isManual(r.kind as PrivacyRequestKind)) {
      const row = await db
        .updateTable("privacy_requests")
        .set({ state: "processing", updated_at: clock.now() })
        .where("id", "=", r.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await note(db, r.id, "system:privacy", "routed", "carried out by a person");
      await tellOperators(row, `${row.kind} to handle`);
      return row;
    }
    if (r.approval_required) {
      await tellOperators(r, "waiting for approval");
      return r;
    }
    kick(r.id);
    return r;
  };

  /**
   * One engine run of `id`: claims the request with a lease (so two servers never run it at once),
   * runs or resumes it (the engine is idempotent by id) and records the receipt or the failure.
   */
  const run = async (id: string): Promise<void> => {
    const now = clock.now();
    const claimed = await db
      .updateTable("privacy_requests")
      .set({ state: "processing", lease_until: new Date(now.getTime() + LEASE_MS), updated_at: now })
      .where("id", "=", id)
      .where("kind", "not in", ["objection", "withdrawal", "grievance"])
      .where((eb) =>
        eb.or([
          eb("state", "=", "approved"),
          eb.and([eb("state", "=", "verified"), eb("approval_required", "=", false)]),
          eb("state", "=", "failed"),
          eb("state", "=", "processing"),
        ]),
      )
      .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<", now)]))
      .returningAll()
      .executeTakeFirst();
    if (!claimed?.action) return;
    const extra = JSON.parse(claimed.extra) as Extra;
    const action = claimed.action as EngineAction;
    try {
      const receipt = await engine.run({
        id: claimed.id,
        kind: engineKind(action),
        identities: JSON.parse(claimed.identities) as Record<string, string>,
        ...(extra.corrections ? { corrections: extra.corrections } : {}),
      });
      const c = config();
      const done = clock.now();
      const gives = action === "access" || action === "portability";
      const download = gives ? newToken() : undefined;
      const row = await db
        .updateTable("privacy_requests")
        .set({
          state: "completed",
          completed_at: done,
          receipt: JSON.stringify(receiptRef(receipt)),
          lease_until: null,
          next_attempt_at: null,
          last_error: null,
          download_token_hash: download ? tokenHash(download) : null,
          download_expires_at: download ? addDays(done, c.downloadDays) : null,
          updated_at: done,
        })
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await note(db, id, "system:engine", "completed", `receipt signed by ${receipt.keyId}`);
      emit(
        "privacy.request_completed",
        row,
        { kind: "system", id: "dsr-engine" },
        {
          action,
          collections: receipt.collections.length,
        },
        "medium",
      );
      const link =
        download && c.publicUrl
          ? `${c.publicUrl.replace(/\/$/, "")}/privacy/requests/${id}/download?token=${download}`
          : undefined;
      await tell(
        row,
        messages.completedMail({
          id,
          kind: row.kind as PrivacyRequestKind,
          link,
          resolution:
            gives && !link
              ? "We will send you your data separately, quoting the reference below."
              : undefined,
          org: c.organisation,
        }),
      );
    } catch (err) {
      const c = config();
      const failedAt = clock.now();
      const attempts = claimed.attempts + 1;
      const retry = attempts < c.maxAttempts;
      // 1, 2, 4… minutes, at most an hour, so a store that is down is not hammered.
      const pause = Math.min(60, 2 ** (attempts - 1)) * MINUTE;
      const message = (err as Error).message.slice(0, ERROR_MAX);
      const row = await db
        .updateTable("privacy_requests")
        .set({
          state: "failed",
          attempts,
          last_error: message,
          next_attempt_at: retry ? new Date(failedAt.getTime() + pause) : null,
          lease_until: null,
          updated_at: failedAt,
        })
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await note(db, id, "system:engine", "failed", message);
      emit(
        "privacy.request_failed",
        row,
        { kind: "system", id: "dsr-engine" },
        { attempts, retrying: retry, error: (err as { code?: string }).code ?? "error" },
        retry ? "medium" : "high",
        "failure",
      );
    }
  };

  function kick(id: string): void {
    if (running.has(id)) return;
    const p = run(id)
      .catch(() => {}) // recorded in the row; a lost database is retried by tick
      .finally(() => running.delete(id));
    running.set(id, p);
  }

  /** A change by a person, under the row lock; `plan` throws Conflict when the move is not allowed. */
  const change = async (
    id: string,
    plan: (r: Row) => Partial<Row>,
    history: { actor: string; action: string; note?: string },
  ): Promise<Row> =>
    db.transaction().execute(async (tx) => {
      const before = await find(tx, id, true);
      const set = plan(before);
      const after = await tx
        .updateTable("privacy_requests")
        .set({ ...set, updated_at: clock.now() })
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await note(tx, id, history.actor, history.action, history.note);
      return after;
    });

  const notClosed = (r: Row) => {
    if (isClosed(r.state as RequestState)) throw new Conflict(`request ${r.id} is already ${r.state}`);
  };

  /** Stores a new request: verified already when an app vouched or an operator checked, else a code is mailed. */
  const create = async (
    input: Intake,
    operator?: { by: EventRef; check: string },
  ): Promise<{ row: Row; statusToken: string }> => {
    const c = config();
    const now = clock.now();
    const kind = input.kind;
    let verifiedBy: Awaited<ReturnType<AppTokenVerifier["verify"]>> | undefined;
    if (operator && "appToken" in input && input.appToken !== undefined)
      throw new Invalid("an operator records a request without an app token", "appToken");
    if ("appToken" in input && input.appToken !== undefined) {
      verifiedBy = await appTokens.verify(input.appToken);
      if (input.email && verifiedBy.email && input.email.trim().toLowerCase() !== verifiedBy.email)
        throw new Invalid("differs from the address the app vouches for", "email");
    }
    // Normalised here too: the service is called with typed input, not only through the schema.
    const email = (verifiedBy?.email ?? input.email)?.trim().toLowerCase();
    if (!email) throw new Invalid("an email address is needed to answer you", "email");
    const extra: Extra = {};
    let identities: Record<string, string> = { email };
    let action: EngineAction | null = null;
    if (kind === "nominee") {
      extra.nominee = input.nominee;
      extra.principalEmail = input.principal.email.trim().toLowerCase();
      identities = { email: extra.principalEmail };
      action = input.action;
    } else if (kind === "grievance") {
      if (input.relatesTo) extra.relatesTo = input.relatesTo;
    } else {
      if (verifiedBy) {
        identities = { ...verifiedBy.identities };
        extra.app = verifiedBy.app;
      }
      if (!isManual(kind)) action = kind as EngineAction;
    }
    const statusToken = newToken();
    const id = newRequestId();
    const verified = verifiedBy !== undefined || operator !== undefined;
    const state: RequestState = verified ? "verified" : "verifying";
    let row = await db.transaction().execute(async (tx) => {
      const r = await tx
        .insertInto("privacy_requests")
        .values({
          id,
          kind,
          state,
          email,
          identities: JSON.stringify(identities),
          action,
          details: input.details ?? null,
          extra: JSON.stringify(extra),
          verification: verifiedBy ? "app_token" : operator ? "operator" : null,
          otp_hash: null,
          otp_salt: null,
          otp_expires_at: null,
          otp_attempts: 0,
          otp_sends: 0,
          otp_sent_at: null,
          status_token_hash: tokenHash(statusToken),
          download_token_hash: null,
          download_expires_at: null,
          approval_required: isManual(kind) ? false : needsApproval(c, kind),
          received_at: now,
          verified_at: verified ? now : null,
          approved_at: null,
          approved_by: null,
          due_at: dueFor(kind, now),
          extended: false,
          extension_reason: null,
          reminders: "[]",
          overdue_flagged: false,
          completed_at: null,
          resolution: null,
          rejection_reason: null,
          receipt: null,
          attempts: 0,
          next_attempt_at: null,
          last_error: null,
          lease_until: null,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await note(tx, id, operator ? who(operator.by) : "requester", "received");
      if (verifiedBy) await note(tx, id, `app:${verifiedBy.app}`, "verified", "signed app token");
      if (operator) await note(tx, id, who(operator.by), "verified", operator.check);
      return r;
    });
    const actor = operator?.by ?? INTAKE;
    emit(kind === "grievance" ? "privacy.grievance_received" : "privacy.request_received", row, actor, {
      ...(action ? { action } : {}),
      ...(extra.relatesTo ? { relatesTo: extra.relatesTo } : {}),
    });
    if (verified) {
      emit(
        "privacy.request_verified",
        row,
        actor,
        verifiedBy ? { method: "app_token", app: verifiedBy.app } : { method: "operator" },
      );
      row = await afterVerified(row);
    } else {
      row = await sendCode(row);
    }
    return { row, statusToken };
  };

  return {
    async submit(input) {
      const { row, statusToken } = await create(input);
      return { ...publicStatus(row), statusToken };
    },

    async record(input, by, check) {
      const { row } = await create(input, { by, check });
      return toRequest(row, clock.now());
    },

    async verifyCode(id, code) {
      const c = config();
      const outcome = await db.transaction().execute(async (tx) => {
        const r = await find(tx, id, true);
        if (r.state !== "verifying")
          throw new Conflict(
            r.verified_at ? "this request is already verified" : `this request is ${r.state}`,
          );
        if (!r.otp_hash || !r.otp_salt || !r.otp_expires_at)
          throw new Conflict("no code is pending for this request; ask for a new one");
        if (r.otp_attempts >= c.otp.maxAttempts)
          throw new Conflict("too many wrong codes: this code is locked; ask for a new one");
        if (new Date(r.otp_expires_at).getTime() <= clock.now().getTime())
          throw new Conflict("the code has expired; ask for a new one");
        if (!(await codeMatches(code, r.otp_hash, r.otp_salt))) {
          const attempts = r.otp_attempts + 1;
          await tx
            .updateTable("privacy_requests")
            .set({ otp_attempts: attempts })
            .where("id", "=", id)
            .execute();
          await note(tx, id, "requester", "wrong_code");
          return { ok: false as const, left: c.otp.maxAttempts - attempts, row: r };
        }
        const row = await tx
          .updateTable("privacy_requests")
          .set({
            state: "verified",
            verified_at: clock.now(),
            verification: "email_code",
            otp_hash: null,
            otp_salt: null,
            otp_expires_at: null,
            updated_at: clock.now(),
          })
          .where("id", "=", id)
          .returningAll()
          .executeTakeFirstOrThrow();
        await note(tx, id, "requester", "verified", "email code");
        return { ok: true as const, row };
      });
      if (!outcome.ok) {
        if (outcome.left <= 0)
          emit("privacy.request_verification_locked", outcome.row, INTAKE, {}, "low", "failure");
        throw new Invalid(
          outcome.left > 0
            ? `the code is not right; ${outcome.left} attempt(s) left`
            : "the code is not right; no attempts left: ask for a new code",
          "code",
        );
      }
      emit("privacy.request_verified", outcome.row, INTAKE, { method: "email_code" });
      return publicStatus(await afterVerified(outcome.row));
    },

    async resendCode(id, statusToken) {
      const c = config();
      const r = await withToken(id, statusToken, (x) => x.status_token_hash);
      if (r.state !== "verifying") throw new Conflict(`this request is ${r.state}: no code is needed`);
      if (r.otp_sends >= c.otp.maxSends)
        throw new Conflict(`no more codes for this request (${c.otp.maxSends} sent); make a new request`);
      const wait = r.otp_sent_at
        ? Math.ceil(
            (new Date(r.otp_sent_at).getTime() + c.otp.resendAfterSeconds * 1000 - clock.now().getTime()) /
              1000,
          )
        : 0;
      if (wait > 0) throw new Conflict(`a code was sent just now; ask again in ${wait} s`);
      return publicStatus(await sendCode(r));
    },

    async status(id, statusToken) {
      return publicStatus(await withToken(id, statusToken, (x) => x.status_token_hash));
    },

    async cancel(id, statusToken) {
      await withToken(id, statusToken, (x) => x.status_token_hash);
      const row = await change(
        id,
        (r) => {
          if (!["received", "verifying", "verified"].includes(r.state))
            throw new Conflict(`this request is ${r.state} and can no longer be withdrawn`);
          return { state: "cancelled" };
        },
        { actor: "requester", action: "cancelled" },
      );
      emit("privacy.request_cancelled", row, INTAKE, { by: "requester" });
      return publicStatus(row);
    },

    async download(id, token, format) {
      const r = await withToken(id, token, (x) =>
        x.download_expires_at && new Date(x.download_expires_at).getTime() > clock.now().getTime()
          ? x.download_token_hash
          : null,
      );
      return engine.exportOf(r.id, format ?? (r.action === "portability" ? "json" : "html"));
    },

    async list(q = {}) {
      const now = clock.now();
      let query = db.selectFrom("privacy_requests").selectAll();
      if (q.state) query = query.where("state", "=", q.state);
      if (q.kind) query = query.where("kind", "=", q.kind);
      if (q.due) {
        query = query.where("state", "not in", ["completed", "rejected", "cancelled"]);
        if (q.due === "overdue") query = query.where("due_at", "<=", now);
        if (q.due === "soon") {
          const horizon = Math.max(1, ...config().deadlines.remindDays);
          query = query
            .where("due_at", ">", now)
            .where("due_at", "<=", new Date(now.getTime() + horizon * DAY));
        }
      }
      const rows = await query
        .orderBy(q.due ? "due_at" : "received_at", q.due ? "asc" : "desc")
        .orderBy("id")
        .limit(q.limit ?? 100)
        .execute();
      return rows.map((r) => toRequest(r, now));
    },

    async get(id) {
      const r = await find(db, id);
      const history = await db
        .selectFrom("privacy_request_history")
        .selectAll()
        .where("request_id", "=", id)
        .orderBy("id")
        .execute();
      return {
        ...toRequest(r, clock.now()),
        history: history.map((h: Selectable<RequestTables["privacy_request_history"]>) => ({
          at: iso(h.at) as string,
          actor: h.actor,
          action: h.action,
          note: h.note,
        })),
      };
    },

    async approve(id, by, input = {}) {
      const row = await change(
        id,
        (r) => {
          notClosed(r);
          if (isManual(r.kind as PrivacyRequestKind))
            throw new Conflict(`a ${r.kind} is carried out by a person: complete it instead of approving it`);
          if (r.state !== "verified")
            throw new Conflict(
              r.state === "verifying" || r.state === "received"
                ? "the requester has not proved who they are yet: an unverified request cannot be approved"
                : `request ${r.id} is ${r.state}, not waiting for approval`,
            );
          const extra = JSON.parse(r.extra) as Extra;
          const action = r.action as EngineAction;
          if (input.corrections && action !== "rectification")
            throw new Invalid("only a rectification takes corrections", "corrections");
          if (action === "rectification" && !input.corrections && !extra.corrections)
            throw new Invalid("say what to correct: a rectification needs corrections", "corrections");
          return {
            state: "approved",
            approved_at: clock.now(),
            approved_by: who(by),
            ...(input.corrections
              ? { extra: JSON.stringify({ ...extra, corrections: input.corrections }) }
              : {}),
          };
        },
        { actor: who(by), action: "approved", ...(input.note ? { note: input.note } : {}) },
      );
      emit("privacy.request_approved", row, by, { action: row.action }, "medium");
      kick(id);
      return toRequest(row, clock.now());
    },

    async reject(id, by, reason) {
      const row = await change(
        id,
        (r) => {
          notClosed(r);
          if (
            r.state === "processing" &&
            r.lease_until &&
            new Date(r.lease_until).getTime() > clock.now().getTime()
          )
            throw new Conflict("the engine is carrying out this request now; it cannot be rejected midway");
          return {
            state: "rejected",
            rejection_reason: reason,
            completed_at: clock.now(),
            lease_until: null,
          };
        },
        { actor: who(by), action: "rejected", note: reason },
      );
      emit("privacy.request_rejected", row, by, {}, "medium");
      await tell(row, messages.rejectedMail({ id, reason, org: config().organisation }));
      return toRequest(row, clock.now());
    },

    async extend(id, by, reason) {
      const months = config().deadlines.extensionMonths;
      const row = await change(
        id,
        (r) => {
          notClosed(r);
          if (r.kind === "grievance") throw new Conflict("a grievance's period cannot be extended");
          if (r.extended) throw new Conflict(`request ${r.id} was already extended (once is the limit)`);
          if (months === 0) throw new Conflict("extensions are turned off (deadlines.extensionMonths: 0)");
          return {
            due_at: addMonths(new Date(r.due_at), months),
            extended: true,
            extension_reason: reason,
            reminders: "[]",
            overdue_flagged: false,
          };
        },
        { actor: who(by), action: "extended", note: reason },
      );
      emit("privacy.request_extended", row, by, { months }, "medium");
      await tell(
        row,
        messages.extendedMail({ id, due: new Date(row.due_at), reason, org: config().organisation }),
      );
      return toRequest(row, clock.now());
    },

    async complete(id, by, o) {
      const row = await change(
        id,
        (r) => {
          notClosed(r);
          if (!isManual(r.kind as PrivacyRequestKind))
            throw new Conflict(`the engine carries out a ${r.kind}: approve it, or reject it`);
          if (r.state !== "processing") throw new Conflict(`request ${r.id} is ${r.state}, not in hand`);
          return { state: "completed", completed_at: clock.now(), resolution: o.resolution };
        },
        { actor: who(by), action: "completed", note: o.resolution },
      );
      emit("privacy.request_completed", row, by, { manual: true }, "medium");
      await tell(
        row,
        messages.completedMail({
          id,
          kind: row.kind as PrivacyRequestKind,
          link: o.link,
          resolution: o.resolution,
          org: config().organisation,
        }),
      );
      return toRequest(row, clock.now());
    },

    async retry(id, by) {
      const row = await change(
        id,
        (r) => {
          if (r.state !== "failed") throw new Conflict(`request ${r.id} is ${r.state}, not failed`);
          return { next_attempt_at: clock.now() };
        },
        { actor: who(by), action: "retry" },
      );
      kick(id);
      return toRequest(row, clock.now());
    },

    async exportOf(id, format) {
      const r = await find(db, id);
      if (r.state !== "completed" || (r.action !== "access" && r.action !== "portability"))
        throw new Conflict(
          `request ${id} has no export: only a completed access or portability request has one`,
        );
      return engine.exportOf(id, format);
    },

    async tick() {
      const c = config();
      const now = clock.now();
      const report: TickReport = { reminded: 0, overdue: 0, started: 0, expired: 0 };

      // A request nobody verifies is spam or abandoned: cancel it rather than let it age.
      const stale = await db
        .updateTable("privacy_requests")
        .set({ state: "cancelled", updated_at: now, otp_hash: null, otp_salt: null })
        .where("state", "in", ["received", "verifying"])
        .where("received_at", "<", addDays(now, -c.deadlines.unverifiedDays))
        .returningAll()
        .execute();
      for (const r of stale) {
        await note(db, r.id, "system:privacy", "expired", "never verified");
        emit("privacy.request_cancelled", r, INTAKE, { by: "expiry" });
      }
      report.expired = stale.length;

      // Runs to start: approved or auto-run ones not started (a crash between verify and run),
      // failed ones whose pause is over, and processing ones whose lease ran out.
      const due = await db
        .selectFrom("privacy_requests")
        .select("id")
        .where("kind", "not in", ["objection", "withdrawal", "grievance"])
        .where((eb) =>
          eb.or([
            eb("state", "=", "approved"),
            eb.and([eb("state", "=", "verified"), eb("approval_required", "=", false)]),
            eb.and([eb("state", "=", "failed"), eb("next_attempt_at", "<=", now)]),
            eb.and([eb("state", "=", "processing"), eb("lease_until", "<", now)]),
          ]),
        )
        .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<", now)]))
        .limit(100)
        .execute();
      for (const { id } of due)
        if (!running.has(id)) {
          kick(id);
          report.started++;
        }

      // Deadlines of requests in hand (an unverified request has no one to answer yet).
      const open = await db
        .selectFrom("privacy_requests")
        .selectAll()
        .where("state", "in", ["verified", "approved", "processing", "failed"])
        .where("due_at", "<=", addDays(now, Math.max(0, ...c.deadlines.remindDays)))
        .execute();
      for (const r of open) {
        if (!isInHand(r.state as RequestState)) continue;
        const dueAt = new Date(r.due_at);
        if (dueAt.getTime() <= now.getTime()) {
          if (r.overdue_flagged) continue;
          // Conditional on the flag: with two servers ticking, one of them sends it.
          const won = await db
            .updateTable("privacy_requests")
            .set({ overdue_flagged: true })
            .where("id", "=", r.id)
            .where("overdue_flagged", "=", false)
            .executeTakeFirst();
          if (Number(won.numUpdatedRows) === 0) continue;
          emit("privacy.request_overdue", r, { kind: "system", id: "rampart" }, {}, "high", "failure");
          await tellOperators(r, "overdue");
          report.overdue++;
          continue;
        }
        const sent = JSON.parse(r.reminders) as string[];
        const reminder = reminderDue(now, dueAt, c.deadlines.remindDays, sent);
        if (!reminder) continue;
        const marks = JSON.stringify([...new Set([...sent, ...reminder.markSent])]);
        const won = await db
          .updateTable("privacy_requests")
          .set({ reminders: marks })
          .where("id", "=", r.id)
          .where("reminders", "=", r.reminders)
          .executeTakeFirst();
        if (Number(won.numUpdatedRows) === 0) continue;
        emit(
          "privacy.request_due_soon",
          r,
          { kind: "system", id: "rampart" },
          { daysLeft: reminder.days },
          "medium",
        );
        await tellOperators(r, `due in ${reminder.days} day(s)`);
        report.reminded++;
      }
      return report;
    },

    async idle() {
      while (running.size > 0) await Promise.all([...running.values()]);
    },
  };
}
