// `rampart secrets run`: starts a command with the secrets under a path prefix as environment
// variables (read through the API), forwards signals and exits with its code. `--watch` polls the
// versions and restarts the command when one changes. Values are never printed.
import { type ChildProcess, spawn } from "node:child_process";
import { type Command, InvalidArgumentError } from "commander";
import { defaultConfig, loadConfig } from "../config/index.ts";
import { type ApiCall, serverApi } from "./server-api.ts";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The three reads `secrets run` makes; the API client implements them. */
export interface SecretsReader {
  list(prefix: string): Promise<string[]>;
  get(path: string): Promise<{ version: number; data: Record<string, string> }>;
  /** The newest version of the path (0 for none), from its metadata. */
  currentVersion(path: string): Promise<number>;
}

const encodePath = (path: string) => path.split("/").map(encodeURIComponent).join("/");

/** The reader over the control plane's /api/v1/secrets routes. */
export function apiSecretsReader(call: ApiCall): SecretsReader {
  return {
    async list(prefix) {
      return (await call<{ paths: string[] }>("GET", `/api/v1/secrets/list${encodePath(prefix)}`)).paths;
    },
    get: (path) => call("GET", `/api/v1/secrets/data${encodePath(path)}`),
    async currentVersion(path) {
      const meta = await call<{ currentVersion: number }>(
        "GET",
        `/api/v1/secrets/metadata${encodePath(path)}`,
      );
      return meta.currentVersion;
    },
  };
}

/** Checks `--path` against `--env`: a prefix `/env`, `/env/service`, or one secret `/env/service/name`. */
export function scopeOf(env: string, path: string): { prefix: string } | { secret: string } {
  const parts = path.replace(/\/+$/, "").split("/");
  if (
    parts[0] !== "" ||
    parts.length < 2 ||
    parts.length > 4 ||
    !parts.slice(1).every((p) => SEGMENT.test(p))
  ) {
    throw new Error(`--path: expected /environment[/service[/name]], got ${JSON.stringify(path)}`);
  }
  if (parts[1] !== env) {
    throw new Error(`--path ${path} is in environment '${parts[1]}', but --env says '${env}'`);
  }
  const clean = parts.join("/");
  return parts.length === 4 ? { secret: clean } : { prefix: `${clean}/` };
}

export interface Loaded {
  /** Variable name → value. */
  env: Record<string, string>;
  /** Path → version read, to compare with later polls. */
  versions: Map<string, number>;
}

/** Reads every secret in scope and maps each key to a variable; refuses clashes and bad names. */
export async function loadEnvironment(
  reader: SecretsReader,
  scope: ReturnType<typeof scopeOf>,
): Promise<Loaded> {
  const paths = "secret" in scope ? [scope.secret] : (await reader.list(scope.prefix)).toSorted();
  const env: Record<string, string> = {};
  const from = new Map<string, string>();
  const versions = new Map<string, number>();
  for (const path of paths) {
    const value = await reader.get(path);
    versions.set(path, value.version);
    for (const [key, v] of Object.entries(value.data)) {
      if (!ENV_NAME.test(key)) {
        throw new Error(`${path}: key ${JSON.stringify(key)} is not a valid environment variable name`);
      }
      const other = from.get(key);
      if (other !== undefined)
        throw new Error(`${other} and ${path} both define ${key}: rename one of the keys`);
      from.set(key, path);
      env[key] = v;
    }
  }
  return { env, versions };
}

/** Whether the secrets in scope changed since `versions` was read (new, gone or a new version). */
export async function changedSince(
  reader: SecretsReader,
  scope: ReturnType<typeof scopeOf>,
  versions: ReadonlyMap<string, number>,
): Promise<boolean> {
  const paths = "secret" in scope ? [scope.secret] : await reader.list(scope.prefix);
  if (paths.length !== versions.size || paths.some((p) => !versions.has(p))) return true;
  for (const path of paths) if ((await reader.currentVersion(path)) !== versions.get(path)) return true;
  return false;
}

