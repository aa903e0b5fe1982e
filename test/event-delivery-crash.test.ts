// The control plane crashes (SIGKILL) in the middle of a stream of gateway events and comes back:
// the gateway's spool and batch ids get every event into the audit log exactly once, and the log
// verifies. Both run as processes on PostgreSQL, as in production.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, expect, inject, test } from "vitest";
import { freshDatabase } from "./support/pg.ts";
import { killAllRampartProcesses, startRampart, until } from "./support/processes.ts";
import { freePort, listenLocal } from "./support/services.ts";

const run = randomBytes(4).toString("hex");
const adminToken = `crash-admin-${run}-0123456789abcdef0123456789`;
const ingestToken = `crash-ingest-${run}-0123456789abcdef012345678`;
const work = mkdtempSync(join(tmpdir(), "rampart-crash-"));
afterAll(() => {
  killAllRampartProcesses();
  rmSync(work, { recursive: true, force: true });
});

test("a server killed mid-stream loses no gateway event and stores none twice; the log verifies", async () => {
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
      events: { ingestTokens: [{ name: "edge", token: ingestToken }], batchMaxDelayMs: 10 },
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
        controlPlane: { url: api, token: ingestToken, spoolDir: join(work, "spool"), batchMaxDelayMs: 10 },
      },
      routes: [{ path: "/", upstream: upstreamUrl, ipRules: { deny: ["198.18.0.0/15"] } }],
    }),
  );
  const startServer = () =>
    startRampart(["server", "-c", "server.yaml"], {
      cwd: work,
      ready: `${api}/healthz`,
      env: { RAMPART_ADMIN_TOKEN: adminToken },
    });
  let server = await startServer();
  const edge = await startRampart(["gateway", "-c", "gateway.yaml"], { cwd: work, ready: `${gateway}/` });

  // Each address is refused once: one event each, so a loss or a duplicate shows by name.
  const sent: string[] = [];
  const stream = (async () => {
    for (let i = 0; i < 1200; i++) {
      const ip = `198.18.${i >> 8}.${i & 255}`;
      const res = await fetch(gateway, { headers: { "x-forwarded-for": ip } });
      await res.arrayBuffer();
      expect(res.status).toBe(403);
      sent.push(ip);
      if (i % 20 === 0) await sleep(10);
    }
  })();
  await until("a third of the stream sent", () => sent.length >= 400);
  await server.kill();
  await until("two thirds of the stream sent while the server is down", () => sent.length >= 800);
  server = await startServer();
  await stream;

  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const stored = async () =>
      (
        await client.query<{ actor: string; entries: number; count: number }>(
          `select actor, count(*)::int as entries, sum((body::jsonb->'data'->>'count')::int)::int as count
             from audit_entries where type = 'gateway.ip_denied' group by actor`,
        )
      ).rows;
    await until("every event in the audit log", async () => (await stored()).length >= sent.length, 60_000);
    const rows = await stored();
    expect(rows.map((r) => r.actor).sort()).toEqual(sent.map((ip) => `ip:${ip}`).sort());
    expect(rows.filter((r) => r.entries !== 1 || r.count !== 1)).toEqual([]);
  } finally {
    await client.end();
  }
  const verified = await fetch(`${api}/api/v1/audit/verify`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: "{}",
  });
  expect(((await verified.json()) as { ok: boolean }).ok).toBe(true);
  // The gateway did lose the control plane, and said so.
  expect(edge.stderr()).toContain("control plane unreachable");
  expect(await edge.stop()).toBe(0);
  expect(await server.stop()).toBe(0);
  upstream.close();
  await db.drop();
}, 180_000);
