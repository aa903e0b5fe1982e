// Reaching a running control plane from the CLI: its URL (given, or the one the local data
// directory records) and an admin token (RAMPART_TOKEN, or the data directory's admin.token).
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { RampartConfig } from "../config/index.ts";
import { adminTokenPath, runningServerUrl } from "../server/index.ts";

export type ApiCall = <T>(method: string, path: string, body?: unknown) => Promise<T>;

/** The running server's API, or undefined when none runs and no URL was given. */
export function serverApi(
  config: RampartConfig,
  server?: string,
): { url: string; call: ApiCall } | undefined {
  const dataDir = resolve(config.database.dataDir);
  const url = server ?? runningServerUrl(dataDir);
  if (!url) return undefined;
  const tokenFile = adminTokenPath(dataDir);
  const token =
    process.env.RAMPART_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : undefined);
  if (!token) throw new Error(`a server runs at ${url}; set RAMPART_TOKEN to an admin token to reach it`);
  const call: ApiCall = async <T>(method: string, path: string, body?: unknown) => {
    const res = await fetch(new URL(path, url), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as T & { message?: string };
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json.message ?? ""}`.trim());
    return json;
  };
  return { url, call };
}
