// The control plane's identity API as people and services use it: who may call what (RBAC on
// Rampart's own API), just-in-time access with two approvers, API keys, revocation of a subject
// everywhere, and RBAC bindings that outlive a restart. Real PGlite and Redis; assertions and
// access tokens signed as a gateway signs them (same identity.tokens.secret).
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { type RampartConfig, rampartConfigSchema } from "../src/config/index.ts";
import {
  createAccessTokens,
  createRevocations,
  createServiceAccounts,
} from "../src/identity/service-auth/index.ts";
import { createSessionStore } from "../src/identity/sessions/index.ts";
import { ASSERTION_HEADER, createAssertionSigner, createTokenKeys } from "../src/identity/tokens/index.ts";
import type { Identity } from "../src/identity/types.ts";
import { manualClock, systemClock } from "../src/platform/clock.ts";
import { createHotState, type HotState } from "../src/platform/hotstate/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";

const secret = "identity-api-test-secret-0123456789abcdef";
const run = randomBytes(4).toString("hex");
// Subjects unique to this run: the Redis revocation list is shared by every suite.
const who = (name: string) => `corp:${name}-${run}`;
const alice = who("alice"); // developer, may request
const bob = who("bob"); // approver
const carol = who("carol"); // approver
const erin = who("erin"); // revoked below
const frank = who("frank"); // bound through the API
const oscar = who("oscar"); // on call: breaks the glass
const keyPrefix = `test:identity-api:${run}:`;

let dataDir: string;
let config: RampartConfig;
let server: RunningServer;
let admin: string;
let hot: HotState;
const keys: Record<string, string> = {};

function makeConfig(redisUrl: string): RampartConfig {
  const c = rampartConfigSchema.parse({
    version: 1,
    server: { port: 0 },
    database: { dataDir },
    hotState: { redisUrl },
    identity: {
      tokens: { secret },
      serviceAccounts: [{ name: "deployer", roles: ["operator"], scopes: ["deploy"] }],
    },
    routes: [
      { id: "grafana", path: "/grafana", upstream: "http://127.0.0.1:9", environment: "prod" },
      { id: "rampart-api", path: "/rampart", upstream: "http://127.0.0.1:7600" },
    ],
    rbac: {
      bindings: [
        { id: "devs", role: "developer", users: [alice, erin, oscar] },
        { id: "approvers", role: "security-admin", users: [bob, carol] },
        { id: "auditors", role: "auditor", groups: ["auditors"] },
      ],
    },
    jit: {
      roles: [
        {
          role: "operator",
          requesters: { users: [alice, bob] },
          approvers: { users: [bob, carol] },
          approvals: 2,
          maxDurationMinutes: 240,
        },
      ],
      breakGlass: { groups: ["oncall"], roles: ["operator"] },
    },
  });
  // The API's own route, as the gateway names it in the assertions it signs; the prefix keeps this
  // suite's keys apart in the shared Redis.
  return {
    ...c,
    server: { ...c.server, assertionAudience: "rampart-api" },
    hotState: { ...c.hotState, keyPrefix },
  } as RampartConfig;
}

const start = () => startServer({ config, logger: createLogger({ level: "silent" }) });

async function call(
  method: string,
  path: string,
  o: { token?: string; assertion?: string; body?: unknown } = {},
): Promise<{ status: number; json: Record<string, unknown> & { message?: string } }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(o.body !== undefined ? { "content-type": "application/json" } : {}),
      ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
      ...(o.assertion ? { [ASSERTION_HEADER]: o.assertion } : {}),
    },
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function userKey(subject: string): Promise<string> {
  const r = await call("POST", "/api/v1/identity/api-keys", {
    token: admin,
    body: { kind: "user", subject, ttlSeconds: 3600 },
  });
  expect(r.status).toBe(201);
  return r.json.key as string;
}

const person = (subject: string, groups: string[] = []): Identity => ({
  kind: "user",
  subject,
  groups,
  roles: [],
  claims: {},
  credential: "session",
});

