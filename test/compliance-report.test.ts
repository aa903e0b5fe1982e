// Compliance reports end to end: HTML escaping, CSV formula defusing, a real Chromium PDF read back
// with pdftotext, OSCAL assessment results validated against NIST's schema, and the signed auditor
// bundle written, verified and tampered with (the audit log part is a real export on PGlite).
import { execFileSync } from "node:child_process";
import { sign as edSign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type AuditLog,
  auditMigrations,
  createAuditLog,
  loadOrCreateAuditKeys,
} from "../src/monitoring/audit/index.ts";
import type {
  CheckSummary,
  Control,
  ControlReadiness,
  Evidence,
  Framework,
  FrameworkReadiness,
  ItemResult,
  ItemStanding,
  RequirementReadiness,
} from "../src/monitoring/compliance/model.ts";
import { assessmentResults, oscalControlId, stableUuid } from "../src/monitoring/compliance/oscal/export.ts";
import { oscalVersion, validateOscal } from "../src/monitoring/compliance/oscal/validate.ts";
import {
  csvCell,
  readinessCsv,
  readinessJson,
  renderPdf,
  renderReadinessHtml,
  sanitiseEvidenceName,
  verifyAuditorBundle,
  writeAuditorBundle,
} from "../src/monitoring/compliance/report/index.ts";
import { fingerprintOf } from "../src/monitoring/compliance/standing.ts";
import { manualClock } from "../src/platform/clock.ts";
import { newEvent } from "../src/platform/events/index.ts";
import { openTestStore, type TestStore } from "./support/stores.ts";

const NOW = new Date("2026-11-23T09:00:00Z");
const DAY = 86_400_000;
const HOSTILE = `<script>alert("x")</script> & 'quotes'`;

// ------------------------------------------------------------------------------------------
// Fixtures: readiness built by hand, the way the compliance service would roll it up.

function item(
  checkId: string,
  resource: string,
  standing: ItemStanding,
  detail: string,
  dueInDays?: number,
): ItemResult {
  const failing = standing !== "passing" && standing !== "not_applicable";
  return {
    checkId,
    resource,
    standing,
    status: failing ? "fail" : standing === "not_applicable" ? "not_applicable" : "pass",
    detail,
    fingerprint: fingerprintOf(checkId, resource),
    ...(failing ? { firstFailedAt: new Date(NOW.getTime() - 20 * DAY) } : {}),
    ...(dueInDays !== undefined ? { dueAt: new Date(NOW.getTime() + dueInDays * DAY) } : {}),
    lastRunAt: new Date(NOW.getTime() - 3_600_000),
    ...(standing === "excepted" ? { exceptionId: "exc-2026-014" } : {}),
  };
}

function check(id: string, title: string, source: CheckSummary["source"], items: ItemResult[]): CheckSummary {
  return {
    id,
    title,
    source,
    remediation: "Fix the item and wait for the next run.",
    lastRunAt: new Date(NOW.getTime() - 3_600_000),
    items,
  };
}

function evidence(
  id: string,
  title: string,
  kind: Evidence["kind"],
  state: Evidence["state"],
  controls: string[],
): Evidence {
  return {
    id,
    kind,
    title,
    controls,
    sha256: fingerprintOf("evidence", id),
    collectedAt: new Date(NOW.getTime() - 10 * DAY),
    validUntil: new Date(NOW.getTime() + 80 * DAY),
    state,
    addedBy: kind === "snapshot" ? "rampart" : "priya@example.com",
    ref: `${id}.json`,
  };
}

const descriptions: Record<string, string> = {
  "ZT-NET-001":
    "Every gateway route refuses TLS 1.0 and 1.1 and negotiates TLS 1.2 or 1.3 with clients and upstreams.",
  "ZT-IAM-004":
    "Secrets held by Rampart are rotated within the period their policy sets; long-lived keys are flagged.",
  "ZT-MON-002":
    "The tamper-evident audit log keeps security events for at least a year and verifies its Merkle tree daily.",
  "ZT-GOV-007":
    "Personal data breaches are notified to the regulator and the people affected within the legal deadline.",
  "ZT-DATA-003":
    "Erasure and correction requests are completed within the deadline, with proof of completion.",
  "ZT-GOV-001":
    "The information security policy is approved by management and reviewed at least once a year.",
};

