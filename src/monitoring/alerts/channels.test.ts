// Each channel against a local receiver that follows the real service's documented contract:
// what arrives, and how each kind of refusal is classified (retry, with Retry-After, or permanent).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { issueCertificate } from "../../../test/support/certificates.ts";
import {
  type PagerDutySink,
  sampleAlert as alert,
  startPagerDutySink,
  startSlackSink,
  startSmtpSink,
  startWebhookSink,
} from "../../../test/support/sinks.ts";
import { manualClock, systemClock } from "../../platform/clock.ts";
import { createChannel, DeliveryError, signAlertBody, verifyAlertSignature } from "./index.ts";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const signal = () => AbortSignal.timeout(5000);

async function failure(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error("delivery did not fail");
}

describe("slack", () => {
  test("posts text and blocks with mrkdwn control characters escaped; 200 ok is success", async () => {
    const sink = await startSlackSink();
    cleanups.push(() => sink.close());
    const ch = createChannel({ name: "sec-slack", type: "slack", url: sink.url }, systemClock);
    await ch.deliver(alert(), signal());
    expect(sink.received).toHaveLength(1);
    const p = sink.received[0]!;
    expect(p.text).toContain("[P1] Leaked API key used from a new IP &lt;script&gt;");
    expect(JSON.stringify(p.blocks)).not.toContain("<!channel>");
    expect(JSON.stringify(p.blocks)).toContain("&lt;!channel&gt;");
    expect(JSON.stringify(p.blocks)).toContain("203.0.113.7");
  });

  test("links the incident; a wrong URL is 404 no_service, permanent, and the reason holds no URL", async () => {
    const sink = await startSlackSink();
    cleanups.push(() => sink.close());
    const ok = createChannel({ name: "s", type: "slack", url: sink.url }, systemClock);
    await ok.deliver(
      alert({ incident: { id: "INC-7", state: "detected", url: "https://rampart.example/i/7" } }),
      signal(),
    );
    expect(JSON.stringify(sink.received[0]!.blocks)).toContain(
      "<https://rampart.example/i/7|incident INC-7 (detected)>",
    );

    const wrong = createChannel({ name: "s", type: "slack", url: `${sink.url}x` }, systemClock);
    const e = await failure(wrong.deliver(alert(), signal()));
    expect(e.permanent).toBe(true);
    expect(e.reason).toBe("status 404 no_service");
    expect(e.message).not.toContain("127.0.0.1");
  });

  test("429 with Retry-After is retried after that long; 500 is retried", async () => {
    const sink = await startSlackSink();
    cleanups.push(() => sink.close());
    const ch = createChannel({ name: "s", type: "slack", url: sink.url }, systemClock);
    sink.failNext(1, { status: 429, retryAfter: "30", body: "rate_limited" });
    const e = await failure(ch.deliver(alert(), signal()));
    expect(e).toMatchObject({ permanent: false, retryAfterMs: 30_000, reason: "status 429 rate_limited" });
    sink.failNext(1, { status: 500, body: "rollup_error" });
    expect(await failure(ch.deliver(alert(), signal()))).toMatchObject({
      permanent: false,
      reason: "status 500 rollup_error",
    });
    await ch.deliver(alert(), signal());
    expect(sink.received).toHaveLength(1);
  });

  test("a receiver that is down is a retryable connection failure", async () => {
    const sink = await startSlackSink();
    cleanups.push(() => sink.close());
    await sink.down();
    const ch = createChannel({ name: "s", type: "slack", url: sink.url }, systemClock);
    expect(await failure(ch.deliver(alert(), signal()))).toMatchObject({
      permanent: false,
      reason: "ECONNREFUSED",
    });
  });
});

