// The compliance API and CLI on a real server, as a compliance manager and an auditor use them:
// readiness for DPDP and ISO 27001 in every format (the PDF through real Chromium), OSCAL that
// validates against NIST's schema, exceptions and evidence that need a second person, and the
// auditor bundle written by the CLI, verified offline and caught when tampered with.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { CheckSummary, FrameworkReadiness } from "../src/monitoring/compliance/model.ts";
import { validateOscal } from "../src/monitoring/compliance/oscal/validate.ts";
import type { ComplianceStatus } from "../src/monitoring/compliance/service.ts";
import { rampart } from "./support/cli.ts";
import { startTestServer, type TestServer } from "./support/api.ts";

let t: TestServer;
let ana: string;
let raj: string;
let auditor: string;

const raw = async (path: string, token: string) => {
  const res = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    body: Buffer.from(await res.arrayBuffer()),
  };
};

beforeAll(async () => {
  t = await startTestServer({
    name: "compliance-api",
    config: {
      identity: { tokens: { secret: "compliance-api-test-secret-0123456789abcdef" } },
      rbac: {
        bindings: [
          { role: "compliance-manager", users: ["corp:ana", "corp:raj"] },
          { role: "auditor", users: ["corp:aud"] },
        ],
      },
      routes: [
        { id: "shop", path: "/", upstream: "http://127.0.0.1:9", waf: { mode: "block" } },
        { id: "admin", path: "/admin", upstream: "http://127.0.0.1:9", environment: "prod" },
      ],
      compliance: { enabled: false, frameworks: ["dpdp", "iso27001"] },
    },
  });
  ana = (await t.apiKeyFor("corp:ana")).key;
  raj = (await t.apiKeyFor("corp:raj")).key;
  auditor = (await t.apiKeyFor("corp:aud")).key;
  const run = await t.call("POST", "/api/v1/compliance/run", ana, {});
  expect(run.status).toBe(200);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

describe("status and checks", () => {
  test("status gives each configured framework a score and each check its items by standing", async () => {
    const r = await t.call("GET", "/api/v1/compliance/status", auditor);
    expect(r.status).toBe(200);
    const s = r.json as unknown as ComplianceStatus;
    expect(s.frameworks.map((f) => f.id)).toEqual(["dpdp", "iso27001"]);
    for (const f of s.frameworks) {
      expect(f.summary.requirements).toBeGreaterThan(20);
      expect(f.summary.score).toBeGreaterThanOrEqual(0);
      expect(f.summary.score).toBeLessThanOrEqual(1);
    }
    const rate = s.checks.find((c) => c.id === "gateway.rate-limits");
    // Neither route has a rate limit and neither asks for sign-in, so both are public and fail.
    expect(rate?.counts.failing).toBe(2);
  });

  test("a check's items say what was seen, with a deadline, and the fix", async () => {
    const r = await t.call("GET", "/api/v1/compliance/checks/gateway.rate-limits", auditor);
    const c = r.json as unknown as CheckSummary;
    const shop = c.items.find((i) => i.resource === "route:shop");
    expect(shop).toMatchObject({ standing: "failing", status: "fail" });
    expect(shop?.dueAt).toBeDefined();
    expect(c.remediation.length).toBeGreaterThan(10);
    expect((await t.call("GET", "/api/v1/compliance/checks/no.such-check", auditor)).status).toBe(404);
  });

  test("the auditor reads but cannot run checks or approve anything", async () => {
    expect((await t.call("POST", "/api/v1/compliance/run", auditor, {})).status).toBe(403);
    expect((await t.call("POST", "/api/v1/compliance/exceptions/x/approve", auditor)).status).toBe(403);
  });
});

describe("reports", () => {
  test("DPDP and ISO 27001 readiness as JSON, HTML, CSV and a PDF from Chromium", async () => {
    for (const fw of ["dpdp", "iso27001"]) {
      const json = await t.call("GET", `/api/v1/compliance/frameworks/${fw}/report`, auditor);
      const r = json.json as unknown as FrameworkReadiness;
      expect(r.framework.id).toBe(fw);
      expect(r.requirements.length).toBe(r.summary.requirements);
      const html = await raw(`/api/v1/compliance/frameworks/${fw}/report?format=html`, auditor);
      expect(html.type).toContain("text/html");
      expect(html.body.toString()).toContain(r.framework.name);
      expect(html.body.toString()).not.toMatch(/<script/i);
      const csv = await raw(`/api/v1/compliance/frameworks/${fw}/report?format=csv`, auditor);
      expect(csv.body.toString().split("\n")[0]).toMatch(/framework/i);
      const pdf = await raw(`/api/v1/compliance/frameworks/${fw}/report?format=pdf`, auditor);
      expect(pdf.status).toBe(200);
      expect(pdf.body.subarray(0, 5).toString()).toBe("%PDF-");
      const file = join(t.work, `${fw}.pdf`);
      writeFileSync(file, pdf.body);
      const text = execFileSync("pdftotext", [file, "-"]).toString().replace(/\s+/g, " ");
      expect(text).toContain(r.framework.name);
      // The prod route without sign-in fails controls both frameworks map (SSO, MFA).
      expect(text).toContain("route:admin");
    }
    expect((await t.call("GET", "/api/v1/compliance/frameworks/pci/report", auditor)).status).toBe(404);
  }, 120_000);

  test("the OSCAL export of the live results validates against NIST's schema", async () => {
    const r = await t.call("GET", "/api/v1/compliance/oscal?frameworks=dpdp,iso27001", auditor);
    expect(r.status).toBe(200);
    expect(validateOscal(r.json)).toEqual({ ok: true, errors: [] });
  });
});

describe("exceptions and evidence need a second person", () => {
  test("an exception is approved by someone else, and the item is then excepted", async () => {
    const req = await t.call("POST", "/api/v1/compliance/exceptions", ana, {
      checkId: "gateway.rate-limits",
      resource: "route:shop",
      justification: "limits are enforced by the CDN in front of the gateway",
      expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    });
    expect(req.status).toBe(201);
    const id = req.json.id as string;
    const self = await t.call("POST", `/api/v1/compliance/exceptions/${id}/approve`, ana);
    expect(self.status).toBe(403);
    expect(self.json.message).toMatch(/someone other/);
    expect((await t.call("POST", `/api/v1/compliance/exceptions/${id}/approve`, raj)).json.state).toBe(
      "approved",
    );
    const c = (await t.call("GET", "/api/v1/compliance/checks/gateway.rate-limits", auditor))
      .json as unknown as CheckSummary;
    expect(c.items.find((i) => i.resource === "route:shop")).toMatchObject({
      standing: "excepted",
      exceptionId: id,
    });
    const bad = await t.call("POST", "/api/v1/compliance/exceptions", ana, {
      checkId: "gateway.rate-limits",
      resource: "route:shop",
      justification: "because",
      expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/justification/);
  });

  test("evidence for a control without checks counts once another person approves it", async () => {
    const policy = async () =>
      (
        (await t.call("GET", "/api/v1/compliance/frameworks/iso27001/report", auditor))
          .json as unknown as FrameworkReadiness
      ).controls.find((c) => c.control.id === "ZT-GOV-001")?.status;
    expect(await policy()).toBe("needs_evidence");
    const added = await t.call("POST", "/api/v1/compliance/evidence", ana, {
      kind: "attestation",
      title: "Information security policy v3 approved by the board",
      controls: ["ZT-GOV-001"],
      ref: "board minutes 2026-10",
      statement: "The board approved policy v3 on 2026-10-14; next review 2027-10.",
    });
    expect(added.status).toBe(201);
    expect(added.json.state).toBe("in_review");
    const id = added.json.id as string;
    expect(
      (await t.call("POST", `/api/v1/compliance/evidence/${id}/review`, ana, { state: "approved" })).status,
    ).toBe(403);
    expect(await policy()).toBe("needs_evidence");
    const ok = await t.call("POST", `/api/v1/compliance/evidence/${id}/review`, raj, { state: "approved" });
    expect(ok.json.state).toBe("approved");
    expect(await policy()).toBe("passing");
    const unknown = await t.call("POST", "/api/v1/compliance/evidence", ana, {
      kind: "link",
      title: "x",
      controls: ["ZT-NOPE-001"],
      ref: "https://example.com",
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json.message).toMatch(/ZT-NOPE-001/);
  });
});

describe("the auditor bundle from the CLI", () => {
  test("is written, verifies offline, and names a tampered file", async () => {
    const out = join(t.work, "bundle");
    const env = { RAMPART_TOKEN: auditor };
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const written = await rampart(
      [
        "compliance",
        "export",
        "bundle",
        "--server",
        t.url,
        "--from",
        from,
        "--to",
        to,
        "--out",
        out,
        "--json",
      ],
      { cwd: t.work, env },
    );
    expect(written.stderr).toBe("");
    expect(written.code).toBe(0);
    const { verifierKey } = JSON.parse(written.stdout) as { verifierKey: string };
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as {
      files: Record<string, string>;
    };
    expect(Object.keys(manifest.files)).toEqual(
      expect.arrayContaining(["reports/dpdp.html", "reports/iso27001.csv", "oscal/assessment-results.json"]),
    );
    expect(Object.keys(manifest.files).some((f) => f.startsWith("evidence/"))).toBe(true);
    expect(Object.keys(manifest.files).some((f) => f.startsWith("audit/"))).toBe(true);
    const ok = await rampart(["compliance", "verify-bundle", out, "--key", verifierKey], { cwd: t.work });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/verifies/);
    writeFileSync(join(out, "reports/iso27001.csv"), "framework,ref\niso27001,A.8.24 compliant\n");
    const bad = await rampart(["compliance", "verify-bundle", out, "--key", verifierKey], { cwd: t.work });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("reports/iso27001.csv");
  }, 120_000);

  test("report, evidence and exceptions from the CLI", async () => {
    const env = { RAMPART_TOKEN: ana };
    const cli = (args: string[]) => rampart([...args, "--server", t.url], { cwd: t.work, env });
    const pdf = await cli([
      "compliance",
      "report",
      "--framework",
      "iso27001",
      "--format",
      "pdf",
      "--out",
      "iso.pdf",
    ]);
    expect(pdf.stderr).toBe("");
    expect(readFileSync(join(t.work, "iso.pdf")).subarray(0, 5).toString()).toBe("%PDF-");
    expect(
      (await cli(["compliance", "report", "--framework", "iso27001", "--format", "docx"])).stderr,
    ).toMatch(/--format: expected html, pdf, csv or json/);
    writeFileSync(join(t.work, "dpa.txt"), "Data processing agreement with Mailer Inc, signed 2026-09-01");
    const added = await cli([
      "compliance",
      "evidence",
      "add",
      "--control",
      "ZT-DAT-003",
      "--title",
      "Mailer DPA",
      "--file",
      "dpa.txt",
      "--json",
    ]);
    expect(added.stderr).toBe("");
    const evidence = JSON.parse(added.stdout) as { id: string; sha256: string; state: string };
    expect(evidence.state).toBe("in_review");
    const { createHash } = await import("node:crypto");
    expect(evidence.sha256).toBe(
      createHash("sha256")
        .update(readFileSync(join(t.work, "dpa.txt")))
        .digest("hex"),
    );
    expect(
      (await cli(["compliance", "evidence", "add", "--control", "ZT-DAT-003", "--title", "x"])).stderr,
    ).toMatch(/exactly one of --file, --link, --attest/);
    const list = await cli(["compliance", "exceptions", "list"]);
    expect(list.stdout).toMatch(/approved\s+until \d{4}-\d{2}-\d{2}\s+gateway\.rate-limits route:shop/);
  }, 120_000);

  test("status from the CLI shows a bar per framework", async () => {
    const r = await rampart(["compliance", "status", "--server", t.url], {
      cwd: t.work,
      env: { RAMPART_TOKEN: auditor },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/dpdp\s+\[[#-]{20}\] \d+%/);
    expect(r.stdout).toMatch(/gateway\.rate-limits\s+/);
  });
});
