// Just-in-time access: people ask for a role on a route or an environment, approvers named by the
// policy decide, and an approved request becomes a grant that ends by itself. The store keeps the
// record; hot state carries the grants in force to every replica (grants.ts).
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Clock } from "../../platform/clock.ts";
import { Conflict, Forbidden, Invalid, NotFound } from "../../platform/errors.ts";
import {
  type EventRef,
  newEvent,
  type SecurityEvent,
  type Severity,
  systemActor,
} from "../../platform/events/index.ts";
import type { HotState } from "../../platform/hotstate/index.ts";
import type { Store } from "../../platform/store/index.ts";
import type { Identity } from "../types.ts";
import { type ActiveGrant, createGrantCache, type JitScope, publishGrant, withdrawGrants } from "./grants.ts";
import type { JitNotice, Notify } from "./notify.ts";
import { isNamed, type JitConfig, type JitRoleRule, normalEmail, ruleFor, samePerson } from "./policy.ts";
import type { JitTables } from "./schema.ts";

export const JUSTIFICATION_MAX = 1000;

const text = (max: number) => z.string().trim().min(1).max(max);

export const jitScopeSchema = z.strictObject({
  kind: z.enum(["route", "environment"]),
  id: text(256),
});

/** What a person sends to ask for access (API body and CLI flags). */
export const jitRequestInputSchema = z.strictObject({
  role: text(256),
  scope: jitScopeSchema,
  justification: text(JUSTIFICATION_MAX),
  durationMinutes: z.number().int().min(1),
});

export type JitRequestInput = z.input<typeof jitRequestInputSchema>;

export type JitRequestStatus = "pending" | "approved" | "denied" | "expired" | "cancelled" | "revoked";

export interface JitDecision {
  approver: string;
  decision: "approve" | "deny";
  comment: string | null;
  decidedAt: Date;
}

export interface JitRequest {
  id: string;
  requester: string;
  role: string;
  scope: JitScope;
  environment: string | null;
  justification: string;
  durationMinutes: number;
  requiredApprovals: number;
  requestedAt: Date;
  /** A pending request lapses here; the grant's own length is `durationMinutes` from approval. */
  expiresAt: Date;
  status: JitRequestStatus;
  decidedAt: Date | null;
  grantId: string | null;
  decisions: JitDecision[];
}

export interface AccessGrant {
  id: string;
  requestId: string | null;
  subject: string;
  role: string;
  scope: JitScope;
  starts: Date;
  ends: Date;
  breakGlass: boolean;
  reason: string | null;
  revokedAt: Date | null;
  revokedBy: string | null;
}

export interface JitAccessOptions {
  store: Store;
  hotState: HotState;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  /** The `jit:` config, or a function returning the current one (hot reload). */
  policy: JitConfig | (() => JitConfig);
  notify: Notify;
  /** A route by id, for its environment tag; undefined when there is no such route. */
  routes: (routeId: string) => { environment?: string | undefined } | undefined;
}

export interface JitAccess {
  /** Asks for `role` on a scope; checked against the policy, then pending until decided or lapsed. */
  request(requester: Identity, input: JitRequestInput): Promise<JitRequest>;
  /** Records an approval; the last one needed turns the request into a grant in force at once. */
  approve(approver: Identity, requestId: string, comment?: string): Promise<JitRequest>;
  /** A denial by any approver ends the request. */
  deny(approver: Identity, requestId: string, comment?: string): Promise<JitRequest>;
  /** The requester withdraws a pending request. */
  cancel(requester: Identity, requestId: string): Promise<JitRequest>;
  /** Ends a grant everywhere at once; revoking a revoked grant only re-withdraws it. */
  revokeGrant(grantId: string, by: EventRef, reason?: string): Promise<AccessGrant>;
  /** Revokes every grant of a subject in force (offboarding, incident response). */
  revokeSubject(subject: string, by: EventRef, reason?: string): Promise<AccessGrant[]>;
  /** Immediate, short grant without approval; always alerts. */
  breakGlass(
    identity: Identity,
    role: string,
    scope: JitScope,
    reason: string,
    durationMinutes?: number,
  ): Promise<AccessGrant>;
  getRequest(requestId: string): Promise<JitRequest>;
  /** Pending requests this person may decide now. */
  pendingFor(approver: Identity): Promise<JitRequest[]>;
  /** A subject's own requests, newest first. */
  requestsOf(subject: string, limit?: number): Promise<JitRequest[]>;
  /** Grants in force now, of one subject or all. */
  grantsInForce(subject?: string): Promise<AccessGrant[]>;
  /** For the gateway: a subject's grants in force at `now`, from the per-replica cache. */
  activeGrants(subject: string, now?: Date): Promise<ActiveGrant[]>;
  /**
   * Writes every grant in force back into hot state (after a Redis loss or a restart of the
   * memory backend); returns how many. Run at start and with the scheduler.
   */
  restoreGrants(): Promise<number>;
  /** Records lapsed requests and ended grants and emits `identity.jit_expired`; enforcement does not wait for it. */
  expireDue(now?: Date): Promise<{ requests: number; grants: number }>;
  close(): Promise<void>;
}

