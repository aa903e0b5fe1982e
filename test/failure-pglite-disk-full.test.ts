// The embedded database's disk fills up under a running server (`rampart up` on PGlite, its data
// directory on a tmpfs mounted for the test and then filled): writes answer 503 and say the disk is
// full, reads go on, the server stays up, nothing acknowledged is lost, and once space is freed the
// writes and the audit events held meanwhile land; a restart on the same directory finds them all.
// Needs root to mount, as CI has.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statfsSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, expect, test } from "vitest";
import { defaultConfig, type RampartConfig } from "../src/config/index.ts";
import { newEvent } from "../src/platform/events/index.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";

const token = "pglite-full-ingest-token-0123456789abcdef01";
const work = mkdtempSync(join(tmpdir(), "rampart-pglite-full-"));
const dataDir = join(work, "data");
const filler = join(dataDir, "filler");
mkdirSync(dataDir);
let mounted = false;
let server: RunningServer | undefined;
afterAll(async () => {
  await server?.stop();
  if (mounted) execFileSync("umount", [dataDir]);
  rmSync(work, { recursive: true, force: true });
});

const config = (): RampartConfig => {
  const base = defaultConfig();
  return {
    ...base,
    server: { ...base.server, port: 0 },
    database: { dataDir },
    events: { ...base.events, ingestTokens: [{ name: "gw", token }], batchMaxDelayMs: 5 },
    compliance: { ...base.compliance, enabled: false },
  };
};
const start = () => startServer({ config: config(), logger: pino({ level: "silent" }) });

function client(s: RunningServer) {
  const admin = s.runtime.adminTokens[0] as string;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${s.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    });
  return {
    put: (value: string) =>
      api("/api/v1/secrets/data/prod/shop/db", {
        method: "PUT",
        body: JSON.stringify({ data: { password: value } }),
      }),
    read: async () => {
      const res = await api("/api/v1/secrets/data/prod/shop/db");
      return { status: res.status, body: (await res.json()) as { data?: { password: string } } };
    },
    /** One batch of 20 events, each carrying `pad` bytes. */
    ingest: (batchId: string, pad = 0) =>
      fetch(`${s.url}/api/v1/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({
          batchId,
          events: Array.from({ length: 20 }, (_, i) =>
            newEvent({
              type: "auth.login",
              actor: { kind: "service", id: "gw" },
              data: { batchId, i, pad: "p".repeat(pad) },
            }),
          ),
        }),
      }),
    batches: async () => {
      const res = await api("/api/v1/audit/entries?type=auth.login&limit=1000");
      const { entries } = (await res.json()) as { entries: { data: { batchId: string; i: number } }[] };
      return entries.map((e) => `${e.data.batchId}/${e.data.i}`).sort();
    },
  };
}

test("a full disk under the embedded database: writes answer 503, reads go on, nothing is lost", async () => {
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=192m,mode=0700", "tmpfs", dataDir]);
  mounted = true;
  server = await start();
  let c = client(server);
  expect((await c.put("before")).status).toBe(200);
  expect((await c.ingest("full-before")).status).toBe(201);
  await server.runtime.bus.flush();

  // Fill the disk to the last block.
  const fs = statfsSync(dataDir);
  writeFileSync(filler, Buffer.alloc(Number(fs.bavail * fs.bsize)));
  // Writes until the database runs out of room: each refused one says why, none is a 500.
  let refused: Response | undefined;
  for (let i = 0; i < 400 && !refused; i++) {
    const res = await c.put(`${"x".repeat(8000)}-${i}`);
    if (res.status !== 200) refused = res;
    else await res.arrayBuffer();
  }
  expect(refused?.status).toBe(503);
  expect(refused?.headers.get("retry-after")).toBeTruthy();
  expect(((await refused?.json()) as { message: string }).message).toMatch(/no space left/);
  // Batches from a gateway: taken while they fit in the pages the database has, then refused with
  // 503, which a gateway retries later with the same batch id.
  const batchIds = ["full-before"];
  let ingestRefused: Response | undefined;
  for (let i = 0; i < 40 && !ingestRefused; i++) {
    const res = await c.ingest(`full-during-${i}`, 2000);
    batchIds.push(`full-during-${i}`);
    if (res.status !== 201) ingestRefused = res;
  }
  expect(ingestRefused?.status).toBe(503);
  // Reading needs no room: the last stored version is served, and the server stays up.
  const during = await c.read();
  expect(during.status).toBe(200);
  expect(during.body.data?.password).toMatch(/^x{8000}-\d+$|^before$/);
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

  unlinkSync(filler);
  expect((await c.ingest(batchIds.at(-1) as string, 2000)).status).toBe(201);
  expect((await c.put("after")).status).toBe(200);
  await server.runtime.bus.flush();
  // Every event of every batch once: none lost, none stored twice.
  const expected = batchIds.flatMap((id) => Array.from({ length: 20 }, (_, i) => `${id}/${i}`)).sort();
  expect(await c.batches()).toEqual(expected);
  expect((await server.runtime.audit.verify()).ok).toBe(true);

  // A restart on the same directory finds everything, and the log still verifies.
  await server.stop();
  server = await start();
  c = client(server);
  expect((await c.read()).body.data?.password).toBe("after");
  expect(await c.batches()).toEqual(expected);
  expect((await server.runtime.audit.verify()).ok).toBe(true);
}, 180_000);
