// Forwarding an admitted request: round robin over the route's healthy upstreams, a retry on another
// upstream only for idempotent requests that never reached one, bodies streamed both ways with a
// size limit, and the upstream's answer relayed with the gateway's headers added.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { type Duplex, Readable, Transform } from "node:stream";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { type Dispatcher, errors as undiciErrors } from "undici";
import type { GatewayConfig } from "../../config/index.ts";
import { formatDetail, type Waf } from "../waf/index.ts";
import type { Admitted } from "./admission.ts";
import type { DecisionRecorder } from "./decisions.ts";
import { sendError } from "./error-page.ts";
import { clientResponseHeaders } from "./headers.ts";
import { addMissing } from "./security-headers.ts";
import type { Upstream } from "./upstreams.ts";

type DispatchController = Parameters<NonNullable<Dispatcher.DispatchHandler["onRequestStart"]>>[0];

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS"]);

class TooLarge extends Error {}

const SMALL_BODY_BYTES = 64 * 1024;
/**
 * On a route with the WAF on, this much of any body (declared or chunked) is held and inspected
 * before anything goes upstream; the WAF parses its start and end (see TargetLimits). The rest of
 * a larger body streams on uninspected, as with Cloudflare's and AWS WAF's body limits.
 */
const WAF_BODY_BYTES = 1024 * 1024;

/** Reads up to `max` bytes: the whole body, or its start and an iterator over the rest. */
async function readPrefix(
  req: IncomingMessage,
  max: number,
): Promise<{ head: Buffer; rest?: AsyncIterator<Buffer> } | undefined> {
  const it = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    while (size <= max) {
      const next = await it.next();
      if (next.done) return { head: Buffer.concat(chunks) };
      chunks.push(next.value);
      size += next.value.length;
    }
    return { head: Buffer.concat(chunks), rest: it };
  } catch {
    return undefined; // the client went away mid-body
  }
}

async function* prefixed(head: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield head;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

// The whole body of a request whose length is declared (Node's parser holds it to that length).
function readWhole(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.once("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.once("error", reject);
    req.once("close", () => {
      if (!req.complete) reject(new Error("the client went away"));
    });
  });
}

// Counts request body bytes as they stream and stops at the limit (a lying Content-Length or a chunked body).
function limitBody(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max) done(new TooLarge());
      else done(null, chunk);
    },
  });
}

// Failures before the upstream answered, on a connection it never read from: safe to retry elsewhere.
function notConnected(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return (
    err instanceof undiciErrors.ConnectTimeoutError ||
    code === "ECONNREFUSED" ||
    code === "ECONNRESET" ||
    code === "EHOSTUNREACH" ||
    code === "ENOTFOUND" ||
    code === "UND_ERR_SOCKET"
  );
}

interface ClientSide {
  res: ServerResponse;
  /** The upstream exchange in flight, to abort when the client goes away. */
  controller: DispatchController | undefined;
  aborted: boolean;
}

/**
 * One request to one upstream, relayed straight from undici's callbacks to the client response:
 * no stream objects in between, and backpressure by pausing the upstream while the client drains.
 * Rejects only if the upstream failed before its response started (then the caller may retry or
 * answer with an error page); a failure mid-body ends the client connection.
 */
function exchange(
  u: Upstream,
  o: {
    method: string;
    path: string;
    headers: Record<string, string | string[]>;
    body: Readable | Buffer | null;
  },
  client: ClientSide,
  start: (status: number, headers: IncomingHttpHeaders) => void,
): Promise<void> {
  const { res } = client;
  return new Promise((resolve, reject) => {
    let started = false;
    const resume = () => client.controller?.resume();
    u.pool.dispatch(o, {
      onRequestStart(controller) {
        client.controller = controller;
        if (client.aborted) controller.abort(new Error("the client went away"));
      },
      onResponseStart(_c, status, headers) {
        if (status < 200) return; // 1xx (100 Continue) is the upstream's business, not the client's
        started = true;
        start(status, headers as IncomingHttpHeaders);
        // Headers, a small body and its end leave in one write.
        res.cork();
        process.nextTick(() => res.uncork());
      },
      onResponseData(controller, chunk) {
        if (!res.write(chunk)) {
          controller.pause();
          res.once("drain", resume);
        }
      },
      onResponseEnd() {
        res.end();
        resolve();
      },
      onResponseError(_c, err) {
        if (!started) return reject(err);
        res.destroy();
        resolve();
      },
    });
  });
}

