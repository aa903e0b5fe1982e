// `rampart config validate` as an operator or a CI job runs it: the real CLI on the pinned Node,
// on files with one mistake each; every mistake is one line naming file:line:column and the key.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rampart } from "./support/cli.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Lines that report a problem: `file:line:column ...`. */
const problemLines = (text: string, file: string) =>
  text.split("\n").filter((line) => line.startsWith(`${file}:`) && /^[^:]+:\d+:\d+ /.test(line));

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "rampart-cli-config-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

describe("rampart config validate: one mistake, one located error, exit 1", () => {
  const cases: Array<{
    what: string;
    file: string;
    text: string;
    /** `file:line:column path: message` exactly as printed (file relative to cwd). */
    expected: RegExp;
  }> = [
    {
      what: "a tab used for indentation (YAML syntax)",
      file: "tab.yaml",
      text: "version: 1\nserver:\n\thost: 0.0.0.0\n",
      expected: /^tab\.yaml:3:1 .*[Tt]ab/,
    },
    {
      what: "a key given twice (YAML syntax)",
      file: "duplicate.yaml",
      text: "version: 1\nserver:\n  port: 7600\n  port: 7601\n",
      expected: /^duplicate\.yaml:4:3 .*unique/,
    },
    {
      what: "a wrong type",
      file: "type.yaml",
      text: "version: 1\nserver:\n  host: 127.0.0.1\n  port: seventy\n",
      expected: /^type\.yaml:4:9 server\.port: expected a number, got a string$/,
    },
    {
      what: "a value outside its allowed set",
      file: "enum.yaml",
      text: "version: 1\nenvironment: staging\n",
      expected: /^enum\.yaml:2:14 environment: expected one of: "dev", "sit", "uat", "prod"$/,
    },
    {
      what: "an unknown (misspelt) key",
      file: "unknown.yaml",
      text: "version: 1\naudit:\n  retention:\n    securty: 400\n",
      expected:
        /^unknown\.yaml:4:5 audit\.retention\.securty: unknown key \(expected one of: security, audit, application\)$/,
    },
    {
      what: "a missing ${env:X} reference",
      file: "env.yaml",
      text: "version: 1\nhotState:\n  redisUrl: ${env:RAMPART_TEST_UNSET_REDIS}\n",
      expected:
        /^env\.yaml:3:13 hotState\.redisUrl: environment variable RAMPART_TEST_UNSET_REDIS is not set$/,
    },
    {
      what: "a missing ${file:...} reference",
      file: "file.yaml",
      text: "version: 1\ndatabase:\n  url: ${file:secrets/database-url}\n",
      expected: /^file\.yaml:3:8 database\.url: cannot read file secrets\/database-url \(ENOENT\)$/,
    },
    {
      what: "a missing reference inside a list",
      file: "list.yaml",
      text: "version: 1\nevents:\n  ingestTokens:\n    - name: gateway\n      token: ${env:RAMPART_TEST_UNSET_TOKEN}\n",
      expected:
        /^list\.yaml:5:14 events\.ingestTokens\[0\]\.token: environment variable RAMPART_TEST_UNSET_TOKEN is not set$/,
    },
  ];

  for (const c of cases) {
    it(c.what, async () => {
      write(c.file, c.text);
      const r = await rampart(["config", "validate", c.file], { cwd: dir });
      expect(r.code).toBe(1);
      const problems = problemLines(r.stderr, c.file);
      expect(problems, r.stderr).toHaveLength(1);
      expect(problems[0]).toMatch(c.expected);
      expect(r.stderr).toContain(`1 error in ${c.file}`);
      // Nothing else: no stack trace, no second complaint, nothing on stdout.
      expect(r.stderr.trim().split("\n")).toHaveLength(2);
      expect(r.stdout).toBe("");
    });
  }

  it("one over-indented key is reported once", async () => {
    // The most common YAML mistake: `host` indented one space too far.
    const file = write("indent.yaml", "version: 1\nserver:\n  port: 7600\n   host: 0.0.0.0\n");
    const r = await rampart(["config", "validate", file], { cwd: dir });
    expect(r.code).toBe(1);
    expect(problemLines(r.stderr, file), r.stderr).toHaveLength(1);
  });

  it("names the file as given, also by absolute path", async () => {
    const file = join(dir, write("abs.yaml", "version: 1\nserver:\n  port: 70000\n"));
    const r = await rampart(["config", "validate", file], { cwd: tmpdir() });
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe(`${file}:3:9 server.port: must be at most 65535`);
  });

  it("never prints a resolved secret, even when the value it resolves to is wrong", async () => {
    write("db-url", "mysql://rampart:hunter2-very-secret@db.internal/rampart\n");
    const file = write("leak.yaml", "version: 1\ndatabase:\n  url: ${file:db-url}\n");
    const r = await rampart(["config", "validate", file], { cwd: dir });
    expect(r.code).toBe(1);
    expect(problemLines(r.stderr, file)).toEqual([
      "leak.yaml:3:8 database.url: expected a postgres:// or postgresql:// URL",
    ]);
    expect(r.stderr + r.stdout).not.toContain("hunter2");

    const json = await rampart(["config", "validate", "--json", file], { cwd: dir });
    expect(json.stdout).not.toContain("hunter2");
  });

  it("lists every problem of a file with several, in file order", async () => {
    const file = write(
      "many.yaml",
      "version: 1\nenvironment: staging\nserver:\n  prot: 7600\ndatabase:\n  url: ${env:RAMPART_TEST_UNSET_DB}\n",
    );
    const r = await rampart(["config", "validate", file], { cwd: dir });
    expect(r.code).toBe(1);
    const problems = problemLines(r.stderr, file);
    expect(problems.map((l) => l.split(" ")[0])).toEqual([
      "many.yaml:2:14",
      "many.yaml:4:3",
      "many.yaml:6:8",
    ]);
    expect(problems.map((l) => l.split(" ")[1])).toEqual(["environment:", "server.prot:", "database.url:"]);
    expect(r.stderr).toContain("3 errors in many.yaml");
  });

  it("a file that cannot be read is one error, exit 1", async () => {
    const r = await rampart(["config", "validate", "does-not-exist.yaml"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(problemLines(r.stderr, "does-not-exist.yaml")).toEqual([
      "does-not-exist.yaml:1:1 cannot read config file (ENOENT)",
    ]);
  });
});

describe("rampart config validate: valid files", () => {
  it("a valid file exits 0 and says so", async () => {
    write("secret-token", `${"t".repeat(40)}\n`);
    const file = write(
      "good.yaml",
      [
        "version: 1",
        "environment: sit",
        "server:",
        "  port: ${env:RAMPART_TEST_PORT}",
        "events:",
        "  ingestTokens:",
        "    - name: gateway",
        "      token: ${file:secret-token}",
        "",
      ].join("\n"),
    );
    const r = await rampart(["config", "validate", file], { cwd: dir, env: { RAMPART_TEST_PORT: "7700" } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("good.yaml: valid (environment sit)");
  });

  it("rampart.example.yaml validates once its one referenced variable is set", async () => {
    const example = join(root, "rampart.example.yaml");
    const ok = await rampart(["config", "validate", example], {
      cwd: dir,
      env: { RAMPART_INGEST_TOKEN: "x".repeat(48) },
    });
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("valid (environment dev)");

    // Without it, the only complaint is that reference, at its line.
    const line =
      readFileSync(example, "utf8").split("\n").indexOf("      token: ${env:RAMPART_INGEST_TOKEN}") + 1;
    expect(line).toBeGreaterThan(0);
    const missing = await rampart(["config", "validate", example], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(problemLines(missing.stderr, example)).toEqual([
      `${example}:${line}:14 events.ingestTokens[0].token: environment variable RAMPART_INGEST_TOKEN is not set`,
    ]);
  });
});

describe("rampart config validate --json", () => {
  it("lists the issues of an invalid file as data, exit 1", async () => {
    const file = write(
      "json-bad.yaml",
      "version: 1\nserver:\n  prot: 7600\nhotState:\n  redisUrl: ${env:RAMPART_TEST_UNSET_REDIS}\n",
    );
    const r = await rampart(["config", "validate", "--json", file], { cwd: dir });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { valid: boolean; file: string; issues: unknown[] };
    expect(report).toEqual({
      valid: false,
      file,
      issues: [
        {
          file,
          line: 3,
          column: 3,
          path: "server.prot",
          message: "unknown key (expected one of: host, port, publicUrl, assertionAudience)",
        },
        {
          file,
          line: 5,
          column: 13,
          path: "hotState.redisUrl",
          message: "environment variable RAMPART_TEST_UNSET_REDIS is not set",
        },
      ],
    });
  });

  it("a syntax error is an issue with an empty path", async () => {
    const file = write("json-syntax.yaml", "version: 1\nserver:\n\tport: 1\n");
    const r = await rampart(["config", "validate", "--json", file], { cwd: dir });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { valid: boolean; issues: Array<Record<string, unknown>> };
    expect(report.valid).toBe(false);
    expect(report.issues).toHaveLength(1);
    expect(report.issues[0]).toMatchObject({ file, line: 3, column: 1, path: "" });
  });

  it("reports a valid file as valid, exit 0", async () => {
    const file = write("json-good.yaml", "version: 1\nenvironment: uat\n");
    const r = await rampart(["config", "validate", "--json", file], { cwd: dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ valid: true, file, environment: "uat" });
  });
});
