// Identity through a running gateway, against a real OpenID provider (oidc-provider on loopback):
// sign-in, group policy, what the upstream learns (and what it never sees), tokens for services,
// refresh, logout, and just-in-time access on a prod route.
import { createServer } from "node:http";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, expect, test } from "vitest";
import { rampartConfigSchema } from "../src/config/index.ts";
import { hashClientSecret } from "../src/identity/service-auth/index.ts";
import type { Gateway } from "../src/network/gateway/proxy.ts";
import { startConfiguredGateway } from "./support/identity-gateway.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { eventually } from "../src/platform/hotstate/contract.ts";
import { createMemoryHotState } from "../src/platform/hotstate/index.ts";
import { startTestIdp, type TestIdp } from "./support/oidc-provider.ts";
import { freePort, listenLocal } from "./support/services.ts";

const CLIENT_SECRET = "oidc-client-secret-0123456789abcdef";
const SERVICE_SECRET = "svc-reports-secret-0123456789abcdef";

// The upstream answers with what it was sent, so tests can see what crossed the gateway.
const app = createServer((req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ url: req.url, headers: req.headers }));
});

let idp: TestIdp;
let gw: Gateway;
let upstream: string;
const events: SecurityEvent[] = [];
const hot = createMemoryHotState();

beforeAll(async () => {
  upstream = await listenLocal(app);
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  idp = await startTestIdp({
    clients: [
      {
        client_id: "rampart",
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${origin}/.rampart/sso/callback`],
        post_logout_redirect_uris: [`${origin}/`],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    users: [
      { sub: "alice", email: "alice@example.com", email_verified: true, groups: ["sre"] },
      { sub: "bob", email: "bob@example.com", email_verified: true, groups: ["dev"] },
    ],
  });
  const config = rampartConfigSchema.parse({
    version: 1,
    gateway: { port, eventIntervalSeconds: 1 },
    identity: {
      providers: [
        {
          id: "corp",
          issuer: idp.issuer,
          clientId: "rampart",
          clientSecret: CLIENT_SECRET,
          scopes: ["openid", "email", "profile", "groups", "offline_access"],
        },
      ],
      tokens: { secret: "identity-secret-shared-by-every-replica-0123" },
      serviceAccounts: [
        { name: "reports", secretHashes: [hashClientSecret(SERVICE_SECRET)], scopes: ["metrics"] },
      ],
    },
    routes: [
      {
        path: "/grafana",
        upstream,
        auth: { provider: "corp" },
        policy: { rules: [{ allow: { groups: ["sre"] } }, { allow: { serviceAccounts: ["reports"] } }] },
      },
      {
        path: "/internal",
        upstream,
        auth: { provider: "corp" },
        policy: { rules: [{ deny: { groups: ["dev"] } }, { allow: { domains: ["example.com"] } }] },
      },
      { path: "/", upstream },
    ],
  });
  gw = await startConfiguredGateway(config, {
    hot,
    emit: (e) => events.push(e),
  });
});

afterAll(async () => {
  await gw?.close();
  await idp?.close();
  await hot.close();
  app.close();
});

const BROWSER = { accept: "text/html,application/xhtml+xml", "user-agent": "Mozilla/5.0 test" };

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${path}`, { headers, redirect: "manual" });

const cookiePair = (setCookie: string) => setCookie.split(";", 1)[0] as string;

/** Signs `sub` in through the gateway the way a browser would; returns the session cookie. */
async function signIn(sub: string, path = "/grafana/dashboards?id=7"): Promise<string> {
  const start = await get(path, BROWSER);
  expect(start.status).toBe(302);
  const login = cookiePair(start.headers.getSetCookie()[0] as string);
  const callback = await idp.signIn(start.headers.get("location") as string, sub);
  const done = await fetch(callback, { headers: { cookie: login }, redirect: "manual" });
  expect(done.status).toBe(303);
  expect(done.headers.get("location")).toBe(path);
  const session = done.headers.getSetCookie().find((c) => c.startsWith("rampart_session="));
  expect(session).toMatch(/HttpOnly/);
  expect(session).toMatch(/SameSite=Lax/);
  return cookiePair(session as string);
}

test("a browser without a session is sent to the identity provider; an API client gets 401", async () => {
  const page = await get("/grafana/", BROWSER);
  expect(page.status).toBe(302);
  expect(new URL(page.headers.get("location") as string).origin).toBe(idp.issuer);
  const location = new URL(page.headers.get("location") as string);
  expect(location.searchParams.get("code_challenge_method")).toBe("S256");
  expect(location.searchParams.get("state")).toBeTruthy();
  expect(location.searchParams.get("nonce")).toBeTruthy();
  const api = await get("/grafana/api/health", { accept: "application/json" });
  expect(api.status).toBe(401);
  expect(api.headers.get("www-authenticate")).toMatch(/^Bearer/);
  expect((await get("/public")).status).toBe(200); // routes without auth are untouched
});

test("a signed-in member of the allowed group reaches the upstream, which learns who it is, verifiably", async () => {
  const cookie = await signIn("alice");
  const res = await get("/grafana/dashboards?id=7", {
    cookie: `${cookie}; theme=dark`,
    // A client cannot speak for the gateway: its own identity headers are dropped.
    "x-rampart-user": "admin",
    "X-Rampart-Groups": "admins",
  });
  expect(res.status).toBe(200);
  const seen = (await res.json()) as { headers: Record<string, string> };
  expect(seen.headers["x-rampart-user"]).toBe("corp:alice");
  expect(seen.headers["x-rampart-email"]).toBe("alice@example.com");
  expect(seen.headers["x-rampart-groups"]).toBe("sre");
  // Rampart's own cookies never reach the upstream; the app's do.
  expect(seen.headers.cookie).toBe("theme=dark");
  const jwks = createRemoteJWKSet(new URL(`${gw.url}/.well-known/rampart/jwks.json`));
  const { payload } = await jwtVerify(seen.headers["x-rampart-assertion"] as string, jwks, {
    audience: "*/grafana",
  });
  expect(payload).toMatchObject({ sub: "corp:alice", email: "alice@example.com", groups: ["sre"] });
});

test("group rules decide: another group is refused, deny wins over allow, and refusals are events", async () => {
  const bob = await signIn("bob", "/internal/");
  expect((await get("/internal/", { cookie: bob })).status).toBe(403);
  expect((await get("/grafana/", { cookie: bob })).status).toBe(403);
  const alice = await signIn("alice", "/internal/");
  expect((await get("/internal/", { cookie: alice })).status).toBe(200);
  await eventually(() => expect(events.some((e) => e.type === "gateway.policy_denied")).toBe(true), 3000);
  expect(JSON.stringify(events)).not.toContain(bob.split("=")[1]);
});
