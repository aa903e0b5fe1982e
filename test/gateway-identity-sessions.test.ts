// A signed-in session through a running gateway, against a real OpenID provider whose access
// tokens live 2 s: it outlives its access token by refreshing, loses access when the provider drops
// the user from the group, ends at RP-initiated and back-channel logout, and an open WebSocket
// closes once the session is revoked.
import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, test } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { rampartConfigSchema } from "../src/config/index.ts";
import { createSessionStore } from "../src/identity/sessions/index.ts";
import type { Gateway } from "../src/network/gateway/proxy.ts";
import { createMemoryHotState } from "../src/platform/hotstate/index.ts";
import {
  API,
  BROWSER,
  cookieValue,
  corpProvider,
  get,
  rampartClient,
  signIn,
  startEchoUpstream,
  TOKENS_SECRET,
  startConfiguredGateway,
} from "./support/identity-gateway.ts";
import { startTestIdp, type TestIdp, type TestUser } from "./support/oidc-provider.ts";
import { freePort } from "./support/services.ts";

const ACCESS_TOKEN_TTL_S = 2;
const user = (sub: string, groups: string[]): TestUser => ({
  sub,
  email: `${sub}@example.com`,
  email_verified: true,
  groups,
});

let idp: TestIdp;
let gw: Gateway;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
const hot = createMemoryHotState();
// The control plane's view of the same sessions: what an operator's "revoke" goes through.
const sessions = createSessionStore({ hotState: hot });
const wss = new WebSocketServer({ noServer: true });
const upgrades: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  upstream = await startEchoUpstream();
  upstream.server.on("upgrade", (req, socket, head) => {
    upgrades.push(req.headers);
    wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (m) => ws.send(`echo:${String(m)}`)));
  });
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  idp = await startTestIdp({
    clients: [rampartClient(origin)],
    users: ["ann", "ben", "cat", "dan", "eve"].map((s) => user(s, ["sre"])),
    accessTokenTtlS: ACCESS_TOKEN_TTL_S,
  });
  const config = rampartConfigSchema.parse({
    version: 1,
    gateway: { port },
    identity: { providers: [corpProvider(idp.issuer)], tokens: { secret: TOKENS_SECRET } },
    routes: [
      {
        path: "/grafana",
        upstream: upstream.url,
        auth: { provider: "corp" },
        policy: { rules: [{ allow: { groups: ["sre"] } }] },
      },
    ],
  });
  gw = await startConfiguredGateway(config, {
    hot,
  });
  await sessions.start();
});

afterAll(async () => {
  await gw?.close();
  await sessions.close();
  await idp?.close();
  await hot.close();
  wss.close();
  upstream?.server.close();
});

test("a session outlives its 2 s access token: the gateway refreshes once, and stops admitting when the provider drops the group", async () => {
  const cookie = await signIn(gw.url, idp, "ann", "/grafana/");
  const before = idp.grants("refresh_token");
  // While the access token is good, requests cost the provider nothing.
  for (let i = 0; i < 3; i++) expect((await get(gw.url, "/grafana/", { cookie })).status).toBe(200);
  expect(idp.grants("refresh_token")).toBe(before);

  await sleep(ACCESS_TOKEN_TTL_S * 1000 + 300);
  expect((await get(gw.url, "/grafana/d/1", { cookie })).status).toBe(200);
  expect((await get(gw.url, "/grafana/d/2", { cookie })).status).toBe(200);
  expect(idp.grants("refresh_token")).toBe(before + 1);

  // Removed from the group at the provider: the next refresh brings the news.
  idp.updateUser(user("ann", ["finance"]));
  await sleep(ACCESS_TOKEN_TTL_S * 1000 + 300);
  expect((await get(gw.url, "/grafana/", { cookie })).status).toBe(403);
  expect(idp.grants("refresh_token")).toBe(before + 2);
}, 20_000);