type Row = JitTables["jit_requests"];
type GrantRow = JitTables["jit_grants"];

function parse<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new Invalid(issue?.message ?? "invalid input", issue?.path.join(".") || undefined);
}

const actorOf = (who: Pick<Identity, "kind" | "subject">): EventRef => ({
  kind: who.kind === "service" ? "service" : "user",
  id: who.subject,
});

const scopeText = (s: JitScope) => `${s.kind} ${s.id}`;

function toGrant(g: GrantRow): AccessGrant {
  return {
    id: g.id,
    requestId: g.request_id,
    subject: g.subject,
    role: g.role,
    scope: { kind: g.scope_kind as JitScope["kind"], id: g.scope_id },
    starts: g.starts,
    ends: g.ends,
    breakGlass: g.break_glass,
    reason: g.reason,
    revokedAt: g.revoked_at,
    revokedBy: g.revoked_by,
  };
}

function toRequest(r: Row, decisions: JitTables["jit_approvals"][]): JitRequest {
  return {
    id: r.id,
    requester: r.requester,
    role: r.role,
    scope: { kind: r.scope_kind as JitScope["kind"], id: r.scope_id },
    environment: r.environment,
    justification: r.justification,
    durationMinutes: r.duration_minutes,
    requiredApprovals: r.required_approvals,
    requestedAt: r.requested_at,
    expiresAt: r.expires_at,
    status: r.status as JitRequestStatus,
    decidedAt: r.decided_at,
    grantId: r.grant_id,
    decisions: decisions
      .filter((d) => d.request_id === r.id)
      .map((d) => ({
        approver: d.approver,
        decision: d.decision as JitDecision["decision"],
        comment: d.comment,
        decidedAt: d.decided_at,
      })),
  };
}

