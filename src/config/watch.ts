import { type FSWatcher, watch } from "node:fs";
import { basename, dirname } from "node:path";
import { ConfigError } from "./errors.ts";
import { type ConfigEnv, loadConfig, type ReadTextFile, type SecretResolver } from "./load.ts";
import type { RampartConfig } from "./schema.ts";

export interface ConfigWatcherOptions {
  path: string;
  env?: ConfigEnv;
  readFile?: ReadTextFile;
  /** Resolves `${secret:…}` on every load; a reload it cannot resolve is rejected like any bad file. */
  secrets?: SecretResolver;
  /** The config already loaded from `path` (the server's start-up): used instead of a first load. */
  initial?: RampartConfig;
  /** Called after a changed, valid config has been swapped in. Should not throw. */
  onChange?: (config: RampartConfig) => void;
  /** Called when a new file is invalid; the current config stays. The caller emits `config.rejected`. */
  onRejected?: (error: ConfigError) => void;
  /** Quiet period after the last file event before reloading; editors write in several steps. */
  debounceMs?: number;
}

export type ConfigReloadResult =
  | { status: "changed"; config: RampartConfig }
  | { status: "unchanged"; config: RampartConfig }
  | { status: "rejected"; error: ConfigError; config: RampartConfig };

export interface ConfigWatcher {
  /** The config in force: a deeply frozen object, replaced whole on each accepted reload. */
  current(): RampartConfig;
  /** Reload now; concurrent calls share a reload that has not started yet. */
  reload(): Promise<ConfigReloadResult>;
  /** Stop watching the file and listening for SIGHUP. */
  close(): void;
}

/** Load the config at `path` (throws ConfigError if invalid) and reload it on change and on SIGHUP. */
export async function createConfigWatcher(options: ConfigWatcherOptions): Promise<ConfigWatcher> {
  const { path, debounceMs = 100 } = options;
  const load = () =>
    loadConfig(path, {
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.readFile === undefined ? {} : { readFile: options.readFile }),
      ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
    });

  // Readers hold a reference to one frozen object, so a swap is a single assignment and nobody
  // ever sees a config that is half old and half new.
  let current = deepFreeze(options.initial ?? (await load()));
  let fingerprint = JSON.stringify(current);
  let closed = false;

  const applyOnce = async (): Promise<ConfigReloadResult> => {
    let next: RampartConfig;
    try {
      next = await load();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      if (!closed) options.onRejected?.(error);
      return { status: "rejected", error, config: current };
    }
    const nextFingerprint = JSON.stringify(next);
    if (nextFingerprint === fingerprint) return { status: "unchanged", config: current };
    current = deepFreeze(next);
    fingerprint = nextFingerprint;
    if (!closed) options.onChange?.(current);
    return { status: "changed", config: current };
  };

  // Reloads run one at a time, in order; a request made while one is waiting joins it, since it
  // will read the newest file anyway.
  let tail: Promise<unknown> = Promise.resolve();
  let waiting: Promise<ConfigReloadResult> | undefined;
  const reload = (): Promise<ConfigReloadResult> => {
    if (waiting !== undefined) return waiting;
    const next = tail.then(() => {
      waiting = undefined;
      return applyOnce();
    });
    waiting = next;
    tail = next.catch(() => undefined);
    return next;
  };

  const triggered = () => {
    if (closed) return;
    reload().catch((error: unknown) => {
      // Only a throwing callback or a bug gets here; surface it as an uncaught error, as an
      // EventEmitter listener's would be, rather than swallow it.
      queueMicrotask(() => {
        throw error;
      });
    });
  };

  let timer: NodeJS.Timeout | undefined;
  const scheduled = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      triggered();
    }, debounceMs);
    timer.unref();
  };

  // Watch the directory, not the file: editors and Kubernetes replace the file by rename, which
  // would leave a watch on the old inode blind. Kubernetes swaps a `..data` symlink.
  const name = basename(path);
  let watcher: FSWatcher | undefined = watch(dirname(path), { persistent: false }, (_event, filename) => {
    if (filename === null || filename === name || filename.startsWith("..")) scheduled();
  });
  watcher.on("error", () => {
    // The directory went away; SIGHUP and reload() still work.
    watcher?.close();
    watcher = undefined;
  });

  process.on("SIGHUP", triggered);

  return {
    current: () => current,
    reload,
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      watcher?.close();
      watcher = undefined;
      process.off("SIGHUP", triggered);
    },
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
