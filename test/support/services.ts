// Real PostgreSQL and Redis servers for tests, started on loopback from the Debian packages, and
// small helpers for the servers tests start themselves.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface RunningService {
  url: string;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** A PostgreSQL server that can also be taken down and brought back with its data (failure tests). */
export interface RestartableService extends RunningService {
  halt(): Promise<void>;
  resume(): Promise<void>;
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function postgresBin(name: string): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = join(root, v, "bin", name);
    if (existsSync(p)) return p;
  }
  throw new Error(
    `PostgreSQL server binary '${name}' not found: install it (apt-get install postgresql) or set RAMPART_TEST_PG_URL`,
  );
}

// PostgreSQL refuses to run as root, so as root the cluster runs as the 'postgres' user. The
// process is started with that uid directly (not through runuser) so signals reach it.
function postgresUser(): { uid: number; gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}

async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${what} did not start within ${timeoutMs} ms`);
}

/**
 * Starts a throwaway PostgreSQL cluster (user 'rampart') on a free loopback port. By default every
 * connection is trusted. With `passwords`, TCP connections of every role need their password
 * (SCRAM-SHA-256) and the superuser 'rampart' gets that password (it is in the returned URL); only
 * the unix socket in the cluster's directory stays on trust.
 */
export async function startPostgres(opts: { passwords?: string } = {}): Promise<RestartableService> {
  const dir = mkdtempSync(join(tmpdir(), "rampart-pg-"));
  if (process.getuid?.() === 0) execFileSync("chown", ["postgres", dir]);
  const port = await freePort();
  const data = join(dir, "data");
  const user = postgresUser();
  const pwfile = join(dir, "pwfile");
  const auth =
    opts.passwords === undefined
      ? ["-A", "trust"]
      : ["--auth-local=trust", "--auth-host=scram-sha-256", `--pwfile=${pwfile}`];
  if (opts.passwords !== undefined) {
    writeFileSync(pwfile, `${opts.passwords}\n`, { mode: 0o600 });
    if (process.getuid?.() === 0) execFileSync("chown", ["postgres", pwfile]);
  }
  try {
    execFileSync(postgresBin("initdb"), ["-D", data, "-U", "rampart", ...auth, "--no-instructions"], {
      stdio: "ignore",
      ...user,
    });
  } finally {
    rmSync(pwfile, { force: true });
  }
  const args = [
    "-D",
    data,
    "-p",
    String(port),
    "-k",
    dir,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "max_connections=200",
  ];
  const login = opts.passwords === undefined ? "rampart" : `rampart:${encodeURIComponent(opts.passwords)}`;
  const url = `postgres://${login}@127.0.0.1:${port}/postgres`;
  const launch = async () => {
    const p = spawn(postgresBin("postgres"), args, { stdio: "ignore", ...user });
    const pg = await import("pg");
    await waitFor(async () => {
      const c = new pg.default.Client({ connectionString: url });
      await c.connect();
      await c.end();
      return true;
    }, "PostgreSQL");
    return p;
  };
  let proc = await launch();
  return {
    url,
    stop: () => stopProcess(proc, dir),
    halt: () => stopProcess(proc),
    resume: async () => {
      proc = await launch();
    },
  };
}

/** Starts a throwaway Redis (no persistence) on a free loopback port. */
export async function startRedis(port?: number): Promise<RunningService> {
  const p = port ?? (await freePort());
  const proc = spawn(
    "redis-server",
    ["--port", String(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: "ignore",
    },
  );
  proc.on("error", () => {});
  const url = `redis://127.0.0.1:${p}`;
  const { Redis } = await import("ioredis");
  await waitFor(async () => {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on("error", () => {}); // refused while starting: waitFor retries
    try {
      await r.connect();
      return (await r.ping()) === "PONG";
    } finally {
      r.disconnect();
    }
  }, "Redis (install it with apt-get install redis-server, or set RAMPART_TEST_REDIS_URL)");
  return { url, stop: () => stopProcess(proc) };
}

async function stopProcess(proc: ChildProcess, dir?: string): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGINT");
    await Promise.race([exited, sleep(5000)]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** Starts `server` on a free loopback port and returns its `http://127.0.0.1:port` URL. */
export async function listenLocal(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
