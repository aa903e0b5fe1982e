// The engine as a user of rampart.yaml sees it: rules fire on real events at the threshold, not
// before; windows slide over event time; suppression, dedup, reload and memory bounds hold.
import { describe, expect, test } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import { type NewEvent, newEvent, type SecurityEvent } from "../../platform/events/index.ts";
import { createDetector, type DetectorOptions } from "./engine.ts";
import { parseRule, type Rule, type RuleInput } from "./schema.ts";
import type { Detection } from "./types.ts";

// A Monday, 10:00 UTC: inside working hours.
const START = "2026-03-02T10:00:00Z";

function setup(inputs: RuleInput[], extra: Partial<DetectorOptions> = {}) {
  const clock = manualClock(START);
  let rules: Rule[] = inputs.map((r) => parseRule(r));
  let env = "prod";
  const fired: Detection[] = [];
  const detector = createDetector({
    rules: () => rules,
    clock,
    environment: () => env,
    onDetection: (d) => fired.push(d),
    ...extra,
  });
  /** An event at the clock's time, then the clock moves on by `stepMs`. */
  const at = (e: NewEvent, stepMs = 0): SecurityEvent => {
    const ev = newEvent(e, clock.now());
    clock.advance(stepMs);
    return ev;
  };
  return {
    clock,
    detector,
    fired,
    at,
    setRules: (next: RuleInput[]) => (rules = next.map((r) => parseRule(r))),
    setEnv: (e: string) => (env = e),
  };
}

const loginFailed = (ip: string): NewEvent => ({
  type: "identity.login_failed",
  actor: { kind: "ip", id: ip },
  outcome: "failure",
  severity: "low",
  data: { reason: "invalid_grant" },
});

const failedLogins: RuleInput = {
  id: "failed-logins",
  title: "Failed logins",
  priority: "P2",
  match: { type: "identity.login_failed" },
  groupBy: { account: "actor.id" },
  condition: { kind: "count", threshold: 10, window: "5m" },
  suppress: "30m",
  summary: "{{count}} failed logins for {{group.account}} in 5 minutes ({{event.data.nothing}})",
};

