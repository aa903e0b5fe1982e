// The gateway's spool on a disk that fills up (a 64 KiB tmpfs, mounted for the test) while the
// control plane is away: the gateway keeps serving, says the spool cannot be written, holds the
// batches in memory, and delivers every event once the control plane is back. Needs root to
// mount, as CI has.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, expect, inject, test } from "vitest";
import { freshDatabase } from "./support/pg.ts";
import { killAllRampartProcesses, startRampart, until } from "./support/processes.ts";
import { freePort, listenLocal } from "./support/services.ts";

const adminToken = "disk-full-admin-0123456789abcdef0123456789";
const ingestToken = "disk-full-ingest-0123456789abcdef012345678";
const work = mkdtempSync(join(tmpdir(), "rampart-disk-full-"));
const spool = join(work, "spool");
mkdirSync(spool);
let mounted = false;
afterAll(() => {
  killAllRampartProcesses();
  if (mounted) execFileSync("umount", [spool]);
  rmSync(work, { recursive: true, force: true });
});

test("a full spool disk: the gateway keeps serving, holds batches in memory, and delivers them all later", async () => {
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", spool]);
  mounted = true;
  // Fill the disk but for a few KiB.
  writeFileSync(join(spool, "filler"), Buffer.alloc(56 * 1024));

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
        controlPlane: { url: api, token: ingestToken, spoolDir: spool, batchMaxDelayMs: 10 },
      },
      routes: [{ path: "/", upstream: upstreamUrl, ipRules: { deny: ["198.18.0.0/15"] } }],
    }),
  );
  // No server yet: everything the gateway sends must wait.
  const edge = await startRampart(["gateway", "-c", "gateway.yaml"], { cwd: work, ready: `${gateway}/` });
  const sent: string[] = [];
  for (let i = 0; i < 400; i++) {
    const ip = `198.19.${i >> 8}.${i & 255}`;
    const res = await fetch(gateway, { headers: { "x-forwarded-for": ip } });
    await res.arrayBuffer();
    expect(res.status).toBe(403);
    sent.push(ip);
    if (i % 50 === 0) await new Promise((r) => setTimeout(r, 300));
  }
  // Allowed traffic still flows while the disk is full.
  const allowed = await fetch(gateway, { headers: { "x-forwarded-for": "203.0.113.9" } });
  expect(await allowed.text()).toBe("ok");
  await until("the gateway reports the spool cannot be written", () =>
    edge.stderr().includes("cannot write to the event spool"),
  );

  const server = await startRampart(["server", "-c", "server.yaml"], {
    cwd: work,
    ready: `${api}/healthz`,
    env: { RAMPART_ADMIN_TOKEN: adminToken },
  });
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const stored = async () =>
      (
        await client.query<{ actor: string; n: number }>(
          "select actor, count(*)::int as n from audit_entries where type = 'gateway.ip_denied' group by actor",
        )
      ).rows;
    await until("every event in the audit log", async () => (await stored()).length >= sent.length, 60_000);
    const rows = await stored();
    expect(rows.map((r) => r.actor).sort()).toEqual(sent.map((ip) => `ip:${ip}`).sort());
    expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    const dropped = await client.query("select 1 from audit_entries where type = 'events.dropped'");
    expect(dropped.rowCount).toBe(0);
  } finally {
    await client.end();
  }
  await until(
    "the spool holds only the filler",
    () => readdirSync(spool).filter((f) => f !== "filler").length === 0,
  );
  expect(await edge.stop()).toBe(0);
  expect(await server.stop()).toBe(0);
  upstream.close();
  await db.drop();
}, 120_000);
