// Incidents on both storage backends with a manual clock: the life cycle as responders drive it,
// detections joining their incident, reviews gating P0/P1 closes, the timeline filling itself
// from events, MTTA/MTTR in metrics and in reports.
import { Registry } from "prom-client";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { backends, openTestStore, type TestStore } from "../../../test/support/stores.ts";
import { manualClock } from "../../platform/clock.ts";
import { Conflict, Invalid } from "../../platform/errors.ts";
import { newEvent, type SecurityEvent } from "../../platform/events/index.ts";
import { createLogger } from "../../platform/logging.ts";
import type { Detection, Priority } from "../detect/types.ts";
import { createIncidents, type Incidents, incidentMigrations, MAX_AUTO_ENTRIES } from "./index.ts";

const alice = { kind: "user", id: "corp:alice" };
const bob = { kind: "user", id: "corp:bob" };
const MIN = 60_000;

const review = {
  summary: "A CI key leaked in a public gist and was used from a new address.",
  rootCause: "The key was printed by a debug step of the pipeline.",
  lessons: ["Mask keys in CI logs"],
  actionItems: [{ title: "Turn on log masking in every pipeline", owner: "corp:bob", due: "2026-02-01" }],
};

function detection(o: Partial<Detection> = {}): Detection {
  return {
    id: `det-${Math.random().toString(36).slice(2)}`,
    rule: "credential-new-ip",
    title: "Leaked credential used from a new IP",
    priority: "P1",
    fingerprint: "credential-new-ip:0123456789abcdef",
    group: { credential: "rpk_abc", ip: "203.0.113.7" },
    count: 3,
    firstAt: "2025-12-31T23:58:00.000Z",
    lastAt: "2025-12-31T23:59:00.000Z",
    firedAt: "2025-12-31T23:59:00.000Z",
    events: ["ev-1", "ev-2", "ev-3"],
    entities: [
      { kind: "api_key", id: "rpk_abc" },
      { kind: "system", id: "rampart" },
    ],
    summary: "rpk_abc used from 203.0.113.7 (never seen before)",
    ...o,
  };
}

