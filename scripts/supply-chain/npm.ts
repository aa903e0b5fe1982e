// Runs the npm CLI the developer or CI already has, capturing its output. The gate reads npm's own
// JSON rather than reimplementing dependency resolution or advisory matching.
import { spawn } from "node:child_process";

/** The gate could not be evaluated (npm missing, registry unreachable, unreadable input): exit 2. */
export class CannotRun extends Error {
  override readonly name = "CannotRun";
}

export interface NpmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm ARGS` in `cwd`; resolves with its exit code (npm audit exits 1 when it finds anything). */
export function runNpm(args: readonly string[], cwd: string): Promise<NpmResult> {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  return new Promise((resolve, reject) => {
    const child = spawn(npm, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => reject(new CannotRun(`cannot start npm (${e.message}): is npm on PATH?`)));
    child.on("close", (code) =>
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }),
    );
  });
}

/** npm's JSON output, or CannotRun quoting the start of what npm printed instead. */
export function npmJson(result: NpmResult, what: string): unknown {
  try {
    return JSON.parse(result.stdout) as unknown;
  } catch {
    const said = lastErrorLine(result.stderr) ?? result.stdout.slice(0, 200);
    throw new CannotRun(`${what} did not print JSON (exit ${result.code}): ${said}`);
  }
}

/** The last `npm error` line of stderr, without credentials that a registry URL may carry. */
export function lastErrorLine(stderr: string): string | undefined {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^npm (error|ERR!)/.test(l) && !/complete log of this run/.test(l));
  const line = lines.at(-1);
  return line === undefined ? undefined : withoutUserinfo(line);
}

/** Drops `user:password@` from URLs in a message. */
export const withoutUserinfo = (s: string): string => s.replace(/(\w+:\/\/)[^/\s@]+@/g, "$1");
