// The gateway's data plane: node:http and node:https listeners whose requests go through the
// pipeline in force (pipeline.ts: admission, then forwarding to an upstream pool). This file
// listens, swaps in a new pipeline on a config reload, and shuts down in order.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Registry } from "prom-client";
import type { GatewayConfig, RouteConfig } from "../../config/index.ts";
import type { IdentityConfig, RbacConfig } from "../../identity/index.ts";
import { type Clock, systemClock } from "../../platform/clock.ts";
import { Unavailable } from "../../platform/errors.ts";
import { createMemoryHotState, type HotState } from "../../platform/hotstate/index.ts";
import type { Logger } from "../../platform/logging.ts";
import type { SecurityEvent } from "../../platform/events/index.ts";
import { watchBlocks } from "./blocks.ts";
import { createGatewayMetrics } from "./decisions.ts";
import { sendError } from "./error-page.ts";
import { relayUpgrade, WAF_REFUSAL, wafRefuses } from "./forward.ts";
import { openCountryLookup } from "./geo.ts";
import { watchLockdowns } from "./lockdown.ts";
import { answerAcmeHttp01, answerMalformed, listen, redirectToHttps, refuseSocket } from "./listeners.ts";
import {
  buildPipeline,
  LISTENER_KEYS,
  listenerChanges,
  type Pipeline,
  type PipelineContext,
} from "./pipeline.ts";
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
  /**
   * Applies new routes, identity settings and `gateway.*` settings without a restart: requests
   * already admitted finish under the old ones. Listener settings (host, port, tls, client
   * timeouts, header size) keep their start-up values and are named in `restartRequired`.
   * Rejects, keeping the config in force, when the new one cannot be built (an unreadable file).
   */
  reload(next: {
    routes: readonly RouteConfig[];
    identity?: { identity: IdentityConfig; rbac: Partial<RbacConfig> } | undefined;
    gateway?: GatewayConfig | undefined;
  }): Promise<GatewayReload>;
  close(): Promise<void>;
}