describe.each(backends)("incidents on %s", (backend) => {
  let ts: TestStore;
  let clock: ReturnType<typeof manualClock>;
  let events: SecurityEvent[];
  let registry: Registry;
  let incidents: Incidents;

  beforeAll(async () => {
    ts = await openTestStore(backend, incidentMigrations);
  });
  afterAll(async () => {
    await ts?.cleanup();
  });
  beforeEach(async () => {
    // One store per suite: each test starts from no incidents.
    await ts.store.db.withTables<{ incident_timeline: object }>().deleteFrom("incident_timeline").execute();
    await ts.store.db.withTables<{ incidents: object }>().deleteFrom("incidents").execute();
    await ts.store.db.withTables<{ incident_sequences: object }>().deleteFrom("incident_sequences").execute();
    clock = manualClock("2026-01-01T00:00:00Z");
    events = [];
    registry = new Registry();
    incidents = createIncidents({
      store: ts.store,
      clock,
      emit: (e) => events.push(e),
      logger: createLogger({ level: "silent" }),
      registry,
    });
    await incidents.start();
  });

  const metric = async (name: string, labels: string) => {
    const text = await registry.getSingleMetricAsString(name.replace(/_(sum|count|bucket)$/, ""));
    const line = text
      .split("\n")
      .find((l) => l.startsWith(`${name}{${labels}}`) || l.startsWith(`${name}${labels}`));
    return line === undefined ? undefined : Number(line.split(" ").at(-1));
  };

  test("a P1 from detection to close: ids per year, MTTA and MTTR, review before close, audited", async () => {
    const inc = await incidents.open({ title: "Leaked CI key", priority: "P1" }, alice);
    expect(inc.id).toBe("INC-2026-0001");
    expect(inc.state).toBe("detected");
    expect((await incidents.open({ title: "second", priority: "P3" }, alice)).id).toBe("INC-2026-0002");
    expect(events[0]).toMatchObject({
      type: "incident.opened",
      severity: "high",
      retention: "audit",
      actor: alice,
      target: { kind: "incident", id: inc.id },
      data: { incident: inc.id, priority: "P1", to: "detected" },
    });
    expect(await metric("rampart_incidents_open", 'priority="P1",state="detected"')).toBe(1);
    expect(await metric("rampart_incidents_opened_total", 'priority="P1"')).toBe(1);

    clock.advance(6 * MIN + 40_000);
    const acked = await incidents.acknowledge(inc.id, bob);
    expect(acked).toMatchObject({ state: "triaged", acknowledgedAt: "2026-01-01T00:06:40.000Z" });
    // A second ack changes nothing.
    expect((await incidents.acknowledge(inc.id, alice)).acknowledgedAt).toBe(acked.acknowledgedAt);
    expect(await metric("rampart_incident_time_to_acknowledge_seconds_sum", '{priority="P1"}')).toBe(400);
    expect(
      await metric("rampart_incident_time_to_acknowledge_seconds_bucket", 'le="600",priority="P1"'),
    ).toBe(1);
    expect(
      await metric("rampart_incident_time_to_acknowledge_seconds_bucket", 'le="300",priority="P1"'),
    ).toBe(0);

    clock.advance(MIN);
    expect((await incidents.transition(inc.id, "contained", bob)).containedAt).toBe(
      "2026-01-01T00:07:40.000Z",
    );
    // Straight to recovered: eradication did not apply.
    clock.advance(2 * MIN);
    const rec = await incidents.transition(inc.id, "recovered", bob, "key rotated, nothing else touched");
    expect(rec.recoveredAt).toBe("2026-01-01T00:09:40.000Z");
    expect(await metric("rampart_incident_time_to_recover_seconds_sum", '{priority="P1"}')).toBe(580);

    const refused = await incidents.transition(inc.id, "closed", bob).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Conflict);
    expect((refused as Error).message).toMatch(/post-incident review/);

    await incidents.review(inc.id, review, alice);
    clock.advance(MIN);
    const closed = await incidents.transition(inc.id, "closed", alice);
    expect(closed).toMatchObject({
      state: "closed",
      closedAt: "2026-01-01T00:10:40.000Z",
      nextStates: ["triaged"],
    });
    expect(closed.review).toMatchObject({ ...review, reviewedBy: "user:corp:alice" });
    expect(await metric("rampart_incidents_open", 'priority="P1",state="recovered"')).toBe(0);

    expect(events.map((e) => e.type)).toEqual([
      "incident.opened",
      "incident.opened",
      "incident.state_changed",
      "incident.state_changed",
      "incident.state_changed",
      "incident.reviewed",
      "incident.closed",
    ]);
    expect(events.at(-1)).toMatchObject({
      actor: alice,
      data: { incident: inc.id, from: "recovered", to: "closed" },
    });

    const { timeline } = await incidents.get(inc.id);
    expect(timeline.map((t) => [t.kind, t.text])).toEqual([
      ["state", "opened as P1: Leaked CI key"],
      ["state", "detected → triaged: acknowledged"],
      ["state", "triaged → contained"],
      ["state", "contained → recovered: key rotated, nothing else touched"],
      ["review", `post-incident review: ${review.summary}`],
      ["state", "closed"],
    ]);
  });

  test("refused moves are 409 Conflicts naming the allowed next states; P3 closes without a review", async () => {
    const inc = await incidents.open({ title: "Noisy scanner", priority: "P3" }, alice);
    const err = await incidents.transition(inc.id, "closed", alice).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Conflict);
    expect((err as Conflict).status).toBe(409);
    expect((err as Error).message).toBe(
      `${inc.id} cannot move from detected to closed; allowed next: triaged, contained, eradicated, recovered (an incident closes only once recovered)`,
    );
    await incidents.transition(inc.id, "eradicated", alice);
    await expect(incidents.transition(inc.id, "triaged", alice)).rejects.toThrow(
      "cannot move from eradicated to triaged; allowed next: contained, recovered",
    );
    // New evidence after eradication: back to containment.
    await incidents.transition(inc.id, "contained", alice, "a second address used the key");
    await incidents.transition(inc.id, "recovered", alice);
    expect((await incidents.transition(inc.id, "closed", alice)).state).toBe("closed");
    await expect(incidents.assign(inc.id, "corp:bob", alice)).rejects.toThrow(/closed; reopen it/);
  });

  test("a closed incident reopens to triaged with a reason, and is watched again", async () => {
    const { incident: inc } = (await incidents.fromDetection(detection({ priority: "P2" }), {
      openAt: "P2",
    }))!;
    for (const s of ["triaged", "recovered", "closed"] as const) await incidents.transition(inc.id, s, alice);
    await expect(incidents.transition(inc.id, "triaged", alice)).rejects.toBeInstanceOf(Invalid);
    clock.advance(MIN);
    const re = await incidents.transition(inc.id, "triaged", bob, "the key was used again");
    expect(re).toMatchObject({ state: "triaged", closedAt: null, recoveredAt: null });
    expect(re.acknowledgedAt).toBe("2026-01-01T00:00:00.000Z");
    expect(events.at(-1)).toMatchObject({
      type: "incident.reopened",
      data: { from: "closed", to: "triaged" },
    });
    await incidents.recordEvents([
      newEvent({ type: "api.request", actor: { kind: "api_key", id: "rpk_abc" } }, clock.now()),
    ]);
    expect((await incidents.get(inc.id)).timeline.at(-1)).toMatchObject({
      kind: "event",
      actor: "api_key:rpk_abc",
    });
  });

  test("detections join the live incident with their fingerprint and raise its priority", async () => {
    expect(await incidents.fromDetection(detection({ priority: "P3" }), { openAt: "P2" })).toBeUndefined();

    const first = await incidents.fromDetection(detection({ priority: "P2" }), { openAt: "P2" });
    expect(first?.created).toBe(true);
    const id = first!.incident.id;
    expect(first!.incident).toMatchObject({
      priority: "P2",
      rule: "credential-new-ip",
      fingerprint: "credential-new-ip:0123456789abcdef",
      title: "Leaked credential used from a new IP",
    });
    expect(events[0]).toMatchObject({
      type: "incident.opened",
      actor: { kind: "rule", id: "credential-new-ip" },
    });

    // Below openAt, but its incident is live: it joins.
    const low = await incidents.fromDetection(detection({ priority: "P3", summary: "again" }), {
      openAt: "P2",
    });
    expect(low).toMatchObject({ created: false, incident: { id, priority: "P2" } });

    const urgent = await incidents.fromDetection(
      detection({ priority: "P0", group: { credential: "rpk_abc", ip: "198.51.100.9" } }),
      { openAt: "P2" },
    );
    expect(urgent).toMatchObject({ created: false, incident: { id, priority: "P0" } });
    expect(events.at(-1)).toMatchObject({
      type: "incident.priority_changed",
      severity: "critical",
      data: { from: "P2", to: "P0" },
    });
    expect(await incidents.list({ open: true })).toHaveLength(1);

    const { timeline } = await incidents.get(id);
    expect(timeline.filter((t) => t.kind === "detection").map((t) => t.text)).toEqual([
      "rpk_abc used from 203.0.113.7 (never seen before)",
      "again",
      "rpk_abc used from 203.0.113.7 (never seen before)",
    ]);
    expect(timeline.filter((t) => t.kind === "evidence").map((t) => t.data.ref)).toEqual([
      "ev-1",
      "ev-2",
      "ev-3",
    ]);

    // Once closed, the same fingerprint opens a new incident.
    await incidents.transition(id, "recovered", alice);
    await incidents.review(id, review, alice);
    await incidents.transition(id, "closed", alice);
    const next = await incidents.fromDetection(detection(), { openAt: "P2" });
    expect(next?.created).toBe(true);
    expect(next?.incident.id).not.toBe(id);
    // And the closed one cannot reopen beside it.
    await expect(incidents.transition(id, "triaged", alice, "same key")).rejects.toBeInstanceOf(Conflict);
  });

  test("the timeline fills from events: by incident id, by the detection's entities, bounded", async () => {
    const { incident } = (await incidents.fromDetection(detection(), { openAt: "P3" }))!;
    const other = await incidents.open({ title: "unrelated", priority: "P3" }, alice);
    const at = clock.now();
    await incidents.recordEvents([
      newEvent(
        { type: "gateway.request_denied", actor: { kind: "ip", id: "203.0.113.7" }, outcome: "denied" },
        at,
      ),
      newEvent(
        {
          type: "secret.read",
          actor: { kind: "api_key", id: "rpk_abc" },
          target: { kind: "secret", id: "/prod/db" },
        },
        at,
      ),
      newEvent({ type: "secret.read", actor: { kind: "user", id: "corp:carol" } }, at),
      newEvent({ type: "server.started", actor: { kind: "system", id: "rampart" } }, at),
      newEvent(
        {
          type: "playbook.step_completed",
          actor: { kind: "playbook", id: "credential-leak" },
          data: { incident: incident.id, run: "run-1" },
        },
        at,
      ),
      newEvent(
        { type: "alert.sent", actor: { kind: "system", id: "alerts" }, data: { incident: other.id } },
        at,
      ),
      // The service's own events are on the timeline already.
      newEvent({ type: "incident.note_added", actor: alice, data: { incident: incident.id } }, at),
    ]);
    const got = await incidents.get(incident.id);
    const auto = got.timeline.filter((t) => t.kind === "event" || t.kind === "action");
    expect(auto.map((t) => [t.kind, t.text])).toEqual([
      ["event", "gateway.request_denied (denied)"],
      ["event", "secret.read (success) on secret:/prod/db"],
      ["action", "playbook.step_completed (success)"],
    ]);
    expect(got.playbookRuns).toEqual(["run-1"]);
    expect(got.autoEntries).toBe(3);
    expect((await incidents.get(other.id)).timeline.at(-1)).toMatchObject({
      kind: "event",
      text: "alert.sent (success)",
    });

    const flood = Array.from({ length: MAX_AUTO_ENTRIES }, (_, i) =>
      newEvent({ type: "waf.blocked", actor: { kind: "ip", id: "203.0.113.7" }, data: { i } }, at),
    );
    await incidents.recordEvents(flood);
    const after = await incidents.get(incident.id);
    expect(after.autoEntries).toBe(MAX_AUTO_ENTRIES);
    expect(after.autoDropped).toBe(3);
    // People's entries are never crowded out.
    await incidents.note(incident.id, "called the key's owner", bob);
    expect((await incidents.get(incident.id)).timeline.at(-1)).toMatchObject({
      kind: "note",
      actor: "user:corp:bob",
    });

    // A closed incident stops watching its entities.
    await incidents.transition(other.id, "recovered", alice);
    await incidents.transition(other.id, "closed", alice);
    await incidents.transition(incident.id, "recovered", alice);
    await incidents.review(incident.id, review, alice);
    await incidents.transition(incident.id, "closed", alice);
    const before = (await incidents.get(incident.id)).timeline.length;
    await incidents.recordEvents([
      newEvent({ type: "waf.blocked", actor: { kind: "ip", id: "203.0.113.7" } }, at),
    ]);
    expect((await incidents.get(incident.id)).timeline.length).toBe(before);
  });

  test("commander, notes, evidence and priority are on the timeline and audited without free text", async () => {
    const inc = await incidents.open(
      { title: "Prod DB reached from a laptop", priority: "P2", commander: "corp:alice" },
      alice,
    );
    await incidents.assign(inc.id, "corp:bob", alice);
    expect(events.at(-1)).toMatchObject({
      type: "incident.commander_assigned",
      data: { from: "corp:alice", to: "corp:bob" },
    });
    const n = await incidents.note(inc.id, "password is hunter2, rotate it", bob);
    expect(n).toMatchObject({ kind: "note", text: "password is hunter2, rotate it" });
    expect(JSON.stringify(events.at(-1))).not.toContain("hunter2");
    const ev = await incidents.linkEvidence(
      inc.id,
      {
        kind: "url",
        ref: "https://grafana.example.com/d/x?token=abc",
        sha256: "A".repeat(64),
        description: "dashboard",
      },
      bob,
    );
    expect(ev.data).toMatchObject({ kind: "url", sha256: "a".repeat(64) });
    expect(JSON.stringify(events.at(-1))).not.toContain("token=abc");
    await expect(
      incidents.linkEvidence(inc.id, { kind: "url", ref: "javascript:alert(1)", description: "x" }, bob),
    ).rejects.toThrow("ref: a url's ref must be an http(s) URL");
    await incidents.setPriority(inc.id, "P1", bob, "production data");
    expect(events.at(-1)).toMatchObject({ type: "incident.priority_changed", severity: "high" });
    const got = await incidents.get(inc.id);
    expect(got).toMatchObject({ priority: "P1", commander: "corp:bob" });
    expect(got.timeline.map((t) => t.kind)).toEqual([
      "state",
      "commander",
      "commander",
      "note",
      "evidence",
      "priority",
    ]);
    await expect(incidents.get("INC-2026-9999")).rejects.toThrow("no incident INC-2026-9999");
    await expect(incidents.open({ title: "", priority: "P1" }, alice)).rejects.toBeInstanceOf(Invalid);
    await expect(incidents.open({ title: "x", priority: "P5" as Priority }, alice)).rejects.toBeInstanceOf(
      Invalid,
    );
  });

  test("report: per priority opened, closed, open now, MTTA and MTTR over a known set", async () => {
    // Four P1s acknowledged after 1, 2, 3 and 10 minutes and recovered after 10, 20, 30, 100.
    const mins = [
      [1, 10],
      [2, 20],
      [3, 30],
      [10, 100],
    ] as const;
    for (const [ack, rec] of mins) {
      clock.set("2026-01-10T00:00:00Z");
      const inc = await incidents.open({ title: `P1 ${ack}`, priority: "P1" }, alice);
      clock.advance(ack * MIN);
      await incidents.acknowledge(inc.id, bob);
      clock.advance((rec - ack) * MIN);
      await incidents.transition(inc.id, "recovered", bob);
    }
    clock.set("2026-01-05T00:00:00Z");
    const p3 = await incidents.open({ title: "old P3", priority: "P3" }, alice);
    // Before the period: counted as open now, not as opened.
    clock.set("2025-12-01T00:00:00Z");
    await incidents.open({ title: "ancient P2", priority: "P2" }, alice);
    clock.set("2026-01-20T00:00:00Z");
    await incidents.transition(p3.id, "recovered", alice);
    await incidents.transition(p3.id, "closed", alice);

    const r = await incidents.report({
      since: new Date("2026-01-02T00:00:00Z"),
      until: new Date("2026-01-31T00:00:00Z"),
    });
    expect(r.priorities.P1).toEqual({
      opened: 4,
      closed: 0,
      openNow: 4,
      mtta: { count: 4, meanSeconds: 240, medianSeconds: 120, p90Seconds: 600 },
      mttr: { count: 4, meanSeconds: 2400, medianSeconds: 1200, p90Seconds: 6000 },
      oldestOpen: {
        id: expect.stringMatching(/^INC-2026-/),
        createdAt: "2026-01-10T00:00:00.000Z",
        ageSeconds: 10 * 86_400,
      },
    });
    expect(r.priorities.P2).toMatchObject({ opened: 0, openNow: 1, oldestOpen: { id: "INC-2025-0001" } });
    expect(r.priorities.P3).toMatchObject({
      opened: 1,
      closed: 1,
      openNow: 0,
      mtta: { count: 1, meanSeconds: 15 * 86_400 },
      oldestOpen: null,
    });
    expect(r.priorities.P0).toMatchObject({ opened: 0, mtta: { count: 0, meanSeconds: null } });
    expect(r.total).toMatchObject({ opened: 5, closed: 1, openNow: 5 });
  });
});
