// The JIT workflow on both storage backends, with a manual clock: request → n-of-m approval →
// grant in force → gone at the instant it ends; and the hostile paths (self-approval, double
// approval, racing approvals, lapsed requests, denial, revocation, break-glass).
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { backends, openTestStore, type TestStore } from "../../../test/support/stores.ts";
import { manualClock } from "../../platform/clock.ts";
import { Conflict, Forbidden, Invalid } from "../../platform/errors.ts";
import type { SecurityEvent } from "../../platform/events/index.ts";
import { createMemoryHotState, type MemoryHotState } from "../../platform/hotstate/index.ts";
import type { Identity } from "../types.ts";
import { createJitAccess, type JitAccess, type JitNotice, jitConfigSchema, jitMigrations } from "./index.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;

function person(subject: string, groups: string[], email?: string): Identity {
  return {
    kind: "user",
    subject,
    groups,
    roles: [],
    claims: {},
    credential: "session",
    ...(email ? { email, emailVerified: true } : {}),
  };
}

const alice = person("okta:alice", ["engineering"], "alice@example.com");
const bob = person("okta:bob", ["security"], "bob@example.com");
const carol = person("okta:carol", ["security"], "carol@example.com");
const dave = person("okta:dave", ["security", "engineering"], "dave@example.com");
const mallory = person("okta:mallory", ["contractors"], "mallory@example.com");

const policy = jitConfigSchema.parse({
  requestExpiryHours: 24,
  roles: [
    {
      role: "db-admin",
      requesters: { groups: ["engineering"] },
      approvers: { groups: ["security"] },
      approvals: 1,
      maxDurationMinutes: 480,
    },
    {
      role: "db-admin",
      environments: ["prod"],
      requesters: { groups: ["engineering"] },
      approvers: { groups: ["security"] },
      approvals: 2,
      maxDurationMinutes: 120,
      ticketPattern: "\\b(INC|CHG)-[0-9]+\\b",
    },
  ],
  breakGlass: { groups: ["oncall"], roles: ["db-admin"], maxDurationMinutes: 30 },
});

const routes = new Map([
  ["grafana", { environment: "staging" }],
  ["billing-db", { environment: "prod" }],
]);

const prodRequest = {
  role: "db-admin",
  scope: { kind: "environment" as const, id: "prod" },
  justification: "INC-4711 replica lag, need to inspect pg_stat_replication",
  durationMinutes: 60,
};

