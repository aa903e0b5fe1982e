// Scan evidence through a real control plane: a CI job posts results (as `rampart scan
// --report-to` does), the server keeps per-finding state and audits each change; readers see runs
// and items; a token without scans:write is refused; secrets never reach the evidence in clear.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ReportError, reportResult } from "../src/appsec/scan/report.ts";
import type { Finding, ScanResult } from "../src/appsec/scan/types.ts";
import { rampartConfigSchema } from "../src/config/index.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";
import { rampart } from "./support/cli.ts";

const result = (
  findings: Finding[],
  kind: ScanResult["kind"] = "trivy",
  target = "registry.example.com/shop/web:1.4",
): ScanResult => ({
  kind,
  target,
  startedAt: "2026-11-23T10:00:00.000Z",
  finishedAt: "2026-11-23T10:00:03.000Z",
  findings,
  stats: { vulnerabilities: findings.length },
});
const vuln = (id: string, severity: Finding["severity"], fingerprint: string): Finding => ({
  rule: id,
  severity,
  title: `${id} in openssl`,
  fix: "upgrade openssl to 3.0.15-1",
  location: { resource: "registry.example.com/shop/web:1.4 (debian 12.7)", path: "openssl@3.0.14-1" },
  fingerprint,
  details: { package: "openssl", installed: "3.0.14-1", fixed: "3.0.15-1" },
});

