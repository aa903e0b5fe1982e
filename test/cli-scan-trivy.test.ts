// `rampart scan trivy` as a CI job runs it, on real Trivy reports (../shared/eval/trivy): the exit
// code gates the pipeline, an ignore with a reason lets it pass, GitLab gets its container-scanning
// report, an SLA that ran out fails the job, and with --report-to the control plane dates findings.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScanResult } from "../src/appsec/scan/types.ts";
import { rampartConfigSchema } from "../src/config/index.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";
import { rampart } from "./support/cli.ts";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const evalDir = resolve(repoRoot, "../shared/eval/trivy");
const debian = resolve(evalDir, "debian-buster.json");
const alpine = resolve(evalDir, "alpine-310.json");

describe("rampart scan trivy", () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "rampart-cli-trivy-"));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const dir = () => mkdtempSync(join(work, "job-"));

  it("fails the job on a fixable critical, and passes with a justified ignore", async () => {
    const cwd = dir();
    writeFileSync(
      join(cwd, "ignores.yaml"),
      [
        "ignores:",
        "  - id: CVE-2019-18224",
        '    reason: "not reachable: we never call idn2 on user input"',
        "    expires: 2999-12-31",
        "    packages: [libidn2-0]",
      ].join("\n"),
    );
    const [failed, passed] = await Promise.all([
      rampart(["scan", "trivy", debian, "--fail-on", "critical"], { cwd }),
      // The unfixed low one does not fail even at --fail-on low (it is reported as suppressed).
      rampart(["scan", "trivy", debian, "--fail-on", "low", "--ignore-file", "ignores.yaml"], { cwd }),
    ]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain("CVE-2019-18224");
    expect(failed.stderr).toContain("gate failed");
    expect(passed.code).toBe(0);
    expect(passed.stdout).toContain("suppressed by ignore: not reachable");
  });

  it("reads .rampartignore.yaml from the working directory and refuses an ignore without a reason", async () => {
    const cwd = dir();
    writeFileSync(
      join(cwd, ".rampartignore.yaml"),
      "ignores:\n  - id: CVE-2019-18224\n    expires: 2999-12-31\n",
    );
    const r = await rampart(["scan", "trivy", debian, "--fail-on", "critical"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(".rampartignore.yaml:2:5 ignores[0].reason: required");
  });

  it("writes GitLab's container-scanning report", async () => {
    const cwd = dir();
    const r = await rampart(
      [
        "scan",
        "trivy",
        debian,
        "--format",
        "gitlab",
        "--output",
        "gl-container-scanning-report.json",
        "--fail-on",
        "none",
      ],
      { cwd },
    );
    expect(r.code).toBe(0);
    const report = JSON.parse(readFileSync(join(cwd, "gl-container-scanning-report.json"), "utf8")) as {
      scan: { type: string };
      vulnerabilities: {
        severity: string;
        identifiers: { type: string; value: string }[];
        location: unknown;
      }[];
    };
    expect(report.scan.type).toBe("container_scanning");
    expect(Array.isArray(report.vulnerabilities)).toBe(true);
    expect(report.vulnerabilities.map((v) => [v.severity, v.identifiers[0]?.value])).toEqual([
      ["Critical", "CVE-2019-18224"],
    ]);
    expect(report.vulnerabilities[0]?.location).toMatchObject({
      dependency: { package: { name: "libidn2-0" }, version: "2.0.5-1" },
      operating_system: "debian 10.1",
      image: "testdata/fixtures/images/debian-buster.tar.gz",
    });
  });

  it("fails on findings past their SLA whatever --fail-on says, counted from the state file", async () => {
    const cwd = dir();
    const first = await rampart(["scan", "trivy", alpine, "--fail-on", "high", "--state", "state.json"], {
      cwd,
    });
    expect(first.code).toBe(0);
    const state = JSON.parse(readFileSync(join(cwd, "state.json"), "utf8")) as Record<string, string>;
    expect(Object.keys(state)).toHaveLength(4);
    // A hundred days later (medium SLA: 90 days).
    const old = new Date(Date.now() - 100 * 86_400_000).toISOString();
    writeFileSync(
      join(cwd, "state.json"),
      JSON.stringify(Object.fromEntries(Object.keys(state).map((k) => [k, old]))),
    );
    const late = await rampart(
      ["scan", "trivy", alpine, "--fail-on", "high", "--state", "state.json", "-f", "json"],
      {
        cwd,
      },
    );
    expect(late.code).toBe(1);
    expect(late.stderr).toContain("4 findings past their SLA");
    const result = JSON.parse(late.stdout) as ScanResult;
    expect(result.findings.map((f) => f.details?.["sla"])).toEqual(Array(4).fill("overdue by 10 days"));
    const relaxed = await rampart(
      ["scan", "trivy", alpine, "--fail-on", "high", "--state", "state.json", "--no-fail-on-sla-breach"],
      { cwd },
    );
    expect(relaxed.code).toBe(0);
  });

  it("exits 2 with file:line:col on a malformed report, and on a bad --sla", async () => {
    const cwd = dir();
    writeFileSync(
      join(cwd, "broken.json"),
      '{\n  "SchemaVersion": 2,\n  "Results": [\n    {"Target": "x",}\n  ]\n}\n',
    );
    const [r, sla] = await Promise.all([
      rampart(["scan", "trivy", "broken.json"], { cwd }),
      rampart(["scan", "trivy", debian, "--sla", "urgent=1"], { cwd }),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('broken.json:4:20: not valid JSON: unexpected "}"');
    expect(sla.code).toBe(2);
    expect(sla.stderr).toContain("--sla: expected severity=days pairs");
  });

  describe("with a control plane", () => {
    let server: RunningServer;
    let dataDir: string;
    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), "rampart-cli-trivy-server-"));
      const config = rampartConfigSchema.parse({
        version: 1,
        server: { port: 0 },
        database: { dataDir },
        events: { batchMaxDelayMs: 10 },
      });
      server = await startServer({ config, logger: pino({ level: "silent" }) });
    });
    afterAll(async () => {
      await server?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it("records the run once and dates each finding from the control plane's first sighting", async () => {
      const cwd = dir();
      const token = server.runtime.adminTokens[0] as string;
      const args = ["scan", "trivy", debian, "-f", "json", "--fail-on", "none", "--report-to", server.url];
      const r = await rampart([...args, "--source", "shop/api"], { cwd, env: { RAMPART_TOKEN: token } });
      expect(r.stderr).toContain("recorded in the control plane");
      expect(r.code).toBe(0);
      const result = JSON.parse(r.stdout) as ScanResult;

      const headers = { authorization: `Bearer ${token}` };
      const runs = (await (
        await fetch(`${server.url}/api/v1/scans?kind=trivy&source=shop/api`, { headers })
      ).json()) as {
        runs: unknown[];
      };
      expect(runs.runs).toHaveLength(1);
      const items = (await (
        await fetch(`${server.url}/api/v1/scans/items?kind=trivy&source=shop/api`, { headers })
      ).json()) as { items: { fingerprint: string; firstSeen: string }[] };
      const seen = new Map(items.items.map((i) => [i.fingerprint, i.firstSeen]));
      expect(result.findings).toHaveLength(2);
      for (const f of result.findings) {
        expect(seen.has(f.fingerprint)).toBe(true);
        expect(new Date(f.details?.["firstSeen"] as string).getTime()).toBe(
          new Date(seen.get(f.fingerprint) as string).getTime(),
        );
      }

      const refused = await rampart(args, { cwd, env: { RAMPART_TOKEN: "not-a-token" } });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("refused the token");
    });
  });
});
