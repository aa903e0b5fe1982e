// Fuzzing the Terraform plan reader and the IaC checks: `terraform show -json` output comes from CI,
// shaped by whoever writes the Terraform. The contract: a plan scans or is refused with Invalid
// naming the file; every check copes with any shape a resource's values may have; errors never
// quote the plan (its values may be secrets); each scan is quick.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { Invalid } from "../../../platform/errors.ts";
import { scanPlan } from "./index.ts";
import { paths, replaced, hostileValue as hostile, timed, boundFor } from "../../../../test/support/fuzz.ts";

// Hundreds of inputs per property: on a loaded 2-core CI they need more than the default 30 s.
vi.setConfig({ testTimeout: 120_000 });

const fixture = (name: string) =>
  readFileSync(new URL(`../../../../test/fixtures/iac/${name}`, import.meta.url), "utf8");
const samples = ["aws-insecure.json", "gcp-insecure.json", "azure-insecure.json", "modules-unknown.json"].map(
  (name) => JSON.parse(fixture(name)) as unknown,
);
const options = { target: "plan.json", regions: ["eu-west-1", "europe-west1", "westeurope"] };

/** Scans `text`: it must give a result or throw Invalid naming plan.json, within the bound. */
function scansOrInvalid(text: string): void {
  const run = () => {
    try {
      const result = scanPlan(text, options);
      for (const f of result.findings) expect(f.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    } catch (error) {
      if (!(error instanceof Invalid)) throw error;
      expect(error.where).toMatch(/^plan\.json(:\d+:\d+)?$/);
    }
  };
  timed("one call", run, boundFor(text));
}

const hostileValue = hostile({
  strings: [
    "",
    "*",
    "0.0.0.0/0",
    "::/0",
    "__proto__",
    "constructor",
    "toString",
    "1.0",
    "1.x",
    "create",
    "no-op",
  ],
  keys: ["toString", "values", "after", "actions"],
});

const treeMutated = fc.oneof(
  ...samples.map((sample) => {
    const all = paths(sample);
    return fc
      .array(fc.tuple(fc.nat({ max: all.length - 1 }), hostileValue), { minLength: 1, maxLength: 4 })
      .map((edits) =>
        JSON.stringify(
          edits.reduce((doc, [i, value]) => replaced(doc, all[i] as (string | number)[], value), sample),
        ),
      );
  }),
);

describe("scanPlan", () => {
  it("scans the fixtures (the bases the mutations below start from)", () => {
    for (const sample of samples)
      expect(scanPlan(JSON.stringify(sample), options).stats.resources).toBeGreaterThan(0);
  });

  it("scans or refuses plans with hostile values anywhere", () => {
    fc.assert(fc.property(treeMutated, scansOrInvalid), { numRuns: 1000 });
  });

  it("scans or refuses arbitrary text and deep nesting", () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300, unit: "binary" }),
      fc.json({ maxDepth: 4 }),
      fc
        .tuple(
          fc.constantFrom(
            "[",
            '{"a":',
            '{"format_version":"1.2","planned_values":{"root_module":{"child_modules":[',
          ),
          fc.integer({ min: 1, max: 16_000 }),
        )
        .map(([unit, n]) => unit.repeat(n).slice(0, 64 * 1024)),
      fc
        .tuple(fc.integer({ min: 1, max: 2000 }))
        .map(([n]) =>
          JSON.stringify({ format_version: "1.2", planned_values: { root_module: nestedModules(n) } }),
        ),
    );
    fc.assert(fc.property(text, scansOrInvalid), { numRuns: 300 });
  });

  it("never quotes the plan in a JSON syntax error", () => {
    fc.assert(
      fc.property(
        fc.string({
          minLength: 8,
          maxLength: 24,
          unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789".split("")),
        }),
        fc.constantFrom("x", "}", ",,", "'", "\u0000"),
        (secret, junk) => {
          const text = `{"format_version":"1.2","variables":{"db_password":{"value":"${secret}"${junk}}}}`;
          try {
            scanPlan(text, options);
          } catch (error) {
            if (!(error instanceof Invalid)) throw error;
            expect(error.message).not.toContain(secret.slice(-8));
            return;
          }
          throw new Error("expected Invalid");
        },
      ),
      { numRuns: 200 },
    );
  });
});

/** A root module whose child modules nest `depth` deep. */
function nestedModules(depth: number): unknown {
  let mod: Record<string, unknown> = {
    resources: [
      { address: "aws_s3_bucket.b", mode: "managed", type: "aws_s3_bucket", name: "b", values: {} },
    ],
  };
  for (let d = 0; d < depth; d++) mod = { child_modules: [mod] };
  return mod;
}
