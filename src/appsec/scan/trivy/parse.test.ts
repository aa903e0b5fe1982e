import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Invalid } from "../../../platform/errors.ts";
import { imageRepository, misconfigRule, parseTrivyReport, trivySeverity } from "./parse.ts";

// Real Trivy goldens (aquasecurity/trivy integration/testdata), kept outside the repository.
const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
const evalDir = resolve(repoRoot, "../shared/eval/trivy");
const sample = (name: string) => {
  const path = resolve(evalDir, name);
  return parseTrivyReport(readFileSync(path, "utf8"), path);
};

const invalid = (text: string): Invalid => {
  try {
    parseTrivyReport(text, "report.json");
  } catch (e) {
    if (e instanceof Invalid) return e;
    throw e;
  }
  throw new Error("expected Invalid");
};

describe("Trivy JSON samples", () => {
  it("alpine-310: four medium vulnerabilities, all with a fix", () => {
    const r = sample("alpine-310.json");
    expect(r.artifactName).toBe("testdata/fixtures/images/alpine-310.tar.gz");
    expect(r.findings.map((f) => [f.rule, f.location.path, f.severity, f.fix])).toEqual([
      ["CVE-2019-1549", "libcrypto1.1@1.1.1c-r0", "medium", "upgrade libcrypto1.1 to 1.1.1d-r0"],
      ["CVE-2019-1551", "libcrypto1.1@1.1.1c-r0", "medium", "upgrade libcrypto1.1 to 1.1.1d-r2"],
      ["CVE-2019-1549", "libssl1.1@1.1.1c-r0", "medium", "upgrade libssl1.1 to 1.1.1d-r0"],
      ["CVE-2019-1551", "libssl1.1@1.1.1c-r0", "medium", "upgrade libssl1.1 to 1.1.1d-r2"],
    ]);
    for (const f of r.findings) {
      expect(f.location.resource).toBe("testdata/fixtures/images/alpine-310.tar.gz (alpine 3.10.2)");
      expect(f.details).toMatchObject({ status: "fixed", class: "os-pkgs", cvss: 5.3, os: "alpine 3.10.2" });
      expect(f.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(new Set(r.findings.map((f) => f.fingerprint)).size).toBe(4);
    expect(r.stats).toMatchObject({ results: 1, vulnerabilities: 4 });
  });

  it("debian-buster: one critical with a fix, one low Trivy marks affected (no fix)", () => {
    const r = sample("debian-buster.json");
    const byId = new Map(r.findings.map((f) => [f.rule, f]));
    expect(byId.get("CVE-2019-18224")).toMatchObject({
      severity: "critical",
      fix: "upgrade libidn2-0 to 2.0.5-1+deb10u1",
      location: { path: "libidn2-0@2.0.5-1" },
      details: {
        package: "libidn2-0",
        installed: "2.0.5-1",
        fixed: "2.0.5-1+deb10u1",
        status: "fixed",
        cvss: 9.8,
      },
      references: ["CWE-787"],
    });
    const bash = byId.get("CVE-2019-18276");
    expect(bash).toMatchObject({ severity: "low", details: { status: "affected", fixed: null } });
    expect(bash?.fix).toBeUndefined();
    expect(r.findings).toHaveLength(2);
  });

  it("npm: one medium in package-lock.json, located at the package's line", () => {
    const r = sample("npm.json");
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]).toMatchObject({
      rule: "CVE-2019-11358",
      severity: "medium",
      fix: "upgrade jquery to 3.4.0",
      location: { file: "package-lock.json", line: 11, resource: "package-lock.json", path: "jquery@3.3.9" },
      details: { class: "lang-pkgs", type: "npm", primaryUrl: "https://avd.aquasec.com/nvd/cve-2019-11358" },
    });
  });

  it("helm_testchart: the six failed checks, none of the passes, with file and line", () => {
    const r = sample("helm_testchart.json");
    expect(r.findings.map((f) => f.rule)).toEqual([
      "KSV-0001",
      "KSV-0030",
      "KSV-0104",
      "KSV-0110",
      "KSV-0117",
      "KSV-0118",
    ]);
    expect(r.findings.map((f) => f.severity)).toEqual(["medium", "low", "medium", "low", "medium", "high"]);
    expect(r.findings[0]).toMatchObject({
      title:
        "Container 'testchart' of Deployment 'testchart' should set 'securityContext.allowPrivilegeEscalation' to false",
      fix: "Set 'set containers[].securityContext.allowPrivilegeEscalation' to 'false'.",
      location: { file: "templates/deployment.yaml", line: 28 },
      details: { kind: "misconfiguration", check: "Can elevate its own privileges" },
    });
    // Code lines (which may quote values) are never carried over.
    expect(JSON.stringify(r.findings)).not.toContain("readOnlyRootFilesystem: true");
  });
});

