// What a client sees when the gateway answers itself: JSON or HTML by Accept, the status, a short
// reason and the request id to quote to support; never an upstream address or a stack trace.
import type { IncomingMessage, ServerResponse } from "node:http";
import { STATUS_CODES } from "node:http";

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

function wantsHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? "";
  return accept.includes("text/html") && !accept.includes("application/json");
}

export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  message: string,
  requestId: string,
  extra: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const title = STATUS_CODES[status] ?? "Error";
  const html = wantsHtml(req);
  const body = html
    ? `<!doctype html><html><head><meta charset="utf-8"><title>${status} ${title}</title></head><body><h1>${status} ${title}</h1><p>${escapeHtml(message)}</p><p>Request ID: <code>${escapeHtml(requestId)}</code></p></body></html>\n`
    : `${JSON.stringify({ error: { status, title, message, requestId } })}\n`;
  res.writeHead(status, {
    "content-type": html ? "text/html; charset=utf-8" : "application/json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-request-id": requestId,
    ...extra,
  });
  res.end(req.method === "HEAD" ? undefined : body);
}
