// Email over SMTP (nodemailer). A 4xx reply is transient and retried, a 5xx one permanent (RFC
// 5321; 503 is only a session out of step). The Message-ID derives from the alert's id, so a send
// retried after a lost reply is recognisable as the same message by the mail system and people.
import { readFileSync } from "node:fs";
import nodemailer from "nodemailer";
import type { Clock } from "../../../platform/clock.ts";
import type { AlertMessage } from "../messages.ts";
import { type AlertChannel, DeliveryError, failureName } from "./delivery.ts";

export interface EmailChannelConfig {
  name: string;
  to: string[];
  from: string;
  smtp: {
    host: string;
    port: number;
    secure: boolean;
    requireTLS: boolean;
    user?: string | undefined;
    password?: string | undefined;
    tls: { caFile?: string | undefined; rejectUnauthorized: boolean };
  };
}

const htmlEscape = (s: string) =>
  s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");

// Subjects are one line: a title with a newline must not start a new header.
const oneLine = (s: string) => s.replaceAll(/[\r\n]+/g, " ").slice(0, 200);

/** Subject, plain text and HTML of the mail for a message; every value in the HTML is escaped. */
export function emailContent(m: AlertMessage): { subject: string; text: string; html: string } {
  const subject = `[Rampart ${m.priority}] ${oneLine(m.title)}`;
  const rows: Array<[string, string]> = [
    ["kind", m.kind],
    ["priority", m.priority],
    ["at", m.at],
    ...(m.rule ? [["rule", m.rule] as [string, string]] : []),
    ...(m.incident ? [["incident", `${m.incident.id} (${m.incident.state})`] as [string, string]] : []),
    ...Object.entries(m.details).map(([k, v]) => [k, String(v)] as [string, string]),
  ];
  const text = [
    `${m.title}`,
    "",
    m.summary,
    "",
    ...rows.map(([k, v]) => `${k}: ${v}`),
    ...(m.incident?.url ? ["", `Incident: ${m.incident.url}`] : []),
    "",
    `Alert ${m.id} · key ${m.key}`,
  ].join("\n");
  const html = [
    "<!doctype html><html><body>",
    `<h2>[${m.priority}] ${htmlEscape(m.title)}</h2>`,
    `<p>${htmlEscape(m.summary)}</p>`,
    "<table>",
    ...rows.map(([k, v]) => `<tr><th align="left">${htmlEscape(k)}</th><td>${htmlEscape(v)}</td></tr>`),
    "</table>",
    ...(m.incident?.url ? [`<p><a href="${htmlEscape(m.incident.url)}">Open the incident</a></p>`] : []),
    `<p><small>Alert ${htmlEscape(m.id)} · key ${htmlEscape(m.key)}</small></p>`,
    "</body></html>",
  ].join("\n");
  return { subject, text, html };
}

/** `<alert.<id>@<domain of from>>`: stable per message id, so every retry carries the same Message-ID. */
export function alertMessageId(m: AlertMessage, from: string): string {
  const domain = from.slice(from.lastIndexOf("@") + 1) || "rampart.invalid";
  return `<alert.${m.id.replaceAll(/[^A-Za-z0-9._-]/g, "-")}@${domain}>`;
}

/** An SMTP channel; the password stays in the transport's options and never reaches an error. */
export function emailChannel(c: EmailChannelConfig, _clock: Clock): AlertChannel {
  const s = c.smtp;
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.secure,
    requireTLS: !s.secure && s.requireTLS,
    ...(s.user !== undefined && s.password !== undefined ? { auth: { user: s.user, pass: s.password } } : {}),
    tls: {
      rejectUnauthorized: s.tls.rejectUnauthorized,
      ...(s.tls.caFile ? { ca: readFileSync(s.tls.caFile) } : {}),
    },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    name: c.name,
    type: "email",
    async deliver(message, signal) {
      const content = emailContent(message);
      const send = transport.sendMail({
        from: c.from,
        to: c.to,
        ...content,
        messageId: alertMessageId(message, c.from),
        date: new Date(message.at),
        headers: { "X-Rampart-Alert-Id": message.id, "X-Rampart-Alert-Key": message.key },
      });
      // nodemailer takes no signal: the attempt is abandoned (and retried later) when it fires.
      const aborted = new Promise<never>((_, reject) => {
        const fire = () => reject(new DeliveryError("timeout"));
        if (signal.aborted) fire();
        else signal.addEventListener("abort", fire, { once: true });
      });
      send.catch(() => {});
      try {
        await Promise.race([send, aborted]);
      } catch (err) {
        if (err instanceof DeliveryError) throw err;
        const e = err as { responseCode?: unknown; permanent?: unknown };
        if (typeof e.responseCode === "number") {
          const permanent =
            typeof e.permanent === "boolean" ? e.permanent : e.responseCode >= 500 && e.responseCode !== 503;
          throw new DeliveryError(`smtp ${e.responseCode}`, { permanent });
        }
        throw new DeliveryError(failureName(err));
      }
    },
    async close() {
      transport.close();
    },
  };
}