describe("Trivy SARIF", () => {
  it("gives the same vulnerabilities and fingerprints as the JSON report of the same scan", () => {
    const json = sample("alpine-310.json").findings;
    const sarif = sample("alpine-310.sarif.json");
    expect(sarif.format).toBe("sarif");
    expect(sarif.artifactName).toBe("testdata/fixtures/images/alpine-310.tar.gz");
    const shape = (fs: typeof json) =>
      fs.map((f) => ({
        rule: f.rule,
        severity: f.severity,
        fix: f.fix,
        path: f.location.path,
        fingerprint: f.fingerprint,
        title: f.title,
        package: f.details?.["package"],
        installed: f.details?.["installed"],
        fixed: f.details?.["fixed"],
        status: f.details?.["status"],
        cvss: f.details?.["cvss"],
        primaryUrl: f.details?.["primaryUrl"],
      }));
    expect(shape(sarif.findings)).toEqual(shape(json));
  });

  it("reads misconfigurations, redacts secrets and reads licences as Trivy's SARIF writes them", () => {
    const log = {
      version: "2.1.0",
      runs: [
        {
          tool: {
            driver: {
              name: "Trivy",
              rules: [
                {
                  id: "KSV001",
                  name: "Misconfiguration",
                  shortDescription: { text: "Can elevate its own privileges" },
                  properties: {
                    tags: ["misconfiguration", "security", "MEDIUM"],
                    "security-severity": "5.5",
                  },
                },
                {
                  id: "github-pat",
                  name: "Secret",
                  shortDescription: { text: "GitHub Personal Access Token" },
                  fullDescription: { text: "token = ghp_************************************" },
                  properties: { tags: ["secret", "security", "CRITICAL"] },
                },
                {
                  id: "gpl:GPL-3.0",
                  name: "License",
                  properties: { tags: ["license", "security", "HIGH"] },
                },
              ],
            },
          },
          results: [
            {
              ruleId: "KSV001",
              ruleIndex: 0,
              level: "warning",
              message: {
                text: "Artifact: deploy/app.yaml\nType: kubernetes\nVulnerability KSV001\nSeverity: MEDIUM\nMessage: Container 'app' should set allowPrivilegeEscalation to false\nLink: [KSV001](https://avd.aquasec.com/misconfig/ksv001)",
              },
              locations: [
                {
                  physicalLocation: {
                    artifactLocation: { uri: "deploy/app.yaml", uriBaseId: "ROOTPATH" },
                    region: { startLine: 12, endLine: 20, startColumn: 1, endColumn: 1 },
                  },
                },
              ],
            },
            {
              ruleId: "github-pat",
              ruleIndex: 1,
              level: "error",
              message: {
                text: "Artifact: src/config.ts\nType: \nSecret GitHub Personal Access Token\nSeverity: CRITICAL\nMatch: token = ghp_R4mp4rtT35tT0k3nV4lu3D0N0tL34k000000",
              },
              locations: [
                {
                  physicalLocation: {
                    artifactLocation: { uri: "src/config.ts" },
                    region: { startLine: 3, endLine: 3, startColumn: 1, endColumn: 1 },
                  },
                },
              ],
            },
            {
              ruleId: "gpl:GPL-3.0",
              ruleIndex: 2,
              level: "error",
              message: {
                text: "Artifact: package-lock.json\nLicense GPL-3.0\nPkgName: gpl\n Classification: restricted\n Path: node_modules/gpl/package.json",
              },
              locations: [{ physicalLocation: { artifactLocation: { uri: "package-lock.json" } } }],
            },
          ],
        },
      ],
    };
    const r = parseTrivyReport(JSON.stringify(log), "trivy.sarif");
    expect(r.findings.map((f) => [f.rule, f.severity, f.details?.["kind"]])).toEqual([
      ["KSV-0001", "medium", "misconfiguration"],
      ["github-pat", "critical", "secret"],
      ["GPL-3.0", "high", "license"],
    ]);
    expect(r.findings[0]?.location).toMatchObject({ file: "deploy/app.yaml", line: 12 });
    expect(r.findings[1]).toMatchObject({
      title: "GitHub Personal Access Token (value redacted)",
      location: { file: "src/config.ts", line: 3 },
    });
    expect(r.findings[2]).toMatchObject({ details: { package: "gpl", category: "restricted" } });
    expect(JSON.stringify(r)).not.toContain("ghp_");
  });

  it("refuses SARIF from another tool, another SARIF version, and a log without runs", () => {
    const other = { version: "2.1.0", runs: [{ tool: { driver: { name: "Semgrep" } }, results: [] }] };
    expect(invalid(JSON.stringify(other)).message).toMatch(/comes from 'Semgrep', not Trivy/);
    expect(invalid(JSON.stringify({ version: "2.0.0", runs: [] })).message).toMatch(/SARIF version "2.0.0"/);
    expect(invalid(JSON.stringify({ version: "2.1.0", runs: [] })).message).toMatch(/no run/);
  });
});

