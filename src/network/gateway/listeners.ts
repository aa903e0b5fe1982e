// What the gateway answers at the connection level, before or instead of proxying: a port that is
// taken, a request Node's parser refused, a refused upgrade, and plain HTTP when TLS is on.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { Conflict } from "../../platform/errors.ts";
import { hostName } from "./routes.ts";

export async function listen(server: Server, host: string, port: number, setting: string): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    throw new Conflict(`${host}:${port} is already in use; set ${setting}`);
  }
}

// Malformed requests (smuggling attempts, bad header bytes, oversized headers) never reach the
// handler: Node's parser rejects them, and the connection is answered and closed here.
export function answerMalformed(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
  const body = JSON.stringify({ error: { status, message: "malformed request" } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
  );
}

// Answers a connection that asked for an upgrade, then closes it.
export function refuseSocket(
  socket: Duplex,
  status: number,
  message: string,
  requestId: string,
  headers: Record<string, string>,
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: { status, title: STATUS_CODES[status], message, requestId } });
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\n${extra}\r\n${body}`,
  );
}

// Plain HTTP when TLS is on: a permanent redirect that keeps the method (308) to the same host and path.
export function redirectToHttps(req: IncomingMessage, res: ServerResponse, tlsPort: number): void {
  const host = hostName(req.headers.host);
  if (!host || !(req.url ?? "").startsWith("/")) {
    res.writeHead(400, { "content-type": "text/plain", connection: "close" }).end("bad request\n");
    return;
  }
  const location = `https://${host}${tlsPort === 443 ? "" : `:${tlsPort}`}${req.url}`;
  res.writeHead(308, { location, "content-length": 0, "cache-control": "no-store" }).end();
}

const ACME_HTTP01_PATH = "/.well-known/acme-challenge/";

/**
 * ACME HTTP-01 (RFC 8555 §8.3) on plain HTTP, before the HTTPS redirect and routing: answers the key
 * authorization for a token `keyAuthorization` knows. False (nothing sent) for anything else.
 */
export function answerAcmeHttp01(
  req: IncomingMessage,
  res: ServerResponse,
  keyAuthorization: (token: string) => string | undefined,
): boolean {
  const url = req.url;
  if (!url?.startsWith(ACME_HTTP01_PATH) || (req.method !== "GET" && req.method !== "HEAD")) return false;
  const answer = keyAuthorization(url.slice(ACME_HTTP01_PATH.length));
  if (answer === undefined) return false;
  res.writeHead(200, {
    "content-type": "application/octet-stream",
    "content-length": Buffer.byteLength(answer),
    "cache-control": "no-store",
  });
  res.end(req.method === "HEAD" ? undefined : answer);
  return true;
}
