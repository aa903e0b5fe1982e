// The gateway's data plane: node:http and node:https listeners whose requests go through admission
// (admission.ts: client, route, checks) and are then forwarded to an upstream pool (forward.ts).
// This file wires those parts together, listens, and shuts down in order.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Registry } from "prom-client";
import type { GatewayConfig, RouteConfig } from "../../config/index.ts";
import {
  createGatewayAccess,
  type IdentityConfig,
  identityConfigSchema,
  type RbacConfig,
} from "../../identity/index.ts";
import { type Clock, systemClock } from "../../platform/clock.ts";
import { createMemoryHotState, type HotState } from "../../platform/hotstate/index.ts";
import type { Logger } from "../../platform/logging.ts";
import type { SecurityEvent } from "../../platform/events/index.ts";
import { createBuiltInWaf } from "../waf/index.ts";
import { createAdmission, type RouteControls } from "./admission.ts";
import { watchBlocks } from "./blocks.ts";
import { createBotProtection } from "./bots.ts";
import { createDecisionRecorder, createGatewayMetrics } from "./decisions.ts";
import { sendError } from "./error-page.ts";
import { createForwarder, relayUpgrade, WAF_REFUSAL, wafRefuses } from "./forward.ts";
import { openCountryLookup } from "./geo.ts";
import { watchLockdowns } from "./lockdown.ts";
import { answerAcmeHttp01, answerMalformed, listen, redirectToHttps, refuseSocket } from "./listeners.ts";
import { createRateLimiting } from "./rate-limit.ts";
import { type CertificateAutomation, createCertificateAutomation } from "./acme.ts";
import { type CertificateStatus, loadCertificates, serverTls } from "./tls.ts";

const WEBSOCKET_RECHECK_MS = 1000;

