// The gateway's data plane: a node:http server that routes each request to an upstream pool and
// streams bodies both ways. Controls (IP rules, rate limits, WAF, …) slot in as checks that run
// before the request is forwarded.
import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { errors as undiciErrors } from "undici";
import type { GatewayConfig, RouteConfig } from "../../config/index.ts";
import { type Clock, systemClock } from "../../platform/clock.ts";
import { Conflict } from "../../platform/errors.ts";
import { createMemoryHotState, type HotState } from "../../platform/hotstate/index.ts";
import type { Logger } from "../../platform/logging.ts";
import { createClientIpResolver, normalizeIp } from "./client-ip.ts";
import { compileCors, type Cors } from "./cors.ts";
import { sendError } from "./error-page.ts";
import { compileIpRules, type IpRules } from "./ip-rules.ts";
import { createRateLimiting, type RouteLimiter } from "./rate-limit.ts";
import { addMissing, compileSecurityHeaders, type HeaderSet } from "./security-headers.ts";
import { clientResponseHeaders, upstreamRequestHeaders } from "./headers.ts";
import { compileRoutes, createRouter, hostName, type Route } from "./routes.ts";
import { type CertificateStatus, loadCertificates } from "./tls.ts";
import { createUpstreamSet, type Upstream, type UpstreamSet } from "./upstreams.ts";

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS"]);

export interface Gateway {
  server: Server;
  /** `http://host:port` once listening. */
  url: string;
  /** `https://host:port` when TLS is configured. */
  httpsUrl?: string;
  /** The certificates in service, with their expiry. */
  certificates(): CertificateStatus[];
  close(): Promise<void>;
}

interface RouteControls {
  upstreams: UpstreamSet;
  ipRules: IpRules;
  /** Added to responses that lack them; HSTS only in the HTTPS set. */
  securityHeaders: HeaderSet;
  cors: Cors | undefined;
  /** The route as people name it: `host/path`, `*` for any host. */
  name: string;
  limiter: RouteLimiter | undefined;
}

class TooLarge extends Error {}

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

