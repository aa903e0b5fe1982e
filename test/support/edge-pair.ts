// One `rampart server` on a fresh PostgreSQL database and one `rampart gateway` sending it events,
// as processes: the gateway refuses 198.18.0.0/15, so each address sent is one `gateway.ip_denied`
// event, and a lost or doubled event shows by the address it names.
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import pg from "pg";
import { inject } from "vitest";
import { freshDatabase } from "./pg.ts";
import { type RampartProcess, startRampart, until } from "./processes.ts";
import { freePort, listenLocal } from "./services.ts";

export const EDGE_ADMIN_TOKEN = "edge-pair-admin-0123456789abcdef0123456789";
const INGEST_TOKEN = "edge-pair-ingest-0123456789abcdef012345678";

export interface EdgePair {
  /** The control plane's base URL, and the gateway's. */
  api: string;
  gateway: string;
  /** Starts the server (again); it is not started by `edgePair`. */
  startServer(): Promise<RampartProcess>;
  startGateway(): Promise<RampartProcess>;
  /**
   * Stored `gateway.ip_denied` entries per address: how many, and the refusals they count; first
   * waits (up to 60 s) until at least `addresses` addresses have some.
   */
  denied(addresses?: number): Promise<{ address: string; entries: number; count: number }[]>;
  /** How many entries of `type` the audit log holds. */
  entriesOf(type: string): Promise<number>;
  /** Drops the database and stops the upstream (processes are the caller's to stop). */
  close(): Promise<void>;
}

/** Writes server.yaml and gateway.yaml into `work`; the gateway spools into `spoolDir`. */
export async function edgePair(work: string, spoolDir: string): Promise<EdgePair> {
  const db = await freshDatabase(inject("pgUrl"));
  const upstream = createServer((_req, res) => res.end("ok"));
  const upstreamUrl = await listenLocal(upstream);
  const [serverPort, gatewayPort] = [await freePort(), await freePort()];
  const api = `http://127.0.0.1:${serverPort}`;
  const gateway = `http://127.0.0.1:${gatewayPort}`;
  writeFileSync(
    join(work, "server.yaml"),
    JSON.stringify({
      version: 1,
      server: { port: serverPort },
      database: { url: db.url, dataDir: join(work, "data") },
      events: { ingestTokens: [{ name: "edge", token: INGEST_TOKEN }], batchMaxDelayMs: 10 },
      compliance: { enabled: false },
    }),
  );
  writeFileSync(
    join(work, "gateway.yaml"),
    JSON.stringify({
      version: 1,
      gateway: {
        port: gatewayPort,
        trustedProxies: ["127.0.0.1"],
        eventIntervalSeconds: 1,
        controlPlane: { url: api, token: INGEST_TOKEN, spoolDir, batchMaxDelayMs: 10 },
      },
      routes: [{ path: "/", upstream: upstreamUrl, ipRules: { deny: ["198.18.0.0/15"] } }],
    }),
  );
  const query = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []) => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      return (await client.query<T>(text, values)).rows;
    } finally {
      await client.end();
    }
  };
  const denied = () =>
    query<{ address: string; entries: number; count: number }>(
      `select substr(actor, 4) as address, count(*)::int as entries,
              sum((body::jsonb->'data'->>'count')::int)::int as count
         from audit_entries where type = 'gateway.ip_denied' group by actor`,
    );
  return {
    api,
    gateway,
    startServer: () =>
      startRampart(["server", "-c", "server.yaml"], {
        cwd: work,
        ready: `${api}/healthz`,
        env: { RAMPART_ADMIN_TOKEN: EDGE_ADMIN_TOKEN },
      }),
    startGateway: () => startRampart(["gateway", "-c", "gateway.yaml"], { cwd: work, ready: `${gateway}/` }),
    async denied(addresses = 0) {
      await until("every address in the audit log", async () => (await denied()).length >= addresses, 60_000);
      return denied();
    },
    async entriesOf(type) {
      const [row] = await query<{ n: number }>(
        "select count(*)::int as n from audit_entries where type = $1",
        [type],
      );
      return row?.n ?? 0;
    },
    async close() {
      upstream.close();
      await db.drop();
    },
  };
}