function control(
  id: string,
  title: string,
  domain: Control["domain"],
  status: ControlReadiness["status"],
  checks: CheckSummary[],
  ev: Evidence[],
  mappings: Control["mappings"],
): ControlReadiness {
  return {
    control: {
      id,
      title,
      description: descriptions[id] ?? title,
      domain,
      checks: checks.map((c) => c.id),
      mappings,
    },
    status,
    checks,
    evidence: ev,
  };
}

const tlsCheck = check("gateway.tls-min-version", "Gateway refuses TLS below 1.2", "gateway", [
  item("gateway.tls-min-version", "route:app.example.com/", "passing", "minVersion TLSv1.2"),
  item("gateway.tls-min-version", "route:api.example.com/", "passing", "minVersion TLSv1.3"),
  item("gateway.tls-min-version", "route:legacy.example.com/", "overdue", "accepts TLSv1.0 handshakes", -4),
]);
const secretsCheck = check("secrets.rotation-age", "Secrets are rotated on schedule", "secrets", [
  item("secrets.rotation-age", "secret:db/orders", "failing", "rotated 97 days ago (every 90)", 5),
  item("secrets.rotation-age", "secret:smtp/relay", "at_risk", "rotated 92 days ago (every 90)", 12),
  item("secrets.rotation-age", "secret:ci/deploy", "excepted", "rotated 130 days ago (vendor freeze)", 30),
  item("secrets.rotation-age", "secret:kms/wrap", "passing", "rotated 12 days ago (every 90)"),
]);
const auditCheck = check("audit.retention", "Audit log retained for a year and verified", "audit", [
  item("audit.retention", "audit:security", "passing", "retention 365 days, last verified 2 h ago"),
  item("audit.retention", "audit:audit", "passing", "retention 2555 days, last verified 2 h ago"),
]);
const breachCheck = check(
  "incidents.breach-notice",
  "Breaches are notified within the deadline",
  "incidents",
  [item("incidents.breach-notice", "incident:INC-2026-031", "failing", HOSTILE, 1)],
);
const erasureCheck = check(
  "privacy.erasure-deadline",
  "Erasure requests close within the deadline",
  "privacy",
  [
    item("privacy.erasure-deadline", "request:PR-1182", "passing", "closed in 4 days"),
    item("privacy.erasure-deadline", "request:PR-1190", "not_applicable", "withdrawn by the requester"),
  ],
);

const dpdpFramework: Framework = {
  id: "dpdp",
  name: "Digital Personal Data Protection Act and Rules",
  version: "Act 2023, Rules 2025",
  publisher: "Government of India",
  licence: "text-with-attribution",
  attribution:
    "Digital Personal Data Protection Act, 2023 and DPDP Rules, 2025, Government of India (Gazette); summaries are Rampart's own.",
  sourceUrl: "https://www.meity.gov.in/data-protection-framework",
};

const isoFramework: Framework = {
  id: "iso27001",
  name: "ISO/IEC 27001 Annex A",
  version: "2022",
  publisher: "ISO/IEC",
  licence: "ids-and-own-words",
  attribution:
    "Control identifiers from ISO/IEC 27001:2022 Annex A (copyright ISO/IEC). Descriptions are Rampart's own paraphrases, not the standard's text.",
  sourceUrl: "https://www.iso.org/standard/27001",
};

function req(
  frameworkId: string,
  ref: string,
  title: string,
  status: RequirementReadiness["status"],
  controls: RequirementReadiness["controls"],
  group?: string,
): RequirementReadiness {
  return { requirement: { frameworkId, ref, title, ...(group ? { group } : {}) }, status, controls };
}

