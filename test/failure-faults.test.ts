// Faults a dependency can throw at the gateway without going away: a Redis that stops answering
// (paused, overloaded) and an upstream that resets connections. The gateway answers within its
// bounds, says what happened, and serves normally again once the fault passes.
import { createServer, type Server } from "node:http";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";
import { createRedisHotState, type HotState } from "../src/platform/hotstate/index.ts";
import { listenLocal, type RunningService, startRedis } from "./support/services.ts";

let app: Server;
let appUrl: string;
let redis: RunningService;
let hot: HotState;
const gateways: Gateway[] = [];

beforeAll(async () => {
  app = createServer((req, res) => {
    // Resets before any response, or in the middle of one.
    if (req.url?.startsWith("/reset-now")) return req.socket.destroy();
    if (req.url?.startsWith("/reset-midway")) {
      res.writeHead(200, { "content-type": "text/plain", "content-length": "1000" });
      res.write("partial");
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    res.end("ok");
  });
  appUrl = await listenLocal(app);
  redis = await startRedis();
  hot = createRedisHotState({ url: redis.url });
}, 30_000);
afterAll(async () => {
  for (const g of gateways) await g.close();
  await hot?.close();
  await redis?.stop();
  app?.close();
});

const gatewayWith = async (mode: "open" | "closed") => {
  const g = await startGateway({
    gateway: gatewayConfigSchema.parse({
      port: 0,
      trustedProxies: ["127.0.0.1"],
      rateLimitWhenUnavailable: mode,
    }),
    routes: [
      routeConfigSchema.parse({
        path: "/",
        upstream: appUrl,
        rateLimits: [{ name: "ip", limit: 1000, windowSeconds: 60 }],
      }),
    ],
    hot,
  });
  gateways.push(g);
  return g;
};
const timed = async (url: string) => {
  const started = performance.now();
  const res = await fetch(url, { headers: { accept: "application/json" } });
  const body = await res.text();
  return { status: res.status, body, ms: performance.now() - started };
};

test("a Redis that stops answering costs each request a bounded wait, then open admits and closed refuses", async () => {
  const [open, closed] = [await gatewayWith("open"), await gatewayWith("closed")];
  expect((await timed(`${open.url}/`)).status).toBe(200);
  expect((await timed(`${closed.url}/`)).status).toBe(200);

  // Every client of this Redis is paused: commands queue and get no answer.
  const admin = new Redis(redis.url);
  await admin.call("CLIENT", "PAUSE", "4000", "ALL");
  try {
    const [a, c] = await Promise.all([timed(`${open.url}/`), timed(`${closed.url}/`)]);
    expect(a.status).toBe(200);
    expect(c.status).toBe(503);
    expect(c.body).toMatch(/unavailable/i);
    // Hot state gives up after 500 ms: the wait is bounded, never the pause's 4 s.
    expect(a.ms).toBeLessThan(2000);
    expect(c.ms).toBeLessThan(2000);
  } finally {
    await admin.call("CLIENT", "UNPAUSE").catch(() => {});
    admin.disconnect();
  }
  // Answers again: the limits count in Redis again, and both gateways admit.
  let back = { status: 0 };
  for (let i = 0; i < 40 && back.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    back = await timed(`${closed.url}/`);
  }
  expect(back.status).toBe(200);
  expect((await timed(`${open.url}/`)).status).toBe(200);
}, 30_000);

test("an upstream that resets: 502 with a request id before any byte, a cut response after, and the next request is served", async () => {
  const g = await gatewayWith("open");
  const before = await timed(`${g.url}/reset-now`);
  expect(before.status).toBe(502);
  expect(JSON.parse(before.body)).toMatchObject({ error: { status: 502 } });
  expect(JSON.parse(before.body).error.requestId).toMatch(/\S/);

  // Headers already went to the client: the body can only be cut short, not replaced.
  const midway = await fetch(`${g.url}/reset-midway`).then(
    async (res) => ({
      status: res.status,
      body: await res.text().then(
        (t) => t,
        () => "cut",
      ),
    }),
    () => ({ status: 0, body: "cut" }),
  );
  expect(midway).toEqual({ status: 200, body: "cut" });

  for (let i = 0; i < 5; i++) expect((await timed(`${g.url}/fine`)).status).toBe(200);
}, 30_000);
