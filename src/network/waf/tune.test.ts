import { describe, expect, it } from "vitest";
import { formatDetail, targetCovered } from "./engine.ts";
import { type DetectionEvent, exclusionsYaml, parseDetail, tune, withoutConfigured } from "./tune.ts";

const event = (
  client: string,
  detail: unknown,
  o: { route?: string; count?: unknown; type?: string } = {},
): DetectionEvent => ({
  type: o.type ?? "gateway.waf_detected",
  actor: `ip:${client}`,
  target: `route:${o.route ?? "*/shop"}`,
  data: { count: o.count ?? 1, detail },
});

/** `n` events, one per client 10.0.0.1…n, each of `count` requests. */
const fromClients = (n: number, detail: string, o: { route?: string; count?: number } = {}) =>
  Array.from({ length: n }, (_, i) => event(`10.0.0.${i + 1}`, detail, o));

describe("parseDetail", () => {
  it("reads the gateway's rule@target pairs and the score", () => {
    expect(parseDetail("sqli-tautology@ARGS:id score=5")).toEqual({
      pairs: [{ rule: "sqli-tautology", target: "ARGS:id" }],
      score: 5,
      truncated: false,
    });
    expect(
      parseDetail("sqli-union@ARGS_JSON:user.name,xss-script-tag@REQUEST_HEADERS:referer score=10").pairs,
    ).toEqual([
      { rule: "sqli-union", target: "ARGS_JSON:user.name" },
      { rule: "xss-script-tag", target: "REQUEST_HEADERS:referer" },
    ]);
    expect(parseDetail("proto-method@REQUEST_METHOD score=3").pairs).toEqual([
      { rule: "proto-method", target: "REQUEST_METHOD" },
    ]);
  });

  it("keeps commas, @ and spaces that belong to a target's name", () => {
    expect(parseDetail("a@ARGS:q score=5 score=5").pairs).toEqual([{ rule: "a", target: "ARGS:q score=5" }]);
    expect(parseDetail("sqli-union@ARGS:a,b@c d score=5").pairs).toEqual([
      { rule: "sqli-union", target: "ARGS:a,b@c d" },
    ]);
  });

  it("drops the last, possibly cut, pair of a truncated detail", () => {
    const long = `${Array.from({ length: 40 }, (_, i) => `rule-${i}@ARGS:p${i}`).join(",")} score=200`;
    const cut = `${long.slice(0, 509)}...`;
    const p = parseDetail(cut);
    expect(p.truncated).toBe(true);
    expect(p.score).toBeUndefined();
    expect(p.pairs.length).toBeGreaterThan(20);
    for (const [i, pair] of p.pairs.entries())
      expect(pair).toEqual({ rule: `rule-${i}`, target: `ARGS:p${i}` });
    expect(cut).toContain(`rule-${p.pairs.length}@`); // there, but not trusted
  });

  it("never throws on hostile or broken text, and says why it used none of it", () => {
    const hostile: unknown[] = [
      undefined,
      null,
      42,
      { detail: "x" },
      "",
      "score=5",
      " score=5",
      "garbage",
      "@ARGS:q score=5",
      "rule@args:q score=5",
      "sqli@ARGS:q",
      "sqli@ARGS:q score=abc",
      "sqli@ARGS:q score=99999999999",
      "...",
      "sqli@ARGS:q...",
      "a@ARGS:q,a@ARGS:r score=10",
      "a@ARGS:q\nb score=5",
      "a@ARGS:q\u0000 score=5",
      `a@ARGS:${"x".repeat(300)} score=5`,
      "x".repeat(100_000),
      `${"a@ARGS:q,".repeat(10_000)} score=5`,
      ",a@ARGS:q score=5",
    ];
    for (const h of hostile) {
      const p = parseDetail(h);
      expect(p.pairs, JSON.stringify(h)?.slice(0, 80)).toEqual([]);
      if (h !== "sqli@ARGS:q...") expect(p.problem, String(h).slice(0, 80)).toBeTruthy();
    }
  });

  it("refuses pairs that the score cannot account for (a parameter name posing as a match)", () => {
    // A notice (2 points) cannot have matched two rules: the second pair was made up by a name.
    expect(parseDetail("sqli-x@ARGS:a,xss-script-tag@ARGS:comment score=2")).toMatchObject({
      pairs: [],
      problem: "score 2 does not fit 2 matched rules",
    });
    expect(parseDetail("sqli-x@ARGS:a score=11").problem).toBe("score 11 does not fit 1 matched rules");
  });
});