describe("secrets and licences in Trivy JSON", () => {
  it("keeps the rule, title and line of a secret, never its match or code", () => {
    const secretValue = "AKIAR4MP4RTT35TV4LU3"; // rampart:allow (Trivy's own fixture, not a live key)
    const report = {
      SchemaVersion: 2,
      ArtifactName: ".",
      ArtifactType: "filesystem",
      Results: [
        {
          Target: "app/settings.py",
          Class: "secret",
          Secrets: [
            {
              RuleID: "aws-access-key-id",
              Category: "AWS",
              Severity: "CRITICAL",
              Title: "AWS Access Key ID",
              StartLine: 7,
              EndLine: 7,
              Code: { Lines: [{ Number: 7, Content: `AWS_KEY = "${secretValue}"`, IsCause: true }] },
              Match: `AWS_KEY = "${secretValue}"`,
            },
          ],
        },
        {
          Target: "node_modules/x/package.json",
          Class: "license-file",
          Licenses: [
            { Severity: "CRITICAL", Category: "forbidden", PkgName: "x", Name: "AGPL-3.0", Link: "" },
          ],
        },
      ],
    };
    const r = parseTrivyReport(JSON.stringify(report), "fs.json");
    expect(r.findings[0]).toMatchObject({
      rule: "aws-access-key-id",
      severity: "critical",
      title: "AWS Access Key ID (value redacted)",
      location: { file: "app/settings.py", line: 7 },
      details: { category: "AWS" },
    });
    expect(JSON.stringify(r)).not.toContain(secretValue);
    expect(r.findings[1]).toMatchObject({
      rule: "AGPL-3.0",
      severity: "critical",
      title: "x is under AGPL-3.0",
    });
    expect(r.stats).toMatchObject({ secrets: 1, licenses: 1 });
  });
});

describe("normalisation", () => {
  it("misconfiguration ids take Trivy's current form from AVDID or the old id", () => {
    expect(misconfigRule("KSV001", "AVD-KSV-0001")).toBe("KSV-0001");
    expect(misconfigRule("KSV001")).toBe("KSV-0001");
    expect(misconfigRule("DS002")).toBe("DS-0002");
    expect(misconfigRule("AVD-AWS-0086")).toBe("AWS-0086");
    expect(misconfigRule("KSV-0104")).toBe("KSV-0104");
    expect(misconfigRule("custom-check")).toBe("custom-check");
  });

  it("an old report's KSV001 gets the same rule and fingerprint as a new report's KSV-0001", () => {
    const report = (id: string, avd?: string) =>
      JSON.stringify({
        SchemaVersion: 2,
        ArtifactName: "chart",
        ArtifactType: "repository",
        Results: [
          {
            Target: "templates/deployment.yaml",
            Class: "config",
            Misconfigurations: [
              { ID: id, ...(avd ? { AVDID: avd } : {}), Severity: "MEDIUM", Status: "FAIL", Message: "m" },
              { ID: "KSV002", Severity: "LOW", Status: "PASS", Message: "ok" },
            ],
          },
        ],
      });
    const old = parseTrivyReport(report("KSV001", "AVD-KSV-0001"), "old.json").findings;
    const now = parseTrivyReport(report("KSV-0001"), "new.json").findings;
    expect(old.map((f) => f.rule)).toEqual(["KSV-0001"]);
    expect(old[0]?.fingerprint).toBe(now[0]?.fingerprint);
  });

  it("UNKNOWN severity takes the CVSS band when there is a score, else low", () => {
    expect(trivySeverity("UNKNOWN", 9.1)).toBe("critical");
    expect(trivySeverity("UNKNOWN", 5)).toBe("medium");
    expect(trivySeverity("UNKNOWN", null)).toBe("low");
    expect(trivySeverity(undefined)).toBe("low");
    expect(trivySeverity("high")).toBe("high");
  });

  it("a new tag of the same image keeps its findings' fingerprints", () => {
    expect(imageRepository("registry.example.com:5000/shop/api:1.4.2")).toBe(
      "registry.example.com:5000/shop/api",
    );
    expect(imageRepository("shop/api@sha256:" + "a".repeat(64))).toBe("shop/api");
    const report = (tag: string) =>
      JSON.stringify({
        SchemaVersion: 2,
        ArtifactName: `shop/api:${tag}`,
        ArtifactType: "container_image",
        Results: [
          {
            Target: `shop/api:${tag} (debian 12.5)`,
            Class: "os-pkgs",
            Vulnerabilities: [{ VulnerabilityID: "CVE-2024-0001", PkgName: "zlib1g", InstalledVersion: "1" }],
          },
        ],
      });
    const a = parseTrivyReport(report("1.0"), "a.json").findings[0];
    const b = parseTrivyReport(report("1.1"), "b.json").findings[0];
    expect(a?.fingerprint).toBe(b?.fingerprint);
    expect(a?.location.resource).toBe("shop/api:1.0 (debian 12.5)");
  });

  it("two findings with the same identity in one report get different fingerprints", () => {
    const report = JSON.stringify({
      SchemaVersion: 2,
      Results: [
        {
          Target: "package-lock.json",
          Class: "lang-pkgs",
          Vulnerabilities: [
            {
              VulnerabilityID: "CVE-2021-23337",
              PkgName: "lodash",
              InstalledVersion: "4.17.4",
              FixedVersion: "4.17.21",
            },
            {
              VulnerabilityID: "CVE-2021-23337",
              PkgName: "lodash",
              InstalledVersion: "4.17.15",
              FixedVersion: "4.17.21",
            },
          ],
        },
      ],
    });
    const fs = parseTrivyReport(report, "r.json").findings;
    expect(fs[0]?.fingerprint).not.toBe(fs[1]?.fingerprint);
  });
});

