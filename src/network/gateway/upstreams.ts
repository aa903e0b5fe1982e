// A route's upstreams: one undici keep-alive pool per origin, chosen round robin. Passive health: an
// upstream that fails `ejectAfterFailures` times in a row sits out `ejectSeconds`, then gets traffic
// again; one success clears its count.
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { Pool } from "undici";
import type { z } from "zod";
import type { upstreamTlsSchema } from "../../config/schema.ts";
import type { Clock } from "../../platform/clock.ts";
import { Invalid } from "../../platform/errors.ts";

type UpstreamTls = z.output<typeof upstreamTlsSchema>;

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
  /** For https:// upstreams: the CA to trust instead of the public roots, a client certificate. */
  upstreamTls?: UpstreamTls | undefined;
}

// Files are read once, at start: a missing one fails the start and names its setting.
function tlsConnectOptions(t: UpstreamTls | undefined) {
  if (!t) return {};
  const read = (file: string, key: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Invalid(
        `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"})`,
        `upstreamTls.${key}`,
      );
    }
  };
  const client =
    t.certFile && t.keyFile ? { cert: read(t.certFile, "certFile"), key: read(t.keyFile, "keyFile") } : {};
  if (client.cert) {
    // A key that does not match would otherwise surface only as 502s, one request at a time.
    try {
      createSecureContext(client);
    } catch (err) {
      throw new Invalid(`does not match certFile (${(err as Error).message})`, "upstreamTls.keyFile");
    }
  }
  return {
    ...(t.caFile ? { ca: read(t.caFile, "caFile") } : {}),
    ...client,
    ...(t.serverName ? { servername: t.serverName } : {}),
  };
}

export function createUpstreamSet(origins: readonly URL[], o: UpstreamOptions): UpstreamSet {
  const tls = tlsConnectOptions(o.upstreamTls);
  const members: Upstream[] = origins.map((u) => ({
    origin: u.origin,
    pool: new Pool(u.origin, {
      connect: { timeout: o.connectTimeoutMs, ...(u.protocol === "https:" ? tls : {}) },
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
