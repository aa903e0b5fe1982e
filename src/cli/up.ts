// `rampart up` and `rampart server`: start, print where things are, stop cleanly on a signal.
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import cluster from "node:cluster";
import { resolve } from "node:path";
import {
  ConfigError,
  defaultConfig,
  type GatewayConfig,
  loadConfig,
  loadConfigStaged,
  type RampartConfig,
  routeConfigSchema,
  type SecretResolver,
} from "../config/index.ts";
import { startGateway } from "../network/gateway/proxy.ts";
import { configFingerprint, watchGatewayConfig } from "../network/gateway/config-reload.ts";
import { gatewayConfigInfo, gatewayRegistry, serveMetrics } from "./gateway-metrics.ts";
import { Invalid, RampartError, Unavailable } from "../platform/errors.ts";
import { createEventForwarder, type SecurityEvent } from "../platform/events/index.ts";
import { createHotState } from "../platform/hotstate/index.ts";
import type { Logger } from "../platform/logging.ts";
import { startSampleApp } from "../server/demo.ts";
import { consoleDistDir } from "../server/console.ts";
import { adminTokenPath, type RunningServer, startServer } from "../server/index.ts";

function stopOnSignals(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: flushing events and signing a final checkpoint");
    stop()
      .then(() => process.exit(0))
      .catch((err) => {
        logger.error({ err: (err as Error).message }, "shutdown failed");
        process.exit(1);
      });
  };
  process.once("SIGINT", () => handler("SIGINT"));
  process.once("SIGTERM", () => handler("SIGTERM"));
}

export async function runServer(o: { config: string }, logger: Logger): Promise<RunningServer> {
  const server = await startServer({ configPath: o.config, logger });
  logger.info(
    { url: server.url, environment: server.runtime.config.environment, store: server.runtime.store.kind },
    "rampart server listening",
  );
  stopOnSignals(() => server.stop(), logger);
  return server;
}

const SECRET_READ_TIMEOUT_MS = 10_000;

/**
 * `${secret:…}` through the control plane's API (GET /api/v1/secrets/data/<path>) with the
 * gateway's credential; errors carry the server's message (which names no value), never a body.
 */
