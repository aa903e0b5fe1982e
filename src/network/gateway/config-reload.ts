// A standalone gateway follows its config file: on a change (or SIGHUP) the file is read again,
// `${secret:…}` references resolved through the control plane, and the routes, identity and
// gateway settings applied to the running gateway without a restart. In Kubernetes every replica
// mounts the same ConfigMap; the fingerprint each one logs shows they all run the same config.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  type ConfigWatcher,
  createConfigWatcher,
  formatConfigIssue,
  type GatewayConfig,
  type RampartConfig,
  type SecretResolver,
} from "../../config/index.ts";
import type { Logger } from "../../platform/logging.ts";
import type { Gateway } from "./proxy.ts";

/**
 * A short name for a config file: the first 12 hex digits of the SHA-256 of its text as written,
 * references unresolved, so no secret value goes into a hash that logs and metrics show. Equal on
 * every replica that reads the same file.
 */
export function configFingerprint(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 12);
}

// What `rampart gateway` reads once at start, outside the gateway's listeners: the Redis
// connection, the metrics listener and the event forwarder.
const PROCESS_SETTINGS: readonly [string, (c: RampartConfig) => unknown][] = [
  ["hotState", (c) => c.hotState],
  ["gateway.metrics", (c) => c.gateway.metrics],
  ["gateway.controlPlane", (c) => c.gateway.controlPlane],
];

export interface GatewayConfigWatch {
  /** The fingerprint of the config in force. */
  fingerprint(): string;
  /** Reads the file again now (what SIGHUP does). */
  reload: ConfigWatcher["reload"];
  close(): void;
}

/**
 * Watches `path` and applies each valid change to `gateway`. An invalid file is logged once with
 * its located problems (`file:line:column`) and the running config stays.
 */
export async function watchGatewayConfig(o: {
  path: string;
  /** The config the gateway started from. */
  initial: RampartConfig;
  gateway: Pick<Gateway, "reload">;
  /** Resolves `${secret:…}` on every reload (the control plane's API). */
  secrets?: SecretResolver | undefined;
  /** Command-line settings that win over the file (`--gateway-port`), on every reload too. */
  override?: (g: GatewayConfig) => GatewayConfig;
  logger: Logger;
  /** After each applied reload, with the new config's fingerprint. */
  onApplied?: (fingerprint: string) => void;
  debounceMs?: number;
}): Promise<GatewayConfigWatch> {
  const override = o.override ?? ((g: GatewayConfig) => g);
  const started = o.initial;
  let fingerprint = configFingerprint(o.path);
  let lastRejected: string | undefined;
  const apply = async (config: RampartConfig) => {
    const next = configFingerprint(o.path);
    try {
      const result = await o.gateway.reload({
        routes: config.routes,
        identity: { identity: config.identity, rbac: config.rbac },
        gateway: override(config.gateway),
      });
      fingerprint = next;
      lastRejected = undefined;
      const restartRequired = [
        ...result.restartRequired,
        ...PROCESS_SETTINGS.filter(
          ([, read]) => JSON.stringify(read(config)) !== JSON.stringify(read(started)),
        ).map(([name]) => name),
      ];
      o.logger.info(
        { routes: result.routes, fingerprint, ...(restartRequired.length > 0 ? { restartRequired } : {}) },
        "gateway config reloaded",
      );
      o.onApplied?.(fingerprint);
    } catch (err) {
      // The file was valid but could not be put in service (an unreadable upstream CA file, …).
      o.logger.error(
        { err: (err as Error).message, fingerprint: next },
        "gateway config could not be applied; keeping the running one",
      );
    }
  };
  const watcher = await createConfigWatcher({
    path: o.path,
    initial: started,
    ...(o.secrets ? { secrets: o.secrets } : {}),
    ...(o.debounceMs !== undefined ? { debounceMs: o.debounceMs } : {}),
    onChange: (config) => void apply(config),
    onRejected: (error) => {
      const issues = error.issues.map(formatConfigIssue);
      // Editors and the kubelet touch a file several times per change: say it once.
      const said = issues.join("\n");
      if (said === lastRejected) return;
      lastRejected = said;
      o.logger.error({ issues }, "new gateway config rejected; keeping the running one");
    },
  });
  return { fingerprint: () => fingerprint, reload: watcher.reload, close: () => watcher.close() };
}