export interface GatewayReload {
  /** Routes in force after the reload. */
  routes: number;
  /** `gateway.*` settings that changed but apply only after a restart (the listeners'). */
  restartRequired: string[];
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
  const hot = opts.hot ?? (ownHot as HotState);
  // The pipeline in force; a reload replaces it with one assignment (see pipeline.ts).
  let current: Pipeline | undefined;
  // Dynamic blocks and lockdowns live in hot state; without a shared one they still work within
  // this process. The country database opens for a country block only when one is set.
  const blocks = await watchBlocks(hot, {
    clock,
    logger: opts.logger,
    openCountries: async () =>
      current?.countries ?? (await openCountryLookup((current?.config.gateway ?? g).geo.database)),
  });
  const lockdowns = await watchLockdowns(hot, { clock, logger: opts.logger });
  // Registered once for the gateway's life (prom-client refuses a name twice); read the pipeline in force.
  const metrics = opts.registry
    ? createGatewayMetrics(opts.registry, () =>
        (current?.routes ?? []).flatMap((c) =>
          c.upstreams.members.map((u) => ({
            route: c.name,
            upstream: u.origin,
            healthy: c.upstreams.healthy(u),
          })),
        ),
      )
    : undefined;
  const context: PipelineContext = {
    hot,
    emit: opts.emit,
    metrics,
    source: opts.source,
    clock,
    logger: opts.logger,
    blocks,
    lockdowns,
  };
  try {
    current = await buildPipeline({ gateway: g, routes: opts.routes, identity: opts.identity }, context);
  } catch (err) {
    await Promise.all([blocks.close(), lockdowns.close()]);
    await ownHot?.close();
    throw err;
  }
  const retiring = new Set<Promise<void>>();
  let reloads: Promise<unknown> = Promise.resolve();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The request stays on the pipeline that admitted it, whatever reload happens meanwhile.
    const p = current as Pipeline;
    const leave = p.enter();
    res.once("close", leave);
    const started = performance.now();
    let routeName = "none";
    res.once("finish", () =>
      p.decisions.answered(routeName, res.statusCode, (performance.now() - started) / 1000),
    );
    const a = await p.admit(req);
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
    await p.forward(req, res, a);
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const p = current as Pipeline;
    const leave = p.enter();
    try {
      socket.on("error", () => socket.destroy());
      const a = await p.admit(req);
      if (a.refused) return refuseSocket(socket, a.status, a.message, a.requestId, a.headers);
      // An upgrade has no body: its head is all the WAF can see.
      if (p.waf && wafRefuses(p.waf, p.decisions, req, a))
        return refuseSocket(socket, 403, WAF_REFUSAL, a.requestId, {});
      await relayUpgrade(req, socket, head, a, (status, message) =>
        refuseSocket(socket, status, message, a.requestId, {}),
      );
      const reauthorize = a.reauthorize;
      if (reauthorize && !socket.destroyed) {
        p.hold(socket);
        watchUpgrade(socket, reauthorize);
      }
    } finally {
      // Once joined, a WebSocket no longer holds its pipeline's upstream pool (undici hands the
      // socket over), so it does not keep a reload waiting.
      leave();
    }
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
  // Past maxConnections Node closes a new connection at once ("drop"): said once a minute.
  let droppedAt = 0;
  const dropped = () => {
    const t = clock.now().getTime();
    if (t - droppedAt < 60_000) return;
    droppedAt = t;
    opts.logger?.warn(
      { maxConnections: g.maxConnections },
      "gateway.maxConnections reached: new connections are being closed",
    );
  };
  for (const s of servers) {
    s.maxConnections = g.maxConnections;
    s.on("drop", dropped);
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

  let closing: Promise<void> | undefined;
  const releaseAll = async () => {
    for (const t of watched) clearInterval(t);
    acme?.close();
    certificates?.close();
    await Promise.all(retiring);
    await current?.retire();
    await blocks.close();
    await lockdowns.close();
    await ownHot?.close();
  };

  /** Builds a pipeline from `next` and swaps it in; the old one retires once its requests are done. */
  async function reload(next: {
    routes: readonly RouteConfig[];
    identity?: { identity: IdentityConfig; rbac: Partial<RbacConfig> } | undefined;
    gateway?: GatewayConfig | undefined;
  }): Promise<GatewayReload> {
    const run = reloads.then(async (): Promise<GatewayReload> => {
      if (closing) throw new Unavailable("the gateway is shutting down; not reloading its config");
      const old = current as Pipeline;
      const wanted = next.gateway ?? old.config.gateway;
      // The listeners keep the settings they were built with; the report says which changed.
      const restartRequired = listenerChanges(g, wanted);
      const kept = Object.fromEntries(LISTENER_KEYS.map((k) => [k, g[k]]));
      const gateway = { ...wanted, ...kept } as GatewayConfig;
      const identity = next.identity ?? old.config.identity;
      const built = await buildPipeline({ gateway, routes: next.routes, identity }, context, old);
      current = built;
      const done = old.retire().catch((err: unknown) => {
        opts.logger?.warn({ err: (err as Error).message }, "gateway: releasing the previous config failed");
      });
      retiring.add(done);
      void done.finally(() => retiring.delete(done));
      if (restartRequired.length > 0)
        opts.logger?.warn(
          { settings: restartRequired },
          "gateway config reloaded; these settings take effect after a restart",
        );
      return { routes: next.routes.length, restartRequired };
    });
    reloads = run.catch(() => undefined);
    return run;
  }

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
  // Only now: the CA's validation has to reach the listeners.
  acme?.start();
  const host = g.host.includes(":") ? `[${g.host}]` : g.host;
  return {
    server,
    url: `http://${host}:${(bound[0] as { port: number }).port}`,
    ...(bound[1] ? { httpsUrl: `https://${host}:${bound[1].port}` } : {}),
    certificates: () => certificates?.status() ?? [],
    ...(acme ? { acme: { renewDue: acme.renewDue } } : {}),
    reload,
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
        // A reload under way finishes first, so the pipeline it builds is the one released.
        await reloads;
        await releaseAll();
      })();
      return closing;
    },
  };
}