// Names of matched rules and targets in events: enough to tune, bounded (names come from requests).
export const WAF_REFUSAL = "the request was refused by the web application firewall";

/**
 * A compressed request body as the application will read it, so that gzip cannot hide a payload;
 * at most WAF_BODY_BYTES of output (a bomb stops there). A body that does not decompress is
 * inspected as sent (the protocol checks score its Content-Encoding).
 */
function inflated(body: Buffer, encoding: string | undefined): Buffer {
  const cap = { maxOutputLength: WAF_BODY_BYTES };
  try {
    switch (encoding?.trim().toLowerCase()) {
      case "gzip":
      case "x-gzip":
        return gunzipSync(body, cap);
      case "deflate":
        return inflateSync(body, cap);
      case "br":
        return brotliDecompressSync(body, cap);
      default:
        return body;
    }
  } catch {
    return body;
  }
}

/** Runs the route's WAF (if any) and records what matched; true when the request must be refused. */
export function wafRefuses(
  waf: Waf,
  decisions: DecisionRecorder,
  req: IncomingMessage,
  a: Admitted,
  body?: Buffer,
): boolean {
  const policy = a.rc.waf;
  if (!policy || policy.mode === "off") return false;
  const inspected = body && inflated(body, req.headers["content-encoding"]);
  const verdict = waf.inspect(
    {
      method: req.method ?? "GET",
      path: a.path,
      headers: req.headers,
      httpVersion: req.httpVersion,
      ...(inspected ? { body: inspected } : {}),
    },
    policy,
  );
  const first = verdict.matches[0];
  if (first)
    decisions.record(
      verdict.blocked ? "waf_blocked" : "waf_detected",
      a.rc.name,
      a.client,
      formatDetail(verdict),
      {
        value: first.sample,
      },
    );
  return verdict.blocked;
}

