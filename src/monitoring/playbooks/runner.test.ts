// The runner's bookkeeping on both storage backends, with nothing that acts: dry runs of every
// shipped playbook against a sample detection, manual checklists completing a run, the triggers
// that start playbooks when an incident opens. Runs that act are in test/playbooks.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { backends, openTestStore, type TestStore } from "../../../test/support/stores.ts";
import { manualClock } from "../../platform/clock.ts";
import type { SecurityEvent } from "../../platform/events/index.ts";
import { createLogger } from "../../platform/logging.ts";
import type { Detection } from "../detect/types.ts";
import { actionMethods, type PlaybookActions } from "./actions.ts";
import { createPlaybooks, playbookMigrations } from "./runner.ts";
import { loadPlaybooks, parsePlaybook, type Playbook } from "./schema.ts";

// Dry runs and manual steps must never reach an action.
const untouchable = Object.fromEntries(
  Object.values(actionMethods).map((m) => [
    m,
    () => Promise.reject(new Error(`${m} was called in a run that must not act`)),
  ]),
) as unknown as PlaybookActions;

const detection: Detection = {
  id: "d-1",
  rule: "credential-new-ip",
  title: "API key used from a new address",
  priority: "P1",
  fingerprint: "credential-new-ip:0123456789abcdef",
  group: {
    credential: "k3j8abcd",
    subject: "corp:alice",
    ip: "203.0.113.7",
    identity: "corp:alice",
    route: "grafana",
    actor: "user:corp:alice",
  },
  count: 1,
  firstAt: "2026-03-01T00:00:00.000Z",
  lastAt: "2026-03-01T00:00:00.000Z",
  firedAt: "2026-03-01T00:00:01.000Z",
  events: ["e-1"],
  entities: [{ kind: "api_key", id: "k3j8abcd" }],
  summary: "API key k3j8abcd used from new address 203.0.113.7",
};

const checklistOnly = parsePlaybook(
  `id: drill
title: Drill
trigger: { rules: [credential-new-ip], minPriority: P1 }
steps:
  - id: look
    phase: detect
    title: Look
    manual: true
    deadline: 10m
    checklist: [one, two]
  - id: skip-me
    phase: contain
    title: Only with an address
    manual: true
    when: "{{ inputs.nothing }}"
    checklist: [x]
  - id: ack
    phase: recover
    title: Acknowledge
    manual: true
`,
  "drill.yaml",
);

