// Rate limits at the gateway as clients see them: 429 with Retry-After and RateLimit headers, keys
// by IP or header, shadow mode, limits shared across gateways through a real Redis, and what
// happens when Redis goes away.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";
import { createRedisHotState } from "../src/platform/hotstate/index.ts";
import { listenLocal, startRedis } from "./support/services.ts";

let app: Server;
let appUrl: string;
beforeAll(async () => {
  app = createServer((_req, res) => res.end("ok"));
  appUrl = await listenLocal(app);
});
afterAll(() => app.close());

const gatewayConfig = (extra: object = {}) =>
  gatewayConfigSchema.parse({ port: 0, trustedProxies: ["127.0.0.1"], ...extra });
const route = (rateLimits: object[], path = "/") =>
  routeConfigSchema.parse({ path, upstream: appUrl, rateLimits });
const get = (gw: Gateway, path: string, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${path}`, { headers: { accept: "application/json", ...headers } });

describe("rate limits, one gateway", () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({
      gateway: gatewayConfig(),
      routes: [
        route([{ name: "per-ip", limit: 3, windowSeconds: 60 }], "/login"),
        route([{ name: "per-key", by: ["header:x-api-key"], limit: 2, windowSeconds: 60 }], "/api"),
        route([{ name: "trial", limit: 1, windowSeconds: 60, shadow: true }], "/"),
      ],
    });
  });
  afterAll(() => gw.close());

  test("the request over the limit gets 429 with Retry-After and RateLimit headers", async () => {
    const client = { "x-forwarded-for": "198.51.100.10" };
    const remaining: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await get(gw, "/login", client);
      expect(res.status).toBe(200);
      remaining.push(res.headers.get("ratelimit-remaining"));
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const refused = await get(gw, "/login", client);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(19);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(20);
    expect(refused.headers.get("ratelimit-limit")).toBe("3");
    expect(refused.headers.get("ratelimit-policy")).toBe("3;w=60");
    expect(await refused.json()).toMatchObject({ error: { status: 429, message: "too many requests" } });
    // Another client has its own budget.
    expect((await get(gw, "/login", { "x-forwarded-for": "198.51.100.11" })).status).toBe(200);
  });

  test("a header-keyed limit counts per header value and ignores requests without it", async () => {
    const codes = async (headers: Record<string, string>, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await get(gw, "/api/x", headers)).status);
      return out;
    };
    expect(await codes({ "x-api-key": "key-a" }, 3)).toEqual([200, 200, 429]);
    expect(await codes({ "x-api-key": "key-b" }, 1)).toEqual([200]);
    expect(await codes({}, 4)).toEqual([200, 200, 200, 200]);
  });

  test("a shadow limit never refuses", async () => {
    for (let i = 0; i < 4; i++) expect((await get(gw, "/page")).status).toBe(200);
  });
});

describe("rate limits shared through Redis", () => {
  test("two gateways on one Redis share each client's budget", async () => {
    const url = inject("redisUrl");
    const keyPrefix = `t${Date.now()}:`;
    const [hotA, hotB] = [createRedisHotState({ url, keyPrefix }), createRedisHotState({ url, keyPrefix })];
    const routes = [
      route([{ name: "shared", limit: 3, windowSeconds: 60 }]),
      route([{ name: "per-key", by: ["header:x-api-key"], limit: 5, windowSeconds: 60 }], "/api"),
    ];
    const [a, b] = await Promise.all([
      startGateway({ gateway: gatewayConfig(), routes, hot: hotA }),
      startGateway({ gateway: gatewayConfig(), routes, hot: hotB }),
    ]);
    try {
      const client = { "x-forwarded-for": "203.0.113.50" };
      const codes = [
        (await get(a, "/x", client)).status,
        (await get(b, "/x", client)).status,
        (await get(a, "/x", client)).status,
        (await get(b, "/x", client)).status,
        (await get(a, "/x", client)).status,
      ];
      expect(codes).toEqual([200, 200, 200, 429, 429]);

      // An API key a limit counts by never lands in Redis as it was sent.
      expect((await get(a, "/api/x", { "x-api-key": "sk-live-4f9a2c" })).status).toBe(200);
      const { Redis } = await import("ioredis");
      const r = new Redis(url);
      const keys = await r.keys(`${keyPrefix}*`);
      r.disconnect();
      expect(keys.some((k) => k.includes(":per-key:"))).toBe(true);
      expect(keys.join("\n")).not.toContain("sk-live-4f9a2c");
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([hotA.close(), hotB.close()]);
    }
  });

  test.each([
    ["open", [200, 200, 429]],
    ["closed", [503, 503, 503]],
  ] as const)("with Redis down, %s mode answers %j", async (mode, expected) => {
    const redis = await startRedis();
    const hot = createRedisHotState({ url: redis.url });
    const gw = await startGateway({
      gateway: gatewayConfig({ rateLimitWhenUnavailable: mode }),
      routes: [route([{ name: "login", limit: 2, windowSeconds: 60 }])],
      hot,
    });
    try {
      expect((await get(gw, "/x", { "x-forwarded-for": "192.0.2.1" })).status).toBe(200);
      await redis.stop();
      const client = { "x-forwarded-for": "192.0.2.2" };
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) codes.push((await get(gw, "/x", client)).status);
      expect(codes).toEqual(expected);
    } finally {
      await gw.close();
      await hot.close();
    }
  });
});
