// Production protection and the approval policy's own checks.
import { describe, expect, test } from "vitest";
import type { ActiveGrant } from "./grants.ts";
import { isNamed, jitConfigSchema, ruleFor } from "./policy.ts";
import { grantsForRoute, standingAccessAllowed } from "./production.ts";

const human = { kind: "user" as const };
const machine = { kind: "service" as const };

describe("standing access on prod routes", () => {
  test("people have none on prod unless the route opts in; machines and other environments are unaffected", () => {
    expect(standingAccessAllowed("prod", human, {})).toBe(false);
    expect(standingAccessAllowed("prod", human, { standingAccess: false })).toBe(false);
    expect(standingAccessAllowed("prod", human, { standingAccess: true })).toBe(true);
    expect(standingAccessAllowed("prod", machine, {})).toBe(true);
    expect(standingAccessAllowed("staging", human, {})).toBe(true);
    expect(standingAccessAllowed(undefined, human, {})).toBe(true);
  });

  test("a grant counts for its own route or for the route's environment, and only before it ends", () => {
    const ends = new Date("2026-11-23T11:00:00Z");
    const grants: ActiveGrant[] = [
      { grantId: "r", role: "viewer", scope: { kind: "route", id: "billing" }, ends },
      { grantId: "e", role: "operator", scope: { kind: "environment", id: "prod" }, ends },
      { grantId: "s", role: "operator", scope: { kind: "environment", id: "staging" }, ends },
    ];
    const before = new Date(ends.getTime() - 1);
    const ids = (route: { id: string; environment?: string }, now: Date) =>
      grantsForRoute(grants, route, now).map((g) => g.grantId);
    expect(ids({ id: "billing", environment: "prod" }, before)).toEqual(["r", "e"]);
    expect(ids({ id: "grafana", environment: "prod" }, before)).toEqual(["e"]);
    expect(ids({ id: "grafana" }, before)).toEqual([]);
    expect(ids({ id: "billing", environment: "prod" }, ends)).toEqual([]);
  });
});

describe("approval policy", () => {
  const rule = {
    role: "db-admin",
    requesters: { groups: ["eng"] },
    approvers: { users: ["okta:bob", "Carol@Example.com"] },
    maxDurationMinutes: 60,
  };

  test("refuses rules that cannot work", () => {
    const issues = (r: object) =>
      jitConfigSchema.safeParse({ roles: [{ ...rule, ...r }] }).error?.issues.map((i) => i.path.join("."));
    expect(issues({ approvals: 3 })).toEqual(["roles.0.approvals"]);
    expect(issues({ approvers: {} })).toContain("roles.0.approvers");
    expect(issues({ ticketPattern: "(" })).toEqual(["roles.0.ticketPattern"]);
    expect(issues({ maxDurationMinutes: 0 })).toEqual(["roles.0.maxDurationMinutes"]);
    expect(issues({ approvals: 2 })).toBeUndefined();
    expect(
      jitConfigSchema.safeParse({ notify: { webhooks: [{ url: "https://h", secret: "short" }] } }).success,
    ).toBe(false);
  });

  test("approvers by subject or by verified email only", () => {
    const config = jitConfigSchema.parse({ roles: [rule] });
    const r = ruleFor(config, "db-admin", null);
    if (!r) throw new Error("rule expected");
    const who = (subject: string, email?: string, emailVerified = true) => ({
      kind: "user" as const,
      subject,
      groups: [],
      roles: [],
      claims: {},
      credential: "session" as const,
      email,
      emailVerified,
    });
    expect(isNamed(r.approvers, who("okta:bob"))).toBe(true);
    expect(isNamed(r.approvers, who("github:x", "carol@example.com"))).toBe(true);
    expect(isNamed(r.approvers, who("github:x", "carol@example.com", false))).toBe(false);
    expect(isNamed(r.approvers, who("okta:bobby"))).toBe(false);
    expect(ruleFor(config, "other", null)).toBeUndefined();
  });
});
