// `rampart iam gcp analyze`: an IAM policy + Cloud Audit Logs → per member, the unused permissions
// and the smallest predefined roles (or a custom role) covering what it used, as a new policy for
// `gcloud projects set-iam-policy`, a binding diff and a rollback. Nothing is applied to GCP.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { analyzeGcpFiles, gcpBindingDiff, gcpMarkdown, gcpTable } from "../identity/iam/gcp/index.ts";
import { progressBar } from "./progress.ts";

interface AnalyzeOptions {
  policy: string;
  logs: string[];
  customRoles?: string[];
  member?: string[];
  catalogue?: string;
  allowBeta?: boolean;
  customRoleOnly?: boolean;
  maxExcess?: number;
  project?: string;
  organization?: string;
  from?: string;
  to?: string;
  format: string;
  outDir?: string;
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

const formatArg = (v: string): string => {
  if (!["table", "json", "markdown"].includes(v))
    throw new InvalidArgumentError("expected table, json or markdown");
  return v;
};

const memberArg = (v: string): string => {
  if (!/^(user|serviceAccount):[^@\s]+@[^@\s]+$/.test(v))
    throw new InvalidArgumentError(
      "expected user:EMAIL or serviceAccount:EMAIL, as the policy names the member",
    );
  return v;
};

const countArg = (v: string): number => {
  if (!/^\d{1,9}$/.test(v)) throw new InvalidArgumentError("expected a whole number");
  return Number(v);
};

const timeArg = (v: string): string => {
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(Date.parse(v)))
    throw new InvalidArgumentError("expected an ISO 8601 time such as 2026-10-01T00:00:00Z");
  return new Date(v).toISOString();
};

const idArg = (v: string): string => {
  if (!/^[a-z0-9][a-z0-9-]{2,61}$/.test(v))
    throw new InvalidArgumentError("expected a project or organization id");
  return v;
};

/** Registers `rampart iam gcp analyze` under the `iam` command group. */
export function registerGcpIam(iam: Command): void {
  const gcp = iam.command("gcp").description("GCP IAM least privilege from Cloud Audit Logs");
  gcp
    .command("analyze")
    .description(
      "per member: unused permissions and the smallest predefined roles (or a custom role) covering what was used",
    )
    .requiredOption("--policy <file>", "IAM policy: `gcloud projects get-iam-policy PROJECT --format=json`")
    .requiredOption(
      "--logs <path>",
      "Cloud Audit Logs: JSON lines or a JSON array (`gcloud logging read --format=json`), .gz, or a directory (repeatable)",
      collect,
    )
    .option(
      "--custom-roles <file>",
      "custom roles the policy binds: `gcloud iam roles describe --format=json` (repeatable)",
      collect,
    )
    .option(
      "--member <member>",
      "analyse only this member, e.g. user:ana@example.com (repeatable)",
      (v, p: string[] | undefined) => collect(memberArg(v), p),
    )
    .option(
      "--catalogue <file>",
      "predefined role catalogue (default: the bundled one, from iann0036/iam-dataset)",
    )
    .option("--allow-beta", "also recommend BETA predefined roles")
    .option("--custom-role-only", "always propose a custom role with exactly the used permissions")
    .option(
      "--max-excess <n>",
      "use a custom role when the best predefined roles grant more than n unused permissions",
      countArg,
    )
    .option("--project <id>", "project that will hold proposed custom roles", idArg)
    .option(
      "--organization <id>",
      "organization that will hold proposed custom roles (instead of --project)",
      idArg,
    )
    .option("--from <time>", "only log entries at or after this time (ISO 8601)", timeArg)
    .option("--to <time>", "only log entries before this time (ISO 8601)", timeArg)
    .option("--format <format>", "table, json or markdown", formatArg, "table")
    .option(
      "--out-dir <dir>",
      "write proposed-policy.json, rollback-policy.json, bindings.diff, custom-roles/*.json and report.{json,md} here",
    )
    .action(async (o: AnalyzeOptions) => {
      if (o.project && o.organization) throw new Error("--project and --organization exclude each other");
      if (o.from && o.to && o.from >= o.to) throw new Error(`--from ${o.from} is not before --to ${o.to}`);
      const bar = o.format === "table" ? progressBar("reading audit logs") : undefined;
      const analysis = await analyzeGcpFiles({
        policy: o.policy,
        logs: o.logs,
        ...(o.customRoles ? { customRoles: o.customRoles } : {}),
        ...(o.member ? { members: o.member } : {}),
        ...(o.catalogue ? { catalogue: o.catalogue } : {}),
        allowBeta: o.allowBeta === true,
        customRoleOnly: o.customRoleOnly === true,
        ...(o.maxExcess !== undefined ? { maxExcess: o.maxExcess } : {}),
        ...(o.project ? { customRoleParent: `projects/${o.project}` } : {}),
        ...(o.organization ? { customRoleParent: `organizations/${o.organization}` } : {}),
        ...(o.from ? { from: o.from } : {}),
        ...(o.to ? { to: o.to } : {}),
        ...(bar ? { onEntry: (n: number) => bar.update(n, n) } : {}),
      });
      bar?.done();
      if (o.member?.length) {
        const found = new Set(analysis.report.principals.map((p) => p.principal));
        const missing = o.member.filter((m) => !found.has(m));
        if (missing.length) throw new Error(`--member: not bound in the policy: ${missing.join(", ")}`);
      }
      if (analysis.customRoles.length > 0 && !o.project && !o.organization)
        process.stderr.write(
          "custom roles are named under projects/PROJECT_ID: pass --project or --organization\n",
        );

      if (o.outDir) {
        await mkdir(join(o.outDir, "custom-roles"), { recursive: true });
        const json = (v: unknown): string => JSON.stringify(v, null, 2) + "\n";
        await writeFile(join(o.outDir, "proposed-policy.json"), json(analysis.proposedPolicy));
        await writeFile(join(o.outDir, "rollback-policy.json"), json(analysis.rollbackPolicy));
        await writeFile(join(o.outDir, "bindings.diff"), gcpBindingDiff(analysis));
        for (const role of analysis.customRoles) {
          const id = role.name.slice(role.name.lastIndexOf("/") + 1);
          const { name: _name, ...definition } = role;
          void _name;
          await writeFile(join(o.outDir, "custom-roles", `${id}.json`), json(definition));
        }
        await writeFile(join(o.outDir, "report.json"), json(analysis));
        await writeFile(join(o.outDir, "report.md"), gcpMarkdown(analysis));
      }

      if (o.format === "json") process.stdout.write(JSON.stringify(analysis, null, 2) + "\n");
      else if (o.format === "markdown") process.stdout.write(gcpMarkdown(analysis));
      else process.stdout.write(gcpTable(analysis));
      // A proposal that would refuse an observed call is a regression: fail loudly.
      if (analysis.report.principals.some((p) => p.verification.proposed.denied.length > 0))
        process.exitCode = 1;
    });
}
