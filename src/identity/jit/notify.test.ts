// Notifications against a real local HTTP receiver: the signature verifies over the raw body and
// fails when tampered with; retries ride out a failing receiver; a hanging one never blocks.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import {
  createWebhookNotifier,
  type JitNotice,
  notifierFromConfig,
  SIGNATURE_HEADER,
  slackMessage,
  verifyWebhookSignature,
} from "./notify.ts";
import { jitConfigSchema } from "./policy.ts";

const SECRET = "k".repeat(40);

const notice: JitNotice = {
  type: "break_glass",
  severity: "critical",
  text: "BREAK-GLASS: okta:olga took db-admin on environment prod: <primary> & replica down",
  ref: "g-1",
  at: new Date("2026-11-23T10:00:00Z"),
  details: { role: "db-admin" },
};

interface Received {
  body: string;
  headers: IncomingMessage["headers"];
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A receiver that answers each request with the next status from `statuses` (then 200). */
async function receiver(
  statuses: number[] = [],
  hang = false,
): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: req.headers });
      if (hang) return;
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

describe("webhook notifier", () => {
  test("the receiver can verify the signature over the body, and a tampered body fails", async () => {
    const { url, received } = await receiver();
    const notifier = createWebhookNotifier({ url, secret: SECRET });
    notifier.notify(notice);
    await notifier.flush();
    expect(received).toHaveLength(1);
    const [{ body, headers }] = received as [Received];
    expect(headers["content-type"]).toBe("application/json");
    const signature = headers[SIGNATURE_HEADER] as string;
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(body, signature, SECRET)).toBe(true);
    expect(verifyWebhookSignature(body.replace("db-admin", "db-owner"), signature, SECRET)).toBe(false);
    expect(verifyWebhookSignature(body, signature, "x".repeat(40))).toBe(false);
    expect(verifyWebhookSignature(body, undefined, SECRET)).toBe(false);
    expect(verifyWebhookSignature(body, "sha256=00", SECRET)).toBe(false);
    expect(JSON.parse(body)).toMatchObject({
      event: "jit.break_glass",
      severity: "critical",
      ref: "g-1",
      at: "2026-11-23T10:00:00.000Z",
      details: { role: "db-admin" },
    });
    expect(body).not.toContain(SECRET);
  });

  test("retries with backoff through 5xx and 429, but not after a 4xx", async () => {
    const flaky = await receiver([503, 429]);
    const n = createWebhookNotifier({ url: flaky.url, secret: SECRET, backoffMs: 10 });
    n.notify(notice);
    await n.flush();
    expect(flaky.received).toHaveLength(3);
    // Every attempt carries the same body, so the receiver can deduplicate by its id.
    expect(new Set(flaky.received.map((r) => r.body)).size).toBe(1);

    const refusing = await receiver([400]);
    const m = createWebhookNotifier({ url: refusing.url, secret: SECRET, backoffMs: 10 });
    m.notify(notice);
    await m.flush();
    expect(refusing.received).toHaveLength(1);
  });

  test("a receiver that hangs never blocks the caller, and gives up after the timeout", async () => {
    const { url, received } = await receiver([], true);
    const n = createWebhookNotifier({ url, secret: SECRET, timeoutMs: 100, retries: 1, backoffMs: 10 });
    const started = performance.now();
    n.notify(notice);
    expect(performance.now() - started).toBeLessThan(50);
    await n.flush();
    expect(received).toHaveLength(2);
  });
});

describe("Slack", () => {
  test("the incoming-webhook payload has text and blocks, with Slack's control characters escaped", async () => {
    const msg = slackMessage(notice);
    expect(msg.text).toBe(
      "BREAK-GLASS: okta:olga took db-admin on environment prod: &lt;primary&gt; &amp; replica down",
    );
    expect(msg.blocks[0]).toEqual({
      type: "section",
      text: { type: "mrkdwn", text: `:rotating_light: ${msg.text}` },
    });
    expect(msg.blocks[1]).toMatchObject({ type: "context" });

    const slack = await receiver();
    const hook = await receiver();
    const config = jitConfigSchema.parse({
      notify: { slack: [{ url: slack.url }], webhooks: [{ url: hook.url, secret: SECRET }] },
    }).notify;
    const all = notifierFromConfig(config);
    all.notify(notice);
    await all.flush();
    expect(JSON.parse(slack.received[0]?.body as string)).toEqual(msg);
    expect(slack.received[0]?.headers[SIGNATURE_HEADER]).toBeUndefined();
    expect(
      verifyWebhookSignature(
        hook.received[0]?.body as string,
        hook.received[0]?.headers[SIGNATURE_HEADER] as string,
        SECRET,
      ),
    ).toBe(true);
  });
});
