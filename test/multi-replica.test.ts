// A production shape on one machine: three `rampart gateway` processes and two `rampart server`
// processes sharing one Redis and one PostgreSQL. A global rate limit holds across the gateways, a
// revocation made at one server reaches every gateway within a second, scheduled jobs run on one
// server at a time (and move when it dies), and both servers write one audit log that verifies.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { hashClientSecret } from "../src/identity/service-auth/index.ts";
import { createRedisHotState } from "../src/platform/hotstate/index.ts";
import { freshDatabase } from "./support/pg.ts";
import { killAllRampartProcesses, type RampartProcess, startRampart, until } from "./support/processes.ts";
import { freePort, listenLocal } from "./support/services.ts";

const run = randomBytes(4).toString("hex");
const adminToken = `multi-admin-${run}-0123456789abcdef0123456789`;
const ingestToken = `multi-ingest-${run}-0123456789abcdef012345678`;
const service = `batch-${run}`;
const serviceSecret = `batch-secret-${run}-0123456789abcdef`;
const LIMIT = 300;
const work = mkdtempSync(join(tmpdir(), "rampart-multi-"));

let db: Awaited<ReturnType<typeof freshDatabase>>;
let upstream: ReturnType<typeof createServer>;
let servers: { url: string; proc: RampartProcess; start: () => Promise<RampartProcess> }[] = [];
let gateways: { url: string; proc: RampartProcess }[] = [];
const gatewayFile = join(work, "gateway.yaml");
let gatewayConfig: { routes: Record<string, unknown>[] } & Record<string, unknown>;

const sql = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> => {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
};
const api = (base: string, path: string, init: RequestInit = {}) =>
  fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json", ...init.headers },
  });

