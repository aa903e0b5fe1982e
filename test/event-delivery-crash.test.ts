// The control plane crashes (SIGKILL) in the middle of a stream of gateway events and comes back:
// the gateway's spool and batch ids get every event into the audit log exactly once, and the log
// verifies. Both run as processes on PostgreSQL, as in production.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, expect, test } from "vitest";
import { EDGE_ADMIN_TOKEN, edgePair } from "./support/edge-pair.ts";
import { killAllRampartProcesses, until } from "./support/processes.ts";

const work = mkdtempSync(join(tmpdir(), "rampart-crash-"));
afterAll(() => {
  killAllRampartProcesses();
  rmSync(work, { recursive: true, force: true });
});

test("a server killed mid-stream loses no gateway event and stores none twice; the log verifies", async () => {
  const pair = await edgePair(work, join(work, "spool"));
  let server = await pair.startServer();
  const edge = await pair.startGateway();

  // Each address is refused once: one event each, so a loss or a duplicate shows by name.
  const sent: string[] = [];
  const stream = (async () => {
    for (let i = 0; i < 1200; i++) {
      const ip = `198.18.${i >> 8}.${i & 255}`;
      const res = await fetch(pair.gateway, { headers: { "x-forwarded-for": ip } });
      await res.arrayBuffer();
      expect(res.status).toBe(403);
      sent.push(ip);
      if (i % 20 === 0) await sleep(10);
    }
  })();
  await until("a third of the stream sent", () => sent.length >= 400);
  await server.kill();
  await until("two thirds of the stream sent while the server is down", () => sent.length >= 800);
  server = await pair.startServer();
  await stream;

  const rows = await pair.denied(sent.length);
  expect(rows.map((r) => r.address).sort()).toEqual([...sent].sort());
  expect(rows.filter((r) => r.entries !== 1 || r.count !== 1)).toEqual([]);
  const verified = await fetch(`${pair.api}/api/v1/audit/verify`, {
    method: "POST",
    headers: { authorization: `Bearer ${EDGE_ADMIN_TOKEN}`, "content-type": "application/json" },
    body: "{}",
  });
  expect(((await verified.json()) as { ok: boolean }).ok).toBe(true);
  // The gateway did lose the control plane, and said so.
  expect(edge.stderr()).toContain("control plane unreachable");
  expect(await edge.stop()).toBe(0);
  expect(await server.stop()).toBe(0);
  await pair.close();
}, 180_000);