describe.each(backends)("playbook runs on %s", (backend) => {
  // One store per backend (opening PGlite takes seconds); each test's runs have their own ids.
  let ts: TestStore;
  beforeAll(async () => {
    ts = await openTestStore(backend, playbookMigrations);
  });
  afterAll(() => ts?.cleanup());

  async function setup(playbooks: Playbook[]) {
    const clock = manualClock("2026-03-01T00:00:00Z");
    const events: SecurityEvent[] = [];
    let autoRun = true;
    const runner = createPlaybooks({
      store: ts.store,
      clock,
      emit: (e) => events.push(e),
      logger: createLogger({ level: "silent" }),
      actions: untouchable,
      load: () => playbooks,
      autoRun: () => autoRun,
    });
    return { runner, clock, events, setAutoRun: (v: boolean) => (autoRun = v) };
  }

  test("every shipped playbook dry-runs cleanly: parameters resolved and valid, nothing run", async () => {
    const shipped = loadPlaybooks({ dirs: [] });
    const { runner, events } = await setup(shipped);
    const by = { kind: "user", id: "corp:bob" };
    for (const p of shipped) {
      const run = await runner.run(
        p.id,
        {
          incident: { id: "inc-1", priority: "P1" },
          detection,
          inputs: { country: "RU", lockdown: "yes" },
          dryRun: true,
        },
        by,
      );
      expect(run.status).toBe("dry_run");
      const failed = run.steps.filter((s) => s.status === "failed");
      expect(failed, `${p.id}: ${JSON.stringify(failed)}`).toEqual([]);
      for (const s of run.steps)
        expect(s.status).toBe(
          s.manual ? "waiting_manual" : (s.result as { with?: unknown }).with ? "pending" : "skipped",
        );
    }
    const leak = (await runner.runs({ incident: "inc-1" })).find((r) => r.playbook === "credential-leak");
    expect(leak?.triggeredBy.label).toBe("user:corp:bob");
    expect(leak?.steps.find((s) => s.step === "block-ip")?.result).toEqual({
      with: {
        ip: "203.0.113.7",
        ttl: 86_400,
        reason: "credential leak: k3j8abcd used from this address",
      },
    });
    expect(leak?.steps.find((s) => s.step === "revoke-key")?.result).toEqual({ with: { id: "k3j8abcd" } });
    // A dry run is audited too, and says so.
    const executed = events.filter((e) => e.type === "playbook.step_executed");
    expect(executed.length).toBeGreaterThan(0);
    expect(executed.every((e) => e.data.dryRun === true && e.actor.kind === "playbook")).toBe(true);
  });

  test("a dry run reports a step whose parameters do not resolve, without stopping", async () => {
    const { runner } = await setup(loadPlaybooks({ dirs: [] }));
    const run = await runner.run(
      "waf-attack-surge",
      { inputs: { ip: "not-an-ip", country: "Russia" }, dryRun: true },
      { kind: "token", id: "admin" },
    );
    expect(run.steps.find((s) => s.step === "block-top-ip")).toMatchObject({
      status: "failed",
      error: "steps.block-top-ip.with.ip: expected an IP address or CIDR range, e.g. 203.0.113.7",
    });
    expect(run.steps.find((s) => s.step === "notify")).toMatchObject({ status: "pending" });
    expect(run.steps.find((s) => s.step === "block-country")).toMatchObject({
      status: "failed",
      error: "steps.block-country.with.country: expected an ISO 3166-1 alpha-2 country code such as RU",
    });
    // Without an address the block is skipped by its `when`, and the run does not act either way.
    const none = await runner.run("waf-attack-surge", { dryRun: true }, { kind: "token", id: "admin" });
    expect(none.steps.find((s) => s.step === "block-top-ip")?.status).toBe("skipped");
    await expect(runner.check(none.id, "review", "all", { kind: "token", id: "admin" })).rejects.toThrow(
      /dry run/,
    );
  });

  test("ticking every checklist item completes the run; who ticked is kept; overdue is reported", async () => {
    const { runner, clock, events } = await setup([checklistOnly]);
    const bob = { kind: "user", id: "corp:bob" };
    const run = await runner.run("drill", {}, bob);
    expect(run.status).toBe("waiting");
    expect(run.steps.map((s) => s.status)).toEqual(["waiting_manual", "skipped", "waiting_manual"]);
    expect(run.steps[0]).toMatchObject({ dueAt: "2026-03-01T00:10:00.000Z", overdue: false });

    clock.advance(11 * 60_000);
    let now = await runner.check(run.id, "look", 1, bob);
    expect(now.steps[0]).toMatchObject({ status: "waiting_manual", overdue: true });
    expect(now.steps[0]?.checklist).toEqual([
      { item: "one", checked: false },
      { item: "two", checked: true, by: "user:corp:bob", at: "2026-03-01T00:11:00.000Z" },
    ]);
    await expect(runner.check(run.id, "look", 2, bob)).rejects.toThrow(/expected an item from 0 to 1/);
    await expect(runner.check(run.id, "nope", 0, bob)).rejects.toThrow(/has no step 'nope'/);
    now = await runner.check(run.id, "look", 0, bob);
    expect(now.steps[0]).toMatchObject({ status: "checked", overdue: true });
    expect(now.status).toBe("waiting");
    now = await runner.check(run.id, "ack", "all", bob);
    expect(now.status).toBe("completed");
    expect(now.endedAt).toBe("2026-03-01T00:11:00.000Z");
    expect(events.map((e) => e.type)).toEqual([
      "playbook.started",
      "playbook.step_checked",
      "playbook.step_checked",
      "playbook.step_checked",
      "playbook.completed",
    ]);
    expect(events.at(-1)).toMatchObject({
      actor: { kind: "playbook", id: "drill" },
      data: { status: "completed" },
    });
    expect((await runner.get(run.id)).status).toBe("completed");
  });

  test("an incident opening runs the playbooks its rule and priority trigger, unless autoRun is off", async () => {
    const { runner, setAutoRun } = await setup([checklistOnly]);
    const incident = { id: "inc-7", priority: "P1" as const };
    const [started, ...rest] = await runner.onIncidentOpened(incident, detection);
    expect(rest).toEqual([]);
    expect(started).toMatchObject({
      playbook: "drill",
      incident: "inc-7",
      triggeredBy: { label: "rule:credential-new-ip" },
    });
    // Less urgent than the trigger's minimum, or another rule: nothing runs.
    expect(await runner.onIncidentOpened({ id: "inc-8", priority: "P2" }, detection)).toEqual([]);
    expect(await runner.onIncidentOpened(incident, { ...detection, rule: "waf-block-surge" })).toEqual([]);
    setAutoRun(false);
    expect(await runner.onIncidentOpened({ id: "inc-9", priority: "P0" }, detection)).toEqual([]);
    expect((await runner.runs({ incident: "inc-7" })).map((r) => r.id)).toEqual([started?.id]);
    await expect(runner.run("nope", {}, { kind: "token", id: "admin" })).rejects.toThrow(
      "no playbook 'nope'",
    );
  });
});