describe("webhook", () => {
  const secret = "soc-hook-key-0123456789abcdef0123456789";

  test("posts {id, source, kind, ...message} with both signatures, which the receiver verifies", async () => {
    const sink = await startWebhookSink({ secret });
    cleanups.push(() => sink.close());
    const ch = createChannel({ name: "soc", type: "webhook", url: sink.url, secret }, systemClock);
    await ch.deliver(alert(), signal());
    expect(sink.received).toEqual([{ source: "rampart", ...alert() }]);
    const req = sink.requests[0]!;
    expect(Object.keys(JSON.parse(req.body) as object).slice(0, 3)).toEqual(["id", "source", "kind"]);
    expect(req.headers["x-rampart-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(req.headers["x-rampart-signature-v1"]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(req.headers["x-rampart-timestamp"]).toMatch(/^\d+$/);
  });

  test("a wrong key is refused by the receiver (401, permanent)", async () => {
    const sink = await startWebhookSink({ secret });
    cleanups.push(() => sink.close());
    const ch = createChannel(
      { name: "soc", type: "webhook", url: sink.url, secret: `${secret}-other` },
      systemClock,
    );
    expect(await failure(ch.deliver(alert(), signal()))).toMatchObject({
      permanent: true,
      reason: "status 401",
    });
    expect(sink.received).toEqual([]);
  });

  test("a signature outside the tolerance is refused: a replay fails", async () => {
    const clock = manualClock("2026-11-23T08:00:00Z");
    const sink = await startWebhookSink({ secret, now: () => new Date("2026-11-23T08:10:00Z") });
    cleanups.push(() => sink.close());
    const ch = createChannel({ name: "soc", type: "webhook", url: sink.url, secret }, clock);
    expect((await failure(ch.deliver(alert(), signal()))).reason).toBe("status 401");
    clock.set("2026-11-23T08:09:00Z");
    await ch.deliver(alert(), signal());
    expect(sink.received).toHaveLength(1);
  });

  test("verifyAlertSignature: tolerance, tampering, several v1 values, malformed headers", () => {
    const body = '{"id":"a"}';
    const t = 1_800_000_000;
    const now = new Date(t * 1000);
    const header = signAlertBody(body, secret, t);
    expect(verifyAlertSignature(body, header, secret, { now })).toBe(true);
    expect(verifyAlertSignature(`${body} `, header, secret, { now })).toBe(false);
    expect(verifyAlertSignature(body, header, `${secret}x`, { now })).toBe(false);
    expect(verifyAlertSignature(body, header, secret, { now: new Date((t + 301) * 1000) })).toBe(false);
    expect(
      verifyAlertSignature(body, header, secret, { now: new Date((t + 301) * 1000), toleranceSeconds: 600 }),
    ).toBe(true);
    const rotated = `${header.split(",")[0]},v1=${"0".repeat(64)},${header.split(",")[1]}`;
    expect(verifyAlertSignature(body, rotated, secret, { now })).toBe(true);
    for (const bad of [undefined, "", "t=abc,v1=00", `v1=${header.split("v1=")[1]}`, `t=${t}`, "garbage"])
      expect(verifyAlertSignature(body, bad, secret, { now })).toBe(false);
  });

  test("408 and 503 with an HTTP-date Retry-After are retried; a redirect is not followed", async () => {
    const clock = manualClock("2026-11-23T08:00:00Z");
    const sink = await startWebhookSink({ secret, now: () => clock.now() });
    cleanups.push(() => sink.close());
    const ch = createChannel({ name: "soc", type: "webhook", url: sink.url, secret }, clock);
    sink.failNext(1, { status: 408 });
    expect(await failure(ch.deliver(alert(), signal()))).toMatchObject({
      permanent: false,
      reason: "status 408",
    });
    sink.failNext(1, { status: 503, retryAfter: "Mon, 23 Nov 2026 08:02:00 GMT" });
    expect(await failure(ch.deliver(alert(), signal()))).toMatchObject({
      permanent: false,
      retryAfterMs: 120_000,
    });
    sink.failNext(1, { status: 302 });
    expect(await failure(ch.deliver(alert(), signal()))).toMatchObject({
      permanent: true,
      reason: "status 302",
    });
  });
});

describe("pagerduty", () => {
  let sink: PagerDutySink;
  const pd = () =>
    createChannel(
      { name: "oncall", type: "pagerduty", url: sink.url, routingKey: sink.routingKey },
      systemClock,
    );

  test("trigger with the documented fields; severity follows the priority", async () => {
    sink = await startPagerDutySink();
    cleanups.push(() => sink.close());
    for (const priority of ["P0", "P1", "P2", "P3"] as const)
      await pd().deliver(alert({ priority }), signal());
    expect(sink.received.map((e) => e.payload?.severity)).toEqual(["critical", "error", "warning", "info"]);
    expect(sink.received[0]).toMatchObject({
      routing_key: sink.routingKey,
      event_action: "trigger",
      dedup_key: "credential-new-ip:0123456789abcdef",
      payload: {
        source: "rampart",
        timestamp: "2026-11-23T08:00:00.000Z",
        component: "credential-new-ip",
        custom_details: { ip: "203.0.113.7", count: 3, message_id: "detection:7f1c" },
      },
    });
  });

  test("a resolved incident resolves by dedup key; a long summary is cut to 1024 characters", async () => {
    sink = await startPagerDutySink();
    cleanups.push(() => sink.close());
    const incident = { id: "INC-9", state: "closed", url: "https://rampart.example/i/9" };
    await pd().deliver(
      alert({ kind: "incident_opened", key: "incident:INC-9", summary: "x".repeat(5000), incident }),
      signal(),
    );
    await pd().deliver(alert({ kind: "incident_resolved", key: "incident:INC-9", incident }), signal());
    expect(sink.received[0]!.payload!.summary).toHaveLength(1024);
    expect(sink.received[0]!.links).toEqual([{ href: incident.url, text: "Incident INC-9" }]);
    expect(sink.received[1]).toEqual({
      routing_key: sink.routingKey,
      event_action: "resolve",
      dedup_key: "incident:INC-9",
    });
  });

  test("400 invalid event is permanent; 429 and 500 are retried", async () => {
    sink = await startPagerDutySink();
    cleanups.push(() => sink.close());
    const wrongKey = createChannel(
      { name: "oncall", type: "pagerduty", url: sink.url, routingKey: "not-the-key" },
      systemClock,
    );
    const e = await failure(wrongKey.deliver(alert(), signal()));
    expect(e).toMatchObject({ permanent: true, reason: "status 400" });
    expect(e.message).not.toContain("not-the-key");
    sink.failNext(1, { status: 429 });
    expect(await failure(pd().deliver(alert(), signal()))).toMatchObject({
      permanent: false,
      reason: "status 429",
    });
    sink.failNext(1, { status: 500 });
    expect(await failure(pd().deliver(alert(), signal()))).toMatchObject({
      permanent: false,
      reason: "status 500",
    });
  });
});

describe("email", () => {
  const smtpConfig = (port: number, auth: { user?: string; password?: string } = {}) => ({
    name: "mail",
    type: "email" as const,
    to: ["secops@example.com", "ciso@example.com"],
    from: "rampart@example.com",
    smtp: {
      host: "127.0.0.1",
      port,
      secure: false,
      requireTLS: false,
      ...auth,
      tls: { rejectUnauthorized: true },
    },
  });

  /** A local SMTP receiver and an email channel that signs in to it, both closed after the test. */
  async function smtpPair() {
    const sink = await startSmtpSink({ user: "rampart", password: "smtp-password-0123" });
    cleanups.push(() => sink.close());
    const ch = createChannel(
      smtpConfig(sink.port, { user: "rampart", password: "smtp-password-0123" }),
      systemClock,
    );
    cleanups.push(async () => ch.close?.());
    return { sink, ch };
  }

  test("a mail with the priority in the subject, text and escaped HTML, and a Message-ID from the alert id", async () => {
    const { sink, ch } = await smtpPair();
    await ch.deliver(alert(), signal());
    expect(sink.received).toHaveLength(1);
    const m = sink.received[0]!;
    expect(m.to).toEqual(["secops@example.com", "ciso@example.com"]);
    expect(m.from).toBe("rampart@example.com");
    expect(m.parsed.subject).toBe("[Rampart P1] Leaked API key used from a new IP <script>");
    expect(m.parsed.messageId).toBe("<alert.detection-7f1c@example.com>");
    expect(m.parsed.text).toContain("Key k3j… used from 203.0.113.7");
    expect(m.parsed.html).toContain("IP &lt;script&gt;");
    expect(m.parsed.html).not.toContain("<script>");
    expect(m.parsed.headers.get("x-rampart-alert-id")).toBe("detection:7f1c");
  });

  test("4xx is retried, 5xx permanent, a wrong password (535) permanent, a server away retried", async () => {
    const { sink, ch } = await smtpPair();
    sink.failNext(1, 451);
    expect(await failure(ch.deliver(alert(), signal()))).toMatchObject({
      permanent: false,
      reason: "smtp 451",
    });
    sink.failNext(1, 550);
    expect(await failure(ch.deliver(alert(), signal()))).toMatchObject({
      permanent: true,
      reason: "smtp 550",
    });
    const wrong = createChannel(
      smtpConfig(sink.port, { user: "rampart", password: "wrong-password-99" }),
      systemClock,
    );
    cleanups.push(async () => wrong.close?.());
    const e = await failure(wrong.deliver(alert(), signal()));
    expect(e).toMatchObject({ permanent: true, reason: "smtp 535" });
    expect(e.message).not.toContain("wrong-password-99");
    await sink.down();
    expect((await failure(ch.deliver(alert(), signal()))).permanent).toBe(false);
    await sink.up();
    await ch.deliver(alert(), signal());
    expect(sink.received).toHaveLength(1);
  });

  test("STARTTLS with the configured CA; a certificate the CA did not sign is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rampart-smtp-tls-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const ca = issueCertificate(dir, "ca", { cn: "Test SMTP CA" });
    const leaf = issueCertificate(dir, "smtp", { cn: "127.0.0.1", san: ["IP:127.0.0.1"], ca, leaf: true });
    const other = issueCertificate(dir, "other-ca", { cn: "Another CA" });
    const sink = await startSmtpSink({
      user: "rampart",
      password: "smtp-password-0123",
      tls: { key: readFileSync(leaf.keyFile, "utf8"), cert: readFileSync(leaf.certFile, "utf8") },
    });
    cleanups.push(() => sink.close());
    const c = smtpConfig(sink.port, { user: "rampart", password: "smtp-password-0123" });
    const trusted = createChannel(
      { ...c, smtp: { ...c.smtp, requireTLS: true, tls: { caFile: ca.certFile, rejectUnauthorized: true } } },
      systemClock,
    );
    const untrusted = createChannel(
      {
        ...c,
        smtp: { ...c.smtp, requireTLS: true, tls: { caFile: other.certFile, rejectUnauthorized: true } },
      },
      systemClock,
    );
    cleanups.push(
      async () => trusted.close?.(),
      async () => untrusted.close?.(),
    );
    await trusted.deliver(alert(), signal());
    expect(sink.received).toHaveLength(1);
    const e = await failure(untrusted.deliver(alert(), signal()));
    expect(e.permanent).toBe(false);
    expect(e.message).not.toContain("smtp-password-0123");
    expect(sink.received).toHaveLength(1);
  });

  test("requireTLS refuses to send to a server that offers no STARTTLS", async () => {
    const sink = await startSmtpSink();
    cleanups.push(() => sink.close());
    const c = smtpConfig(sink.port);
    const ch = createChannel({ ...c, smtp: { ...c.smtp, requireTLS: true } }, systemClock);
    cleanups.push(async () => ch.close?.());
    expect((await failure(ch.deliver(alert(), signal()))).reason).not.toBe("");
    expect(sink.received).toEqual([]);
  });
});
