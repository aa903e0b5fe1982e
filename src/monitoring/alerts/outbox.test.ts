// The outbox against real receivers and a real store: routing, retries (Retry-After, backoff),
// permanent failures, giving up, re-queueing, metrics, and two deliverers sharing one PostgreSQL.
import { Registry } from "prom-client";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import {
  sampleAlert as alert,
  startPagerDutySink,
  startSlackSink,
  startWebhookSink,
} from "../../../test/support/sinks.ts";
import { openTestStore, type TestStore } from "../../../test/support/stores.ts";
import { type Clock, manualClock, systemClock } from "../../platform/clock.ts";
import type { SecurityEvent } from "../../platform/events/index.ts";
import { createLogger } from "../../platform/logging.ts";
import type { Store } from "../../platform/store/index.ts";
import type { Detection } from "../detect/types.ts";
import {
  type Alerts,
  alertMigrations,
  alertsConfigSchema,
  backoffMs,
  createAlerts,
  messageFromDetection,
  routeMessage,
} from "./index.ts";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const secret = "soc-hook-key-0123456789abcdef0123456789";
const quiet = createLogger({ level: process.env.H2_LOG ?? "silent" });

// One embedded store for the file (opening PGlite is the slow part); each test starts with an empty outbox.
let shared: TestStore;
beforeAll(async () => {
  shared = await openTestStore("pglite", alertMigrations);
});
afterAll(() => shared?.cleanup());

async function pglite(): Promise<TestStore> {
  await sql`delete from alert_outbox`.execute(shared.store.db);
  return shared;
}

function service(o: { store: Store; clock: Clock; config: unknown; registry?: Registry; pollMs?: number }) {
  const events: SecurityEvent[] = [];
  const config = alertsConfigSchema.parse(o.config);
  const alerts: Alerts = createAlerts({
    store: o.store,
    clock: o.clock,
    config: () => config,
    emit: (e) => events.push(e),
    logger: quiet,
    ...(o.registry ? { registry: o.registry } : {}),
    ...(o.pollMs ? { pollMs: o.pollMs } : {}),
  });
  cleanups.push(() => alerts.close());
  return { alerts, events };
}

describe("config", () => {
  const channels = [
    { name: "sec-slack", type: "slack", url: "https://hooks.slack.example/services/T/B/x" },
    { name: "oncall", type: "pagerduty", routingKey: "r".repeat(32) },
  ];

  test("defaults: PagerDuty's URL, retry policy; durations are read", () => {
    const c = alertsConfigSchema.parse({
      channels,
      routes: [],
      retry: { initialBackoff: "500ms", maxBackoff: "1h" },
    });
    expect(c.channels[1]).toMatchObject({ url: "https://events.pagerduty.com/v2/enqueue" });
    expect(c.retry).toEqual({ maxAttempts: 12, initialBackoff: 500, maxBackoff: 3_600_000, timeout: 10_000 });
    expect(alertsConfigSchema.parse({}).retry).toMatchObject({ initialBackoff: 2000, maxBackoff: 600_000 });
  });

  test("channel names are unique and routes name existing channels, with the path of the mistake", () => {
    const twice = alertsConfigSchema.safeParse({ channels: [...channels, channels[0]] });
    expect(twice.error?.issues[0]).toMatchObject({
      path: ["channels", 2, "name"],
      message: "channel name 'sec-slack' is used twice",
    });
    const unknown = alertsConfigSchema.safeParse({
      channels,
      routes: [{ priorities: ["P0"], channels: ["oncall", "soc"] }],
    });
    expect(unknown.error?.issues[0]?.path).toEqual(["routes", 0, "channels", 1]);
    expect(unknown.error?.issues[0]?.message).toContain("no channel named 'soc'");
    for (const bad of [
      { channels: [{ name: "soc", type: "webhook", url: "https://x.example", secret: "short" }] },
      { channels: [{ name: "m", type: "email", to: [], from: "a@example.com", smtp: { host: "h" } }] },
      {
        channels: [
          {
            name: "m",
            type: "email",
            to: ["a@example.com"],
            from: "a@example.com",
            smtp: { host: "h", user: "u" },
          },
        ],
      },
      { channels: [{ name: "s", type: "slack", url: "ftp://x.example" }] },
      { retry: { initialBackoff: "2 days" } },
      { retry: { initialBackoff: "10m", maxBackoff: "1m" } },
    ])
      expect(alertsConfigSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
  });

  test("routing: every channel of every matching route, once; kinds narrow a route", () => {
    const c = alertsConfigSchema.parse({
      channels: [...channels, { name: "soc", type: "webhook", url: "https://soc.example/h", secret }],
      routes: [
        { priorities: ["P0", "P1"], channels: ["oncall", "sec-slack", "soc"] },
        { priorities: ["P1", "P2", "P3"], channels: ["sec-slack"], kinds: ["detection", "incident_opened"] },
      ],
    });
    expect(routeMessage(c, { priority: "P1", kind: "detection" })).toEqual(["oncall", "sec-slack", "soc"]);
    expect(routeMessage(c, { priority: "P2", kind: "detection" })).toEqual(["sec-slack"]);
    expect(routeMessage(c, { priority: "P3", kind: "incident_resolved" })).toEqual([]);
  });

  test("backoff grows exponentially with jitter, up to maxBackoff", () => {
    const retry = { maxAttempts: 12, initialBackoff: 1000, maxBackoff: 8000, timeout: 1000 };
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffMs(n, retry, () => 1))).toEqual([
      1000, 2000, 4000, 8000, 8000, 8000,
    ]);
    expect(backoffMs(3, retry, () => 0)).toBe(2000);
  });
});

