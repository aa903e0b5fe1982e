// Fuzzing the YAML files read through readYaml (playbooks, detection rule files, .rampartignore.yaml,
// DPIA and register files) and the RBAC reader: anchors, aliases, alias bombs, collection keys and
// broken text. The contract: each parser returns or throws a located error whose position lies
// inside the file; nothing else is thrown (no bare ReferenceError from the yaml library); each call
// is fast.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { aliasBomb, timed } from "../../test/support/fuzz.ts";
import { parseRampartIgnore } from "../appsec/scan/trivy/ignore.ts";
import { parseRulesFile } from "../cli/detect.ts";
import { parseRbac } from "../identity/iam/k8s/rbac.ts";
import { parsePlaybook } from "../monitoring/playbooks/schema.ts";
import { Invalid } from "../platform/errors.ts";
import { ConfigError } from "./errors.ts";
import { readYaml } from "./yaml.ts";

vi.setConfig({ testTimeout: 120_000 });

const BOUND_MS = 1000;
const playbook = readFileSync(new URL("../../playbooks/credential-leak.yaml", import.meta.url), "utf8");
const rules = `rules:
  - id: admin-logins-burst
    title: Five admin sign-ins from one address
    priority: P2
    match: { type: identity.login, outcome: success }
    groupBy: [source]
    condition: { kind: count, threshold: 5, window: 10m }
  - id: any-secret-denied
    title: A secret read was refused
    priority: P3
    match: { type: secrets.read, outcome: denied }
    condition: { kind: each }
`;
const ignores = `ignores:
  - id: CVE-2019-18224
    reason: not reachable
    expires: 2026-12-31
    paths: ["usr/lib/**"]
`;
const rbac = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: reader, namespace: shop }
rules:
  - { apiGroups: [""], resources: [pods], verbs: [get, list] }
`;

const parsers: Record<string, { sample: string; parse: (text: string) => unknown }> = {
  playbook: { sample: playbook, parse: (t) => parsePlaybook(t, "f.yaml") },
  "detection rules": { sample: rules, parse: (t) => parseRulesFile(t, "f.yaml") },
  ".rampartignore.yaml": { sample: ignores, parse: (t) => parseRampartIgnore(t, "f.yaml") },
  "plain data": { sample: ignores, parse: (t) => readYaml(t, "f.yaml").data() },
  "RBAC objects": { sample: rbac, parse: (t) => parseRbac(t, "f.yaml") },
};

/** Returns, or throws a ConfigError (or the RBAC reader's Invalid) located inside `text`. */
function parsesOrLocated(parse: (text: string) => unknown, text: string): void {
  timed(
    "one parse",
    () => {
      try {
        parse(text);
      } catch (error) {
        if (error instanceof Invalid) return;
        if (!(error instanceof ConfigError)) throw error;
        const lines = text.split("\n");
        expect(error.issues.length).toBeGreaterThan(0);
        for (const issue of error.issues) {
          expect(issue.file).toBe("f.yaml");
          expect(issue.line).toBeLessThanOrEqual(lines.length);
          expect(issue.column).toBeLessThanOrEqual((lines[issue.line - 1] ?? "").length + 1);
        }
      }
    },
    BOUND_MS,
  );
}

const insertion = fc.constantFrom(
  "&a ",
  "*a",
  "*b",
  "&b [*a, *a, *a]",
  "? [x]\n: y",
  "{[a]: 1}",
  "<<: *a",
  "- ",
  ": ",
  "\n",
  "  ",
  "[",
  "{",
  "!!binary ",
  "\0",
  "__proto__: ",
);

/** The sample with insertions at random places, or cut, or followed by an alias bomb. */
const mutated = (sample: string) =>
  fc.oneof(
    fc
      .array(fc.tuple(fc.nat({ max: sample.length }), insertion), { minLength: 1, maxLength: 5 })
      .map((edits) => edits.reduce((t, [at, s]) => t.slice(0, at) + s + t.slice(at), sample)),
    fc.nat({ max: sample.length }).map((at) => sample.slice(0, at)),
    fc.integer({ min: 1, max: 9 }).map((levels) => `${sample}${aliasBomb(levels)}`),
    fc.string({ maxLength: 200, unit: "binary" }),
  );

describe("YAML files read through readYaml, fuzzed", () => {
  for (const [name, { sample, parse }] of Object.entries(parsers)) {
    it(`${name}: parses or refuses with a position, within a bound`, () => {
      parse(sample); // the sample itself is valid
      fc.assert(
        fc.property(mutated(sample), (text) => parsesOrLocated(parse, text)),
        { numRuns: 300 },
      );
    });
  }

  // The cases the properties above shrink to.
  it("locates an alias with no anchor, an alias bomb and a list used as a key", () => {
    const issues = (text: string) => {
      try {
        readYaml(text, "f.yaml").data();
      } catch (error) {
        if (error instanceof ConfigError)
          return error.issues.map((i) => `${i.line}:${i.column} ${i.message}`);
        throw error;
      }
      return [];
    };
    expect(issues("ignores: *a\n")).toEqual(["1:10 alias *a has no anchor &a before it"]);
    expect(issues(aliasBomb(4))).toEqual(["3:10 aliases expand more than 100 times (an alias bomb?)"]);
    expect(issues("x: 1\n? [a]\n: b\n")).toEqual(["2:3 a key must be a plain value, not a list or map"]);
    expect(issues(aliasBomb(2))).toEqual([]);
  });

  it("an alias bomb in a playbook is a ConfigError, not a crash", () => {
    expect(() => parsePlaybook(`${playbook}${aliasBomb(6)}`, "p.yaml")).toThrow(ConfigError);
    expect(() => parseRbac(`${rbac}${aliasBomb(6)}`, "r.yaml")).toThrow(/aliases expand more than 100 times/);
  });
});
