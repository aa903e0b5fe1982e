// The public page where people make a privacy request: plain HTML forms that POST to endpoints
// answering HTML, so it works without JavaScript; no script at all, and a CSP that allows only the
// one stylesheet below (by hash) and posting back to ourselves.
import { createHash } from "node:crypto";
import { escapeHtml, type PublicStatus } from "../data/privacy/requests/index.ts";

const STYLE = `body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
label{display:block;margin-top:1rem;font-weight:600}input,select,textarea{width:100%;padding:.4rem;font:inherit}
button{margin-top:1rem;padding:.5rem 1rem;font:inherit}.error{color:#a00;border-left:3px solid #a00;padding-left:.5rem}
.muted{color:#555;font-size:.9rem}`;

const STYLE_HASH = createHash("sha256").update(STYLE).digest("base64");

export const PAGE_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;

/** Headers every page is served with. */
export const pageHeaders: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": PAGE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
};

/** Kinds offered on the page (a nominee request needs evidence and goes through the API or the privacy team). */
export const pageKinds: ReadonlyArray<readonly [string, string]> = [
  ["access", "Get a copy of my personal data"],
  ["portability", "Get my personal data in a portable format (JSON)"],
  ["erasure", "Erase my personal data"],
  ["rectification", "Correct my personal data"],
  ["objection", "Object to the processing of my personal data"],
  ["withdrawal", "Withdraw my consent"],
  ["grievance", "Complain about how my request or data was handled"],
];

const page = (org: string, title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
  `<title>${escapeHtml(title)} · ${escapeHtml(org)}</title><style>${STYLE}</style></head>` +
  `<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;

const errorBlock = (error?: string) =>
  error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : "";

/** The request form. */
export function requestForm(o: {
  org: string;
  error?: string;
  values?: { kind?: string; email?: string; details?: string };
}): string {
  const v = o.values ?? {};
  const options = pageKinds
    .map(
      ([k, label]) => `<option value="${k}"${v.kind === k ? " selected" : ""}>${escapeHtml(label)}</option>`,
    )
    .join("");
  return page(
    o.org,
    "Privacy request",
    `${errorBlock(o.error)}<form method="post" action="/privacy/request">` +
      `<label for="kind">What would you like us to do?</label><select id="kind" name="kind" required>${options}</select>` +
      `<label for="email">Your email address</label><input id="email" name="email" type="email" required maxlength="254" autocomplete="email" value="${escapeHtml(v.email ?? "")}">` +
      `<label for="details">Details (needed for a correction or a complaint)</label><textarea id="details" name="details" rows="4" maxlength="2000">${escapeHtml(v.details ?? "")}</textarea>` +
      `<button type="submit">Send request</button></form>` +
      `<p class="muted">We will email you a code to confirm the request is yours. Nothing happens until you enter it.</p>`,
  );
}

/** Asks for the emailed code; the id and status token ride in hidden fields (never in the URL). */
export function codeForm(o: {
  org: string;
  id: string;
  token: string;
  error?: string;
  sent: boolean;
}): string {
  return page(
    o.org,
    "Confirm your request",
    `${errorBlock(o.error)}<p>${o.sent ? "If the address is right, we have emailed you a code." : "We could not send the code just now; ask for a new one below."} Your reference is <strong>${escapeHtml(o.id)}</strong>.</p>` +
      `<form method="post" action="/privacy/request/verify"><input type="hidden" name="id" value="${escapeHtml(o.id)}"><input type="hidden" name="token" value="${escapeHtml(o.token)}">` +
      `<label for="code">Code</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6,10}" required>` +
      `<button type="submit">Confirm</button></form>` +
      `<form method="post" action="/privacy/request/resend"><input type="hidden" name="id" value="${escapeHtml(o.id)}"><input type="hidden" name="token" value="${escapeHtml(o.token)}"><button type="submit">Send a new code</button></form>`,
  );
}

const stateText: Record<string, string> = {
  verified: "Confirmed. A member of our privacy team will look at it.",
  approved: "Approved and being carried out.",
  processing: "Being carried out.",
  completed: "Done. We have emailed you the answer.",
  rejected: "Declined. We have emailed you the reason.",
  cancelled: "Withdrawn.",
  failed: "Being carried out (we are retrying a step).",
  verifying: "Waiting for your code.",
  received: "Received.",
};

/** Where a request stands, for the requester. */
export function statusPage(o: { org: string; status: PublicStatus }): string {
  const s = o.status;
  return page(
    o.org,
    "Your privacy request",
    `<p>Reference <strong>${escapeHtml(s.id)}</strong>: ${escapeHtml(stateText[s.state] ?? s.state)}</p>` +
      `<p>We will answer by <strong>${escapeHtml(s.dueAt.slice(0, 10))}</strong> at the latest.</p>`,
  );
}

/** An error page (bad input, too many requests) that leads back to the form. */
export function errorPage(o: { org: string; message: string }): string {
  return page(
    o.org,
    "Privacy request",
    `${errorBlock(o.message)}<p><a href="/privacy/request">Back to the form</a></p>`,
  );
}