describe("scan evidence in the control plane", () => {
  let server: RunningServer;
  let dataDir: string;
  let admin: string;
  let reader: string;

  const get = async (path: string, token = admin) => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  async function audited(
    type: string,
  ): Promise<{ type: string; severity: string; data: Record<string, unknown> }[]> {
    for (let i = 0; i < 100; i++) {
      const r = await get(`/api/v1/audit/entries?type=${type}&limit=1000`);
      const entries = r.json.entries as { type: string; severity: string; data: Record<string, unknown> }[];
      if (entries.length > 0) return entries;
      await new Promise((res) => setTimeout(res, 50));
    }
    return [];
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "rampart-scans-"));
    const config = rampartConfigSchema.parse({
      version: 1,
      server: { port: 0 },
      database: { dataDir },
      events: { batchMaxDelayMs: 10 },
      identity: { serviceAccounts: [{ name: "dashboard", roles: ["auditor"] }] },
    });
    server = await startServer({ config, logger: pino({ level: "silent" }) });
    admin = server.runtime.adminTokens[0] as string;
    const key = await fetch(`${server.url}/api/v1/identity/api-keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ kind: "service", subject: "dashboard", ttlSeconds: 3600 }),
    });
    expect(key.status).toBe(201);
    reader = ((await key.json()) as { key: string }).key;
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("runs from CI: first seen kept, fixed when gone, new and fixed audited, readable by an auditor", async () => {
    const to = { url: server.url, token: admin, source: "shop/web" };
    const first = await reportResult(
      result([
        vuln("CVE-2024-5535", "critical", "c0ffee0000000001"),
        vuln("CVE-2024-2511", "low", "c0ffee0000000002"),
      ]),
      to,
    );
    expect(first).toMatchObject({ new: 2, fixed: 0, open: 2 });
    expect(first.items.map((i) => i.fingerprint)).toEqual(["c0ffee0000000001", "c0ffee0000000002"]);
    const seen = first.items[0]?.firstSeen as string;

    const second = await reportResult(result([vuln("CVE-2024-5535", "critical", "c0ffee0000000001")]), to);
    expect(second).toMatchObject({ new: 0, fixed: 1, open: 1 });
    // The SLA clock: the same first sighting on the second run.
    expect(second.items).toEqual([{ fingerprint: "c0ffee0000000001", firstSeen: seen }]);

    const runs = await get("/api/v1/scans?kind=trivy&source=shop/web", reader);
    expect(runs.status).toBe(200);
    expect(
      (runs.json.runs as { new: number; fixed: number; reportedBy: string }[]).map((r) => [r.new, r.fixed]),
    ).toEqual([
      [0, 1],
      [2, 0],
    ]);
    const open = await get("/api/v1/scans/items?kind=trivy&source=shop/web&open=true", reader);
    expect(
      (open.json.items as { fingerprint: string; firstSeen: string; details: object }[]).map((i) => [
        i.fingerprint,
        i.firstSeen,
      ]),
    ).toEqual([["c0ffee0000000001", seen]]);
    const fixed = await get("/api/v1/scans/items?source=shop/web&open=false", reader);
    expect((fixed.json.items as { rule: string; fixedAt: string | null }[])[0]).toMatchObject({
      rule: "CVE-2024-2511",
    });
    expect((fixed.json.items as { fixedAt: string | null }[])[0]?.fixedAt).not.toBeNull();

    const news = await audited("scan.finding_new");
    expect(news.map((e) => [e.severity, e.data.rule]).sort()).toEqual([
      ["critical", "CVE-2024-5535"],
      ["low", "CVE-2024-2511"],
    ]);
    expect((await audited("scan.finding_fixed")).map((e) => e.data.rule)).toEqual(["CVE-2024-2511"]);
    expect((await audited("scan.completed")).length).toBeGreaterThanOrEqual(2);
  });

  test("a reader cannot post, a wrong token is refused, a malformed result is rejected with where", async () => {
    const r = result([vuln("CVE-2024-5535", "critical", "c0ffee0000000001")]);
    const asReader = await reportResult(r, { url: server.url, token: reader, source: "x" }).catch(
      (e: unknown) => e,
    );
    expect(asReader).toBeInstanceOf(ReportError);
    expect((asReader as ReportError).status).toBe(403);
    await expect(reportResult(r, { url: server.url, token: "not-a-token", source: "x" })).rejects.toThrow(
      "the control plane refused the token (401)",
    );
    const bad = { ...r, findings: [{ ...r.findings[0], fingerprint: "NOT HEX" }] } as ScanResult;
    await expect(reportResult(bad, { url: server.url, token: admin, source: "x" })).rejects.toThrow(
      "rejected the result (400): result.findings[0].fingerprint: expected a hex fingerprint",
    );
    expect((await get("/api/v1/scans/items?open=maybe")).status).toBe(400);
    expect((await fetch(`${server.url}/api/v1/scans`)).status).toBe(401);
  });

  test("secrets findings: redacted titles only; details never reach items, events or the audit log", async () => {
    const raw = "ghp_4fQ2kZ8mL0pX7wR3tY6uI9oA1sD5fG8hJ2kL"; // rampart:allow (hand-typed, not a GitHub token)
    const finding: Finding = {
      rule: "github-pat",
      severity: "high",
      title: "GitHub personal access token ghp_…(40)",
      location: { file: "scripts/deploy.sh", line: 12, column: 9 },
      fingerprint: "5ec2e7000000000a",
      references: ["CWE-798"],
      // A scanner that leaked the value into details: the evidence store drops details for secrets.
      details: { match: raw, commit: "4f2a9c1e" },
    };
    await reportResult(result([finding], "secrets", "."), {
      url: server.url,
      token: admin,
      source: "shop/web",
    });
    const items = await get("/api/v1/scans/items?kind=secrets");
    const [item] = items.json.items as { title: string; details?: unknown }[];
    expect(item?.title).toBe("GitHub personal access token ghp_…(40)");
    expect(item?.details).toBeUndefined();
    // Wait for this run's event to reach the audit log, then look at everything.
    let events = await audited("scan.finding_new");
    for (let i = 0; i < 100 && !events.some((e) => e.data.rule === "github-pat"); i++) {
      await new Promise((res) => setTimeout(res, 50));
      events = await audited("scan.finding_new");
    }
    expect(events.some((e) => e.data.rule === "github-pat")).toBe(true);
    const all = JSON.stringify([items.json, events, (await get("/api/v1/scans?kind=secrets")).json]);
    expect(all).toContain("github-pat");
    expect(all).not.toContain(raw);
    expect(all).not.toContain(raw.slice(4, 20));
  });

  test("`rampart scan k8s --report-to` records the run, writes its output and keeps the gate's exit code", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rampart-scan-cli-"));
    try {
      writeFileSync(
        join(dir, "pod.yaml"),
        [
          "apiVersion: v1",
          "kind: Pod",
          "metadata: { name: debug, namespace: shop }",
          "spec:",
          "  containers:",
          "    - name: shell",
          "      image: busybox:1.36",
          "      securityContext: { privileged: true }",
          "",
        ].join("\n"),
      );
      const args = [
        "scan",
        "k8s",
        "pod.yaml",
        "--format",
        "sarif",
        "--output",
        "out/k8s.sarif",
        "--report-to",
        server.url,
      ];
      const ok = await rampart([...args, "--source", "shop/cli"], {
        cwd: dir,
        env: { RAMPART_TOKEN: admin },
      });
      expect(ok.stderr).toContain("recorded in the control plane as run");
      expect(ok.code).toBe(1);
      expect(ok.stderr).toMatch(/gate failed: \d+ findings? at or above high/);
      const sarif = JSON.parse(readFileSync(join(dir, "out/k8s.sarif"), "utf8")) as {
        runs: { results: unknown[] }[];
      };
      expect(sarif.runs[0]?.results.length).toBeGreaterThan(0);
      const items = await get("/api/v1/scans/items?kind=k8s&source=shop/cli&open=true", reader);
      expect((items.json.items as unknown[]).length).toBe(sarif.runs[0]?.results.length);

      // Reporting is part of the job: a refused token is an error (2), whatever the gate says.
      const [refused, missing] = await Promise.all([
        rampart([...args, "--token", "wrong", "--fail-on", "none"], { cwd: dir }),
        rampart([...args], { cwd: dir }),
      ]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("the control plane refused the token");
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain("--report-to needs --token or RAMPART_TOKEN");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