export interface Gateway {
  server: Server;
  /** `http://host:port` once listening. */
  url: string;
  /** `https://host:port` when TLS is configured. */
  httpsUrl?: string;
  /** The certificates in service, with their expiry. */
  certificates(): CertificateStatus[];
  /** With `gateway.tls.acme`: orders what is missing or due now (it also runs on its own timer). */
  acme?: Pick<CertificateAutomation, "renewDue">;
  close(): Promise<void>;
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
  /** Identity providers, service accounts and RBAC, for routes with `auth` or `policy`. */
  identity?: { identity: IdentityConfig; rbac: Partial<RbacConfig> };
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
  const countries = opts.routes.some((r) => r.geo || r.policy)
    ? await openCountryLookup(g.geo.database)
    : undefined;
  // The identity step, with Rampart's token endpoint and JWKS, when a route or a service needs it.
  const id = opts.identity;
  const access =
    opts.routes.some((r) => r.auth || r.policy) || (id?.identity.serviceAccounts.length ?? 0) > 0
      ? await createGatewayAccess({
          identity: id?.identity ?? identityConfigSchema.parse({}),
          rbac: id?.rbac ?? {},
          hotState: opts.hot ?? (ownHot as HotState),
          clock,
          emit: opts.emit ?? (() => {}),
          logger: opts.logger,
        })
      : undefined;
  // Dynamic blocks and lockdowns live in hot state; without a shared one they still work within
  // this process. The country database opens for a country block only when one is set.
  const blocks = await watchBlocks(opts.hot ?? (ownHot as HotState), {
    clock,
    logger: opts.logger,
    openCountries: async () => countries ?? (await openCountryLookup(g.geo.database)),
  });
  const lockdowns = await watchLockdowns(opts.hot ?? (ownHot as HotState), { clock, logger: opts.logger });
  let routeControls: readonly RouteControls[] = [];
  const metrics = opts.registry
    ? createGatewayMetrics(opts.registry, () =>
        routeControls.flatMap((c) =>
          c.upstreams.members.map((u) => ({
            route: c.name,
            upstream: u.origin,
            healthy: c.upstreams.healthy(u),
          })),
        ),
      )
    : undefined;
  const decisions = createDecisionRecorder({
    emit: opts.emit,
    metrics,
    clock,
    source: opts.source,
    intervalMs: g.eventIntervalSeconds * 1000,
  });
  const { admit, routes: compiled } = createAdmission({
    gateway: g,
    routes: opts.routes,
    limiting,
    countries,
    blocks,
    lockdowns,
    decisions,
    clock,
    bots: opts.routes.some((r) => r.bots) ? createBotProtection({ ...g.bots, clock }) : undefined,
    access,
  });
  routeControls = compiled;
  const waf = opts.routes.some((r) => r.waf && r.waf.mode !== "off") ? createBuiltInWaf() : undefined;
  const forward = createForwarder(g, decisions, waf);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let routeName = "none";
    res.once("finish", () =>
      decisions.answered(routeName, res.statusCode, (performance.now() - started) / 1000),
    );
    const a = await admit(req);
    routeName = a.refused ? (a.route ?? "none") : a.rc.name;
    if (a.refused && a.respond) {
      await a.respond(req, res);
      return;
    }
    if (a.refused) return sendError(req, res, a.status, a.message, a.requestId, a.headers);
    const preflight = a.rc.cors?.preflight(req.method, req.headers);
    if (preflight) {
      res.writeHead(preflight.status, {
        ...preflight.headers,
        "x-request-id": a.requestId,
        "content-length": 0,
      });
      res.end();
      return;
    }
    await forward(req, res, a);
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on("error", () => socket.destroy());
    const a = await admit(req);
    if (a.refused) return refuseSocket(socket, a.status, a.message, a.requestId, a.headers);
    // An upgrade has no body: its head is all the WAF can see.
    if (waf && wafRefuses(waf, decisions, req, a))
      return refuseSocket(socket, 403, WAF_REFUSAL, a.requestId, {});
    await relayUpgrade(req, socket, head, a, (status, message) =>
      refuseSocket(socket, status, message, a.requestId, {}),
    );
    const reauthorize = a.reauthorize;
    if (reauthorize) watchUpgrade(socket, reauthorize);
  }

  const serverOptions = {
    maxHeaderSize: g.maxHeaderBytes,
    // Node refuses a head timeout longer than the whole request's.
    headersTimeout: Math.min(g.clientHeaderTimeoutMs, g.clientRequestTimeoutMs),
    requestTimeout: g.clientRequestTimeoutMs,
    keepAliveTimeout: g.clientKeepAliveTimeoutMs,
    // How often Node looks for connections past those timeouts (default 30 s: too coarse).
    connectionsCheckingInterval: Math.min(1000, g.clientHeaderTimeoutMs),
  };
  // Read once at start, like the certificate files' first load: a missing file stops the gateway.
  const clientCa = g.tls?.clientCaFile ? readFileSync(g.tls.clientCaFile) : undefined;
  const certificates = g.tls
    ? loadCertificates(g.tls.certificates, {
        minVersion: g.tls.minVersion,
        clientCa,
        clock,
        logger: opts.logger,
        emit: opts.emit,
        registry: opts.registry,
        source: opts.source,
      })
    : undefined;
  const tls = g.tls;
  const acme =
    certificates && tls?.acme
      ? createCertificateAutomation(tls.acme, {
          store: certificates,
          clock,
          logger: opts.logger,
          emit: opts.emit,
          source: opts.source,
        })
      : undefined;
  let tlsPort = tls?.port ?? 443; // the bound port once listening (tls.port may be 0)
  const server = createServer(serverOptions, (req, res) => {
    if (acme && answerAcmeHttp01(req, res, acme.http01)) return;
    if (tls?.redirectHttp) return redirectToHttps(req, res, tlsPort);
    handle(req, res).catch(() => res.destroy());
  });
  const secure =
    certificates && tls
      ? createHttpsServer(
          {
            ...serverOptions,
            ...serverTls({ minVersion: tls.minVersion, clientCa }),
            SNICallback: (name, cb) => cb(null, certificates.contextFor(name)),
            ...certificates.defaultOptions(),
          },
          (req, res) => {
            handle(req, res).catch(() => res.destroy());
          },
        )
      : undefined;
  if (secure && certificates && tls)
    certificates.onDefaultChange((pem) =>
      secure.setSecureContext({ ...pem, ...serverTls({ minVersion: tls.minVersion, clientCa }) }),
    );
  if (secure && acme) acme.attach(secure);
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

  // An open WebSocket is checked again every second (sessions, tokens, grants and the policy come
  // from per-replica caches, so this costs no I/O); revoked or expired access closes it.
  const watched = new Set<NodeJS.Timeout>();
  function watchUpgrade(socket: Duplex, reauthorize: () => Promise<boolean>): void {
    let checking = false;
    const timer = setInterval(() => {
      if (checking) return;
      checking = true;
      reauthorize()
        .then((ok) => {
          if (!ok) socket.destroy();
        })
        .catch(() => socket.destroy())
        .finally(() => {
          checking = false;
        });
    }, WEBSOCKET_RECHECK_MS);
    timer.unref();
    watched.add(timer);
    socket.once("close", () => {
      clearInterval(timer);
      watched.delete(timer);
    });
  }

  const releaseAll = async () => {
    for (const t of watched) clearInterval(t);
    await access?.close();
    decisions.close();
    acme?.close();
    certificates?.close();
    await blocks.close();
    await lockdowns.close();
    await Promise.all(routeControls.map((c) => c.upstreams.close()));
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
  let closing: Promise<void> | undefined;
  // Only now: the CA's validation has to reach the listeners.
  acme?.start();
  const host = g.host.includes(":") ? `[${g.host}]` : g.host;
  return {
    server,
    url: `http://${host}:${(bound[0] as { port: number }).port}`,
    ...(bound[1] ? { httpsUrl: `https://${host}:${bound[1].port}` } : {}),
    certificates: () => certificates?.status() ?? [],
    ...(acme ? { acme: { renewDue: acme.renewDue } } : {}),
    close() {
      // Once: a second call waits for the first.
      closing ??= (async () => {
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
      })();
      return closing;
    },
  };
}
