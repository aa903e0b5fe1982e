// The runtime tree as package-lock.json records it: every `packages` entry npm would install with
// `--omit=dev` (entries marked `dev: true` are dev-only; `devOptional` ones are still installed).
import { readFileSync } from "node:fs";
import { CannotRun } from "./npm.ts";

export interface LockedPackage {
  /** Install path, e.g. `node_modules/a/node_modules/b`. */
  path: string;
  name: string;
  version: string;
  /** The `license` field as the lockfile has it (npm copies it from package.json). */
  license: unknown;
  dev: boolean;
}

interface LockEntry {
  name?: unknown;
  version?: unknown;
  license?: unknown;
  dev?: unknown;
  link?: unknown;
}

/** All installed packages of a lockfile (v2 or v3), without the root project and without links. */
export function lockedPackages(lock: unknown, file = "package-lock.json"): LockedPackage[] {
  const packages = (lock as { packages?: unknown } | null)?.packages;
  if (packages === null || typeof packages !== "object") {
    throw new CannotRun(`${file} has no "packages" map: lockfileVersion 2 or later is needed (npm 7+)`);
  }
  const out: LockedPackage[] = [];
  for (const [path, raw] of Object.entries(packages as Record<string, LockEntry>)) {
    // "" is the project itself; a link's target has its own entry.
    if (path === "" || raw.link === true) continue;
    const cut = path.lastIndexOf("node_modules/");
    const name =
      typeof raw.name === "string" ? raw.name : path.slice(cut < 0 ? 0 : cut + "node_modules/".length);
    out.push({
      path,
      name,
      version: typeof raw.version === "string" ? raw.version : "",
      license: raw.license,
      dev: raw.dev === true,
    });
  }
  return out;
}

/** Packages npm installs with `--omit=dev`. */
export const runtimePackages = (lock: unknown, file?: string): LockedPackage[] =>
  lockedPackages(lock, file).filter((p) => !p.dev);

/** Reads and parses package-lock.json. */
export function readLockfile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CannotRun(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CannotRun(`${file} is not JSON: ${(err as Error).message}`);
  }
}