export function createForwarder(g: GatewayConfig, decisions: DecisionRecorder, waf?: Waf) {
  const tooLarge = `the request body is larger than ${g.maxBodyBytes} bytes`;

  return async function forward(req: IncomingMessage, res: ServerResponse, a: Admitted): Promise<void> {
    const { requestId, path, encrypted, rc, forwardHeaders: headers } = a;
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > g.maxBodyBytes) return sendError(req, res, 413, tooLarge, requestId);

    const set = rc.upstreams;
    const hasBody =
      req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    const retryable = IDEMPOTENT.has(req.method ?? "") && !hasBody;
    const client: ClientSide = { res, controller: undefined, aborted: false };
    res.once("close", () => {
      if (res.writableFinished) return;
      client.aborted = true;
      client.controller?.abort(new Error("the client went away"));
    });
    // A small body with a declared length is read whole and sent with the head in one write; a
    // large or chunked one is streamed through the size limit. Under the WAF, up to
    // WAF_BODY_BYTES of any body is held for inspection first.
    const inspected = waf !== undefined && rc.waf !== undefined && rc.waf.mode !== "off";
    let small: Buffer | undefined;
    let rest: AsyncIterator<Buffer> | undefined;
    if (hasBody && inspected) {
      const got = await readPrefix(req, WAF_BODY_BYTES);
      if (!got) return void res.destroy();
      if (got.head.length > g.maxBodyBytes) return sendError(req, res, 413, tooLarge, requestId);
      rest = got.rest;
      small = got.head;
    } else if (hasBody && req.headers["transfer-encoding"] === undefined && declared <= SMALL_BODY_BYTES) {
      small = await readWhole(req).catch(() => undefined);
      if (!small) return void res.destroy(); // the client went away mid-body
    }
    if (waf && wafRefuses(waf, decisions, req, a, small))
      return sendError(req, res, 403, WAF_REFUSAL, requestId);
    // A held start and its unread rest go on as one stream, through the size limit.
    const joined =
      rest && small ? Readable.from(prefixed(small, rest)).pipe(limitBody(g.maxBodyBytes)) : undefined;
    if (joined) small = undefined;
    const tried = new Set<Upstream>();
    for (let attempt = 0; attempt <= g.retries; attempt++) {
      const u = set.pick(tried);
      if (!u) break;
      tried.add(u);
      try {
        const body = small ?? joined ?? (hasBody ? req.pipe(limitBody(g.maxBodyBytes)) : null);
        await exchange(
          u,
          { method: req.method as string, path, headers, body },
          client,
          (status, upHeaders) => {
            set.succeeded(u);
            const out = clientResponseHeaders(upHeaders);
            addMissing(out, encrypted ? rc.securityHeaders.https : rc.securityHeaders.http);
            if (rc.cors) Object.assign(out, rc.cors.responseHeaders(req.headers));
            if (a.rateHeaders) Object.assign(out, a.rateHeaders);
            out["x-request-id"] = requestId;
            res.writeHead(status, out);
          },
        );
        return;
      } catch (err) {
        if (err instanceof TooLarge || (err as { cause?: unknown }).cause instanceof TooLarge)
          return sendError(req, res, 413, tooLarge, requestId);
        if (client.aborted) return;
        // A request undici will not send is the request's fault, not the upstream's: no ejection.
        if (
          err instanceof undiciErrors.InvalidArgumentError ||
          err instanceof undiciErrors.NotSupportedError
        ) {
          decisions.record("upstream_error", rc.name, a.client, "unsendable request");
          return sendError(req, res, 400, "the request cannot be forwarded as sent", requestId);
        }
        set.failed(u);
        if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
          decisions.record("upstream_error", rc.name, a.client, "timeout");
          return sendError(req, res, 504, "the upstream did not answer in time", requestId);
        }
        if (!(retryable && notConnected(err))) {
          decisions.record("upstream_error", rc.name, a.client, "unreachable");
          return sendError(req, res, 502, "the upstream could not be reached", requestId);
        }
      }
    }
    const some = tried.size > 0;
    decisions.record("upstream_error", rc.name, a.client, some ? "unreachable" : "no healthy upstream");
    sendError(
      req,
      res,
      some ? 502 : 503,
      some ? "the upstream could not be reached" : "no healthy upstream for this route",
      requestId,
      some ? {} : { "retry-after": String(g.ejectSeconds) },
    );
  };
}

// WebSocket (and any other HTTP/1.1 Upgrade): after admission, the upstream's 101 is relayed and
// the two sockets are joined until either side closes.
export async function relayUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  a: Admitted,
  refuse: (status: number, message: string) => void,
): Promise<void> {
  const u = a.rc.upstreams.pick();
  if (!u) return refuse(503, "no healthy upstream for this route");
  let up: Awaited<ReturnType<typeof u.pool.upgrade>>;
  try {
    up = await u.pool.upgrade({
      path: a.path,
      method: req.method ?? "GET",
      headers: a.forwardHeaders,
      protocol: String(req.headers.upgrade ?? ""),
    });
    a.rc.upstreams.succeeded(u);
  } catch {
    a.rc.upstreams.failed(u);
    return refuse(502, "the upstream refused the upgrade");
  }
  const lines = ["HTTP/1.1 101 Switching Protocols"];
  for (const [k, v] of Object.entries(up.headers)) {
    if (v === undefined || k === "server" || k === "x-powered-by") continue;
    for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
  }
  lines.push(`x-request-id: ${a.requestId}`);
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  if (head.length > 0) up.socket.write(head);
  up.socket.on("error", () => socket.destroy());
  socket.on("close", () => up.socket.destroy());
  up.socket.on("close", () => socket.destroy());
  socket.pipe(up.socket).pipe(socket);
}
