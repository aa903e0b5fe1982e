// The routes a running Fastify app really serves, read back from its router (printRoutes), and a
// raw HTTP client that sends a path byte for byte (fetch would resolve `..` and `%2e%2e` first),
// for tests that must cover every endpoint: a route added later cannot escape them.
import { request } from "node:http";
import type { FastifyInstance } from "fastify";

/** One method on one registered URL pattern, as Fastify names it: `GET /api/v1/incidents/:id`. */
export interface RegisteredRoute {
  method: string;
  url: string;
}

// A tree line: the drawing, the node's path segment, then its methods when a route ends there.
const LINE = /^([\s│├└─]*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/u;

/**
 * Every method × URL the app registered, from the router's radix tree: each node's text is the
 * part of the path after its parent's, four columns deeper per level. Checked with hasRoute so a
 * change in the printout fails loudly instead of losing routes.
 */
export function registeredRoutes(app: FastifyInstance): RegisteredRoute[] {
  const stack: string[] = [];
  const routes: RegisteredRoute[] = [];
  for (const line of app.printRoutes().split("\n")) {
    if (line.trim() === "") continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`unexpected line in the route tree: ${JSON.stringify(line)}`);
    const depth = (m[1] as string).length / 4;
    if (!Number.isInteger(depth)) throw new Error(`unexpected indentation in the route tree: ${line}`);
    stack.length = depth;
    stack.push(m[2] as string);
    const url = stack.join("");
    for (const method of (m[3] ?? "").split(",").map((s) => s.trim()))
      if (method) routes.push({ method, url });
  }
  for (const r of routes)
    if (!app.hasRoute({ method: r.method as "GET", url: r.url }))
      throw new Error(`the route tree names ${r.method} ${r.url} but the app has no such route`);
  return routes.sort((a, b) => a.url.localeCompare(b.url) || a.method.localeCompare(b.method));
}

export interface RawResponse {
  status: number;
  body: string;
}

/** Sends `method rawPath` to `base` as is (no URL normalisation) with the headers and JSON body given. */
export function rawRequest(
  base: string,
  method: string,
  rawPath: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<RawResponse> {
  const u = new URL(base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path: rawPath,
        headers: {
          ...headers,
          ...(payload !== undefined
            ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** Runs `tasks` with at most `width` in flight, keeping their order. */
export async function inBatches<T>(tasks: ReadonlyArray<() => Promise<T>>, width = 32): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await (tasks[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, tasks.length) }, worker));
  return out;
}