describe("messages", () => {
  test("a detection becomes a message keyed by its fingerprint", () => {
    const d: Detection = {
      id: "d-1",
      rule: "credential-new-ip",
      title: "Leaked credential used from a new IP",
      priority: "P1",
      fingerprint: "credential-new-ip:00112233aabbccdd",
      group: { credential: "k3j", ip: "203.0.113.7" },
      count: 2,
      firstAt: "2026-11-23T08:00:00.000Z",
      lastAt: "2026-11-23T08:00:05.000Z",
      firedAt: "2026-11-23T08:00:06.000Z",
      events: ["e1", "e2"],
      entities: [],
      summary: "Credential k3j used from 203.0.113.7",
    };
    expect(messageFromDetection(d, { incidentUrl: "https://rampart.example/incidents/7" })).toEqual({
      kind: "detection",
      id: "detection:d-1",
      priority: "P1",
      title: d.title,
      summary: d.summary,
      key: d.fingerprint,
      rule: d.rule,
      at: d.firedAt,
      details: {
        credential: "k3j",
        ip: "203.0.113.7",
        count: 2,
        firstAt: d.firstAt,
        lastAt: d.lastAt,
        detection: "d-1",
        incidentUrl: "https://rampart.example/incidents/7",
      },
    });
  });
});

