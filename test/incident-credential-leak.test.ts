// The credential-leak story end to end, on real parts: a service's API key is used from its usual
// host, then leaks and is used through a running gateway from an address never seen before. The
// gateway's events reach the server through its forwarder; the `credential-new-ip` rule fires, a
// P1 incident opens, a signed webhook is told, and the credential-leak playbook revokes the key,
// blocks the address at the gateway, ends the holder's credentials, rotates the database password
// it could read in a real PostgreSQL (the old one stops working at once) and marks the incident
// contained and eradicated. The audit log proves every step; MTTR for the run is printed.
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";
import { createEventForwarder, type EventForwarder } from "../src/platform/events/index.ts";
import { createRedisHotState, type HotState } from "../src/platform/hotstate/index.ts";
import { startTestServer, type TestServer } from "./support/api.ts";
import { type RestartableService, listenLocal, startPostgres } from "./support/services.ts";
import { startWebhookSink, type WebhookSink } from "./support/sinks.ts";

const suffix = randomBytes(4).toString("hex");
const ADMIN_PASSWORD = `pg-admin-${suffix}`;
const INGEST_TOKEN = `ingest-${randomBytes(24).toString("hex")}`;
const HOOK_SECRET = `hook-${randomBytes(24).toString("hex")}`;
// Unique per run: other suites share this Redis, and revocation is by subject.
const service = `billing-${suffix}`;
const role = `billing_${suffix}`;
const attacker = `203.0.113.${10 + (randomBytes(1)[0]! % 200)}`;

let postgres: RestartableService;
let upstream: Server;
let sink: WebhookSink;
let t: TestServer;
let hot: HotState;
let forwarder: EventForwarder;
let gateway: Gateway;
let admin: string;

const api = (method: string, path: string, token = admin, body?: object) => t.call(method, path, token, body);

/** A call to the billing API through the gateway, from `ip` when given (the gateway trusts loopback's X-Forwarded-For). */
const billing = (key: string, ip?: string) =>
  fetch(`${gateway.url}/billing/invoices`, {
    headers: {
      authorization: `Bearer ${key}`,
      accept: "application/json",
      ...(ip ? { "x-forwarded-for": ip } : {}),
    },
  });

async function login(username: string, password: string): Promise<void> {
  const url = new URL(postgres.url);
  url.username = encodeURIComponent(username);
  url.password = encodeURIComponent(password);
  const c = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
  c.on("error", () => {});
  await c.connect();
  await c.end();
}

beforeAll(async () => {
  postgres = await startPostgres({ passwords: ADMIN_PASSWORD });
  const c = new pg.Client({ connectionString: postgres.url });
  await c.connect();
  await c.query(`create role ${role} nologin`);
  await c.end();
  upstream = createServer((_req, res) => res.end('{"invoices":[]}'));
  const upstreamUrl = await listenLocal(upstream);
  sink = await startWebhookSink({ secret: HOOK_SECRET });

  const redisUrl = inject("redisUrl");
  t = await startTestServer({
    name: "leak",
    config: {
      environment: "prod",
      hotState: { redisUrl },
      events: { ingestTokens: [{ name: "edge-1", token: INGEST_TOKEN }], batchMaxDelayMs: 5 },
      identity: { serviceAccounts: [{ name: service, scopes: ["invoices"] }] },
      secrets: {
        policies: [
          {
            name: "billing",
            paths: ["/prod/billing/**"],
            capabilities: ["read"],
            serviceAccounts: [service],
          },
        ],
        rotation: [
          {
            path: "/prod/billing/db",
            everyDays: 30,
            graceMinutes: 60,
            target: { kind: "postgres", adminUrl: postgres.url, role },
          },
        ],
      },
      alerts: {
        channels: [{ name: "soc", type: "webhook", url: sink.url, secret: HOOK_SECRET }],
        routes: [{ priorities: ["P0", "P1"], channels: ["soc"] }],
      },
      // Only the shipped playbooks.
      playbooks: { dirs: [] },
    },
  });
  admin = t.admin;

  hot = createRedisHotState({ url: redisUrl });
  forwarder = await createEventForwarder({
    url: t.url,
    token: INGEST_TOKEN,
    spoolDir: join(t.work, "spool"),
    source: "edge-1",
    batchMaxDelayMs: 10,
  });
  gateway = await startGateway({
    gateway: gatewayConfigSchema.parse({ port: 0, trustedProxies: ["127.0.0.1"] }),
    routes: [
      routeConfigSchema.parse({
        id: "billing-api",
        path: "/billing",
        upstream: upstreamUrl,
        auth: { accept: ["api-key"] },
        policy: { rules: [{ allow: { serviceAccounts: [service] } }] },
      }),
    ],
    hot,
    emit: (e) => forwarder.emit(e),
    source: "edge-1",
    identity: { identity: t.server.runtime.config.identity, rbac: {} },
  });
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  await forwarder?.close();
  await hot?.close();
  await t?.stop();
  await sink?.close();
  upstream?.close();
  await postgres?.stop();
});