describe("tune", () => {
  it("proposes a rule on a target once enough clients and requests tripped it, ordered by count", () => {
    const r = tune([
      ...fromClients(4, "sqli-tautology@ARGS:q score=5", { count: 3 }),
      ...fromClients(5, "xss-script-tag@ARGS:bio score=5", { count: 10 }),
      ...fromClients(3, "sqli-union@ARGS:q,sqli-tautology@ARGS:q score=10"),
    ]);
    expect(r).toMatchObject({ events: 12, requests: 65, skipped: {}, truncated: 0 });
    expect(r.routes).toHaveLength(1);
    const shop = r.routes[0];
    expect(shop).toMatchObject({ route: "*/shop", path: "/shop" });
    expect(shop?.host).toBeUndefined();
    expect(shop?.proposed.map((p) => [p.rule, p.target, p.requests, p.clients])).toEqual([
      ["xss-script-tag", "ARGS:bio", 50, 5],
      ["sqli-tautology", "ARGS:q", 15, 4],
    ]);
    expect(shop?.proposed[0]?.exclusion).toEqual({ rules: ["xss-script-tag"], targets: ["ARGS:bio"] });
    // sqli-union: 3 requests from 3 clients, under the default 5 requests.
    expect(shop?.notProposed.map((h) => [h.rule, h.target, h.reason])).toEqual([
      ["sqli-union", "ARGS:q", "too few requests (3 < 5)"],
    ]);
  });

  it("holds back what too few clients or requests tripped (an attacker tuning a rule away)", () => {
    const r = tune([
      ...Array.from({ length: 50 }, () => event("198.51.100.7", "sqli-union@ARGS:id score=5", { count: 20 })),
      ...fromClients(1, "sqli-union@ARGS:id score=5", { count: 20 }),
      ...fromClients(4, "xss-script-tag@ARGS:q score=5"),
    ]);
    const shop = r.routes[0];
    expect(shop?.proposed).toEqual([]);
    expect(shop?.notProposed.map((h) => [h.rule, h.target, h.requests, h.clients, h.reason])).toEqual([
      ["sqli-union", "ARGS:id", 1020, 2, "too few clients (2 < 3)"],
      ["xss-script-tag", "ARGS:q", 4, 4, "too few requests (4 < 5)"],
    ]);
  });

  it("judges clients and requests with the given minimums", () => {
    const events = [
      ...Array.from({ length: 10 }, () => event("198.51.100.7", "sqli-union@ARGS:id score=5")),
      ...fromClients(1, "sqli-union@ARGS:id score=5"),
    ];
    expect(tune(events).routes[0]?.notProposed[0]?.reason).toBe("too few clients (2 < 3)");
    expect(tune(events, { minClients: 2 }).routes[0]?.proposed).toHaveLength(1);
    expect(tune(events, { minClients: 2, minRequests: 12 }).routes[0]?.notProposed[0]?.reason).toBe(
      "too few requests (11 < 12)",
    );
  });

  it("keeps routes apart and reads their host and path", () => {
    const r = tune([
      ...fromClients(5, "sqli-union@ARGS:id score=5", { route: "shop.example.com/api" }),
      ...fromClients(3, "sqli-union@ARGS:id score=5", { route: "*/beta", count: 2 }),
    ]);
    expect(r.routes.map((t) => [t.route, t.host, t.path, t.proposed.length])).toEqual([
      ["*/beta", undefined, "/beta", 1],
      ["shop.example.com/api", "shop.example.com", "/api", 1],
    ]);
  });

  it("counts refusals apart when blocked events are read too", () => {
    const r = tune([
      ...fromClients(3, "sqli-union@ARGS:id score=5", { count: 2 }),
      event("10.0.0.9", "sqli-union@ARGS:id score=5", { type: "gateway.waf_blocked", count: 4 }),
    ]);
    expect(r.routes[0]?.proposed[0]).toMatchObject({ requests: 10, blocked: 4, clients: 4, events: 4 });
  });

  it("skips events it cannot read, says how many and why, and never throws", () => {
    const r = tune([
      ...fromClients(5, "sqli-union@ARGS:id score=5"),
      { type: "gateway.waf_detected" },
      { actor: "user:alice", target: "route:*/shop", data: { detail: "a@ARGS:q score=5" } },
      { actor: "ip:10.0.0.1", target: "*/shop", data: { detail: "a@ARGS:q score=5" } },
      { actor: "ip:10.0.0.1", target: "route:*/shop", data: null },
      { actor: "ip:10.0.0.1", target: "route:*/shop", data: "x" },
      { actor: "ip:10.0.0.1", target: "route:*/shop", data: { detail: 5, count: 3 } },
      event("10.0.0.1", "sqli-union@ARGS:id score=5", { count: -5 }),
      event("10.0.0.2", "sqli-union@ARGS:id score=5", { count: "7" }),
      event("10.0.0.3", "sqli-union@ARGS:id score=5", { count: 1e300 }),
    ]);
    expect(r.skipped).toEqual({
      "no client address": 2,
      "no route": 1,
      "detail: no detail text": 3,
    });
    // Counts that are not positive whole numbers count as one request.
    expect(r.routes[0]?.proposed[0]).toMatchObject({ requests: 7 + 1e9, clients: 5 });
  });

  it("never proposes a parameter named * (it would read as the whole family)", () => {
    const r = tune(fromClients(5, "sqli-union@ARGS:* score=5"));
    expect(r.routes[0]?.proposed).toEqual([]);
    expect(r.routes[0]?.notProposed[0]?.reason).toBe("its name reads as a whole target family");
  });

  it("proposes a whole family only with broad, and otherwise says it could", () => {
    const events = ["a", "b", "c", "d"].flatMap((name) =>
      fromClients(3, `sqli-union@ARGS:${name} score=5`, { count: 2 }),
    );
    const narrow = tune(events).routes[0];
    expect(narrow?.proposed.map((p) => p.target)).toEqual(["ARGS:a", "ARGS:b", "ARGS:c", "ARGS:d"]);
    expect(narrow?.broadHints).toEqual([{ rule: "sqli-union", family: "ARGS", names: 4 }]);
    const broad = tune(events, { broad: true }).routes[0];
    expect(broad?.proposed).toEqual([
      expect.objectContaining({
        rule: "sqli-union",
        target: "ARGS:*",
        requests: 24,
        clients: 3,
        names: ["a", "b", "c", "d"],
        exclusion: { rules: ["sqli-union"], targets: ["ARGS:*"] },
      }),
    ]);
    // Never a route-wide exclusion: every proposal names its targets.
    for (const p of [...(narrow?.proposed ?? []), ...(broad?.proposed ?? [])])
      expect(p.exclusion.targets.length).toBeGreaterThan(0);
  });

  it("names a parameter that trips many rules as an allowlist candidate", () => {
    const r = tune([
      ...fromClients(3, "sqli-union@ARGS:body score=5"),
      ...fromClients(3, "xss-script-tag@ARGS:body score=5"),
      ...fromClients(3, "cmdi-unix@ARGS:body score=5"),
      ...fromClients(3, "sqli-union@ARGS:q score=5"),
      // one client alone does not make a candidate
      event("198.51.100.7", "lfi-dot-dot@ARGS:q score=5"),
      event("198.51.100.7", "xss-script-tag@ARGS:q score=5"),
    ]);
    expect(r.routes[0]?.allowlistCandidates).toEqual([
      {
        route: "*/shop",
        target: "ARGS:body",
        rules: ["cmdi-unix", "sqli-union", "xss-script-tag"],
        matches: 9,
      },
    ]);
  });
});

