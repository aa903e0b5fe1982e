// Detections through a running server, on the paths a deployment uses: gateway events arrive on the
// ingest API and trip a windowed rule (one incident, however many more arrive); a tampered audit log
// is caught by the scheduled verification and pages as P0; recovering an incident resolves its page.
import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { newEvent, type SecurityEvent } from "../src/platform/events/index.ts";
import { startTestServer, type TestServer } from "./support/api.ts";
import { startWebhookSink, type WebhookSink } from "./support/sinks.ts";

const INGEST = randomBytes(24).toString("hex");
const HOOK_SECRET = randomBytes(24).toString("hex");

let sink: WebhookSink;
let t: TestServer;
let server: TestServer["server"];

beforeAll(async () => {
  sink = await startWebhookSink({ secret: HOOK_SECRET });
  t = await startTestServer({
    name: "detections",
    config: {
      events: { ingestTokens: [{ name: "edge-1", token: INGEST }], batchMaxDelayMs: 5 },
      alerts: {
        channels: [{ name: "soc", type: "webhook", url: sink.url, secret: HOOK_SECRET }],
        routes: [{ channels: ["soc"] }],
      },
      playbooks: { dirs: [] },
    },
  });
  server = t.server;
}, 60_000);

afterAll(async () => {
  await t?.stop();
  await sink?.close();
});

const ingest = async (events: SecurityEvent[]) => {
  const res = await fetch(`${server.url}/api/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${INGEST}`, "content-type": "application/json" },
    body: JSON.stringify({ batchId: `batch-${randomBytes(6).toString("hex")}`, events }),
  });
  expect(res.status).toBe(201);
};

const loginFailed = (ip: string) =>
  newEvent({
    type: "identity.login_failed",
    severity: "low",
    outcome: "failure",
    actor: { kind: "ip", id: ip },
    data: { reason: "state_mismatch", provider: "corp" },
  });

describe("detections on a running server", () => {
  test("ten failed logins from one address open one P2 incident; more join it", async () => {
    const rt = server.runtime;
    await ingest(Array.from({ length: 9 }, () => loginFailed("198.51.100.23")));
    await rt.bus.flush();
    await rt.response.settled();
    expect(await rt.incidents.list({ open: true })).toEqual([]);

    await ingest([loginFailed("198.51.100.23"), loginFailed("198.51.100.99")]);
    await expect
      .poll(async () => (await rt.incidents.list({ open: true })).map((i) => [i.rule, i.priority]))
      .toEqual([["failed-logins-per-account", "P2"]]);
    const [incident] = await rt.incidents.list({ open: true });
    // Its timeline has the detection and the events that made it.
    const full = await rt.incidents.get(incident!.id);
    expect(full.timeline.some((t) => t.kind === "detection")).toBe(true);
    await expect.poll(() => sink.received.filter((m) => m.kind === "incident_opened").length).toBe(1);

    // Ten more from the same address: the rule fires again only after its suppression, and joins the same incident.
    await ingest(Array.from({ length: 10 }, () => loginFailed("198.51.100.23")));
    await rt.bus.flush();
    await rt.response.settled();
    expect((await rt.incidents.list({ open: true })).map((i) => i.id)).toEqual([incident!.id]);
    expect(sink.received.filter((m) => m.kind === "incident_opened")).toHaveLength(1);

    // The rule and its counts are visible to operators.
    const stats = rt.response.detector.stats();
    expect(stats.detections).toBeGreaterThanOrEqual(1);
  });

  test("a tampered audit entry is caught by the scheduled verification, pages as P0, and recovery resolves the page", async () => {
    const rt = server.runtime;
    await rt.bus.flush();
    await rt.audit.checkpoint();
    // An attacker with database access rewrites history (the append-only trigger has to go first).
    await sql.raw("alter table audit_entries disable trigger audit_entries_append_only").execute(rt.store.db);
    await sql
      .raw("update audit_entries set body = replace(body, 'state_mismatch', 'benign') where seq = 2")
      .execute(rt.store.db);
    await sql.raw("alter table audit_entries enable trigger audit_entries_append_only").execute(rt.store.db);

    await rt.verifyAudit();
    await expect
      .poll(async () => (await rt.incidents.list({ open: true, priority: "P0" })).map((i) => i.rule))
      .toEqual(["audit-integrity-failed"]);
    const [incident] = await rt.incidents.list({ open: true, priority: "P0" });
    await expect
      .poll(() => sink.received.find((m) => m.kind === "incident_opened" && m.priority === "P0"))
      .toMatchObject({ key: `incident:${incident!.id}` });

    await rt.incidents.transition(incident!.id, "recovered", { kind: "user", id: "corp:oncall" });
    await expect
      .poll(() => sink.received.find((m) => m.kind === "incident_resolved"))
      .toMatchObject({ key: `incident:${incident!.id}`, priority: "P0" });
    const metrics = await (
      await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${t.admin}` } })
    ).text();
    expect(metrics).toMatch(/rampart_detections_total\{rule="audit-integrity-failed",priority="P0"\} 1/);
    expect(metrics).toMatch(/rampart_incident_time_to_recover_seconds_count\{priority="P0"\} 1/);
  });
});
