// Continuous compliance on a running server, as a security team meets it: rampart.yaml is edited
// so a public route's WAF only detects; within one cycle the control fails and an issue opens on
// the (local) GitHub; someone closes the issue by hand while the route still fails and the next
// cycle reopens it; reverting the file makes the control pass and the issue close. Every run's
// results are evidence whose hash is in the audit log.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { loadConfig } from "../src/config/index.ts";
import { catalogueProblems, loadCatalogue } from "../src/monitoring/compliance/catalog/index.ts";
import { builtinChecks } from "../src/monitoring/compliance/checks/index.ts";
import type { CheckSummary, FrameworkReadiness } from "../src/monitoring/compliance/model.ts";
import { createLogger } from "../src/platform/logging.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";
import { type FakeTracker, startGitHub } from "./support/trackers.ts";

const WAIT = { timeout: 20_000, interval: 100 };
const ROUTE = "route:shop";

describe("a control that follows live config, with its ticket", () => {
  let dir: string;
  let configPath: string;
  let server: RunningServer;
  let github: FakeTracker;

  const config = (wafMode: "block" | "detect") =>
    [
      "version: 1",
      "server: { host: 127.0.0.1, port: 0 }",
      `database: { dataDir: ${JSON.stringify(join(dir, "data"))} }`,
      "events: { batchMaxDelayMs: 10 }",
      "routes:",
      "  - id: shop",
      "    path: /",
      "    upstream: http://127.0.0.1:9",
      `    waf: { mode: ${wafMode} }`,
      "    rateLimits: [{ name: per-ip, limit: 100, windowSeconds: 60 }]",
      "compliance:",
      "  intervalSeconds: 1",
      "  tickets:",
      "    provider: github",
      `    apiUrl: ${github.url}`,
      `    repo: ${github.project}`,
      `    token: ${github.token}`,
      "    labels: [compliance, rampart]",
      "",
    ].join("\n");

  const call = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${server.url}${path}`, {
      headers: { authorization: `Bearer ${server.runtime.adminTokens[0]}` },
    });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };
  const wafItem = async () =>
    (await call<CheckSummary>("/api/v1/compliance/checks/gateway.waf-blocking")).items.find(
      (i) => i.resource === ROUTE,
    );
  const control = async (id: string) =>
    (await call<FrameworkReadiness>("/api/v1/compliance/frameworks/iso27001/report")).controls.find(
      (c) => c.control.id === id,
    );
  const ticketsFor = () => github.issues().filter((i) => i.title.includes("shop") || i.body.includes(ROUTE));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rampart-compliance-"));
    github = await startGitHub();
    configPath = join(dir, "rampart.yaml");
    writeFileSync(configPath, config("block"));
    server = await startServer({ configPath, logger: createLogger({ level: "silent" }) });
  });

  afterAll(async () => {
    await server?.stop();
    await github?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("every check the server runs is in the catalogue, and every control's check exists", () => {
    expect(
      catalogueProblems(
        loadCatalogue(),
        builtinChecks.map((c) => c.id),
      ),
    ).toEqual([]);
  });

  test("the config refuses TLS below 1.2 outright, so the live probe is what catches an older listener", async () => {
    const bad = join(dir, "tls10.yaml");
    writeFileSync(bad, "version: 1\ngateway:\n  tls:\n    minVersion: TLSv1\n    certificates: []\n");
    await expect(loadConfig(bad)).rejects.toThrow(/minVersion/);
  });

  test("a blocking WAF on the public route passes, and no ticket exists", async () => {
    await vi.waitFor(async () => expect((await wafItem())?.standing).toBe("passing"), WAIT);
    expect((await control("ZT-NET-002"))?.status).toBe("passing");
    expect(ticketsFor()).toEqual([]);
  });

  test("switching the WAF to detect fails the control within a cycle and opens one ticket", async () => {
    await writeFile(configPath, config("detect"));
    await vi.waitFor(async () => expect((await wafItem())?.standing).toBe("failing"), WAIT);
    expect((await control("ZT-NET-002"))?.status).toBe("failing");
    const metrics = async () =>
      (
        await fetch(`${server.url}/metrics`, {
          headers: { authorization: `Bearer ${server.runtime.adminTokens[0]}` },
        })
      ).text();
    await vi.waitFor(
      async () =>
        expect(await metrics()).toMatch(
          /rampart_compliance_items\{check="gateway.waf-blocking",standing="failing"\} 1/,
        ),
      WAIT,
    );
    expect(await metrics()).toMatch(/rampart_compliance_readiness_ratio\{framework="iso27001"\} 0\.\d+/);
    await vi.waitFor(() => expect(ticketsFor()).toHaveLength(1), WAIT);
    const [issue] = ticketsFor();
    expect(issue?.open).toBe(true);
    expect(issue?.labels).toEqual(expect.arrayContaining(["compliance", "rampart"]));
    expect(issue?.body).toContain("detect");
    // Further cycles see the same failure: still one ticket, and no comment for nothing new.
    const runs = (await call<CheckSummary>("/api/v1/compliance/checks/gateway.waf-blocking")).lastRunAt;
    await vi.waitFor(
      async () =>
        expect(
          (await call<CheckSummary>("/api/v1/compliance/checks/gateway.waf-blocking")).lastRunAt,
        ).not.toBe(runs),
      WAIT,
    );
    expect(ticketsFor()).toHaveLength(1);
    expect(ticketsFor()[0]?.comments).toEqual([]);
  });

  test("closing the ticket by hand while the route still fails reopens it on the next cycle", async () => {
    const [issue] = ticketsFor();
    github.closeByHand(issue?.key as string);
    expect(ticketsFor()[0]?.open).toBe(false);
    await vi.waitFor(() => expect(ticketsFor()[0]?.open).toBe(true), WAIT);
    expect(ticketsFor()).toHaveLength(1);
    expect(ticketsFor()[0]?.comments.at(-1)).toMatch(/still fail/i);
  });

  test("reverting the file makes the control pass and closes the ticket", async () => {
    await writeFile(configPath, config("block"));
    await vi.waitFor(async () => expect((await wafItem())?.standing).toBe("passing"), WAIT);
    await vi.waitFor(() => expect(ticketsFor()[0]?.open).toBe(false), WAIT);
    expect(ticketsFor()).toHaveLength(1);
    expect((await control("ZT-NET-002"))?.status).toBe("passing");
  });

  test("each change of results is a snapshot whose SHA-256 is in the audit log", async () => {
    const { evidence } = await call<{
      evidence: { id: string; sha256: string; kind: string; controls: string[] }[];
    }>("/api/v1/compliance/evidence?kind=snapshot&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z");
    const waf = evidence.filter((e) => e.controls.includes("ZT-NET-002"));
    // Blocking, detecting, blocking again: two distinct results, so at least two distinct hashes.
    expect(new Set(waf.map((e) => e.sha256)).size).toBeGreaterThanOrEqual(2);
    await server.runtime.bus.flush();
    const { entries } = await call<{ entries: { target?: string; data: { sha256?: string } }[] }>(
      "/api/v1/audit/entries?type=compliance.evidence_collected&limit=1000",
    );
    for (const e of waf)
      expect(entries.some((x) => x.target === `evidence:${e.id}` && x.data.sha256 === e.sha256)).toBe(true);
    // The stored content still hashes to what the log holds.
    const first = waf[0] as { id: string; sha256: string };
    const res = await fetch(`${server.url}/api/v1/compliance/evidence/${first.id}?download=true`, {
      headers: { authorization: `Bearer ${server.runtime.adminTokens[0]}` },
    });
    const { createHash } = await import("node:crypto");
    expect(
      createHash("sha256")
        .update(Buffer.from(await res.arrayBuffer()))
        .digest("hex"),
    ).toBe(first.sha256);
  });
});
