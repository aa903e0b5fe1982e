// Dynamic blocks end to end: an operator blocks an address or a country through the control-plane
// API, two gateway replicas sharing Redis refuse it within moments, the change is audited, and
// lifting the block (or its expiry) lets the client back in. Redis going away does not lift a block.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { defaultConfig, gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";
import { createRedisHotState, type HotState } from "../src/platform/hotstate/index.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";
import { rampart } from "./support/cli.ts";
import { listenLocal, startRedis } from "./support/services.ts";

let app: Server;
let appUrl: string;
beforeAll(async () => {
  app = createServer((_req, res) => res.end("ok"));
  appUrl = await listenLocal(app);
});
afterAll(() => app.close());

const gatewayConfig = () => gatewayConfigSchema.parse({ port: 0, trustedProxies: ["127.0.0.1"] });
const from = (gw: Gateway, ip: string) =>
  fetch(`${gw.url}/`, { headers: { accept: "application/json", "x-forwarded-for": ip } });

describe("dynamic blocks through the control plane", () => {
  let server: RunningServer;
  let dataDir: string;
  let admin: string;
  const hots: HotState[] = [];
  const gateways: Gateway[] = [];

  const api = (method: string, path: string, body?: object, token: string | undefined = admin) =>
    fetch(`${server.url}/api/v1/gateway/blocks${path}`, {
      method,
      headers: {
        ...(body ? { "content-type": "application/json" } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "rampart-blocks-"));
    const base = defaultConfig();
    server = await startServer({
      config: {
        ...base,
        server: { ...base.server, port: 0 },
        database: { dataDir },
        hotState: { redisUrl: inject("redisUrl") },
      },
      logger: pino({ level: "silent" }),
    });
    admin = server.runtime.adminTokens[0] as string;
    for (let i = 0; i < 2; i++) {
      const hot = createRedisHotState({ url: inject("redisUrl") });
      hots.push(hot);
      gateways.push(
        await startGateway({
          gateway: gatewayConfig(),
          routes: [routeConfigSchema.parse({ upstream: appUrl })],
          hot,
        }),
      );
    }
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await Promise.all(hots.map((h) => h.close()));
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a block set through the API is enforced by every replica, audited, and lifted", async () => {
    const added = await api("POST", "", {
      target: "198.51.100.77",
      ttlSeconds: 300,
      reason: "credential stuffing",
    });
    expect(added.status).toBe(201);
    expect(await added.json()).toMatchObject({
      target: "198.51.100.77",
      by: "admin",
      reason: "credential stuffing",
    });
    for (const gw of gateways) {
      await expect.poll(async () => (await from(gw, "198.51.100.77")).status, { timeout: 3000 }).toBe(403);
      const refused = await from(gw, "198.51.100.77");
      expect(await refused.json()).toMatchObject({
        error: { status: 403, message: "requests from your address are blocked for now" },
      });
      expect((await from(gw, "198.51.100.78")).status).toBe(200);
    }

    const ranged = await api("POST", "", { target: "2001:db8::/32", ttlSeconds: 300, reason: "scanner" });
    expect(ranged.status).toBe(201);
    await expect.poll(async () => (await from(gateways[1] as Gateway, "2001:db8:7::1")).status).toBe(403);
    const listed = (await (await api("GET", "")).json()) as { blocks: { target: string }[] };
    // Other tests share this Redis: look for ours among whatever else is listed.
    expect(listed.blocks.map((b) => b.target)).toEqual(
      expect.arrayContaining(["198.51.100.77", "2001:db8::/32"]),
    );

    expect((await api("DELETE", "/198.51.100.77")).status).toBe(200);
    expect((await api("DELETE", `/${encodeURIComponent("2001:db8::/32")}`)).status).toBe(200);
    for (const gw of gateways)
      await expect.poll(async () => (await from(gw, "198.51.100.77")).status, { timeout: 3000 }).toBe(200);
    expect((await api("DELETE", "/198.51.100.77")).status).toBe(404);

    const entries = await fetch(`${server.url}/api/v1/audit/entries?type=gateway.block_added`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const found = (await entries.json()) as { entries: { target: string; actor: string }[] };
    expect(found.entries.map((e) => e.target).sort()).toEqual(["ip:198.51.100.77", "ip:2001:db8::/32"]);
    expect(found.entries[0]?.actor).toBe("token:admin");
  });

  // Country addresses from the bundled DB-IP database (see gateway-geo.test.ts): 130.208.0.1 is in
  // Iceland, 202.36.0.1 in New Zealand, 81.2.69.142 in the UK. No other test uses IS or NZ.
  test("a country block refuses that country's clients at every replica, is audited, and lifts", async () => {
    const added = await api("POST", "", { target: "country:is", ttlSeconds: 300, reason: "INC-12 botnet" });
    expect(added.status).toBe(201);
    expect(await added.json()).toMatchObject({ target: "country:IS", by: "admin", reason: "INC-12 botnet" });
    for (const gw of gateways) {
      await expect.poll(async () => (await from(gw, "130.208.0.1")).status, { timeout: 2000 }).toBe(403);
      expect(await (await from(gw, "130.208.0.1")).json()).toMatchObject({
        error: { status: 403, message: "requests from your country are blocked for now" },
      });
      expect((await from(gw, "81.2.69.142")).status).toBe(200);
      expect((await from(gw, "10.1.2.3")).status).toBe(200); // no country
    }
    const listed = (await (await api("GET", "")).json()) as { blocks: { target: string }[] };
    expect(listed.blocks.map((b) => b.target)).toContain("country:IS");

    expect((await api("DELETE", "/country:IS")).status).toBe(200);
    for (const gw of gateways)
      await expect.poll(async () => (await from(gw, "130.208.0.1")).status, { timeout: 2000 }).toBe(200);
    expect((await api("DELETE", "/country:IS")).status).toBe(404);

    const entries = await fetch(`${server.url}/api/v1/audit/entries?type=gateway.block_removed`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const found = (await entries.json()) as { entries: { target: string; actor: string }[] };
    expect(found.entries.map((e) => e.target)).toContain("country:IS");

    // A short one expires by itself at every replica.
    expect((await api("POST", "", { target: "country:NZ", ttlSeconds: 1, reason: "short" })).status).toBe(
      201,
    );
    await expect.poll(async () => (await from(gateways[1] as Gateway, "202.36.0.1")).status).toBe(403);
    await expect
      .poll(async () => (await from(gateways[1] as Gateway, "202.36.0.1")).status, { timeout: 3000 })
      .toBe(200);

    const bad = await api("POST", "", { target: "country:ISL", ttlSeconds: 60, reason: "x" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ message: expect.stringMatching(/target.*country:XX/) });
  });

  test("a block expires by itself", async () => {
    expect((await api("POST", "", { target: "198.51.100.90", ttlSeconds: 1, reason: "short" })).status).toBe(
      201,
    );
    await expect.poll(async () => (await from(gateways[0] as Gateway, "198.51.100.90")).status).toBe(403);
    await expect
      .poll(async () => (await from(gateways[0] as Gateway, "198.51.100.90")).status, { timeout: 3000 })
      .toBe(200);
  });

  // Each run of the CLI starts Node afresh: seconds apiece on a busy two-core machine.

  test(
    "rampart blocks add, list and remove go through the server, as an operator uses them",
    { timeout: 60_000 },
    async () => {
      const cli = (...args: string[]) =>
        rampart(["blocks", ...args, "--server", server.url], { cwd: dataDir, env: { RAMPART_TOKEN: admin } });
      const added = await cli("add", "192.0.2.200", "--for", "2h", "--reason", "INC-7 scanner");
      expect(added.stderr).toBe("");
      expect(added.stdout).toMatch(/^blocked\n\s+192\.0\.2\.200\s+until \S+Z\s+by admin: INC-7 scanner/);
      await expect.poll(async () => (await from(gateways[0] as Gateway, "192.0.2.200")).status).toBe(403);
      const listed = JSON.parse((await cli("list", "--json")).stdout) as {
        target: string;
        expiresAt: string;
      }[];
      const mine = listed.find((b) => b.target === "192.0.2.200");
      const hours = (Date.parse(mine?.expiresAt ?? "") - Date.now()) / 3_600_000;
      expect(hours).toBeGreaterThan(1.9);
      expect(hours).toBeLessThanOrEqual(2);
      expect((await cli("remove", "192.0.2.200")).stdout).toMatch(/^lifted/);
      await expect.poll(async () => (await from(gateways[0] as Gateway, "192.0.2.200")).status).toBe(200);

      const badDuration = await cli("add", "192.0.2.201", "--for", "forever", "--reason", "x");
      expect(badDuration.code).not.toBe(0);
      expect(badDuration.stderr).toContain("--for: expected a duration such as 30m, 2h or 7d; got 'forever'");
      const badTarget = await cli("add", "not-an-ip", "--for", "1h", "--reason", "x");
      expect(badTarget.stderr).toMatch(/400 .*expected an IP address or CIDR range/);
      const noServer = await rampart(["blocks", "list"], { cwd: dataDir });
      expect(noServer.stderr).toContain("no running server found");
    },
  );

  // Each run of the CLI starts Node afresh: seconds apiece on a busy two-core machine.

  test(
    "rampart block add country:XX --ttl blocks a country, as a playbook's runbook says it",
    { timeout: 60_000 },
    async () => {
      const cli = (...args: string[]) =>
        rampart([...args, "--server", server.url], { cwd: dataDir, env: { RAMPART_TOKEN: admin } });
      const added = await cli("block", "add", "country:nz", "--ttl", "1h", "--reason", "INC-8 scanner");
      expect(added.stderr).toBe("");
      expect(added.stdout).toMatch(/^blocked\n\s+country:NZ\s+until \S+Z\s+by admin: INC-8 scanner/);
      await expect.poll(async () => (await from(gateways[0] as Gateway, "202.36.0.1")).status).toBe(403);
      expect((await cli("block", "remove", "country:NZ")).stdout).toMatch(/^lifted/);
      await expect.poll(async () => (await from(gateways[0] as Gateway, "202.36.0.1")).status).toBe(200);
      expect((await cli("block", "add", "country:NZ", "--ttl", "soon", "--reason", "x")).stderr).toContain(
        "--ttl: expected a duration",
      );
    },
  );

  test("bad requests are refused with the field named; only admins may block", async () => {
    const bad = await api("POST", "", { target: "example.com", ttlSeconds: 60, reason: "x" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ message: expect.stringMatching(/target/) });
    expect((await api("POST", "", { target: "198.51.100.1", ttlSeconds: 0, reason: "x" })).status).toBe(400);
    expect(
      (await api("POST", "", { target: "198.51.100.1", ttlSeconds: 60, reason: "x" }, "wrong")).status,
    ).toBe(401);
    expect((await api("GET", "", undefined, "")).status).toBe(401);
  });
});

test("a replica keeps enforcing blocks while its Redis is down", async () => {
  const redis = await startRedis();
  const hot = createRedisHotState({ url: redis.url });
  const gw = await startGateway({
    gateway: gatewayConfig(),
    routes: [routeConfigSchema.parse({ upstream: appUrl })],
    hot,
  });
  try {
    const { createBlockList } = await import("../src/network/gateway/blocks.ts");
    const admin = createRedisHotState({ url: redis.url });
    await createBlockList(admin, { clock: { now: () => new Date() } }).add({
      target: "198.51.100.5",
      ttlSeconds: 300,
      reason: "x",
      by: "test",
    });
    await admin.close();
    await expect.poll(async () => (await from(gw, "198.51.100.5")).status).toBe(403);
    await redis.stop();
    await new Promise((r) => setTimeout(r, 300));
    expect((await from(gw, "198.51.100.5")).status).toBe(403);
    expect((await from(gw, "198.51.100.6")).status).toBe(200);
  } finally {
    await gw.close();
    await hot.close();
  }
});
