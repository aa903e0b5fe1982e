// Alert delivery survives a restart: messages queued while every receiver is down are delivered,
// each exactly once, by a new alerts service over the reopened store once the receivers are back.
// And no webhook URL, routing key or SMTP password shows up in an event, a log line or last_error.
import { Writable } from "node:stream";
import { afterEach, describe, expect, test, vi } from "vitest";
import { systemClock } from "../src/platform/clock.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import type { Store } from "../src/platform/store/index.ts";
import {
  alertMigrations,
  alertsConfigSchema,
  createAlerts,
  type OutboxEntry,
} from "../src/monitoring/alerts/index.ts";
import {
  sampleAlert,
  startPagerDutySink,
  startSlackSink,
  startSmtpSink,
  startWebhookSink,
} from "./support/sinks.ts";
import { backends, openTestStore } from "./support/stores.ts";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const webhookSecret = "soc-hook-key-0123456789abcdef0123456789";
const smtpPassword = "smtp-password-never-logged-42";

const eventually = (check: () => void | Promise<void>) =>
  vi.waitFor(check, { timeout: 15_000, interval: 20 });

/** Slack, webhook, PagerDuty and SMTP receivers, closed after the test. */
async function startReceivers() {
  const slack = await startSlackSink();
  const hook = await startWebhookSink({ secret: webhookSecret });
  const pd = await startPagerDutySink();
  const smtp = await startSmtpSink({ user: "rampart", password: smtpPassword });
  cleanups.push(
    () => slack.close(),
    () => hook.close(),
    () => pd.close(),
    () => smtp.close(),
  );
  return { slack, hook, pd, smtp };
}

/** The email channel "mail" through the local SMTP receiver, signing in with `password`. */
const mailChannel = (port: number, password: string) => ({
  name: "mail",
  type: "email",
  to: ["secops@example.com"],
  from: "rampart@example.com",
  smtp: { host: "127.0.0.1", port, requireTLS: false, user: "rampart", password },
});

/** A debug logger whose lines are kept, to look for secrets in. */
function capturingLogger() {
  const lines: string[] = [];
  const logger = createLogger({
    level: "debug",
    destination: new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString("utf8"));
        cb();
      },
    }),
  });
  return { lines, logger };
}

/** Everything the service said: its events, its log lines and the errors it stored. */
const everythingSaid = (events: SecurityEvent[], lines: string[], rows: OutboxEntry[]) =>
  [JSON.stringify(events), lines.join("\n"), JSON.stringify(rows.map((r) => r.lastError))].join("\n");