describe.each(backends)("JIT access on %s", (backend) => {
  let ts: TestStore;
  let hotState: MemoryHotState;
  let jit: JitAccess;
  let clock: ReturnType<typeof manualClock>;
  let events: SecurityEvent[];
  let notices: JitNotice[];

  beforeEach(async () => {
    ts = await openTestStore(backend, jitMigrations);
    clock = manualClock("2026-11-23T10:00:00Z");
    hotState = createMemoryHotState({ clock });
    events = [];
    notices = [];
    jit = await createJitAccess({
      store: ts.store,
      hotState,
      clock,
      emit: (e) => events.push(e),
      policy,
      notify: (n) => notices.push(n),
      routes: (id) => routes.get(id),
    });
  });

  afterEach(async () => {
    await jit.close();
    await hotState.close();
    await ts.cleanup();
  });

  const typesOf = (outcome = "success") => events.filter((e) => e.outcome === outcome).map((e) => e.type);

  test("two of m approvers grant the role, which is in force until the instant it ends", async () => {
    const req = await jit.request(alice, prodRequest);
    expect(req).toMatchObject({ status: "pending", requiredApprovals: 2, environment: "prod" });
    expect(req.expiresAt).toEqual(new Date("2026-11-24T10:00:00Z"));
    expect(notices.map((n) => n.type)).toEqual(["requested"]);

    clock.advance(5 * MIN);
    const once = await jit.approve(bob, req.id, "looks fine");
    expect(once.status).toBe("pending");
    expect(await jit.activeGrants(alice.subject)).toEqual([]);

    clock.advance(5 * MIN);
    const done = await jit.approve(carol, req.id);
    expect(done.status).toBe("approved");
    expect(done.decisions.map((d) => [d.approver, d.decision])).toEqual([
      [bob.subject, "approve"],
      [carol.subject, "approve"],
    ]);
    const ends = new Date("2026-11-23T11:10:00Z"); // approval + 60 minutes, not request + 60
    const active = await jit.activeGrants(alice.subject);
    expect(active).toEqual([
      { grantId: done.grantId, role: "db-admin", scope: { kind: "environment", id: "prod" }, ends },
    ]);
    expect(typesOf()).toEqual([
      "identity.jit_requested",
      "identity.jit_approved",
      "identity.jit_approved",
      "identity.jit_granted",
    ]);
    expect(notices.map((n) => n.type)).toEqual(["requested", "granted"]);

    clock.set(new Date(ends.getTime() - 1));
    expect(await jit.activeGrants(alice.subject)).toHaveLength(1);
    clock.set(ends);
    expect(await jit.activeGrants(alice.subject)).toEqual([]);
    expect(await jit.grantsInForce(alice.subject)).toEqual([]);

    // The scheduler only writes the record; enforcement already stopped.
    expect(await jit.expireDue()).toEqual({ requests: 0, grants: 1 });
    expect(events.at(-1)).toMatchObject({ type: "identity.jit_expired", target: { id: done.grantId } });
    expect(await jit.expireDue()).toEqual({ requests: 0, grants: 0 });
  });

  test("nobody approves their own request, not even through a second identity with the same email", async () => {
    const req = await jit.request(dave, prodRequest);
    await expect(jit.approve(dave, req.id)).rejects.toBeInstanceOf(Forbidden);
    const daveElsewhere = person("github:dave-gh", ["security"], "DAVE@example.com");
    await expect(jit.approve(daveElsewhere, req.id)).rejects.toBeInstanceOf(Forbidden);
    await expect(jit.deny(dave, req.id)).rejects.toBeInstanceOf(Forbidden);
    expect((await jit.getRequest(req.id)).decisions).toEqual([]);
    expect(typesOf("denied")).toEqual([
      "identity.jit_approved",
      "identity.jit_approved",
      "identity.jit_denied",
    ]);
    expect(await jit.pendingFor(dave)).toEqual([]);
    expect((await jit.pendingFor(bob)).map((r) => r.id)).toEqual([req.id]);
  });

  test("one approver cannot count twice, under either of their identities", async () => {
    const req = await jit.request(alice, prodRequest);
    await jit.approve(bob, req.id);
    await expect(jit.approve(bob, req.id)).rejects.toBeInstanceOf(Conflict);
    const bobElsewhere = person("github:bobby", ["security"], "bob@example.com");
    await expect(jit.approve(bobElsewhere, req.id)).rejects.toBeInstanceOf(Conflict);
    expect((await jit.getRequest(req.id)).status).toBe("pending");
    expect(await jit.activeGrants(alice.subject)).toEqual([]);
    expect(await jit.pendingFor(bob)).toEqual([]);
  });

  test("people the policy does not name can neither approve nor request", async () => {
    const req = await jit.request(alice, prodRequest);
    await expect(jit.approve(mallory, req.id)).rejects.toBeInstanceOf(Forbidden);
    await expect(jit.request(mallory, prodRequest)).rejects.toBeInstanceOf(Forbidden);
    await expect(jit.request(alice, { ...prodRequest, role: "root" })).rejects.toBeInstanceOf(Forbidden);
    expect(typesOf("denied")).toEqual([
      "identity.jit_approved",
      "identity.jit_requested",
      "identity.jit_requested",
    ]);
  });

  test("the prod rule wins over the general one: shorter maximum, ticket reference required", async () => {
    await expect(jit.request(alice, { ...prodRequest, durationMinutes: 121 })).rejects.toThrow(
      new Invalid("at most 120 minutes for db-admin", "durationMinutes"),
    );
    await expect(jit.request(alice, { ...prodRequest, justification: "just checking" })).rejects.toThrow(
      /justification: must reference a ticket/,
    );
    // A route tagged prod falls under the prod rule too.
    const viaRoute = {
      ...prodRequest,
      scope: { kind: "route" as const, id: "billing-db" },
      justification: "x",
    };
    await expect(jit.request(alice, viaRoute)).rejects.toThrow(/ticket/);
    const staging = await jit.request(alice, {
      ...prodRequest,
      scope: { kind: "route", id: "grafana" },
      justification: "dashboards",
      durationMinutes: 480,
    });
    expect(staging.requiredApprovals).toBe(1);
    await expect(jit.request(alice, { ...viaRoute, scope: { kind: "route", id: "nope" } })).rejects.toThrow(
      /scope.id: no route nope/,
    );
    await expect(jit.request(alice, { ...prodRequest, justification: " " })).rejects.toBeInstanceOf(Invalid);
    await expect(jit.request(alice, { ...prodRequest, justification: "INC-1 ".repeat(200) })).rejects.toThrow(
      /justification/,
    );
    await jit.request(alice, prodRequest);
    await expect(jit.request(alice, prodRequest)).rejects.toBeInstanceOf(Conflict);
  });

  test("a denial by any approver ends the request", async () => {
    const req = await jit.request(alice, prodRequest);
    await jit.approve(bob, req.id);
    const denied = await jit.deny(carol, req.id, "use the read replica");
    expect(denied.status).toBe("denied");
    await expect(jit.approve(dave, req.id)).rejects.toThrow(new Conflict("the request is denied"));
    expect(await jit.activeGrants(alice.subject)).toEqual([]);
    expect(notices.map((n) => n.type)).toEqual(["requested", "denied"]);
  });

  test("the request's expiry is separate from the grant's duration", async () => {
    const late = await jit.request(alice, prodRequest);
    clock.advance(24 * HOUR - 1);
    await jit.approve(bob, late.id);
    const granted = await jit.approve(carol, late.id);
    expect(granted.status).toBe("approved");
    // Approved one millisecond before the request lapsed: the grant still runs its full hour.
    clock.advance(59 * MIN);
    expect(await jit.activeGrants(alice.subject)).toHaveLength(1);

    const lapsed = await jit.request(alice, { ...prodRequest, role: "db-admin", durationMinutes: 30 });
    clock.advance(24 * HOUR);
    await expect(jit.approve(bob, lapsed.id)).rejects.toThrow(/expired before it was approved/);
    expect((await jit.getRequest(lapsed.id)).status).toBe("expired");
    expect(events.at(-1)).toMatchObject({ type: "identity.jit_expired", target: { id: lapsed.id } });
    await expect(jit.approve(carol, lapsed.id)).rejects.toThrow(new Conflict("the request is expired"));
  });

  test("the scheduler records requests that lapsed unanswered", async () => {
    const req = await jit.request(alice, prodRequest);
    expect(await jit.expireDue(new Date(req.expiresAt.getTime() - 1))).toEqual({ requests: 0, grants: 0 });
    expect(await jit.expireDue(req.expiresAt)).toEqual({ requests: 1, grants: 0 });
    expect((await jit.getRequest(req.id)).status).toBe("expired");
  });

  test("racing approvals make exactly one grant", async () => {
    const staging = { ...prodRequest, scope: { kind: "route" as const, id: "grafana" } };
    const one = await jit.request(alice, staging); // 1 approval needed
    const results = await Promise.allSettled([jit.approve(bob, one.id), jit.approve(carol, one.id)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.find((r) => r.status === "rejected")?.reason).toBeInstanceOf(Conflict);

    const two = await jit.request(alice, prodRequest); // 2 approvals needed, three racing
    const race = await Promise.allSettled([
      jit.approve(bob, two.id),
      jit.approve(carol, two.id),
      jit.approve(dave, two.id),
    ]);
    expect(race.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    const grants = await jit.grantsInForce(alice.subject);
    expect(grants.map((g) => g.requestId).sort()).toEqual([one.id, two.id].sort());
    expect(await jit.activeGrants(alice.subject)).toHaveLength(2);
    expect(typesOf().filter((t) => t === "identity.jit_granted")).toHaveLength(2);
  });

  test("revocation ends a grant at once and marks its request", async () => {
    const req = await jit.request(alice, { ...prodRequest, scope: { kind: "route", id: "grafana" } });
    const { grantId } = await jit.approve(bob, req.id);
    expect(await jit.activeGrants(alice.subject)).toHaveLength(1);
    const revoked = await jit.revokeGrant(
      grantId as string,
      { kind: "user", id: carol.subject },
      "incident 12",
    );
    expect(revoked.revokedBy).toBe("user:okta:carol");
    expect(await jit.activeGrants(alice.subject)).toEqual([]);
    expect((await jit.getRequest(req.id)).status).toBe("revoked");
    // Idempotent: a retry does not raise a second event.
    await jit.revokeGrant(grantId as string, { kind: "user", id: carol.subject });
    expect(typesOf().filter((t) => t === "identity.jit_revoked")).toHaveLength(1);
    expect(await jit.expireDue(new Date(Date.parse("2026-11-24T00:00:00Z")))).toMatchObject({ grants: 0 });
  });

  test("grants in force come back after hot state lost them; revoked ones do not", async () => {
    const staging = { ...prodRequest, scope: { kind: "route" as const, id: "grafana" } };
    const kept = await jit.approve(bob, (await jit.request(alice, staging)).id);
    const gone = await jit.approve(bob, (await jit.request(dave, staging)).id);
    await jit.revokeGrant(gone.grantId as string, { kind: "system", id: "t" });
    await hotState.del(`jit:grants:${alice.subject}`); // as after a Redis restart
    clock.advance(1000);
    expect(await jit.activeGrants(alice.subject)).toEqual([]);
    expect(await jit.restoreGrants()).toBe(1);
    expect((await jit.activeGrants(alice.subject)).map((g) => g.grantId)).toEqual([kept.grantId]);
    expect(await jit.activeGrants(dave.subject)).toEqual([]);
  });

  test("revoking a subject ends all of their grants", async () => {
    const a = await jit.request(alice, { ...prodRequest, scope: { kind: "route", id: "grafana" } });
    await jit.approve(bob, a.id);
    await jit.breakGlass(
      { ...alice, groups: ["oncall"] },
      "db-admin",
      { kind: "environment", id: "prod" },
      "outage",
    );
    expect(await jit.activeGrants(alice.subject)).toHaveLength(2);
    const revoked = await jit.revokeSubject(alice.subject, { kind: "system", id: "playbook" });
    expect(revoked).toHaveLength(2);
    expect(await jit.activeGrants(alice.subject)).toEqual([]);
  });

  test("only the requester cancels, and only while pending", async () => {
    const req = await jit.request(alice, prodRequest);
    await expect(jit.cancel(bob, req.id)).rejects.toBeInstanceOf(Forbidden);
    expect((await jit.cancel(alice, req.id)).status).toBe("cancelled");
    await expect(jit.approve(bob, req.id)).rejects.toBeInstanceOf(Conflict);
    expect((await jit.requestsOf(alice.subject)).map((r) => r.status)).toEqual(["cancelled"]);
  });

  test("break-glass grants at once for a bounded time, always alerts, and is refused to others", async () => {
    const oncall = person("okta:olga", ["oncall"], "olga@example.com");
    const grant = await jit.breakGlass(
      oncall,
      "db-admin",
      { kind: "environment", id: "prod" },
      "primary down",
      600,
    );
    expect(grant).toMatchObject({ breakGlass: true, reason: "primary down", requestId: null });
    expect(grant.ends.getTime() - grant.starts.getTime()).toBe(30 * MIN); // capped by the config
    expect(await jit.activeGrants(oncall.subject)).toHaveLength(1);
    const alarm = events.find((e) => e.type === "identity.break_glass");
    expect(alarm).toMatchObject({ severity: "critical", outcome: "success", actor: { id: oncall.subject } });
    expect(notices).toMatchObject([{ type: "break_glass", severity: "critical", ref: grant.id }]);

    await expect(
      jit.breakGlass(alice, "db-admin", { kind: "environment", id: "prod" }, "curious"),
    ).rejects.toBeInstanceOf(Forbidden);
    await expect(
      jit.breakGlass(oncall, "root", { kind: "environment", id: "prod" }, "x"),
    ).rejects.toBeInstanceOf(Forbidden);
    expect(typesOf("denied")).toEqual(["identity.break_glass", "identity.break_glass"]);
    expect(await jit.activeGrants(alice.subject)).toEqual([]);
    clock.advance(30 * MIN);
    expect(await jit.activeGrants(oncall.subject)).toEqual([]);
  });
});
