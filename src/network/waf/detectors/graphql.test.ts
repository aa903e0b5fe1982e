import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { createWaf } from "../engine.ts";
import {
  ALIAS_BLOCK,
  ALIAS_WARN,
  BATCH_BLOCK,
  BATCH_WARN,
  classifyGraphql,
  DEPTH_BLOCK,
  DEPTH_WARN,
  GRAPHQL_RULES,
  graphqlDetector,
  REPEAT_BLOCK,
  WIDE_WARN,
} from "./graphql.ts";

// A guard against super-linear work, not a speed target (those live in bench/): linear code takes a
// few ms on 64 KiB here, quadratic work seconds; the bound leaves room for a loaded CI machine.
const SUPERLINEAR_GUARD_MS = 250;

/** Rules matched at paranoia `pl` or below over every decoded variant, as the engine runs them. */
const rulesAt = (value: string, pl = 1, name = "ARGS_JSON:query"): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      graphqlDetector
        .inspect({ name, value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

/** A query nested `levels` selection sets deep, the operation's braces included. */
const nested = (levels: number): string => {
  let inner = "id";
  for (let i = 1; i < levels; i++) inner = `f${i} { ${inner} }`;
  return `query { ${inner} }`;
};

/** `count` aliases of one field. */
const aliased = (count: number): string =>
  `mutation { ${Array.from({ length: count }, (_, i) => `a${i}: login(user: "admin", code: "${1000 + i}") { token }`).join(" ")} }`;

const FULL_INTROSPECTION = `query IntrospectionQuery { __schema { queryType { name } mutationType { name }
  subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description
  args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue }
  interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name } } } } } } } }`;

/** A query a Relay client sends: connections nested twelve selection sets deep. */
const RELAY_QUERY = `query RepoQuery($owner: String!, $name: String!) { repository(owner: $owner, name: $name) {
  pullRequests(first: 10, states: [OPEN]) { edges { node { title reviews(first: 5) { edges { node {
  comments(first: 5) { edges { node { author { login avatarUrl(size: 32) } body } } } } } } } } } } }`;

describe("graphqlDetector: rules table", () => {
  it("names every rule graphql-… with the attack-graphql tag first", () => {
    for (const [id, r] of Object.entries(GRAPHQL_RULES)) {
      expect(id.startsWith("graphql-")).toBe(true);
      expect(r.tags[0]).toBe("attack-graphql");
    }
  });
  it("blocks on one match at PL1 only", () => {
    for (const r of Object.values(GRAPHQL_RULES)) expect(r.severity === "critical").toBe(r.paranoia === 1);
  });
});

describe("graphqlDetector: introspection", () => {
  const attacks: [string, string][] = [
    ["full introspection", FULL_INTROSPECTION],
    ["minimal", "{__schema{types{name}}}"],
    ["operation name only", "IntrospectionQuery{__schema {queryType { name }}"],
    ["commas and comments", "query{__schema,#x\n{types{name}}}"],
    ["aliased", "{ s: __schema { types { name } } }"],
    ["in a JSON string", '{"query": "{__schema{types{name}}}"}'],
    ["URL-encoded", "%7B__schema%7Btypes%7Bname%7D%7D%7D"],
    ["double URL-encoded", "%257B__schema%257Btypes%257Bname%257D%257D%257D"],
    ["directive before the set", "{ __schema @include(if: true) { types { name } } }"],
  ];
  it.each(attacks)("%s", (_, value) => {
    expect(rulesAt(value)).toContain("graphql-introspection");
  });
  it("reads a single type's introspection at PL2 only", () => {
    const q = '{ __type(name: "User") { name fields { name } } }';
    expect(rulesAt(q, 2)).toContain("graphql-type-introspection");
    expect(rulesAt(q, 1)).toEqual([]);
  });
  it("finds it in a GET query parameter and a JSON body through the engine", () => {
    const waf = createWaf({ detectors: [graphqlDetector] });
    const policy = { mode: "block" as const, paranoia: 1 as const, threshold: 5, exclusions: [] };
    const get = waf.inspect(
      { method: "GET", path: `/graphql?query=${encodeURIComponent("{__schema{types{name}}}")}`, headers: {} },
      policy,
    );
    expect(get.blocked).toBe(true);
    const post = waf.inspect(
      {
        method: "POST",
        path: "/graphql",
        headers: { "content-type": "application/json" },
        body: Buffer.from(JSON.stringify({ query: FULL_INTROSPECTION, operationName: "IntrospectionQuery" })),
      },
      policy,
    );
    expect(post.matches.map((m) => m.target)).toEqual(["ARGS_JSON:query"]);
    const excluded = waf.inspect(
      { method: "GET", path: `/graphql?query=${encodeURIComponent("{__schema{types{name}}}")}`, headers: {} },
      { ...policy, exclusions: [{ rules: ["graphql-introspection"] }] },
    );
    expect(excluded.blocked).toBe(false);
  });
});

describe("graphqlDetector: depth", () => {
  it("blocks nesting at the block depth, warns from the warn depth", () => {
    expect(rulesAt(nested(DEPTH_BLOCK))).toEqual(["graphql-depth"]);
    expect(rulesAt(nested(DEPTH_BLOCK - 1))).toEqual([]);
    expect(rulesAt(nested(DEPTH_BLOCK - 1), 2)).toEqual(["graphql-deep-nesting"]);
    expect(rulesAt(nested(DEPTH_WARN), 2)).toEqual(["graphql-deep-nesting"]);
    expect(rulesAt(nested(DEPTH_WARN - 1), 2)).toEqual([]);
  });
  it("does not count braces in arguments, strings, block strings or comments", () => {
    const deepInput = `{ users(filter: ${"{a: ".repeat(30)}1${"}".repeat(30)}) { id } }`;
    expect(rulesAt(deepInput, 2)).toEqual([]);
    expect(rulesAt(`{ search(q: "${"{".repeat(40)}") { id } }`, 2)).toEqual([]);
    expect(rulesAt(`{ search(q: """ ${"{ ".repeat(40)}""") { id } }`, 2)).toEqual([]);
    expect(rulesAt(`{ me { id } # ${"{".repeat(40)}\n}`, 2)).toEqual([]);
  });
});

describe("graphqlDetector: aliases and repeated fields", () => {
  it("blocks one field aliased past the flood limit", () => {
    expect(rulesAt(aliased(ALIAS_BLOCK))).toContain("graphql-alias-flood");
    expect(rulesAt(aliased(ALIAS_BLOCK - 1))).toEqual([]);
  });
  it("warns at PL2 from the warn limit", () => {
    expect(rulesAt(aliased(ALIAS_WARN), 2)).toEqual(["graphql-alias-batch"]);
    expect(rulesAt(aliased(ALIAS_WARN - 1), 2)).toEqual([]);
  });
  it("blocks one field repeated in one selection set", () => {
    expect(rulesAt(`query { ${"__typename ".repeat(REPEAT_BLOCK)}}`)).toContain("graphql-alias-flood");
    expect(rulesAt(`query { ${"__typename ".repeat(REPEAT_BLOCK - 1)}}`)).toEqual([]);
  });
  it("does not count repeats across selection sets", () => {
    const many = Array.from({ length: 40 }, (_, i) => `f${i} { id name }`).join(" ");
    expect(rulesAt(`query { ${many} }`)).toEqual([]);
  });
  it("reads JSON with its quotes stripped as JSON, not as aliases", () => {
    const items = Array.from({ length: 80 }, (_, i) => `{"type": "product", "id": ${i}, "name": "item"}`);
    const json = `{"items": [${items.join(", ")}]}`;
    expect(rulesAt(json, 2, "ARGS:data")).toEqual([]);
    const text = `{"description": "${"the cat and the dog and the bird ".repeat(20)}"}`;
    expect(rulesAt(text, 2, "ARGS:data")).toEqual([]);
    expect(rulesAt(`{"a": ${'{"b": '.repeat(30)}1${"}".repeat(30)}}`, 2, "ARGS:data")).toEqual([]);
  });
  it("counts an alias toward the flood only when the field takes arguments", () => {
    const noArgs = `query { ${Array.from({ length: ALIAS_BLOCK }, (_, i) => `m${i}: me { id }`).join(" ")} }`;
    expect(rulesAt(noArgs)).toEqual([]);
  });
  it("warns at PL2 on a very wide selection set", () => {
    const wide = `query { ${Array.from({ length: WIDE_WARN }, (_, i) => `w${i}`).join(" ")} }`;
    expect(rulesAt(wide, 2)).toEqual(["graphql-wide-selection"]);
    expect(rulesAt(wide, 1)).toEqual([]);
  });
});

describe("graphqlDetector: batches", () => {
  it("reads the operation's index in a JSON batch", () => {
    expect(rulesAt("{ me { id } }", 1, `ARGS_JSON:[${BATCH_BLOCK}].query`)).toEqual(["graphql-batch-flood"]);
    expect(rulesAt("{ me { id } }", 1, `ARGS_JSON:[${BATCH_BLOCK - 1}].query`)).toEqual([]);
    expect(rulesAt("query { me { id } }", 2, `ARGS_JSON:[${BATCH_WARN}].query`)).toEqual(["graphql-batch"]);
    expect(rulesAt("query { me { id } }", 2, `ARGS_JSON:[${BATCH_WARN - 1}].query`)).toEqual([]);
    // other arrays of `query` strings (search APIs) are not GraphQL
    expect(rulesAt("red shoes", 2, "ARGS_JSON:[40].query")).toEqual([]);
  });
  it("blocks a large batch through the engine", () => {
    const waf = createWaf({ detectors: [graphqlDetector] });
    const batch = Array.from({ length: 50 }, (_, i) => ({
      query: `mutation { login(code: "${i}") { token } }`,
    }));
    const verdict = waf.inspect(
      {
        method: "POST",
        path: "/graphql",
        headers: { "content-type": "application/json" },
        body: Buffer.from(JSON.stringify(batch)),
      },
      { mode: "block", paranoia: 1, threshold: 5, exclusions: [] },
    );
    expect(verdict.blocked).toBe(true);
  });
});

describe("graphqlDetector: benign look-alikes at PL2", () => {
  const benign: [string, string][] = [
    ["Relay connections", RELAY_QUERY],
    ["__typename", "{ user(id: 1) { __typename id name } }"],
    ["Apollo query", "query GetDogs { dogs { id breed __typename } }"],
    ["inline fragments", 'query { node(id: "1") { ... on User { name } ... on Org { name } } }'],
    ["a few aliases", "{ small: image(size: 64) { url } large: image(size: 512) { url } }"],
    ["variables", "query Q($id: ID!, $f: Filter = {a: {b: 1}}) { thing(id: $id, filter: $f) { id } }"],
    ["mutation", 'mutation { createPost(input: {title: "a {b} c", body: """x { y }"""}) { id } }'],
    ["prose about introspection", "Disable __schema introspection in production"],
    ["a Python attribute", "self.__schema = schema"],
    ["a JavaScript object", "{ a: b, c: d }"],
    ["JSON", '{"query": {"bool": {"must": []}}}'],
  ];
  it.each(benign)("%s", (_, value) => {
    expect(rulesAt(value, 2)).toEqual([]);
  });
});

describe("graphqlDetector: robustness", () => {
  it("never throws", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 30 }), (s, n) => {
        graphqlDetector.inspect({ name: n, value: s });
      }),
      { numRuns: 300 },
    );
    const alphabet = fc.constantFrom(
      "{",
      "}",
      "(",
      ")",
      "a",
      ":",
      "...",
      "on",
      "@",
      '"',
      '"""',
      "#",
      "\n",
      " ",
      "__schema",
    );
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 80 }), (parts) => {
        classifyGraphql(`{${parts.join("")}`, "ARGS_JSON:[3].query");
      }),
      { numRuns: 300 },
    );
  });
  it("stays linear on adversarial input", () => {
    const units = [
      "{",
      "{a",
      "{a ",
      "a: b ",
      "a:",
      "(",
      "}",
      "__schema#",
      "__type ",
      '"',
      '"""',
      "#",
      "...",
      "... on A ",
    ];
    const inputs = units.map((u) => `{ ${u.repeat(Math.ceil(65536 / u.length))}`.slice(0, 65536));
    for (const v of inputs) classifyGraphql(v); // warm-up
    for (const v of inputs) {
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        classifyGraphql(v);
        best = Math.min(best, performance.now() - t0);
      }
      expect(best).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});
