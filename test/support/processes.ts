// Rampart as operators run it: `bin/rampart.js server|gateway …` processes on the pinned Node, with
// only the environment they are given, waited on until they answer.
import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../bin/rampart.js", import.meta.url));

export interface RampartProcess {
  readonly child: ChildProcess;
  stderr(): string;
  /** SIGTERM (graceful), then the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash, nothing flushed. Resolves once the process is gone. */
  kill(): Promise<void>;
}

/** Every process started here, so a suite's afterAll can kill what a failed test left running. */
export const rampartProcesses = new Set<ChildProcess>();

export function killAllRampartProcesses(): void {
  for (const c of rampartProcesses) c.kill("SIGKILL");
}

/**
 * Starts `rampart <args>` in `cwd` and waits until `ready` answers (any HTTP status), or rejects
 * with the process's stderr when it exits first or is not up within `timeoutMs`.
 */
export async function startRampart(
  args: string[],
  o: { cwd: string; ready: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<RampartProcess> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: o.cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", RAMPART_LOG_LEVEL: "warn", ...o.env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  rampartProcesses.add(child);
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once("exit", r));
  void exited.then(() => rampartProcesses.delete(child));
  const deadline = Date.now() + (o.timeoutMs ?? 40_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`rampart ${args[0]} exited (${child.exitCode}): ${stderr}`);
    if (await fetch(o.ready).catch(() => undefined)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`rampart ${args[0]} did not start: ${stderr}`);
    }
    await sleep(100);
  }
  return {
    child,
    stderr: () => stderr,
    stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Polls `check` every 50 ms until it holds; rejects naming `what` after `timeoutMs`. Resolves with the ms it took. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
  return Date.now() - started;
}
