// Local receivers that answer as the real services document: Slack incoming webhooks, a signed
// generic webhook, PagerDuty Events API v2 and an SMTP server. Each records what it accepted, can be
// told to answer 429 (with Retry-After) or 500 for the next requests, and can go down and come back
// on the same port.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerAddress } from "smtp-server";
import { verifyWebhookSignature } from "../../src/identity/jit/notify.ts";
import { type AlertMessage, verifyAlertSignature } from "../../src/monitoring/alerts/index.ts";

/** A refusal the sink gives instead of its normal answer. */
export interface SinkAnswer {
  status: number;
  /** Retry-After header value (seconds or an HTTP date). */
  retryAfter?: string;
  body?: string;
}

export interface SinkRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status the sink answered. */
  status: number;
}

interface Switchable {
  /** Every request that reached the sink, refused ones included. */
  requests: SinkRequest[];
  /** Answers the next `n` requests with `answer` instead of accepting them. */
  failNext(n: number, answer: SinkAnswer): void;
  /** Waits this long before answering (a slow receiver). */
  delayMs: number;
  /** Stops listening and drops open connections: senders see ECONNREFUSED. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
  port: number;
}

type Handler = (req: {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}) => SinkAnswer & { contentType?: string };

async function startHttpSink(handle: Handler): Promise<Switchable & { base: string }> {
  const refusals: SinkAnswer[] = [];
  const requests: SinkRequest[] = [];
  let server: Server;
  let port = 0;
  const listen = async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        if (sink.delayMs > 0) await new Promise((r) => setTimeout(r, sink.delayMs));
        const body = Buffer.concat(chunks).toString("utf8");
        const seen = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body };
        const refusal = refusals.shift();
        const answer = refusal ?? handle(seen);
        requests.push({ ...seen, status: answer.status });
        const headers: Record<string, string> = {
          "content-type": (answer as { contentType?: string }).contentType ?? "text/plain",
        };
        if (answer.retryAfter !== undefined) headers["retry-after"] = answer.retryAfter;
        res.writeHead(answer.status, headers).end(answer.body ?? "");
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    port = (server.address() as AddressInfo).port;
  };
  let isUp = false;
  const down = async () => {
    if (!isUp) return;
    isUp = false;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  const sink = {
    delayMs: 0,
    requests,
    get port() {
      return port;
    },
    get base() {
      return `http://127.0.0.1:${port}`;
    },
    failNext(n: number, answer: SinkAnswer) {
      for (let i = 0; i < n; i++) refusals.push(answer);
    },
    down,
    async up() {
      if (isUp) return;
      await listen();
      isUp = true;
    },
    close: down,
  };
  await sink.up();
  return sink;
}

export interface SlackSink extends Switchable {
  /** The incoming-webhook URL (a secret, as Slack's are). */
  url: string;
  /** Payloads Slack would have posted. */
  received: Array<{ text: string; blocks?: unknown[] }>;
}

/**
 * Slack's incoming webhook: POST JSON to /services/T…/B…/<secret>; 200 "ok"; 400 invalid_payload
 * for a body that is not JSON, 400 no_text without text or blocks, 404 no_service for another path.
 */
export async function startSlackSink(): Promise<SlackSink> {
  const path = `/services/T0RAMPART/B0ALERTS/${randomBytes(12).toString("hex")}`;
  const received: SlackSink["received"] = [];
  const sink = await startHttpSink((req) => {
    if (req.method !== "POST" || req.path !== path) return { status: 404, body: "no_service" };
    let payload: unknown;
    try {
      payload = JSON.parse(req.body);
    } catch {
      return { status: 400, body: "invalid_payload" };
    }
    const p = payload as { text?: unknown; blocks?: unknown };
    if (typeof p !== "object" || p === null) return { status: 400, body: "invalid_payload" };
    if (typeof p.text !== "string" && !Array.isArray(p.blocks)) return { status: 400, body: "no_text" };
    received.push(p as SlackSink["received"][number]);
    return { status: 200, body: "ok", contentType: "text/html" };
  });
  return Object.assign(sink, {
    received,
    get url() {
      return `${sink.base}${path}`;
    },
  }) as SlackSink;
}

