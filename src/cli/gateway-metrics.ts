// Prometheus metrics and health probes of a standalone gateway, on a listener of their own. One
// process serves its registry; with --workers, each worker fills its own and the primary serves
// their sum, collected over the cluster channel (prom-client's AggregatorRegistry).
import cluster from "node:cluster";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { AggregatorRegistry, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { listen } from "../network/gateway/listeners.ts";
import type { Logger } from "../platform/logging.ts";

/** The registry a gateway process records into; a worker's is also offered to the primary. */
export function gatewayRegistry(): Registry {
  const registry = new Registry();
  // Heap, resident memory, open descriptors, event-loop lag and GC: what a soak and an operator watch.
  collectDefaultMetrics({ register: registry });
  if (cluster.isWorker) {
    // Constructing one installs prom-client's answer to the primary's requests in this worker.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries(registry);
  }
  return registry;
}

/**
 * The gateway's operations listener: `GET /metrics` from `render`, `GET /healthz` (the process's
 * event loop answers: for a liveness probe) and `GET /readyz` (200 while `ready()`, else 503: for a
 * readiness probe). Anything else is a 404.
 */
export async function serveMetrics(
  at: { host: string; port: number },
  render: () => Promise<string>,
  logger: Logger,
  ready: () => boolean = () => true,
): Promise<Server> {
  const text = (res: ServerResponse, status: number, body: string) =>
    res.writeHead(status, { "content-type": "text/plain", "cache-control": "no-store" }).end(body);
  const server = createServer((req, res) => {
    const path = req.method === "GET" ? req.url : undefined;
    if (path === "/healthz") return text(res, 200, "ok\n");
    if (path === "/readyz") return ready() ? text(res, 200, "ready\n") : text(res, 503, "not ready\n");
    if (path !== "/metrics") return text(res, 404, "not found: GET /metrics, /healthz or /readyz\n");
    render().then(
      (body) => res.writeHead(200, { "content-type": Registry.PROMETHEUS_CONTENT_TYPE }).end(body),
      (err: unknown) => {
        logger.warn({ err: (err as Error).message }, "metrics could not be collected");
        text(res, 503, "metrics unavailable\n");
      },
    );
  });
  await listen(server, at.host, at.port, "gateway.metrics.port");
  logger.info(
    { url: `http://${at.host}:${(server.address() as AddressInfo).port}/metrics` },
    "gateway metrics",
  );
  return server;
}

/** In the --workers primary: every worker's metrics, summed. */
export function clusterMetrics(): () => Promise<string> {
  const aggregator = new AggregatorRegistry();
  return () => aggregator.clusterMetrics();
}

/**
 * `rampart_gateway_config_info{fingerprint="…"} 1`: the config this process runs, so a dashboard
 * can show replicas that disagree. Returns the setter for each applied reload.
 */
export function gatewayConfigInfo(registry: Registry): (fingerprint: string) => void {
  const info = new Gauge({
    name: "rampart_gateway_config_info",
    help: "1, labelled with the fingerprint of the config in force (sha256 prefix of its canonical form).",
    labelNames: ["fingerprint"],
    registers: [registry],
  });
  return (fingerprint) => {
    info.reset();
    info.set({ fingerprint }, 1);
  };
}