describe("count windows", () => {
  test("threshold - 1 events do not fire; the threshold-th does, with evidence and a stable fingerprint", () => {
    const { detector, fired, at } = setup([failedLogins]);
    const first = Array.from({ length: 9 }, () => at(loginFailed("203.0.113.7"), 1000));
    expect(detector.process(first)).toEqual([]);
    const tenth = at(loginFailed("203.0.113.7"));
    const [d] = detector.process([tenth]);
    expect(fired).toHaveLength(1);
    expect(d).toMatchObject({
      rule: "failed-logins",
      title: "Failed logins",
      priority: "P2",
      group: { account: "203.0.113.7" },
      count: 10,
      firstAt: first[0]!.time,
      lastAt: tenth.time,
      summary: "10 failed logins for 203.0.113.7 in 5 minutes (?)",
      entities: [{ kind: "ip", id: "203.0.113.7" }],
    });
    expect(d!.events).toEqual([...first, tenth].map((e) => e.id));
    expect(d!.fingerprint).toMatch(/^failed-logins:[0-9a-f]{16}$/);
  });

  test("other groups do not add up", () => {
    const { detector, at } = setup([failedLogins]);
    const events = Array.from({ length: 20 }, (_, i) => at(loginFailed(`198.51.100.${i % 4}`)));
    expect(detector.process(events)).toEqual([]);
  });

  test("events older than the window fall out of it", () => {
    const { detector, at, clock } = setup([failedLogins]);
    // 9 now, then 6 minutes later 9 more: never 10 within 5 minutes.
    expect(detector.process(Array.from({ length: 9 }, () => at(loginFailed("203.0.113.7"), 1000)))).toEqual(
      [],
    );
    clock.advance(6 * 60_000);
    expect(detector.process(Array.from({ length: 9 }, () => at(loginFailed("203.0.113.7"), 1000)))).toEqual(
      [],
    );
    // One more within 5 minutes of the second nine: fires.
    expect(detector.process([at(loginFailed("203.0.113.7"))])).toHaveLength(1);
  });

  test("events are weighted by data.count (gateway events count many refusals)", () => {
    const { detector, at } = setup([
      {
        id: "waf-surge",
        title: "WAF surge",
        priority: "P2",
        match: { type: "gateway.waf_blocked" },
        groupBy: { route: "target.id" },
        condition: { kind: "count", threshold: 100, window: "1m" },
      },
    ]);
    const block = (count: number): NewEvent => ({
      type: "gateway.waf_blocked",
      actor: { kind: "ip", id: "203.0.113.9" },
      target: { kind: "route", id: "api" },
      outcome: "denied",
      data: { count },
    });
    expect(detector.process([at(block(60), 10_000), at(block(39), 10_000)])).toEqual([]);
    const [d] = detector.process([at(block(5))]);
    expect(d).toMatchObject({ count: 104, group: { route: "api" }, summary: "WAF surge: route=api" });
    expect(d!.entities).toEqual([
      { kind: "ip", id: "203.0.113.9" },
      { kind: "route", id: "api" },
    ]);
  });

  test("after firing, the group stays quiet for `suppress`; then it fires again on a fresh threshold", () => {
    const { detector, at, clock } = setup([failedLogins]);
    const burst = () => Array.from({ length: 10 }, () => at(loginFailed("203.0.113.7"), 100));
    const [first] = detector.process(burst());
    expect(first).toBeDefined();
    // Within the 30 minutes of suppression: 20 more failures, nothing.
    clock.advance(60_000);
    expect(detector.process(burst())).toEqual([]);
    clock.advance(60_000);
    expect(detector.process(burst())).toEqual([]);
    // After suppression: the window crosses the threshold again and fires, same fingerprint.
    clock.advance(30 * 60_000);
    const [again] = detector.process(burst());
    expect(again).toBeDefined();
    expect(again!.fingerprint).toBe(first!.fingerprint);
    expect(again!.id).not.toBe(first!.id);
  });

  test("a window full during suppression fires at its first event after suppression ends", () => {
    const { detector, at, clock } = setup([{ ...failedLogins, suppress: "1m" }]);
    expect(detector.process(Array.from({ length: 10 }, () => at(loginFailed("a"), 100)))).toHaveLength(1);
    expect(detector.process(Array.from({ length: 10 }, () => at(loginFailed("a"), 1000)))).toEqual([]);
    clock.advance(60_000);
    // The 10 failures during suppression are still within 5 minutes: one more event fires.
    const [d] = detector.process([at(loginFailed("a"))]);
    expect(d?.count).toBe(11);
  });

  test("a flood into one group costs a bounded number of buckets", () => {
    const { detector, at } = setup([
      { ...failedLogins, condition: { kind: "count", threshold: 1e9, window: "5m" } },
    ]);
    for (let i = 0; i < 20; i++)
      detector.process(Array.from({ length: 1000 }, () => at(loginFailed("203.0.113.7"), 20)));
    const s = detector.stats();
    expect(s.groups).toBe(1);
    expect(s.entries).toBeLessThanOrEqual(61);
    expect(s.matched).toBe(20_000);
  });

  test("groups per rule are capped; the least recently touched go first", () => {
    const { detector, at } = setup([failedLogins], { maxGroupsPerRule: 100 });
    for (let i = 0; i < 500; i++) detector.process([at(loginFailed(`10.0.${i >> 8}.${i & 255}`))]);
    const s = detector.stats();
    expect(s.groups).toBe(100);
    expect(s.evictedGroups).toBe(400);
  });

  test("idle groups are retired by the clock", () => {
    const { detector, at, clock } = setup([failedLogins]);
    detector.process([at(loginFailed("a")), at(loginFailed("b"))]);
    expect(detector.stats().groups).toBe(2);
    clock.advance(31 * 60_000);
    detector.process([]);
    expect(detector.stats().groups).toBe(0);
  });
});

describe("distinct", () => {
  const burst: RuleInput = {
    id: "secret-read-burst",
    title: "Bulk secret reads",
    priority: "P2",
    match: { type: "secrets.read" },
    groupBy: ["actor.id"],
    condition: { kind: "distinct", field: "target.id", threshold: 5, window: "10m" },
    summary: "{{group.id}} read {{count}} secrets",
  };
  const read = (who: string, path: string): NewEvent => ({
    type: "secrets.read",
    actor: { kind: "user", id: who },
    target: { kind: "secret", id: path },
  });

  test("counts distinct values, not events; fires at the threshold", () => {
    const { detector, at } = setup([burst]);
    const same = Array.from({ length: 20 }, () => at(read("alice", "/prod/db"), 1000));
    const others = ["/a", "/b", "/c"].map((p) => at(read("alice", p), 1000));
    expect(detector.process([...same, ...others])).toEqual([]);
    const [d] = detector.process([at(read("alice", "/d"))]);
    expect(d).toMatchObject({ count: 5, group: { id: "alice" }, summary: "alice read 5 secrets" });
  });

  test("values older than the window do not count", () => {
    const { detector, at } = setup([burst]);
    detector.process(["/a", "/b", "/c", "/d"].map((p) => at(read("bob", p), 1000)));
    at(read("x", "/x"), 11 * 60_000);
    expect(detector.process([at(read("bob", "/e"))])).toEqual([]);
  });
});