export interface RunOptions {
  command: string;
  args: readonly string[];
  scope: ReturnType<typeof scopeOf>;
  reader: SecretsReader;
  watch?: boolean;
  intervalMs?: number;
  /** How long a stopping child gets after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
  /** The environment the secrets are added to (default process.env). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Progress lines (names and versions, never values). */
  log?: (line: string) => void;
  /** Stops watching and ends the child, as a signal would. */
  signal?: AbortSignal;
  /** Whether to forward SIGINT/SIGTERM/SIGHUP of this process to the child. */
  forwardSignals?: boolean;
}

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Runs the command with the secrets; resolves with its exit code (128+n when a signal ended it). */
export async function runWithSecrets(o: RunOptions): Promise<number> {
  const log = o.log ?? (() => {});
  const interval = o.intervalMs ?? 5000;
  const stopTimeout = o.stopTimeoutMs ?? 10_000;
  let loaded = await loadEnvironment(o.reader, o.scope);
  log(
    `starting ${o.command} with ${Object.keys(loaded.env).length} variables from ${loaded.versions.size} secrets`,
  );

  let child: ChildProcess;
  let exited: Promise<number>;
  const start = () => {
    child = spawn(o.command, o.args, {
      stdio: "inherit",
      env: { ...(o.baseEnv ?? process.env), ...loaded.env },
    });
    exited = new Promise<number>((resolve) => {
      child.once("error", (err) => {
        log(`cannot start ${o.command}: ${err.message}`);
        resolve(127);
      });
      child.once("exit", (code, signal) => resolve(code ?? 128 + signalNumber(signal)));
    });
  };
  const stop = async (): Promise<number> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), stopTimeout);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  let stopping = false;
  const forward = (sig: NodeJS.Signals) => {
    stopping = true;
    child.kill(sig);
  };
  if (o.forwardSignals) for (const s of FORWARDED) process.on(s, forward);
  const onAbort = () => {
    stopping = true;
    void stop();
  };
  o.signal?.addEventListener("abort", onAbort);
  start();
  try {
    for (;;) {
      if (!o.watch) return await exited!;
      const outcome = await Promise.race([exited!.then((code) => ({ code })), sleep(interval, o.signal)]);
      if (outcome && "code" in outcome) return outcome.code;
      if (stopping || o.signal?.aborted) return await exited!;
      let next: Loaded | undefined;
      try {
        if (!(await changedSince(o.reader, o.scope, loaded.versions))) continue;
        next = await loadEnvironment(o.reader, o.scope);
      } catch (err) {
        // The API away or a rotation half done: keep the running child, try again next round.
        log(`cannot check secrets (${(err as Error).message}); keeping ${o.command} running`);
        continue;
      }
      const changed = [...next.versions]
        .filter(([p, v]) => loaded.versions.get(p) !== v)
        .map(([p, v]) => `${p}@${v}`);
      log(`secrets changed (${changed.join(", ") || "paths removed"}); restarting ${o.command}`);
      loaded = next;
      await stop();
      if (stopping) return await exited!;
      start();
    }
  } finally {
    if (o.forwardSignals) for (const s of FORWARDED) process.off(s, forward);
    o.signal?.removeEventListener("abort", onAbort);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve(undefined);
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
const signalNumber = (s: NodeJS.Signals | null) => (s ? (SIGNALS[s] ?? 1) : 1);

/** `5s`, `500ms`, `2m` → milliseconds (at least 100 ms). */
export function parseInterval(text: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(text.trim());
  const ms = m
    ? Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] as "ms" | "s" | "m"] as number)
    : Number.NaN;
  if (!(ms >= 100))
    throw new InvalidArgumentError("expected a duration of at least 100ms, such as 5s, 500ms or 1m");
  return ms;
}

/** Registers `rampart secrets run` under the `secrets` command group. */
export function registerSecretsRunCommand(secrets: Command): void {
  secrets
    .command("run")
    .description(
      "run a command with the secrets under a path as environment variables (values never printed)",
    )
    .requiredOption("--env <environment>", "the environment the path belongs to (its first segment)")
    .requiredOption("--path <path>", "a prefix such as /prod/api, or one secret /prod/api/db")
    .option("--watch", "restart the command when a secret gets a new version")
    .option("--interval <duration>", "how often --watch checks versions", parseInterval, 5000)
    .option("-c, --config <file>", "rampart.yaml (default: embedded defaults)")
    .option("--server <url>", "the control plane to use (default: the one running on this data directory)")
    .argument("<command...>", "the command and its arguments, after --")
    .action(
      async (
        argv: string[],
        o: { env: string; path: string; watch?: boolean; interval: number; config?: string; server?: string },
      ) => {
        const scope = scopeOf(o.env, o.path);
        const config = o.config ? await loadConfig(o.config) : defaultConfig();
        const found = serverApi(config, o.server);
        if (!found) {
          throw new Error(
            "no running server found: start `rampart up` or `rampart server`, or pass --server URL",
          );
        }
        const [command, ...args] = argv as [string, ...string[]];
        process.exitCode = await runWithSecrets({
          command,
          args,
          scope,
          reader: apiSecretsReader(found.call),
          watch: o.watch === true,
          intervalMs: o.interval,
          forwardSignals: true,
          log: (line) => process.stderr.write(`rampart secrets run: ${line}\n`),
        });
      },
    );
}
