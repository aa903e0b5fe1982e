// The control plane over HTTP: health, metrics, OpenAPI, authenticated idempotent event ingestion.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { defaultConfig } from "../src/config/index.ts";
import { newEvent } from "../src/platform/events/index.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";

const ingestToken = "gw-token-0123456789abcdef0123456789abcdef";

describe("control plane API", () => {
  let server: RunningServer;
  let dataDir: string;
  let admin: string;

  const call = (path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(`${server.url}${path}`, {
      ...init,
      headers: {
        ...(init.body ? { "content-type": "application/json" } : {}),
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      },
    });
  const batch = (batchId: string, n = 3) => ({
    batchId,
    source: "gw-1",
    events: Array.from({ length: n }, (_, i) =>
      newEvent({
        type: "waf.blocked",
        actor: { kind: "ip", id: `203.0.113.${i}` },
        severity: "medium",
        outcome: "denied",
        data: { rule: 942100 },
      }),
    ),
  });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "rampart-server-"));
    const base = defaultConfig();
    server = await startServer({
      config: {
        ...base,
        server: { ...base.server, port: 0 },
        database: { dataDir },
        events: { ...base.events, ingestTokens: [{ name: "gw-1", token: ingestToken }] },
      },
      logger: pino({ level: "silent" }),
    });
    admin = server.runtime.adminTokens[0] as string;
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("health, readiness and metrics answer", async () => {
    expect(await (await call("/healthz")).json()).toEqual({ status: "ok" });
    expect(await (await call("/readyz")).json()).toEqual({ status: "ready", store: true, hotState: true });
    const metrics = await (await call("/metrics")).text();
    expect(metrics).toContain("rampart_events_total");
    expect(metrics).toContain("rampart_nodejs_heap_size_total_bytes");
  });

  test("the OpenAPI document lists the API", async () => {
    const doc = (await (await call("/api/docs/json")).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/api/v1/events", "/api/v1/audit/entries", "/api/v1/audit/verify"]),
    );
  });

  test("event ingestion needs a valid token", async () => {
    expect(
      (await call("/api/v1/events", { method: "POST", body: JSON.stringify(batch("batch-noauth")) })).status,
    ).toBe(401);
    const wrong = await call("/api/v1/events", {
      method: "POST",
      token: `${ingestToken}x`,
      body: JSON.stringify(batch("batch-wrong")),
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: "unauthorized" });
    // An admin token is not an ingest token, and the audit API refuses ingest tokens.
    expect(
      (
        await call("/api/v1/events", {
          method: "POST",
          token: admin,
          body: JSON.stringify(batch("batch-admin")),
        })
      ).status,
    ).toBe(401);
    expect((await call("/api/v1/audit/logs", { token: ingestToken })).status).toBe(401);
  });

  test("a malformed batch is refused with what and where", async () => {
    const bad = batch("batch-bad-0001");
    (bad.events[1] as { severity: string }).severity = "apocalyptic";
    const res = await call("/api/v1/events", {
      method: "POST",
      token: ingestToken,
      body: JSON.stringify(bad),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { message: string; requestId: string };
    expect(body.message).toMatch(/^events\[1\]\.severity: /);
    expect(body.requestId).toBeTruthy();
    expect(
      (await call("/api/v1/events", { method: "POST", token: ingestToken, body: "{not json" })).status,
    ).toBe(400);
  });

  test("a retried batch is stored once", async () => {
    const b = batch("batch-retry-0001", 5);
    const first = await call("/api/v1/events", {
      method: "POST",
      token: ingestToken,
      body: JSON.stringify(b),
    });
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ accepted: 5, duplicate: false });
    const again = await call("/api/v1/events", {
      method: "POST",
      token: ingestToken,
      body: JSON.stringify(b),
    });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ accepted: 0, duplicate: true });
    const q = await call(`/api/v1/audit/entries?type=waf.blocked&limit=1000`, { token: admin });
    const ids = ((await q.json()) as { entries: Array<{ id: string }> }).entries.map((e) => e.id);
    for (const e of b.events) expect(ids.filter((id) => id === e.id)).toHaveLength(1);
  });

  test("audit API: entries, verify, proofs and the value hash", async () => {
    await call("/api/v1/events", {
      method: "POST",
      token: ingestToken,
      body: JSON.stringify(batch("batch-audit-0001")),
    });
    const entries = (await (
      await call("/api/v1/audit/entries?type=waf.blocked&limit=2", { token: admin })
    ).json()) as {
      entries: Array<{ id: string; source: string }>;
      next: string;
    };
    expect(entries.entries).toHaveLength(2);
    expect(entries.entries[0]?.source).toBe("gw-1");
    expect(entries.next).toBeTruthy();
    const verify = (await (await call("/api/v1/audit/verify", { method: "POST", token: admin })).json()) as {
      ok: boolean;
    };
    expect(verify.ok).toBe(true);
    const proof = await call(`/api/v1/audit/proof/inclusion?entry=${entries.entries[0]?.id}`, {
      token: admin,
    });
    expect(proof.status).toBe(200);
    expect(((await proof.json()) as { proof: string[] }).proof.length).toBeGreaterThan(0);
    expect((await call("/api/v1/audit/proof/inclusion?entry=nope", { token: admin })).status).toBe(404);
    const hash = (await (
      await call("/api/v1/audit/hash", {
        method: "POST",
        token: admin,
        body: JSON.stringify({ value: "s3cret" }),
      })
    ).json()) as { hash: string };
    expect(hash.hash).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect((await call("/api/v1/audit/entries?from=notatime", { token: admin })).status).toBe(400);
  });

  test("a gateway cannot claim another source", async () => {
    const b = batch("batch-spoof-0001", 1);
    const spoofed = { ...b, source: "gw-2", events: b.events.map((e) => ({ ...e, source: "gw-2" })) };
    expect(
      (await call("/api/v1/events", { method: "POST", token: ingestToken, body: JSON.stringify(spoofed) }))
        .status,
    ).toBe(201);
    const q = await call("/api/v1/audit/entries?type=waf.blocked&limit=1000", { token: admin });
    const stored = ((await q.json()) as { entries: Array<{ id: string; source: string }> }).entries;
    expect(stored.find((e) => e.id === b.events[0]?.id)?.source).toBe("gw-1");
  });
});
