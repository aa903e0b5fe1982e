// Headers across the proxy: hop-by-hop ones stay on their hop (RFC 9110 §7.6.1), the upstream
// learns who the client was (X-Forwarded-*, RFC 7239 Forwarded), and responses lose what would
// fingerprint the stack behind us.
import type { IncomingHttpHeaders } from "node:http";

const HOP_BY_HOP = new Set([
  // Expect is answered here (Node sends the 100 Continue); undici refuses requests that carry it.
  "expect",
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

const FINGERPRINTS = new Set(["server", "x-powered-by"]);
// What the client sent about earlier hops: rewritten below, believed only from a trusted proxy.
const FORWARDING = new Set([
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "forwarded",
  "x-request-id",
]);
const FORWARDING_AND_COOKIE = new Set([...FORWARDING, "cookie"]);
const FORWARDING_AND_AUTHORIZATION = new Set([...FORWARDING, "authorization"]);
const FORWARDING_AND_CREDENTIALS = new Set([...FORWARDING, "cookie", "authorization"]);
const NONE: ReadonlySet<string> = new Set();

type Headers = Record<string, string | string[] | undefined>;

function connectionTokens(headers: Headers): ReadonlySet<string> {
  const c = headers.connection;
  if (c === undefined) return NONE;
  const value = Array.isArray(c) ? c.join(",") : c;
  return new Set(
    value
      .split(",")
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

// Headers the gateway tells upstreams (bot score, later identity): a client never sets them itself.
const OWN_PREFIX = "x-rampart-";

function withoutHopByHop(
  headers: Headers,
  drop: ReadonlySet<string>,
  dropOwn = false,
): Record<string, string | string[]> {
  const named = connectionTokens(headers);
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || named.has(k) || drop.has(k)) continue;
    if (dropOwn && k.startsWith(OWN_PREFIX)) continue;
    out[k] = v;
  }
  return out;
}

export interface ForwardContext {
  /** The Cookie header to send instead of the client's (undefined: send none), when it must change. */
  cookie?: { value: string | undefined };
  /** Leave the client's Authorization header behind (it carried a Rampart credential). */
  dropAuthorization?: boolean;
  /** The resolved client address (see client-ip.ts). */
  client: string;
  /** The socket peer: appended to a trusted X-Forwarded-For chain. */
  peer: string;
  peerTrusted: boolean;
  proto: "http" | "https";
  requestId: string;
}

const forwardedFor = (ip: string) => (ip.includes(":") ? `"[${ip}]"` : ip);

/**
 * Request headers for the upstream. X-Forwarded-For keeps a trusted proxy's chain and appends that
 * proxy; `Forwarded` carries one element, the client as the gateway resolved it, so an upstream
 * reads its client without walking a chain.
 */
export function upstreamRequestHeaders(
  h: IncomingHttpHeaders,
  ctx: ForwardContext,
): Record<string, string | string[]> {
  // Built without the headers that must not pass rather than deleting them afterwards: a deleted
  // property turns the object into a slow dictionary on the way into undici.
  const drop =
    ctx.cookie === undefined && !ctx.dropAuthorization
      ? FORWARDING
      : ctx.cookie === undefined
        ? FORWARDING_AND_AUTHORIZATION
        : ctx.dropAuthorization
          ? FORWARDING_AND_CREDENTIALS
          : FORWARDING_AND_COOKIE;
  const out = withoutHopByHop(h, drop, true);
  if (ctx.cookie?.value !== undefined) out.cookie = ctx.cookie.value;
  const priorXff = ctx.peerTrusted ? h["x-forwarded-for"] : undefined;
  out["x-forwarded-for"] = priorXff ? `${priorXff}, ${ctx.peer}` : ctx.client;
  out["x-forwarded-proto"] = ctx.proto;
  const host = h.host;
  if (host) out["x-forwarded-host"] = host;
  out.forwarded = `for=${forwardedFor(ctx.client)};proto=${ctx.proto}${host ? `;host="${host.replace(/["\\]/g, "")}"` : ""}`;
  out["x-request-id"] = ctx.requestId;
  return out;
}

/** Response headers for the client. */
export function clientResponseHeaders(h: Headers): Record<string, string | string[]> {
  return withoutHopByHop(h, FINGERPRINTS);
}