export async function startGateway(opts: {
  gateway: GatewayConfig;
  routes: readonly RouteConfig[];
  /** Shared hot state for rate limits (Redis across replicas); in-process memory when absent. */
  hot?: HotState;
  clock?: Clock;
  logger?: Logger;
}): Promise<Gateway> {
  const g = opts.gateway;
  const clock = opts.clock ?? systemClock;
  const ownHot = opts.hot ? undefined : createMemoryHotState({ clock });
  let warnedUnavailable = 0;
  const limiting = createRateLimiting({
    hot: opts.hot ?? (ownHot as HotState),
    whenUnavailable: g.rateLimitWhenUnavailable,
    clock,
    onUnavailable: (err) => {
      // Once a minute at most: during an outage every request would say it again.
      const t = clock.now().getTime();
      if (t - warnedUnavailable < 60_000) return;
      warnedUnavailable = t;
      opts.logger?.warn(
        { err: (err as Error).message, mode: g.rateLimitWhenUnavailable },
        "rate limiting: hot state unavailable",
      );
    },
  });
  const routes = compileRoutes(opts.routes);
  const route = createRouter(routes);
  // Everything a route needs per request, compiled once.
  const controls = new Map<Route, RouteControls>(
    routes.map((r) => {
      const c = opts.routes[r.index] as RouteConfig;
      return [
        r,
        {
          upstreams: createUpstreamSet(r.upstreams, { ...g, clock }),
          ipRules: compileIpRules(g.ipRules, c.ipRules),
          securityHeaders: compileSecurityHeaders(c.securityHeaders),
          cors: c.cors ? compileCors(c.cors) : undefined,
          name: `${r.host ?? "*"}${r.path}`,
          limiter: limiting.forRoute(c.rateLimits),
        },
      ];
    }),
  );
  const clientIp = createClientIpResolver(g.trustedProxies);
  // The peer and whether it is a trusted proxy, parsed once per connection, not per request.
  const peers = new WeakMap<Socket, { peer: string; trusted: boolean }>();
  const peerOf = (socket: Socket) => {
    let p = peers.get(socket);
    if (!p) {
      const peer = normalizeIp(socket.remoteAddress ?? "") ?? "unknown";
      p = { peer, trusted: clientIp.trusts(peer) };
      peers.set(socket, p);
    }
    return p;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const { peer, trusted } = peerOf(req.socket);
    const encrypted = (req.socket as TLSSocket).encrypted === true;
    const forwardedFor = req.headers["x-forwarded-for"];
    const client =
      trusted && forwardedFor !== undefined
        ? clientIp.client(peer, Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
        : peer;
    const path = req.url ?? "/";
    if (!path.startsWith("/"))
      return sendError(req, res, 400, "the request target must be a path", requestId);
    const r = route(hostName(req.headers.host), path);
    if (!r) return sendError(req, res, 404, "no route for this host and path", requestId);
    const rc = controls.get(r) as RouteControls;
    if (rc.ipRules.refuses(client))
      return sendError(req, res, 403, "requests from your address are not allowed here", requestId);
    const rate = rc.limiter ? await rc.limiter.check(client, rc.name, req.headers) : undefined;
    if (rate?.kind === "unavailable")
      return sendError(req, res, 503, "rate limiting is unavailable; try again shortly", requestId, {
        "retry-after": "5",
      });
    if (rate?.kind === "limited")
      return sendError(req, res, 429, "too many requests", requestId, {
        "retry-after": String(rate.retryAfterS),
        ...rate.headers,
      });
    const preflight = rc.cors?.preflight(req.method, req.headers);
    if (preflight) {
      res.writeHead(preflight.status, {
        ...preflight.headers,
        "x-request-id": requestId,
        "content-length": 0,
      });
      res.end();
      return;
    }
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > g.maxBodyBytes)
      return sendError(req, res, 413, `the request body is larger than ${g.maxBodyBytes} bytes`, requestId);

    const set = rc.upstreams;
    const hasBody =
      req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    const retryable = IDEMPOTENT.has(req.method ?? "") && !hasBody;
    const headers = upstreamRequestHeaders(req.headers, {
      client,
      peer,
      peerTrusted: trusted,
      proto: encrypted ? "https" : "http",
      requestId,
    });
    const abort = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    const tried = new Set<Upstream>();
    for (let attempt = 0; attempt <= g.retries; attempt++) {
      const u = set.pick(tried);
      if (!u) break;
      tried.add(u);
      try {
        const body = hasBody ? req.pipe(limitBody(g.maxBodyBytes)) : undefined;
        const up = await u.pool.request({
          method: req.method as "GET",
          path,
          headers,
          body: body ?? null,
          signal: abort.signal,
        });
        set.succeeded(u);
        const out = clientResponseHeaders(up.headers);
        addMissing(out, encrypted ? rc.securityHeaders.https : rc.securityHeaders.http);
        if (rc.cors) Object.assign(out, rc.cors.responseHeaders(req.headers));
        if (rate) Object.assign(out, rate.headers);
        out["x-request-id"] = requestId;
        res.writeHead(up.statusCode, out);
        await pipeline(up.body, res).catch(() => res.destroy());
        return;
      } catch (err) {
        if (err instanceof TooLarge || (err as { cause?: unknown }).cause instanceof TooLarge)
          return sendError(
            req,
            res,
            413,
            `the request body is larger than ${g.maxBodyBytes} bytes`,
            requestId,
          );
        if (abort.signal.aborted) return;
        set.failed(u);
        if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError)
          return sendError(req, res, 504, "the upstream did not answer in time", requestId);
        if (!(retryable && notConnected(err)))
          return sendError(req, res, 502, "the upstream could not be reached", requestId);
      }
    }
    const some = tried.size > 0;
    sendError(
      req,
      res,
      some ? 502 : 503,
      some ? "the upstream could not be reached" : "no healthy upstream for this route",
      requestId,
      some ? {} : { "retry-after": String(g.ejectSeconds) },
    );
  }

  const serverOptions = { maxHeaderSize: g.maxHeaderBytes, requestTimeout: 60_000 };
  const certificates = g.tls
    ? loadCertificates(g.tls.certificates, { minVersion: g.tls.minVersion, clock, logger: opts.logger })
    : undefined;
  const tls = g.tls;
  let tlsPort = tls?.port ?? 443; // the bound port once listening (tls.port may be 0)
  const server = createServer(serverOptions, (req, res) => {
    if (tls?.redirectHttp) return redirectToHttps(req, res, tlsPort);
    handle(req, res).catch(() => res.destroy());
  });
  const secure =
    certificates && tls
      ? createHttpsServer(
          {
            ...serverOptions,
            minVersion: tls.minVersion,
            SNICallback: (name, cb) => cb(null, certificates.contextFor(name)),
            ...certificates.defaultOptions(),
          },
          (req, res) => {
            handle(req, res).catch(() => res.destroy());
          },
        )
      : undefined;
  if (secure && certificates)
    certificates.onDefaultChange((pem) => secure.setSecureContext({ ...pem, minVersion: tls?.minVersion }));
  const servers = secure ? [server, secure] : [server];
  for (const s of servers) s.on("clientError", answerMalformed);
  // A failed handshake (garbage, an old protocol version) only closes that connection.
  secure?.on("tlsClientError", () => {});

  const releaseAll = async () => {
    certificates?.close();
    await Promise.all([...controls.values()].map((c) => c.upstreams.close()));
    await limiting.close();
    await ownHot?.close();
  };
  const bound: { server: Server; port: number }[] = [];
  try {
    for (const [s, port, setting] of [
      [server, g.port, "gateway.port or pass --gateway-port"],
      ...(secure && tls ? [[secure, tls.port, "gateway.tls.port"] as const] : []),
    ] as const) {
      await listen(s, g.host, port, setting);
      bound.push({ server: s, port: (s.address() as AddressInfo).port });
    }
  } catch (err) {
    await Promise.all(bound.map((b) => new Promise((r) => b.server.close(r))));
    await releaseAll();
    throw err;
  }
  if (bound[1]) tlsPort = bound[1].port;
  const host = g.host.includes(":") ? `[${g.host}]` : g.host;
  return {
    server,
    url: `http://${host}:${(bound[0] as { port: number }).port}`,
    ...(bound[1] ? { httpsUrl: `https://${host}:${bound[1].port}` } : {}),
    certificates: () => certificates?.status() ?? [],
    async close() {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeIdleConnections();
            }),
        ),
      );
      await releaseAll();
    },
  };
}

async function listen(server: Server, host: string, port: number, setting: string): Promise<void> {
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
function answerMalformed(err: NodeJS.ErrnoException, socket: Duplex): void {
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

// Plain HTTP when TLS is on: a permanent redirect that keeps the method (308) to the same host and path.
function redirectToHttps(req: IncomingMessage, res: ServerResponse, tlsPort: number): void {
  const host = hostName(req.headers.host);
  if (!host || !(req.url ?? "").startsWith("/")) {
    res.writeHead(400, { "content-type": "text/plain", connection: "close" }).end("bad request\n");
    return;
  }
  const location = `https://${host}${tlsPort === 443 ? "" : `:${tlsPort}`}${req.url}`;
  res.writeHead(308, { location, "content-length": 0, "cache-control": "no-store" }).end();
}
