// Route lookup: by host (exact, case-insensitive) then longest path prefix on a segment boundary
// (case-insensitive too);
// a route for the request's host beats a route for any host at the same prefix length.
import type { RouteConfig } from "../../config/index.ts";

export interface Route {
  /** Position in `routes`, used as the route's name in events and metrics. */
  index: number;
  host: string | undefined;
  path: string;
  upstreams: URL[];
}

// RFC 3986 unreserved characters: encoded or not, they mean the same, so they are decoded.
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * The request target as the gateway routes and forwards it, or undefined when it is ambiguous. An
 * upstream that normalizes paths must not see a different path from the one the route was chosen
 * by (`/x/../admin`, `//admin`, `/%61dmin` all reach `/admin` there): encoded unreserved characters
 * are decoded and repeated slashes merged; dot segments (also around an encoded slash or
 * backslash, for upstreams that decode those) and backslashes are refused.
 */
export function canonicalTarget(target: string): string | undefined {
  const q = target.indexOf("?");
  const path = q === -1 ? target : target.slice(0, q);
  if (!/[%\\]|\/\/|\/\./.test(path)) return target; // the common case: nothing to do
  if (path.includes("\\")) return undefined;
  const decoded = path
    .replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
      const ch = String.fromCharCode(Number.parseInt(hex, 16));
      return UNRESERVED.test(ch) ? ch : m.toUpperCase();
    })
    .replace(/\/{2,}/g, "/");
  for (const segment of decoded.split(/\/|%2F|%5C/))
    if (segment === "." || segment === "..") return undefined;
  return q === -1 ? decoded : decoded + target.slice(q);
}

export function compileRoutes(config: readonly RouteConfig[]): Route[] {
  return config.map((r, index) => ({
    index,
    host: r.host?.toLowerCase(),
    // Paths match without regard to case: an upstream that ignores case must not be reached past
    // a route's controls by `/ADMIN`.
    path: (r.path.length > 1 && r.path.endsWith("/") ? r.path.slice(0, -1) : r.path).toLowerCase(),
    upstreams: (r.upstreams ?? [r.upstream as string]).map((u) => new URL(u)),
  }));
}

function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === "/") return true;
  return (
    path.startsWith(prefix) &&
    (path.length === prefix.length || path[prefix.length] === "/" || path[prefix.length] === "?")
  );
}

/** Host header without its port (`[::1]:80` → `[::1]`). */
export function hostName(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const h = hostHeader.toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  const colon = h.indexOf(":");
  return colon === -1 ? h : h.slice(0, colon);
}

export function createRouter(
  routes: readonly Route[],
): (host: string | undefined, path: string) => Route | undefined {
  // Longest prefix first; at equal length, host-specific first.
  const ordered = [...routes].sort(
    (a, b) => b.path.length - a.path.length || Number(b.host !== undefined) - Number(a.host !== undefined),
  );
  return (host, path) => {
    const p = path.toLowerCase();
    return ordered.find((r) => (r.host === undefined || r.host === host) && prefixMatches(r.path, p));
  };
}
