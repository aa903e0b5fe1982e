// What each output says about the same findings: the terminal table, stable JSON, SARIF that
// code-scanning dashboards accept, JUnit that an XML parser reads, GitLab's report shapes, and
// the gate's verdict.
import { describe, expect, test } from "vitest";
import { GITLAB_SCHEMA_VERSION, type GitlabReport } from "./gitlab.ts";
import { countFindings, gateExit, renderResult, summaryLine } from "./output.ts";
import type { SarifLog } from "./sarif.ts";
import type { Finding, ScanKind, ScanResult } from "./types.ts";

const cve: Finding = {
  rule: "CVE-2019-18224",
  severity: "critical",
  title: "libidn2: heap-based buffer overflow in idn2_to_ascii_4i",
  fix: "upgrade libidn2-0 to 2.0.5-1+deb10u1",
  location: { resource: "debian:buster (debian 10.1)", path: "libidn2-0@2.0.5-1" },
  fingerprint: "a1b2c3d4e5f60718",
  references: ["CWE-787"],
  details: {
    package: "libidn2-0",
    installed: "2.0.5-1",
    fixed: "2.0.5-1+deb10u1",
    primaryUrl: "https://avd.aquasec.com/nvd/cve-2019-18224",
    os: "debian 10.1",
    image: "debian:buster",
  },
};
const low: Finding = {
  rule: "CVE-2019-18276",
  severity: "low",
  title: "bash: when effective UID is not equal to its real UID the saved UID is not dropped",
  location: { resource: "debian:buster (debian 10.1)", path: "bash@5.0-4" },
  fingerprint: "0f1e2d3c4b5a6978",
  details: { package: "bash", installed: "5.0-4" },
};
const ignored: Finding = {
  rule: "CVE-2020-0001",
  severity: "high",
  title: "accepted risk",
  location: { resource: "debian:buster (debian 10.1)", path: "zlib@1.2" },
  fingerprint: "1111222233334444",
  suppressed: { by: "ignore", reason: "not reachable: no untrusted input", expires: "2027-01-01" },
};

const result = (kind: ScanKind, findings: Finding[], target = "report.json"): ScanResult => ({
  kind,
  target,
  startedAt: "2026-11-23T10:00:00.000Z",
  finishedAt: "2026-11-23T10:00:02.500Z",
  findings,
  stats: { results: 2, packages: 40 },
});

const trivy = result("trivy", [low, cve, ignored], "debian-buster.json");
const k8s = result("k8s", [
  {
    rule: "K8S-PRIVILEGED",
    severity: "critical",
    title: "container web runs privileged",
    fix: "set securityContext.privileged: false",
    location: {
      file: "deploy/app.yaml",
      line: 21,
      column: 11,
      resource: "Deployment/shop/web",
      path: "spec.template.spec.containers[0].securityContext.privileged",
    },
    fingerprint: "9999aaaabbbbcccc",
    references: ["CIS-5.2.1"],
  },
  {
    rule: "K8S-LIMITS",
    severity: "medium",
    title: "container web has no memory limit",
    location: {
      file: "deploy/app.yaml",
      line: 18,
      resource: "Deployment/shop/web",
      path: "spec.template.spec.containers[0].resources",
    },
    fingerprint: "dddd0000eeee1111",
  },
]);
const secrets = result("secrets", [
  {
    rule: "aws-access-key",
    severity: "high",
    title: "AWS access key AKIA…(20)",
    location: { file: "src/config.ts", line: 3, column: 14 },
    fingerprint: "5555666677778888",
    references: ["CWE-798"],
    details: { commit: "4f2a9c1e" },
  },
]);

describe("the gate", () => {
  test("fails on an unsuppressed finding at or above the threshold, ignores suppressed ones", () => {
    expect(gateExit(trivy, "critical")).toBe(1);
    expect(gateExit(trivy, "high")).toBe(1);
    expect(gateExit(trivy, "low")).toBe(1);
    // The only high finding is suppressed: without the critical one, `high` passes.
    expect(gateExit(result("trivy", [low, ignored]), "high")).toBe(0);
    expect(gateExit(result("trivy", [low, ignored]), "low")).toBe(1);
    expect(gateExit(result("trivy", []), "info")).toBe(0);
  });

  test("counts and the summary line", () => {
    expect(countFindings(trivy)).toEqual({
      total: 2,
      bySeverity: { info: 0, low: 1, medium: 0, high: 0, critical: 1 },
      suppressed: 1,
    });
    expect(summaryLine(trivy)).toBe("2 findings (1 critical, 0 high, 0 medium, 1 low, 0 info), 1 suppressed");
  });
});