function summaryOf(requirements: RequirementReadiness[]): FrameworkReadiness["summary"] {
  const count = (s: RequirementReadiness["status"]) => requirements.filter((r) => r.status === s).length;
  const compliant = count("compliant");
  const partiallyCompliant = count("partially_compliant");
  const nonCompliant = count("non_compliant");
  const notAssessed = count("not_assessed");
  const assessed = requirements.length - notAssessed;
  return {
    requirements: requirements.length,
    compliant,
    partiallyCompliant,
    nonCompliant,
    notAssessed,
    score: assessed ? (compliant + partiallyCompliant / 2) / assessed : 0,
  };
}

function dpdpReadiness(): FrameworkReadiness {
  const d = "dpdp";
  const controls = [
    control(
      "ZT-NET-001",
      "TLS 1.2 or later on every route",
      "network",
      "failing",
      [tlsCheck],
      [evidence("ev-tls-snap", "Gateway TLS snapshot", "snapshot", "approved", ["ZT-NET-001"])],
      [
        { frameworkId: d, ref: "s.8(5)", relationship: "subset" },
        { frameworkId: d, ref: "Rule 6", relationship: "intersect" },
      ],
    ),
    control(
      "ZT-IAM-004",
      "Secrets rotate within their period",
      "identity",
      "failing",
      [secretsCheck],
      [evidence("ev-rotation-policy", "Secret rotation policy v3", "file", "approved", ["ZT-IAM-004"])],
      [{ frameworkId: d, ref: "Rule 6", relationship: "subset" }],
    ),
    control(
      "ZT-MON-002",
      "Tamper-evident audit log kept a year",
      "monitoring",
      "passing",
      [auditCheck],
      [evidence("ev-audit-verify", "Audit verification run", "snapshot", "approved", ["ZT-MON-002"])],
      [
        { frameworkId: d, ref: "Rule 6", relationship: "intersect" },
        { frameworkId: d, ref: "s.8(6)", relationship: "intersect" },
      ],
    ),
    control(
      "ZT-GOV-007",
      "Personal data breaches reported in time",
      "governance",
      "failing",
      [breachCheck],
      [evidence("ev-breach-runbook", "Breach notification runbook", "file", "in_review", ["ZT-GOV-007"])],
      [
        { frameworkId: d, ref: "s.8(6)", relationship: "equal" },
        { frameworkId: d, ref: "Rule 7", relationship: "equal" },
      ],
    ),
    control(
      "ZT-DATA-003",
      "Erasure requests honoured on time",
      "data",
      "passing",
      [erasureCheck],
      [],
      [{ frameworkId: d, ref: "s.12", relationship: "subset" }],
    ),
  ];
  const requirements = [
    req(
      d,
      "s.8(5)",
      "Protect personal data with reasonable security safeguards to prevent a breach",
      "non_compliant",
      [{ id: "ZT-NET-001", relationship: "subset", status: "failing" }],
      "DPDP Act 2023",
    ),
    req(
      d,
      "s.8(6)",
      "Tell the Board and each affected person about a personal data breach",
      "partially_compliant",
      [
        { id: "ZT-GOV-007", relationship: "equal", status: "failing" },
        { id: "ZT-MON-002", relationship: "intersect", status: "passing" },
      ],
      "DPDP Act 2023",
    ),
    req(
      d,
      "s.12",
      "Correct, complete, update or erase personal data when the person asks",
      "compliant",
      [{ id: "ZT-DATA-003", relationship: "subset", status: "passing" }],
      "DPDP Act 2023",
    ),
    req(
      d,
      "s.9",
      "Obtain verifiable parental consent before processing a child's data",
      "not_assessed",
      [],
      "DPDP Act 2023",
    ),
    req(
      d,
      "Rule 6",
      "Apply encryption, access control, logging and backups as minimum safeguards",
      "partially_compliant",
      [
        { id: "ZT-NET-001", relationship: "intersect", status: "failing" },
        { id: "ZT-IAM-004", relationship: "subset", status: "failing" },
        { id: "ZT-MON-002", relationship: "intersect", status: "passing" },
      ],
      "DPDP Rules 2025",
    ),
    req(
      d,
      "Rule 7",
      "Report a breach to the Board within 72 hours with the details the Rule lists",
      "non_compliant",
      [{ id: "ZT-GOV-007", relationship: "equal", status: "failing" }],
      "DPDP Rules 2025",
    ),
  ];
  return {
    framework: dpdpFramework,
    generatedAt: NOW,
    window: { from: new Date("2026-08-01T00:00:00Z"), to: new Date("2026-11-01T00:00:00Z") },
    summary: summaryOf(requirements),
    requirements,
    controls,
  };
}

