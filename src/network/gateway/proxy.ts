// The gateway's data plane: a node:http server that routes each request to an upstream pool and
// streams bodies both ways. Controls (IP rules, rate limits, WAF, …) slot in as checks that run
// before the request is forwarded.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { Transform } from "node:stream";
import { EventEmitter, once } from "node:events";
import { errors as undiciErrors } from "undici";
import type { GatewayConfig, RouteConfig } from "../../config/index.ts";
import { type Clock, systemClock } from "../../platform/clock.ts";
import { createMemoryHotState, type HotState } from "../../platform/hotstate/index.ts";
import type { Logger } from "../../platform/logging.ts";
import type { SecurityEvent } from "../../platform/events/index.ts";
import type { Registry } from "prom-client";
import { createClientIpResolver, normalizeIp } from "./client-ip.ts";
import { compileCors, type Cors } from "./cors.ts";
import { sendError } from "./error-page.ts";
import { createDecisionRecorder, createGatewayMetrics } from "./decisions.ts";
import { answerMalformed, listen, redirectToHttps, refuseSocket } from "./listeners.ts";
import { compileGeoRules, type GeoPolicy, openCountryLookup } from "./geo.ts";
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
  geo: GeoPolicy | undefined;
}

interface Admitted {
  refused: false;
  requestId: string;
  path: string;
  encrypted: boolean;
  rc: RouteControls;
  client: string;
  rateHeaders: Record<string, string> | undefined;
  forwardHeaders: Record<string, string | string[]>;
}

