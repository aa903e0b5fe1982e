import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { createWaf } from "../engine.ts";
import { classifyNosql, NOSQL_RULES, nosqlDetector } from "./nosql.ts";

// A guard against super-linear work, not a speed target (those live in bench/): linear code takes a
// few ms on 64 KiB here, quadratic work seconds; the bound leaves room for a loaded CI machine.
const SUPERLINEAR_GUARD_MS = 250;

/** Rules matched at paranoia `pl` or below over every decoded variant, as the engine runs them. */
const rulesAt = (value: string, pl = 1, name = "ARGS:q"): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      nosqlDetector
        .inspect({ name, value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

describe("nosqlDetector: rules table", () => {
  it("names every rule nosql-… with the attack-nosql tag first", () => {
    for (const [id, r] of Object.entries(NOSQL_RULES)) {
      expect(id.startsWith("nosql-")).toBe(true);
      expect(r.tags[0]).toBe("attack-nosql");
    }
  });
  it("blocks on one match at PL1 only", () => {
    for (const r of Object.values(NOSQL_RULES)) expect(r.severity === "critical").toBe(r.paranoia === 1);
  });
});

describe("nosqlDetector: operators in key position", () => {
  const cases: [string, string, string][] = [
    ["ARGS_NAMES:user[$ne]", "user[$ne]", "nosql-operator-injection"],
    ["ARGS_NAMES:password[$gt]", "password[$gt]", "nosql-operator-injection"],
    ["ARGS_NAMES:username[$regex]", "username[$regex]", "nosql-operator-injection"],
    ["ARGS_NAMES:a[b][$in][]", "a[b][$in][]", "nosql-operator-injection"],
    ["ARGS_NAMES:$or[0][a]", "$or[0][a]", "nosql-operator-injection"],
    ["ARGS_NAMES:user[%24ne]", "user[%24ne]", "nosql-operator-injection"],
    ["ARGS_NAMES:user[$NE]", "user[$NE]", "nosql-operator-injection"],
    ["ARGS_JSON_NAMES:password.$ne", "$ne", "nosql-operator-injection"],
    ["ARGS_JSON_NAMES:a.$elemMatch", "$elemMatch", "nosql-operator-injection"],
    ["ARGS_JSON_NAMES:$expr", "$expr", "nosql-operator-injection"],
    ["ARGS_JSON_NAMES:$lookup", "$lookup", "nosql-operator-injection"],
    ["ARGS_JSON_NAMES:user.$exists", "$exists", "nosql-operator-injection"],
    ["ARGS:mongoQ", "[$lte]asdfsd", "nosql-operator-injection"],
    ["XML:root/a/@probe", "u_id[$ne]", "nosql-operator-injection"],
    ["ARGS:filter", '{"$gt": ""}', "nosql-operator-injection"],
    ["ARGS:filter", '{"username": {"$ne": null}, "password": {"$ne": null}}', "nosql-operator-injection"],
    ["ARGS:filter", "{'$regex': '^adm'}", "nosql-operator-injection"],
    ["ARGS:q", "', $or: [ {}, { 'order':'order", "nosql-operator-injection"],
    ["ARGS:q", "%7B%22%24gt%22%3A%22%22%7D", "nosql-operator-injection"],
    ["ARGS:q", "eyIkbmUiOiAiYWRtaW4ifQ==", "nosql-operator-injection"], // base64 of {"$ne": "admin"}
    ["ARGS_NAMES:$where", "$where", "nosql-js-operator"],
    ["ARGS_JSON_NAMES:$where", "$where", "nosql-js-operator"],
    ["ARGS_JSON_NAMES:a.$function", "$function", "nosql-js-operator"],
    ["ARGS_JSON_NAMES:$accumulator", "$accumulator", "nosql-js-operator"],
    ["ARGS:q", "{$where: 'sleep(5000)'}", "nosql-js-operator"],
    ["ARGS:q", "true, $where: '99 == 88'", "nosql-js-operator"],
    ["ARGS:q", "$where: 'this.a == 1'", "nosql-js-operator"],
    ["ARGS_NAMES:[$where]", "[$where]", "nosql-js-operator"],
  ];
  it.each(cases)("%s = %s → %s", (name, value, rule) => {
    expect(rulesAt(value, 1, name)).toContain(rule);
  });
  it("reads update operators at PL2 only", () => {
    expect(rulesAt("$set", 2, "ARGS_JSON_NAMES:$set")).toEqual(["nosql-update-operator"]);
    expect(rulesAt("$set", 1, "ARGS_JSON_NAMES:$set")).toEqual([]);
    expect(rulesAt("user[$inc]", 2, "ARGS_NAMES:user[$inc]")).toEqual(["nosql-update-operator"]);
  });
  it("catches the operator in a JSON body through the engine", () => {
    const waf = createWaf({ detectors: [nosqlDetector] });
    const verdict = waf.inspect(
      {
        method: "POST",
        path: "/login",
        headers: { "content-type": "application/json" },
        body: Buffer.from('{"user": "admin", "password": {"$ne": 1}}'),
      },
      { mode: "block", paranoia: 1, threshold: 5, exclusions: [] },
    );
    expect(verdict.blocked).toBe(true);
    expect(verdict.matches[0]!.target).toBe("ARGS_JSON_NAMES:password.$ne");
  });
});

describe("nosqlDetector: JavaScript break-out", () => {
  const attacks = [
    "';sleep(5000);'",
    "'; sleep(5000); var x='",
    "' || 'a'=='a",
    "' || 1==1//",
    "admin'||'1'=='1",
    "' && this.password.match(/.*/)//",
    "'; return true; var foo='",
    '"; return db.version(); "',
    "1;sleep(5000)",
    "0;var date=new Date(); do{curDate = new Date();}while(curDate-date<10000)",
    ";var date = new Date(); do{curDate = new Date();}while(curDate-date",
    "' ; while(true){} '",
    "');return this.isAdmin;//",
    "'%3Bsleep(5000)%3B'",
    "%27%20%7C%7C%20%27a%27%3D%3D%27a",
    "&#39;; SLEEP(5000); &#39;",
  ];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value)).toContain("nosql-js-breakout");
  });
});