/** Builds the JIT access service; resolves once it listens for grant changes from other replicas. */
export async function createJitAccess(opts: JitAccessOptions): Promise<JitAccess> {
  const { hotState, clock, notify } = opts;
  const db = opts.store.db.withTables<JitTables>();
  const policy = () => (typeof opts.policy === "function" ? opts.policy() : opts.policy);
  const cache = await createGrantCache({ hotState, clock });

  function emit(
    type: string,
    actor: EventRef,
    target: EventRef,
    data: Record<string, unknown>,
    extra: { severity?: Severity; outcome?: SecurityEvent["outcome"] } = {},
  ): void {
    opts.emit(newEvent({ type, actor, target, data, ...extra }, clock.now()));
  }

  function tell(notice: Omit<JitNotice, "at">): void {
    notify({ ...notice, at: clock.now() });
  }

  /** Runs `action`; a refusal (Forbidden) is itself an event, so probing leaves a trace. */
  async function audited<T>(
    type: string,
    actor: EventRef,
    target: EventRef,
    action: () => Promise<T>,
  ): Promise<T> {
    try {
      return await action();
    } catch (err) {
      if (err instanceof Forbidden)
        emit(type, actor, target, { refused: err.message }, { outcome: "denied", severity: "medium" });
      throw err;
    }
  }

  function environmentOf(scope: JitScope): string | null {
    if (scope.kind === "environment") return scope.id;
    const route = opts.routes(scope.id);
    if (!route) throw new Invalid(`no route ${scope.id}`, "scope.id");
    return route.environment ?? null;
  }

  async function decisionsFor(ids: string[]): Promise<JitTables["jit_approvals"][]> {
    if (ids.length === 0) return [];
    return db
      .selectFrom("jit_approvals")
      .selectAll()
      .where("request_id", "in", ids)
      .orderBy("decided_at")
      .execute();
  }

  async function withDecisions(rows: Row[]): Promise<JitRequest[]> {
    const decisions = await decisionsFor(rows.map((r) => r.id));
    return rows.map((r) => toRequest(r, decisions));
  }

  async function getRequest(id: string): Promise<JitRequest> {
    const row = await db.selectFrom("jit_requests").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new NotFound(`no access request ${id}`);
    return (await withDecisions([row]))[0] as JitRequest;
  }

  async function activate(grant: GrantRow): Promise<void> {
    await publishGrant(hotState, clock, grant.subject, {
      grantId: grant.id,
      role: grant.role,
      scope: { kind: grant.scope_kind as JitScope["kind"], id: grant.scope_id },
      ends: grant.ends,
    });
  }

  function grantEvents(grant: GrantRow, actor: EventRef): void {
    emit(
      "identity.jit_granted",
      actor,
      { kind: "jit_grant", id: grant.id },
      {
        subject: grant.subject,
        role: grant.role,
        scope: { kind: grant.scope_kind, id: grant.scope_id },
        starts: grant.starts.toISOString(),
        ends: grant.ends.toISOString(),
        requestId: grant.request_id,
        breakGlass: grant.break_glass,
      },
      { severity: grant.break_glass ? "high" : "medium" },
    );
  }

  async function decide(
    approver: Identity,
    requestId: string,
    decision: "approve" | "deny",
    rawComment: string | undefined,
  ): Promise<JitRequest> {
    const comment = rawComment === undefined ? null : parse(text(JUSTIFICATION_MAX), rawComment);
    const me = { subject: approver.subject, email: normalEmail(approver.email) };
    const actor = actorOf(approver);
    const target = { kind: "jit_request", id: requestId };
    const type = decision === "approve" ? "identity.jit_approved" : "identity.jit_denied";
    const outcome = await audited(type, actor, target, () =>
      db.transaction().execute(async (tx) => {
        const now = clock.now();
        // The row lock serialises racing decisions on one request: only one of them can grant.
        const row = await tx
          .selectFrom("jit_requests")
          .selectAll()
          .where("id", "=", requestId)
          .forUpdate()
          .executeTakeFirst();
        if (!row) throw new NotFound(`no access request ${requestId}`);
        if (row.status !== "pending") throw new Conflict(`the request is ${row.status}`);
        if (row.expires_at.getTime() <= now.getTime()) {
          await tx
            .updateTable("jit_requests")
            .set({ status: "expired", decided_at: now })
            .where("id", "=", row.id)
            .execute();
          return { kind: "lapsed" as const, row };
        }
        if (samePerson(me, { subject: row.requester, email: row.requester_email }))
          throw new Forbidden("nobody may decide on their own request");
        const rule = ruleFor(policy(), row.role, row.environment);
        if (!rule || !isNamed(rule.approvers, approver))
          throw new Forbidden(`not an approver for role ${row.role} here`);
        const prior = await tx
          .selectFrom("jit_approvals")
          .selectAll()
          .where("request_id", "=", row.id)
          .execute();
        if (prior.some((p) => samePerson(me, { subject: p.approver, email: p.approver_email })))
          throw new Conflict("you have already decided on this request");
        await tx
          .insertInto("jit_approvals")
          .values({
            request_id: row.id,
            approver: me.subject,
            approver_email: me.email,
            decision,
            comment,
            decided_at: now,
          })
          .execute();
        if (decision === "deny") {
          await tx
            .updateTable("jit_requests")
            .set({ status: "denied", decided_at: now })
            .where("id", "=", row.id)
            .execute();
          return { kind: "denied" as const, row };
        }
        const approvals = prior.filter((p) => p.decision === "approve").length + 1;
        if (approvals < row.required_approvals) return { kind: "recorded" as const, row, approvals };
        const grant: GrantRow = {
          id: randomUUID(),
          request_id: row.id,
          subject: row.requester,
          role: row.role,
          scope_kind: row.scope_kind,
          scope_id: row.scope_id,
          starts: now,
          ends: new Date(now.getTime() + row.duration_minutes * 60_000),
          break_glass: false,
          reason: null,
          revoked_at: null,
          revoked_by: null,
          expired_at: null,
        };
        await tx.insertInto("jit_grants").values(grant).execute();
        await tx
          .updateTable("jit_requests")
          .set({ status: "approved", decided_at: now, grant_id: grant.id })
          .where("id", "=", row.id)
          .execute();
        return { kind: "granted" as const, row, grant, approvals };
      }),
    );

    const { row } = outcome;
    const scope = { kind: row.scope_kind as JitScope["kind"], id: row.scope_id };
    const data = { requester: row.requester, role: row.role, scope };
    switch (outcome.kind) {
      case "lapsed":
        emit("identity.jit_expired", systemActor, target, {
          ...data,
          expiresAt: row.expires_at.toISOString(),
        });
        throw new Conflict("the request expired before it was approved");
      case "denied":
        emit("identity.jit_denied", actor, target, { ...data, comment }, { severity: "low" });
        tell({
          type: "denied",
          severity: "low",
          ref: row.id,
          text: `${approver.subject} denied ${row.requester}'s request for ${row.role} on ${scopeText(scope)}`,
          details: { ...data, approver: approver.subject, comment },
        });
        break;
      case "recorded":
        emit("identity.jit_approved", actor, target, {
          ...data,
          approvals: outcome.approvals,
          required: row.required_approvals,
          comment,
        });
        break;
      case "granted": {
        emit("identity.jit_approved", actor, target, {
          ...data,
          approvals: outcome.approvals,
          required: row.required_approvals,
          comment,
        });
        await activate(outcome.grant);
        grantEvents(outcome.grant, actor);
        tell({
          type: "granted",
          severity: "medium",
          ref: outcome.grant.id,
          text: `${row.requester} holds ${row.role} on ${scopeText(scope)} until ${outcome.grant.ends.toISOString()}`,
          details: { ...data, grantId: outcome.grant.id, ends: outcome.grant.ends.toISOString() },
        });
        break;
      }
    }
    return getRequest(requestId);
  }

  async function revoke(grantId: string, by: EventRef, reason: string | undefined): Promise<AccessGrant> {
    const now = clock.now();
    const { grant, fresh } = await db.transaction().execute(async (tx) => {
      const g = await tx
        .selectFrom("jit_grants")
        .selectAll()
        .where("id", "=", grantId)
        .forUpdate()
        .executeTakeFirst();
      if (!g) throw new NotFound(`no grant ${grantId}`);
      if (g.revoked_at) return { grant: g, fresh: false };
      if (g.ends.getTime() <= now.getTime()) throw new Conflict("the grant has already ended");
      const revokedBy = `${by.kind}:${by.id}`;
      await tx
        .updateTable("jit_grants")
        .set({ revoked_at: now, revoked_by: revokedBy })
        .where("id", "=", g.id)
        .execute();
      if (g.request_id)
        await tx
          .updateTable("jit_requests")
          .set({ status: "revoked" })
          .where("id", "=", g.request_id)
          .execute();
      return { grant: { ...g, revoked_at: now, revoked_by: revokedBy }, fresh: true };
    });
    // Withdrawn after the record is committed; a retry after a hot-state failure withdraws again.
    await withdrawGrants(hotState, clock, grant.subject, [grant.id]);
    if (fresh) {
      const scope = { kind: grant.scope_kind as JitScope["kind"], id: grant.scope_id };
      emit(
        "identity.jit_revoked",
        by,
        { kind: "jit_grant", id: grant.id },
        { subject: grant.subject, role: grant.role, scope, reason: reason ?? null },
        { severity: "medium" },
      );
      tell({
        type: "revoked",
        severity: "medium",
        ref: grant.id,
        text: `${grant.subject}'s ${grant.role} on ${scopeText(scope)} was revoked by ${by.id}`,
        details: { subject: grant.subject, role: grant.role, scope, reason: reason ?? null },
      });
    }
    return toGrant(grant);
  }

  async function openGrants(subject: string | undefined, now: Date): Promise<GrantRow[]> {
    let q = db
      .selectFrom("jit_grants")
      .selectAll()
      .where("revoked_at", "is", null)
      .where("ends", ">", now)
      .where("starts", "<=", now);
    if (subject !== undefined) q = q.where("subject", "=", subject);
    return q.orderBy("ends").execute();
  }

  return {
    async request(requester, raw) {
      const input = parse(jitRequestInputSchema, raw);
      const actor = actorOf(requester);
      return audited("identity.jit_requested", actor, { kind: "role", id: input.role }, async () => {
        const environment = environmentOf(input.scope);
        const rule: JitRoleRule | undefined = ruleFor(policy(), input.role, environment);
        if (!rule || !isNamed(rule.requesters, requester))
          throw new Forbidden(
            `the policy does not let you request ${input.role} on ${scopeText(input.scope)}`,
          );
        if (input.durationMinutes > rule.maxDurationMinutes)
          throw new Invalid(
            `at most ${rule.maxDurationMinutes} minutes for ${input.role}`,
            "durationMinutes",
          );
        if (rule.ticketPattern && !new RegExp(rule.ticketPattern, "u").test(input.justification))
          throw new Invalid(`must reference a ticket matching ${rule.ticketPattern}`, "justification");
        const now = clock.now();
        const open = await db
          .selectFrom("jit_requests")
          .select("id")
          .where("requester", "=", requester.subject)
          .where("role", "=", input.role)
          .where("scope_kind", "=", input.scope.kind)
          .where("scope_id", "=", input.scope.id)
          .where("status", "=", "pending")
          .where("expires_at", ">", now)
          .executeTakeFirst();
        if (open) throw new Conflict(`request ${open.id} for the same access is still pending`);
        const row: Row = {
          id: randomUUID(),
          requester: requester.subject,
          requester_email: normalEmail(requester.email),
          role: input.role,
          scope_kind: input.scope.kind,
          scope_id: input.scope.id,
          environment,
          justification: input.justification,
          duration_minutes: input.durationMinutes,
          required_approvals: rule.approvals,
          requested_at: now,
          expires_at: new Date(now.getTime() + policy().requestExpiryHours * 3_600_000),
          status: "pending",
          decided_at: null,
          grant_id: null,
        };
        await db.insertInto("jit_requests").values(row).execute();
        const data = {
          role: row.role,
          scope: input.scope,
          environment,
          justification: row.justification,
          durationMinutes: row.duration_minutes,
          requiredApprovals: row.required_approvals,
          expiresAt: row.expires_at.toISOString(),
        };
        emit("identity.jit_requested", actor, { kind: "jit_request", id: row.id }, data);
        tell({
          type: "requested",
          severity: "info",
          ref: row.id,
          text: `${row.requester} asks for ${row.role} on ${scopeText(input.scope)} for ${row.duration_minutes} min: ${row.justification}`,
          details: { requester: row.requester, ...data },
        });
        return toRequest(row, []);
      });
    },

    approve: (approver, id, comment) => decide(approver, id, "approve", comment),
    deny: (approver, id, comment) => decide(approver, id, "deny", comment),

    async cancel(requester, id) {
      const now = clock.now();
      await db.transaction().execute(async (tx) => {
        const row = await tx
          .selectFrom("jit_requests")
          .selectAll()
          .where("id", "=", id)
          .forUpdate()
          .executeTakeFirst();
        if (!row) throw new NotFound(`no access request ${id}`);
        if (row.requester !== requester.subject)
          throw new Forbidden("only the requester may cancel a request");
        if (row.status !== "pending") throw new Conflict(`the request is ${row.status}`);
        await tx
          .updateTable("jit_requests")
          .set({ status: "cancelled", decided_at: now })
          .where("id", "=", id)
          .execute();
      });
      emit("identity.jit_cancelled", actorOf(requester), { kind: "jit_request", id }, {});
      return getRequest(id);
    },

    revokeGrant: (grantId, by, reason) => revoke(grantId, by, reason),

    async revokeSubject(subject, by, reason) {
      const open = await openGrants(subject, clock.now());
      const revoked: AccessGrant[] = [];
      for (const g of open) revoked.push(await revoke(g.id, by, reason));
      return revoked;
    },

    async breakGlass(identity, role, rawScope, rawReason, durationMinutes) {
      const actor = actorOf(identity);
      return audited("identity.break_glass", actor, { kind: "role", id: role }, async () => {
        const scope = parse(jitScopeSchema, rawScope);
        const reason = parse(text(JUSTIFICATION_MAX), rawReason);
        const glass = policy().breakGlass;
        if (!glass || !glass.groups.some((g) => identity.groups.includes(g)) || !glass.roles.includes(role))
          throw new Forbidden(`break-glass access to ${role} is not allowed for you`);
        environmentOf(scope);
        const minutes = Math.min(durationMinutes ?? glass.maxDurationMinutes, glass.maxDurationMinutes);
        if (!Number.isInteger(minutes) || minutes < 1)
          throw new Invalid("must be a whole number of minutes", "durationMinutes");
        const now = clock.now();
        const grant: GrantRow = {
          id: randomUUID(),
          request_id: null,
          subject: identity.subject,
          role,
          scope_kind: scope.kind,
          scope_id: scope.id,
          starts: now,
          ends: new Date(now.getTime() + minutes * 60_000),
          break_glass: true,
          reason,
          revoked_at: null,
          revoked_by: null,
          expired_at: null,
        };
        await db.insertInto("jit_grants").values(grant).execute();
        await activate(grant);
        const data = { role, scope, reason, ends: grant.ends.toISOString() };
        emit("identity.break_glass", actor, { kind: "jit_grant", id: grant.id }, data, {
          severity: "critical",
        });
        grantEvents(grant, actor);
        tell({
          type: "break_glass",
          severity: "critical",
          ref: grant.id,
          text: `BREAK-GLASS: ${identity.subject} took ${role} on ${scopeText(scope)} until ${grant.ends.toISOString()}: ${reason}`,
          details: { subject: identity.subject, ...data },
        });
        return toGrant(grant);
      });
    },

    getRequest,

    async pendingFor(approver) {
      const now = clock.now();
      const me = { subject: approver.subject, email: normalEmail(approver.email) };
      const rows = await db
        .selectFrom("jit_requests")
        .selectAll()
        .where("status", "=", "pending")
        .where("expires_at", ">", now)
        .orderBy("requested_at")
        .execute();
      const mine = rows.filter((r) => {
        const rule = ruleFor(policy(), r.role, r.environment);
        return (
          rule !== undefined &&
          isNamed(rule.approvers, approver) &&
          !samePerson(me, { subject: r.requester, email: r.requester_email })
        );
      });
      const requests = await withDecisions(mine);
      return requests.filter((r) => !r.decisions.some((d) => d.approver === approver.subject));
    },

    async requestsOf(subject, limit = 100) {
      const rows = await db
        .selectFrom("jit_requests")
        .selectAll()
        .where("requester", "=", subject)
        .orderBy("requested_at", "desc")
        .limit(Math.min(Math.max(1, limit), 1000))
        .execute();
      return withDecisions(rows);
    },

    async grantsInForce(subject) {
      return (await openGrants(subject, clock.now())).map(toGrant);
    },

    activeGrants: (subject, now) => cache.activeGrants(subject, now),

    async restoreGrants() {
      const open = await openGrants(undefined, clock.now());
      for (const g of open) await activate(g);
      // A revocation that committed while we read would be undone by our write: look again.
      const ids = open.map((g) => g.id);
      const revoked =
        ids.length === 0
          ? []
          : await db
              .selectFrom("jit_grants")
              .select(["id", "subject"])
              .where("id", "in", ids)
              .where("revoked_at", "is not", null)
              .execute();
      for (const g of revoked) await withdrawGrants(hotState, clock, g.subject, [g.id]);
      return open.length - revoked.length;
    },

    async expireDue(now = clock.now()) {
      const requests = await db
        .updateTable("jit_requests")
        .set({ status: "expired", decided_at: now })
        .where("status", "=", "pending")
        .where("expires_at", "<=", now)
        .returning(["id", "requester", "role", "scope_kind", "scope_id", "expires_at"])
        .execute();
      for (const r of requests)
        emit(
          "identity.jit_expired",
          systemActor,
          { kind: "jit_request", id: r.id },
          {
            requester: r.requester,
            role: r.role,
            scope: { kind: r.scope_kind, id: r.scope_id },
            expiresAt: r.expires_at.toISOString(),
          },
        );
      const grants = await db
        .updateTable("jit_grants")
        .set({ expired_at: now })
        .where("revoked_at", "is", null)
        .where("expired_at", "is", null)
        .where("ends", "<=", now)
        .returning(["id", "subject", "role", "scope_kind", "scope_id", "ends", "break_glass"])
        .execute();
      for (const g of grants)
        emit(
          "identity.jit_expired",
          systemActor,
          { kind: "jit_grant", id: g.id },
          {
            subject: g.subject,
            role: g.role,
            scope: { kind: g.scope_kind, id: g.scope_id },
            ends: g.ends.toISOString(),
            breakGlass: g.break_glass,
          },
        );
      return { requests: requests.length, grants: grants.length };
    },

    close: () => cache.close(),
  };
}