export function secretsOverApi(url: string, token: string): SecretResolver {
  const base = url.replace(/\/+$/, "");
  return async (path) => {
    let res: Response;
    try {
      res = await fetch(`${base}/api/v1/secrets/data${path}`, {
        headers: { authorization: `Bearer ${token}`, accept: "application/json" },
        signal: AbortSignal.timeout(SECRET_READ_TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new Unavailable(`cannot reach the control plane at ${new URL(base).origin} (${cause})`);
    }
    const body = (await res.json().catch(() => undefined)) as
      { data?: unknown; error?: unknown; message?: unknown } | undefined;
    if (!res.ok) {
      const said = typeof body?.message === "string" ? `: ${body.message}` : "";
      throw new RampartError(
        typeof body?.error === "string" ? body.error : "unavailable",
        res.status,
        `the control plane answered ${res.status}${said}`,
      );
    }
    const data = body?.data;
    if (
      data === null ||
      typeof data !== "object" ||
      Array.isArray(data) ||
      !Object.values(data).every((v) => typeof v === "string")
    )
      throw new Unavailable("the control plane's answer holds no secret data");
    return data as Record<string, string>;
  };
}

/**
 * A gateway's config: `${secret:…}` references are read through the control plane that
 * gateway.controlPlane (or `--control-plane`) names, which therefore cannot use one itself.
 */
export async function loadGatewayConfig(path: string, controlPlaneUrl?: string): Promise<RampartConfig> {
  const staged = await loadConfigStaged(path, {
    bootstrap: ["version", "environment", "gateway.controlPlane"],
    because: "the gateway reads secrets through the control plane it names",
  });
  if (staged.complete) return staged.config;
  const cp = staged.bootstrap.gateway.controlPlane;
  const url = controlPlaneUrl ?? cp?.url;
  if (!cp || !url)
    throw new ConfigError(
      staged.references.map((issue) => ({
        ...issue,
        message:
          "${secret:…} needs a control plane to read it from: set gateway.controlPlane (url and token), or pass --control-plane URL",
      })),
    );
  return loadConfig(path, { secrets: secretsOverApi(url, cp.token) });
}

export async function runGateway(
  o: { config: string; gatewayPort?: number; controlPlane?: string },
  logger: Logger,
): Promise<void> {
  const config = await loadGatewayConfig(o.config, o.controlPlane);
  const cp = config.gateway.controlPlane;
  const url = o.controlPlane ?? cp?.url;
  if (url && !cp)
    throw new Invalid(
      `needs an ingest token: add gateway.controlPlane.token to ${o.config} (e.g. token: "\${env:RAMPART_INGEST_TOKEN}")`,
      "--control-plane",
    );
  if (cp && !url)
    throw new Invalid(
      `has no url: set it in ${o.config}, or pass --control-plane URL`,
      "gateway.controlPlane",
    );
  // Every batch is spooled on disk before it is sent, so the control plane may come and go.
  const forwarder =
    cp && url
      ? await createEventForwarder({
          url,
          token: cp.token,
          tokenSetting: "gateway.controlPlane.token",
          spoolDir: resolve(cp.spoolDir),
          spoolMaxBytes: cp.spoolMaxBytes,
          batchMaxEvents: cp.batchMaxEvents,
          batchMaxDelayMs: cp.batchMaxDelayMs,
          source: `gateway-${hostname()}`,
          logger,
        })
      : undefined;
  if (!forwarder)
    logger.warn(
      "no control plane (gateway.controlPlane, --control-plane): security events are not sent anywhere",
    );
  // Redis from hotState.redisUrl shares rate limits with every other replica.
  const hot = createHotState({ redisUrl: config.hotState.redisUrl }, { logger });
  const metrics = config.gateway.metrics;
  const registry = metrics ? gatewayRegistry() : undefined;
  const withPort = (g: GatewayConfig): GatewayConfig => ({
    ...g,
    ...(o.gatewayPort !== undefined ? { port: o.gatewayPort } : {}),
  });
  const gateway = await startGateway({
    gateway: withPort(config.gateway),
    routes: config.routes,
    hot,
    identity: { identity: config.identity, rbac: config.rbac },
    ...(forwarder ? { emit: (e: SecurityEvent) => forwarder.emit(e) } : {}),
    ...(registry ? { registry } : {}),
    logger,
  }).catch(async (err: unknown) => {
    await Promise.all([hot.close(), forwarder?.close()]);
    throw err;
  });
  // Each process (each --workers worker too) follows the file itself: a ConfigMap update or a
  // SIGHUP reaches every one. References resolve through the control plane it started with.
  const configInfo = registry ? gatewayConfigInfo(registry) : undefined;
  const watch = await watchGatewayConfig({
    path: o.config,
    initial: config,
    gateway,
    secrets: async (path) => {
      const plane = config.gateway.controlPlane;
      const at = o.controlPlane ?? plane?.url;
      if (!plane || !at)
        throw new Invalid(
          "${secret:…} needs a control plane to read it from: set gateway.controlPlane (url and token) and restart, or pass --control-plane URL",
          "gateway.controlPlane",
        );
      return secretsOverApi(at, plane.token)(path);
    },
    override: withPort,
    logger,
    ...(configInfo ? { onApplied: configInfo } : {}),
  });
  configInfo?.(watch.fingerprint());
  logger.info(
    {
      url: gateway.url,
      routes: config.routes.length,
      fingerprint: watch.fingerprint(),
      controlPlane: url ? new URL(url).origin : undefined,
    },
    "rampart gateway listening",
  );
  // A worker's metrics are served by the primary. Ready until a stop begins, and not while draining.
  let stopping = false;
  const metricsServer =
    metrics && registry && !cluster.isWorker
      ? await serveMetrics(
          metrics,
          () => registry.metrics(),
          logger,
          () => !stopping,
        )
      : undefined;
  stopOnSignals(async () => {
    stopping = true;
    watch.close();
    await gateway.close(); // sends the decisions counted since the last interval
    metricsServer?.close();
    await Promise.all([forwarder?.close(), hot.close()]);
  }, logger);
}

export async function runUp(
  o: { config?: string; port?: number; gatewayPort?: number; dataDir?: string },
  logger: Logger,
): Promise<void> {
  // Command-line flags win over the file, on every reload too.
  const override = (c: RampartConfig): RampartConfig => ({
    ...c,
    server: { ...c.server, ...(o.port !== undefined ? { port: o.port } : {}) },
    database: { ...c.database, ...(o.dataDir ? { dataDir: o.dataDir } : {}) },
  });
  const server = await startServer({
    ...(o.config ? { configPath: o.config } : { config: defaultConfig() }),
    override,
    logger,
  });
  const config = server.runtime.config;
  const demo = o.config ? undefined : await startSampleApp(0);
  // The demo's one route: everything to the sample app, through the gateway.
  const routes = demo ? [routeConfigSchema.parse({ upstream: demo.url })] : config.routes;
  const gateway =
    routes.length > 0
      ? await startGateway({
          gateway: { ...config.gateway, ...(o.gatewayPort !== undefined ? { port: o.gatewayPort } : {}) },
          routes,
          hot: server.runtime.hot,
          identity: { identity: config.identity, rbac: config.rbac },
          emit: (e) => server.runtime.bus.emit(e),
          registry: server.runtime.metrics.registry,
          source: "gateway",
          logger,
        })
      : undefined;
  // The server reloads the file (change, SIGHUP) and says so with a `config.reloaded` event; the
  // embedded gateway then applies the server's new config. The demo's route is not from a file.
  const unfollow =
    o.config && !demo
      ? server.runtime.bus.subscribe(async (events) => {
          if (!events.some((e) => e.type === "config.reloaded")) return;
          const next = server.runtime.config;
          if (!gateway) {
            if (next.routes.length > 0)
              logger.warn(
                "routes were added, but the gateway was not started with any: restart to serve them",
              );
            return;
          }
          await gateway
            .reload({
              routes: next.routes,
              identity: { identity: next.identity, rbac: next.rbac },
              gateway: { ...next.gateway, ...(o.gatewayPort !== undefined ? { port: o.gatewayPort } : {}) },
            })
            .then(
              (r) =>
                logger.info(
                  { routes: r.routes, ...(o.config ? { fingerprint: configFingerprint(o.config) } : {}) },
                  "gateway config reloaded",
                ),
              (err: unknown) =>
                logger.error(
                  { err: (err as Error).message },
                  "gateway config could not be applied; keeping the running one",
                ),
            );
        })
      : undefined;
  const tokenFile = adminTokenPath(resolve(config.database.dataDir));
  const api = server.url;
  const tries = [
    ...(demo && gateway
      ? [`curl -i ${gateway.url}/api/orders    (the sample app through the gateway: security headers added)`]
      : []),
    `curl ${api}/healthz`,
    `curl -H "Authorization: Bearer $(cat ${tokenFile})" '${api}/api/v1/audit/entries?limit=5'\n      (the signed audit log already holds 'server.started'; every security event lands here)`,
    "npx rampart audit verify        (checks every entry against its MAC and the signed checkpoints)",
    ...(demo && gateway
      ? [
          "npx rampart blocks add 127.0.0.1 --for 2m --reason demo\n      (try 1 now answers 403 at the gateway; npx rampart blocks remove 127.0.0.1 lifts it)",
        ]
      : []),
  ];
  const lines = [
    "",
    "  Rampart is up.",
    "",
    `  control plane   ${api}          (health: ${api}/healthz, metrics: ${api}/metrics)`,
    `  web console     ${api}/console/   ${existsSync(resolve(consoleDistDir, "index.html")) ? "(sign in with the admin token)" : "(not built yet: npm run build:console)"}`,
    `  API docs        ${api}/api/docs`,
    `  storage         ${server.runtime.store.kind === "pglite" ? `embedded PostgreSQL in ${server.runtime.dataDir}` : "PostgreSQL"}`,
    `  admin token     ${process.env.RAMPART_ADMIN_TOKEN ? "from RAMPART_ADMIN_TOKEN" : tokenFile}`,
    ...(gateway
      ? [`  edge gateway    ${gateway.url}  (${routes.length} route${routes.length === 1 ? "" : "s"})`]
      : []),
    ...(demo ? [`  sample app      ${demo.url}  (behind the gateway)`] : []),
    "",
    "  Try:",
    ...tries.map((t, i) => `   ${i + 1}. ${t}`),
    "",
    "  Stop with Ctrl-C: pending events are flushed and a final checkpoint is signed.",
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  stopOnSignals(async () => {
    unfollow?.();
    await gateway?.close();
    await demo?.close();
    await server.stop();
  }, logger);
}
