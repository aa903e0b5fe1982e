// Fuzzing the Trivy report reader (JSON SchemaVersion 2 and SARIF 2.1.0): reports come from CI
// artifacts anyone with a branch can shape. The contract: a report parses or is refused with Invalid
// saying where; no field shaped unexpectedly may fall into the parser's catch-all ("cannot read the
// report (TypeError)"), which means code that did not expect it; and each parse is quick.
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { Invalid } from "../../../platform/errors.ts";
import { jsonErrorOffset, parseTrivyReport } from "./parse.ts";
import {
  paths,
  replaced,
  REMOVED,
  hostileValue as hostile,
  textEdits,
  timed,
} from "../../../../test/support/fuzz.ts";

// Hundreds of inputs per property: on a loaded 2-core CI they need more than the default 30 s.
vi.setConfig({ testTimeout: 120_000 });

const BOUND_MS = 1000;

// Our own small reports in Trivy's shapes: one finding of each kind.
const jsonSample: Json = {
  SchemaVersion: 2,
  ArtifactName: "registry.example/shop:1.4.2",
  ArtifactType: "container_image",
  Trivy: { Version: "0.58.0" },
  Metadata: { OS: { Family: "alpine", Name: "3.19.1" } },
  Results: [
    {
      Target: "registry.example/shop:1.4.2 (alpine 3.19.1)",
      Class: "os-pkgs",
      Type: "alpine",
      Packages: [{ Name: "libssl3", Version: "3.1.4-r5", Locations: [{ StartLine: 3 }] }],
      Vulnerabilities: [
        {
          VulnerabilityID: "CVE-2024-0001",
          PkgName: "libssl3",
          InstalledVersion: "3.1.4-r5",
          FixedVersion: "3.1.4-r6",
          Status: "fixed",
          Severity: "HIGH",
          Title: "a made-up flaw for fuzzing",
          CweIDs: ["CWE-787"],
          CVSS: { nvd: { V3Score: 7.5, V3Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N" } },
        },
      ],
    },
    {
      Target: "Dockerfile",
      Class: "config",
      Type: "dockerfile",
      Misconfigurations: [
        {
          ID: "DS002",
          AVDID: "AVD-DS-0002",
          Title: "Image user should not be 'root'",
          Severity: "HIGH",
          Status: "FAIL",
          CauseMetadata: { Resource: "", StartLine: 1, EndLine: 1 },
        },
      ],
    },
    {
      Target: "app/settings.py",
      Class: "secret",
      Secrets: [
        {
          RuleID: "aws-access-key-id",
          Category: "AWS",
          Severity: "CRITICAL",
          Title: "AWS key",
          StartLine: 4,
        },
      ],
      Licenses: [{ Name: "AGPL-3.0", PkgName: "x", Severity: "HIGH", Category: "forbidden" }],
    },
  ],
};
const sarifSample: Json = {
  version: "2.1.0",
  runs: [
    {
      tool: {
        driver: {
          name: "Trivy",
          version: "0.58.0",
          rules: [
            {
              id: "CVE-2024-0001",
              name: "OsPackageVulnerability",
              shortDescription: { text: "a made-up flaw" },
              properties: { tags: ["vulnerability", "security", "HIGH"], "security-severity": "7.5" },
            },
          ],
        },
      },
      results: [
        {
          ruleId: "CVE-2024-0001",
          ruleIndex: 0,
          level: "error",
          message: { text: "Package: libssl3\nInstalled Version: 3.1.4-r5\nFixed Version: 3.1.4-r6" },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: "library/shop" },
                region: { startLine: 1, endLine: 1, startColumn: 1, endColumn: 1 },
              },
            },
          ],
        },
      ],
      properties: { imageName: "registry.example/shop:1.4.2" },
    },
  ],
};

