// Bot protection through a running gateway: scripts are challenged or blocked per route, service
// accounts pass, a solved challenge earns a cookie that works only for the client that earned it,
// and a real (headless) Chromium solves the challenge page on its own.
import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { createServer } from "node:http";
import { chromium } from "playwright-core";
import { Registry } from "prom-client";
import { afterAll, beforeAll, expect, test } from "vitest";
import { gatewayConfigSchema, rampartConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { hashClientSecret } from "../src/identity/service-auth/index.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";
import { listenLocal } from "./support/services.ts";

const CURL = "curl/8.5.0";
const GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const SERVICE_SECRET = "svc-billing-secret-0123456789abcdef";
let serviceToken: string;

const app = createServer((req, res) => {
  if ((req.headers.accept ?? "").includes("text/html")) {
    res.setHeader("content-type", "text/html");
    return res.end(`<!doctype html><title>shop</title><h1>hello from upstream</h1><p>${req.url}</p>`);
  }
  res.setHeader("content-type", "application/json");
  res.end(
    JSON.stringify({ url: req.url, cookie: req.headers.cookie, score: req.headers["x-rampart-bot-score"] }),
  );
});
let gw: Gateway;
let upstream: string;
const registry = new Registry();
const events: SecurityEvent[] = [];

// Sign-in is optional on the bot-checked routes: anonymous requests meet the bot check, and a
// service account's access token skips it.
const identity = rampartConfigSchema.parse({
  version: 1,
  identity: {
    tokens: { secret: "identity-secret-shared-by-every-replica-0123" },
    serviceAccounts: [{ name: "billing", secretHashes: [hashClientSecret(SERVICE_SECRET)] }],
  },
});
const optionalAuth = {
  auth: { required: false, accept: ["access-token"] },
  policy: { rules: [{ allow: { sourceCidrs: ["0.0.0.0/0", "::/0"] } }] },
};

// A UDP port nothing listens on: crawler lookups fail at once, so claimed crawlers stay unverified.
async function deadDnsServer(): Promise<string> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
}

async function gateway(emit?: (e: SecurityEvent) => void, reg?: Registry): Promise<Gateway> {
  return startGateway({
    gateway: gatewayConfigSchema.parse({
      port: 0,
      trustedProxies: ["127.0.0.1"],
      bots: { cookieSecret: "a-secret-shared-by-every-replica-0123", dnsServers: [await deadDnsServer()] },
    }),
    routes: [
      { path: "/shop", upstream, bots: {}, ...optionalAuth }, // defaults: block above 90, challenge above 40
      {
        path: "/api",
        upstream,
        bots: { action: "block", challengeAbove: 50, blockAbove: 50 },
        ...optionalAuth,
      },
      { path: "/open", upstream, bots: { action: "allow" } },
      { path: "/", upstream },
    ].map((r) => routeConfigSchema.parse(r)),
    identity,
    ...(emit ? { emit } : {}),
    ...(reg ? { registry: reg } : {}),
  });
}

