// `rampart gateway --workers N`: N gateway processes on the same ports through node:cluster, so one
// machine's cores all serve traffic. The primary only supervises: it forks, restarts a worker that
// dies, and passes a stop signal on. Workers share nothing but hot state, so limits that must hold
// across them need Redis. Each worker follows the config file on its own (runGateway's watch, file
// change, and SIGHUP passed on by the primary); the primary's checks below run at start only.
import cluster, { type Worker } from "node:cluster";
import { cpus } from "node:os";
import { Invalid } from "../platform/errors.ts";
import type { Logger } from "../platform/logging.ts";
import { clusterMetrics, serveMetrics } from "./gateway-metrics.ts";
import { loadGatewayConfig } from "./up.ts";

/** `auto` is one worker per core. */
export function parseWorkers(text: string): number {
  if (text === "auto") return cpus().length;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new Invalid(`expected a number of processes from 1 to 256, or "auto"; got ${text}`, "--workers");
  return n;
}

const RESTARTS_PER_MINUTE = 5;

export async function superviseGateway(
  o: { config: string; workers: number; controlPlane?: string },
  logger: Logger,
): Promise<void> {
  // A bad file (or a reference that cannot be read) fails here, once, not in every worker.
  const config = await loadGatewayConfig(o.config, o.controlPlane);
  if (!config.hotState.redisUrl && config.routes.some((r) => r.rateLimits.length > 0))
    throw new Invalid(
      "rate limits would count per process; set hotState.redisUrl so the workers share them, or run one worker",
      "--workers",
    );
  if (config.gateway.tls?.acme)
    throw new Invalid(
      "gateway.tls.acme orders and answers challenges in one process; run one worker, or use certificate files",
      "--workers",
    );
  const workers = new Set<Worker>();
  const serving = new Set<Worker>();
  let stopping = false;
  const restarts: number[] = [];

  const fork = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const w = cluster.fork();
      workers.add(w);
      let listened = false;
      w.once("listening", () => {
        listened = true;
        serving.add(w);
        resolve();
      });
      w.once("exit", (code, signal) => {
        workers.delete(w);
        serving.delete(w);
        if (stopping) return;
        if (!listened)
          return reject(new Error(`gateway worker exited before it listened (${code ?? signal})`));
        const now = Date.now();
        restarts.push(now);
        while ((restarts[0] ?? now) < now - 60_000) restarts.shift();
        if (restarts.length > RESTARTS_PER_MINUTE) {
          logger.error({ restarts: restarts.length }, "gateway workers keep dying; stopping");
          return void stop(1);
        }
        logger.warn({ pid: w.process.pid, code, signal }, "gateway worker died; starting another");
        fork().catch(() => {});
      });
    });

  const stop = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    const exits = [...workers].map((w) => new Promise((r) => w.once("exit", r)));
    for (const w of workers) w.process.kill("SIGTERM");
    await Promise.all(exits);
    process.exit(exitCode);
  };
  process.once("SIGINT", () => void stop(0));
  process.once("SIGTERM", () => void stop(0));
  // Reload: each worker reads the file again (without a handler, SIGHUP would end the primary).
  process.on("SIGHUP", () => {
    for (const w of workers) w.process.kill("SIGHUP");
  });

  try {
    await Promise.all(Array.from({ length: o.workers }, fork));
  } catch {
    // A worker that cannot start (port in use, …) has said why on stderr; its siblings go too.
    await stop(2);
  }
  logger.info({ workers: o.workers, pid: process.pid }, "rampart gateway workers listening");
  if (config.gateway.metrics)
    // Ready while a worker serves and no stop has begun.
    await serveMetrics(
      config.gateway.metrics,
      clusterMetrics(),
      logger,
      () => !stopping && serving.size > 0,
    ).catch(async (err: unknown) => {
      process.stderr.write(`rampart: ${(err as Error).message}\n`);
      await stop(2);
    });
}
