// `rampart scan k8s` as a CI job runs it: exit codes for pass, findings and broken input, SARIF
// output, stdin, and the kube-score profile. Few process starts: each takes seconds on a busy CI box.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, expect, test } from "vitest";
import { rampart } from "./support/cli.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
let cwd: string;

const clean = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {LOG_LEVEL: info}
`;
const privileged = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: web:1.0
          securityContext:
            privileged: true
`;

beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), "rampart-cli-k8s-"));
  writeFileSync(join(cwd, "clean.yaml"), clean);
  writeFileSync(join(cwd, "web.yaml"), privileged);
  writeFileSync(join(cwd, "broken.yaml"), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n");
});

/** The CLI with `input` on stdin. */
function withStdin(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(
      join(root, "node_modules", ".bin", "node"),
      [join(root, "src", "cli", "main.ts"), ...args],
      { cwd, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" }, timeout: 60_000 },
      (err, stdout, stderr) =>
        done({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}

test("exit 0 below --fail-on, 1 at it (with SARIF naming rule and line), 2 on malformed YAML", async () => {
  const [pass, fail] = await Promise.all([
    rampart(["scan", "k8s", "clean.yaml"], { cwd }),
    rampart(
      ["scan", "k8s", "web.yaml", "--fail-on", "critical", "--format", "sarif", "--output", "out.sarif"],
      {
        cwd,
      },
    ),
  ]);
  expect(pass.code, pass.stderr).toBe(0);
  expect(pass.stdout).toContain("0 findings");
  expect(fail.code, fail.stderr).toBe(1);
  expect(fail.stderr).toMatch(/gate failed: 1 finding at or above critical/);
  const sarif = JSON.parse(readFileSync(join(cwd, "out.sarif"), "utf8")) as {
    runs: {
      results: { ruleId: string; locations: { physicalLocation: { region: { startLine: number } } }[] }[];
    }[];
  };
  const result = sarif.runs[0]?.results.find((x) => x.ruleId === "K8S-PRIVILEGED");
  expect(result?.locations[0]?.physicalLocation.region.startLine).toBe(12);

  const [broken, stdin] = await Promise.all([
    rampart(["scan", "k8s", "broken.yaml"], { cwd }),
    // stdin, JSON, and kube-score's grading: no security context means low UID/GID (high).
    withStdin(
      ["scan", "k8s", "-", "--profile", "kube-score", "--format", "json", "--fail-on", "none"],
      privileged,
    ),
  ]);
  expect(broken.code).toBe(2);
  expect(broken.stderr).toMatch(/broken\.yaml:\d+:\d+: /);
  expect(stdin.code, stdin.stderr).toBe(0);
  const json = JSON.parse(stdin.stdout) as {
    findings: { rule: string; severity: string; location: { file: string } }[];
  };
  expect(json.findings.find((f) => f.rule === "K8S-PRIVILEGED")?.location.file).toBe("<stdin>");
  expect(json.findings.find((f) => f.rule === "K8S-LOW-UID")?.severity).toBe("high");
}, 180_000);
