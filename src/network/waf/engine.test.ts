// The engine's arithmetic and tuning with two small detectors: decoded variants reach detectors,
// paranoia levels gate rules, a rule counts once per request, modes, thresholds and scoped exclusions.
import { describe, expect, test } from "vitest";
import { createWaf, type WafPolicy } from "./engine.ts";
import type { InspectedRequest } from "./targets.ts";
import type { Detector } from "./types.ts";

const scriptTag: Detector = {
  name: "probe-xss",
  inspect: (t) =>
    t.value.toLowerCase().includes("<script")
      ? [{ rule: "xss-script-tag", tags: ["attack-xss"], paranoia: 1, severity: "critical", target: t.name }]
      : [],
};
const unionWord: Detector = {
  name: "probe-sqli",
  inspect: (t) =>
    t.value.toLowerCase().includes("union select")
      ? [{ rule: "sqli-union-words", tags: ["attack-sqli"], paranoia: 2, severity: "error", target: t.name }]
      : [],
};
const waf = createWaf({ detectors: [scriptTag, unionWord] });
const policy = (p: Partial<WafPolicy> = {}): WafPolicy => ({
  mode: "block",
  paranoia: 1,
  threshold: 5,
  exclusions: [],
  ...p,
});
const get = (path: string): InspectedRequest => ({ method: "GET", path, headers: { host: "shop" } });
const form = (body: string, type = "application/x-www-form-urlencoded"): InspectedRequest => ({
  method: "POST",
  path: "/comment",
  headers: { host: "shop", "content-type": type },
  body: Buffer.from(body),
});

describe("scoring", () => {
  test("a clean request scores nothing", () => {
    expect(waf.inspect(get("/shop?q=red+shoes"), policy())).toEqual({
      score: 0,
      matches: [],
      blocked: false,
    });
  });

  test("an encoded attack is seen decoded and refused at the threshold", () => {
    const v = waf.inspect(get("/shop?q=%253Cscript%253Ealert(1)"), policy());
    expect(v).toMatchObject({ score: 5, blocked: true });
    expect(v.matches).toEqual([
      expect.objectContaining({ rule: "xss-script-tag", target: "ARGS:q", targets: 1 }),
    ]);
  });

  test("detect mode scores without refusing; off does not inspect", () => {
    expect(waf.inspect(get("/?q=<script>"), policy({ mode: "detect" }))).toMatchObject({
      score: 5,
      blocked: false,
    });
    expect(waf.inspect(get("/?q=<script>"), policy({ mode: "off" })).score).toBe(0);
  });

  test("a rule counts once per request, however many targets it matched", () => {
    const v = waf.inspect(get("/?a=<script>&b=<SCRIPT>"), policy());
    expect(v.score).toBe(5);
    expect(v.matches[0]?.targets).toBe(2);
  });

  test("rules above the route's paranoia level do not run", () => {
    const req = get("/?q=1+union+select+password");
    expect(waf.inspect(req, policy({ paranoia: 1 })).score).toBe(0);
    expect(waf.inspect(req, policy({ paranoia: 2 }))).toMatchObject({ score: 4, blocked: false });
    expect(waf.inspect(req, policy({ paranoia: 2, threshold: 4 })).blocked).toBe(true);
  });
});

describe("exclusions", () => {
  const attack = form("comment=<script>x</script>&name=<script>");

  test("by rule, scoped to one parameter: the other parameter still counts", () => {
    const v = waf.inspect(
      attack,
      policy({ exclusions: [{ rules: ["xss-script-tag"], targets: ["ARGS:comment"] }] }),
    );
    expect(v.matches).toEqual([expect.objectContaining({ target: "ARGS:name", targets: 1 })]);
    expect(v.blocked).toBe(true);
  });

  test("by tag, for a family of targets", () => {
    const v = waf.inspect(attack, policy({ exclusions: [{ tags: ["attack-xss"], targets: ["ARGS:*"] }] }));
    expect(v).toMatchObject({ score: 0, blocked: false });
  });

  test("an exclusion for ARGS:x also covers the multipart field x", () => {
    const body = '--b\r\ncontent-disposition: form-data; name="comment"\r\n\r\n<script>\r\n--b--\r\n';
    const req = form(body, "multipart/form-data; boundary=b");
    expect(waf.inspect(req, policy()).blocked).toBe(true);
    expect(
      waf.inspect(req, policy({ exclusions: [{ rules: ["xss-script-tag"], targets: ["ARGS:comment"] }] }))
        .blocked,
    ).toBe(false);
  });

  test("an unscoped exclusion removes the rule everywhere", () => {
    expect(waf.inspect(attack, policy({ exclusions: [{ rules: ["xss-script-tag"] }] })).score).toBe(0);
  });
});