export interface WebhookSink extends Switchable {
  url: string;
  /** Accepted bodies (parsed), in arrival order; retries of one message appear once per arrival. */
  received: Array<Record<string, unknown>>;
  /** Ids of accepted messages, each once. */
  ids(): string[];
}

/**
 * A receiver of Rampart's signed webhooks: both signatures must verify (401 otherwise), the v1
 * one within 5 minutes; 200 for an accepted message.
 */
export async function startWebhookSink(o: { secret: string; now?: () => Date }): Promise<WebhookSink> {
  const received: WebhookSink["received"] = [];
  const sink = await startHttpSink((req) => {
    if (req.method !== "POST" || req.path !== "/hooks/rampart") return { status: 404, body: "not found" };
    const v0 = verifyWebhookSignature(req.body, req.headers["x-rampart-signature"] as string, o.secret);
    const v1 = verifyAlertSignature(req.body, req.headers["x-rampart-signature-v1"] as string, o.secret, {
      now: o.now?.() ?? new Date(),
    });
    if (!v0 || !v1) return { status: 401, body: "bad signature" };
    try {
      received.push(JSON.parse(req.body) as Record<string, unknown>);
    } catch {
      return { status: 400, body: "not json" };
    }
    return { status: 200, body: "{}", contentType: "application/json" };
  });
  return Object.assign(sink, {
    received,
    ids: () => [...new Set(received.map((r) => String(r.id)))],
    get url() {
      return `${sink.base}/hooks/rampart`;
    },
  }) as WebhookSink;
}