/** An assertion as a gateway with `tokenSecret` signs it, at `now`, for `audience`. */
function assertion(
  identity: Identity,
  o: { audience?: string; tokenSecret?: string; now?: Date } = {},
): Promise<string> {
  const clock = o.now ? manualClock(o.now) : systemClock;
  const signer = createAssertionSigner({
    keys: createTokenKeys({ secret: o.tokenSecret ?? secret, clock }),
    clock,
    issuer: "rampart",
  });
  return signer.signAssertion(identity, { audience: o.audience ?? "rampart-api" });
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "rampart-identity-api-"));
  config = makeConfig(inject("redisUrl"));
  server = await start();
  admin = server.runtime.adminTokens[0] as string;
  hot = createHotState({ redisUrl: inject("redisUrl"), keyPrefix });
  for (const s of [alice, bob, carol, erin]) keys[s] = await userKey(s);
});

afterAll(async () => {
  await server?.stop();
  await hot?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("who may call the API", () => {
  test("no credential or an unknown one is 401; the admin token may do everything", async () => {
    expect((await call("GET", "/api/v1/audit/logs")).status).toBe(401);
    expect((await call("GET", "/api/v1/audit/logs", { token: "not-a-token" })).status).toBe(401);
    expect(
      (await call("GET", "/api/v1/audit/logs", { token: `rpk_abcdefgh_${"A".repeat(43)}` })).status,
    ).toBe(401);
    expect((await call("GET", "/api/v1/audit/logs", { token: admin })).status).toBe(200);
    expect((await call("GET", "/api/v1/rbac/bindings", { token: admin })).status).toBe(200);
    const doc = await call("GET", "/api/docs/json");
    expect(Object.keys(doc.json.paths as object)).toEqual(
      expect.arrayContaining([
        "/api/v1/access/requests/{id}/approve",
        "/api/v1/access/break-glass",
        "/api/v1/identity/api-keys",
        "/api/v1/identity/revocations",
        "/api/v1/rbac/bindings/{id}",
      ]),
    );
  });

  test("an auditor (by group, through a gateway assertion) reads the audit log but cannot block or approve", async () => {
    const audrey = await assertion(person(who("audrey"), ["auditors"]));
    expect((await call("GET", "/api/v1/audit/logs", { assertion: audrey })).status).toBe(200);
    expect((await call("POST", "/api/v1/audit/verify", { assertion: audrey, body: {} })).status).toBe(200);
    expect((await call("GET", "/api/v1/gateway/blocks", { assertion: audrey })).status).toBe(200);
    const block = await call("POST", "/api/v1/gateway/blocks", {
      assertion: audrey,
      body: { target: "198.51.100.9", ttlSeconds: 60, reason: "test" },
    });
    expect(block.status).toBe(403);
    expect(block.json.message).toBe("missing permission gateway:blocks:write (your roles: auditor)");
    const approve = await call("POST", "/api/v1/access/requests/some-id/approve", {
      assertion: audrey,
      body: {},
    });
    expect(approve.status).toBe(403);
    expect(approve.json.message).toContain("jit:requests:approve");
  });

  test("GET /api/v1/me says who the caller is and which of the named actions their roles grant", async () => {
    const audrey = await assertion({
      ...person(who("audrey"), ["auditors"]),
      email: "audrey@example.com",
      emailVerified: true,
    });
    const asked = "audit:read,gateway:blocks:write,jit:requests:approve";
    const me = await call("GET", `/api/v1/me?can=${asked}`, { assertion: audrey });
    expect(me.status).toBe(200);
    expect(me.json).toEqual({
      signedIn: true,
      subject: who("audrey"),
      kind: "user",
      email: "audrey@example.com",
      roles: ["auditor"],
      credential: "session",
      can: { "audit:read": true, "gateway:blocks:write": false, "jit:requests:approve": false },
    });
    const approver = await call("GET", `/api/v1/me?can=${asked}`, { token: keys[bob] });
    expect(approver.json).toMatchObject({
      subject: bob,
      credential: "api-key",
      roles: ["security-admin"],
      can: { "audit:read": true, "gateway:blocks:write": true, "jit:requests:approve": true },
    });
    const root = await call("GET", "/api/v1/me?can=rbac:bindings:write", { token: admin });
    expect(root.json).toMatchObject({
      subject: "admin-token",
      roles: ["admin"],
      can: { "rbac:bindings:write": true },
    });
    // No credential is an answer ("nobody"), a bad one is 401, a malformed question names what is wrong.
    const nobody = await call("GET", "/api/v1/me?can=audit:read");
    expect(nobody).toEqual({ status: 200, json: { signedIn: false } });
    expect((await call("GET", "/api/v1/me", { token: "not-a-token" })).status).toBe(401);
    const bad = await call("GET", "/api/v1/me?can=audit:read,DROP%20TABLE", { token: admin });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toContain("not an RBAC action name");
  });

  test("forged, expired, tampered and mis-addressed assertions are refused", async () => {
    const audrey = person(who("audrey"), ["auditors"]);
    const forged = await assertion(audrey, { tokenSecret: "another-deployment-secret-0123456789abcdef" });
    const expired = await assertion(audrey, { now: new Date(Date.now() - 3_600_000) });
    const elsewhere = await assertion(audrey, { audience: "grafana" });
    const good = await assertion(audrey);
    const [h, p, s] = good.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    const promoted = `${h}.${Buffer.from(JSON.stringify({ ...claims, roles: ["admin"] })).toString("base64url")}.${s}`;
    const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${p}.`;
    for (const bad of [forged, expired, elsewhere, promoted, unsigned, "garbage"]) {
      const r = await call("GET", "/api/v1/audit/logs", { assertion: bad });
      expect(r.status).toBe(401);
    }
  });

  test("service-account access tokens work until they expire", async () => {
    const tokensAt = (now: Date) => {
      const clock = manualClock(now);
      const revocations = createRevocations({ hotState: hot, clock, emit: () => {} });
      return createAccessTokens({
        keys: createTokenKeys({ secret, clock }),
        clock,
        issuer: "rampart",
        accounts: createServiceAccounts(config.identity.serviceAccounts),
        revocations,
      });
    };
    const account = config.identity.serviceAccounts[0]!;
    const fresh = await tokensAt(new Date()).issue(account, ["deploy"]);
    const stale = await tokensAt(new Date(Date.now() - 3_600_000)).issue(account, ["deploy"]);
    // The deployer is an operator: reads blocks, may not change RBAC.
    expect((await call("GET", "/api/v1/gateway/blocks", { token: fresh.accessToken })).status).toBe(200);
    const bind = await call("POST", "/api/v1/rbac/bindings", {
      token: fresh.accessToken,
      body: { role: "admin", serviceAccounts: ["deployer"] },
    });
    expect(bind.status).toBe(403);
    expect(bind.json.message).toContain("rbac:bindings:write");
    expect((await call("GET", "/api/v1/gateway/blocks", { token: stale.accessToken })).status).toBe(401);
  });
});

describe("just-in-time access over HTTP", () => {
  test("a developer requests; two approvers grant it; nobody approves their own; the grant is revoked", async () => {
    const asked = await call("POST", "/api/v1/access/requests", {
      token: keys[alice],
      body: {
        role: "operator",
        scope: { kind: "route", id: "grafana" },
        justification: "INC-42",
        durationMinutes: 60,
      },
    });
    expect(asked.status).toBe(201);
    const id = asked.json.id as string;
    expect(asked.json).toMatchObject({ status: "pending", requiredApprovals: 2, requester: alice });

    const own = await call("POST", `/api/v1/access/requests/${id}/approve`, { token: keys[alice], body: {} });
    expect(own.status).toBe(403);
    expect(own.json.message).toContain("jit:requests:approve");
    const byAdmin = await call("POST", `/api/v1/access/requests/${id}/approve`, { token: admin, body: {} });
    expect(byAdmin.status).toBe(403);
    expect(byAdmin.json.message).toContain("person's credential");

    const pending = await call("GET", "/api/v1/access/requests?pending=true", { token: keys[bob] });
    expect((pending.json.requests as { id: string }[]).map((r) => r.id)).toContain(id);
    const first = await call("POST", `/api/v1/access/requests/${id}/approve`, {
      token: keys[bob],
      body: { comment: "ok" },
    });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ status: "pending", grantId: null });
    expect(
      (await call("POST", `/api/v1/access/requests/${id}/approve`, { token: keys[bob], body: {} })).status,
    ).toBe(409);
    const second = await call("POST", `/api/v1/access/requests/${id}/approve`, {
      token: keys[carol],
      body: {},
    });
    expect(second.json).toMatchObject({ status: "approved" });
    const grantId = second.json.grantId as string;

    const mine = await call("GET", "/api/v1/access/requests", { token: keys[alice] });
    expect((mine.json.requests as { id: string; status: string }[])[0]).toMatchObject({
      id,
      status: "approved",
    });
    const grants = await call("GET", `/api/v1/access/grants?subject=${encodeURIComponent(alice)}`, {
      token: admin,
    });
    expect((grants.json.grants as { id: string }[]).map((g) => g.id)).toEqual([grantId]);

    const revoked = await call("DELETE", `/api/v1/access/grants/${grantId}`, {
      token: keys[bob],
      body: { reason: "done" },
    });
    expect(revoked.status).toBe(200);
    const after = await call("GET", `/api/v1/access/grants?subject=${encodeURIComponent(alice)}`, {
      token: admin,
    });
    expect(after.json.grants).toEqual([]);
  });

  test("an approver's own request cannot be approved by themselves", async () => {
    const asked = await call("POST", "/api/v1/access/requests", {
      token: keys[bob],
      body: {
        role: "operator",
        scope: { kind: "route", id: "grafana" },
        justification: "CHG-7",
        durationMinutes: 30,
      },
    });
    expect(asked.status).toBe(201);
    const id = asked.json.id as string;
    const self = await call("POST", `/api/v1/access/requests/${id}/approve`, { token: keys[bob], body: {} });
    expect(self.status).toBe(403);
    expect(self.json.message).toBe("nobody may decide on their own request");
    expect(
      (await call("POST", `/api/v1/access/requests/${id}/cancel`, { token: keys[bob], body: {} })).json,
    ).toMatchObject({ status: "cancelled" });
  });

  test("a request outside the policy is refused with why", async () => {
    const r = await call("POST", "/api/v1/access/requests", {
      token: keys[alice],
      body: {
        role: "admin",
        scope: { kind: "environment", id: "prod" },
        justification: "x",
        durationMinutes: 30,
      },
    });
    expect(r.status).toBe(403);
    expect(r.json.message).toContain("does not let you request admin");
    const bad = await call("POST", "/api/v1/access/requests", {
      token: keys[alice],
      body: { role: "operator" },
    });
    expect(bad.status).toBe(400);
  });
});

describe("API keys and revocation", () => {
  test("a key is created once, used, and refused within a second of its revocation", async () => {
    const created = await call("POST", "/api/v1/identity/api-keys", {
      token: admin,
      body: { kind: "service", subject: "deployer", scopes: ["deploy"], ttlSeconds: 3600 },
    });
    expect(created.status).toBe(201);
    const key = created.json.key as string;
    const id = (created.json.apiKey as { id: string }).id;
    expect(key).toMatch(/^rpk_/);
    expect((await call("GET", "/api/v1/gateway/blocks", { token: key })).status).toBe(200);
    const listed = await call("GET", "/api/v1/identity/api-keys?subject=deployer", { token: admin });
    expect(JSON.stringify(listed.json)).not.toContain(key.slice(13));
    expect((listed.json.apiKeys as { id: string }[]).map((k) => k.id)).toContain(id);

    expect((await call("DELETE", `/api/v1/identity/api-keys/${id}`, { token: admin })).status).toBe(200);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 1000)
      status = (await call("GET", "/api/v1/gateway/blocks", { token: key })).status;
    expect(status).toBe(401);
  });

  test("revoking a subject ends its sessions, keys, assertions and grants everywhere", async () => {
    // A gateway replica's view of the sessions: it hears revocations over pub/sub.
    const sessions = createSessionStore({ hotState: hot });
    await sessions.start();
    const { id: cookie } = await sessions.create({
      identity: person(erin),
      provider: "corp",
      tokens: { accessToken: "idp-token" },
    });
    const onCall = await assertion(person(erin, ["oncall"]));
    const glass = await call("POST", "/api/v1/access/break-glass", {
      assertion: onCall,
      body: { role: "operator", scope: { kind: "environment", id: "prod" }, reason: "outage INC-9" },
    });
    expect(glass.status).toBe(201);
    expect((await call("GET", "/api/v1/access/requests", { token: keys[erin] })).status).toBe(200);

    const r = await call("POST", "/api/v1/identity/revocations", {
      token: admin,
      body: { subject: erin, reason: "left the company" },
    });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ subject: erin, sessions: 1, grants: [glass.json.id] });
    const revokedAt = Date.now();
    while ((await sessions.get(cookie)) !== null && Date.now() - revokedAt < 1000) await sleep(20);
    expect(await sessions.get(cookie)).toBeNull();
    expect((await call("GET", "/api/v1/access/requests", { token: keys[erin] })).status).toBe(401);
    expect((await call("GET", "/api/v1/access/requests", { assertion: onCall })).status).toBe(401);
    const grants = await call("GET", `/api/v1/access/grants?subject=${encodeURIComponent(erin)}`, {
      token: admin,
    });
    expect(grants.json.grants).toEqual([]);
    // A developer may not revoke anyone.
    const denied = await call("POST", "/api/v1/identity/revocations", {
      token: keys[alice],
      body: { subject: bob, reason: "x" },
    });
    expect(denied.status).toBe(403);
    await sessions.close();
  });
});

test("after a restart, API bindings hold, the config's stay as code, and grants lost from Redis are restored", async () => {
  const frankKey = await userKey(frank);
  const glass = await call("POST", "/api/v1/access/break-glass", {
    assertion: await assertion(person(oscar, ["oncall"])),
    body: { role: "operator", scope: { kind: "route", id: "grafana" }, reason: "INC-10" },
  });
  expect(glass.status).toBe(201);
  // As if Redis had lost the grant: the store still has it, the gateways would not.
  await hot.del(`jit:grants:${oscar}`);
  expect((await call("GET", "/api/v1/audit/logs", { token: frankKey })).status).toBe(403);
  const added = await call("POST", "/api/v1/rbac/bindings", {
    token: admin,
    body: { role: "auditor", users: [frank] },
  });
  expect(added.status).toBe(201);
  const id = added.json.id as string;
  expect((await call("GET", "/api/v1/audit/logs", { token: frankKey })).status).toBe(200);

  await server.stop();
  server = await start();
  admin = server.runtime.adminTokens[0] as string;
  expect((await server.runtime.identity.jit.activeGrants(oscar)).map((g) => g.grantId)).toEqual([
    glass.json.id,
  ]);
  expect((await call("GET", "/api/v1/audit/logs", { token: frankKey })).status).toBe(200);
  const listed = await call("GET", "/api/v1/rbac/bindings", { token: admin });
  expect(listed.json.bindings).toContainEqual({ id, role: "auditor", users: [frank], source: "api" });
  expect(listed.json.bindings).toContainEqual(expect.objectContaining({ id: "devs", source: "config" }));

  const fromFile = await call("DELETE", "/api/v1/rbac/bindings/devs", { token: admin });
  expect(fromFile.status).toBe(409);
  expect(fromFile.json.message).toContain("rampart.yaml");
  expect((await call("DELETE", `/api/v1/rbac/bindings/${id}`, { token: admin })).status).toBe(200);
  expect((await call("GET", "/api/v1/audit/logs", { token: frankKey })).status).toBe(403);
});
