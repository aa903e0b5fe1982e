// Processes the sizing bench starts, pinned to a core when taskset is there, and what it reads of
// them from /proc (CPU time, resident memory). Everything started is stopped by `stopAll`.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export const hasTaskset = (() => {
  try {
    execFileSync("sh", ["-c", "command -v taskset"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Fails with the Debian package to install when `bin` is missing. */
export function need(bin: string, pkg: string): void {
  try {
    execFileSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" });
  } catch {
    throw new Error(`${bin} is not installed: apt-get install ${pkg}`);
  }
}

/** `cmd args` on core `core` (taskset execs the command, so the pid is the command's). */
export function pinned(core: number | undefined, cmd: string, args: string[]): [string, string[]] {
  return hasTaskset && core !== undefined ? ["taskset", ["-c", String(core), cmd, ...args]] : [cmd, args];
}

export class Procs {
  private readonly list: ChildProcess[] = [];
  private closed = false;

  start(
    core: number | undefined,
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
  ): ChildProcess {
    if (this.closed) throw new Error(`not starting ${cmd}: the bench is stopping`);
    const [c, a] = pinned(core, cmd, args);
    const p = spawn(c, a, { stdio: ["ignore", "ignore", "pipe"], env });
    let err = "";
    p.stderr?.on("data", (d: Buffer) => {
      if (err.length < 4000) err += d.toString();
    });
    p.on("error", () => {});
    p.once("exit", (code, signal) => {
      if (code !== 0 && signal === null) process.stderr.write(`  ! ${cmd} exited ${code}: ${err.trim()}\n`);
    });
    this.list.push(p);
    return p;
  }

  /** SIGTERM, then SIGKILL after `graceMs`, for one process. */
  async stop(p: ChildProcess, graceMs = 5000): Promise<void> {
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    await Promise.race([exited, sleep(graceMs)]);
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  }

  /** Stops every process started, and refuses to start more. */
  async stopAll(): Promise<void> {
    this.closed = true;
    await Promise.all(this.list.map((p) => this.stop(p)));
  }
}

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the command: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Resident memory of a process, bytes. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** Share of all CPUs (percent) in use over `ms`, from /proc/stat; -1 where that cannot be read. */
export async function machineBusy(ms: number): Promise<number> {
  const read = () => {
    const f = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
      .trim()
      .split(/\s+/)
      .slice(1, 9)
      .map(Number);
    return { total: f.reduce((a, b) => a + b, 0), idle: (f[3] ?? 0) + (f[4] ?? 0) };
  };
  try {
    const a = read();
    await sleep(ms);
    const b = read();
    const total = Math.max(1, b.total - a.total);
    return Math.round((100 * (total - (b.idle - a.idle))) / total);
  } catch {
    return -1;
  }
}

/** Sets the CPU affinity of this process's threads (children started later inherit it). */
export function pinSelf(cores: string): boolean {
  if (!hasTaskset) return false;
  try {
    execFileSync("taskset", ["-a", "-cp", cores, String(process.pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves once `url` answers (2xx unless `anyStatus`). Fails at once when `proc` exits, and after
 * `timeoutMs` (a gateway compiling its WAF on a busy core can take well over 15 s to listen).
 */
export async function waitServing(
  url: string,
  proc: ChildProcess | undefined,
  o: { anyStatus?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 90_000);
  while (Date.now() < deadline) {
    if (proc && (proc.exitCode !== null || proc.signalCode !== null))
      throw new Error(`${url}: the process serving it exited (${proc.exitCode ?? proc.signalCode})`);
    const ok = await fetch(url)
      .then(async (r) => {
        await r.body?.cancel();
        return o.anyStatus === true || r.ok;
      })
      .catch(() => false);
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`${url} did not answer within ${Math.round((o.timeoutMs ?? 90_000) / 1000)} s`);
}
