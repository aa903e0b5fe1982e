// Hosting of the web console (console/dist, built by `npm run build:console`) under /console/:
// hashed assets cached for a year, index.html never cached and sent for every other sub-path so the
// console's own routing works on reload, a strict CSP on the HTML, and / sent to the console once
// it is built. Whether it is built is looked up per request, so building it needs no restart.
import { existsSync, statSync } from "node:fs";
import { resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";
import { NotFound } from "../platform/errors.ts";

/** console/dist of this checkout or package. */
export const consoleDistDir = fileURLToPath(new URL("../../console/dist", import.meta.url));

/** The console loads only its own scripts and styles and talks only to this server. */
export const consoleCsp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join("; ");

const YEAR_MS = 365 * 24 * 3600 * 1000;

export interface ConsoleOptions {
  /** The built console (index.html and assets/); default console/dist. */
  dir?: string;
}

/** Registers GET /, /console and /console/* on `app`. */
export async function registerConsole(app: FastifyInstance, o: ConsoleOptions = {}): Promise<void> {
  const dir = resolve(o.dir ?? consoleDistDir);
  const built = () => existsSync(resolve(dir, "index.html"));

  // Encapsulated, so reply.sendFile here does not clash with other plugins' static files.
  await app.register(async (scope) => {
    await scope.register(fastifyStatic, { root: dir, serve: false, suppressWarning: true });

    const sendIndex = (reply: FastifyReply) =>
      reply
        .header("cache-control", "no-cache")
        .header("content-security-policy", consoleCsp)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .sendFile("index.html", { cacheControl: false });

    scope.get("/", { schema: { hide: true } }, async (_req, reply) => {
      if (!built()) return reply.callNotFound();
      return reply.redirect("/console/", 302);
    });

    scope.get("/console", { schema: { hide: true } }, async (_req, reply) =>
      reply.redirect("/console/", 301),
    );

    scope.get("/console/*", { schema: { hide: true } }, async (req, reply) => {
      if (!built())
        throw new NotFound("the web console is not built; run `npm run build:console` and reload");
      const rel = (req.params as { "*": string })["*"];
      const file = resolve(dir, rel);
      const isFile = rel !== "" && file.startsWith(dir + sep) && existsSync(file) && statSync(file).isFile();
      if (!isFile && rel.startsWith("assets/")) throw new NotFound(`no console asset '${rel}'`);
      if (!isFile || rel === "index.html") return sendIndex(reply);
      reply.header("x-content-type-options", "nosniff");
      // Vite names everything under assets/ by its content hash: a changed file is a new URL.
      return rel.startsWith("assets/")
        ? reply.sendFile(rel, { maxAge: YEAR_MS, immutable: true })
        : reply.sendFile(rel, { maxAge: 0 });
    });
  });
}
