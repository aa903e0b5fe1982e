// One privacy module's routes on a small Fastify app, authorised by a fixed token table standing in
// for RBAC, with an HTTP caller and the in-process CLI against it: what the privacy API and CLI
// tests share, so each test file only says which routes, which callers and which commands.
import { Command } from "commander";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { vi } from "vitest";
import type { z } from "zod";
import { Forbidden, Invalid, RampartError, Unauthorized } from "../../src/platform/errors.ts";
import type { Caller } from "../../src/server/callers.ts";

/** Bearer tokens and who they stand for: the actor and the permissions their roles grant. */
export type Callers = Record<string, { actor: { kind: string; id: string }; permissions: string[] }>;

/** The route kit's parseBody: the first zod issue as Invalid, named by its path (or "body"). */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  throw new Invalid(first?.message ?? "invalid", first?.path.map(String).join(".") || "body");
}

/** The route kit's authorize over `callers`; an unknown token is Forbidden, or Unauthorized if asked. */
export function byToken(callers: Callers, unknown: "forbidden" | "unauthorized" = "forbidden") {
  return async (req: FastifyRequest, action: string): Promise<Caller> => {
    const c = callers[(req.headers.authorization ?? "").replace(/^Bearer /, "")];
    if (!c && unknown === "unauthorized") throw new Unauthorized();
    if (!c?.permissions.includes(action)) throw new Forbidden(`missing permission ${action}`);
    return { actor: c.actor, identity: {} as never } as Caller;
  };
}

/** A listening app with RampartErrors answered as the server does and the routes `register` adds. */
export async function serveRoutes(
  register: (app: FastifyInstance) => void,
): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: false });
  app.setErrorHandler((err: Error, _req, reply) =>
    err instanceof RampartError
      ? reply.status(err.status).send({ error: err.code, message: err.message })
      : reply.status(500).send({ error: "internal", message: err.message }),
  );
  register(app);
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { app, url };
}

export type Json = Record<string, unknown> & { message?: string };

/** `method path` on the app at `url` as the caller behind `token`; the status and the JSON answer. */
export async function callApi(url: string, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

/**
 * Runs `rampart privacy ARGS --server URL --token TOKEN` in this process with the commands
 * `register` adds to `privacy`: what it printed, the error it ended with, and its exit code.
 */
export async function runPrivacyCli(
  register: (privacy: Command) => void,
  args: string[],
  o: { url: string; token: string },
): Promise<{ out: string; error?: Error; exitCode: number }> {
  const program = new Command().exitOverride();
  register(program.command("privacy"));
  const lines: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void lines.push(a.join(" ")));
  process.exitCode = 0;
  try {
    await program.parseAsync(["privacy", ...args, "--server", o.url, "--token", o.token], { from: "user" });
    return { out: lines.join("\n"), exitCode: Number(process.exitCode ?? 0) };
  } catch (err) {
    return { out: lines.join("\n"), error: err as Error, exitCode: Number(process.exitCode ?? 0) };
  } finally {
    log.mockRestore();
    process.exitCode = 0;
  }
}