describe("first_seen", () => {
  const newIp: RuleInput = {
    id: "credential-new-ip",
    title: "API key used from a new address",
    priority: "P1",
    match: { type: "identity.api_key_used" },
    groupBy: { credential: "target.id" },
    condition: { kind: "first_seen", field: "data.ip", remember: "30d", minKnown: 1 },
    summary: "API key {{group.credential}} used from new address {{event.data.ip}}",
  };
  const used = (key: string, ip: string): NewEvent => ({
    type: "identity.api_key_used",
    actor: { kind: "service", id: "billing" },
    target: { kind: "api_key", id: key },
    data: { ip },
  });

  test("the first address is the baseline; a new one fires with the address in the group", () => {
    const { detector, at } = setup([newIp]);
    expect(detector.process([at(used("k1", "10.0.0.5")), at(used("k1", "10.0.0.5"))])).toEqual([]);
    const [d] = detector.process([at(used("k1", "203.0.113.7"))]);
    expect(d).toMatchObject({
      priority: "P1",
      group: { credential: "k1", ip: "203.0.113.7" },
      summary: "API key k1 used from new address 203.0.113.7",
    });
    // Known now: no second firing; a second new address is a second detection.
    expect(detector.process([at(used("k1", "203.0.113.7"))])).toEqual([]);
    const [d2] = detector.process([at(used("k1", "198.51.100.1"))]);
    expect(d2!.fingerprint).not.toBe(d!.fingerprint);
    // Another key has its own baseline.
    expect(detector.process([at(used("k2", "203.0.113.7"))])).toEqual([]);
  });

  test("minKnown 0 fires on the very first value", () => {
    const { detector, at } = setup([
      { ...newIp, condition: { kind: "first_seen", field: "data.ip", minKnown: 0 } },
    ]);
    expect(detector.process([at(used("k1", "10.0.0.5"))])).toHaveLength(1);
  });

  test("minKnown 2: two values make the baseline", () => {
    const { detector, at } = setup([
      { ...newIp, condition: { kind: "first_seen", field: "data.ip", minKnown: 2 } },
    ]);
    expect(detector.process([at(used("k1", "10.0.0.1")), at(used("k1", "10.0.0.2"))])).toEqual([]);
    expect(detector.process([at(used("k1", "10.0.0.3"))])).toHaveLength(1);
  });

  test("a value not seen within `remember` is new again", () => {
    const { detector, at, clock } = setup([
      { ...newIp, condition: { kind: "first_seen", field: "data.ip", remember: "1d", minKnown: 1 } },
    ]);
    expect(detector.process([at(used("k1", "10.0.0.1")), at(used("k1", "10.0.0.2"))])).toHaveLength(1);
    clock.advance(12 * 3_600_000);
    detector.process([at(used("k1", "10.0.0.1"))]); // 10.0.0.1 refreshed, 10.0.0.2 not
    clock.advance(13 * 3_600_000);
    expect(detector.process([at(used("k1", "10.0.0.1"))])).toEqual([]);
    const [d] = detector.process([at(used("k1", "10.0.0.2"))]);
    expect(d?.group.ip).toBe("10.0.0.2");
  });
});

