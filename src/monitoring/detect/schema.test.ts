// Rules in rampart.yaml: a bad rule is refused with the path of what is wrong.
import { describe, expect, test } from "vitest";
import { builtinRuleInputs, builtinRules, detectRules } from "./builtin.ts";
import { detectConfigSchema, durationMs, parseRule, type RuleInput, ruleSchema } from "./schema.ts";

const good: RuleInput = {
  id: "failed-logins",
  title: "Failed logins",
  priority: "P2",
  match: { type: "identity.login_failed" },
  groupBy: { account: "actor.id" },
  condition: { kind: "count", threshold: 10, window: "5m" },
};

const problem = (input: unknown): string => {
  try {
    parseRule(input, "detect.rules.0");
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("accepted");
};

describe("rule schema", () => {
  test("a valid rule parses; lists become arrays and a groupBy list takes the last segment as name", () => {
    const r = parseRule({
      ...good,
      groupBy: ["actor.id", "data.ip"],
      match: { type: "secrets.*", outcome: "success" },
    });
    expect(r.match.type).toEqual(["secrets.*"]);
    expect(r.match.outcome).toEqual(["success"]);
    expect(r.groupBy).toEqual({ id: "actor.id", ip: "data.ip" });
  });

  test.each([
    [{ ...good, id: "Bad Id" }, "detect.rules.0.id: expected lower-case letters, digits and -"],
    [{ ...good, priority: "P5" }, "detect.rules.0.priority"],
    [
      { ...good, condition: { kind: "count", threshold: 10, window: "5 minutes" } },
      "detect.rules.0.condition.window: expected a duration",
    ],
    [
      { ...good, condition: { kind: "count", threshold: 10, window: "0s" } },
      "detect.rules.0.condition.window: must be longer than 0",
    ],
    [{ ...good, condition: { kind: "often" } }, "detect.rules.0.condition.kind"],
    [{ ...good, groupBy: { account: "actor.name" } }, "detect.rules.0.groupBy"],
    [{ ...good, match: { type: "Login Failed" } }, "detect.rules.0.match.type"],
    [
      { ...good, match: { type: "a.b", outsideHours: { from: "8am", to: "20:00" } } },
      "detect.rules.0.match.outsideHours.from: expected HH:MM",
    ],
    [
      {
        ...good,
        match: { type: "a.b", outsideHours: { from: "08:00", to: "20:00", timezone: "Mars/Olympus" } },
      },
      "detect.rules.0.match.outsideHours.timezone: unknown time zone",
    ],
    [{ ...good, match: { type: "a.b", environment: "staging" } }, "detect.rules.0.match.environment"],
    [{ ...good, match: { type: "a.b", colour: "red" } }, "detect.rules.0.match"],
    [
      { ...good, summary: "{{event.sensitive.value}}" },
      "detect.rules.0.summary: a summary may not show sensitive or personal fields",
    ],
    [
      { ...good, summary: "signed in as {{ event.personal.email }}" },
      "detect.rules.0.summary: a summary may not show sensitive or personal fields",
    ],
    [
      { ...good, groupBy: { ip: "actor.id" }, condition: { kind: "first_seen", field: "data.ip" } },
      "detect.rules.0.condition.as: the new value's name ip is already a groupBy name",
    ],
  ])("refuses %j with the path", (input, message) => {
    expect(problem(input)).toContain(message);
  });

  test("durations", () => {
    expect(durationMs("30s")).toBe(30_000);
    expect(durationMs("5m")).toBe(300_000);
    expect(durationMs("1h")).toBe(3_600_000);
    expect(durationMs("30d")).toBe(30 * 86_400_000);
    expect(() => durationMs("1w")).toThrow(/duration/);
  });

  test("the config section: defaults, duplicate ids refused", () => {
    expect(detectConfigSchema.parse({})).toEqual({ builtin: true, disable: [], rules: [] });
    const r = detectConfigSchema.safeParse({ rules: [good, good] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(["rules", 1, "id"]);
  });
});

describe("built-in rules", () => {
  test("every built-in is a valid rule with a unique id", () => {
    for (const input of builtinRuleInputs) expect(ruleSchema.safeParse(input).error).toBeUndefined();
    const ids = builtinRules.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("config: disable, replace by id, add, or switch the built-ins off", () => {
    const config = detectConfigSchema.parse({
      disable: ["rate-limit-surge"],
      rules: [
        { ...good, id: "waf-block-surge", title: "Mine" },
        { ...good, id: "my-rule" },
      ],
    });
    const rules = detectRules(config);
    const ids = rules.map((r) => r.id);
    expect(ids).not.toContain("rate-limit-surge");
    expect(rules.filter((r) => r.id === "waf-block-surge").map((r) => r.title)).toEqual(["Mine"]);
    expect(ids).toContain("my-rule");
    expect(ids).toContain("failed-logins-per-account");
    expect(detectRules(detectConfigSchema.parse({ builtin: false, rules: [good] })).map((r) => r.id)).toEqual(
      ["failed-logins"],
    );
    expect(detectRules(undefined)).toHaveLength(builtinRules.length);
  });
});
