// The detection and alerting API as operators and auditors use it on a real server (PGlite): a test
// alert reaches a real signed-webhook receiver and is listed as delivered; an alert to a channel
// whose receiver is down fails after the configured attempts, names only the channel, and a retry
// queues it again; the rules in force are listed with their counters after events trip one; the
// SIEM exporters' health; an auditor reads all of it but cannot retry or send (403).
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import type { OutboxEntry } from "../src/monitoring/alerts/index.ts";
import { newEvent } from "../src/platform/events/index.ts";
import type { RuleView } from "../src/server/response-routes.ts";
import { startTestServer, type TestServer } from "./support/api.ts";
import { rampart } from "./support/cli.ts";
import { freePort } from "./support/services.ts";
import { startWebhookSink, type WebhookSink } from "./support/sinks.ts";

const SECRET = "response-api-webhook-signing-secret-0123456789";

let t: TestServer;
let sink: WebhookSink;
let deadUrl: string;
let admin: string;
let auditor: string;

const call: TestServer["call"] = (...a) => t.call(...a);
const eventually = (check: () => Promise<void>) => vi.waitFor(check, { timeout: 10_000, interval: 50 });

const entries = async (q = "") =>
  (await call("GET", `/api/v1/alerts/outbox${q}`, admin)).json.entries as OutboxEntry[];

beforeAll(async () => {
  sink = await startWebhookSink({ secret: SECRET });
  // A port nothing listens on.
  deadUrl = `http://127.0.0.1:${await freePort()}/hooks/rampart`;
  t = await startTestServer({
    name: "response-api",
    config: {
      identity: { tokens: { secret: "response-api-test-secret-0123456789abcdef" } },
      rbac: { bindings: [{ role: "auditor", users: ["corp:audrey"] }] },
      alerts: {
        channels: [
          { name: "sec-hook", type: "webhook", url: sink.url, secret: SECRET },
          { name: "dead-hook", type: "webhook", url: deadUrl, secret: SECRET },
        ],
        routes: [
          { priorities: ["P3"], kinds: ["notice"], channels: ["sec-hook"] },
          { priorities: ["P0"], kinds: ["notice"], channels: ["dead-hook"] },
        ],
        retry: { maxAttempts: 1, initialBackoff: "10ms", maxBackoff: "10ms", timeout: "2s" },
      },
    },
  });
  admin = t.admin;
  auditor = (await t.apiKeyFor("corp:audrey")).key;
});

afterAll(async () => {
  await t?.stop();
  await sink?.close();
});

test("a test alert reaches the routed receiver, signed, and is listed as delivered", async () => {
  const sent = await call("POST", "/api/v1/alerts/test", admin, { text: "checking the route" });
  expect(sent.status).toBe(202);
  expect(sent.json).toMatchObject({ priority: "P3", channels: ["sec-hook"], queued: 1 });
  const id = sent.json.id as string;

  await eventually(async () => expect(sink.ids()).toContain(id));
  expect(sink.received.find((m) => m.id === id)).toMatchObject({
    kind: "notice",
    priority: "P3",
    summary: "checking the route",
  });
  await eventually(async () => {
    const delivered = (await entries("?status=delivered")).filter((e) => e.message.id === id);
    expect(delivered).toEqual([
      expect.objectContaining({ channel: "sec-hook", status: "delivered", attempts: 1 }),
    ]);
  });

  // A priority no route takes: nothing queued, and the answer says so.
  const unrouted = await call("POST", "/api/v1/alerts/test", admin, { priority: "P2" });
  expect(unrouted.status).toBe(200);
  expect(unrouted.json).toMatchObject({ priority: "P2", channels: [], queued: 0 });
  const bad = await call("POST", "/api/v1/alerts/test", admin, { priority: "P9" });
  expect(bad.status).toBe(400);
  expect(bad.json.message).toMatch(/^priority: /);
});

test("an alert to a receiver that is down fails after maxAttempts, shows no URL, and a retry queues it again", async () => {
  const sent = await call("POST", "/api/v1/alerts/test", admin, { priority: "P0" });
  expect(sent.json).toMatchObject({ channels: ["dead-hook"], queued: 1 });
  let failed: OutboxEntry | undefined;
  await eventually(async () => {
    failed = (await entries("?status=failed")).find((e) => e.message.id === sent.json.id);
    expect(failed).toMatchObject({ channel: "dead-hook", status: "failed", attempts: 1 });
  });
  const listed = await call("GET", "/api/v1/alerts/outbox?status=failed", admin);
  // The channel's URL and signing key are secrets: the outbox names the channel only.
  expect(JSON.stringify(listed.json)).not.toContain(deadUrl);
  expect(JSON.stringify(listed.json)).not.toContain(SECRET);
  expect(failed?.lastError).toBeTruthy();

  const retried = await call("POST", `/api/v1/alerts/outbox/${failed?.id}/retry`, admin);
  expect(retried.status).toBe(200);
  expect(retried.json).toMatchObject({ id: failed?.id, status: "pending", attempts: 0 });
  // Still down: it fails again after one attempt, and can be retried again.
  await eventually(async () => {
    const again = (await entries("?status=failed")).find((e) => e.id === failed?.id);
    expect(again).toMatchObject({ status: "failed", attempts: 1 });
  });

  const missing = await call("POST", "/api/v1/alerts/outbox/no-such-alert/retry", admin);
  expect(missing.status).toBe(404);
  const delivered = (await entries("?status=delivered"))[0] as OutboxEntry;
  const notFailed = await call("POST", `/api/v1/alerts/outbox/${delivered.id}/retry`, admin);
  expect(notFailed.status).toBe(409);
  const badStatus = await call("GET", "/api/v1/alerts/outbox?status=lost", admin);
  expect(badStatus.status).toBe(400);
});

