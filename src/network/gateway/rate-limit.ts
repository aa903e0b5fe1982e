// Per-route rate limits by GCRA in hot state, shared by every replica through Redis. A key already
// over its limit is remembered locally until its retry time, so a flood costs no round trips.
// When hot state is down, "open" falls back to a local limiter and "closed" refuses.
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { z } from "zod";
import type { rateLimitSchema } from "../../config/schema.ts";
import type { Clock } from "../../platform/clock.ts";
import { createMemoryHotState, type GcraResult, type HotState } from "../../platform/hotstate/index.ts";

type RateLimitConfig = z.output<typeof rateLimitSchema>;

export type RateVerdict =
  | { kind: "pass"; headers: Record<string, string>; shadowLimited: string[] }
  | { kind: "limited"; limit: string; retryAfterS: number; headers: Record<string, string> }
  | { kind: "unavailable" };

export interface RouteLimiter {
  check(client: string, routeName: string, headers: IncomingHttpHeaders): Promise<RateVerdict>;
}

const BLOCKED_CACHE_MAX = 10_000;

export type RateLimiting = ReturnType<typeof createRateLimiting>;

/** Builds limiters for routes that share one hot state, fallback and blocked-key cache. */
export function createRateLimiting(o: {
  hot: HotState;
  whenUnavailable: "open" | "closed";
  clock: Clock;
  onUnavailable?: (err: unknown) => void;
}) {
  const fallback = createMemoryHotState({ clock: o.clock });
  const blocked = new Map<string, number>(); // key → epoch ms until which it is refused
  const now = () => o.clock.now().getTime();

  function remember(key: string, until: number): void {
    if (blocked.size >= BLOCKED_CACHE_MAX) {
      const t = now();
      for (const [k, u] of blocked) if (u <= t) blocked.delete(k);
      if (blocked.size >= BLOCKED_CACHE_MAX) blocked.clear();
    }
    blocked.set(key, until);
  }

  async function gcra(key: string, limit: number, periodMs: number): Promise<GcraResult | undefined> {
    const until = blocked.get(key);
    const t = now();
    if (until !== undefined) {
      if (until > t) return { allowed: false, remaining: 0, retryAfterMs: until - t, resetMs: until - t };
      blocked.delete(key);
    }
    let result: GcraResult;
    try {
      result = await o.hot.gcra(key, { limit, periodMs });
    } catch (err) {
      o.onUnavailable?.(err);
      if (o.whenUnavailable === "closed") return undefined;
      result = await fallback.gcra(key, { limit, periodMs });
    }
    if (!result.allowed) remember(key, t + result.retryAfterMs);
    return result;
  }

  return {
    forRoute(limits: readonly RateLimitConfig[]): RouteLimiter | undefined {
      if (limits.length === 0) return undefined;
      return {
        async check(client, routeName, headers) {
          // null: the limit does not apply (a header it counts by is missing); undefined: hot state
          // is down and the mode is "closed".
          const one = (l: RateLimitConfig) => {
            const key = keyFor(l, client, routeName, headers);
            return key === undefined ? null : gcra(key, l.limit, l.windowSeconds * 1000);
          };
          // Most routes have one limit: no array of promises for them.
          const results =
            limits.length === 1
              ? [await one(limits[0] as RateLimitConfig)]
              : await Promise.all(limits.map(one));
          if (results.some((r) => r === undefined)) return { kind: "unavailable" };
          let tightest: { l: RateLimitConfig; r: GcraResult } | undefined;
          const shadowLimited: string[] = [];
          for (const [i, r] of results.entries()) {
            const l = limits[i] as RateLimitConfig;
            if (!r) continue;
            if (!r.allowed && l.shadow) shadowLimited.push(l.name);
            if (l.shadow) continue;
            if (!r.allowed) {
              const retryAfterS = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
              return { kind: "limited", limit: l.name, retryAfterS, headers: headersFor(l, r) };
            }
            if (!tightest || r.remaining / l.limit < tightest.r.remaining / tightest.l.limit)
              tightest = { l, r };
          }
          return { kind: "pass", headers: tightest ? headersFor(tightest.l, tightest.r) : {}, shadowLimited };
        },
      };
    },
    close: () => fallback.close(),
  };
}

// The RateLimit header fields (IETF httpapi draft, the widely deployed -Limit/-Remaining/-Reset form).
function headersFor(l: RateLimitConfig, r: GcraResult): Record<string, string> {
  return {
    "ratelimit-limit": String(l.limit),
    "ratelimit-remaining": String(r.remaining),
    "ratelimit-reset": String(Math.ceil(r.resetMs / 1000)),
    "ratelimit-policy": `${l.limit};w=${l.windowSeconds}`,
  };
}

// Hot-state keys never hold raw header values (they may be API keys): those parts are hashed. The
// client address and route name are kept as they are: nothing secret, and a hash per request costs.
function keyFor(
  l: RateLimitConfig,
  client: string,
  routeName: string,
  headers: IncomingHttpHeaders,
): string | undefined {
  let key = `rl:${routeName}:${l.name}`;
  for (const by of l.by) {
    if (by === "ip") key += `:${client}`;
    else if (by === "route") key += ":-";
    else {
      const v = headers[by.slice("header:".length).toLowerCase()];
      if (v === undefined) return undefined;
      const text = Array.isArray(v) ? v.join(",") : v;
      key += `:${createHash("sha256").update(text).digest("base64url")}`;
    }
  }
  return key;
}