function isoReadiness(): FrameworkReadiness {
  const i = "iso27001";
  const controls = [
    control(
      "ZT-NET-001",
      "TLS 1.2 or later on every route",
      "network",
      "failing",
      [tlsCheck],
      [evidence("ev-tls-snap", "Gateway TLS snapshot", "snapshot", "approved", ["ZT-NET-001"])],
      [{ frameworkId: i, ref: "A.8.24", relationship: "subset" }],
    ),
    control(
      "ZT-IAM-004",
      "Secrets rotate within their period",
      "identity",
      "at_risk",
      [secretsCheck],
      [evidence("ev-rotation-policy", "Secret rotation policy v3", "file", "approved", ["ZT-IAM-004"])],
      [
        { frameworkId: i, ref: "A.5.17", relationship: "subset" },
        { frameworkId: i, ref: "A.8.24", relationship: "intersect" },
      ],
    ),
    control(
      "ZT-MON-002",
      "Tamper-evident audit log kept a year",
      "monitoring",
      "passing",
      [auditCheck],
      [evidence("ev-audit-verify", "Audit verification run", "snapshot", "approved", ["ZT-MON-002"])],
      [{ frameworkId: i, ref: "A.8.15", relationship: "equal" }],
    ),
    control(
      "ZT-GOV-001",
      "Security policy approved and reviewed yearly",
      "governance",
      "needs_evidence",
      [],
      [evidence("ev-policy", "Information security policy 2026", "attestation", "expired", ["ZT-GOV-001"])],
      [{ frameworkId: i, ref: "A.5.1", relationship: "equal" }],
    ),
  ];
  const requirements = [
    req(
      i,
      "A.5.1",
      "Management sets, approves, publishes and revisits the rules for protecting information",
      "non_compliant",
      [{ id: "ZT-GOV-001", relationship: "equal", status: "needs_evidence" }],
      "Organizational",
    ),
    req(
      i,
      "A.5.17",
      "Passwords, keys and other login secrets are issued and looked after properly",
      "partially_compliant",
      [{ id: "ZT-IAM-004", relationship: "subset", status: "at_risk" }],
      "Organizational",
    ),
    req(
      i,
      "A.8.15",
      "Activity and events are logged, and the logs are stored, protected and analysed",
      "compliant",
      [{ id: "ZT-MON-002", relationship: "equal", status: "passing" }],
      "Technological",
    ),
    req(
      i,
      "A.8.24",
      "Rules for encryption and key management are defined and put into practice",
      "non_compliant",
      [
        { id: "ZT-NET-001", relationship: "subset", status: "failing" },
        { id: "ZT-IAM-004", relationship: "intersect", status: "at_risk" },
      ],
      "Technological",
    ),
  ];
  return {
    framework: isoFramework,
    generatedAt: NOW,
    summary: summaryOf(requirements),
    requirements,
    controls,
  };
}

// ------------------------------------------------------------------------------------------

