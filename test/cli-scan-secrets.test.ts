// `rampart scan secrets` as CI and a pre-commit hook run it: exit codes, redacted JSON, the
// baseline workflow, staged mode and usage errors. Few process starts: each takes a second or two.
import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, expect, test } from "vitest";
import { rampart } from "./support/cli.ts";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const ghp = () => `ghp_${Array.from({ length: 36 }, () => ALNUM[randomInt(62)]).join("")}`;
let cwd: string;
const token = ghp();
const git = (...args: string[]) =>
  execFileSync("git", ["-c", "user.name=Dev", "-c", "user.email=dev@example.org", ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: cwd },
  });

beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), "rampart-cli-secrets-"));
  git("init", "-q", "-b", "main");
  writeFileSync(join(cwd, "app.ts"), `export const gh = "${token}";\n`);
  git("add", ".");
  git("commit", "-q", "-m", "init");
});

test("exit 1 on a secret with redacted JSON; a baseline accepts it; 2 on usage errors", async () => {
  const [found, accepted, usage] = await Promise.all([
    rampart(["scan", "secrets", ".", "--format", "json"], { cwd }),
    rampart(
      [
        "scan",
        "secrets",
        ".",
        "--baseline",
        "baseline.json",
        "--update-baseline",
        "--format",
        "json",
        "--output",
        "out.json",
      ],
      { cwd },
    ),
    rampart(["scan", "secrets", ".", "--git", "--staged"], { cwd }),
  ]);
  expect(found.code, found.stderr).toBe(1);
  expect(found.stdout).not.toContain(token);
  expect(found.stderr).not.toContain(token);
  const result = JSON.parse(found.stdout) as {
    findings: { rule: string; location: { file: string; line: number } }[];
  };
  expect(result.findings.map((f) => [f.rule, f.location.file, f.location.line])).toEqual([
    ["github-token", "app.ts", 1],
  ]);

  expect(accepted.code, accepted.stderr).toBe(0);
  expect(readFileSync(join(cwd, "baseline.json"), "utf8")).not.toContain(token);
  expect(usage.code).toBe(2);

  // With the baseline: the old secret passes, a staged new one fails the pre-commit hook.
  const fresh = ghp();
  writeFileSync(join(cwd, "new.ts"), `const t = "${fresh}";\n`);
  git("add", "new.ts");
  const [tree, staged] = await Promise.all([
    rampart(["scan", "secrets", ".", "--baseline", "baseline.json", "--format", "sarif"], { cwd }),
    rampart(["scan", "secrets", ".", "--staged", "--format", "table"], { cwd }),
  ]);
  expect(tree.code, tree.stderr).toBe(1);
  expect(tree.stdout).not.toContain(fresh);
  expect(tree.stdout).toContain("new.ts");
  expect(staged.code, staged.stderr).toBe(1);
  expect(staged.stdout).toContain("new.ts");
  expect(staged.stdout).not.toContain("app.ts");
  expect(staged.stdout + staged.stderr).not.toContain(fresh);
});