test("the rules in force are listed with their source, condition and counters", async () => {
  const t0 = Date.now();
  const events = Array.from({ length: 10 }, (_, i) =>
    newEvent(
      {
        type: "identity.login_failed",
        actor: { kind: "ip", id: "203.0.113.50" },
        severity: "low",
        outcome: "failure",
        data: { reason: "code_rejected" },
      },
      new Date(t0 + i * 1000),
    ),
  );
  await t.server.runtime.bus.publish(events);
  await t.server.runtime.bus.flush();

  await eventually(async () => {
    const r = await call("GET", "/api/v1/detect/rules", admin);
    expect(r.status).toBe(200);
    const rules = r.json.rules as RuleView[];
    expect(rules.every((x) => x.source === "builtin")).toBe(true);
    expect(rules.map((x) => x.id)).toEqual(
      expect.arrayContaining(["failed-logins-per-account", "credential-new-ip", "break-glass-used"]),
    );
    expect(rules.find((x) => x.id === "failed-logins-per-account")).toMatchObject({
      title: "Repeated failed logins",
      priority: "P2",
      condition: { kind: "count", threshold: 10, window: "5m" },
      groupBy: { actor: "actor.id", actorKind: "actor.kind" },
      match: { type: ["identity.login_failed"], outcome: ["failure"] },
      stats: { matched: 10, fired: 1, errors: 0, groups: 1 },
    });
    expect(rules.find((x) => x.id === "break-glass-used")?.stats).toMatchObject({ matched: 0, fired: 0 });
  });
});

test("SIEM exporters are listed (none configured here)", async () => {
  const r = await call("GET", "/api/v1/siem/exporters", admin);
  expect(r.status).toBe(200);
  expect(r.json).toEqual({ exporters: [] });
});

test("an auditor reads rules, outbox and exporters but cannot retry or send a test alert", async () => {
  for (const path of ["/api/v1/detect/rules", "/api/v1/alerts/outbox", "/api/v1/siem/exporters"])
    expect((await call("GET", path, auditor)).status, path).toBe(200);
  const failed = (await entries("?status=failed"))[0] as OutboxEntry;
  const retry = await call("POST", `/api/v1/alerts/outbox/${failed.id}/retry`, auditor);
  expect(retry.status).toBe(403);
  expect(retry.json.message).toMatch(/alerts:write/);
  const test = await call("POST", "/api/v1/alerts/test", auditor, {});
  expect(test.status).toBe(403);
  // The refused retry changed nothing.
  expect((await entries("?status=failed")).find((e) => e.id === failed.id)?.status).toBe("failed");
  const none = await fetch(`${t.url}/api/v1/detect/rules`);
  expect(none.status).toBe(401);
});

test("the CLI shows rules, the outbox, a test alert's channels and the exporters", async () => {
  const cli = (args: string[]) => rampart([...args, "--server", t.url, "--token", admin], { cwd: t.work });
  const [rules, failed, sent, siem, unrouted] = await Promise.all([
    cli(["detect", "rules"]),
    cli(["alerts", "list", "--status", "failed"]),
    cli(["alerts", "test", "--priority", "p3", "--json"]),
    cli(["siem", "status"]),
    cli(["alerts", "test", "--priority", "P1"]),
  ]);
  expect(rules.stderr).toBe("");
  expect(rules.stdout).toMatch(
    /^ {2}failed-logins-per-account +P2 {2}builtin count ≥ 10 \/ 5m by actor, actorKind +1 fired {2}10 matched$/m,
  );
  expect(rules.stdout).toMatch(
    /^ {2}credential-new-ip +P1 {2}builtin new data\.ip \(remembered 30d\) by credential, subject /m,
  );
  expect(failed.stdout).toMatch(
    / failed +dead-hook +P0 +1 att\. .* Rampart test alert \(P0\) {2}\(ECONNREFUSED\)$/m,
  );
  expect(failed.stdout).not.toContain(deadUrl);
  expect(JSON.parse(sent.stdout)).toMatchObject({ priority: "P3", channels: ["sec-hook"], queued: 1 });
  expect(siem.stdout.trim()).toBe("no SIEM exporters configured");
  expect(unrouted.code).toBe(1);
  expect(unrouted.stdout).toContain("no route takes a P1 notice: nothing sent");
});
