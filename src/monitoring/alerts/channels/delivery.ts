// What every channel shares: the delivery contract, its typed failure, and an HTTP POST that
// turns a receiver's answer into success, a retry or a permanent failure.
import type { AlertMessage } from "../messages.ts";

/**
 * A delivery that did not happen. `reason` is safe to store and log: a status code, an SMTP
 * reply code, an error name or code, never a URL, key or password.
 */
export class DeliveryError extends Error {
  readonly permanent: boolean;
  readonly retryAfterMs: number | undefined;
  readonly reason: string;
  constructor(reason: string, o: { permanent?: boolean; retryAfterMs?: number | undefined } = {}) {
    super(reason);
    this.name = "DeliveryError";
    this.reason = reason;
    this.permanent = o.permanent ?? false;
    this.retryAfterMs = o.retryAfterMs;
  }
}

/** One configured destination. */
export interface AlertChannel {
  readonly name: string;
  readonly type: "slack" | "webhook" | "pagerduty" | "email";
  /** Resolves once the receiver accepted the message; throws {@link DeliveryError} otherwise. */
  deliver(message: AlertMessage, signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

/** Retry-After as seconds or an HTTP date, in milliseconds from `now`; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: Date): number | undefined {
  if (!header) return undefined;
  const v = header.trim();
  if (/^[0-9]{1,9}$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now.getTime());
}

/** A safe name for a network failure: the error code (ECONNREFUSED…) or name, never its message. */
export function failureName(err: unknown): string {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z0-9_]{2,40}$/.test(code)) return code;
  }
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return "timeout";
  return err instanceof Error && /^[A-Za-z]{1,40}$/.test(err.name) ? err.name : "error";
}

/** The answer of a POST: status, headers and (a bounded prefix of) the body. */
export interface PostAnswer {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * POSTs `body` and classifies the answer: 2xx is returned; 408, 425, 429 and 5xx are retried
 * (with Retry-After when given); redirects and other 4xx are permanent. `detail` may add a short,
 * safe word from the body (Slack's error codes) to the reason.
 */
export async function postJson(
  url: string,
  body: string,
  o: {
    headers?: Record<string, string>;
    signal: AbortSignal;
    now: Date;
    detail?: (a: PostAnswer) => string | undefined;
  },
): Promise<PostAnswer> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...o.headers },
      body,
      // A redirected POST would turn into a GET or carry the payload somewhere not configured.
      redirect: "manual",
      signal: o.signal,
    });
  } catch (err) {
    throw new DeliveryError(failureName(err));
  }
  let text = "";
  try {
    text = (await res.text()).slice(0, 4096);
  } catch (err) {
    if (res.ok) throw new DeliveryError(failureName(err));
  }
  const answer: PostAnswer = { status: res.status, headers: res.headers, body: text };
  if (res.status >= 200 && res.status < 300) return answer;
  const word = o.detail?.(answer);
  const reason = `status ${res.status}${word ? ` ${word}` : ""}`;
  const retryable = res.status === 408 || res.status === 425 || res.status === 429 || res.status >= 500;
  throw new DeliveryError(reason, {
    permanent: !retryable,
    retryAfterMs: retryable ? retryAfterMs(res.headers.get("retry-after"), o.now) : undefined,
  });
}