interface Refusal {
  refused: true;
  status: number;
  message: string;
  headers: Record<string, string>;
  requestId: string;
  /** The route, when the request got that far. */
  route: string | undefined;
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
  /** Where decisions go as security events (aggregated per client and route every 10 s). */
  emit?: (e: SecurityEvent) => void;
  /** Registry for the gateway's Prometheus metrics. */
  registry?: Registry;
  /** Names this gateway in events (`source`). */
  source?: string;
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
  const countries = opts.routes.some((r) => r.geo) ? await openCountryLookup(g.geo.database) : undefined;
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
          geo: c.geo ? compileGeoRules(c.geo, g.geo.unknownCountries) : undefined,
        },
      ];
    }),
  );
  const clientIp = createClientIpResolver(g.trustedProxies);
  const metrics = opts.registry
    ? createGatewayMetrics(opts.registry, () =>
        [...controls.values()].flatMap((c) =>
          c.upstreams.members.map((u) => ({
            route: c.name,
            upstream: u.origin,
            healthy: c.upstreams.healthy(u),
          })),
        ),
      )
    : undefined;
  const decisions = createDecisionRecorder({ emit: opts.emit, metrics, clock, source: opts.source });
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

  // What every request goes through before it is forwarded: who the client is, which route, and
  // the route's checks. Shared by plain requests and WebSocket upgrades.
  async function admit(req: IncomingMessage): Promise<Admitted | Refusal> {
    const requestId = randomUUID();
    const { peer, trusted } = peerOf(req.socket);
    const encrypted = (req.socket as TLSSocket).encrypted === true;
    const forwardedFor = req.headers["x-forwarded-for"];
    const client =
      trusted && forwardedFor !== undefined
        ? clientIp.client(peer, Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
        : peer;
    const path = req.url ?? "/";
    const refuse = (
      status: number,
      message: string,
      route?: string,
      headers: Record<string, string> = {},
    ): Refusal => ({
      refused: true,
      status,
      message,
      headers,
      requestId,
      route,
    });
    if (!path.startsWith("/")) return refuse(400, "the request target must be a path");
    const r = route(hostName(req.headers.host), path);
    if (!r) return refuse(404, "no route for this host and path");
    const rc = controls.get(r) as RouteControls;
    if (rc.ipRules.refuses(client)) {
      decisions.record("ip_denied", rc.name, client);
      return refuse(403, "requests from your address are not allowed here", rc.name);
    }
    const country = rc.geo ? countries?.country(client) : undefined;
    if (rc.geo?.refuses(country)) {
      decisions.record("geo_denied", rc.name, client, country ?? "unknown");
      return refuse(403, "requests from your country are not allowed here", rc.name);
    }
    const rate = rc.limiter ? await rc.limiter.check(client, rc.name, req.headers) : undefined;
    if (rate?.kind === "unavailable")
      return refuse(503, "rate limiting is unavailable; try again shortly", rc.name, { "retry-after": "5" });
    if (rate?.kind === "limited") {
      decisions.record("rate_limited", rc.name, client, rate.limit);
      return refuse(429, "too many requests", rc.name, {
        "retry-after": String(rate.retryAfterS),
        ...rate.headers,
      });
    }
    const forwardHeaders = upstreamRequestHeaders(req.headers, {
      client,
      peer,
      peerTrusted: trusted,
      proto: encrypted ? "https" : "http",
      requestId,
    });
    return {
      refused: false,
      requestId,
      path,
      encrypted,
      rc,
      client,
      rateHeaders: rate?.headers,
      forwardHeaders,
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let routeName = "none";
    res.once("finish", () =>
      decisions.answered(routeName, res.statusCode, (performance.now() - started) / 1000),
    );
    const a = await admit(req);
    routeName = a.refused ? (a.route ?? "none") : a.rc.name;
    if (a.refused) return sendError(req, res, a.status, a.message, a.requestId, a.headers);
    const { requestId, path, encrypted, rc, forwardHeaders: headers } = a;
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
    // undici takes an EventEmitter as a signal: far cheaper per request than an AbortController.
    const abort = new EventEmitter();
    let aborted = false;
    res.once("close", () => {
      if (res.writableFinished) return;
      aborted = true;
      abort.emit("abort");
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
          signal: abort,
        });
        set.succeeded(u);
        const out = clientResponseHeaders(up.headers);
        addMissing(out, encrypted ? rc.securityHeaders.https : rc.securityHeaders.http);
        if (rc.cors) Object.assign(out, rc.cors.responseHeaders(req.headers));
        if (a.rateHeaders) Object.assign(out, a.rateHeaders);
        out["x-request-id"] = requestId;
        res.writeHead(up.statusCode, out);
        try {
          for await (const chunk of up.body) if (!res.write(chunk)) await once(res, "drain");
          res.end();
        } catch {
          res.destroy();
        }
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
        if (aborted) return;
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
  }

  // WebSocket (and any other HTTP/1.1 Upgrade): the same admission as a request, then the
  // upstream's 101 is relayed and the two sockets are joined until either side closes.
  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on("error", () => socket.destroy());
    const a = await admit(req);
    if (a.refused) return refuseSocket(socket, a.status, a.message, a.requestId, a.headers);
    const u = a.rc.upstreams.pick();
    if (!u) return refuseSocket(socket, 503, "no healthy upstream for this route", a.requestId, {});
    const protocol = String(req.headers.upgrade ?? "");
    let up: Awaited<ReturnType<typeof u.pool.upgrade>>;
    try {
      up = await u.pool.upgrade({
        path: a.path,
        method: req.method ?? "GET",
        headers: a.forwardHeaders,
        protocol,
      });
      a.rc.upstreams.succeeded(u);
    } catch {
      a.rc.upstreams.failed(u);
      return refuseSocket(socket, 502, "the upstream refused the upgrade", a.requestId, {});
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
  for (const s of servers) {
    s.on("clientError", answerMalformed);
    s.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (s === server && tls?.redirectHttp) return refuseSocket(socket, 426, "use HTTPS", "-", {});
      upgrade(req, socket, head).catch(() => socket.destroy());
    });
  }
  // A failed handshake (garbage, an old protocol version) only closes that connection.
  secure?.on("tlsClientError", () => {});

  const releaseAll = async () => {
    decisions.close();
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
