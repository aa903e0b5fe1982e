// `rampart waf tune` end to end: a route in detect mode sees a false positive (a search box that
// takes SQL) from several clients and an attack from one; the detections reach the audit log; the
// command proposes the scoped exclusion and holds back the lone client's; applied, the exclusion
// lets the false positive through while an attack on another parameter is still refused.
import { createServer, type IncomingMessage } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { defaultConfig, gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { startGateway } from "../src/network/gateway/proxy.ts";
import type { TuneResult } from "../src/network/waf/tune.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import { startRuntime } from "../src/server/runtime.ts";
import { rampart as runRampart } from "./support/cli.ts";
import { listenLocal } from "./support/services.ts";

let work: string;
let configFile: string;
let app: ReturnType<typeof createServer>;
let upstream: string;
const rampart = (args: string[]) => runRampart(["waf", "tune", "-c", configFile, ...args], { cwd: work });

const sqlSearch = `/beta/search?q=${encodeURIComponent("1' OR '1'='1")}`; // a SQL tutorial's search box
const attackOnId = `/beta/item?id=${encodeURIComponent("1' OR '1'='1")}`;
const xss = `/beta/profile?bio=${encodeURIComponent("<script>alert(document.cookie)</script>")}`;
const gatewayConfig = gatewayConfigSchema.parse({ port: 0, trustedProxies: ["127.0.0.1"] });
const send = (base: string, path: string, client: string) =>
  fetch(`${base}${path}`, { headers: { "x-forwarded-for": client } });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "rampart-waf-tune-"));
  const dataDir = join(work, "data");
  configFile = join(work, "rampart.yaml");
  writeFileSync(configFile, `version: 1\ndatabase:\n  dataDir: ${JSON.stringify(dataDir)}\n`);
  app = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on("end", () => res.end("ok"));
  });
  upstream = await listenLocal(app);

  const config = defaultConfig();
  const runtime = await startRuntime({
    config: { ...config, database: { ...config.database, dataDir } },
    logger: createLogger({ level: "silent" }),
  });
  const gw = await startGateway({
    gateway: gatewayConfig,
    routes: [routeConfigSchema.parse({ path: "/beta", upstream, waf: { mode: "detect" } })],
    emit: (e) => runtime.bus.emit(e),
  });
  // Four real users search for SQL (twice each); one client probes for XSS six times.
  for (let i = 1; i <= 4; i++)
    for (let n = 0; n < 2; n++) expect((await send(gw.url, sqlSearch, `203.0.113.${i}`)).status).toBe(200);
  for (let n = 0; n < 6; n++) expect((await send(gw.url, xss, "198.51.100.7")).status).toBe(200);
  await gw.close(); // flushes the counted detections to the bus
  await runtime.close(); // and the bus to the audit log
}, 60_000);

afterAll(() => {
  app?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The YAML block the command printed for a route, from its "# route" line to the blank line. */
function yamlBlock(stdout: string, route: string): string {
  const lines = stdout.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`# route ${route} `));
  expect(start).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && l.trim() === "");
  return lines.slice(start, end < 0 ? undefined : end).join("\n");
}

