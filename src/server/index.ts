// `rampart server` / `rampart up`: runs the control plane until a signal stops it.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import {
  type ConfigWatcher,
  createConfigWatcher,
  defaultConfig,
  loadConfig,
  loadConfigStaged,
  type RampartConfig,
  type SecretResolver,
} from "../config/index.ts";
import { Conflict } from "../platform/errors.ts";
import { newEvent, systemActor } from "../platform/events/index.ts";
import type { Logger } from "../platform/logging.ts";
import { buildApp } from "./app.ts";
import { type Runtime, startRuntime } from "./runtime.ts";

export { buildApp } from "./app.ts";
export { adminTokenPath, type Runtime, startRuntime } from "./runtime.ts";

export interface RunningServer {
  readonly runtime: Runtime;
  readonly app: FastifyInstance;
  readonly url: string;
  stop(): Promise<void>;
}

// Built into long-lived parts at start (listener, store, hot state, audit log, token keys, service
// accounts, RBAC roles): a reload cannot swap them. The JIT policy and routes follow reloads.
const restartSections = ["server", "database", "hotState", "audit", "identity", "rbac"] as const;

/**
 * What opens the store and the secrets store, so `${secret:…}` cannot be used here. Rotation
 * schedules are left out: their admin URLs are meant to be references, read once the store is open.
 */
export const bootstrapSections = [
  "version",
  "environment",
  "server",
  "database",
  "hotState",
  "events",
  "audit",
  "secrets.root",
  "secrets.kekRotationDays",
  "secrets.maxVersions",
  "secrets.policies",
  "secrets.kubernetes",
] as const;

/** Where a running server records its address, so local CLI commands can reach it. */
export function serverStatePath(dataDir: string): string {
  return join(dataDir, "server.json");
}

/** The URL of a server running on this data directory, if its process is alive. */
export function runningServerUrl(dataDir: string): string | undefined {
  const path = serverStatePath(dataDir);
  if (!existsSync(path)) return undefined;
  try {
    const { pid, url } = JSON.parse(readFileSync(path, "utf8")) as { pid: number; url: string };
    process.kill(pid, 0);
    return url;
  } catch {
    return undefined;
  }
}

/** Starts the control plane from a config file (watched and hot-reloaded) or from a config object. */
export async function startServer(opts: {
  config?: RampartConfig;
  configPath?: string;
  /** Applied to the loaded config and to every reload (command-line flags). */
  override?: (config: RampartConfig) => RampartConfig;
  logger: Logger;
}): Promise<RunningServer> {
  const { logger } = opts;
  const override = opts.override ?? ((c: RampartConfig) => c);
  let watcher: ConfigWatcher | undefined;
  let runtime: Runtime | undefined;
  const path = opts.configPath;
  // A file with `${secret:…}` references: start from its bootstrap sections, then resolve the
  // rest through the store they open (startRuntime's resolveConfig).
  const staged = path
    ? await loadConfigStaged(path, {
        bootstrap: bootstrapSections,
        because: "the secrets store needs this section to open",
      })
    : undefined;
  let loaded = staged?.complete ? staged.config : undefined;
  const resolveConfig =
    path && staged && !staged.complete
      ? async (secrets: SecretResolver) => {
          loaded = await loadConfig(path, { secrets });
          return override(loaded);
        }
      : undefined;
  const watch = async (rt: Runtime) => {
    if (!path || !loaded) return undefined;
    return createConfigWatcher({
      path,
      initial: loaded,
      secrets: rt.configSecrets,
      onChange: (reloaded) => {
        const next = override(reloaded);
        const restartRequired = restartSections.filter(
          (k) => JSON.stringify(next[k]) !== JSON.stringify(rt.config[k]),
        );
        rt.config = next;
        rt.bus.emit(
          newEvent({
            type: "config.reloaded",
            actor: systemActor,
            retention: "audit",
            data: { environment: next.environment, restartRequired },
          }),
        );
        if (restartRequired.length > 0) {
          logger.warn(
            { sections: restartRequired },
            "configuration reloaded; these sections take effect after a restart",
          );
        } else logger.info("configuration reloaded");
      },
      onRejected: (err) => {
        rt.bus.emit(
          newEvent({
            type: "config.rejected",
            actor: systemActor,
            severity: "medium",
            outcome: "failure",
            retention: "audit",
            data: {
              issues: err.issues.length,
              first: err.issues[0]
                ? `${err.issues[0].line}:${err.issues[0].column} ${err.issues[0].path}`
                : "",
            },
          }),
        );
        logger.warn(
          { issues: err.issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`) },
          "new configuration rejected; keeping the running one",
        );
      },
    });
  };
  const config = override(
    staged ? (staged.complete ? staged.config : staged.bootstrap) : (opts.config ?? defaultConfig()),
  );
  let app: FastifyInstance | undefined;
  let url: string;
  try {
    runtime = await startRuntime({
      config,
      logger,
      ...(resolveConfig ? { resolveConfig } : {}),
      ...(path ? { configDir: dirname(resolve(path)), configPath: resolve(path) } : {}),
    });
    watcher = await watch(runtime);
    app = await buildApp(runtime);
    const { host, port } = runtime.config.server;
    const address = await app.listen({ host, port }).catch((err) => {
      if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
      throw new Conflict(`${host}:${port} is already in use; set server.port or pass --port`);
    });
    url = address.replace("[::1]", "localhost");
    // Against PostgreSQL nothing else may have made the data directory.
    mkdirSync(runtime.dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(serverStatePath(runtime.dataDir), JSON.stringify({ pid: process.pid, url }), {
      mode: 0o600,
    });
  } catch (err) {
    // Nothing may keep running when start fails: the caller reports and exits.
    watcher?.close();
    await app?.close().catch(() => {});
    await runtime?.close().catch(() => {});
    throw err;
  }
  const rt = runtime;
  const server = app;
  let stopping: Promise<void> | undefined;
  return {
    runtime: rt,
    app: server,
    url,
    stop() {
      stopping ??= (async () => {
        watcher?.close();
        await server.close();
        await rt.close();
        rmSync(serverStatePath(rt.dataDir), { force: true });
      })();
      return stopping;
    },
  };
}