describe("malformed reports", () => {
  it("names the line and column where the JSON breaks", () => {
    const e = invalid('{\n  "SchemaVersion": 2,\n  "Results": [,]\n}');
    expect(e.where).toBe("report.json:3:15");
    expect(e.message).toMatch(/^report\.json:3:15: not valid JSON/);
    expect(invalid("").where).toBe("report.json:1:1");
    expect(invalid('{"SchemaVersion": 2').message).toMatch(/not valid JSON/);
  });

  it("says what is missing or wrong", () => {
    expect(invalid(JSON.stringify({ SchemaVersion: 2, ArtifactName: "x" })).message).toMatch(
      /missing Results/,
    );
    expect(invalid(JSON.stringify({ SchemaVersion: 1, Results: [] })).message).toMatch(
      /SchemaVersion 1 is not supported: expected 2/,
    );
    expect(invalid(JSON.stringify({ Results: [] })).message).toMatch(/missing SchemaVersion/);
    expect(invalid(JSON.stringify([{ Target: "x" }])).message).toMatch(/old report format/);
    expect(invalid("42").message).toMatch(/expected a Trivy JSON report/);
    const bad = { SchemaVersion: 2, Results: [{ Target: "t", Vulnerabilities: [{ PkgName: "p" }] }] };
    expect(invalid(JSON.stringify(bad)).message).toMatch(
      /Results\[0\]\.Vulnerabilities\[0\]\.VulnerabilityID/,
    );
  });

  it("tolerates fields older and newer Trivy versions leave out or add", () => {
    const r = parseTrivyReport(
      JSON.stringify({
        SchemaVersion: 2,
        Results: [
          { Target: "go.sum", Vulnerabilities: null, Misconfigurations: null },
          {
            Target: "requirements.txt",
            Class: "lang-pkgs",
            SomethingNew: { nested: true },
            Vulnerabilities: [{ VulnerabilityID: "GHSA-xxxx-yyyy-zzzz", FixedVersion: "2.0" }],
          },
        ],
      }),
      "r.json",
    );
    expect(r.findings[0]).toMatchObject({
      rule: "GHSA-xxxx-yyyy-zzzz",
      severity: "low",
      details: { status: "fixed", fixed: "2.0", trivySeverity: "UNKNOWN" },
    });
  });

  it("random JSON never throws anything but Invalid", () => {
    const trivyish = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.constantFrom(2, "2.1.0", "FAIL", "fixed", "CRITICAL", "os-pkgs", null, "Trivy"),
        fc.jsonValue(),
        tie("object"),
        fc.array(tie("value"), { maxLength: 4 }),
      ),
      object: fc.dictionary(
        fc.constantFrom(
          "SchemaVersion",
          "Results",
          "Target",
          "Class",
          "Vulnerabilities",
          "VulnerabilityID",
          "Misconfigurations",
          "ID",
          "Status",
          "Secrets",
          "RuleID",
          "Licenses",
          "Name",
          "version",
          "runs",
          "tool",
          "driver",
          "name",
          "results",
          "ruleId",
          "message",
          "text",
          "locations",
          "CVSS",
          "Packages",
        ),
        tie("value"),
        { maxKeys: 6 },
      ),
    }));
    fc.assert(
      fc.property(fc.oneof(trivyish.object, fc.jsonValue()), (doc) => {
        try {
          parseTrivyReport(JSON.stringify(doc) ?? "", "fuzz.json");
        } catch (e) {
          if (!(e instanceof Invalid)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseTrivyReport(text, "fuzz.json");
        } catch (e) {
          if (!(e instanceof Invalid)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });
});
