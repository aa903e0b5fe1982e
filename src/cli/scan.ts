// `rampart scan`: CI gates over Trivy reports, Kubernetes manifests, Terraform plans and source
// trees. Every scan shares one runner: the output format and file, the gate (--fail-on), the
// evidence sent to the control plane (--report-to), progress on stderr and exit codes CI
// understands: 0 pass, 1 findings at or above --fail-on, 2 usage, input or reporting error.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { type Command, Option } from "commander";
import {
  gateExit,
  type OutputFormat,
  outputFormats,
  renderResult,
  summaryLine,
} from "../appsec/scan/output.ts";
import { reportResult, type ScanReportResponse } from "../appsec/scan/report.ts";
import { type ScanResult, type ScanSeverity, scanSeverities, severityAtLeast } from "../appsec/scan/types.ts";
import { progressBar } from "./progress.ts";
import { registerIacScan } from "./scan-iac.ts";
import { registerK8sScan } from "./scan-k8s.ts";
import { registerSecretsScan } from "./scan-secrets.ts";
import { registerTrivyScan } from "./scan-trivy.ts";

/** Exit codes of every `rampart scan` command. */
export const SCAN_EXIT = { pass: 0, findings: 1, error: 2 } as const;

/** Progress of a long scan, shown on stderr when it is a terminal (a no-op otherwise). */
export interface Progress {
  update(done: number, total: number): void;
  done(): void;
}

/** The options every scan subcommand has (added by commonScanOptions). */
export interface CommonScanOptions {
  format: OutputFormat;
  output?: string;
  /** Lowest severity that fails the gate; `none` reports without failing. */
  failOn: ScanSeverity | "none";
  reportTo?: string;
  token?: string;
  source?: string;
  color?: boolean;
}

export type ScanRunner = (
  o: CommonScanOptions,
  produce: (progress: Progress) => Promise<ScanResult>,
) => Promise<void>;

/** Adds --format, --output, --fail-on, --report-to, --token, --source and --color to a scan subcommand. */
export function commonScanOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("-f, --format <format>", "output format").choices([...outputFormats]).default("table"),
    )
    .option(
      "-o, --output <file>",
      "write the output to this file instead of stdout (a summary still goes to stderr)",
    )
    .addOption(
      new Option(
        "--fail-on <severity>",
        "exit 1 when an unsuppressed finding is at least this severe (none: never)",
      )
        .choices([...scanSeverities, "none"])
        .default("high"),
    )
    .option("--report-to <url>", "record the result as evidence in this control plane (its base URL)")
    .option("--token <token>", "API token with scans:write for --report-to (default: RAMPART_TOKEN)")
    .option(
      "--source <name>",
      "who ran the scan, for the evidence (default: CI_PROJECT_PATH, GITHUB_REPOSITORY or the directory's name)",
    )
    .option("--color", "colour the table's severities");
}

/** The scan's source name: --source, else the CI's project, else the working directory's name. */
export function defaultSource(o: { source?: string }, env: NodeJS.ProcessEnv = process.env): string {
  return o.source ?? env.CI_PROJECT_PATH ?? env.GITHUB_REPOSITORY ?? basename(process.cwd());
}

// One report per run: a scanner that needs the control plane's first-seen dates (Trivy SLAs)
// reports inside its producer, and the runner then does not report twice.
const reports = new WeakMap<CommonScanOptions, Promise<ScanReportResponse>>();

/**
 * Sends `result` to --report-to (once per options object) and answers what the control plane
 * recorded; undefined without --report-to. Throws a ReportError when it cannot.
 */
export function reportScan(
  o: CommonScanOptions,
  result: ScanResult,
): Promise<ScanReportResponse> | undefined {
  if (!o.reportTo) return undefined;
  const token = o.token ?? process.env.RAMPART_TOKEN;
  if (!token)
    return Promise.reject(
      new Error("--report-to needs --token or RAMPART_TOKEN (an API token with scans:write)"),
    );
  let sent = reports.get(o);
  if (!sent) {
    sent = reportResult(result, { url: o.reportTo, token, source: defaultSource(o) });
    reports.set(o, sent);
  }
  return sent;
}