beforeAll(async () => {
  db = await freshDatabase(inject("pgUrl"));
  // Its own Redis database: the dynamic block list and sessions are deployment-wide keys.
  const redisUrl = `${inject("redisUrl")}/9`;
  upstream = createServer((_req, res) => res.end("ok"));
  const upstreamUrl = await listenLocal(upstream);
  const common = {
    version: 1,
    hotState: { redisUrl },
    identity: {
      tokens: { secret: `tokens-${run}-0123456789abcdef0123456789abcdef` },
      serviceAccounts: [{ name: service, secretHashes: [hashClientSecret(serviceSecret)], scopes: ["read"] }],
    },
  };
  mkdirSync(join(work, "keys"), { mode: 0o700 });
  const serverPorts = [await freePort(), await freePort()];
  servers = serverPorts.map((port, i) => {
    const file = join(work, `server-${i}.yaml`);
    // JSON is YAML: the file an operator would write.
    writeFileSync(
      file,
      JSON.stringify({
        ...common,
        server: { port },
        database: { url: db.url, dataDir: join(work, `data-${i}`) },
        // One key file and one root key for the deployment (a mounted Secret in Kubernetes).
        audit: { keyFile: join(work, "keys", "audit.json"), checkpointIntervalSeconds: 1 },
        secrets: { root: { provider: "env" } },
        events: { ingestTokens: [{ name: "edge", token: ingestToken }], batchMaxDelayMs: 20 },
        compliance: { intervalSeconds: 2 },
      }),
    );
    const url = `http://127.0.0.1:${port}`;
    const start = () =>
      startRampart(["server", "-c", file], {
        cwd: work,
        ready: `${url}/healthz`,
        env: {
          RAMPART_ADMIN_TOKEN: adminToken,
          RAMPART_SECRETS_ROOT_KEY: Buffer.alloc(32, 7).toString("base64"),
        },
      });
    return { url, start, proc: undefined as unknown as RampartProcess };
  });
  // One at a time: the first creates the audit key file the second then reads.
  for (const s of servers) s.proc = await s.start();

  gatewayConfig = {
    ...common,
    gateway: {
      trustedProxies: ["127.0.0.1"],
      eventIntervalSeconds: 1,
      controlPlane: { token: "${env:INGEST_TOKEN}", spoolDir: "${env:SPOOL_DIR}", batchMaxDelayMs: 20 },
    },
    routes: [
      {
        id: `limited-${run}`,
        path: "/limited",
        upstream: upstreamUrl,
        rateLimits: [{ name: "global", limit: LIMIT, windowSeconds: 3600 }],
      },
      {
        id: `batch-${run}`,
        path: "/batch",
        upstream: upstreamUrl,
        auth: { accept: ["access-token"] },
        policy: { rules: [{ allow: { serviceAccounts: [service] } }] },
      },
    ],
  };
  writeFileSync(gatewayFile, JSON.stringify(gatewayConfig));
  // Two gateways send their events to one server, the third to the other.
  gateways = [];
  for (const [i, server] of [servers[0], servers[0], servers[1]].entries()) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = await startRampart(
      ["gateway", "-c", gatewayFile, "--gateway-port", String(port), "--control-plane", server?.url ?? ""],
      {
        cwd: work,
        ready: `${url}/`,
        env: { INGEST_TOKEN: ingestToken, SPOOL_DIR: join(work, `spool-${i}`), RAMPART_LOG_LEVEL: "info" },
      },
    );
    gateways.push({ url, proc });
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([...gateways, ...servers].map((p) => p.proc?.stop()));
  killAllRampartProcesses();
  upstream?.close();
  await db?.drop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

test("a global rate limit holds within 5% across three gateways, and every refusal reaches the audit log", async () => {
  const client = `198.51.100.${1 + (Number.parseInt(run, 16) % 200)}`;
  const statuses: number[] = [];
  // Ten at a time, spread over the three gateways in turn.
  for (let i = 0; i < 3 * LIMIT; i += 10) {
    const wave = await Promise.all(
      Array.from({ length: 10 }, async (_, k) => {
        const g = gateways[(i + k) % gateways.length] as { url: string };
        const res = await fetch(`${g.url}/limited`, { headers: { "x-forwarded-for": client } });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    statuses.push(...wave);
  }
  const allowed = statuses.filter((s) => s === 200).length;
  const refused = statuses.filter((s) => s === 429).length;
  expect(allowed + refused).toBe(3 * LIMIT);
  // Per gateway, each would have let LIMIT through: 3 × LIMIT in all.
  expect(allowed).toBeGreaterThanOrEqual(LIMIT);
  expect(allowed).toBeLessThanOrEqual(LIMIT * 1.05);

  // Refusals are counted per gateway and sent to the servers; the two servers' audit log adds up.
  const counted = async () => {
    const rows = await sql<{ n: string }>(
      "select coalesce(sum((body::jsonb->'data'->>'count')::int), 0) as n from audit_entries where type = 'gateway.rate_limited' and actor = $1",
      [`ip:${client}`],
    );
    return Number(rows[0]?.n ?? 0);
  };
  await until("every refusal in the audit log", async () => (await counted()) === refused, 30_000);
}, 120_000);

let bearer = "";
const status = async (g: { url: string }) => {
  const res = await fetch(`${g.url}/batch`, { headers: { authorization: bearer } });
  await res.arrayBuffer();
  return res.status;
};

test("a change to the gateways' config file reaches all three without a restart", async () => {
  const upstreamUrl = gatewayConfig.routes[0]?.upstream;
  const pids = gateways.map((g) => g.proc.child.pid);
  const added = async (g: { url: string }) => {
    const res = await fetch(`${g.url}/added`);
    await res.arrayBuffer();
    return res.status;
  };
  expect(await Promise.all(gateways.map(added))).toEqual([404, 404, 404]);
  gatewayConfig = {
    ...gatewayConfig,
    routes: [...gatewayConfig.routes, { path: "/added", upstream: upstreamUrl }],
  };
  writeFileSync(gatewayFile, JSON.stringify(gatewayConfig));
  await until("every gateway serves the new route", async () =>
    (await Promise.all(gateways.map(added))).every((s) => s === 200),
  );
  expect(gateways.map((g) => g.proc.child.pid)).toEqual(pids);
  // Each logged the same fingerprint for the file it now runs.
  const fingerprints = gateways.map(
    (g) => /"fingerprint":"([0-9a-f]{12})"[^\n]*gateway config reloaded/.exec(g.proc.stderr())?.[1],
  );
  expect(fingerprints[0]).toMatch(/^[0-9a-f]{12}$/);
  expect(new Set(fingerprints).size).toBe(1);
}, 60_000);

test("a revocation at one server reaches all three gateways within 1 s", async () => {
  const issued = await fetch(`${gateways[0]?.url}/.rampart/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${service}:${serviceSecret}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials&scope=read",
  });
  expect(issued.status).toBe(200);
  bearer = `Bearer ${((await issued.json()) as { access_token: string }).access_token}`;
  for (const g of gateways) expect(await status(g)).toBe(200);

  const started = Date.now();
  const revoked = await api(servers[1]?.url ?? "", "/api/v1/identity/revocations", {
    method: "POST",
    body: JSON.stringify({ subject: service, reason: "leaked in a build log" }),
  });
  expect(revoked.status).toBe(200);
  const refusedAfter = await Promise.all(
    gateways.map(async (g) => {
      await until("the gateway refuses the revoked token", async () => (await status(g)) === 401, 5000);
      return Date.now() - started;
    }),
  );
  for (const ms of refusedAfter) expect(ms).toBeLessThan(1000);
}, 60_000);

test("a Redis that comes back empty gets revocations and blocks back from PostgreSQL within seconds", async () => {
  expect(bearer).not.toBe("");
  const blocked = "203.0.113.77";
  const add = await api(servers[0]?.url ?? "", "/api/v1/gateway/blocks", {
    method: "POST",
    body: JSON.stringify({ target: blocked, ttlSeconds: 600, reason: "credential stuffing" }),
  });
  expect(add.status).toBe(201);
  const blockedAt = async (g: { url: string }) => {
    const res = await fetch(`${g.url}/limited`, { headers: { "x-forwarded-for": blocked } });
    await res.arrayBuffer();
    return res.status;
  };
  await until("every gateway refuses the blocked address", async () =>
    (await Promise.all(gateways.map(blockedAt))).every((s) => s === 403),
  );
  const redis = createRedisHotState({ url: `${inject("redisUrl")}/9` });
  try {
    // What a restart without persistence leaves: neither list.
    for (const key of ["identity:revocations", "gateway:blocks"]) expect(await redis.del(key)).toBe(true);
    const ms = await until(
      "a server puts both lists back",
      async () =>
        ((await redis.get("identity:revocations"))?.includes(service) ?? false) &&
        ((await redis.get("gateway:blocks"))?.includes(blocked) ?? false),
      15_000,
    );
    expect(ms).toBeLessThan(6000);
  } finally {
    await redis.close();
  }
  // Every gateway has re-read both lists since, and refuses the token and the address.
  await new Promise((r) => setTimeout(r, 1500));
  expect(await Promise.all(gateways.map(status))).toEqual([401, 401, 401]);
  expect(await Promise.all(gateways.map(blockedAt))).toEqual([403, 403, 403]);
  const logs = servers.map((s) => s.proc.stderr()).join("");
  expect(logs).toContain("put back lists that hot state had lost");
}, 60_000);

test("scheduled jobs run on one server at a time; when it dies the other takes over", async () => {
  const check = (await sql<{ check_id: string }>("select check_id from compliance_runs limit 1"))[0]
    ?.check_id;
  expect(check).toBeDefined();
  const runsIn = async (from: number, to: number) =>
    (
      await sql<{ n: string }>(
        "select count(*) as n from compliance_runs where check_id = $1 and started_at >= $2 and started_at < $3",
        [check, new Date(from), new Date(to)],
      )
    )[0]?.n;
  const leaders = () =>
    sql<{ type: string; server: string }>(
      "select type, body::jsonb->'data'->>'server' as server from audit_entries where type in ('server.leading', 'server.stepped_down') order by time, seq",
    );
  // compliance.intervalSeconds is 2: over 10 s, five cycles in all (one either side for the
  // window's edges), where a cycle on each server would make ten.
  const cyclesOver = async (seconds: number) => {
    const from = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return Number(await runsIn(from, Date.now()));
  };
  const once = (n: number) => {
    expect(n).toBeGreaterThanOrEqual(4);
    expect(n).toBeLessThanOrEqual(6);
  };
  once(await cyclesOver(10));
  const elected = await leaders();
  expect(elected.filter((e) => e.type === "server.leading")).toHaveLength(1);

  // The leader crashes; the other server's next check takes the lock.
  const leaderPid = elected[0]?.server.split(":").at(-1);
  const leader = servers.find((s) => String(s.proc.child.pid) === leaderPid);
  const follower = servers.find((s) => s !== leader);
  expect(leader && follower).toBeTruthy();
  await leader?.proc.kill();
  await until("the other server leads", async () => (await leaders()).length === 2, 15_000);
  expect((await leaders())[1]).toEqual({
    type: "server.leading",
    server: expect.stringMatching(`:${follower?.proc.child.pid}$`),
  });
  once(await cyclesOver(10));

  // Back up, the old leader follows: still one cycle per interval.
  if (leader) leader.proc = await leader.start();
  once(await cyclesOver(10));
  expect(await leaders()).toHaveLength(2);

  // Both servers wrote the one audit log all along, and it verifies.
  const verified = await api(follower?.url ?? "", "/api/v1/audit/verify", { method: "POST", body: "{}" });
  expect(verified.status).toBe(200);
  expect(((await verified.json()) as { ok: boolean }).ok).toBe(true);
}, 120_000);
