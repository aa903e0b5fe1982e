// `rampart audit keys init`: the key file servers share (a Kubernetes Secret), made once and never
// overwritten; the verifier key it prints is the one the audit log then signs with.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { rampart } from "./support/cli.ts";

const work = mkdtempSync(join(tmpdir(), "rampart-audit-keys-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

test("init writes a 0600 key file once, and the log signs with the verifier key it printed", async () => {
  const file = join(work, "keys", "audit-keys.json");
  const made = await rampart(["audit", "keys", "init", file, "--json"], { cwd: work });
  expect(made.code, made.stderr).toBe(0);
  const { verifierKey } = JSON.parse(made.stdout) as { verifierKey: string };
  expect(verifierKey).toMatch(/^rampart-audit\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const before = readFileSync(file, "utf8");

  const again = await rampart(["audit", "keys", "init", file], { cwd: work });
  expect(again.code).not.toBe(0);
  expect(again.stderr).toContain("already exists");
  expect(readFileSync(file, "utf8")).toBe(before);

  writeFileSync(
    join(work, "rampart.yaml"),
    `version: 1\ndatabase: { dataDir: ${join(work, "data")} }\naudit: { keyFile: ${file} }\n`,
  );
  const logs = await rampart(["audit", "logs", "-c", "rampart.yaml", "--json"], { cwd: work });
  expect(logs.code, logs.stderr).toBe(0);
  expect((JSON.parse(logs.stdout) as { verifierKey: string }).verifierKey).toBe(verifierKey);
}, 60_000);