describe("values remembered", () => {
  const counting = () => {
    const seen: string[] = [];
    const detector: Detector = {
      name: "probe-counting",
      inspect: (t) => {
        seen.push(t.value);
        return t.value.includes("<x")
          ? [{ rule: "probe-x", tags: [], paranoia: 1, severity: "critical", target: t.name }]
          : [];
      },
    };
    return { seen, waf: createWaf({ detectors: [detector] }) };
  };

  test("a value seen before under the same name is not inspected again, and scores the same", () => {
    const { seen, waf: w } = counting();
    const first = w.inspect(get("/p?q=%3Cx"), policy());
    const again = w.inspect(get("/p?q=%3Cx"), policy());
    expect(again).toEqual(first);
    expect(again.blocked).toBe(true);
    const before = seen.length;
    w.inspect(get("/p?other=%3Cx"), policy()); // another name is another target
    expect(seen.length).toBeGreaterThan(before);
  });

  test("remembered values are bounded: the least recently used is forgotten first", () => {
    const { seen, waf: w } = counting();
    w.inspect(get("/p?q=first"), policy());
    for (let i = 0; i < 8192; i++) w.inspect(get(`/p?q=v${i}`), policy());
    const before = seen.length;
    w.inspect(get("/p?q=first"), policy());
    expect(seen.slice(before)).toContain("first");
  });
});

describe("parameter allowlists", () => {
  const ids = (onMismatch: "inspect" | "block") =>
    policy({ parameters: [{ targets: ["ARGS:id", "ARGS_JSON:user.id"], kind: "integer", onMismatch }] });

  test("a value that fits its declared kind skips the detectors; other parameters do not", () => {
    expect(waf.inspect(get("/p?id=42&q=a-b_c"), ids("block")).blocked).toBe(false);
    expect(waf.inspect(get("/p?id=%3Cscript%3E"), policy()).blocked).toBe(true);
    expect(waf.inspect(get("/p?id=42&other=%3Cscript%3E"), ids("block")).blocked).toBe(true);
  });

  test("a value that does not fit is inspected as usual, or refused with onMismatch block", () => {
    expect(waf.inspect(get("/p?id=abc"), ids("inspect")).blocked).toBe(false);
    expect(waf.inspect(get("/p?id=%3Cscript%3E"), ids("inspect")).matches.map((m) => m.rule)).toEqual([
      "xss-script-tag",
    ]);
    const refused = waf.inspect(get("/p?id=abc"), ids("block"));
    expect(refused.matches).toMatchObject([
      { rule: "allowlist-mismatch", target: "ARGS:id", severity: "critical" },
    ]);
    expect(refused.blocked).toBe(true);
    expect(waf.inspect(form('{"user":{"id":"7 or 1"}}', "application/json"), ids("block")).blocked).toBe(
      true,
    );
    expect(waf.inspect(form('{"user":{"id":7}}', "application/json"), ids("block")).blocked).toBe(false);
  });

  test("enum values match exactly, and long values never fit", () => {
    const sort = policy({
      parameters: [{ targets: ["ARGS:sort"], kind: "enum", values: ["name", "date"], onMismatch: "block" }],
    });
    expect(waf.inspect(get("/p?sort=date"), sort).blocked).toBe(false);
    expect(waf.inspect(get("/p?sort=Date"), sort).blocked).toBe(true);
    const short = policy({
      parameters: [{ targets: ["ARGS:n"], kind: "integer", maxLength: 3, onMismatch: "block" }],
    });
    expect(waf.inspect(get("/p?n=123"), short).blocked).toBe(false);
    expect(waf.inspect(get("/p?n=1234"), short).blocked).toBe(true);
  });
});