describe("table", () => {
  test("groups by severity, most severe first, suppressed last, with location and fix", () => {
    const out = renderResult(k8s, "table");
    const lines = out.split("\n");
    expect(lines[0]).toBe("rampart scan k8s: report.json");
    expect(out).toContain("SEVERITY  RULE");
    const crit = lines.findIndex((l) => l.startsWith("-- critical (1)"));
    const med = lines.findIndex((l) => l.startsWith("-- medium (1)"));
    expect(crit).toBeGreaterThan(0);
    expect(med).toBeGreaterThan(crit);
    expect(lines[crit + 1]).toMatch(
      /^critical\s+K8S-PRIVILEGED\s+deploy\/app\.yaml:21:11 Deployment\/shop\/web/,
    );
    expect(lines[crit + 1]).toContain("set securityContext.privileged: false");
    expect(out.trimEnd().split("\n").at(-1)).toBe(
      "2 findings (1 critical, 0 high, 1 medium, 0 low, 0 info), 0 suppressed",
    );
    expect(out).not.toContain("\x1b[");

    const t = renderResult(trivy, "table");
    expect(t.indexOf("-- critical")).toBeLessThan(t.indexOf("-- low"));
    expect(t.indexOf("-- low")).toBeLessThan(t.indexOf("-- suppressed (1)"));
    expect(t).toContain("suppressed by ignore: not reachable");
  });

  test("colours severities only when asked", () => {
    expect(renderResult(k8s, "table", { color: true })).toContain("\x1b[1;35mcritical");
  });

  test("a clean scan says so", () => {
    expect(renderResult(result("iac", []), "table")).toBe(
      "rampart scan iac: report.json\n\n0 findings (0 critical, 0 high, 0 medium, 0 low, 0 info), 0 suppressed\n",
    );
  });
});

describe("json", () => {
  test("is the result as is, keys in a stable order whatever order they were built in", () => {
    const shuffled = JSON.parse(
      JSON.stringify({
        stats: { packages: 40, results: 2 },
        findings: trivy.findings.map((f) => ({ ...Object.fromEntries(Object.entries(f).reverse()) })),
        finishedAt: trivy.finishedAt,
        startedAt: trivy.startedAt,
        target: trivy.target,
        kind: trivy.kind,
      }),
    ) as ScanResult;
    const a = renderResult(trivy, "json");
    expect(renderResult(shuffled, "json")).toBe(a);
    expect(JSON.parse(a)).toEqual(trivy);
    expect(Object.keys(JSON.parse(a) as object)).toEqual([
      "kind",
      "target",
      "startedAt",
      "finishedAt",
      "stats",
      "findings",
    ]);
  });
});