describe("rampart waf tune", () => {
  let exclusions: unknown;
  let proposal = "";

  it("proposes the exclusion many clients need, as YAML to paste, and holds back the lone client's", async () => {
    const r = await rampart([]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^\d+ events \(gateway\.waf_detected\) from \S+ to \S+, 14 requests \(data directory /,
    );
    proposal = r.stdout;
    const block = yamlBlock(r.stdout, "*/beta");
    expect(block).toBe(
      [
        "# route */beta (path: /beta): under its waf:",
        "exclusions:",
        "  # 8 requests from 4 clients",
        '  - { rules: [sqli-tautology], targets: ["ARGS:q"] }',
      ].join("\n"),
    );
    exclusions = (parse(block) as { exclusions: unknown }).exclusions;
    expect(exclusions).toEqual([{ rules: ["sqli-tautology"], targets: ["ARGS:q"] }]);
    expect(r.stdout).toMatch(
      /^Not proposed .*\n {2}\*\/beta {2}xss-\S+ at ARGS:bio: 6 requests from 1 client: too few clients \(1 < 3\)$/m,
    );
  }, 60_000);

  it("--json gives the same proposals to a machine", async () => {
    const r = await rampart(["--json", "--route", "/beta"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as TuneResult & { route: string; types: string[] };
    expect(out).toMatchObject({ route: "*/beta", types: ["gateway.waf_detected"], requests: 14 });
    const beta = out.routes[0];
    expect(beta?.proposed).toEqual([
      expect.objectContaining({
        rule: "sqli-tautology",
        target: "ARGS:q",
        requests: 8,
        clients: 4,
        exclusion: { rules: ["sqli-tautology"], targets: ["ARGS:q"] },
      }),
    ]);
    expect(beta?.notProposed.every((h) => h.target === "ARGS:bio" && h.clients === 1)).toBe(true);
    // Lower guards let the lone client's through: the operator's choice, never the default.
    const lax = JSON.parse((await rampart(["--json", "--min-clients", "1"])).stdout) as TuneResult;
    expect(lax.routes[0]?.proposed.map((p) => p.target)).toContain("ARGS:bio");
  }, 60_000);

  it("reads only the window and route asked for", async () => {
    const other = await rampart(["--route", "/other"]);
    expect(other.stdout).toContain("no WAF detections in this window: nothing to tune");
    const past = await rampart(["--from", "2020-01-01", "--to", "2020-01-08"]);
    expect(past.stdout).toMatch(/^0 events/);
  }, 60_000);

  it("applied, the exclusion lets the false positive through while attacks elsewhere are still refused", async () => {
    expect(exclusions).toBeDefined();
    const events: SecurityEvent[] = [];
    const gw = await startGateway({
      gateway: gatewayConfig,
      routes: [routeConfigSchema.parse({ path: "/beta", upstream, waf: { mode: "block", exclusions } })],
      emit: (e) => events.push(e),
    });
    try {
      expect((await send(gw.url, sqlSearch, "203.0.113.1")).status).toBe(200);
      expect((await send(gw.url, attackOnId, "203.0.113.1")).status).toBe(403);
      expect((await send(gw.url, xss.replace("bio=", "q="), "203.0.113.1")).status).toBe(403);
    } finally {
      await gw.close();
    }
    const details = events.filter((e) => e.type.startsWith("gateway.waf_")).map((e) => e.data.detail);
    expect(details).toHaveLength(2);
    expect(details).toContain("sqli-tautology@ARGS:id score=5");
    expect(details.join(" ")).not.toContain("sqli-tautology@ARGS:q");
  }, 60_000);

  it("once rampart.yaml has the exclusion, the same detections are not proposed again", async () => {
    const applied = join(work, "applied.yaml");
    writeFileSync(
      applied,
      `version: 1\ndatabase:\n  dataDir: ${JSON.stringify(join(work, "data"))}\nroutes:\n  - path: /beta\n    upstream: ${upstream}\n    waf:\n      mode: block\n      ${yamlBlock(proposal, "*/beta").replaceAll("\n", "\n      ")}\n`,
    );
    const r = await runRampart(["waf", "tune", "-c", applied], { cwd: work });
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("no exclusion proposed");
    expect(r.stdout).toMatch(
      /^ {2}\*\/beta {2}sqli-tautology at ARGS:q: 8 requests from 4 clients: already excluded in the config$/m,
    );
  }, 60_000);

  it("bad options say what is wrong and where", async () => {
    const cases: Array<[string[], string]> = [
      [["--min-clients", "0"], "--min-clients: expected a whole number of 1 or more; got '0'"],
      [["--min-requests", "many"], "--min-requests: expected a whole number of 1 or more; got 'many'"],
      [
        ["--from", "yesterday"],
        "--from: expected an ISO 8601 time or a duration such as 7d, 12h, 30m; got 'yesterday'",
      ],
      [["--from", "1d", "--to", "2d"], "is not before --to"],
      [
        ["--route", "beta"],
        "--route: expected a route as events name it, such as /shop or example.com/shop; got 'beta'",
      ],
    ];
    for (const [args, message] of cases) {
      const r = await rampart(args);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr).toContain(message);
    }
  }, 120_000);
});