describe("outbox", () => {
  test("send queues one row per routed channel in one go; a repeated send queues nothing more", async () => {
    const ts = await pglite();
    const slack = await startSlackSink();
    const hook = await startWebhookSink({ secret });
    cleanups.push(
      () => slack.close(),
      () => hook.close(),
    );
    const { alerts, events } = service({
      store: ts.store,
      clock: systemClock,
      config: {
        channels: [
          { name: "sec-slack", type: "slack", url: slack.url },
          { name: "soc", type: "webhook", url: hook.url, secret },
        ],
        routes: [
          { priorities: ["P0", "P1"], channels: ["sec-slack", "soc"] },
          { channels: ["sec-slack"], kinds: ["incident_opened"] },
        ],
      },
    });
    expect(await alerts.send(alert())).toEqual({ queued: 2 });
    expect(await alerts.send(alert())).toEqual({ queued: 0 });
    expect(await alerts.send(alert({ id: "n-1", priority: "P3", kind: "notice" }))).toEqual({ queued: 0 });
    await expect(alerts.send({ ...alert(), priority: "P9" } as never)).rejects.toThrow(/alert\.priority/);
    expect((await alerts.list({ status: "pending" })).map((r) => r.channel).sort()).toEqual([
      "sec-slack",
      "soc",
    ]);

    const t0 = performance.now();
    alerts.start();
    await alerts.drain(5000);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(slack.received).toHaveLength(1);
    expect(hook.ids()).toEqual(["detection:7f1c"]);
    const delivered = await alerts.list({ status: "delivered" });
    expect(delivered.map((r) => [r.channel, r.attempts, r.lastError])).toEqual(
      expect.arrayContaining([
        ["sec-slack", 1, null],
        ["soc", 1, null],
      ]),
    );
    expect(
      events.map((e) => [e.type, e.retention, e.data.channel, e.data.messageId, e.data.attempts]).sort(),
    ).toEqual([
      ["alert.delivered", "audit", "sec-slack", "detection:7f1c", 1],
      ["alert.delivered", "audit", "soc", "detection:7f1c", 1],
    ]);

    // Once started, a send is delivered without waiting for the poll.
    const t1 = performance.now();
    await alerts.send(alert({ id: "detection:2" }));
    while (hook.ids().length < 2 && performance.now() - t1 < 2000) await new Promise((r) => setTimeout(r, 5));
    expect(hook.ids()).toContain("detection:2");
    expect(performance.now() - t1).toBeLessThan(500);
  });

  test("429 with Retry-After waits that long; 500s back off; then it is delivered once", async () => {
    const ts = await pglite();
    const clock = manualClock("2026-11-23T08:00:00Z");
    const slack = await startSlackSink();
    cleanups.push(() => slack.close());
    const { alerts, events } = service({
      store: ts.store,
      clock,
      config: {
        channels: [{ name: "sec-slack", type: "slack", url: slack.url }],
        routes: [{ channels: ["sec-slack"] }],
        retry: { initialBackoff: "10s", maxBackoff: "1m" },
      },
    });
    alerts.start();
    slack.failNext(1, { status: 429, retryAfter: "30", body: "rate_limited" });
    await alerts.send(alert());
    await alerts.drain();
    let [row] = await alerts.list();
    expect(row).toMatchObject({
      status: "pending",
      attempts: 1,
      lastError: "status 429 rate_limited",
      nextAttemptAt: "2026-11-23T08:00:30.000Z",
    });
    clock.advance(29_000);
    await alerts.drain();
    expect(slack.requests).toHaveLength(1);

    slack.failNext(2, { status: 500, body: "rollup_error" });
    clock.advance(1000);
    await alerts.drain();
    [row] = await alerts.list();
    expect(row).toMatchObject({ status: "pending", attempts: 2, lastError: "status 500 rollup_error" });
    // Attempt 2 failed: the wait is between half and all of 2 × 10 s.
    const wait = Date.parse(row!.nextAttemptAt) - clock.now().getTime();
    expect(wait).toBeGreaterThanOrEqual(10_000);
    expect(wait).toBeLessThanOrEqual(20_000);
    clock.advance(wait);
    await alerts.drain();
    clock.advance(40_000);
    await alerts.drain();
    [row] = await alerts.list();
    expect(row).toMatchObject({ status: "delivered", attempts: 4, lastError: null });
    expect(slack.received).toHaveLength(1);
    expect(slack.requests.map((r) => r.status)).toEqual([429, 500, 500, 200]);
    expect(events.map((e) => [e.type, e.data.attempts])).toEqual([["alert.delivered", 4]]);
  });

  test("a permanent refusal fails at once: status failed, alert.failed (high); retry re-queues it", async () => {
    const ts = await pglite();
    const pd = await startPagerDutySink();
    cleanups.push(() => pd.close());
    const config = (routingKey: string) => ({
      channels: [{ name: "oncall", type: "pagerduty", url: pd.url, routingKey }],
      routes: [{ priorities: ["P0", "P1"], channels: ["oncall"] }],
    });
    const first = service({ store: ts.store, clock: systemClock, config: config("wrong-routing-key") });
    first.alerts.start();
    await first.alerts.send(alert());
    await first.alerts.drain();
    const [row] = await first.alerts.list({ status: "failed" });
    expect(row).toMatchObject({ channel: "oncall", attempts: 1, lastError: "status 400" });
    expect(first.events).toHaveLength(1);
    expect(first.events[0]).toMatchObject({
      type: "alert.failed",
      severity: "high",
      outcome: "failure",
      target: { kind: "alert", id: "detection:7f1c" },
      data: {
        channel: "oncall",
        type: "pagerduty",
        messageId: "detection:7f1c",
        attempts: 1,
        permanent: true,
      },
    });
    expect(JSON.stringify(first.events)).not.toContain("wrong-routing-key");
    await expect(first.alerts.retry(row!.id)).resolves.toMatchObject({ status: "pending", attempts: 0 });
    await expect(first.alerts.retry(row!.id)).rejects.toThrow(/only a failed one/);
    await expect(first.alerts.retry("no-such-row")).rejects.toThrow(/no alert/);
    await first.alerts.close();

    // Fixed in the config: the re-queued row goes through.
    const second = service({ store: ts.store, clock: systemClock, config: config(pd.routingKey) });
    second.alerts.start();
    await second.alerts.drain();
    expect(pd.received).toHaveLength(1);
    expect((await second.alerts.list())[0]).toMatchObject({ status: "delivered", attempts: 1 });
  });

  test("gives up after maxAttempts against a receiver that stays away; metrics count each outcome", async () => {
    const ts = await pglite();
    const clock = manualClock("2026-11-23T08:00:00Z");
    const hook = await startWebhookSink({ secret, now: () => clock.now() });
    cleanups.push(() => hook.close());
    await hook.down();
    const registry = new Registry();
    const { alerts, events } = service({
      store: ts.store,
      clock,
      registry,
      config: {
        channels: [{ name: "soc", type: "webhook", url: hook.url, secret }],
        routes: [{ channels: ["soc"] }],
        retry: { maxAttempts: 3, initialBackoff: "1s", maxBackoff: "1s" },
      },
    });
    alerts.start();
    await alerts.send(alert());
    await alerts.send(alert({ id: "detection:second" }));
    expect(await registry.getSingleMetricAsString("rampart_alert_outbox_pending")).toContain(
      "rampart_alert_outbox_pending 2",
    );
    for (let i = 0; i < 3; i++) {
      await alerts.drain();
      clock.advance(1000);
    }
    const failed = await alerts.list({ status: "failed" });
    expect(failed.map((r) => [r.attempts, r.lastError])).toEqual([
      [3, "ECONNREFUSED"],
      [3, "ECONNREFUSED"],
    ]);
    expect(events.map((e) => [e.type, e.severity, e.data.reason, e.data.attempts])).toEqual([
      ["alert.failed", "high", "ECONNREFUSED", 3],
      ["alert.failed", "high", "ECONNREFUSED", 3],
    ]);
    const sent = await registry.getSingleMetricAsString("rampart_alerts_sent_total");
    expect(sent).toContain('rampart_alerts_sent_total{channel="soc",type="webhook",result="retry"} 4');
    expect(sent).toContain('rampart_alerts_sent_total{channel="soc",type="webhook",result="failed"} 2');
    expect(await registry.getSingleMetricAsString("rampart_alert_outbox_pending")).toContain(
      "rampart_alert_outbox_pending 0",
    );
    expect(sent).not.toContain("127.0.0.1");
  });

  test("a row for a channel removed from the config fails with a reason", async () => {
    const ts = await pglite();
    let config = alertsConfigSchema.parse({
      channels: [{ name: "soc", type: "webhook", url: "http://127.0.0.1:9/h", secret }],
      routes: [{ channels: ["soc"] }],
    });
    const events: SecurityEvent[] = [];
    const alerts = createAlerts({
      store: ts.store,
      clock: systemClock,
      config: () => config,
      emit: (e) => events.push(e),
      logger: quiet,
    });
    cleanups.push(() => alerts.close());
    await alerts.send(alert());
    config = alertsConfigSchema.parse({});
    alerts.start();
    await alerts.drain();
    expect((await alerts.list())[0]).toMatchObject({ status: "failed", lastError: "channel not configured" });
    expect(events[0]?.type).toBe("alert.failed");
  });
});

