// Mail to people about their data (request codes and outcomes, inactivity notices). Services
// depend only on `PrivacyMailer`; `createSmtpMailer` is the SMTP one the server wires from `privacy.smtp`.
import nodemailer from "nodemailer";
import { Unavailable } from "../../platform/errors.ts";

export interface PrivacyMailer {
  send(to: string, subject: string, text: string, html?: string): Promise<void>;
}

/** Mail over SMTP from `from`; `url` is smtp(s)://user:pass@host:port. Errors never carry the password. */
export function createSmtpMailer(o: { url: string; from: string }): PrivacyMailer & { close(): void } {
  const transport = nodemailer.createTransport({
    url: o.url,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async send(to, subject, text, html) {
      try {
        // A subject with a line break must not become a second header.
        const oneLine = subject.replaceAll(/[\r\n]+/g, " ");
        await transport.sendMail({ from: o.from, to, subject: oneLine, text, ...(html ? { html } : {}) });
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode;
        throw new Unavailable(`sending privacy mail failed${code ? ` (SMTP ${code})` : ""}`);
      }
    },
    close: () => transport.close(),
  };
}

/** A mailer that refuses: for servers without SMTP, so mail that cannot go says so. */
export const noMailer: PrivacyMailer = {
  send: () =>
    Promise.reject(new Unavailable("no mail is configured for privacy requests (privacy.smtp.url)")),
};