const toolVersion = (): string => {
  try {
    return (
      JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
    ).version;
  } catch {
    return "0.0.0";
  }
};

const say = (line: string) => process.stderr.write(`${line}\n`);

/** Runs one scan: produce the result, write it, report it, set the exit code. */
export const runScan: ScanRunner = async (o, produce) => {
  if (o.reportTo && !(o.token ?? process.env.RAMPART_TOKEN)) {
    say("rampart scan: --report-to needs --token or RAMPART_TOKEN (an API token with scans:write)");
    process.exitCode = SCAN_EXIT.error;
    return;
  }
  const bar = progressBar("scanning");
  const progress: Progress = bar ?? { update() {}, done() {} };
  let result: ScanResult;
  try {
    result = await produce(progress);
  } catch (err) {
    // Input errors (unreadable file, malformed report) name the place: file:line:col.
    say(`rampart scan: ${(err as Error).message}`);
    process.exitCode = SCAN_EXIT.error;
    return;
  } finally {
    bar?.done();
  }

  const text = renderResult(result, o.format, { color: o.color === true, toolVersion: toolVersion() });
  try {
    if (o.output) {
      const path = resolve(o.output);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      say(`rampart scan ${result.kind}: ${summaryLine(result)}; ${o.format} written to ${o.output}`);
    } else {
      process.stdout.write(text);
      if (o.format !== "table") say(`rampart scan ${result.kind}: ${summaryLine(result)}`);
    }
  } catch (err) {
    say(`rampart scan: cannot write ${o.output}: ${(err as Error).message}`);
    process.exitCode = SCAN_EXIT.error;
    return;
  }

  let code: number = o.failOn === "none" ? SCAN_EXIT.pass : gateExit(result, o.failOn);
  if (code === SCAN_EXIT.findings) {
    const failOn = o.failOn as ScanSeverity;
    const n = result.findings.filter((f) => !f.suppressed && severityAtLeast(f.severity, failOn)).length;
    say(`rampart scan ${result.kind}: gate failed: ${n} finding${n === 1 ? "" : "s"} at or above ${failOn}`);
  }

  const sent = reportScan(o, result);
  if (sent) {
    try {
      const r = await sent;
      say(
        `rampart scan ${result.kind}: recorded in the control plane as run ${r.run.id}: ${r.new} new, ${r.fixed} fixed, ${r.open} open`,
      );
    } catch (err) {
      // Evidence that was not recorded is an error of the job, whatever the gate said.
      say(`rampart scan ${result.kind}: not recorded: ${(err as Error).message}`);
      code = SCAN_EXIT.error;
    }
  }
  process.exitCode = code;
};

/** Adds `rampart scan` and its subcommands to `program`. */
export function registerScanCommands(program: Command): void {
  const scan = program
    .command("scan")
    .description(
      "CI gates: scan a Trivy report, Kubernetes manifests, a Terraform plan or a source tree, and fail the job on findings",
    )
    .addHelpText(
      "after",
      [
        "",
        "Scans:",
        "  trivy REPORT    gate a Trivy JSON or SARIF report: severity threshold, fixable only, ignores with expiry, SLA days",
        "  k8s PATH|-      Kubernetes manifests (YAML, lists, helm template / kustomize build output): pod security, RBAC, NetworkPolicy",
        "  iac PLAN.json   a Terraform plan (terraform show -json) for GCP, AWS, Azure: exposure, encryption, Secure Boot, regions",
        "  secrets PATH    credentials in code: rules, entropy, allowlists, a baseline, git history, staged changes",
        "",
        "Every scan: --format table|json|sarif|junit|gitlab, --output FILE, --fail-on SEVERITY (default high),",
        "--report-to URL --token T --source NAME to record the result as evidence in the control plane.",
        "",
        "Exit codes: 0 pass, 1 findings at or above --fail-on, 2 usage, input or reporting error.",
      ].join("\n"),
    )
    // Usage errors exit 2 like input errors, so CI tells "the gate failed" (1) from "the job is broken".
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : SCAN_EXIT.error);
    });
  registerTrivyScan(scan, runScan);
  registerK8sScan(scan, runScan);
  registerIacScan(scan, runScan);
  registerSecretsScan(scan, runScan);
}
