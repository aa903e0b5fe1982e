// Just-in-time access on a prod route, through a running gateway and the JIT service sharing one
// hot state and one clock: refused without a grant, admitted within a second of the approval,
// refused again the instant the grant ends. Service accounts need no grant on prod.
import { decodeJwt } from "jose";
import { afterAll, beforeAll, expect, test } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { rampartConfigSchema } from "../src/config/index.ts";
import {
  createJitAccess,
  type JitAccess,
  jitConfigSchema,
  jitMigrations,
} from "../src/identity/jit/index.ts";
import { hashClientSecret } from "../src/identity/service-auth/index.ts";
import type { Identity } from "../src/identity/types.ts";
import type { Gateway } from "../src/network/gateway/proxy.ts";
import { manualClock } from "../src/platform/clock.ts";
import { Forbidden } from "../src/platform/errors.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { createMemoryHotState } from "../src/platform/hotstate/index.ts";
import {
  API,
  corpProvider,
  get,
  msUntil,
  rampartClient,
  signIn,
  startEchoUpstream,
  TOKENS_SECRET,
  startConfiguredGateway,
} from "./support/identity-gateway.ts";
import { startTestIdp, type TestIdp } from "./support/oidc-provider.ts";
import { freePort } from "./support/services.ts";
import { openTestStore, type TestStore } from "./support/stores.ts";

const DEPLOYER_SECRET = "svc-deployer-secret-0123456789abcdef";

const person = (subject: string, groups: string[]): Identity => ({
  kind: "user",
  subject,
  groups,
  roles: [],
  claims: {},
  credential: "session",
});
const alice = person("corp:alice", ["sre"]);
const lead = person("corp:lead", ["leads"]);

let idp: TestIdp;
let gw: Gateway;
let jit: JitAccess;
let ts: TestStore;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
const clock = manualClock(new Date());
const hot = createMemoryHotState({ clock });
const events: SecurityEvent[] = [];
const wss = new WebSocketServer({ noServer: true });

beforeAll(async () => {
  upstream = await startEchoUpstream();
  upstream.server.on("upgrade", (req, socket, head) => wss.handleUpgrade(req, socket, head, () => {}));
  const port = await freePort();
  idp = await startTestIdp({
    clients: [rampartClient(`http://127.0.0.1:${port}`)],
    users: [{ sub: "alice", email: "alice@example.com", email_verified: true, groups: ["sre"] }],
    // The gateway's clock is moved by hand: a long-lived access token keeps refreshes out of the way.
    accessTokenTtlS: 3600,
  });
  const config = rampartConfigSchema.parse({
    version: 1,
    gateway: { port },
    identity: {
      providers: [corpProvider(idp.issuer)],
      tokens: { secret: TOKENS_SECRET },
      serviceAccounts: [
        { name: "deployer", secretHashes: [hashClientSecret(DEPLOYER_SECRET)], scopes: ["deploy"] },
      ],
    },
    jit: {
      roles: [
        {
          role: "oncall",
          environments: ["prod"],
          requesters: { groups: ["sre"] },
          approvers: { groups: ["leads"] },
          maxDurationMinutes: 60,
        },
      ],
    },
    routes: [
      {
        id: "billing",
        path: "/billing",
        upstream: upstream.url,
        environment: "prod",
        auth: { provider: "corp" },
        // Alice's group alone would do on any other environment; on prod only the JIT role counts.
        policy: {
          rules: [{ allow: { roles: ["oncall"] } }, { allow: { serviceAccounts: ["deployer"] } }],
        },
      },
    ],
  });
  gw = await startConfiguredGateway(config, {
    hot,
    clock,
    emit: (e) => events.push(e),
  });
  ts = await openTestStore("pglite", jitMigrations);
  const routes = new Map(config.routes.map((r) => [r.id, r]));
  jit = await createJitAccess({
    store: ts.store,
    hotState: hot,
    clock,
    emit: (e) => events.push(e),
    policy: jitConfigSchema.parse(config.jit),
    notify: () => {},
    routes: (id) => routes.get(id),
  });
});

afterAll(async () => {
  await gw?.close();
  await jit?.close();
  await ts?.cleanup();
  await idp?.close();
  await hot.close();
  wss.close();
  upstream?.server.close();
});

test("prod: 403 without a grant; request, approval by someone else, in within 1 s; out the instant it ends", async () => {
  const cookie = await signIn(gw.url, idp, "alice", "/billing/");
  const refused = await get(gw.url, "/billing/invoices", { ...API, cookie });
  expect(refused.status).toBe(403);
  expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/just-in-time/);

  const request = await jit.request(alice, {
    role: "oncall",
    scope: { kind: "route", id: "billing" },
    justification: "INC-42 invoices stuck in the export queue",
    durationMinutes: 1,
  });
  // Asking is not having: a pending request admits nothing, and nobody approves their own.
  expect((await get(gw.url, "/billing/invoices", { ...API, cookie })).status).toBe(403);
  await expect(jit.approve(alice, request.id)).rejects.toBeInstanceOf(Forbidden);
  expect((await get(gw.url, "/billing/invoices", { ...API, cookie })).status).toBe(403);

  await jit.approve(lead, request.id, "go ahead");
  const admitted = async () => (await get(gw.url, "/billing/invoices", { ...API, cookie })).status === 200;
  expect(await msUntil(admitted, 3000)).toBeLessThan(1000);
  // The upstream is told the role came with the grant.
  const seen = upstream.seen.at(-1);
  expect(decodeJwt(seen?.headers["x-rampart-assertion"] as string)).toMatchObject({
    sub: "corp:alice",
    roles: ["oncall"],
  });

  clock.advance(59_000);
  expect((await get(gw.url, "/billing/invoices", { ...API, cookie })).status).toBe(200);
  // A live console opened under the grant does not outlast it either.
  const ws = new WebSocket(`${gw.url.replace("http", "ws")}/billing/live`, { headers: { cookie } });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const closed = new Promise<number>((resolve) => ws.once("close", () => resolve(performance.now())));

  clock.advance(1_000); // the grant's end: no replica has to hear about it
  const ended = performance.now();
  const after = await get(gw.url, "/billing/invoices", { ...API, cookie });
  expect(after.status).toBe(403);
  expect((await closed) - ended).toBeLessThan(2000);
  expect(events.map((e) => e.type)).toEqual(
    expect.arrayContaining(["identity.jit_requested", "identity.jit_approved", "identity.jit_granted"]),
  );
});

test("prod: a service account gets in without a grant", async () => {
  const basic = Buffer.from(`deployer:${DEPLOYER_SECRET}`).toString("base64");
  const issued = await fetch(`${gw.url}/.rampart/token`, {
    method: "POST",
    headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials&scope=deploy",
  });
  expect(issued.status).toBe(200);
  const { access_token } = (await issued.json()) as { access_token: string };
  const res = await get(gw.url, "/billing/deploy", { authorization: `Bearer ${access_token}` });
  expect(res.status).toBe(200);
  expect(upstream.seen.at(-1)?.headers["x-rampart-user"]).toBe("deployer");
});
