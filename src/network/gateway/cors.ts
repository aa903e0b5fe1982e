// CORS for a route (Fetch standard, "CORS protocol"): preflights are answered at the gateway from
// the route's rules; actual responses carry Access-Control-Allow-Origin for allowed origins only.
import type { IncomingHttpHeaders } from "node:http";
import type { z } from "zod";
import type { corsSchema } from "../../config/schema.ts";

type CorsConfig = z.output<typeof corsSchema>;

export interface Cors {
  /** Answer for a preflight: status and headers, or undefined when the request is not one. */
  preflight(
    method: string | undefined,
    h: IncomingHttpHeaders,
  ): { status: number; headers: Record<string, string> } | undefined;
  /** Headers to add to an actual response. */
  responseHeaders(h: IncomingHttpHeaders): Record<string, string>;
}

export function compileCors(c: CorsConfig): Cors {
  const any = c.origins.includes("*");
  const origins = new Set(c.origins);
  const methods = new Set(c.methods.map((m) => m.toUpperCase()));
  const allowedHeaders = new Set(c.headers.map((h) => h.toLowerCase()));
  const allowOrigin = (origin: string | undefined): string | undefined =>
    origin === undefined ? undefined : any ? "*" : origins.has(origin) ? origin : undefined;
  const base = (origin: string): Record<string, string> => {
    const h: Record<string, string> = { "access-control-allow-origin": origin };
    if (c.credentials) h["access-control-allow-credentials"] = "true";
    if (!any) h.vary = "Origin";
    return h;
  };
  return {
    preflight(method, h) {
      const requested = h["access-control-request-method"];
      if (method !== "OPTIONS" || h.origin === undefined || requested === undefined) return undefined;
      const origin = allowOrigin(h.origin);
      const asked = (h["access-control-request-headers"] ?? "")
        .split(",")
        .map((x) => x.trim().toLowerCase())
        .filter(Boolean);
      // A refused preflight gets no CORS headers: the browser then blocks the request.
      if (!origin || !methods.has(requested.toUpperCase()) || asked.some((x) => !allowedHeaders.has(x)))
        return { status: 403, headers: { vary: "Origin" } };
      const headers = base(origin);
      headers["access-control-allow-methods"] = [...methods].join(", ");
      if (asked.length > 0) headers["access-control-allow-headers"] = asked.join(", ");
      headers["access-control-max-age"] = String(c.maxAgeSeconds);
      return { status: 204, headers };
    },
    responseHeaders(h) {
      const origin = allowOrigin(h.origin);
      return origin ? base(origin) : {};
    },
  };
}
