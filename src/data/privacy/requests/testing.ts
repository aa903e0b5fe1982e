// Test support (not exported from index.ts): a recording DsrEngine that answers as the real one's
// interface says, and a mailer that keeps what it was asked to send.
import type { DsrEngine, DsrReceipt, DsrRequest } from "../dsr/types.ts";
import type { PrivacyMailer } from "../mail.ts";

export interface RecordingEngine extends DsrEngine {
  runs: DsrRequest[];
  /** The next `n` runs throw this error. */
  failNext(n: number, message?: string): void;
}

export function recordingEngine(): RecordingEngine {
  const runs: DsrRequest[] = [];
  const receipts = new Map<string, DsrReceipt>();
  let failures: string[] = [];
  return {
    runs,
    failNext(n, message = "store unreachable: shop.customers") {
      failures = [...failures, ...Array.from({ length: n }, () => message)];
    },
    plan: (kind) => ({ kind, order: [], unreachable: [] }),
    async run(request) {
      runs.push(structuredClone(request));
      const fail = failures.shift();
      if (fail) throw Object.assign(new Error(fail), { code: "unavailable" });
      const receipt: DsrReceipt = {
        requestId: request.id,
        kind: request.kind,
        completedAt: new Date(0).toISOString(),
        collections: [
          {
            collection: "shop.customers",
            found: 1,
            deleted: 0,
            masked: 0,
            corrected: 0,
            foundHash: "0".repeat(64),
          },
        ],
        ...(request.kind === "access" ? { exportHash: "1".repeat(64) } : {}),
        signature: "c2lnbmF0dXJl",
        keyId: "test-key",
      };
      receipts.set(request.id, receipt);
      return receipt;
    },
    resumePending: async () => 0,
    async exportOf(requestId, format) {
      if (!receipts.has(requestId)) throw new Error(`no finished access request ${requestId}`);
      const body =
        format === "json"
          ? JSON.stringify({ request: requestId, customers: [{ name: "Ana" }] })
          : format === "csv"
            ? "collection,name\nshop.customers,Ana\n"
            : "<table><tr><td>Ana</td></tr></table>";
      const contentType = { json: "application/json", csv: "text/csv", html: "text/html" }[format];
      return { contentType: `${contentType}; charset=utf-8`, body };
    },
    receiptOf: async (id) => receipts.get(id),
  };
}

export interface SentMail {
  to: string;
  subject: string;
  text: string;
  html?: string | undefined;
}

export function recordingMailer(): PrivacyMailer & { sent: SentMail[]; failNext: number } {
  const m = {
    sent: [] as SentMail[],
    failNext: 0,
    async send(to: string, subject: string, text: string, html?: string) {
      if (m.failNext > 0) {
        m.failNext--;
        throw new Error("SMTP 451");
      }
      m.sent.push({ to, subject, text, html });
    },
  };
  return m;
}

/** The code in a code mail's text. */
export const codeIn = (text: string): string => {
  const m = /is: (\d{6,10})/.exec(text);
  if (!m) throw new Error(`no code in mail: ${text}`);
  return m[1] as string;
};
