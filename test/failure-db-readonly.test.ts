// PostgreSQL turns read-only under the server (a failover onto a replica, or an operator's
// `default_transaction_read_only`): writes answer 503 with Retry-After and say why, reads go on,
// nothing acknowledged is lost, and once the database takes writes again the retried batch lands.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, expect, test } from "vitest";
import { defaultConfig } from "../src/config/index.ts";
import { newEvent } from "../src/platform/events/index.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";
import { type RestartableService, startPostgres } from "./support/services.ts";

const token = "readonly-ingest-token-0123456789abcdef0123";
let db: RestartableService;
let server: RunningServer;
let dataDir: string;

const readOnly = async (on: boolean) => {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(`ALTER SYSTEM SET default_transaction_read_only = ${on ? "on" : "off"}`);
    await c.query("SELECT pg_reload_conf()");
  } finally {
    await c.end();
  }
  // Each backend applies the reloaded setting before its next statement.
  await new Promise((r) => setTimeout(r, 300));
};

beforeAll(async () => {
  db = await startPostgres();
  dataDir = mkdtempSync(join(tmpdir(), "rampart-readonly-"));
  const base = defaultConfig();
  server = await startServer({
    config: {
      ...base,
      server: { ...base.server, port: 0 },
      database: { dataDir, url: db.url },
      events: { ...base.events, ingestTokens: [{ name: "gw", token }], batchMaxDelayMs: 5 },
      compliance: { ...base.compliance, enabled: false },
    },
    logger: pino({ level: "silent" }),
  });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await db?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test("a read-only database: writes answer 503 and say so, reads go on, and the retry lands afterwards", async () => {
  const admin = server.runtime.adminTokens[0] as string;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    });
  const ingest = (batchId: string) =>
    fetch(`${server.url}/api/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        batchId,
        events: [newEvent({ type: "auth.login", actor: { kind: "service", id: "gw" }, data: { batchId } })],
      }),
    });
  const put = (value: string) =>
    api("/api/v1/secrets/data/prod/shop/db", {
      method: "PUT",
      body: JSON.stringify({ data: { password: value } }),
    });
  expect((await put("before")).status).toBe(200);
  expect((await ingest("ro-before")).status).toBe(201);

  await readOnly(true);
  try {
    const refused = await ingest("ro-during");
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBeTruthy();
    const write = await put("during");
    expect(write.status).toBe(503);
    expect(write.headers.get("retry-after")).toBeTruthy();
    expect(((await write.json()) as { message: string }).message).toMatch(/the database is read-only/);
    // Reading needs no write: the stored version is still served.
    const read = await api("/api/v1/secrets/data/prod/shop/db");
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ data: { password: "before" } });
  } finally {
    await readOnly(false);
  }

  expect((await ingest("ro-during")).status).toBe(201);
  expect((await put("after")).status).toBe(200);
  await server.runtime.bus.flush();
  const report = await server.runtime.audit.verify();
  expect(report.ok).toBe(true);
  const stored = await api("/api/v1/audit/entries?type=auth.login&limit=100");
  const batches = ((await stored.json()) as { entries: { data: { batchId: string } }[] }).entries.map(
    (e) => e.data.batchId,
  );
  expect(batches.sort()).toEqual(["ro-before", "ro-during"]);
}, 60_000);