describe.each(backends)("alert delivery on %s", (backend) => {
  test("messages queued while receivers are down arrive exactly once after a restart", async () => {
    const ts = await openTestStore(backend, alertMigrations);
    cleanups.push(() => ts.cleanup());
    const { slack, hook, pd, smtp } = await startReceivers();
    await Promise.all([slack.down(), hook.down(), pd.down(), smtp.down()]);

    const config = alertsConfigSchema.parse({
      channels: [
        { name: "sec-slack", type: "slack", url: slack.url },
        { name: "soc", type: "webhook", url: hook.url, secret: webhookSecret },
        { name: "oncall", type: "pagerduty", url: pd.url, routingKey: pd.routingKey },
        mailChannel(smtp.port, smtpPassword),
      ],
      routes: [
        { priorities: ["P0", "P1"], channels: ["oncall", "sec-slack", "soc", "mail"] },
        { priorities: ["P2", "P3"], channels: ["sec-slack", "soc"] },
      ],
      retry: { maxAttempts: 100, initialBackoff: "50ms", maxBackoff: "200ms" },
    });
    const { lines, logger } = capturingLogger();
    const events: SecurityEvent[] = [];
    const open = (store: Store) => {
      const alerts = createAlerts({
        store,
        clock: systemClock,
        config: () => config,
        emit: (e) => events.push(e),
        logger,
        pollMs: 50,
      });
      cleanups.push(() => alerts.close());
      return alerts;
    };

    // First life: everything queued, every receiver refuses the connection.
    const first = open(ts.store);
    first.start();
    const messages = [
      sampleAlert({ id: "m-1", priority: "P0" }),
      sampleAlert({ id: "m-2", priority: "P1", kind: "incident_opened", key: "incident:INC-1" }),
      sampleAlert({ id: "m-3", priority: "P2" }),
      sampleAlert({ id: "m-4", priority: "P1", kind: "incident_resolved", key: "incident:INC-1" }),
    ];
    let queued = 0;
    for (const m of messages) queued += (await first.send(m)).queued;
    expect(queued).toBe(4 + 4 + 2 + 4);
    await eventually(async () => {
      const rows = await first.list();
      expect(rows).toHaveLength(queued);
      for (const r of rows) expect(r.attempts).toBeGreaterThanOrEqual(2);
    });
    await first.close();
    await ts.store.close();
    expect(events).toEqual([]);

    // Second life: a new service over the reopened store, receivers back on the same ports.
    const store = await ts.reopen();
    await Promise.all([slack.up(), hook.up(), pd.up(), smtp.up()]);
    const second = open(store);
    second.start();
    let rows: OutboxEntry[] = [];
    await eventually(async () => {
      rows = await second.list();
      expect(rows.filter((r) => r.status === "delivered")).toHaveLength(queued);
    });
    // Give a duplicate the time to show up, were there one.
    await new Promise((r) => setTimeout(r, 300));

    expect(slack.received.map((p) => p.text.slice(0, 4)).sort()).toEqual(["[P0]", "[P1]", "[P1]", "[P2]"]);
    expect(hook.received.map((b) => b.id).sort()).toEqual(["m-1", "m-2", "m-3", "m-4"]);
    expect(pd.received.map((e) => [e.event_action, e.dedup_key])).toEqual(
      expect.arrayContaining([
        ["trigger", "credential-new-ip:0123456789abcdef"],
        ["trigger", "incident:INC-1"],
        ["resolve", "incident:INC-1"],
      ]),
    );
    expect(pd.received).toHaveLength(3);
    expect(smtp.received.map((m) => m.parsed.messageId).sort()).toEqual(
      ["<alert.m-1@example.com>", "<alert.m-2@example.com>", "<alert.m-4@example.com>"].sort(),
    );
    expect(events.filter((e) => e.type === "alert.delivered")).toHaveLength(queued);
    expect(events.filter((e) => e.type !== "alert.delivered")).toEqual([]);
    expect(rows.every((r) => r.lastError === null && r.attempts >= 2)).toBe(true);

    // Secrets: none of them in events, log lines or stored errors (the refusals were logged).
    expect(lines.some((l) => l.includes("will retry") && l.includes("ECONNREFUSED"))).toBe(true);
    const said = everythingSaid(events, lines, rows);
    for (const secret of [
      slack.url,
      new URL(slack.url).pathname,
      hook.url,
      pd.url,
      pd.routingKey,
      webhookSecret,
      smtpPassword,
    ])
      expect(said).not.toContain(secret);
  });
});

describe("failures say nothing secret", () => {
  test("permanent refusals and give-ups: alert.failed, logs and last_error hold no URL, key or password", async () => {
    const ts = await openTestStore("pglite", alertMigrations);
    cleanups.push(() => ts.cleanup());
    const { slack, pd, smtp, hook: gone } = await startReceivers();
    await gone.down();
    const wrongSlack = `${slack.url}-revoked`;
    const config = alertsConfigSchema.parse({
      channels: [
        { name: "sec-slack", type: "slack", url: wrongSlack },
        { name: "oncall", type: "pagerduty", url: pd.url, routingKey: "routing-key-not-known-to-pd" },
        mailChannel(smtp.port, `${smtpPassword}-wrong`),
        { name: "soc", type: "webhook", url: `${gone.url}?token=url-token-secret`, secret: webhookSecret },
      ],
      routes: [{ channels: ["sec-slack", "oncall", "mail", "soc"] }],
      retry: { maxAttempts: 2, initialBackoff: "10ms", maxBackoff: "10ms" },
    });
    const { lines, logger } = capturingLogger();
    const events: SecurityEvent[] = [];
    const alerts = createAlerts({
      store: ts.store,
      clock: systemClock,
      config: () => config,
      emit: (e) => events.push(e),
      logger,
      pollMs: 20,
    });
    cleanups.push(() => alerts.close());
    alerts.start();
    await alerts.send(sampleAlert());
    await eventually(async () => expect(await alerts.list({ status: "failed" })).toHaveLength(4));
    const rows = await alerts.list();
    expect(Object.fromEntries(rows.map((r) => [r.channel, r.lastError]))).toEqual({
      "sec-slack": "status 404 no_service",
      oncall: "status 400",
      mail: "smtp 535",
      soc: "ECONNREFUSED",
    });
    expect(events.map((e) => [e.type, e.severity, e.data.channel]).sort()).toEqual([
      ["alert.failed", "high", "mail"],
      ["alert.failed", "high", "oncall"],
      ["alert.failed", "high", "sec-slack"],
      ["alert.failed", "high", "soc"],
    ]);
    const said = everythingSaid(events, lines, rows);
    for (const secret of [
      wrongSlack,
      new URL(slack.url).pathname,
      "routing-key-not-known-to-pd",
      smtpPassword,
      "url-token-secret",
      webhookSecret,
    ])
      expect(said).not.toContain(secret);
  });
});
