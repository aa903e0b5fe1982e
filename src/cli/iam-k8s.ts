// `rampart iam k8s analyze`: Kubernetes RBAC objects + API-server audit logs → per subject, the
// minimal Roles/ClusterRoles (YAML, with the original objects as rollback), unused grants and risk.
// Nothing is applied to a cluster: files are written for review and `kubectl apply`.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import {
  analyzeK8s,
  emptyRbac,
  isEmptyRbac,
  type K8sPrincipalAnalysis,
  loadRbac,
  manifestsYaml,
  readAuditLogs,
  riskCount,
  serviceAccountUser,
} from "../identity/iam/k8s/index.ts";

interface AnalyzeOptions {
  rbac?: string[];
  audit: string[];
  user?: string;
  serviceaccount?: string;
  format: string;
  outDir?: string;
  expandVerbs: boolean;
  expandMultiName: string;
  expandMultiNamespace?: boolean;
  withinCurrent?: boolean;
  discoveryBaseline: boolean;
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

const serviceAccountArg = (v: string) => {
  const parts = v.split(":");
  if (parts.length !== 2 || !parts[0] || !parts[1])
    throw new InvalidArgumentError("expected <namespace>:<name>, such as ns1:sa1");
  return v;
};

const booleanArg = (v: string) => {
  if (v !== "true" && v !== "false") throw new InvalidArgumentError("expected true or false");
  return v;
};

const formatArg = (v: string) => {
  if (!["table", "json", "markdown", "yaml"].includes(v))
    throw new InvalidArgumentError("expected table, json, markdown or yaml");
  return v;
};

const pct = (r: number | undefined) => (r === undefined ? "n/a" : `${(r * 100).toFixed(1)}%`);

/** A file-name-safe form of a principal. */
function fileStem(principal: string): string {
  return principal.replace(/[^a-zA-Z0-9._-]+/g, "_");
}

function table(results: K8sPrincipalAnalysis[]): string {
  const rows = results.map((a) => [
    a.principal,
    String(a.used.length),
    String(a.unused.length),
    pct(a.reduction),
    `${riskCount(a.risk.before)}→${riskCount(a.risk.after)}`,
    `${a.verification.allowed}/${a.verification.replayed}`,
    String(a.attemptedDenied.length + a.notInCurrent.length),
  ]);
  const head = ["PRINCIPAL", "USED", "UNUSED RULES", "REDUCTION", "RISK", "REPLAY OK", "NOT GRANTED"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  return [line(head), ...rows.map(line)].join("\n") + "\n";
}

function markdown(results: K8sPrincipalAnalysis[]): string {
  const out: string[] = ["# Kubernetes RBAC least privilege", ""];
  for (const a of results) {
    out.push(`## ${a.principal}`, "");
    out.push(
      `Window ${a.window.from} – ${a.window.to}; reduction ${pct(a.reduction)} (${a.effective.before} → ${a.effective.after} permissions).`,
      "",
    );
    out.push("| requests | count | denied (403) | granted by |", "|---|---|---|---|");
    for (const u of a.used)
      out.push(`| \`${u.permission}\` | ${u.count} | ${u.denied} | ${u.grantedBy.join("; ") || "—"} |`);
    out.push("");
    if (a.diff.removed.length)
      out.push("Unused rules (removed):", "", ...a.diff.removed.map((r) => `- ${r}`), "");
    if (a.sharedGrants.length)
      out.push(
        "Grants through groups (shared, not replaced):",
        "",
        ...a.sharedGrants.map((r) => `- ${r}`),
        "",
      );
    if (a.widened.length) out.push("Deliberate widening:", "", ...a.widened.map((r) => `- ${r}`), "");
    if (a.attemptedDenied.length) out.push("Not granted:", "", ...a.attemptedDenied.map((r) => `- ${r}`), "");
    if (a.notInCurrent.length)
      out.push("Allowed in the log, not by the given RBAC:", "", ...a.notInCurrent.map((r) => `- ${r}`), "");
    for (const [when, flags] of [
      ["before", a.risk.before],
      ["after", a.risk.after],
    ] as const) {
      const lines = Object.entries(flags).flatMap(([k, v]) => (v as string[]).map((f) => `- ${k}: ${f}`));
      out.push(`Risk ${when}: ${lines.length ? "" : "none"}`, "", ...lines, "");
    }
    out.push("```yaml", manifestsYaml(a.proposed).trimEnd(), "```", "");
  }
  return out.join("\n");
}

/** Registers `rampart iam k8s analyze` under the `iam` command group. */
export function registerK8sIam(iam: Command): void {
  const k8s = iam.command("k8s").description("Kubernetes RBAC least privilege from API-server audit logs");
  k8s
    .command("analyze")
    .description(
      "propose a minimal Role/ClusterRole per subject from audit logs; compare with the current RBAC objects",
    )
    .option("--rbac <path>", "RBAC objects: YAML/JSON file or directory (repeatable)", collect)
    .requiredOption("--audit <path>", "audit log: JSON lines, .gz, or a directory (repeatable)", collect)
    .option("--user <name>", "analyse only this user")
    .option("--serviceaccount <ns:name>", "analyse only this service account", serviceAccountArg)
    .option("--format <format>", "table, json, markdown or yaml (the proposed manifests)", formatArg, "table")
    .option("--out-dir <dir>", "write <principal>.proposed.yaml and <principal>.rollback.yaml here")
    .option("--no-expand-verbs", "grant only the observed verbs (default: list→get,watch … as audit2rbac)")
    .option(
      "--expand-multi-name <bool>",
      "several names of a resource → one unnamed rule (false: resourceNames)",
      booleanArg,
      "true",
    )
    .option(
      "--expand-multi-namespace",
      "the same request in several namespaces → cluster-wide (audit2rbac's default)",
    )
    .option(
      "--within-current",
      "never propose what the subject did not already have; 403s are reported, not granted",
    )
    .option("--no-discovery-baseline", "also grant discovery paths every authenticated user already has")
    .action(async (o: AnalyzeOptions) => {
      if (o.user && o.serviceaccount) throw new Error("--user and --serviceaccount exclude each other");
      const [ns, name] = (o.serviceaccount ?? ":").split(":") as [string, string];
      const user = o.serviceaccount ? serviceAccountUser(ns, name) : o.user;
      if (o.withinCurrent && !o.rbac?.length)
        throw new Error("--within-current needs --rbac (the current grants)");
      const rbac = o.rbac?.length ? await loadRbac(o.rbac) : emptyRbac();
      const usage = await readAuditLogs(o.audit, user !== undefined ? { user } : {});
      for (const m of usage.malformed) process.stderr.write(`skipped ${m.where}: ${m.reason}\n`);
      const results = analyzeK8s(usage, rbac, {
        ...(user !== undefined ? { user } : {}),
        expandVerbs: o.expandVerbs,
        expandMultiName: o.expandMultiName === "true",
        expandMultiNamespace: o.expandMultiNamespace === true,
        withinCurrent: o.withinCurrent === true,
        discoveryBaseline: o.discoveryBaseline,
      });
      if (results.length === 0) {
        process.stderr.write(`no audit events matched${user !== undefined ? ` ${user}` : ""}\n`);
        process.exitCode = 1;
        return;
      }
      if (o.outDir) {
        mkdirSync(o.outDir, { recursive: true });
        for (const a of results) {
          const stem = fileStem(a.principal);
          writeFileSync(join(o.outDir, `${stem}.proposed.yaml`), manifestsYaml(a.proposed));
          if (!isEmptyRbac(a.rollback))
            writeFileSync(join(o.outDir, `${stem}.rollback.yaml`), manifestsYaml(a.rollback));
          writeFileSync(join(o.outDir, `${stem}.report.json`), JSON.stringify(a, null, 2) + "\n");
        }
      }
      if (o.format === "json") process.stdout.write(JSON.stringify(results, null, 2) + "\n");
      else if (o.format === "markdown") process.stdout.write(markdown(results));
      else if (o.format === "yaml")
        process.stdout.write(
          results
            .filter((a) => !isEmptyRbac(a.proposed))
            .map((a) => manifestsYaml(a.proposed))
            .join("---\n"),
        );
      else process.stdout.write(table(results));
      const denied = results.flatMap((a) => a.verification.denied.map((d) => `${a.principal}: ${d}`));
      // The proposal must allow every observed request it is meant to cover; say so loudly if not.
      if (denied.length) {
        process.stderr.write(`replay denied ${denied.length} observed request(s):\n${denied.join("\n")}\n`);
        process.exitCode = 2;
      }
    });
}
