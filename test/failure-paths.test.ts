// What users see when a dependency fails: PostgreSQL down, Redis down. Nothing acknowledged is lost.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { defaultConfig } from "../src/config/index.ts";
import { newEvent, type SecurityEvent } from "../src/platform/events/index.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";
import {
  type RestartableService,
  type RunningService,
  startPostgres,
  startRedis,
} from "./support/services.ts";

const token = "failure-paths-token-0123456789abcdef01234567";

describe("dependencies going down", () => {
  let pg: RestartableService;
  let redis: RunningService;
  let server: RunningServer;
  let dataDir: string;

  const post = (batchId: string, events: SecurityEvent[]) =>
    fetch(`${server.url}/api/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ batchId, events }),
    });
  const events = (n: number, tag: string) =>
    Array.from({ length: n }, (_, i) =>
      newEvent({ type: "auth.login", actor: { kind: "service", id: "gw" }, data: { tag, i } }),
    );

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    dataDir = mkdtempSync(join(tmpdir(), "rampart-failure-"));
    const base = defaultConfig();
    server = await startServer({
      config: {
        ...base,
        server: { ...base.server, port: 0 },
        database: { dataDir, url: pg.url },
        hotState: { redisUrl: redis.url },
        events: { ...base.events, ingestTokens: [{ name: "gw", token }], batchMaxDelayMs: 5 },
      },
      logger: pino({ level: "silent" }),
    });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await Promise.all([pg?.stop(), redis?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("PostgreSQL down: ingestion answers 503 with Retry-After, readiness fails, and a retry after recovery stores the batch", async () => {
    const before = events(5, "before");
    expect((await post("batch-before-1", before)).status).toBe(201);

    await pg.halt();
    const during = events(5, "during");
    const refused = await post("batch-during-1", during);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    const body = (await refused.json()) as { error: string; message: string };
    expect(body).toMatchObject({ error: "unavailable", message: "audit log unavailable; retry later" });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ store: false, hotState: true });
    // Events raised inside the server meanwhile wait in the queue instead of being lost.
    server.runtime.bus.emit(
      newEvent({ type: "config.reloaded", actor: { kind: "system", id: "rampart" }, retention: "audit" }),
    );
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    await pg.resume();
    const retried = await post("batch-during-1", during);
    expect(retried.status).toBe(201);
    expect(await retried.json()).toMatchObject({ accepted: 5, duplicate: false });
    await server.runtime.bus.flush();
    expect(server.runtime.bus.stats().queued).toBe(0);
    const report = await server.runtime.audit.verify();
    expect(report.ok).toBe(true);
    const admin = server.runtime.adminTokens[0] as string;
    const q = await fetch(`${server.url}/api/v1/audit/entries?limit=1000`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const stored = ((await q.json()) as { entries: Array<{ id: string; type: string }> }).entries;
    const ids = new Set(stored.map((e) => e.id));
    for (const e of [...before, ...during]) expect(ids.has(e.id)).toBe(true);
    expect(stored.some((e) => e.type === "config.reloaded")).toBe(true);
  }, 60_000);

  test("PostgreSQL down: a secret read answers 503 with Retry-After, never a bare 500, and works again after recovery", async () => {
    const admin = server.runtime.adminTokens[0] as string;
    const secret = (init: RequestInit = {}) =>
      fetch(`${server.url}/api/v1/secrets/data/prod/api/db`, {
        ...init,
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      });
    expect(
      (await secret({ method: "PUT", body: JSON.stringify({ data: { password: "pw-1" } }) })).status,
    ).toBe(200);
    await pg.halt();
    try {
      const refused = await secret();
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect(await refused.json()).toMatchObject({
        error: "unavailable",
        message: "the database is unavailable; try again shortly",
      });
    } finally {
      await pg.resume();
    }
    let after = await secret();
    for (let i = 0; i < 50 && after.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await secret();
    }
    expect(await after.json()).toMatchObject({ data: { password: "pw-1" } });
  }, 60_000);

  test("Redis down: readiness reports it while the audit path keeps working", async () => {
    await redis.stop();
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ store: true, hotState: false });
    expect((await post("batch-redis-down", events(2, "redis-down"))).status).toBe(201);
  });
});