// The SARIF 2.1.0 schema's requirements for what Rampart writes (sarif-schema-2.1.0.json).
function checkSarif(log: SarifLog): void {
  expect(log.version).toBe("2.1.0");
  expect(log.$schema).toMatch(/^https:\/\//);
  expect(log.runs).toHaveLength(1);
  const run = log.runs[0] as SarifLog["runs"][number];
  expect(typeof run.tool.driver.name).toBe("string");
  const ids = run.tool.driver.rules.map((r) => r.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const r of run.tool.driver.rules) {
    expect(r.shortDescription.text.length).toBeGreaterThan(0);
    expect(r.help.text.length).toBeGreaterThan(0);
    expect(["error", "warning", "note", "none"]).toContain(r.defaultConfiguration.level);
    expect(r.properties["security-severity"]).toMatch(/^\d+\.\d$/);
  }
  for (const res of run.results) {
    expect(res.message.text.length).toBeGreaterThan(0);
    expect(["error", "warning", "note", "none"]).toContain(res.level);
    expect(run.tool.driver.rules[res.ruleIndex]?.id).toBe(res.ruleId);
    for (const l of res.locations) {
      const p = l.physicalLocation;
      if (p) {
        expect(p.artifactLocation.uri).not.toMatch(/[\s\\]/);
        if (p.region) expect(p.region.startLine).toBeGreaterThanOrEqual(1);
      }
      for (const ll of l.logicalLocations ?? []) expect(ll.fullyQualifiedName.length).toBeGreaterThan(0);
    }
    for (const v of Object.values(res.partialFingerprints)) expect(typeof v).toBe("string");
    for (const s of res.suppressions ?? []) {
      expect(["inSource", "external"]).toContain(s.kind);
      expect(["accepted", "underReview", "rejected"]).toContain(s.status);
    }
  }
  expect(Date.parse(run.invocations[0]?.startTimeUtc ?? "")).not.toBeNaN();
}

describe("sarif", () => {
  test("one run, a rule per distinct rule, levels, severities, fingerprints and suppressions", () => {
    const log = JSON.parse(renderResult(trivy, "sarif", { toolVersion: "0.1.0" })) as SarifLog;
    checkSarif(log);
    const run = log.runs[0] as SarifLog["runs"][number];
    expect(run.tool.driver).toMatchObject({ name: "rampart", version: "0.1.0" });
    expect(run.tool.driver.rules.map((r) => r.id)).toEqual([
      "CVE-2019-18276",
      "CVE-2019-18224",
      "CVE-2020-0001",
    ]);
    const rule = run.tool.driver.rules[1];
    expect(rule?.help.text).toBe("upgrade libidn2-0 to 2.0.5-1+deb10u1");
    expect(rule?.properties["security-severity"]).toBe("9.5");
    const byRule = Object.fromEntries(run.results.map((r) => [r.ruleId, r]));
    expect(byRule["CVE-2019-18224"]).toMatchObject({
      level: "error",
      partialFingerprints: { "rampart/v1": "a1b2c3d4e5f60718" },
    });
    expect(byRule["CVE-2019-18276"]).toMatchObject({
      level: "note",
      properties: { "security-severity": "2.0" },
    });
    expect(byRule["CVE-2020-0001"]?.suppressions).toEqual([
      { kind: "external", status: "accepted", justification: "not reachable: no untrusted input" },
    ]);
    expect(byRule["CVE-2019-18224"]?.suppressions).toBeUndefined();
    // No file: the target anchors the result, the resource and package are logical locations.
    expect(byRule["CVE-2019-18224"]?.locations[0]).toEqual({
      physicalLocation: { artifactLocation: { uri: "debian-buster.json" } },
      logicalLocations: [
        {
          name: "libidn2-0@2.0.5-1",
          fullyQualifiedName: "debian:buster (debian 10.1):libidn2-0@2.0.5-1",
          kind: "member",
        },
      ],
    });
  });

  test("file findings carry a region; medium is a warning", () => {
    const log = JSON.parse(renderResult(k8s, "sarif")) as SarifLog;
    checkSarif(log);
    const [priv, limits] = log.runs[0]?.results ?? [];
    expect(priv?.locations[0]?.physicalLocation).toEqual({
      artifactLocation: { uri: "deploy/app.yaml" },
      region: { startLine: 21, startColumn: 11 },
    });
    expect(limits?.level).toBe("warning");
    expect(log.runs[0]?.automationDetails.id).toBe("rampart-k8s/");
  });
});

// A strict reader for the XML Rampart writes: well-formed elements, quoted attributes, known
// entities only, nothing but whitespace or text between elements. Returns the element tree.
interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}
function parseXml(xml: string): XmlNode {
  const decode = (s: string) => {
    if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i.test(s)) throw new Error(`bad entity in ${s}`);
    if (/[<]/.test(s)) throw new Error(`raw < in ${s}`);
    return s
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, "&");
  };
  let rest = xml.replace(/^<\?xml version="1\.0" encoding="UTF-8"\?>\s*/, "");
  const root: XmlNode = { name: "#root", attrs: {}, children: [], text: "" };
  const stack = [root];
  const tag = /^<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"<]*")*)\s*(\/?)>/;
  while (rest.length > 0) {
    const lt = rest.indexOf("<");
    const text = lt === -1 ? rest : rest.slice(0, lt);
    if (text) (stack.at(-1) as XmlNode).text += decode(text);
    if (lt === -1) break;
    rest = rest.slice(lt);
    const m = tag.exec(rest);
    if (!m) throw new Error(`malformed tag at: ${rest.slice(0, 40)}`);
    const [all, close, name, attrText, selfClose] = m;
    rest = rest.slice(all.length);
    if (close) {
      const open = stack.pop();
      if (open?.name !== name) throw new Error(`</${name}> closes <${open?.name}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of (attrText ?? "").matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)) {
      if ((a[1] as string) in attrs) throw new Error(`duplicate attribute ${a[1]}`);
      attrs[a[1] as string] = decode(a[2] as string);
    }
    const node: XmlNode = { name: name as string, attrs, children: [], text: "" };
    (stack.at(-1) as XmlNode).children.push(node);
    if (!selfClose) stack.push(node);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack.at(-1)?.name}>`);
  if (root.children.length !== 1 || root.text.trim()) throw new Error("expected one root element");
  return root.children[0] as XmlNode;
}

describe("junit", () => {
  test("a suite per scan kind, a failing case per finding place, skipped for suppressed", () => {
    const doc = parseXml(renderResult(trivy, "junit"));
    expect(doc.name).toBe("testsuites");
    expect(doc.attrs).toMatchObject({ tests: "3", failures: "2", skipped: "1" });
    const suite = doc.children[0] as XmlNode;
    expect(suite.attrs).toMatchObject({
      name: "rampart scan trivy",
      tests: "3",
      failures: "2",
      skipped: "1",
      time: "2.500",
    });
    const cases = suite.children;
    expect(cases.map((c) => c.name)).toEqual(["testcase", "testcase", "testcase"]);
    const crit = cases.find((c) => c.attrs.name?.startsWith("CVE-2019-18224"));
    expect(crit?.attrs.classname).toBe("rampart.trivy");
    expect(crit?.children[0]?.name).toBe("failure");
    expect(crit?.children[0]?.attrs).toMatchObject({ type: "critical" });
    expect(crit?.children[0]?.text).toContain("fix: upgrade libidn2-0 to 2.0.5-1+deb10u1");
    const skip = cases.find((c) => c.attrs.name?.startsWith("CVE-2020-0001"));
    expect(skip?.children[0]?.name).toBe("skipped");
    expect(skip?.children[0]?.attrs.message).toBe(
      "suppressed by ignore: not reachable: no untrusted input (until 2027-01-01)",
    );
  });

  test("escapes markup and control characters a title may carry", () => {
    const nasty = result("secrets", [
      {
        rule: "generic<&>",
        severity: "medium",
        title: `a "quoted" <tag> & 'apostrophe' \u0007bell`,
        location: { file: "a&b.ts", line: 1 },
        fingerprint: "abababababababab",
      },
    ]);
    const doc = parseXml(renderResult(nasty, "junit"));
    const failure = doc.children[0]?.children[0]?.children[0];
    expect(failure?.attrs.message).toBe(`medium: a "quoted" <tag> & 'apostrophe' \uFFFDbell`);
    expect(doc.children[0]?.children[0]?.attrs.name).toBe("generic<&> a&b.ts:1");
  });

  test("a clean scan is one passing case", () => {
    const doc = parseXml(renderResult(result("k8s", []), "junit"));
    expect(doc.attrs).toMatchObject({ tests: "1", failures: "0" });
    expect(doc.children[0]?.children[0]?.attrs.name).toBe("no findings");
    expect(doc.children[0]?.children[0]?.children).toEqual([]);
  });
});

// Fields GitLab's 15.0.7 schemas require (security-report-schemas dist/*-report-format.json).
function checkGitlab(r: GitlabReport, type: string): void {
  expect(r.version).toMatch(/^\d+\.\d+\.\d+$/);
  expect(r.schema).toMatch(/^https?:\/\/.+/);
  const s = r.scan;
  for (const who of [s.scanner, s.analyzer]) {
    for (const k of ["id", "name", "version"] as const) expect(who[k].length).toBeGreaterThan(0);
    expect(who.vendor.name.length).toBeGreaterThan(0);
  }
  expect(s.type).toBe(type);
  expect(s.start_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
  expect(s.end_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
  expect(["success", "failure"]).toContain(s.status);
  const ids = new Set<string>();
  for (const v of r.vulnerabilities) {
    expect(v.id.length).toBeGreaterThan(0);
    ids.add(v.id);
    expect(v.name.length).toBeLessThanOrEqual(255);
    expect(["Info", "Unknown", "Low", "Medium", "High", "Critical"]).toContain(v.severity);
    if (v.solution !== undefined) expect(v.solution.length).toBeLessThanOrEqual(7000);
    expect(v.identifiers.length).toBeGreaterThanOrEqual(1);
    for (const i of v.identifiers) {
      for (const k of ["type", "name", "value"] as const) expect(i[k].length).toBeGreaterThan(0);
      if (i.url) expect(i.url).toMatch(/^(https?|ftp):\/\/.+/);
    }
    const l = v.location as {
      dependency?: { package: { name: string }; version: string };
      operating_system?: string;
      image?: string;
      commit?: { sha: string };
      start_line?: unknown;
    };
    if (type === "container_scanning") {
      expect(typeof l.dependency?.package.name).toBe("string");
      expect(typeof l.dependency?.version).toBe("string");
      expect(l.operating_system?.length).toBeGreaterThan(0);
      expect(l.image?.length).toBeGreaterThan(0);
    }
    if (type === "secret_detection") expect(l.commit?.sha.length).toBeGreaterThan(0);
    if (l.start_line !== undefined) expect(typeof l.start_line).toBe("number");
  }
  expect(ids.size).toBe(r.vulnerabilities.length);
}

describe("gitlab", () => {
  test("trivy becomes a container-scanning report; suppressed findings are left out", () => {
    const r = JSON.parse(renderResult(trivy, "gitlab", { toolVersion: "0.1.0" })) as GitlabReport;
    checkGitlab(r, "container_scanning");
    expect(r.version).toBe(GITLAB_SCHEMA_VERSION);
    expect(r.scan).toMatchObject({
      start_time: "2026-11-23T10:00:00",
      end_time: "2026-11-23T10:00:02",
      status: "success",
    });
    expect(r.scan.messages?.[0]?.value).toContain("1 suppressed");
    expect(r.vulnerabilities.map((v) => v.identifiers[0]?.value)).toEqual([
      "CVE-2019-18276",
      "CVE-2019-18224",
    ]);
    const v = r.vulnerabilities[1];
    expect(v).toMatchObject({
      severity: "Critical",
      solution: "upgrade libidn2-0 to 2.0.5-1+deb10u1",
      location: {
        dependency: { package: { name: "libidn2-0" }, version: "2.0.5-1" },
        operating_system: "debian 10.1",
        image: "debian:buster",
      },
    });
    expect(v?.identifiers).toEqual([
      {
        type: "cve",
        name: "CVE-2019-18224",
        value: "CVE-2019-18224",
        url: "https://avd.aquasec.com/nvd/cve-2019-18224",
      },
      { type: "cwe", name: "CWE-787", value: "787" },
    ]);
    expect(v?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // The same finding keeps its id from run to run: GitLab tracks it instead of seeing a new one.
    const again = JSON.parse(renderResult(trivy, "gitlab")) as GitlabReport;
    expect(again.vulnerabilities[1]?.id).toBe(v?.id);
  });

  test("k8s and iac become sast reports with file and line", () => {
    const r = JSON.parse(renderResult(k8s, "gitlab")) as GitlabReport;
    checkGitlab(r, "sast");
    expect(r.vulnerabilities[0]?.location).toEqual({
      file: "deploy/app.yaml",
      start_line: 21,
      end_line: 21,
      class: "Deployment/shop/web",
      method: "spec.template.spec.containers[0].securityContext.privileged",
    });
    checkGitlab(JSON.parse(renderResult(result("iac", []), "gitlab")) as GitlabReport, "sast");
  });

  test("secrets become a secret-detection report with the commit", () => {
    const r = JSON.parse(renderResult(secrets, "gitlab")) as GitlabReport;
    checkGitlab(r, "secret_detection");
    expect(r.vulnerabilities[0]?.location).toEqual({
      file: "src/config.ts",
      start_line: 3,
      end_line: 3,
      commit: { sha: "4f2a9c1e" },
    });
    const noCommit = JSON.parse(
      renderResult(result("secrets", [{ ...(secrets.findings[0] as Finding), details: {} }]), "gitlab"),
    ) as GitlabReport;
    expect((noCommit.vulnerabilities[0]?.location as { commit: unknown }).commit).toEqual({ sha: "0000000" });
  });
});