describe("each, matching conditions", () => {
  const breakGlass: RuleInput = {
    id: "break-glass-used",
    title: "Break-glass used",
    priority: "P1",
    match: { type: "identity.break_glass", outcome: "success" },
    groupBy: { identity: "actor.id" },
    condition: { kind: "each" },
  };
  const glass = (who: string, outcome: "success" | "denied" = "success"): NewEvent => ({
    type: "identity.break_glass",
    actor: { kind: "user", id: who },
    target: { kind: "jit_grant", id: "g1" },
    outcome,
    data: { role: "db-admin" },
  });

  test("every matching event fires, once per group within the default suppression of 1 h", () => {
    const { detector, at, clock } = setup([breakGlass]);
    expect(detector.process([at(glass("alice", "denied"))])).toEqual([]);
    expect(detector.process([at(glass("alice")), at(glass("bob")), at(glass("alice"))])).toHaveLength(2);
    clock.advance(3_600_000);
    expect(detector.process([at(glass("alice"))])).toHaveLength(1);
  });

  test("outsideHours uses the rule's time zone", () => {
    const rule: RuleInput = {
      ...breakGlass,
      match: {
        type: "identity.break_glass",
        outsideHours: {
          from: "08:00",
          to: "20:00",
          days: ["mon", "tue", "wed", "thu", "fri"],
          timezone: "Asia/Kolkata",
        },
      },
      suppress: "1s",
    };
    const { detector, clock, at } = setup([rule]);
    // Monday 10:00 UTC = 15:30 in Kolkata: inside hours.
    expect(detector.process([at(glass("a"))])).toEqual([]);
    // Monday 16:00 UTC = 21:30 in Kolkata: outside.
    clock.set("2026-03-02T16:00:00Z");
    expect(detector.process([at(glass("a"))])).toHaveLength(1);
    // Sunday 06:00 UTC = 11:30 Sunday in Kolkata: not a working day.
    clock.set("2026-03-08T06:00:00Z");
    expect(detector.process([at(glass("a"))])).toHaveLength(1);
    // Tuesday 02:45 UTC = 08:15 Tuesday in Kolkata: inside.
    clock.set("2026-03-03T02:45:00Z");
    expect(detector.process([at(glass("a"))])).toEqual([]);
  });

  test("environment restricts a rule to the deployment's environment", () => {
    const { detector, at, setEnv } = setup([
      {
        id: "config-prod",
        title: "Config changed",
        priority: "P2",
        match: { type: "config.reloaded", environment: "prod" },
        condition: { kind: "each" },
        suppress: "1s",
      },
    ]);
    const reloaded: NewEvent = { type: "config.reloaded", actor: { kind: "system", id: "rampart" } };
    setEnv("uat");
    expect(detector.process([at(reloaded, 2000)])).toEqual([]);
    setEnv("prod");
    expect(detector.process([at(reloaded, 2000)])).toHaveLength(1);
  });

  test("self compares the actor with the target, or with a field that may hold a list", () => {
    const { detector, at } = setup([
      {
        id: "self-change",
        title: "Self change",
        priority: "P1",
        match: {
          type: ["rbac.binding_added", "identity.jit_approved", "identity.role_changed"],
          self: ["data.binding.users", "data.requester"],
        },
        groupBy: { identity: "actor.id", change: "target.id" },
        condition: { kind: "each" },
      },
      {
        id: "self-target",
        title: "Self target",
        priority: "P1",
        match: { type: "identity.role_changed", self: true },
        condition: { kind: "each" },
      },
    ]);
    const binding = (by: string, users: string[], id: string): NewEvent => ({
      type: "rbac.binding_added",
      actor: { kind: "user", id: by },
      target: { kind: "rbac_binding", id },
      data: { binding: { id, role: "admin", users } },
    });
    expect(detector.process([at(binding("oidc:alice", ["oidc:bob"], "b1"))])).toEqual([]);
    const out = detector.process([
      at(binding("oidc:alice", ["oidc:bob", "oidc:alice"], "b2")),
      at({
        type: "identity.jit_approved",
        actor: { kind: "user", id: "oidc:carol" },
        target: { kind: "jit_request", id: "r1" },
        data: { requester: "oidc:carol" },
      }),
      at({
        type: "identity.jit_approved",
        actor: { kind: "user", id: "oidc:carol" },
        target: { kind: "jit_request", id: "r2" },
        data: { requester: "oidc:dave" },
      }),
      at({
        type: "identity.role_changed",
        actor: { kind: "user", id: "u1" },
        target: { kind: "user", id: "u1" },
      }),
    ]);
    expect(out.map((d) => `${d.rule}:${d.group.identity ?? ""}:${d.group.change ?? ""}`)).toEqual([
      "self-change:oidc:alice:b2",
      "self-change:oidc:carol:r1",
      "self-target::",
    ]);
  });

  test("data, minSeverity, actorKind and source conditions all must hold", () => {
    const { detector, at } = setup([
      {
        id: "picky",
        title: "Picky",
        priority: "P3",
        match: {
          type: "gateway.auth_failed",
          minSeverity: "medium",
          actorKind: "ip",
          source: "edge-1",
          data: { detail: "expired", count: 1 },
        },
        condition: { kind: "each" },
        suppress: "1s",
      },
    ]);
    const base: NewEvent = {
      type: "gateway.auth_failed",
      severity: "medium",
      actor: { kind: "ip", id: "1.2.3.4" },
      source: "edge-1",
      data: { detail: "expired", count: 1 },
    };
    expect(detector.process([at({ ...base, severity: "low" }, 2000)])).toEqual([]);
    expect(detector.process([at({ ...base, actor: { kind: "user", id: "u" } }, 2000)])).toEqual([]);
    expect(detector.process([at({ ...base, source: "edge-2" }, 2000)])).toEqual([]);
    expect(detector.process([at({ ...base, data: { detail: "forged", count: 1 } }, 2000)])).toEqual([]);
    expect(detector.process([at(base, 2000)])).toHaveLength(1);
  });

  test("prefix globs match a family of types; detect.* events meet only rules naming detect.", () => {
    const { detector, at } = setup([
      {
        id: "all-secrets",
        title: "Secrets",
        priority: "P3",
        match: { type: "secrets.*" },
        condition: { kind: "each" },
        groupBy: ["type"],
        suppress: "1s",
      },
      {
        id: "everything",
        title: "All",
        priority: "P3",
        match: { type: "*" },
        condition: { kind: "each" },
        groupBy: ["type"],
        suppress: "1s",
      },
      {
        id: "on-detections",
        title: "Detections",
        priority: "P3",
        match: { type: "detect.*" },
        condition: { kind: "each" },
        groupBy: ["type"],
        suppress: "1s",
      },
    ]);
    const out = detector.process([
      at({ type: "secrets.read", actor: { kind: "user", id: "a" } }),
      at({ type: "secretsx.read", actor: { kind: "user", id: "a" } }),
      at({ type: "detect.fired", actor: { kind: "system", id: "rampart" } }),
    ]);
    expect(out.map((d) => `${d.rule} ${d.group.type}`).sort()).toEqual([
      "all-secrets secrets.read",
      "everything secrets.read",
      "everything secretsx.read",
      "on-detections detect.fired",
    ]);
  });
});