describe("nosqlDetector: Mongo shell", () => {
  const attacks = [
    "db.injection.insert({success:1});",
    "';db.users.drop();'",
    "db.getSiblingDB('admin').getUsers()",
    "; db.users.find( {} )",
    "DB.USERS.REMOVE({})",
    "'db.users.drop()",
    "x' || db.users.drop() || '",
    "ZGIuaW5qZWN0aW9uLmluc2VydCh7c3VjY2VzczoxfSk7", // base64 of the first
  ];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value)).toContain("nosql-shell-command");
  });
  it("reads shell code inside prose at PL2 only", () => {
    expect(rulesAt("use db.users.find() to list users", 2)).toEqual(["nosql-shell-code"]);
    expect(rulesAt("use db.users.find() to list users", 1)).toEqual([]);
    expect(rulesAt("try running 'db.users.find()' in the shell", 1)).toEqual([]);
  });
});

describe("nosqlDetector: benign look-alikes at PL1", () => {
  const cases: [string, string][] = [
    ["ARGS:q", "$100"],
    ["ARGS:q", "Price: $ne"],
    ["ARGS:q", "It costs $in total"],
    ["ARGS:q", "$text"],
    ["ARGS:q", "$gt"],
    ["ARGS:q", "The function $where is used in MongoDB"],
    ["ARGS:q", "jQuery.each($items, fn)"],
    ["ARGS:q", "a && b || c"],
    ["ARGS:q", 'var a = "x"; var b = 1;'],
    ["ARGS:q", "Hello; do you want it?"],
    ["ARGS:q", "'hello'; let me know"],
    ["ARGS:q", '"Yes"; return to sender'],
    ["ARGS:q", 'He said "no"; if (you) ask'],
    ["ARGS:q", "Great; while (this) is fine"],
    ["ARGS:q", "It's late; for (now) bye"],
    ["ARGS:q", "O'Brien || Smith"],
    ["ARGS:q", "mydb.users.find"],
    ["ARGS:q", "dbx.find()"],
    ["ARGS:q", '{"query": {"name": "x"}}'],
    ["ARGS_NAMES:$filter", "$filter"], // OData
    ["ARGS_NAMES:$top", "$top"],
    ["ARGS_NAMES:$search", "$search"],
    ["ARGS_NAMES:$select", "$select"],
    ["ARGS_NAMES:$count", "$count"],
    ["ARGS_JSON_NAMES:$schema", "$schema"], // JSON Schema
    ["ARGS_JSON_NAMES:$ref", "$ref"],
    ["ARGS_JSON_NAMES:$id", "$id"],
    ["ARGS_JSON_NAMES:_id.$oid", "$oid"], // Extended JSON
    ["ARGS_JSON_NAMES:$date", "$date"],
    ["ARGS_JSON_NAMES:properties.$current_url", "$current_url"], // analytics SDKs
    ["ARGS_JSON_NAMES:properties.$set", "$set"],
    ["ARGS:q", "[$100]"],
    ["ARGS_NAMES:items[$key]", "items[$key]"],
    ["ARGS_JSON_NAMES:$type", "$type"], // Json.NET type names
    ["ARGS:q", '{"$type": "App.Models.User, App", "$id": "1"}'],
    ["ARGS:q", 'const kept = header.split(";").filter((pair) => pair !== "x");'],
    ["ARGS:q", 'const kind = op === "||" || op === "&&" ? "l" : "o";'],
    ["ARGS:q", "a statement: `; if (x)` or `; begin`"],
    ["ARGS:q", "DEAR FINN,--I think it would do; copy should reach us second post"],
  ];
  it.each(cases)("%s = %s", (name, value) => {
    expect(rulesAt(value, 1, name)).toEqual([]);
  });
});

describe("nosqlDetector: robustness", () => {
  it("never throws", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 30 }), (s, n) => {
        nosqlDetector.inspect({ name: n, value: s });
      }),
      { numRuns: 300 },
    );
    const alphabet = fc.constantFrom(
      "$ne",
      "$where",
      "[",
      "]",
      "{",
      "}",
      ":",
      "'",
      '"',
      ";",
      "||",
      "sleep(",
      "db.",
      " ",
    );
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 80 }), (parts) => {
        classifyNosql(parts.join(""), "ARGS_NAMES:x");
      }),
      { numRuns: 300 },
    );
  });
  it("stays linear on adversarial input", () => {
    const units = [
      "$",
      "$ne",
      "$ne ",
      "[$ne",
      "{$ne:",
      "$ne :",
      "'",
      "';",
      "' ||",
      "; ",
      "db.",
      "db.a.",
      "==",
      "var a",
      "return ",
    ];
    const inputs = units.map((u) => u.repeat(Math.ceil(65536 / u.length)).slice(0, 65536));
    inputs.push(`';${" ".repeat(65530)}`, `{${" ".repeat(65530)}$ne${" ".repeat(65530)}`);
    for (const v of inputs) classifyNosql(v, "ARGS_NAMES:x"); // warm-up
    for (const v of inputs) {
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        classifyNosql(v, "ARGS_NAMES:x");
        best = Math.min(best, performance.now() - t0);
      }
      expect(best).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});
