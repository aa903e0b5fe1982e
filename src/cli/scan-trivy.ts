// `rampart scan trivy REPORT`: gate a Trivy JSON or SARIF report in CI with Rampart's policy:
// severity threshold on fixable vulnerabilities, ignores with reasons and expiry, SLA days from
// first seen (the control plane's record with --report-to, else a local --state file).
import type { Command } from "commander";
import { DEFAULT_SLA, type FirstSeenSource, parseSla, scanTrivyReport } from "../appsec/scan/trivy/index.ts";
import type { ScanResult } from "../appsec/scan/types.ts";
import { systemClock } from "../platform/clock.ts";
import { type CommonScanOptions, commonScanOptions, reportScan, type ScanRunner } from "./scan.ts";

interface TrivyScanCliOptions extends CommonScanOptions {
  ignoreFile?: string;
  includeUnfixed?: boolean;
  sla: string;
  state?: string;
  failOnSlaBreach: boolean;
}

const slaText = Object.entries(DEFAULT_SLA)
  .map(([s, d]) => `${s}=${d}`)
  .join(",");

/** Adds `rampart scan trivy` to the `rampart scan` group. */
export function registerTrivyScan(scan: Command, run: ScanRunner): void {
  commonScanOptions(
    scan
      .command("trivy")
      .description(
        "gate a Trivy report (JSON SchemaVersion 2 or SARIF): --fail-on over fixable vulnerabilities, ignores with reason and expiry, SLA days from first seen",
      )
      .argument("<report>", "Trivy report: trivy … --format json (or sarif) --output REPORT"),
  )
    .option(
      "--ignore-file <file>",
      "ignores with reason and expiry (default: .rampartignore.yaml in the working directory; a .trivyignore beside it is read too)",
    )
    .option(
      "--include-unfixed",
      "gate on vulnerabilities without a fix too (default: they are reported as suppressed)",
    )
    .option("--sla <days>", "days to fix per severity, counted from first seen", slaText)
    .option(
      "--state <file>",
      "JSON file of first-seen times by fingerprint, created or updated (without --report-to)",
    )
    .option("--fail-on-sla-breach", "fail on findings past their SLA whatever --fail-on says (default)", true)
    .option("--no-fail-on-sla-breach", "report SLA breaches without failing on them")
    .action(async (report: string, o: TrivyScanCliOptions) => {
      let breached = 0;
      await run(o, async (progress) => {
        progress.update(0, 1);
        const sla = parseSla(o.sla);
        const clock = systemClock;
        // With --report-to the control plane keeps first-seen times: the result is recorded here,
        // once (the runner does not send it again), and its answer dates each finding.
        const firstSeen: FirstSeenSource | undefined = o.reportTo
          ? async (findings) => {
              const at = clock.now().toISOString();
              const provisional: ScanResult = {
                kind: "trivy",
                target: report,
                startedAt: at,
                finishedAt: at,
                findings: [...findings],
                stats: {},
              };
              const sent = reportScan(o, provisional);
              const recorded = sent ? await sent : undefined;
              return new Map((recorded?.items ?? []).map((i) => [i.fingerprint, i.firstSeen]));
            }
          : undefined;
        const outcome = await scanTrivyReport({
          report,
          cwd: process.cwd(),
          ...(o.ignoreFile ? { ignoreFile: o.ignoreFile } : {}),
          includeUnfixed: o.includeUnfixed === true,
          sla,
          ...(o.state ? { statePath: o.state } : {}),
          ...(firstSeen ? { firstSeen } : {}),
          clock,
        });
        for (const w of outcome.warnings) process.stderr.write(`rampart scan trivy: ${w}\n`);
        breached = outcome.result.stats["slaBreached"] ?? 0;
        progress.update(1, 1);
        return outcome.result;
      });
      // The shared runner gates on severity; an SLA breach fails the job whatever the severity,
      // unless the run already failed or gating is off (--fail-on none).
      if (o.failOnSlaBreach && o.failOn !== "none" && breached > 0 && !process.exitCode) {
        process.stderr.write(
          `rampart scan trivy: gate failed: ${breached} finding${breached === 1 ? "" : "s"} past ${breached === 1 ? "its" : "their"} SLA\n`,
        );
        process.exitCode = 1;
      }
    });
}