test("logout clears the cookie, ends the session everywhere and sends the browser to the provider's end-session endpoint", async () => {
  const cookie = await signIn(gw.url, idp, "ben", "/grafana/");
  expect((await get(gw.url, "/grafana/", { cookie })).status).toBe(200);

  const out = await get(gw.url, "/.rampart/sso/logout", { ...BROWSER, cookie });
  expect(out.status).toBe(303);
  const location = new URL(out.headers.get("location") as string);
  expect(location.origin).toBe(idp.issuer);
  expect(location.pathname).toBe("/session/end");
  expect(location.searchParams.get("post_logout_redirect_uri")).toBe(`${gw.url}/`);
  expect(location.searchParams.get("id_token_hint")).toBeTruthy();
  expect(out.headers.getSetCookie()).toContainEqual(expect.stringMatching(/^rampart_session=;.*Max-Age=0/));
  // The provider accepts the request: it asks the user to confirm signing out there too.
  expect((await fetch(location, { redirect: "manual" })).status).toBe(200);

  // A copy of the old cookie is worth nothing now.
  const again = await get(gw.url, "/grafana/", { ...BROWSER, cookie });
  expect(again.status).toBe(302);
  expect(new URL(again.headers.get("location") as string).origin).toBe(idp.issuer);
  expect((await get(gw.url, "/grafana/", { ...API, cookie })).status).toBe(401);
});

test("back-channel logout from the provider ends the session at the gateway", async () => {
  const cookie = await signIn(gw.url, idp, "cat", "/grafana/");
  expect((await get(gw.url, "/grafana/", { cookie })).status).toBe(200);
  const session = await sessions.get(cookieValue(cookie));
  expect(session?.sid).toBeTruthy();

  await idp.backChannelLogout("rampart", "cat", session?.sid as string);
  expect((await get(gw.url, "/grafana/", { ...API, cookie })).status).toBe(401);
});

test("an open WebSocket closes within 2 s of its session being revoked; another user's stays open", async () => {
  const open = async (cookie: string) => {
    const ws = new WebSocket(`${gw.url.replace("http", "ws")}/grafana/api/live/ws`, {
      headers: { cookie: `${cookie}; theme=dark`, "X-Rampart-User": "corp:root" },
    });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const closed = new Promise<number>((resolve) => ws.once("close", () => resolve(performance.now())));
    return { ws, closed };
  };
  const revoked = await open(await signIn(gw.url, idp, "dan", "/grafana/"));
  // The upgrade crossed the gateway like any request: its identity, not the client's claims or cookie.
  expect(upgrades.at(-1)).toMatchObject({ "x-rampart-user": "corp:dan", cookie: "theme=dark" });
  const other = await open(await signIn(gw.url, idp, "eve", "/grafana/"));
  const echoed = new Promise<string>((resolve) => revoked.ws.once("message", (m) => resolve(String(m))));
  revoked.ws.send("ping");
  expect(await echoed).toBe("echo:ping");

  const at = performance.now();
  expect(await sessions.revokeSubject("corp:dan", "offboarded")).toBe(1);
  const closedAt = await revoked.closed;
  expect(closedAt - at).toBeLessThan(2000);
  // Nothing on another user's connection changed.
  expect(other.ws.readyState).toBe(WebSocket.OPEN);
  const otherEcho = new Promise<string>((resolve) => other.ws.once("message", (m) => resolve(String(m))));
  other.ws.send(randomBytes(4).toString("hex"));
  expect(await otherEcho).toMatch(/^echo:/);
  other.ws.close();
}, 15_000);

test("when the provider is down at refresh time, the gateway answers 503 rather than dropping the connection", async () => {
  const cookie = await signIn(gw.url, idp, "ann", "/grafana/");
  await idp.close();
  await sleep(ACCESS_TOKEN_TTL_S * 1000 + 300);
  const res = await get(gw.url, "/grafana/", { ...API, cookie });
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBeTruthy();
}, 15_000);
