// Runs the real `rampart` command on the pinned Node, as a user would, with a clean environment.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const node = join(root, "node_modules", ".bin", "node");
const main = join(root, "src", "cli", "main.ts");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `rampart ARGS` in `cwd` with only PATH, HOME and `env` set. */
export function rampart(args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      node,
      [main, ...args],
      {
        cwd: opts.cwd,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...opts.env },
        timeout: 60_000,
        // Some commands print whole reports as JSON (iam gcp analyze: several MB).
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