describe("withoutConfigured", () => {
  it("does not propose again what the route's config already excludes", () => {
    const r = tune([
      ...fromClients(3, "sqli-union@ARGS:id score=5", { count: 2 }),
      ...fromClients(3, "sqli-union@MULTIPART:name score=5", { count: 2 }),
      ...fromClients(3, "xss-script-tag@ARGS:id score=5", { count: 2 }),
      ...fromClients(3, "xss-script-tag@ARGS:q score=5", { count: 2, route: "*/other" }),
    ]);
    const tuned = withoutConfigured(r, [
      { path: "/shop", waf: { exclusions: [{ rules: ["sqli-union"], targets: ["ARGS:id", "ARGS:name"] }] } },
      { path: "/other" },
      { host: "x.example.com", path: "/shop", waf: { exclusions: [{ rules: ["xss-script-tag"] }] } },
    ]);
    const shop = tuned.routes.find((t) => t.route === "*/shop");
    expect(shop?.proposed.map((p) => `${p.rule}@${p.target}`)).toEqual(["xss-script-tag@ARGS:id"]);
    expect(shop?.notProposed.map((h) => [`${h.rule}@${h.target}`, h.reason])).toEqual([
      ["sqli-union@ARGS:id", "already excluded in the config"],
      ["sqli-union@MULTIPART:name", "already excluded in the config"],
    ]);
    expect(tuned.routes.find((t) => t.route === "*/other")?.proposed).toHaveLength(1);
  });

  it("reads target patterns as the engine does", () => {
    expect(targetCovered("ARGS:*", "ARGS:q")).toBe(true);
    expect(targetCovered("ARGS:*", "ARGS_NAMES:q")).toBe(false);
    expect(targetCovered("ARGS:q", "MULTIPART:q")).toBe(true);
    expect(targetCovered("ARGS:q", "ARGS:qq")).toBe(false);
  });
});

