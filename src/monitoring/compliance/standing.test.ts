import { describe, expect, test } from "vitest";
import type { CheckSummary, Control, Evidence, Exception, ItemResult } from "./model.ts";
import { controlStatus, coveringException, requirementStatus, standingOf } from "./standing.ts";

const now = new Date("2026-06-10T12:00:00Z");
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);

describe("an item's standing", () => {
  const failing = (since: number) => ({
    status: "fail" as const,
    since: daysAgo(since),
    slaDays: 7,
    toleranceDays: 2,
  });

  test("moves from at risk (inside tolerance) to failing to overdue (past the SLA)", () => {
    expect(standingOf({ ...failing(1), excepted: false }, now)).toEqual({
      standing: "at_risk",
      dueAt: new Date(daysAgo(1).getTime() + 7 * 86_400_000),
    });
    expect(standingOf({ ...failing(3), excepted: false }, now).standing).toBe("failing");
    expect(standingOf({ ...failing(7.5), excepted: false }, now).standing).toBe("overdue");
  });

  test("an SLA of zero days is overdue at once, and an exception covers even an overdue item", () => {
    expect(
      standingOf({ status: "fail", slaDays: 0, toleranceDays: 0, since: daysAgo(0.01), excepted: false }, now)
        .standing,
    ).toBe("overdue");
    expect(standingOf({ ...failing(30), excepted: true }, now).standing).toBe("excepted");
    expect(standingOf({ status: "pass", slaDays: 7, toleranceDays: 2, excepted: false }, now)).toEqual({
      standing: "passing",
    });
  });

  test("only an approved, unexpired exception for the check and the item (or every item) covers it", () => {
    const base: Exception = {
      id: "e1",
      checkId: "secrets.rotation-age",
      resource: "secret:db/orders",
      justification: "vendor migration until March",
      requestedBy: "user:ana",
      approvedBy: "user:raj",
      expiresAt: daysAgo(-10),
      state: "approved",
    };
    const covers = (e: Partial<Exception>, resource = "secret:db/orders") =>
      coveringException([{ ...base, ...e }], "secrets.rotation-age", resource, now)?.id;
    expect(covers({})).toBe("e1");
    expect(covers({ resource: "*" }, "secret:other")).toBe("e1");
    expect(covers({}, "secret:other")).toBeUndefined();
    expect(covers({ state: "pending" })).toBeUndefined();
    expect(covers({ state: "revoked" })).toBeUndefined();
    expect(covers({ expiresAt: daysAgo(1) })).toBeUndefined();
    expect(covers({ checkId: "gates.trivy-critical-sla" })).toBeUndefined();
  });
});

describe("a control's status", () => {
  const control = (checks: string[]): Control => ({
    id: "ZT-APP-001",
    title: "Secrets rotate on schedule",
    description: "",
    domain: "appsec",
    checks,
    mappings: [],
  });
  const item = (standing: ItemResult["standing"]): ItemResult => ({
    checkId: "secrets.rotation-age",
    resource: `secret:${standing}`,
    standing,
    status: standing === "passing" ? "pass" : standing === "not_applicable" ? "not_applicable" : "fail",
    detail: "",
    fingerprint: "f",
    lastRunAt: now,
  });
  const summary = (items: ItemResult[], extra: Partial<CheckSummary> = {}): CheckSummary => ({
    id: "secrets.rotation-age",
    title: "",
    source: "secrets",
    remediation: "",
    lastRunAt: now,
    items,
    ...extra,
  });
  const evidence = (o: Partial<Evidence>): Evidence => ({
    id: "ev",
    kind: "attestation",
    title: "policy",
    controls: ["ZT-APP-001"],
    sha256: "00",
    collectedAt: daysAgo(10),
    validUntil: daysAgo(-100),
    state: "approved",
    addedBy: "user:ana",
    ref: "policy",
    ...o,
  });
  const c = control(["secrets.rotation-age"]);

  test("fails on any failing or overdue item, is at risk on one at risk, passes on passing and excepted", () => {
    expect(controlStatus(c, [summary([item("passing"), item("overdue")])], [], now)).toBe("failing");
    expect(controlStatus(c, [summary([item("passing"), item("failing")])], [], now)).toBe("failing");
    expect(controlStatus(c, [summary([item("passing"), item("at_risk")])], [], now)).toBe("at_risk");
    expect(controlStatus(c, [summary([item("passing"), item("excepted")])], [], now)).toBe("passing");
  });

  test("a check that errored or never ran is no proof: the control needs evidence", () => {
    expect(controlStatus(c, [summary([item("passing")], { error: "database unavailable" })], [], now)).toBe(
      "needs_evidence",
    );
    const { lastRunAt: _, ...neverRan } = summary([]);
    expect(controlStatus(c, [neverRan], [], now)).toBe("needs_evidence");
    expect(controlStatus(c, [summary([item("not_applicable")])], [], now)).toBe("not_applicable");
  });

  test("a control without checks passes only on approved evidence that has not expired", () => {
    const manual = control([]);
    expect(controlStatus(manual, [], [], now)).toBe("needs_evidence");
    expect(controlStatus(manual, [], [evidence({})], now)).toBe("passing");
    expect(controlStatus(manual, [], [evidence({ state: "in_review" })], now)).toBe("needs_evidence");
    expect(controlStatus(manual, [], [evidence({ validUntil: daysAgo(1) })], now)).toBe("needs_evidence");
  });
});

describe("a requirement's status", () => {
  test("is compliant only when a holding control covers it whole, partial when controls cover part", () => {
    expect(requirementStatus([{ id: "a", relationship: "equal", status: "passing" }])).toBe("compliant");
    expect(requirementStatus([{ id: "a", relationship: "superset", status: "at_risk" }])).toBe("compliant");
    expect(requirementStatus([{ id: "a", relationship: "subset", status: "passing" }])).toBe(
      "partially_compliant",
    );
    expect(
      requirementStatus([
        { id: "a", relationship: "equal", status: "passing" },
        { id: "b", relationship: "subset", status: "needs_evidence" },
      ]),
    ).toBe("partially_compliant");
    expect(
      requirementStatus([
        { id: "a", relationship: "equal", status: "passing" },
        { id: "b", relationship: "intersect", status: "failing" },
      ]),
    ).toBe("non_compliant");
    expect(requirementStatus([])).toBe("not_assessed");
    expect(requirementStatus([{ id: "a", relationship: "equal", status: "needs_evidence" }])).toBe(
      "not_assessed",
    );
    expect(requirementStatus([{ id: "a", relationship: "equal", status: "not_applicable" }])).toBe(
      "not_assessed",
    );
  });
});
