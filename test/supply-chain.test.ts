// Supply-chain gate (scripts/supply-chain): the allowlist and its expiry, the npm audit gate on
// npm's report format (and end to end against a local registry serving npm's bulk advisory
// endpoint), the licence policy on crafted lockfiles and on this repository, and the CycloneDX SBOM.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../src/config/errors.ts";
import {
  type Allowlist,
  emptyAllowlist,
  loadAllowlist,
  parseAllowlist,
} from "../scripts/supply-chain/allowlist.ts";
import { advisoriesOf, auditGate } from "../scripts/supply-chain/audit.ts";
import { licenceGate } from "../scripts/supply-chain/licences.ts";
import { readLockfile, runtimePackages } from "../scripts/supply-chain/lockfile.ts";
import { CannotRun } from "../scripts/supply-chain/npm.ts";
import { runSbom } from "../scripts/supply-chain/sbom.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const script = join(root, "scripts/supply-chain/run.ts");
const today = "2026-06-15";

const allow = (text: string): Allowlist => parseAllowlist(text, "supply-chain.allow.yaml");

describe("allowlist", () => {
  it("reads advisories and licences with the line of each entry", () => {
    const list = allow(
      [
        "advisories:",
        "  - advisory: GHSA-aaaa-bbbb-cccc",
        "    package: left-pad",
        "    reason: not reachable",
        "    expires: 2026-12-31",
        "licences:",
        "  - package: data-pkg",
        "    licence: SEE LICENSE IN LICENSE",
        "    reason: CC-BY-4.0 data",
        "    expires: 2026-12-31",
      ].join("\n"),
    );
    expect(list.advisories).toMatchObject([
      { advisory: "GHSA-aaaa-bbbb-cccc", source: "supply-chain.allow.yaml:2" },
    ]);
    expect(list.licences).toMatchObject([{ package: "data-pkg", source: "supply-chain.allow.yaml:7" }]);
  });

  it("an empty file allows nothing", () => {
    expect(allow("")).toEqual(emptyAllowlist());
  });

  it("a malformed entry is an error at file:line:column with its key", () => {
    const text = [
      "advisories:",
      "  - advisory: GHSA-aaaa-bbbb-cccc",
      "    package: left-pad",
      "    reason: not reachable",
      "    expires: 2026-02-30",
      "  - advisory: nonsense id",
      "    package: x",
      "    expires: 2026-12-31",
    ].join("\n");
    let error: unknown;
    try {
      allow(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const messages = (error as ConfigError).message.split("\n");
    expect(messages).toEqual([
      "supply-chain.allow.yaml:5:14 advisories[0].expires: expected a date as YYYY-MM-DD",
      expect.stringMatching(/^supply-chain\.allow\.yaml:6:5 advisories\[1\]\.reason: required/),
      expect.stringMatching(/^supply-chain\.allow\.yaml:6:15 advisories\[1\]\.advisory: expected a GHSA id/),
    ]);
  });

  it("a YAML syntax error and an unknown key are located too", () => {
    expect(() => allow("advisories: [\n")).toThrow(/^supply-chain\.allow\.yaml:\d+:\d+ /);
    expect(() => allow("licenses: []\n")).toThrow(/supply-chain\.allow\.yaml:1:1 .*licenses/);
  });
});

/** An `npm audit --json` report (version 2) as npm documents it: advisories inside `via`. */
function auditReport(
  vulns: { name: string; ghsa: string; source: number; severity: string; via?: string[] }[],
) {
  const vulnerabilities: Record<string, unknown> = {};
  for (const v of vulns) {
    vulnerabilities[v.name] = {
      name: v.name,
      severity: v.severity,
      isDirect: false,
      via: [
        {
          source: v.source,
          name: v.name,
          dependency: v.name,
          title: `problem in ${v.name}`,
          url: `https://github.com/advisories/${v.ghsa}`,
          severity: v.severity,
          cwe: ["CWE-1333"],
          cvss: { score: 7.5, vectorString: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H" },
          range: "<2.0.0",
        },
      ],
      effects: [],
      range: "<2.0.0",
      nodes: [`node_modules/${v.name}`],
      fixAvailable: true,
    };
  }
  // A package affected only through a vulnerable dependency: `via` names it, no advisory of its own.
  vulnerabilities["uses-left-pad"] = {
    name: "uses-left-pad",
    severity: "high",
    isDirect: true,
    via: ["left-pad"],
    effects: [],
    range: "*",
    nodes: ["node_modules/uses-left-pad"],
    fixAvailable: true,
  };
  return {
    auditReportVersion: 2,
    vulnerabilities,
    metadata: {
      vulnerabilities: { info: 0, low: 0, moderate: 1, high: 1, critical: 0, total: 2 },
      dependencies: {},
    },
  };
}

describe("npm audit gate", () => {
  const runtime = advisoriesOf(
    auditReport([
      { name: "left-pad", ghsa: "GHSA-aaaa-bbbb-cccc", source: 1001, severity: "high" },
      { name: "tiny-lib", ghsa: "GHSA-tttt-tttt-tttt", source: 1002, severity: "moderate" },
    ]),
  );
  const all = [
    ...runtime,
    ...advisoriesOf(
      auditReport([{ name: "dev-tool", ghsa: "GHSA-dddd-dddd-dddd", source: 1003, severity: "critical" }]),
    ),
  ];
  const entry = (advisory: string, expires: string, pkg = "left-pad") =>
    `  - advisory: ${advisory}\n    package: ${pkg}\n    reason: only used at build time\n    expires: ${expires}\n`;

  it("reads the advisories, not the packages affected through them", () => {
    expect(runtime.map((a) => [a.id, a.package, a.severity])).toEqual([
      ["GHSA-aaaa-bbbb-cccc", "left-pad", "high"],
      ["GHSA-tttt-tttt-tttt", "tiny-lib", "moderate"],
    ]);
  });

  it("fails on a runtime advisory at or above the level; dev-only ones are information", () => {
    const r = auditGate(runtime, all, emptyAllowlist(), "high", today);
    expect(r.status).toBe("fail");
    expect(r.failing.map((a) => a.id)).toEqual(["GHSA-aaaa-bbbb-cccc"]);
    expect(r.below.map((a) => a.id)).toEqual(["GHSA-tttt-tttt-tttt"]);
    expect(r.devOnly.map((a) => a.id)).toEqual(["GHSA-dddd-dddd-dddd"]);
    // The level is configurable.
    expect(auditGate(runtime, all, emptyAllowlist(), "moderate", today).failing).toHaveLength(2);
    expect(auditGate(runtime, all, emptyAllowlist(), "critical", today).status).toBe("pass");
  });

  it("a valid entry excuses by GHSA id, advisory URL or npm id, on its package only", () => {
    for (const id of ["GHSA-aaaa-bbbb-cccc", "https://github.com/advisories/GHSA-aaaa-bbbb-cccc", "1001"]) {
      const r = auditGate(runtime, all, allow(`advisories:\n${entry(id, "2026-06-15")}`), "high", today);
      expect(r.status, id).toBe("pass");
      expect(r.excused).toMatchObject([{ id: "GHSA-aaaa-bbbb-cccc", by: "supply-chain.allow.yaml:2" }]);
    }
    const other = auditGate(
      runtime,
      all,
      allow(`advisories:\n${entry("GHSA-aaaa-bbbb-cccc", "2026-12-31", "x")}`),
      "high",
      today,
    );
    expect(other.status).toBe("fail");
    expect(other.entries.unused).toEqual([
      { source: "supply-chain.allow.yaml:2", what: "GHSA-aaaa-bbbb-cccc on x" },
    ]);
  });

  it("an expired entry no longer excuses and is reported as expired", () => {
    const r = auditGate(
      runtime,
      all,
      allow(`advisories:\n${entry("GHSA-aaaa-bbbb-cccc", "2026-06-14")}`),
      "high",
      today,
    );
    expect(r.status).toBe("fail");
    expect(r.failing.map((a) => a.id)).toEqual(["GHSA-aaaa-bbbb-cccc"]);
    expect(r.entries.expired).toEqual([
      { source: "supply-chain.allow.yaml:2", expires: "2026-06-14", what: "GHSA-aaaa-bbbb-cccc on left-pad" },
    ]);
  });

  it("npm's error object is 'cannot run', never a pass", () => {
    const error = {
      message:
        "405 Method Not Allowed - POST https://user:pw@registry.example/-/npm/v1/security/advisories/bulk",
      statusCode: 405,
      error: { summary: "", detail: "" },
    };
    expect(() => advisoriesOf(error)).toThrow(CannotRun);
    expect(() => advisoriesOf(error)).toThrow(
      /audit endpoint: 405 Method Not Allowed - POST https:\/\/registry\.example/,
    );
    expect(() => advisoriesOf({ error: { code: "ECONNREFUSED", summary: "" } })).toThrow(/ECONNREFUSED/);
  });
});

/** A package-lock.json v3 with these packages (path → fields). */
function lockfile(packages: Record<string, { license?: unknown; dev?: boolean; version?: string }>) {
  const entries: Record<string, unknown> = { "": { name: "fixture", version: "1.0.0" } };
  for (const [name, p] of Object.entries(packages))
    entries[`node_modules/${name}`] = { version: "1.0.0", ...p };
  return { name: "fixture", version: "1.0.0", lockfileVersion: 3, requires: true, packages: entries };
}

describe("licence policy", () => {
  it("refuses AGPL and SSPL in the runtime tree, not in dev dependencies", () => {
    const r = licenceGate(
      lockfile({ ok: { license: "MIT" }, agpl: { license: "AGPL-3.0-only" }, sspl: { license: "SSPL-1.0" } }),
      emptyAllowlist(),
      today,
    );
    expect(r.status).toBe("fail");
    expect(r.failing.map((p) => [p.package, p.verdict])).toEqual([
      ["agpl", "refused"],
      ["sspl", "refused"],
    ]);
    const dev = licenceGate(
      lockfile({ ok: { license: "MIT" }, agpl: { license: "AGPL-3.0", dev: true } }),
      emptyAllowlist(),
      today,
    );
    expect(dev.status).toBe("pass");
    expect(dev.packages).toBe(1);
  });

  it("an OR expression passes when one side may be chosen; AND needs both", () => {
    const r = licenceGate(
      lockfile({
        either: { license: "(MIT OR AGPL-3.0)" },
        both: { license: "MIT AND AGPL-3.0-or-later" },
        legacy: { license: { type: "BSD-3-Clause", url: "https://example.org" } },
      }),
      emptyAllowlist(),
      today,
    );
    expect(r.failing.map((p) => p.package)).toEqual(["both"]);
    expect(r.counts).toEqual({ "(MIT OR AGPL-3.0)": 1, "BSD-3-Clause": 1, "MIT AND AGPL-3.0-or-later": 1 });
  });

  it("a missing, non-SPDX or private licence fails unless allowlisted until a date not past", () => {
    const lock = lockfile({
      none: {},
      custom: { license: "SEE LICENSE IN LICENSE.txt" },
      ref: { license: "LicenseRef-Proprietary" },
    });
    const r = licenceGate(lock, emptyAllowlist(), today);
    expect(r.failing.map((p) => [p.package, p.licence, p.why])).toEqual([
      ["custom", "SEE LICENSE IN LICENSE.txt", "not an SPDX expression"],
      ["none", "(none)", "no licence declared"],
      ["ref", "LicenseRef-Proprietary", "names a private licence (LicenseRef)"],
    ]);
    const entry = (pkg: string, licence: string, expires: string) =>
      `  - package: ${pkg}\n    licence: "${licence}"\n    reason: data under CC-BY-4.0\n    expires: ${expires}\n`;
    const list = allow(
      `licences:\n${entry("custom", "SEE LICENSE IN LICENSE.txt", "2026-06-15")}${entry("ref", "LicenseRef-Proprietary", "2026-06-14")}${entry("gone", "MIT", "2027-01-01")}`,
    );
    const excused = licenceGate(lock, list, today);
    expect(excused.excused.map((p) => p.package)).toEqual(["custom"]);
    expect(excused.failing.map((p) => p.package)).toEqual(["none", "ref"]);
    expect(excused.entries.expired.map((e) => e.source)).toEqual(["supply-chain.allow.yaml:6"]);
    expect(excused.entries.unused.map((e) => e.source)).toEqual(["supply-chain.allow.yaml:10"]);
  });
});

describe("this repository", () => {
  const lock = readLockfile(join(root, "package-lock.json"));
  const runtimeIds = new Set(runtimePackages(lock).map((p) => `${p.name}@${p.version}`));
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "rampart-supply-chain-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("passes the licence check with its allowlist, and every allowlist entry is in use", () => {
    const r = licenceGate(
      lock,
      loadAllowlist(join(root, "supply-chain.allow.yaml")),
      new Date().toISOString().slice(0, 10),
    );
    expect(r.failing).toEqual([]);
    expect(r.status).toBe("pass");
    expect(r.packages).toBe(runtimeIds.size);
    expect(r.entries).toEqual({ expired: [], unused: [] });
  });

  it("npm sbom gives CycloneDX with one component per runtime package", async () => {
    const out = join(dir, "sbom.cdx.json");
    const r = await runSbom(root, lock, out, "rampart");
    expect(r.status).toBe("pass");
    const bom = JSON.parse(readFileSync(out, "utf8")) as {
      bomFormat: string;
      specVersion: string;
      metadata: { component: { name: string } };
      components: { "bom-ref": string; purl: string }[];
    };
    expect(bom.bomFormat).toBe("CycloneDX");
    expect(bom.metadata.component.name).toBe("rampart");
    expect(bom.components.length).toBe(runtimeIds.size);
    expect(new Set(bom.components.map((c) => c["bom-ref"]))).toEqual(runtimeIds);
    // Production dependencies are there, dev-only tools are not.
    const names = new Set(bom.components.map((c) => c["bom-ref"].replace(/@[^@]+$/, "")));
    expect(names.has("fastify")).toBe(true);
    expect(names.has("ajv")).toBe(true); // shared with dev tools: the one `npm sbom --omit=dev` drops
    expect(names.has("vitest")).toBe(false);
    expect(bom.components.find((c) => c["bom-ref"].startsWith("fastify@"))?.purl).toMatch(
      /^pkg:npm\/fastify@/,
    );
  });
});

/** Runs the CLI; resolves with its exit code and output. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env: { ...process.env, ...env } }, (err, stdout) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout });
    });
  });
}

describe("run.ts against a local registry (npm's bulk advisory endpoint)", () => {
  let server: Server;
  let registry: string;
  let project: string;
  let mode: "advisories" | "refuse" = "advisories";
  beforeAll(async () => {
    // What npm audit POSTs: { name: [versions] } (gzip); the answer: { name: [advisory] }.
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (mode === "refuse") {
          res.writeHead(405, { allow: "GET,HEAD" }).end();
          return;
        }
        if (req.method === "POST" && req.url === "/-/npm/v1/security/advisories/bulk") {
          let body = Buffer.concat(chunks);
          if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
          const asked = JSON.parse(body.toString("utf8")) as Record<string, string[]>;
          const known: Record<string, { id: number; ghsa: string; severity: string }> = {
            "left-pad": { id: 1001, ghsa: "GHSA-aaaa-bbbb-cccc", severity: "high" },
            "dev-tool": { id: 1003, ghsa: "GHSA-dddd-dddd-dddd", severity: "critical" },
          };
          const answer: Record<string, unknown[]> = {};
          for (const name of Object.keys(asked)) {
            const k = known[name];
            if (!k) continue;
            answer[name] = [
              {
                id: k.id,
                url: `https://github.com/advisories/${k.ghsa}`,
                title: `problem in ${name}`,
                severity: k.severity,
                vulnerable_versions: "<9.0.0",
                cwe: [],
                cvss: { score: 7.5, vectorString: null },
              },
            ];
          }
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
          return;
        }
        res.writeHead(404, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    registry = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/`;
    project = mkdtempSync(join(tmpdir(), "rampart-supply-chain-project-"));
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({
        name: "fixture",
        version: "1.0.0",
        dependencies: { "left-pad": "1.3.0" },
        devDependencies: { "dev-tool": "1.0.0" },
      }),
    );
    const lock = lockfile({
      "left-pad": { license: "MIT", version: "1.3.0" },
      "dev-tool": { license: "AGPL-3.0", dev: true },
    });
    (lock.packages[""] as Record<string, unknown>).dependencies = { "left-pad": "1.3.0" };
    (lock.packages[""] as Record<string, unknown>).devDependencies = { "dev-tool": "1.0.0" };
    writeFileSync(join(project, "package-lock.json"), JSON.stringify(lock));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(project, { recursive: true, force: true });
  });
  const env = () => ({ npm_config_registry: registry, npm_config_audit_level: "" });

  it("fails on the runtime advisory, reports the dev one, and an allowlist entry excuses it", async () => {
    mode = "advisories";
    const failed = await cli(["audit", "licences", "--json", "--root", project], env());
    expect(failed.code).toBe(1);
    const report = JSON.parse(failed.stdout);
    expect(report.audit.result.failing.map((a: { id: string }) => a.id)).toEqual(["GHSA-aaaa-bbbb-cccc"]);
    expect(report.audit.result.devOnly.map((a: { id: string }) => a.id)).toEqual(["GHSA-dddd-dddd-dddd"]);
    expect(report.licences.status).toBe("pass"); // AGPL only in dev

    writeFileSync(
      join(project, "supply-chain.allow.yaml"),
      "advisories:\n  - advisory: GHSA-aaaa-bbbb-cccc\n    package: left-pad\n    reason: input is ours\n    expires: 2999-01-01\n",
    );
    const excused = await cli(["audit", "--root", project], env());
    expect(excused.stdout).toMatch(
      /excused +high left-pad GHSA-aaaa-bbbb-cccc by supply-chain\.allow\.yaml:2/,
    );
    expect(excused.code).toBe(0);
  });

  it("exits 2 and says so when the audit endpoint refuses, and on a malformed allowlist", async () => {
    mode = "refuse";
    const refused = await cli(["audit", "--root", project], env());
    expect(refused.code).toBe(2);
    expect(refused.stdout).toMatch(
      /CANNOT RUN: npm audit --omit=dev could not reach the registry's audit endpoint: 405/,
    );

    writeFileSync(join(project, "supply-chain.allow.yaml"), "licences:\n  - package: x\n    licence: MIT\n");
    const malformed = await cli(["licences", "--root", project]);
    expect(malformed.code).toBe(2);
    expect(malformed.stdout).toMatch(/supply-chain\.allow\.yaml:2:5 licences\[0\]\.reason: required/);
  });
});