describe("exclusionsYaml", () => {
  it("prints a route's proposals, ready to paste, with the counts as comments", () => {
    const r = tune([
      ...fromClients(4, "sqli-tautology@ARGS:q score=5", { count: 3 }),
      ...fromClients(3, 'xss-script-tag@REQUEST_HEADERS:x-"odd" name score=5', { count: 2 }),
      event("10.0.0.1", "sqli-tautology@ARGS:q score=5", { type: "gateway.waf_blocked", count: 2 }),
    ]);
    expect(exclusionsYaml(r.routes[0] as never)).toBe(
      [
        "# route */shop (path: /shop): under its waf:",
        "exclusions:",
        "  # 14 requests from 4 clients, 2 refused",
        '  - { rules: [sqli-tautology], targets: ["ARGS:q"] }',
        "  # 6 requests from 3 clients",
        '  - { rules: [xss-script-tag], targets: ["REQUEST_HEADERS:x-\\"odd\\" name"] }',
      ].join("\n"),
    );
  });
});

describe("details written by the gateway", () => {
  it("a parameter name that spells another match stays one target", () => {
    const target = "ARGS:x,sqli-union@ARGS:id 50%";
    const detail = formatDetail({
      score: 5,
      blocked: true,
      matches: [
        {
          rule: "xss-script-tag",
          tags: [],
          paranoia: 1,
          severity: "critical",
          target,
          targets: 1,
          sample: "",
        },
      ],
    });
    expect(detail).toBe("xss-script-tag@ARGS:x%2Csqli-union%40ARGS:id%2050%25 score=5");
    expect(parseDetail(detail)).toEqual({
      pairs: [{ rule: "xss-script-tag", target }],
      score: 5,
      truncated: false,
    });
  });
});
