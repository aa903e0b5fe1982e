// Telling people about JIT decisions: a signed JSON webhook and Slack's incoming-webhook payload.
// Sending never blocks a decision: notify() queues, retries with backoff in the background, and
// gives up quietly (logged) when the receiver stays away.
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import type { Logger } from "pino";
import type { Severity } from "../../platform/events/index.ts";
import type { JitConfig } from "./policy.ts";

/** One thing worth telling approvers, requesters or the security team. */
export interface JitNotice {
  type: "requested" | "approved" | "denied" | "granted" | "revoked" | "break_glass";
  severity: Severity;
  /** One line for people; holds no secrets. */
  text: string;
  /** Request or grant id, for links and deduplication. */
  ref: string;
  at: Date;
  details: Record<string, unknown>;
}

export type Notify = (notice: JitNotice) => void;

export interface WebhookNotifier {
  notify: Notify;
  /** Resolves once every notice queued so far was delivered or given up on. */
  flush(): Promise<void>;
}

export interface WebhookNotifierOptions {
  /** The receiver; treated as a secret (Slack's URL is one), so it is never logged. */
  url: string;
  /** Key for the `X-Rampart-Signature` header; absent sends no signature (Slack). */
  secret?: string | undefined;
  /** The request body; the default is {@link webhookBody}. */
  format?: (notice: JitNotice) => unknown;
  timeoutMs?: number;
  /** Attempts after the first, for network errors, 429 and 5xx. */
  retries?: number;
  backoffMs?: number;
  /** Notices in flight beyond this are dropped (and logged): a dead receiver must not hoard memory. */
  maxPending?: number;
  logger?: Logger | undefined;
}

export const SIGNATURE_HEADER = "x-rampart-signature";

/** `sha256=<hex HMAC-SHA256 of body>`, the value of the signature header. */
export function signWebhookBody(body: string | Uint8Array, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Checks a signature header against the raw body, in constant time; for receivers. */
export function verifyWebhookSignature(
  body: string | Uint8Array,
  header: string | undefined,
  secret: string,
): boolean {
  if (!header) return false;
  const expected = Buffer.from(signWebhookBody(body, secret));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The generic JSON body: a unique id (receivers deduplicate retries by it) and the notice. */
export function webhookBody(notice: JitNotice): unknown {
  return {
    id: randomUUID(),
    source: "rampart",
    event: `jit.${notice.type}`,
    ...notice,
    at: notice.at.toISOString(),
  };
}

const slackEscape = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** Slack's incoming-webhook payload: `text` as the fallback, `blocks` for the message itself. */
export function slackMessage(notice: JitNotice): { text: string; blocks: unknown[] } {
  const text = slackEscape(notice.text);
  const alarm = notice.severity === "critical" || notice.severity === "high" ? ":rotating_light: " : "";
  return {
    text,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `${alarm}${text}` } },
      {
        type: "context",
        elements: [
          {
            type: "mrkdwn",
            text: `Rampart JIT · ${notice.type} · severity ${notice.severity} · ${slackEscape(notice.ref)}`,
          },
        ],
      },
    ],
  };
}

/** Posts each notice as JSON to one URL, signed when a secret is given. */
export function createWebhookNotifier(opts: WebhookNotifierOptions): WebhookNotifier {
  const format = opts.format ?? webhookBody;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const retries = opts.retries ?? 3;
  const backoffMs = opts.backoffMs ?? 500;
  const maxPending = opts.maxPending ?? 1000;
  const pending = new Set<Promise<void>>();

  async function send(body: string, type: string): Promise<void> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (opts.secret) headers[SIGNATURE_HEADER] = signWebhookBody(body, opts.secret);
    let why = "";
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
      try {
        const res = await fetch(opts.url, {
          method: "POST",
          headers,
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.body?.cancel();
        if (res.ok) return;
        why = `status ${res.status}`;
        if (res.status !== 429 && res.status < 500) break;
      } catch (err) {
        why = (err as Error).name;
      }
    }
    opts.logger?.warn({ notice: type, why }, "JIT notification not delivered");
  }

  return {
    notify(notice) {
      if (pending.size >= maxPending) {
        opts.logger?.warn({ notice: notice.type }, "JIT notification dropped: too many in flight");
        return;
      }
      const p = send(JSON.stringify(format(notice)), notice.type).finally(() => pending.delete(p));
      pending.add(p);
    },
    async flush() {
      await Promise.all([...pending]);
    },
  };
}

/** Every webhook and Slack channel of the `jit.notify` config behind one `notify`. */
export function notifierFromConfig(config: JitConfig["notify"], logger?: Logger): WebhookNotifier {
  const all = [
    ...config.webhooks.map((w) => createWebhookNotifier({ url: w.url, secret: w.secret, logger })),
    ...config.slack.map((s) => createWebhookNotifier({ url: s.url, format: slackMessage, logger })),
  ];
  return {
    notify: (notice) => {
      for (const n of all) n.notify(notice);
    },
    flush: async () => {
      await Promise.all(all.map((n) => n.flush()));
    },
  };
}