export interface PagerDutyEvent {
  routing_key: string;
  event_action: "trigger" | "acknowledge" | "resolve";
  dedup_key?: string;
  payload?: {
    summary: string;
    source: string;
    severity: string;
    timestamp?: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
  links?: Array<{ href: string; text?: string }>;
  [k: string]: unknown;
}

export interface PagerDutySink extends Switchable {
  /** The Events API v2 endpoint: `<base>/v2/enqueue`. */
  url: string;
  /** The routing key the sink accepts (others get 400, as an unknown integration key does). */
  routingKey: string;
  received: PagerDutyEvent[];
}

const PD_SEVERITIES = ["critical", "error", "warning", "info"];

/**
 * PagerDuty Events API v2: POST /v2/enqueue; 202 {status: "success", message, dedup_key}; 400
 * {status: "invalid event", errors} for an event that breaks the documented rules.
 */
export async function startPagerDutySink(): Promise<PagerDutySink> {
  const routingKey = randomBytes(16).toString("hex");
  const received: PagerDutyEvent[] = [];
  const invalid = (...errors: string[]) => ({
    status: 400,
    contentType: "application/json",
    body: JSON.stringify({ status: "invalid event", message: "Event object is invalid", errors }),
  });
  const sink = await startHttpSink((req) => {
    if (req.method !== "POST" || req.path !== "/v2/enqueue") return { status: 404, body: "not found" };
    let e: PagerDutyEvent;
    try {
      e = JSON.parse(req.body) as PagerDutyEvent;
    } catch {
      return invalid("Event object is not valid JSON");
    }
    if (e.routing_key !== routingKey) return invalid("'routing_key' is invalid");
    if (!["trigger", "acknowledge", "resolve"].includes(e.event_action))
      return invalid("'event_action' is invalid");
    if (e.dedup_key !== undefined && (typeof e.dedup_key !== "string" || e.dedup_key.length > 255))
      return invalid("'dedup_key' is invalid");
    if (e.event_action !== "trigger" && !e.dedup_key) return invalid("'dedup_key' is missing");
    if (e.event_action === "trigger") {
      const p = e.payload;
      if (!p) return invalid("'payload' is missing");
      if (typeof p.summary !== "string" || p.summary.length === 0 || p.summary.length > 1024)
        return invalid("'payload.summary' is invalid");
      if (typeof p.source !== "string" || p.source.length === 0)
        return invalid("'payload.source' is missing");
      if (!PD_SEVERITIES.includes(p.severity)) return invalid("'payload.severity' is invalid");
      if (p.timestamp !== undefined && Number.isNaN(Date.parse(p.timestamp)))
        return invalid("'payload.timestamp' is invalid");
    }
    received.push(e);
    const dedupKey = e.dedup_key ?? randomBytes(16).toString("hex");
    return {
      status: 202,
      contentType: "application/json",
      body: JSON.stringify({ status: "success", message: "Event processed", dedup_key: dedupKey }),
    };
  });
  return Object.assign(sink, {
    routingKey,
    received,
    get url() {
      return `${sink.base}/v2/enqueue`;
    },
  }) as PagerDutySink;
}

export interface SmtpSinkMail {
  from: string;
  to: string[];
  parsed: ParsedMail;
  raw: string;
}

export interface SmtpSink {
  port: number;
  /** Mails accepted (parsed with mailparser). */
  received: SmtpSinkMail[];
  /** Every DATA reply code given, refusals included. */
  replies: number[];
  /** Answers the next `n` messages' DATA with `code` (e.g. 451 transient, 550 permanent). */
  failNext(n: number, code: number, text?: string): void;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/**
 * An SMTP server (smtp-server). With `user`/`password` it requires AUTH and answers 535 to wrong
 * credentials. With `tls` (PEM key and certificate) it offers STARTTLS and takes AUTH only after it;
 * without, it offers no STARTTLS.
 */
export async function startSmtpSink(
  o: { user?: string; password?: string; tls?: { key: string; cert: string } } = {},
): Promise<SmtpSink> {
  const received: SmtpSinkMail[] = [];
  const replies: number[] = [];
  const refusals: Array<{ code: number; text: string }> = [];
  let server: SMTPServer;
  let port = 0;
  let isUp = false;
  const err = (code: number, text: string) => Object.assign(new Error(text), { responseCode: code });
  const listen = async () => {
    server = new SMTPServer({
      secure: false,
      ...(o.tls ? { key: o.tls.key, cert: o.tls.cert } : {}),
      disabledCommands: [...(o.tls ? [] : ["STARTTLS"]), ...(o.user ? [] : ["AUTH"])],
      authOptional: !o.user,
      allowInsecureAuth: !o.tls,
      logger: false,
      onAuth(auth, _session, cb) {
        if (auth.username === o.user && auth.password === o.password) cb(null, { user: auth.username });
        else cb(err(535, "5.7.8 Authentication credentials invalid"));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          const refusal = refusals.shift();
          if (refusal) {
            replies.push(refusal.code);
            cb(err(refusal.code, refusal.text));
            return;
          }
          const raw = Buffer.concat(chunks).toString("utf8");
          simpleParser(raw).then(
            (parsed) => {
              received.push({
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
                to: session.envelope.rcptTo.map((r: SMTPServerAddress) => r.address),
                parsed,
                raw,
              });
              replies.push(250);
              cb(null, "Message accepted");
            },
            () => {
              replies.push(554);
              cb(err(554, "Message not parseable"));
            },
          );
        });
      },
    });
    server.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      server.server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    port = (server.server.address() as AddressInfo).port;
    isUp = true;
  };
  await listen();
  const down = async () => {
    if (!isUp) return;
    isUp = false;
    await new Promise<void>((r) => server.close(() => r()));
  };
  return {
    get port() {
      return port;
    },
    received,
    replies,
    failNext(n, code, text = code >= 500 ? "5.1.1 Mailbox unavailable" : "4.3.0 Try again later") {
      for (let i = 0; i < n; i++) refusals.push({ code, text });
    },
    down,
    async up() {
      if (!isUp) await listen();
    },
    close: down,
  };
}

/** An alert message for tests, with characters Slack and HTML must escape. */
export function sampleAlert(over: Partial<AlertMessage> = {}): AlertMessage {
  return {
    kind: "detection",
    id: "detection:7f1c",
    priority: "P1",
    title: "Leaked API key used from a new IP <script>",
    summary: "Key k3j… used from 203.0.113.7 & <!channel> for the first time",
    key: "credential-new-ip:0123456789abcdef",
    rule: "credential-new-ip",
    at: "2026-11-23T08:00:00.000Z",
    details: { ip: "203.0.113.7", count: 3, blocked: false },
    ...over,
  };
}
