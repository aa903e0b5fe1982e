// Signed generic webhooks. Two signatures: `x-rampart-signature: sha256=<hex>` over the body (the
// JIT notifier's, so one receiver can check both), and `x-rampart-signature-v1: t=<unix>,v1=<hex>`
// over `<t>.<body>`, which lets a receiver refuse a replayed request (as Stripe's scheme does).
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Clock } from "../../../platform/clock.ts";
import { signWebhookBody, SIGNATURE_HEADER } from "../../../identity/jit/notify.ts";
import type { AlertMessage } from "../messages.ts";
import { type AlertChannel, postJson } from "./delivery.ts";

export { SIGNATURE_HEADER };
export const SIGNATURE_V1_HEADER = "x-rampart-signature-v1";
export const TIMESTAMP_HEADER = "x-rampart-timestamp";

/** The JSON body: the message with its id first, so receivers deduplicate retries by `id`. */
export function webhookAlertBody(m: AlertMessage): string {
  const { id, kind, ...rest } = m;
  return JSON.stringify({ id, source: "rampart", kind, ...rest });
}

const hmacHex = (secret: string, timestamp: number, body: string | Uint8Array) =>
  createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the value of the v1 header. */
export function signAlertBody(body: string | Uint8Array, secret: string, timestamp: number): string {
  return `t=${timestamp},v1=${hmacHex(secret, timestamp, body)}`;
}

/**
 * Checks the v1 header against the raw body, in constant time, and refuses a timestamp more than
 * `toleranceSeconds` (default 300) from `now`; for receivers.
 */
export function verifyAlertSignature(
  body: string | Uint8Array,
  header: string | undefined,
  secret: string,
  o: { toleranceSeconds?: number; now?: Date } = {},
): boolean {
  if (!header) return false;
  let t: number | undefined;
  const given: string[] = [];
  for (const part of header.split(",")) {
    const [k, v] = part.trim().split("=", 2);
    if (k === "t" && v && /^[0-9]{1,12}$/.test(v)) t = Number(v);
    // Several v1 values let a sender sign with an old and a new key while the key rotates.
    else if (k === "v1" && v) given.push(v);
  }
  if (t === undefined || given.length === 0) return false;
  const now = Math.floor((o.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - t) > (o.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(hmacHex(secret, t, body));
  let ok = false;
  for (const g of given) {
    const b = Buffer.from(g);
    // Every candidate is compared, so the time taken does not say which one matched.
    if (b.length === expected.length && timingSafeEqual(b, expected)) ok = true;
  }
  return ok;
}

/** A signed JSON webhook channel. */
export function webhookChannel(c: { name: string; url: string; secret: string }, clock: Clock): AlertChannel {
  return {
    name: c.name,
    type: "webhook",
    async deliver(message, signal) {
      const body = webhookAlertBody(message);
      // Signed at each attempt: a retry hours later still falls inside the receiver's tolerance.
      const now = clock.now();
      const t = Math.floor(now.getTime() / 1000);
      await postJson(c.url, body, {
        signal,
        now,
        headers: {
          [SIGNATURE_HEADER]: signWebhookBody(body, c.secret),
          [SIGNATURE_V1_HEADER]: signAlertBody(body, c.secret, t),
          [TIMESTAMP_HEADER]: String(t),
          "x-rampart-message-id": message.id,
          "user-agent": "Rampart-Alerts/1",
        },
      });
    },
  };
}