describe("robustness and reload", () => {
  test("a rule that throws does not stop the others; errors are counted and logged once", () => {
    const logged: string[] = [];
    const logger = {
      error: (_o: unknown, msg: string) => logged.push(msg),
    } as unknown as DetectorOptions["logger"];
    const { detector, at } = setup(
      [
        {
          id: "broken",
          title: "Broken",
          priority: "P3",
          match: { type: "x.y" },
          condition: { kind: "each" },
          groupBy: ["actor.id"],
          suppress: "1s",
        },
        {
          id: "fine",
          title: "Fine",
          priority: "P3",
          match: { type: "x.y" },
          condition: { kind: "each" },
          groupBy: ["actor.id"],
          suppress: "1s",
        },
      ],
      { logger },
    );
    // An event whose actor throws when read breaks only rules that read it in a way that throws:
    // here the summary of the first rule reads a getter that throws.
    const evil = at({ type: "x.y", actor: { kind: "user", id: "a" } }, 2000);
    let reads = 0;
    Object.defineProperty(evil.actor, "id", {
      get() {
        if (reads++ === 0) throw new Error("boom");
        return "a";
      },
    });
    const out = detector.process([evil, at({ type: "x.y", actor: { kind: "user", id: "b" } }, 2000)]);
    expect(out.map((d) => d.rule)).toEqual(["fine", "broken", "fine"]);
    expect(detector.stats().perRule.broken!.errors).toBe(1);
    expect(detector.stats().errors).toBe(1);
    expect(logged).toHaveLength(1);
  });

  test("reload keeps the state of unchanged rules and starts changed ones afresh", () => {
    const other: RuleInput = { ...failedLogins, id: "other-logins" };
    const { detector, at, setRules } = setup([failedLogins, other]);
    detector.process(Array.from({ length: 9 }, () => at(loginFailed("a"), 100)));
    // failed-logins unchanged; other-logins gets a new threshold (a new definition).
    setRules([failedLogins, { ...other, condition: { kind: "count", threshold: 10, window: "10m" } }]);
    const out = detector.process([at(loginFailed("a"))]);
    expect(out.map((d) => d.rule)).toEqual(["failed-logins"]);
    expect(detector.stats().rules).toBe(2);
    // Removing a rule stops it.
    setRules([other]);
    expect(
      detector.process(Array.from({ length: 30 }, () => at(loginFailed("b"), 100))).map((d) => d.rule),
    ).toEqual(["other-logins"]);
  });

  test("reset forgets windows", () => {
    const { detector, at } = setup([failedLogins]);
    detector.process(Array.from({ length: 9 }, () => at(loginFailed("a"), 100)));
    detector.reset();
    expect(detector.process([at(loginFailed("a"))])).toEqual([]);
  });

  test("an event whose type nobody watches costs nothing and changes nothing", () => {
    const { detector, at } = setup([failedLogins]);
    detector.process([at({ type: "identity.login", actor: { kind: "user", id: "a" } })]);
    expect(detector.stats()).toMatchObject({ events: 1, matched: 0, groups: 0 });
  });
});
