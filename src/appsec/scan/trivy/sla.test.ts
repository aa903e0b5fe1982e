import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { manualClock } from "../../../platform/clock.ts";
import { Invalid } from "../../../platform/errors.ts";
import type { Finding, ScanSeverity } from "../types.ts";
import { applySla, DEFAULT_SLA, parseSla, readStateFile, stateFirstSeen, writeStateFile } from "./sla.ts";

const DAY = 86_400_000;
const finding = (fingerprint: string, severity: ScanSeverity): Finding => ({
  rule: "CVE-1",
  severity,
  title: "t",
  location: {},
  fingerprint,
});

describe("--sla", () => {
  it("overrides the defaults per severity", () => {
    expect(parseSla("")).toEqual(DEFAULT_SLA);
    expect(parseSla("critical=3, high=14")).toEqual({ critical: 3, high: 14, medium: 90, low: 180 });
    expect(parseSla("info=365")).toMatchObject({ info: 365 });
  });

  it("rejects what it cannot read, naming the option", () => {
    expect(() => parseSla("urgent=1")).toThrow(Invalid);
    expect(() => parseSla("urgent=1")).toThrow(/^--sla: .*got 'urgent=1'/);
    expect(() => parseSla("high=0")).toThrow(/days must be 1 or more/);
    expect(() => parseSla("high")).toThrow(/severity=days/);
  });
});

describe("SLA from first seen", () => {
  it("counts days from first seen and says when a finding is due or overdue", () => {
    const clock = manualClock("2026-03-01T10:00:00Z");
    const firstSeen = new Map([
      ["crit", "2026-02-20T10:00:00Z"], // 9 days ago, SLA 7
      ["high", "2026-02-20T10:00:00Z"], // 9 days ago, SLA 30
      ["med", "2026-03-01T10:00:00Z"],
    ]);
    const fs = applySla(
      [
        finding("crit", "critical"),
        finding("high", "high"),
        finding("med", "medium"),
        finding("new", "low"),
        finding("i", "info"),
      ],
      { sla: DEFAULT_SLA, firstSeen, now: clock.now() },
    );
    expect(fs.map((f) => [f.details?.["sla"], f.details?.["slaBreached"]])).toEqual([
      ["overdue by 2 days", true],
      ["due in 21 days", false],
      ["due in 90 days", false],
      ["due in 180 days", false],
      [undefined, undefined],
    ]);
    expect(fs[0]?.details).toMatchObject({
      firstSeen: "2026-02-20T10:00:00.000Z",
      slaDays: 7,
      dueAt: "2026-02-27T10:00:00.000Z",
    });
    // Unknown to the source: first seen now.
    expect(fs[3]?.details?.["firstSeen"]).toBe("2026-03-01T10:00:00.000Z");
  });

  it("moves with the clock: due today, then overdue by one day", () => {
    const clock = manualClock("2026-01-01T00:00:00Z");
    const seen = new Map([["a", "2026-01-01T00:00:00Z"]]);
    const at = () =>
      applySla([finding("a", "critical")], { sla: DEFAULT_SLA, firstSeen: seen, now: clock.now() })[0];
    expect(at()?.details?.["sla"]).toBe("due in 7 days");
    clock.advance(7 * DAY - 3_600_000);
    expect(at()?.details?.["sla"]).toBe("due today");
    clock.advance(3_600_000);
    expect(at()?.details).toMatchObject({ sla: "due today", slaBreached: false });
    clock.advance(1);
    expect(at()?.details).toMatchObject({ sla: "overdue by 1 day", slaBreached: true });
  });
});

describe("state file", () => {
  it("is created, keeps known first-seen times and adds new ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rampart-sla-"));
    const path = join(dir, "state.json");
    const clock = manualClock("2026-01-01T00:00:00Z");
    const state = readStateFile(path);
    expect(state.size).toBe(0);
    const first = await stateFirstSeen(state, () => clock.now())([finding("a", "high")]);
    expect(first.get("a")).toBe("2026-01-01T00:00:00.000Z");
    writeStateFile(path, state);

    clock.advance(40 * DAY);
    const again = readStateFile(path);
    const second = await stateFirstSeen(again, () => clock.now())([
      finding("a", "high"),
      finding("b", "high"),
    ]);
    expect(second.get("a")).toBe("2026-01-01T00:00:00.000Z");
    expect(second.get("b")).toBe("2026-02-10T00:00:00.000Z");
    writeStateFile(path, again);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({
      a: "2026-01-01T00:00:00.000Z",
      b: "2026-02-10T00:00:00.000Z",
    });
  });

  it("a damaged state file is an input error naming the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "rampart-sla-"));
    const path = join(dir, "state.json");
    writeFileSync(path, "{not json");
    expect(() => readStateFile(path)).toThrow(Invalid);
    writeFileSync(path, JSON.stringify({ a: "yesterday" }));
    expect(() => readStateFile(path)).toThrow(new RegExp(`^${path}: a: `));
  });
});
