// The gateway's spool on a disk that fills up (a 64 KiB tmpfs, mounted for the test) while the
// control plane is away: the gateway keeps serving, says the spool cannot be written, holds the
// batches in memory, and delivers every event once the control plane is back. Needs root to
// mount, as CI has.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { edgePair } from "./support/edge-pair.ts";
import { killAllRampartProcesses, until } from "./support/processes.ts";

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

  const pair = await edgePair(work, spool);
  // No server yet: everything the gateway sends must wait.
  const edge = await pair.startGateway();
  const sent: string[] = [];
  for (let i = 0; i < 400; i++) {
    const ip = `198.19.${i >> 8}.${i & 255}`;
    const res = await fetch(pair.gateway, { headers: { "x-forwarded-for": ip } });
    await res.arrayBuffer();
    expect(res.status).toBe(403);
    sent.push(ip);
    if (i % 50 === 0) await new Promise((r) => setTimeout(r, 300));
  }
  // Allowed traffic still flows while the disk is full.
  const allowed = await fetch(pair.gateway, { headers: { "x-forwarded-for": "203.0.113.9" } });
  expect(await allowed.text()).toBe("ok");
  await until("the gateway reports the spool cannot be written", () =>
    edge.stderr().includes("cannot write to the event spool"),
  );

  const server = await pair.startServer();
  const rows = await pair.denied(sent.length);
  expect(rows.map((r) => r.address).sort()).toEqual([...sent].sort());
  expect(rows.filter((r) => r.entries !== 1)).toEqual([]);
  expect(await pair.entriesOf("events.dropped")).toBe(0);
  await until(
    "the spool holds only the filler",
    () => readdirSync(spool).filter((f) => f !== "filler").length === 0,
  );
  expect(await edge.stop()).toBe(0);
  expect(await server.stop()).toBe(0);
  await pair.close();
}, 120_000);