beforeAll(async () => {
  upstream = await listenLocal(app);
  gw = await gateway((e) => events.push(e), registry);
  const token = await fetch(`${gw.url}/.rampart/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `grant_type=client_credentials&client_id=billing&client_secret=${SERVICE_SECRET}`,
  });
  expect(token.status).toBe(200);
  serviceToken = ((await token.json()) as { access_token: string }).access_token;
});
afterAll(async () => {
  await gw.close();
  app.close();
});

const get = (path: string, headers: Record<string, string>, base = gw.url) =>
  fetch(`${base}${path}`, { headers, redirect: "manual" });

/** Gets the challenge page as a browser would, solves it in Node, and posts the solution. */
async function solve(path: string, headers: Record<string, string>) {
  const page = await get(path, { ...headers, accept: "text/html" });
  const html = await page.text();
  const token = /name="token" value="([^"]+)"/.exec(html)?.[1] as string;
  const bits = Number(/data-bits="(\d+)"/.exec(html)?.[1]);
  let nonce = 0;
  for (; ; nonce++) {
    const d = createHash("sha256").update(`${token}${nonce}`).digest();
    if (d.readUInt32BE(0) >>> (32 - bits) === 0) break;
  }
  return fetch(`${gw.url}/.rampart/challenge`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, nonce: String(nonce) }),
    redirect: "manual",
  });
}

test("a script is challenged (JSON for non-browsers), blocked where the route says so, and scored where it only watches", async () => {
  const challenged = await get("/shop/cart", { "user-agent": CURL, accept: "*/*" });
  expect(challenged.status).toBe(403);
  expect(challenged.headers.get("x-rampart-mitigated")).toBe("challenge");
  expect(challenged.headers.get("cache-control")).toBe("no-store");
  expect(await challenged.json()).toMatchObject({
    error: { message: expect.stringContaining("automated clients need a service account") },
  });

  const page = await get("/shop/cart", { "user-agent": CURL, accept: "text/html" });
  expect(page.status).toBe(403);
  expect(page.headers.get("content-type")).toMatch(/^text\/html/);
  // The inline solver runs by hash only: no 'unsafe-inline', nothing loaded from elsewhere.
  expect(page.headers.get("content-security-policy")).toMatch(
    /^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]+=*'; form-action 'self'/,
  );
  expect(await page.text()).toContain('action="/.rampart/challenge"');

  const blocked = await get("/api/orders", { "user-agent": CURL, accept: "*/*" });
  expect(blocked.status).toBe(403);
  expect(await blocked.json()).toMatchObject({
    error: { message: "automated requests are not allowed here" },
  });

  const watched = await get("/open/x", { "user-agent": CURL, accept: "*/*" });
  expect(watched.status).toBe(200);
  expect(await watched.json()).toMatchObject({ score: "60" });
  expect((await get("/other", { "user-agent": CURL })).status).toBe(200); // no bots on this route

  // Googlebot by name only: its address does not resolve to Google, so it is a bad bot.
  const fake = await get("/shop/", { "user-agent": GOOGLEBOT, "x-forwarded-for": "203.0.113.9" });
  expect(fake.status).toBe(403);
  expect(await fake.json()).toMatchObject({ error: { message: "automated requests are not allowed here" } });
});

test("authenticated service accounts are never checked for bots", async () => {
  const auth = { authorization: `Bearer ${serviceToken}`, "user-agent": CURL };
  expect((await get("/shop/cart", auth)).status).toBe(200);
  expect((await get("/api/orders", auth)).status).toBe(200);
  // A credential that does not verify is refused outright, before any bot check.
  const wrong = { authorization: "Bearer not-a-service", "user-agent": CURL };
  expect((await get("/api/orders", wrong)).status).toBe(401);
});

test("a solved challenge sets a cookie that lets the same client through, and no one else", async () => {
  const who = { "user-agent": CURL, "x-forwarded-for": "198.51.100.20" };
  const solved = await solve("/shop/cart?item=7", who);
  expect(solved.status).toBe(303);
  expect(solved.headers.get("location")).toBe("/shop/cart?item=7");
  const setCookie = solved.headers.get("set-cookie") as string;
  expect(setCookie).toMatch(/^__rampart_bot=[^;]+; Path=\/; Max-Age=1800; HttpOnly; SameSite=Lax$/);
  const cookie = setCookie.split(";")[0] as string;

  const through = await get("/shop/cart?item=7", { ...who, cookie: `theme=dark; ${cookie}` });
  expect(through.status).toBe(200);
  // The upstream sees its own cookies, not ours.
  expect(await through.json()).toMatchObject({ url: "/shop/cart?item=7", cookie: "theme=dark" });

  // The same cookie from another address, or with its signature changed, is challenged again.
  const elsewhere = await get("/shop/cart", { ...who, "x-forwarded-for": "198.51.100.21", cookie });
  expect(elsewhere.status).toBe(403);
  const at = cookie.length - 10; // inside the signature
  const forged = `${cookie.slice(0, at)}${cookie[at] === "A" ? "B" : "A"}${cookie.slice(at + 1)}`;
  expect((await get("/shop/cart", { ...who, cookie: forged })).status).toBe(403);
  const longer = cookie.replace(/=(\d+)\./, (_m, t: string) => `=${Number(t) + 86_400}.`);
  expect((await get("/shop/cart", { ...who, cookie: longer })).status).toBe(403);
  // A cookie clears a challenge, never a block.
  expect((await get("/api/orders", { ...who, cookie })).status).toBe(403);
});

test("a forged solution is refused, and decisions become events and metrics", async () => {
  const seen: SecurityEvent[] = [];
  const reg = new Registry();
  const own = await gateway((e) => seen.push(e), reg);
  const url = own.url;
  try {
    await get("/shop/", { "user-agent": CURL, "x-forwarded-for": "198.51.100.30" }, url);
    await get("/api/", { "user-agent": CURL, "x-forwarded-for": "198.51.100.30" }, url);
    const bogus = await fetch(`${url}/.rampart/challenge`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": CURL },
      body: "token=1.9999999999.1.60.AAAA.Lw.AAAA&nonce=1",
      redirect: "manual",
    });
    expect(bogus.status).toBe(403);
    expect(bogus.headers.get("set-cookie")).toBeNull();
    expect((await fetch(`${url}/.rampart/challenge`)).status).toBe(405);
    const metrics = await reg.getSingleMetricAsString("rampart_gateway_decisions_total");
    expect(metrics).toContain('route="*/shop",decision="challenged"} 1');
    expect(metrics).toContain('route="*/api",decision="bot_blocked"} 1');
  } finally {
    await own.close();
  }
  expect(seen.map((e) => [e.type, e.target?.id, e.data])).toEqual(
    expect.arrayContaining([
      ["gateway.challenged", "*/shop", { count: 1, detail: "bot_user_agent" }],
      ["gateway.bot_blocked", "*/api", { count: 1, detail: "bot_user_agent" }],
      ["gateway.bot_blocked", "/.rampart/challenge", { count: 1, detail: "failed_challenge" }],
    ]),
  );
});

test("headless Chromium lands on the challenge, solves it, and ends on the upstream's page with the cookie", async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const first = await page.goto(`${gw.url}/shop/welcome?from=ad`);
    expect(first?.status()).toBe(403); // HeadlessChrome is a known bot user agent: challenged
    await page.getByText("hello from upstream").waitFor({ timeout: 20_000 });
    expect(page.url()).toBe(`${gw.url}/shop/welcome?from=ad`);
    const cookies = await context.cookies(gw.url);
    expect(cookies).toEqual([
      expect.objectContaining({ name: "__rampart_bot", httpOnly: true, sameSite: "Lax", secure: false }),
    ]);
    // Later pages pass straight through.
    const next = await page.goto(`${gw.url}/shop/other`);
    expect(next?.status()).toBe(200);
  } finally {
    await browser.close();
  }
});
