// Route lockdown end to end, as an incident playbook uses it: an operator locks a route down through
// the control-plane API; two gateway replicas sharing Redis then admit only allowed addresses and,
// on a route with sign-in, only people signed in through SSO (a real OpenID provider on loopback).
// Other routes are unaffected; the change is audited; lifting it, or its expiry, ends it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { rampartConfigSchema } from "../src/config/index.ts";
import type { Gateway } from "../src/network/gateway/proxy.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { createRedisHotState, type HotState } from "../src/platform/hotstate/index.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";
import { rampart } from "./support/cli.ts";
import {
  API,
  BROWSER,
  corpProvider,
  get,
  rampartClient,
  signIn,
  startConfiguredGateway,
  startEchoUpstream,
  TOKENS_SECRET,
} from "./support/identity-gateway.ts";
import { startTestIdp, type TestIdp } from "./support/oidc-provider.ts";
import { freePort } from "./support/services.ts";

// Route ids of this file only: other suites share this Redis, and its lockdown list.
const SIGNED = "lockdown-e2e-signed";
const PLAIN = "lockdown-e2e-plain";
const LISTED = "lockdown-e2e-listed";
const OTHER = "lockdown-e2e-other";
const OUTSIDER = "203.0.113.50";

let idp: TestIdp;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let server: RunningServer;
let dataDir: string;
let admin: string;
const hots: HotState[] = [];
const gateways: Gateway[] = [];
const events: SecurityEvent[] = [];
let session: string;

