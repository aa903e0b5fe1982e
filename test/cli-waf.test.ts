// `rampart waf test` as an operator uses it: one request, or a labelled JSONL file in the format
// of the WAF evaluation sets, with a summary of attacks caught and benign requests blocked.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { rampart } from "./support/cli.ts";

const work = mkdtempSync(join(tmpdir(), "rampart-waf-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

test("one request: the verdict, the score and each match", async () => {
  const hit = await rampart(["waf", "test", "--uri", "/item?id=1%27%20OR%20%271%27=%271"], { cwd: work });
  expect(hit.stdout).toBe("BLOCKED  score 5  sqli-tautology (PL1, critical) at ARGS:id\n");
  const body = await rampart(
    [
      "waf",
      "test",
      "-X",
      "POST",
      "--uri",
      "/api",
      "-H",
      "content-type: application/json",
      "-d",
      '{"q":"O\'Brien"}',
      "--json",
    ],
    { cwd: work },
  );
  expect(JSON.parse(body.stdout)).toEqual({ score: 0, matches: [], blocked: false });
});

test("a JSONL file: a line per request and a summary of what was caught and wrongly blocked", async () => {
  const file = join(work, "requests.jsonl");
  const line = (id: string, label: string, uri: string) =>
    JSON.stringify({ id, label, method: "GET", uri, headers: {} });
  writeFileSync(
    file,
    [
      line("a1", "attack", "/?id=1%20UNION%20SELECT%20password%20FROM%20users"),
      line("a2", "attack", "/?q=hello"),
      line("b1", "benign", "/?name=O%27Brien"),
      line("b2", "benign", "/?q=union%20was%20a%20great%20select"),
      "",
    ].join("\n"),
  );
  const run = await rampart(["waf", "test", "--file", file], { cwd: work });
  expect(run.stdout).toMatch(/^a1 +BLOCKED +\d+ +sqli-union/m);
  expect(run.stdout).toMatch(/^b1 +passed +0 +no match/m);
  expect(run.stdout.trim().split("\n").at(-1)).toBe(
    "4 requests at paranoia 1: attacks caught 50.00% of 2, benign blocked 0.00% of 2",
  );
  const json = (await rampart(["waf", "test", "--file", file, "--json"], { cwd: work })).stdout
    .trim()
    .split("\n");
  expect(JSON.parse(json.at(-1) as string).summary).toMatchObject({
    attacksCaught: "50.00%",
    benignBlocked: "0.00%",
  });
});

test("bad input says what and where", async () => {
  const file = join(work, "broken.jsonl");
  writeFileSync(file, `${JSON.stringify({ uri: "/" })}\n{not json\n`);
  const broken = await rampart(["waf", "test", "--file", file], { cwd: work });
  expect(broken.code).not.toBe(0);
  expect(broken.stderr).toContain(`${file}:2: not a JSON object`);
  const level = await rampart(["waf", "test", "--uri", "/", "--paranoia", "7"], { cwd: work });
  expect(level.stderr).toContain("--paranoia: expected 1, 2, 3 or 4; got 7");
  const none = await rampart(["waf", "test"], { cwd: work });
  expect(none.stderr).toContain("give --uri for one request, or --file for a JSONL file of requests");
});

test("-c and --route apply the route's exclusions and parameter allowlist, as the gateway would", async () => {
  const config = join(work, "rampart.yaml");
  writeFileSync(
    config,
    [
      "version: 1",
      "routes:",
      "  - path: /forum",
      "    upstream: http://127.0.0.1:9",
      "    waf:",
      "      exclusions: [{ tags: [attack-sqli], targets: ['ARGS:post'] }]",
      "      parameters: [{ targets: ['ARGS:id'], kind: integer, onMismatch: block }]",
      "",
    ].join("\n"),
  );
  const run = (uri: string) =>
    rampart(["waf", "test", "-c", config, "--route", "/forum", "--uri", uri], { cwd: work });
  expect((await run("/r?post=1%27%20OR%20%271%27=%271")).stdout).toMatch(/^passed {2}score 0/);
  expect((await run("/r?title=1%27%20OR%20%271%27=%271")).stdout).toMatch(/^BLOCKED .*sqli-tautology/);
  expect((await run("/r?id=12x")).stdout).toMatch(
    /^BLOCKED .*allowlist-mismatch \(PL1, critical\) at ARGS:id/,
  );
  const missing = await rampart(["waf", "test", "-c", config, "--route", "/nope", "--uri", "/"], {
    cwd: work,
  });
  expect(missing.stderr).toMatch(/--route: .* has no route with path '\/nope' \(it has \/forum\)/);
});