/** Parses `text`: it must parse or throw an Invalid that is not the catch-all, within the bound. */
function parsesOrInvalid(text: string): void {
  const run = () => {
    try {
      const report = parseTrivyReport(text, "report.json");
      expect(report.findings.length).toBeGreaterThanOrEqual(0);
      for (const f of report.findings) expect(f.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    } catch (error) {
      if (!(error instanceof Invalid)) throw error;
      expect(error.message).not.toMatch(/cannot read the report/);
      expect(error.where).toMatch(/^report\.json/);
      // A syntax error names a line and column that exist in the text.
      const at = /:(\d+):(\d+)$/.exec(error.where ?? "");
      if (at) {
        const lines = text.replace(/^\ufeff/, "").split("\n");
        const line = Number(at[1]);
        expect(line).toBeGreaterThanOrEqual(1);
        expect(line).toBeLessThanOrEqual(lines.length);
        expect(Number(at[2])).toBeLessThanOrEqual((lines[line - 1]?.length ?? 0) + 1);
      }
    }
  };
  timed("one parse", run, BOUND_MS);
}

// Hostile values to put anywhere in a report.
const hostileValue = hostile({
  strings: [
    "",
    "__proto__",
    "constructor",
    "[HIGH] CVE-1",
    "CRITICAL",
    "UNKNOWN",
    "2.1.0",
    "\u0000",
    "\ud800",
  ],
  keys: [],
  scalars: [1e308, -1e308, -0, 2 ** 53 + 1, 0.1, -1, 2, 99999999999, null, true, false],
  maxLength: 40,
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A sample with a few nodes replaced by hostile values or removed. */
const treeMutated = (sample: Json) => {
  const all = paths(sample);
  return fc
    .array(fc.tuple(fc.nat({ max: all.length - 1 }), fc.oneof(hostileValue, fc.constant(REMOVED))), {
      minLength: 1,
      maxLength: 4,
    })
    .map((edits) =>
      JSON.stringify(
        edits.reduce<unknown>(
          (doc, [i, value]) => replaced(doc, all[i] as (string | number)[], value),
          sample,
        ),
      ),
    );
};

/** A sample's text with a few characters flipped, spans cut or duplicated. */
const textMutated = (text: string) =>
  textEdits(text, {
    flips: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    maxCut: 60,
    maxDup: 60,
  });

describe("parseTrivyReport", () => {
  it("reads both samples (the bases the mutations below start from)", () => {
    expect(parseTrivyReport(JSON.stringify(jsonSample), "r.json").stats).toMatchObject({
      vulnerabilities: 1,
      misconfigurations: 1,
      secrets: 1,
      licenses: 1,
    });
    expect(parseTrivyReport(JSON.stringify(sarifSample), "r.sarif").findings).toHaveLength(1);
  });

  it("parses or refuses a report with hostile values anywhere", () => {
    fc.assert(fc.property(fc.oneof(treeMutated(jsonSample), treeMutated(sarifSample)), parsesOrInvalid), {
      numRuns: 3000,
    });
  });

  it("parses or refuses a report with flipped, cut or duplicated text", () => {
    fc.assert(
      fc.property(
        fc.oneof(textMutated(JSON.stringify(jsonSample, null, 2)), textMutated(JSON.stringify(sarifSample))),
        parsesOrInvalid,
      ),
      { numRuns: 2000 },
    );
  });

  it("refuses arbitrary text and deep nesting with a position", () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300, unit: "binary" }),
      fc.json({ maxDepth: 4 }),
      fc
        .tuple(
          fc.constantFrom("[", '{"a":', '{"Results":[', '"\\u', "-", "1e", '"\\'),
          fc.integer({ min: 1, max: 16_000 }),
        )
        .map(([unit, n]) => unit.repeat(n).slice(0, 64 * 1024)),
    );
    fc.assert(fc.property(text, parsesOrInvalid), { numRuns: 1000 });
  });

  it("places a JSON syntax error inside the text", () => {
    fc.assert(
      fc.property(textMutated(JSON.stringify(jsonSample)), (s) => {
        const offset = jsonErrorOffset(s);
        expect(offset).toBeGreaterThanOrEqual(0);
        expect(offset).toBeLessThanOrEqual(s.length);
        let valid = true;
        try {
          JSON.parse(s);
        } catch {
          valid = false;
        }
        // The checker agrees with V8 on what is valid: valid text has no error offset past 0.
        if (valid) expect(offset).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });
});
