// `rampart scan iac` as CI runs it: Terraform plan JSON in, a table/JSON/SARIF report out, and
// exit codes a pipeline understands (0 pass, 1 findings at or above --fail-on, 2 input or usage).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScanResult } from "../src/appsec/scan/types.ts";
import { rampart } from "./support/cli.ts";

let work: string;
const fixtures = fileURLToPath(new URL("./fixtures/iac/", import.meta.url));
const run = (args: string[]) => rampart(["scan", "iac", ...args], { cwd: work });

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "rampart-scan-iac-"));
  mkdirSync(join(work, "plans"));
  for (const f of ["aws-insecure.json", "gcp-hardened.json", "azure-hardened.json"])
    copyFileSync(join(fixtures, f), join(work, "plans", f));
  writeFileSync(
    join(work, "plans", "broken.json"),
    '{\n  "format_version": "1.2",\n  "planned_values": {,\n}\n',
  );
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("rampart scan iac", () => {
  it("fails the gate on an insecure plan and names rule, resource and attribute", async () => {
    const r = await run(["plans/aws-insecure.json"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("IAC-NET-OPEN-SSH");
    expect(r.stdout).toContain("aws_security_group.web");
    expect(r.stderr).toMatch(/gate failed/);
  });

  it("passes a hardened plan with --require-cmk and --residency india; JSON to a file", async () => {
    const r = await run([
      "plans/gcp-hardened.json",
      "--require-cmk",
      "--residency",
      "india",
      "-f",
      "json",
      "-o",
      "out/gcp.json",
    ]);
    expect(r.code).toBe(0);
    const result = JSON.parse(readFileSync(join(work, "out/gcp.json"), "utf8")) as ScanResult;
    expect(result).toMatchObject({ kind: "iac", target: "plans/gcp-hardened.json", findings: [] });
  });

  it("residency findings are high: reported, but they pass a gate set at critical", async () => {
    const r = await run([
      "plans/azure-hardened.json",
      "--residency",
      "eu",
      "--regions",
      "southindia",
      "-f",
      "json",
      "--fail-on",
      "critical",
    ]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as ScanResult;
    expect(new Set(result.findings.map((f) => `${f.rule} ${f.severity}`))).toEqual(
      new Set(["IAC-RESIDENCY high"]),
    );
    // the storage account sits in southindia, allowed by --regions on top of the preset
    expect(result.findings.some((f) => f.location.resource === "azurerm_storage_account.data")).toBe(false);
  });

  it("exits 2 with file:line:col on malformed JSON and on a missing file", async () => {
    const [broken, missing] = await Promise.all([run(["plans/broken.json"]), run(["plans/nope.json"])]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/plans\/broken\.json:3:\d+: not valid JSON/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/plans\/nope\.json: cannot read the plan \(no such file\)/);
  });
});
