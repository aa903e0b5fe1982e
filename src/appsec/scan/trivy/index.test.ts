import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../config/errors.ts";
import { manualClock } from "../../../platform/clock.ts";
import { Invalid } from "../../../platform/errors.ts";
import { scanTrivyReport, trivyGate } from "./index.ts";

const evalDir = resolve(fileURLToPath(new URL("../../../../", import.meta.url)), "../shared/eval/trivy");
const debian = resolve(evalDir, "debian-buster.json");
const DAY = 86_400_000;
const workdir = () => mkdtempSync(join(tmpdir(), "rampart-trivy-"));

describe("scanTrivyReport", () => {
  it("reports every finding, gating only what can be fixed", async () => {
    const clock = manualClock("2026-05-01T00:00:00Z");
    const { result, warnings, ignoreFiles } = await scanTrivyReport({
      report: debian,
      cwd: workdir(),
      clock,
    });
    expect(result).toMatchObject({ kind: "trivy", target: debian, startedAt: "2026-05-01T00:00:00.000Z" });
    expect(result.findings.map((f) => [f.rule, f.severity, f.suppressed?.reason ?? null])).toEqual([
      ["CVE-2019-18276", "low", "no fix available (affected)"],
      ["CVE-2019-18224", "critical", null],
    ]);
    expect(result.stats).toMatchObject({
      vulnerabilities: 2,
      findings: 2,
      suppressed: 1,
      unfixed: 1,
      ignored: 0,
    });
    expect(warnings).toEqual([]);
    expect(ignoreFiles).toEqual([]);
    expect(trivyGate(result, { failOn: "critical", failOnSlaBreach: true }).exit).toBe(1);
  });

  it("applies the working directory's ignores, and warns of expired and unused ones", async () => {
    const cwd = workdir();
    writeFileSync(
      join(cwd, ".rampartignore.yaml"),
      [
        "ignores:",
        "  - id: CVE-2019-18224",
        "    reason: not reachable, idn2 never sees user input",
        "    expires: 2026-12-31",
        "  - id: CVE-2000-0001",
        "    reason: stale",
        "    expires: 2026-12-31",
      ].join("\n"),
    );
    const clock = manualClock("2026-05-01T00:00:00Z");
    const live = await scanTrivyReport({ report: debian, cwd, clock });
    const idn2 = live.result.findings.find((f) => f.rule === "CVE-2019-18224");
    expect(idn2?.suppressed).toEqual({
      by: "ignore",
      reason: "not reachable, idn2 never sees user input",
      expires: "2026-12-31",
    });
    expect(trivyGate(live.result, { failOn: "low", failOnSlaBreach: true }).exit).toBe(0);
    expect(live.warnings).toEqual([
      `ignore ${join(cwd, ".rampartignore.yaml")}:5 (CVE-2000-0001) matched no finding: remove it?`,
    ]);

    clock.set("2027-01-01T00:00:00Z");
    const expired = await scanTrivyReport({ report: debian, cwd, clock });
    expect(expired.result.findings.find((f) => f.rule === "CVE-2019-18224")?.suppressed).toBeUndefined();
    expect(expired.result.stats["expiredIgnores"]).toBe(1);
    expect(expired.warnings).toEqual([
      `ignore ${join(cwd, ".rampartignore.yaml")}:2 (CVE-2019-18224) expired on 2026-12-31: its findings gate again`,
    ]);
    expect(trivyGate(expired.result, { failOn: "critical", failOnSlaBreach: false }).exit).toBe(1);
  });

  it("gates on unfixed vulnerabilities too with includeUnfixed", async () => {
    const { result } = await scanTrivyReport({
      report: debian,
      cwd: workdir(),
      includeUnfixed: true,
      clock: manualClock(),
    });
    expect(result.findings.every((f) => !f.suppressed)).toBe(true);
    expect(trivyGate(result, { failOn: "low", failOnSlaBreach: false }).atOrAboveThreshold).toHaveLength(2);
  });

  it("keeps first-seen times in a state file across runs, so the SLA runs out", async () => {
    const cwd = workdir();
    const statePath = join(cwd, "trivy-state.json");
    const clock = manualClock("2026-05-01T00:00:00Z");
    const first = await scanTrivyReport({ report: debian, cwd, statePath, clock });
    expect(existsSync(statePath)).toBe(true);
    const crit = () => first.result.findings.find((f) => f.rule === "CVE-2019-18224");
    expect(crit()?.details).toMatchObject({ sla: "due in 7 days", slaBreached: false });

    clock.advance(8 * DAY);
    const later = await scanTrivyReport({ report: debian, cwd, statePath, clock, sla: { critical: 7 } });
    const f = later.result.findings.find((x) => x.rule === "CVE-2019-18224");
    expect(f?.details).toMatchObject({
      firstSeen: "2026-05-01T00:00:00.000Z",
      sla: "overdue by 1 day",
      slaBreached: true,
    });
    expect(later.result.stats["slaBreached"]).toBe(1);
    // A low finding past its SLA fails a gate its severity alone would pass.
    const low = await scanTrivyReport({
      report: debian,
      cwd,
      statePath,
      clock,
      includeUnfixed: true,
      sla: { low: 3 },
    });
    const bash = low.result.findings.find((x) => x.rule === "CVE-2019-18276");
    expect(bash?.details).toMatchObject({ slaBreached: true, sla: "overdue by 5 days" });
    const onlyBash = {
      ...low.result,
      findings: low.result.findings.filter((x) => x.rule === "CVE-2019-18276"),
    };
    expect(trivyGate(onlyBash, { failOn: "critical", failOnSlaBreach: true }).exit).toBe(1);
    expect(trivyGate(onlyBash, { failOn: "critical", failOnSlaBreach: false }).exit).toBe(0);
  });

  it("takes first-seen times from the control plane when given, over the state file", async () => {
    const cwd = workdir();
    const clock = manualClock("2026-05-01T00:00:00Z");
    let asked: string[] = [];
    const { result } = await scanTrivyReport({
      report: debian,
      cwd,
      statePath: join(cwd, "unused.json"),
      clock,
      firstSeen: async (findings) => {
        asked = findings.map((f) => f.rule);
        return new Map(findings.map((f) => [f.fingerprint, "2026-01-01T00:00:00Z"]));
      },
    });
    expect(asked).toEqual(["CVE-2019-18276", "CVE-2019-18224"]);
    expect(result.findings.find((f) => f.rule === "CVE-2019-18224")?.details).toMatchObject({
      sla: "overdue by 113 days",
    });
    expect(existsSync(join(cwd, "unused.json"))).toBe(false);
  });

  it("input errors name the file: missing report, bad ignore file", async () => {
    const cwd = workdir();
    const clock = manualClock();
    await expect(scanTrivyReport({ report: join(cwd, "nope.json"), cwd, clock })).rejects.toThrow(Invalid);
    await expect(scanTrivyReport({ report: join(cwd, "nope.json"), cwd, clock })).rejects.toThrow(
      /nope\.json: report not found/,
    );
    writeFileSync(join(cwd, ".rampartignore.yaml"), "ignores:\n  - id: CVE-2019-18224\n");
    const e = await scanTrivyReport({ report: debian, cwd, clock }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toContain(
      `${join(cwd, ".rampartignore.yaml")}:2:5 ignores[0].reason: required`,
    );
  });
});