test("a leaked API key used from a new address is contained, rotated and audited within seconds", async () => {
  const rt = t.server.runtime;
  // The database credential exists (first rotation) and the service reads it with its key, as it does daily.
  expect((await rt.secretsRotation!.runDue()).rotated).toEqual([
    { path: "/prod/billing/db", ok: true, version: 1 },
  ]);
  const { key, id: keyId } = await t.apiKeyFor(service, {
    kind: "service",
    scopes: ["invoices"],
    ttlSeconds: 86_400,
  });
  const read = await api("GET", "/api/v1/secrets/data/prod/billing/db", key);
  expect(read.status).toBe(200);
  const leakedDb = (read.json as { data: { username: string; password: string } }).data;
  await login(leakedDb.username, leakedDb.password);
  // Its usual address (loopback) through the gateway: known, so nothing fires.
  expect((await billing(key)).status).toBe(200);
  await forwarder.flush();
  await rt.bus.flush();
  await rt.response.settled();
  expect(await rt.incidents.list({ open: true })).toEqual([]);

  // The leak: someone else uses the key from an address it was never used from.
  const leakedAt = Date.now();
  expect((await billing(key, attacker)).status).toBe(200);

  // A P1 incident opens from the rule, and the webhook hears of it.
  await expect
    .poll(async () => (await rt.incidents.list({ open: true })).map((i) => [i.rule, i.priority]), {
      timeout: 10_000,
    })
    .toEqual([["credential-new-ip", "P1"]]);
  const [incident] = await rt.incidents.list({ open: true });
  const detectedMs = Date.now() - leakedAt;
  await expect.poll(() => sink.received.map((m) => m.kind), { timeout: 10_000 }).toContain("incident_opened");
  const alert = sink.received.find((m) => m.kind === "incident_opened")!;
  expect(alert).toMatchObject({ priority: "P1", incident: { id: incident!.id } });
  expect(JSON.stringify(alert)).toContain(attacker);

  // The playbook contains and eradicates without waiting for a person.
  await expect
    .poll(async () => (await rt.incidents.get(incident!.id)).state, { timeout: 30_000, interval: 200 })
    .toBe("eradicated");
  const containedMs = Date.now() - leakedAt;
  const [run] = await rt.playbooks.runs({ incident: incident!.id });
  expect(run).toMatchObject({ playbook: "credential-leak", status: "waiting" });
  const status = Object.fromEntries(run!.steps.map((s) => [s.step, s.status]));
  expect(status).toMatchObject({
    "revoke-key": "done",
    "block-ip": "done",
    "revoke-subject": "done",
    "snapshot-evidence": "done",
    notify: "done",
    "mark-contained": "done",
    "rotate-readable": "done",
    "mark-eradicated": "done",
  });

  // At the running gateway: the address is refused outright, and the key no longer works from anywhere.
  await expect.poll(async () => (await billing(key, attacker)).status, { timeout: 3000 }).toBe(403);
  expect((await billing(key)).status).toBe(401);
  // In PostgreSQL: the password the attacker could have read is dead, the new one works.
  await expect(login(leakedDb.username, leakedDb.password)).rejects.toMatchObject({ code: "28P01" });
  const fresh = (
    await rt.secrets!.get(
      {
        identity: {
          kind: "service",
          subject: "rampart:test",
          groups: [],
          roles: ["admin"],
          claims: {},
          credential: "api-key",
        },
        actor: { kind: "system", id: "test" },
      },
      "/prod/billing/db",
    )
  ).data as { username: string; password: string };
  expect(fresh.password).not.toBe(leakedDb.password);
  await login(fresh.username, fresh.password);
  // The responders were told what was contained, through the same signed webhook.
  await expect.poll(() => sink.received.some((m) => m.kind === "notice"), { timeout: 10_000 }).toBe(true);

  // The audit log proves each step: the rule fired, the playbook acted, each module recorded its change.
  await rt.bus.flush();
  const entries = async (q: string) =>
    ((await api("GET", `/api/v1/audit/entries?${q}&limit=500`)).json.entries as Array<{
      type: string;
      actor: string;
      target?: string;
      data: Record<string, unknown>;
    }>) ?? [];
  const fired = await entries("type=detect.fired");
  expect(fired.some((e) => e.target === "rule:credential-new-ip")).toBe(true);
  const byPlaybook = await entries("actor=playbook:credential-leak");
  const types = new Set(byPlaybook.map((e) => e.type));
  for (const t of [
    "playbook.started",
    "playbook.step_executed",
    "identity.api_key_revoked",
    "gateway.block_added",
    "secrets.rotation_requested",
    "incident.state_changed",
  ])
    expect(types, t).toContain(t);
  const steps = byPlaybook.filter((e) => e.type === "playbook.step_executed");
  for (const e of steps)
    expect(e.data).toMatchObject({
      incident: incident!.id,
      triggeredBy: "rule:credential-new-ip",
      dryRun: false,
    });
  expect(byPlaybook.find((e) => e.type === "gateway.block_added")?.target).toBe(`ip:${attacker}`);
  expect(byPlaybook.find((e) => e.type === "identity.api_key_revoked")?.target).toBe(`api_key:${keyId}`);
  const rotated = await entries("type=secrets.rotated");
  expect(rotated.some((e) => e.target === "secret:/prod/billing/db")).toBe(true);

  // A responder verifies and declares recovery: MTTR for this run.
  expect(
    (await api("POST", `/api/v1/incidents/${incident!.id}/transition`, admin, { to: "recovered" })).status,
  ).toBe(200);
  const done = await rt.incidents.get(incident!.id);
  const mttr = (Date.parse(done.recoveredAt!) - Date.parse(done.createdAt)) / 1000;
  const contain = (Date.parse(done.containedAt!) - Date.parse(done.createdAt)) / 1000;
  console.log(
    `credential leak: detected ${(detectedMs / 1000).toFixed(1)} s after first use, contained ${contain.toFixed(1)} s after detection (eradicated ${(containedMs / 1000).toFixed(1)} s after first use), MTTR ${mttr.toFixed(1)} s`,
  );
  expect(contain).toBeLessThan(60);
}, 120_000);