describe("two servers over one PostgreSQL", () => {
  test("each message is delivered once though both deliverers claim at the same time", async () => {
    const ts = await openTestStore("postgres", alertMigrations);
    cleanups.push(() => ts.cleanup());
    const other = await ts.reopen();
    const hook = await startWebhookSink({ secret });
    cleanups.push(() => hook.close());
    hook.delayMs = 50;
    const config = {
      channels: [{ name: "soc", type: "webhook", url: hook.url, secret }],
      routes: [{ channels: ["soc"] }],
    };
    const a = service({ store: ts.store, clock: systemClock, config, pollMs: 20 });
    const b = service({ store: other, clock: systemClock, config, pollMs: 20 });
    for (let i = 0; i < 60; i++) await (i % 2 ? a : b).alerts.send(alert({ id: `m-${i}` }));
    a.alerts.start();
    b.alerts.start();
    await Promise.all([a.alerts.drain(15_000), b.alerts.drain(15_000)]);
    expect(hook.received).toHaveLength(60);
    expect(hook.ids()).toHaveLength(60);
    expect(a.events.length + b.events.length).toBe(60);
    // Both took part: the claim shares the work rather than serialising it on one server.
    expect(a.events.length).toBeGreaterThan(0);
    expect(b.events.length).toBeGreaterThan(0);
  });
});
