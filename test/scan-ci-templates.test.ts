// The CI templates in deploy/ci and docs/ci.md are what users copy: they must parse, and every
// `rampart scan` command in them must use only flags and formats the CLI has (read from each
// subcommand's --help), and GitLab's report artifacts must be files the scripts write.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { describe, expect, test } from "vitest";
import { parse } from "yaml";
import { registerScanCommands } from "../src/cli/scan.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const read = (p: string) => readFileSync(join(root, p), "utf8");

const program = new Command("rampart");
registerScanCommands(program);
const scan = program.commands.find((c) => c.name() === "scan") as Command;
/** Long and short flags in `rampart scan <kind> --help`. */
const flagsOf = (kind: string): Set<string> => {
  const sub = scan.commands.find((c) => c.name() === kind);
  if (!sub) throw new Error(`no subcommand rampart scan ${kind}`);
  return new Set(
    [...sub.helpInformation().matchAll(/(?<![\w-])(--?[a-z][\w-]*)/g)].map((m) => m[1] as string),
  );
};

/** Every `rampart scan KIND …` command line in `text`, joined across YAML folding. */
function scanCommands(text: string): { kind: string; args: string[] }[] {
  const out: { kind: string; args: string[] }[] = [];
  for (const m of text.matchAll(/rampart scan (\w+)([^\n]*)/g)) {
    const kind = m[1] as string;
    if (kind === "KIND") continue;
    // In Markdown, an inline command ends at its closing backtick.
    out.push({ kind, args: (m[2] ?? "").split("`")[0]?.trim().split(/\s+/) ?? [] });
  }
  return out;
}

function checkCommands(where: string, text: string): number {
  const cmds = scanCommands(text);
  for (const { kind, args } of cmds) {
    expect(["trivy", "k8s", "iac", "secrets"], `${where}: rampart scan ${kind}`).toContain(kind);
    const flags = flagsOf(kind);
    args.forEach((a, i) => {
      // `${RAMPART_URL:+--report-to …}` is shell, the flag inside it still counts.
      const flag = /^(?:\$\{\w+:\+)?(--?[a-z][\w-]*)/.exec(a)?.[1];
      if (flag) expect(flags.has(flag), `${where}: rampart scan ${kind} has no ${flag}`).toBe(true);
      if (a === "--format") expect(["table", "json", "sarif", "junit", "gitlab"]).toContain(args[i + 1]);
    });
  }
  return cmds.length;
}

const scripts = (job: unknown): string =>
  JSON.stringify([(job as { before_script?: unknown }).before_script, (job as { script?: unknown }).script]);

describe("CI templates", () => {
  test("GitLab: parses, reports are written by the job, flags exist", () => {
    const doc = parse(read("deploy/ci/gitlab-ci.yml")) as Record<string, Record<string, unknown>>;
    const jobs = Object.entries(doc).filter(([, v]) => typeof v === "object" && v !== null && "script" in v);
    expect(jobs.map(([k]) => k)).toEqual(
      expect.arrayContaining(["rampart_container_scanning", "rampart_k8s", "rampart_iac", "rampart_secrets"]),
    );
    const kinds = new Set<string>();
    for (const [name, job] of jobs) {
      const reports = ((job.artifacts as { reports?: Record<string, string> } | undefined)?.reports ??
        {}) as Record<string, string>;
      for (const [type, file] of Object.entries(reports)) {
        expect(scripts(job), `${name}: ${type} report ${file} is not written`).toContain(`--output ${file}`);
        if (type !== "junit") kinds.add(type);
      }
      if (Object.keys(reports).length > 0) expect((job.artifacts as { when?: string }).when).toBe("always");
    }
    expect([...kinds].sort()).toEqual(["container_scanning", "sast", "secret_detection"]);
    expect(scripts(doc.rampart_container_scanning)).toContain(
      "--format gitlab --output gl-container-scanning-report.json",
    );
    expect(checkCommands("gitlab-ci.yml", read("deploy/ci/gitlab-ci.yml"))).toBeGreaterThanOrEqual(8);
  });

  test("GitHub Actions: parses, every SARIF written is uploaded, flags exist", () => {
    const text = read("deploy/ci/github-actions.yml");
    const doc = parse(text) as {
      jobs: Record<string, { steps: { uses?: string; run?: string; with?: Record<string, string> }[] }>;
    };
    for (const [name, job] of Object.entries(doc.jobs)) {
      const written = job.steps.flatMap((s) =>
        [...(s.run ?? "").matchAll(/--format sarif --output (\S+)/g)].map((m) => m[1]),
      );
      const uploaded = job.steps
        .filter((s) => s.uses?.startsWith("github/codeql-action/upload-sarif"))
        .map((s) => s.with?.sarif_file);
      expect(uploaded, name).toEqual(written);
    }
    expect(checkCommands("github-actions.yml", text)).toBe(4);
  });

  test("pre-commit: the hook and .pre-commit-hooks.yaml scan staged changes with real flags", () => {
    const hook = read("deploy/ci/pre-commit-hook.sh");
    expect(hook.startsWith("#!/bin/sh\n")).toBe(true);
    expect(checkCommands("pre-commit-hook.sh", hook.replace(/\$RAMPART /g, "rampart "))).toBe(2);
    const hooks = parse(read(".pre-commit-hooks.yaml")) as { id: string; entry: string; language: string }[];
    expect(hooks.map((h) => h.id)).toEqual(["rampart-secrets"]);
    expect(hooks[0]?.entry).toContain("--staged");
    expect(checkCommands(".pre-commit-hooks.yaml", hooks[0]?.entry ?? "")).toBe(1);
  });

  test("docs/ci.md: YAML blocks parse and commands use real flags", () => {
    const md = read("docs/ci.md");
    for (const m of md.matchAll(/```yaml\n([\s\S]*?)```/g)) expect(() => parse(m[1] as string)).not.toThrow();
    expect(checkCommands("docs/ci.md", md)).toBeGreaterThanOrEqual(4);
  });
});
