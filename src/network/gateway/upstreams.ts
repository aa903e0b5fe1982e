// A route's upstreams: one undici keep-alive pool per origin, chosen round robin. Passive health: an
// upstream that fails `ejectAfterFailures` times in a row sits out `ejectSeconds`, then gets traffic
// again; one success clears its count.
import { Pool } from "undici";
import type { Clock } from "../../platform/clock.ts";

export interface Upstream {
  origin: string;
  pool: Pool;
  failures: number;
  ejectedUntil: number;
}

export interface UpstreamSet {
  /** The next healthy upstream not in `tried`, or undefined when none is left. */
  pick(tried?: ReadonlySet<Upstream>): Upstream | undefined;
  succeeded(u: Upstream): void;
  /** Whether `u` is in rotation now. */
  healthy(u: Upstream): boolean;
  failed(u: Upstream): void;
  readonly members: readonly Upstream[];
  close(): Promise<void>;
}

export interface UpstreamOptions {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  ejectAfterFailures: number;
  ejectSeconds: number;
  clock: Clock;
}

export function createUpstreamSet(origins: readonly URL[], o: UpstreamOptions): UpstreamSet {
  const members: Upstream[] = origins.map((u) => ({
    origin: u.origin,
    pool: new Pool(u.origin, {
      connect: { timeout: o.connectTimeoutMs },
      headersTimeout: o.responseTimeoutMs,
      bodyTimeout: o.responseTimeoutMs,
      keepAliveTimeout: 30_000,
    }),
    failures: 0,
    ejectedUntil: 0,
  }));
  let next = 0;
  return {
    members,
    pick(tried) {
      const now = o.clock.now().getTime();
      for (let i = 0; i < members.length; i++) {
        const u = members[(next + i) % members.length] as Upstream;
        if (u.ejectedUntil > now || tried?.has(u)) continue;
        next = (next + i + 1) % members.length;
        return u;
      }
      return undefined;
    },
    healthy: (u) => u.ejectedUntil <= o.clock.now().getTime(),
    succeeded(u) {
      u.failures = 0;
    },
    failed(u) {
      u.failures++;
      if (u.failures >= o.ejectAfterFailures) {
        u.ejectedUntil = o.clock.now().getTime() + o.ejectSeconds * 1000;
        u.failures = 0;
      }
    },
    async close() {
      await Promise.all(members.map((m) => m.pool.close()));
    },
  };
}