describe("HTML report", () => {
  test("is self-contained, escapes hostile strings and shows what an auditor needs", () => {
    const html = renderReadinessHtml(dpdpReadiness(), { organisation: "Acme <Payments>" });
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;");
    expect(html).toContain("Acme &lt;Payments&gt;");
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    );
    expect(html).not.toMatch(/\b(src|href)=["'](https?:)?\/\//);
    for (const ref of ["s.8(6)", "Rule 7", "s.8(5)"]) expect(html).toContain(`<td class="ref">${ref}</td>`);
    expect(html).toContain("secret:db/orders");
    expect(html).toContain("rotated 97 days ago (every 90)");
    expect(html).toContain("exception exc-2026-014");
    expect(html).toContain(fingerprintOf("evidence", "ev-tls-snap").slice(0, 12));
    expect(html).toContain("2026-08-01 – 2026-11-01");
    expect(html).toContain("Government of India (Gazette)");
    // Score: 1 compliant + 2 partial of 5 assessed = 40 %.
    expect(html).toContain('aria-label="Readiness score 40%"');
    expect(html).toContain("break-inside:avoid");
  });
});

describe("CSV report", () => {
  test("one row per requirement and control, RFC 4180 quoting, formulas defused", () => {
    const r = isoReadiness();
    (r.requirements[0] as RequirementReadiness).requirement.title =
      '=HYPERLINK("http://evil.example","click"), now';
    const csv = readinessCsv(r);
    const lines = csv.split("\r\n");
    expect(lines[0]).toBe(
      "framework,ref,title,requirement_status,control_id,relationship,control_status,failing_items,overdue_items",
    );
    expect(lines[1]).toBe(
      `iso27001,A.5.1,"'=HYPERLINK(""http://evil.example"",""click""), now",non_compliant,ZT-GOV-001,equal,needs_evidence,0,0`,
    );
    // A.8.24 × ZT-NET-001: one overdue TLS item; A.8.24 × ZT-IAM-004: failing + at risk, excepted left out.
    expect(lines).toContain(
      "iso27001,A.8.24,Rules for encryption and key management are defined and put into practice,non_compliant,ZT-NET-001,subset,failing,1,1",
    );
    expect(lines).toContain(
      "iso27001,A.8.24,Rules for encryption and key management are defined and put into practice,non_compliant,ZT-IAM-004,intersect,at_risk,2,0",
    );
    expect(lines.at(-1)).toBe("");
    expect(lines.length).toBe(1 + 5 + 1);
    expect(csvCell("+1")).toBe("'+1");
    expect(csvCell("-2")).toBe("'-2");
    expect(csvCell("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvCell(-2)).toBe("-2");
    expect(csvCell("plain")).toBe("plain");
  });

  test("a requirement with no control still gets a row", () => {
    const lines = readinessCsv(dpdpReadiness()).split("\r\n");
    expect(lines.filter((l) => l.startsWith("dpdp,s.9,"))).toEqual([
      "dpdp,s.9,Obtain verifiable parental consent before processing a child's data,not_assessed,,,,0,0",
    ]);
  });
});

describe("JSON report", () => {
  test("dates are ISO strings, keys sorted, and the same state gives the same bytes", () => {
    const text = readinessJson(dpdpReadiness());
    expect(text).toBe(readinessJson(dpdpReadiness()));
    const parsed = JSON.parse(text) as { generatedAt: string; window: { from: string } };
    expect(parsed.generatedAt).toBe("2026-11-23T09:00:00.000Z");
    expect(parsed.window.from).toBe("2026-08-01T00:00:00.000Z");
    expect(Object.keys(parsed)).toEqual([
      "controls",
      "framework",
      "generatedAt",
      "requirements",
      "summary",
      "window",
    ]);
  });
});

describe("PDF report", () => {
  test("real Chromium prints the report and pdftotext reads it back", async () => {
    const pdf = await renderPdf(renderReadinessHtml(dpdpReadiness(), { organisation: "Acme Payments" }));
    expect(pdf.subarray(0, 5).toString("latin1")).toBe("%PDF-");
    const dir = mkdtempSync(join(tmpdir(), "rampart-pdf-test-"));
    try {
      writeFileSync(join(dir, "r.pdf"), pdf);
      const text = execFileSync("pdftotext", [join(dir, "r.pdf"), "-"], { encoding: "utf8" }).replace(
        /\s+/g,
        " ",
      );
      expect(text).toContain("Digital Personal Data Protection Act and Rules");
      expect(text).toContain("secret:db/orders");
      expect(text).toContain("rotated 97 days ago");
      expect(text).toContain('<script>alert("x")</script>');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  test("a missing Chromium is a clear error", async () => {
    await expect(renderPdf("<p>x</p>", { chromium: "/nonexistent/chromium" })).rejects.toThrow(
      /PDF reports need Chromium: install it \(Debian: apt-get install chromium\) or set compliance\.reports\.chromium/,
    );
  });
});

describe("OSCAL assessment results", () => {
  const opts = { title: "Acme Payments readiness", generatedAt: NOW, toolVersion: "0.1.0" };

  test("exports of DPDP and ISO 27001 validate against NIST's schema", () => {
    const doc = assessmentResults([dpdpReadiness(), isoReadiness()], opts) as {
      "assessment-results": {
        metadata: Record<string, string>;
        results: {
          start: string;
          "reviewed-controls": { "control-selections": { "include-controls": { "control-id": string }[] }[] };
          observations: {
            uuid: string;
            methods: string[];
            subjects?: unknown[];
            "relevant-evidence"?: { props: { name: string; value: string }[] }[];
          }[];
          findings: {
            uuid: string;
            target: { type: string; "target-id": string; status: { state: string } };
            "related-observations"?: unknown[];
          }[];
        }[];
      };
    };
    const v = validateOscal(doc);
    expect(v.errors).toEqual([]);
    expect(v.ok).toBe(true);
    const ar = doc["assessment-results"];
    expect(ar.metadata["oscal-version"]).toBe(oscalVersion());
    expect(oscalVersion()).toMatch(/^1\.\d+\.\d+$/);
    const [dpdp, iso] = ar.results;
    expect(dpdp?.start).toBe("2026-08-01T00:00:00.000Z");
    const ids = (r: typeof dpdp) =>
      r?.["reviewed-controls"]["control-selections"][0]?.["include-controls"].map((c) => c["control-id"]);
    expect(ids(dpdp)).toEqual([
      "dpdp-s.8.5",
      "dpdp-s.8.6",
      "dpdp-s.12",
      "dpdp-s.9",
      "dpdp-rule_6",
      "dpdp-rule_7",
    ]);
    expect(ids(iso)).toEqual(["iso27001-a.5.1", "iso27001-a.5.17", "iso27001-a.8.15", "iso27001-a.8.24"]);
    // One observation per check; the secrets check carries its four items as subjects and the evidence hash.
    expect(dpdp?.observations).toHaveLength(5);
    const secrets = dpdp?.observations.find(
      (o) => o.uuid === stableUuid("observation\ndpdp\nsecrets.rotation-age"),
    );
    expect(secrets?.methods).toEqual(["TEST"]);
    expect(secrets?.subjects).toHaveLength(4);
    expect(secrets?.["relevant-evidence"]?.[0]?.props).toContainEqual(
      expect.objectContaining({ name: "sha256", value: fingerprintOf("evidence", "ev-rotation-policy") }),
    );
    const states = Object.fromEntries(
      iso?.findings.map((f) => [f.target["target-id"], f.target.status.state]) ?? [],
    );
    expect(states).toEqual({
      "iso27001-a.5.1": "not-satisfied",
      "iso27001-a.5.17": "not-satisfied",
      "iso27001-a.8.15": "satisfied",
      "iso27001-a.8.24": "not-satisfied",
    });
    expect(iso?.findings.every((f) => f.target.type === "objective-id")).toBe(true);
    expect(
      dpdp?.findings.find((f) => f.target["target-id"] === "dpdp-s.9")?.["related-observations"],
    ).toBeUndefined();
  });

  test("two exports of the same state are identical, and UUIDs are RFC 4122 version 5", () => {
    const a = JSON.stringify(assessmentResults([dpdpReadiness(), isoReadiness()], opts));
    const b = JSON.stringify(assessmentResults([dpdpReadiness(), isoReadiness()], opts));
    expect(a).toBe(b);
    const uuids = a.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g) ?? [];
    expect(uuids.length).toBeGreaterThan(20);
    for (const u of uuids)
      expect(u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const later = JSON.stringify(
      assessmentResults([dpdpReadiness()], { ...opts, generatedAt: new Date(NOW.getTime() + 1000) }),
    );
    expect(later).not.toBe(a);
  });

  test("control ids from framework refs satisfy OSCAL's token rule", () => {
    expect(oscalControlId("iso27001", "A.8.24")).toBe("iso27001-a.8.24");
    expect(oscalControlId("dpdp", "s.8(6)")).toBe("dpdp-s.8.6");
    expect(oscalControlId("dpdp", "Rule 7(2)(b)")).toBe("dpdp-rule_7.2.b");
    expect(oscalControlId("gdpr", "Art. 33")).toBe("gdpr-art_33");
    expect(oscalControlId("nist-csf-2.0", "PR.AA-05")).toBe("nist-csf-2.0-pr.aa-05");
  });

  test("a finding without a target fails validation with a readable error", () => {
    const doc = assessmentResults([isoReadiness()], opts) as {
      "assessment-results": { results: { findings: Record<string, unknown>[] }[] };
    };
    delete doc["assessment-results"].results[0]?.findings[0]?.target;
    const v = validateOscal(doc);
    expect(v.ok).toBe(false);
    expect(v.errors).toContain(
      "/assessment-results/results/0/findings/0: missing required property 'target'",
    );
    const bad = assessmentResults([isoReadiness()], opts) as { "assessment-results": { uuid: string } };
    bad["assessment-results"].uuid = "not-a-uuid";
    expect(validateOscal(bad).errors.join("\n")).toMatch(/\/assessment-results\/uuid: must match pattern/);
  });
});

describe("auditor bundle", () => {
  let ts: TestStore;
  let audit: AuditLog;
  let signingKey: ReturnType<typeof loadOrCreateAuditKeys>["signingKey"];
  const dirs: string[] = [];
  const window = { from: new Date("2026-11-22T00:00:00Z"), to: new Date("2026-11-23T00:00:00Z") };

  beforeAll(async () => {
    ts = await openTestStore("pglite", auditMigrations);
    const keys = loadOrCreateAuditKeys(join(ts.location.dataDir, "keys", "audit.json"));
    signingKey = keys.signingKey;
    audit = createAuditLog({
      store: ts.store,
      keys,
      clock: manualClock("2026-11-22T10:00:00Z"),
      retentionDays: { security: 365, audit: 2555, application: 90 },
      period: "month",
      checkpointIntervalMs: 0,
    });
    await audit.start();
    const events = Array.from({ length: 12 }, (_, i) =>
      newEvent(
        {
          type: "compliance.evidence.approved",
          actor: { kind: "user", id: "lead@example.com" },
          data: { i },
        },
        new Date(Date.UTC(2026, 10, 22, 10, 0, i)),
      ),
    );
    await audit.record([{ events }]);
    await audit.checkpoint();
  });
  afterAll(async () => {
    await audit.close();
    await ts.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function write(): Promise<string> {
    const dir = join(mkdtempSync(join(tmpdir(), "rampart-auditor-")), "bundle");
    dirs.push(join(dir, ".."));
    const reports = [dpdpReadiness(), isoReadiness()];
    await writeAuditorBundle({
      dir,
      window,
      reports,
      oscal: assessmentResults(reports, {
        title: "Acme Payments",
        generatedAt: NOW,
        auditWindow: window,
        toolVersion: "0.1.0",
      }),
      evidenceFiles: [
        { name: "rotation-policy.pdf", bytes: Buffer.from("%PDF-1.7 policy") },
        { name: "../../etc/passwd", bytes: Buffer.from("not really") },
        { name: "/abs/runbook.md", bytes: Buffer.from("# Breach runbook\n") },
        { name: "rotation-policy.pdf", bytes: Buffer.from("second file with the same name") },
      ],
      exportAuditLog: (d) => audit.exportBundle({ from: window.from, to: window.to, dir: d }),
      sign: (data) => edSign(null, data, signingKey),
      verifierKey: audit.verifierKey,
      now: NOW,
    });
    return dir;
  }

  test("writes every part, and verifies with the pinned key", async () => {
    const dir = await write();
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as {
      files: Record<string, string>;
      window: unknown;
    };
    expect(Object.keys(manifest.files)).toEqual([
      "audit/entries.jsonl",
      "audit/logs.json",
      "audit/manifest.json",
      "audit/manifest.sig",
      "evidence/abs_runbook.md",
      "evidence/etc_passwd",
      "evidence/rotation-policy-2.pdf",
      "evidence/rotation-policy.pdf",
      "oscal/assessment-results.json",
      "reports/dpdp.csv",
      "reports/dpdp.html",
      "reports/dpdp.json",
      "reports/iso27001.csv",
      "reports/iso27001.html",
      "reports/iso27001.json",
    ]);
    expect(manifest.window).toEqual({ from: "2026-11-22T00:00:00.000Z", to: "2026-11-23T00:00:00.000Z" });
    const v = verifyAuditorBundle(dir, audit.verifierKey);
    expect(v.problems).toEqual([]);
    expect(v).toMatchObject({ ok: true, files: 15, keyPinned: true, audit: { ok: true, entries: 13 } }); // the log's opening entry + 12
    expect(
      validateOscal(JSON.parse(readFileSync(join(dir, "oscal/assessment-results.json"), "utf8"))).ok,
    ).toBe(true);
  });

  test("a changed, missing or extra file is named", async () => {
    const dir = await write();
    const csv = join(dir, "reports", "dpdp.csv");
    writeFileSync(csv, readFileSync(csv, "utf8").replace("non_compliant", "compliant"));
    unlinkSync(join(dir, "evidence", "abs_runbook.md"));
    writeFileSync(join(dir, "evidence", "planted.txt"), "added later");
    const v = verifyAuditorBundle(dir, audit.verifierKey);
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([
      "evidence/abs_runbook.md is missing",
      "reports/dpdp.csv does not match its SHA-256 in the signed manifest",
      "evidence/planted.txt is an extra file not in the signed manifest",
    ]);
  });

  test("a tampered audit log export inside the bundle fails both checks", async () => {
    const dir = await write();
    const logs = join(dir, "audit", "logs.json");
    writeFileSync(logs, readFileSync(logs, "utf8").replace('"from": ', '"from":  '));
    const v = verifyAuditorBundle(dir, audit.verifierKey);
    expect(v.problems).toContain("audit/logs.json does not match its SHA-256 in the signed manifest");
    expect(v.problems.some((p) => p.startsWith("audit/: logs.json does not match"))).toBe(true);
  });

  test("a changed manifest or another key is a bad signature", async () => {
    const dir = await write();
    const path = join(dir, "manifest.json");
    const original = readFileSync(path, "utf8");
    writeFileSync(path, original.replace('"2026-11-22T00:00:00.000Z"', '"2026-11-21T00:00:00.000Z"'));
    const v = verifyAuditorBundle(dir, audit.verifierKey);
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([
      "bad signature: manifest.sig is not a valid signature of manifest.json by the verifier key",
    ]);
    writeFileSync(path, original);
    expect(verifyAuditorBundle(dir).ok).toBe(true);
    expect(verifyAuditorBundle(dir, "rampart-audit+00000000+AQ==").problems[0]).toMatch(
      /different verifier key/,
    );
  });

  test("evidence names cannot leave evidence/", () => {
    expect(sanitiseEvidenceName("../../etc/passwd")).toBe("etc_passwd");
    expect(sanitiseEvidenceName("/abs/x.pdf")).toBe("abs_x.pdf");
    expect(sanitiseEvidenceName("..\\..\\win.ini")).toBe("win.ini");
    expect(sanitiseEvidenceName("..")).toBe("evidence");
    expect(sanitiseEvidenceName(".hidden")).toBe("hidden");
  });
});
