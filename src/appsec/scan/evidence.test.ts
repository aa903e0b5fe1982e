// Evidence of scans on both storage backends: first seen, last seen, fixed when a later run of
// the same kind, source and target no longer reports it, reopened when it comes back, and the
// events each change emits.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { backends, openTestStore, type TestStore } from "../../../test/support/stores.ts";
import { manualClock } from "../../platform/clock.ts";
import type { SecurityEvent } from "../../platform/events/index.ts";
import { createScanEvidence, scanMigrations } from "./evidence.ts";
import type { Finding, ScanResult } from "./types.ts";

const DAY = 86_400_000;
const f = (
  fingerprint: string,
  severity: Finding["severity"] = "high",
  extra: Partial<Finding> = {},
): Finding => ({
  rule: `RULE-${fingerprint.slice(0, 4)}`,
  severity,
  title: `finding ${fingerprint}`,
  location: { file: "deploy/app.yaml", line: 3 },
  fingerprint,
  ...extra,
});
const run = (findings: Finding[], target = "deploy/", kind: ScanResult["kind"] = "k8s"): ScanResult => ({
  kind,
  target,
  startedAt: "2026-11-23T10:00:00Z",
  finishedAt: "2026-11-23T10:00:01Z",
  findings,
  stats: {},
});
const ci = { kind: "service", id: "gitlab-ci" };

describe.each(backends)("scan evidence on %s", (backend) => {
  // One store per backend (opening PGlite is the slow part); each test has its own sources.
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore(backend, scanMigrations);
  });
  afterAll(() => t.cleanup());

  test("new, still open, fixed, reopened: first seen survives, events say what changed", async () => {
    const clock = manualClock("2026-11-01T00:00:00Z");
    const events: SecurityEvent[] = [];
    const ev = createScanEvidence({ store: t.store, clock, emit: (e) => events.push(e) });

    const first = await ev.record(
      run([f("aaaa000000000001", "critical"), f("bbbb000000000002", "low")]),
      "shop/web",
      ci,
    );
    expect(first).toMatchObject({ new: 2, fixed: 0, reopened: 0, open: 2 });
    expect(first.items).toEqual([
      { fingerprint: "aaaa000000000001", firstSeen: "2026-11-01T00:00:00.000Z" },
      { fingerprint: "bbbb000000000002", firstSeen: "2026-11-01T00:00:00.000Z" },
    ]);
    expect(events.map((e) => [e.type, e.severity])).toEqual([
      ["scan.completed", "info"],
      ["scan.finding_new", "critical"],
      ["scan.finding_new", "low"],
    ]);
    expect(events[0]?.data).toMatchObject({ kind: "k8s", source: "shop/web", new: 2, open: 2 });

    // Ten days on: one fixed, one still there, one new. The survivor's first sighting stands.
    clock.advance(10 * DAY);
    events.length = 0;
    const second = await ev.record(
      run([f("aaaa000000000001", "critical"), f("cccc000000000003", "medium")]),
      "shop/web",
      ci,
    );
    expect(second).toMatchObject({ new: 1, fixed: 1, open: 2 });
    expect(second.items).toEqual([
      { fingerprint: "aaaa000000000001", firstSeen: "2026-11-01T00:00:00.000Z" },
      { fingerprint: "cccc000000000003", firstSeen: "2026-11-11T00:00:00.000Z" },
    ]);
    expect(events.map((e) => e.type)).toEqual(["scan.completed", "scan.finding_new", "scan.finding_fixed"]);
    expect(events[2]).toMatchObject({ target: { kind: "scan_item", id: "bbbb000000000002" } });

    const fixed = await ev.items({ kind: "k8s", source: "shop/web", open: false });
    expect(fixed.map((i) => [i.fingerprint, i.fixedAt])).toEqual([
      ["bbbb000000000002", "2026-11-11T00:00:00.000Z"],
    ]);
    const open = await ev.items({ source: "shop/web", open: true });
    expect(open.map((i) => i.fingerprint)).toEqual(["aaaa000000000001", "cccc000000000003"]);
    expect(open[0]).toMatchObject({
      firstSeen: "2026-11-01T00:00:00.000Z",
      lastSeen: "2026-11-11T00:00:00.000Z",
      fixedAt: null,
    });

    // It comes back: open again, not new, first seen unchanged.
    clock.advance(DAY);
    const third = await ev.record(
      run([f("aaaa000000000001", "critical"), f("bbbb000000000002", "low"), f("cccc000000000003", "medium")]),
      "shop/web",
      ci,
    );
    expect(third).toMatchObject({ new: 0, fixed: 0, reopened: 1, open: 3 });
    expect(third.items.find((i) => i.fingerprint === "bbbb000000000002")?.firstSeen).toBe(
      "2026-11-01T00:00:00.000Z",
    );

    const runs = await ev.runs({ kind: "k8s", source: "shop/web" });
    expect(runs.map((r) => [r.new, r.fixed])).toEqual([
      [0, 0],
      [1, 1],
      [2, 0],
    ]);
    expect(runs[2]?.counts).toEqual({
      total: 2,
      bySeverity: { info: 0, low: 1, medium: 0, high: 0, critical: 1 },
      suppressed: 0,
    });
  });

  test("fixed is judged per kind, source and target; other sources and targets are untouched", async () => {
    const ev = createScanEvidence({ store: t.store, clock: manualClock(), emit: () => {} });
    await ev.record(run([f("aaaa000000000001")], "deploy/"), "t2/web", ci);
    await ev.record(run([f("bbbb000000000002")], "charts/"), "t2/web", ci);
    await ev.record(run([f("aaaa000000000001")], "deploy/"), "t2/api", ci);
    await ev.record(run([f("dddd000000000004")], "deploy/", "iac"), "t2/web", ci);
    // A clean run of shop/web's deploy/ fixes only that target's item.
    const clean = await ev.record(run([], "deploy/"), "t2/web", ci);
    expect(clean).toMatchObject({ new: 0, fixed: 1, open: 1 });
    const open = (await ev.items({ open: true })).filter((i) => i.source.startsWith("t2/"));
    expect(open.map((i) => `${i.kind}:${i.source}:${i.target}:${i.fingerprint}`).sort()).toEqual([
      "iac:t2/web:deploy/:dddd000000000004",
      "k8s:t2/api:deploy/:aaaa000000000001",
      "k8s:t2/web:charts/:bbbb000000000002",
    ]);
  });

  test("suppressed findings are kept but raise no alarm; secrets findings keep no details", async () => {
    const events: SecurityEvent[] = [];
    const ev = createScanEvidence({ store: t.store, clock: manualClock(), emit: (e) => events.push(e) });
    await ev.record(
      run(
        [
          f("eeee000000000005", "critical", {
            title: "GitHub token ghp_…(40)",
            suppressed: { by: "baseline" },
            details: { match: "ghp_DETAILVALUE", entropy: 4.9 },
          }),
        ],
        ".",
        "secrets",
      ),
      "t3/web",
      ci,
    );
    expect(events[1]).toMatchObject({
      type: "scan.finding_new",
      severity: "info",
      data: { suppressed: true },
    });
    const [item] = await ev.items({ kind: "secrets" });
    expect(item?.suppressed).toEqual({ by: "baseline" });
    expect(item?.details).toBeUndefined();
    expect(JSON.stringify([item, events])).not.toContain("DETAILVALUE");
  });
});
