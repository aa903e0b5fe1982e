// A real `rampart server` process, as an operator runs it (bin/rampart.js on the pinned Node), and
// PostgreSQL's own client tools (pg_dump, pg_restore) for the backup and restore procedures.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../bin/rampart.js", import.meta.url));

export interface ServerProcess {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly child: ChildProcess;
  stderr(): string;
  /** SIGTERM (graceful: events flushed, final checkpoint signed), then the exit code. */
  stop(): Promise<number | null>;
}

/** Every process started here, so a suite's afterAll can kill what a failed test left running. */
export const serverProcesses = new Set<ChildProcess>();

/**
 * Runs `rampart server -c <config>` in `cwd` with only PATH, HOME and `env`, and waits until
 * `/readyz` answers 200. Rejects with the process's stderr if it exits first or does not get ready.
 */
export async function startServerProcess(o: {
  cwd: string;
  config: string;
  port: number;
  env?: Record<string, string>;
}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [bin, "server", "-c", o.config], {
    cwd: o.cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...o.env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  serverProcesses.add(child);
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once("exit", r));
  void exited.then(() => serverProcesses.delete(child));
  const url = `http://127.0.0.1:${o.port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`rampart server exited (${child.exitCode}): ${stderr}`);
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    if (res?.status === 200) break;
    if (i > 400) {
      child.kill("SIGKILL");
      throw new Error(`rampart server did not get ready: ${stderr}`);
    }
    await sleep(100);
  }
  return {
    url,
    child,
    stderr: () => stderr,
    stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/**
 * Runs `rampart server -c <config>` expecting it to refuse to start; resolves with its exit code
 * and stderr (rejects if it is still running after `timeoutMs`).
 */
export function serverStartRefused(o: {
  cwd: string;
  config: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [bin, "server", "-c", o.config],
      {
        cwd: o.cwd,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...o.env },
        timeout: o.timeoutMs ?? 30_000,
      },
      (error, _stdout, stderr) => {
        if (error?.killed) reject(new Error(`rampart server kept running: ${stderr}`));
        else resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stderr });
      },
    );
  });
}

/** A PostgreSQL client tool: Debian's newest /usr/lib/postgresql/<v>/bin, else the PATH. */
export function postgresTool(name: "pg_dump" | "pg_restore"): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = join(root, v, "bin", name);
    if (existsSync(p)) return p;
  }
  return name;
}

/** Runs a PostgreSQL client tool; rejects with its stderr on a non-zero exit. */
export function runPostgresTool(name: "pg_dump" | "pg_restore", args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(postgresTool(name), args, { timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${name} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}
