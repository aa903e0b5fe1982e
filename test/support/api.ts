// A real Rampart server on embedded PGlite in a temp directory, for tests that use it over HTTP as an
// operator would: the admin token, an API call helper and API keys for people and services.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { expect } from "vitest";
import { rampartConfigSchema } from "../../src/config/index.ts";
import { createLogger } from "../../src/platform/logging.ts";
import { type RunningServer, startServer } from "../../src/server/index.ts";

/** An API answer's body, with the fields errors carry. */
export type Json = Record<string, unknown> & { message?: string; error?: string };

export interface ApiResponse {
  status: number;
  json: Json;
}

export interface TestServer {
  server: RunningServer;
  url: string;
  /** The temp directory: data under data/, the files asked for, and a cwd for the CLI. */
  work: string;
  /** The server's first admin token. */
  admin: string;
  /** `method path` with `token` as bearer and `body` as JSON when given. */
  call(method: string, path: string, token: string, body?: unknown): Promise<ApiResponse>;
  /** A fresh API key (default: a user's, for an hour), expecting 201. */
  apiKeyFor(
    subject: string,
    opts?: { kind?: "user" | "service"; scopes?: string[]; ttlSeconds?: number },
  ): Promise<{ key: string; id: string }>;
  /** Stops the server and removes the temp directory. */
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** Names the temp directory (rampart-NAME-…). */
  name: string;
  /** Config sections beside version, server (port 0) and database (work/data); given the work dir. */
  config?: Record<string, unknown> | ((work: string) => Record<string, unknown>);
  /** Files written under the work dir before the server starts, by relative path. */
  files?: Record<string, string>;
}

/** Starts a server on PGlite in a fresh temp dir with `config` on top of the minimal one. */
export async function startTestServer(opts: TestServerOptions): Promise<TestServer> {
  const work = mkdtempSync(join(tmpdir(), `rampart-${opts.name}-`));
  let server: RunningServer | undefined;
  try {
    for (const [path, text] of Object.entries(opts.files ?? {})) {
      mkdirSync(dirname(join(work, path)), { recursive: true });
      writeFileSync(join(work, path), text);
    }
    const extra = typeof opts.config === "function" ? opts.config(work) : (opts.config ?? {});
    const config = rampartConfigSchema.parse({
      version: 1,
      server: { port: 0 },
      database: { dataDir: join(work, "data") },
      // The compliance scheduler's background runs would add events to every test's log; tests of it turn it on.
      compliance: { enabled: false },
      ...extra,
    });
    server = await startServer({ config, logger: createLogger({ level: "silent" }) });
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  const running = server;
  const url = running.url;
  const admin = running.runtime.adminTokens[0] as string;

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };

  return {
    server: running,
    url,
    work,
    admin,
    call,
    async apiKeyFor(subject, o = {}) {
      const r = await call("POST", "/api/v1/identity/api-keys", admin, {
        kind: o.kind ?? "user",
        subject,
        ...(o.scopes ? { scopes: o.scopes } : {}),
        ttlSeconds: o.ttlSeconds ?? 3600,
      });
      expect(r.status).toBe(201);
      return { key: r.json.key as string, id: (r.json.apiKey as { id: string }).id };
    },
    async stop() {
      await running.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
