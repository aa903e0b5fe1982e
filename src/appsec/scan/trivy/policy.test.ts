import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Finding, ScanResult } from "../types.ts";
import { parseTrivyReport } from "./parse.ts";
import { applyUnfixedPolicy, hasFix, trivyGate } from "./policy.ts";

const evalDir = resolve(fileURLToPath(new URL("../../../../", import.meta.url)), "../shared/eval/trivy");
const findingsOf = (name: string) =>
  parseTrivyReport(readFileSync(resolve(evalDir, name), "utf8"), name).findings;
const resultOf = (findings: Finding[]): ScanResult => ({
  kind: "trivy",
  target: "r.json",
  startedAt: "2026-01-01T00:00:00.000Z",
  finishedAt: "2026-01-01T00:00:00.000Z",
  findings,
  stats: {},
});
const vuln = (status: string | null, fixed: string | null): Finding => ({
  rule: "CVE-1",
  severity: "high",
  title: "t",
  location: {},
  fingerprint: "00",
  details: { kind: "vulnerability", status, fixed },
});

describe("fixable or not", () => {
  it("follows Trivy's status, and the fixed version when a report has no status", () => {
    expect(hasFix(vuln("fixed", "1.2"))).toBe(true);
    for (const s of ["affected", "will_not_fix", "fix_deferred", "end_of_life", "under_investigation"])
      expect(hasFix(vuln(s, null))).toBe(false);
    expect(hasFix(vuln(null, "1.2"))).toBe(true);
    expect(hasFix(vuln(null, null))).toBe(false);
    expect(hasFix({ ...vuln(null, null), details: { kind: "misconfiguration" } })).toBe(true);
  });

  it("by default reports unfixed vulnerabilities as suppressed, with Trivy's status as the reason", () => {
    const fs = applyUnfixedPolicy(findingsOf("debian-buster.json"), false);
    expect(fs.find((f) => f.rule === "CVE-2019-18276")?.suppressed).toEqual({
      by: "policy",
      reason: "no fix available (affected)",
    });
    expect(fs.find((f) => f.rule === "CVE-2019-18224")?.suppressed).toBeUndefined();
    expect(applyUnfixedPolicy(findingsOf("debian-buster.json"), true).every((f) => !f.suppressed)).toBe(true);
  });
});

describe("the gate", () => {
  const debian = (includeUnfixed: boolean) =>
    resultOf(applyUnfixedPolicy(findingsOf("debian-buster.json"), includeUnfixed));

  it("fails at or above the threshold, on fixable findings only by default", () => {
    expect(trivyGate(debian(false), { failOn: "critical", failOnSlaBreach: true }).exit).toBe(1);
    expect(
      trivyGate(debian(false), { failOn: "low", failOnSlaBreach: true }).atOrAboveThreshold.map(
        (f) => f.rule,
      ),
    ).toEqual(["CVE-2019-18224"]);
    expect(trivyGate(debian(true), { failOn: "low", failOnSlaBreach: true }).atOrAboveThreshold).toHaveLength(
      2,
    );
    const alpine = resultOf(applyUnfixedPolicy(findingsOf("alpine-310.json"), false));
    expect(trivyGate(alpine, { failOn: "high", failOnSlaBreach: true }).exit).toBe(0);
    expect(trivyGate(alpine, { failOn: "medium", failOnSlaBreach: true }).exit).toBe(1);
    const helm = resultOf(findingsOf("helm_testchart.json"));
    expect(trivyGate(helm, { failOn: "critical", failOnSlaBreach: true }).exit).toBe(0);
    expect(
      trivyGate(helm, { failOn: "high", failOnSlaBreach: true }).atOrAboveThreshold.map((f) => f.rule),
    ).toEqual(["KSV-0118"]);
  });

  it("fails on a finding past its SLA whatever its severity, unless told not to", () => {
    const low = { ...findingsOf("helm_testchart.json")[1], details: { slaBreached: true } } as Finding;
    const r = resultOf([low]);
    expect(low.severity).toBe("low");
    expect(trivyGate(r, { failOn: "critical", failOnSlaBreach: true })).toMatchObject({
      exit: 1,
      slaBreached: [low],
    });
    expect(trivyGate(r, { failOn: "critical", failOnSlaBreach: false }).exit).toBe(0);
    const ignored = resultOf([{ ...low, suppressed: { by: "ignore", reason: "r", expires: "2026-12-31" } }]);
    expect(trivyGate(ignored, { failOn: "critical", failOnSlaBreach: true }).exit).toBe(0);
  });
});
