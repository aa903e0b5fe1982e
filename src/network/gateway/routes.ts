// Route lookup: by host (exact, case-insensitive) then longest path prefix on a segment boundary;
// a route for the request's host beats a route for any host at the same prefix length.
import type { RouteConfig } from "../../config/index.ts";

export interface Route {
  /** Position in `routes`, used as the route's name in events and metrics. */
  index: number;
  host: string | undefined;
  path: string;
  upstreams: URL[];
}

export function compileRoutes(config: readonly RouteConfig[]): Route[] {
  return config.map((r, index) => ({
    index,
    host: r.host?.toLowerCase(),
    path: r.path.length > 1 && r.path.endsWith("/") ? r.path.slice(0, -1) : r.path,
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
  return (host, path) =>
    ordered.find((r) => (r.host === undefined || r.host === host) && prefixMatches(r.path, path));
}
