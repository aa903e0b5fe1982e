// Redis down under the identity step: sessions and sign-ins cannot be checked, so the gateway
// answers 503 with Retry-After: it never lets a request through on half the facts, and never drops
// the connection. When Redis is back, so is everything else.
import { afterAll, beforeAll, expect, test } from "vitest";
import { rampartConfigSchema } from "../src/config/index.ts";
import { hashClientSecret } from "../src/identity/service-auth/index.ts";
import type { Gateway } from "../src/network/gateway/proxy.ts";
import { createRedisHotState, type HotState } from "../src/platform/hotstate/index.ts";
import { startTestIdp, type TestIdp } from "./support/oidc-provider.ts";
import {
  API,
  BROWSER,
  corpProvider,
  get,
  rampartClient,
  signIn,
  startEchoUpstream,
  TOKENS_SECRET,
  startConfiguredGateway,
} from "./support/identity-gateway.ts";
import { freePort, type RunningService, startRedis } from "./support/services.ts";

const SERVICE_SECRET = "svc-deployer-secret-0123456789abcdef";

let redis: RunningService;
let redisPort: number;
let hot: HotState;
let idp: TestIdp;
let gw: Gateway;
let echo: Awaited<ReturnType<typeof startEchoUpstream>>;

beforeAll(async () => {
  redisPort = await freePort();
  redis = await startRedis(redisPort);
  hot = createRedisHotState({ url: redis.url, keyPrefix: `redis-down-${process.pid}:` });
  echo = await startEchoUpstream();
  const port = await freePort();
  idp = await startTestIdp({
    clients: [rampartClient(`http://127.0.0.1:${port}`)],
    users: [{ sub: "alice", email: "alice@example.com", email_verified: true, groups: ["sre"] }],
    accessTokenTtlS: 3600,
  });
  const config = rampartConfigSchema.parse({
    version: 1,
    gateway: { port },
    identity: {
      providers: [corpProvider(idp.issuer)],
      tokens: { secret: TOKENS_SECRET },
      serviceAccounts: [{ name: "deployer", secretHashes: [hashClientSecret(SERVICE_SECRET)] }],
    },
    routes: [
      {
        path: "/tools",
        upstream: echo.url,
        auth: { provider: "corp" },
        policy: { rules: [{ allow: { groups: ["sre"] } }, { allow: { serviceAccounts: ["deployer"] } }] },
      },
    ],
  });
  gw = await startConfiguredGateway(config, {
    hot,
  });
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await hot?.close();
  await idp?.close();
  await redis?.stop();
  echo?.server.close();
});

test("with Redis down, sessions, sign-ins and tokens answer 503; after it returns, they work again", async () => {
  const cookie = await signIn(gw.url, idp, "alice", "/tools/");
  expect((await get(gw.url, "/tools/", { ...API, cookie })).status).toBe(200);
  const issued = await fetch(`${gw.url}/.rampart/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `grant_type=client_credentials&client_id=deployer&client_secret=${SERVICE_SECRET}`,
  });
  const token = ((await issued.json()) as { access_token: string }).access_token;

  await redis.stop();
  await new Promise((r) => setTimeout(r, 1200)); // past every per-replica cache's recheck
  const session = await get(gw.url, "/tools/", { ...API, cookie });
  expect(session.status).toBe(503);
  expect(session.headers.get("retry-after")).toBe("5");
  const signInPage = await get(gw.url, "/tools/", BROWSER);
  expect(signInPage.status).toBe(503);
  // An access token verifies locally, but the grants that may add or remove its roles cannot be
  // read: closed too, rather than decided on half the facts.
  expect((await get(gw.url, "/tools/", { ...API, authorization: `Bearer ${token}` })).status).toBe(503);

  redis = await startRedis(redisPort);
  // The throwaway Redis kept nothing: the old session is gone, and signing in works again.
  await expect
    .poll(async () => (await get(gw.url, "/tools/", { ...API, authorization: `Bearer ${token}` })).status, {
      timeout: 10_000,
      interval: 200,
    })
    .toBe(200);
  await expect
    .poll(async () => (await get(gw.url, "/tools/", BROWSER)).status, { timeout: 10_000, interval: 200 })
    .toBe(302);
  const again = await signIn(gw.url, idp, "alice", "/tools/");
  expect((await get(gw.url, "/tools/", { ...API, cookie: again })).status).toBe(200);
}, 60_000);