beforeAll(async () => {
  upstream = await startEchoUpstream();
  const ports = [await freePort(), await freePort()];
  idp = await startTestIdp({
    clients: [rampartClient(...ports.map((p) => `http://127.0.0.1:${p}`))],
    users: [{ sub: "alice", email: "alice@example.com", email_verified: true, groups: ["sre"] }],
  });
  const routes = [
    {
      id: SIGNED,
      path: "/signed",
      upstream: upstream.url,
      auth: { provider: "corp" },
      policy: { rules: [{ allow: { groups: ["sre"] } }] },
    },
    { id: PLAIN, path: "/plain", upstream: upstream.url },
    { id: LISTED, path: "/listed", upstream: upstream.url, ipRules: { allow: ["127.0.0.1", OUTSIDER] } },
    { id: OTHER, path: "/", upstream: upstream.url },
  ];
  for (const port of ports) {
    const config = rampartConfigSchema.parse({
      version: 1,
      gateway: { port, trustedProxies: ["127.0.0.1"], eventIntervalSeconds: 1 },
      identity: { providers: [corpProvider(idp.issuer)], tokens: { secret: TOKENS_SECRET } },
      routes,
    });
    const hot = createRedisHotState({ url: inject("redisUrl") });
    hots.push(hot);
    gateways.push(await startConfiguredGateway(config, { hot, emit: (e) => events.push(e) }));
  }
  dataDir = mkdtempSync(join(tmpdir(), "rampart-lockdown-"));
  // The control plane knows the same route ids (it checks a lockdown names a route in force).
  server = await startServer({
    config: rampartConfigSchema.parse({
      version: 1,
      server: { port: 0 },
      database: { dataDir },
      hotState: { redisUrl: inject("redisUrl") },
      routes: routes.map(({ id, path }) => ({ id, path, upstream: "http://127.0.0.1:9" })),
    }),
    logger: pino({ level: "silent" }),
  });
  admin = server.runtime.adminTokens[0] as string;
  // Signed in before any lockdown, from 127.0.0.1 (no X-Forwarded-For: the socket peer).
  session = await signIn(gateways[0]?.url as string, idp, "alice", "/signed/home");
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all(hots.map((h) => h.close()));
  await server?.stop();
  await idp?.close();
  upstream?.server.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const api = (method: string, path: string, body?: object, token = admin) =>
  fetch(`${server.url}/api/v1/gateway/lockdowns${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });

/** Status of GET `path` at `gw` from `client` (undefined: 127.0.0.1), with `headers`. */
const status = async (gw: Gateway, path: string, client?: string, headers: Record<string, string> = API) =>
  (await get(gw.url, path, { ...headers, ...(client ? { "x-forwarded-for": client } : {}) })).status;

describe("a route with sign-in, locked down to an allowed address", () => {
  test("admits a signed-in person on that address only, at every replica; other routes go on", async () => {
    for (const gw of gateways) {
      expect(await status(gw, "/signed/x", undefined, { ...API, cookie: session })).toBe(200);
      expect(await status(gw, "/signed/x", OUTSIDER, { ...API, cookie: session })).toBe(200);
    }
    const added = await api("POST", "", {
      route: SIGNED,
      ttlSeconds: 300,
      reason: "INC-21 stolen laptop",
      allow: ["127.0.0.1"],
    });
    expect(added.status).toBe(201);
    expect(await added.json()).toMatchObject({ route: SIGNED, allow: ["127.0.0.1"], by: "admin" });

    for (const gw of gateways) {
      // Signed in, from elsewhere: refused within moments of the change.
      await expect
        .poll(() => status(gw, "/signed/x", OUTSIDER, { ...API, cookie: session }), { timeout: 2000 })
        .toBe(403);
      const refused = await get(gw.url, "/signed/x", {
        ...API,
        cookie: session,
        "x-forwarded-for": OUTSIDER,
      });
      expect(await refused.json()).toMatchObject({
        error: { status: 403, message: expect.stringMatching(/locked down; requests from your address/) },
      });
      // Signed in, from the allowed address: in.
      expect(await status(gw, "/signed/x", undefined, { ...API, cookie: session })).toBe(200);
      // The allowed address without a session: refused, not asked for a credential.
      const bare = await get(gw.url, "/signed/x", API);
      expect(bare.status).toBe(403);
      expect(await bare.json()).toMatchObject({
        error: { message: "this route is locked down; sign in with single sign-on to use it" },
      });
      // A browser there is sent to sign in, so the people who must fix things still can.
      expect(await status(gw, "/signed/x", undefined, BROWSER)).toBe(302);
      // A browser elsewhere is not.
      expect(await status(gw, "/signed/x", OUTSIDER, BROWSER)).toBe(403);
      // Unrelated routes are untouched.
      expect(await status(gw, "/anything", OUTSIDER)).toBe(200);
      expect(await status(gw, "/plain/x", OUTSIDER)).toBe(200);
    }

    const listed = (await (await api("GET", "")).json()) as { lockdowns: { route: string }[] };
    expect(listed.lockdowns.map((l) => l.route)).toContain(SIGNED);

    expect((await api("DELETE", `/${SIGNED}`)).status).toBe(200);
    for (const gw of gateways)
      await expect
        .poll(() => status(gw, "/signed/x", OUTSIDER, { ...API, cookie: session }), { timeout: 2000 })
        .toBe(200);
    expect((await api("DELETE", `/${SIGNED}`)).status).toBe(404);

    // What the replicas decided reached the event spine, with why.
    await expect
      .poll(() =>
        events
          .filter((e) => e.type === "gateway.lockdown_denied" && e.target?.id === SIGNED)
          .map((e) => `${e.actor.id} ${String(e.data.detail)}`),
      )
      .toEqual(expect.arrayContaining([`${OUTSIDER} address`, "127.0.0.1 no_credential"]));

    const audit = async (type: string) => {
      const res = await fetch(`${server.url}/api/v1/audit/entries?type=${type}`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      return ((await res.json()) as { entries: { target: string; actor: string }[] }).entries;
    };
    expect(await audit("gateway.lockdown_added")).toEqual([
      expect.objectContaining({ target: `route:${SIGNED}`, actor: "token:admin" }),
    ]);
    expect((await audit("gateway.lockdown_removed")).map((e) => e.target)).toEqual([`route:${SIGNED}`]);
  });
});

test("without sign-in or an allow list, a lockdown admits no one; it expires by itself", async () => {
  expect((await api("POST", "", { route: PLAIN, ttlSeconds: 1, reason: "INC-22" })).status).toBe(201);
  const gw = gateways[1] as Gateway;
  await expect.poll(() => status(gw, "/plain/x"), { timeout: 2000 }).toBe(403);
  expect(await status(gw, "/plain/x", OUTSIDER)).toBe(403);
  expect(await status(gw, "/", OUTSIDER)).toBe(200);
  await expect.poll(() => status(gw, "/plain/x"), { timeout: 3000 }).toBe(200);
});

test("without its own allow list, a lockdown admits the route's configured ipRules.allow", async () => {
  expect(
    (await api("POST", "", { route: LISTED, ttlSeconds: 300, reason: "INC-23", allow: ["127.0.0.1"] }))
      .status,
  ).toBe(201);
  const gw = gateways[0] as Gateway;
  await expect.poll(() => status(gw, "/listed/x", OUTSIDER), { timeout: 2000 }).toBe(403);
  expect(await status(gw, "/listed/x")).toBe(200);
  // Locking it again replaces the lockdown: now the configured list decides.
  expect((await api("POST", "", { route: LISTED, ttlSeconds: 300, reason: "INC-23" })).status).toBe(201);
  await expect.poll(() => status(gw, "/listed/x", OUTSIDER), { timeout: 2000 }).toBe(200);
  expect(await status(gw, "/listed/x", "198.51.100.3")).toBe(403); // ipRules, as always
  expect((await api("DELETE", `/${LISTED}`)).status).toBe(200);
});

test("the API refuses unknown routes, bad input and callers without a valid token", async () => {
  const unknown = await api("POST", "", { route: "no-such-route", ttlSeconds: 60, reason: "x" });
  expect(unknown.status).toBe(404);
  expect(await unknown.json()).toMatchObject({ message: expect.stringMatching(/no route 'no-such-route'/) });
  const badAllow = await api("POST", "", {
    route: PLAIN,
    ttlSeconds: 60,
    reason: "x",
    allow: ["example.com"],
  });
  expect(badAllow.status).toBe(400);
  expect(await badAllow.json()).toMatchObject({ message: expect.stringMatching(/expected an IP address/) });
  expect((await api("POST", "", { route: PLAIN, ttlSeconds: 0, reason: "x" })).status).toBe(400);
  expect((await api("POST", "", { route: PLAIN, ttlSeconds: 60 })).status).toBe(400);
  expect((await api("POST", "", { route: PLAIN, ttlSeconds: 60, reason: "x" }, "wrong")).status).toBe(401);
  expect((await api("GET", "", undefined, "wrong")).status).toBe(401);
  // Nothing refused was stored.
  const listed = (await (await api("GET", "")).json()) as { lockdowns: { route: string }[] };
  expect(listed.lockdowns.map((l) => l.route)).not.toContain(PLAIN);
});

// Each run of the CLI starts Node afresh: seconds apiece on a busy two-core machine.

test(
  "rampart lockdown add, list and remove go through the server, as a runbook uses them",
  { timeout: 60_000 },
  async () => {
    const cli = (...args: string[]) =>
      rampart(["lockdown", ...args, "--server", server.url], { cwd: dataDir, env: { RAMPART_TOKEN: admin } });
    const added = await cli(
      "add",
      PLAIN,
      "--ttl",
      "2h",
      "--reason",
      "INC-24",
      "--allow",
      "127.0.0.1,10.0.0.0/8",
    );
    expect(added.stderr).toBe("");
    expect(added.stdout).toMatch(
      new RegExp(
        `^locked down\\n\\s+${PLAIN}\\s+until \\S+Z\\s+by admin: INC-24\\n\\s+admits 127\\.0\\.0\\.1, 10\\.0\\.0\\.0/8`,
      ),
    );
    await expect
      .poll(() => status(gateways[0] as Gateway, "/plain/x", OUTSIDER), { timeout: 2000 })
      .toBe(403);
    expect(await status(gateways[0] as Gateway, "/plain/x")).toBe(200);
    const listed = JSON.parse((await cli("list", "--json")).stdout) as { route: string; expiresAt: string }[];
    const hours =
      (Date.parse(listed.find((l) => l.route === PLAIN)?.expiresAt ?? "") - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(1.9);
    expect(hours).toBeLessThanOrEqual(2);
    expect((await cli("remove", PLAIN)).stdout).toMatch(/^lifted/);
    await expect
      .poll(() => status(gateways[0] as Gateway, "/plain/x", OUTSIDER), { timeout: 2000 })
      .toBe(200);
  },
);
