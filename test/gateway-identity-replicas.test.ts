// Two `rampart gateway` processes sharing one Redis and one identity secret, as replicas behind a
// load balancer: a session made on one works on the other, and a revocation made through Redis
// (as the control plane does) is refused by the other process within a second, for a user's
// session and for a service's access token alike.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { createRevocations, hashClientSecret } from "../src/identity/service-auth/index.ts";
import { createSessionStore } from "../src/identity/sessions/index.ts";
import { systemClock } from "../src/platform/clock.ts";
import { createRedisHotState } from "../src/platform/hotstate/index.ts";
import {
  API,
  corpProvider,
  get,
  msUntil,
  rampartClient,
  signIn,
  startEchoUpstream,
  TOKENS_SECRET,
} from "./support/identity-gateway.ts";
import { startTestIdp, type TestIdp } from "./support/oidc-provider.ts";
import { freePort } from "./support/services.ts";

const bin = fileURLToPath(new URL("../bin/rampart.js", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "rampart-replicas-"));
// Both processes use Redis's default key prefix, shared with other suites: names of this run only.
const run = randomBytes(4).toString("hex");
const sub = `user-${run}`;
const racer = `racer-${run}`;
const ACCESS_TOKEN_TTL_S = 2;
const service = `svc-${run}`;
const SERVICE_SECRET = `svc-secret-${run}-0123456789abcdef`;

let idp: TestIdp;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
let gateways: string[] = [];
let children: ChildProcess[] = [];
const hot = createRedisHotState({ url: inject("redisUrl") });

beforeAll(async () => {
  upstream = await startEchoUpstream();
  const ports = [await freePort(), await freePort()];
  gateways = ports.map((p) => `http://127.0.0.1:${p}`);
  idp = await startTestIdp({
    clients: [rampartClient(...gateways)],
    users: [sub, racer].map((u) => ({
      sub: u,
      email: `${u}@example.com`,
      email_verified: true,
      groups: ["sre"],
    })),
    accessTokenTtlS: ACCESS_TOKEN_TTL_S,
  });
  const config = join(work, "rampart.yaml");
  // JSON is YAML: the file an operator would write, without a YAML writer.
  const yaml = {
    version: 1,
    hotState: { redisUrl: inject("redisUrl") },
    identity: {
      providers: [corpProvider(idp.issuer)],
      tokens: { secret: TOKENS_SECRET },
      serviceAccounts: [
        { name: service, secretHashes: [hashClientSecret(SERVICE_SECRET)], scopes: ["read"] },
      ],
    },
    routes: [
      {
        path: "/app",
        upstream: upstream.url,
        auth: { provider: "corp" },
        policy: { rules: [{ allow: { groups: ["sre"] } }, { allow: { serviceAccounts: [service] } }] },
      },
    ],
  };
  writeFileSync(config, JSON.stringify(yaml, null, 2));
  children = ports.map((p) =>
    spawn(process.execPath, [bin, "gateway", "-c", config, "--gateway-port", String(p)], {
      cwd: work,
      stdio: "ignore",
    }),
  );
  for (const base of gateways) {
    for (let i = 0; i < 150; i++) {
      if (await fetch(`${base}/app`).catch(() => undefined)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}, 30_000);

afterAll(async () => {
  const exits = children.map((c) => new Promise((resolve) => c.once("exit", resolve)));
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(exits);
  await hot.close();
  await idp?.close();
  upstream?.server.close();
  rmSync(work, { recursive: true, force: true });
});

test("both processes meet an expired access token at once: the provider sees one refresh, and every request passes", async () => {
  const [one, two] = gateways as [string, string];
  const cookie = await signIn(one, idp, racer, "/app/");
  await new Promise((r) => setTimeout(r, ACCESS_TOKEN_TTL_S * 1000 + 300));
  const before = idp.grants("refresh_token");
  // A slow provider widens the window in which the two processes race for the refresh token.
  idp.setTokenDelay(300);
  try {
    const statuses = await Promise.all(
      [one, two, one, two, one, two].map(
        async (base) => (await get(base, "/app/", { ...API, cookie })).status,
      ),
    );
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
  } finally {
    idp.setTokenDelay(0);
  }
  // The provider rotates refresh tokens: a second use of the old one would have ended the session.
  expect(idp.grants("refresh_token")).toBe(before + 1);
  expect((await get(two, "/app/", { ...API, cookie })).status).toBe(200);
});

test("a session made on one gateway process works on the other; revoked through Redis, the other refuses it within 1 s", async () => {
  const [one, two] = gateways as [string, string];
  const cookie = await signIn(one, idp, sub, "/app/");
  expect((await get(two, "/app/reports", { ...API, cookie })).status).toBe(200);
  expect(upstream.seen.at(-1)?.headers["x-rampart-user"]).toBe(`corp:${sub}`);

  const sessions = createSessionStore({ hotState: hot });
  await sessions.start();
  try {
    const revoking = sessions.revokeSubject(`corp:${sub}`, "compromised laptop");
    const ms = await msUntil(async () => (await get(two, "/app/reports", { ...API, cookie })).status === 401);
    expect(await revoking).toBe(1);
    expect(ms).toBeLessThan(1000);
    expect((await get(one, "/app/reports", { ...API, cookie })).status).toBe(401);
  } finally {
    await sessions.close();
  }
});

test("a service's access token issued by one process is refused by the other within 1 s of its revocation", async () => {
  const [one, two] = gateways as [string, string];
  const issued = await fetch(`${one}/.rampart/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${service}:${SERVICE_SECRET}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials&scope=read",
  });
  expect(issued.status).toBe(200);
  const bearer = {
    authorization: `Bearer ${((await issued.json()) as { access_token: string }).access_token}`,
  };
  expect((await get(two, "/app/metrics", bearer)).status).toBe(200);

  const revocations = createRevocations({ hotState: hot, clock: systemClock, emit: () => {} });
  await revocations.start();
  try {
    const revoking = revocations.revokeSubject(service, { kind: "user", id: "security-admin" }, "leaked");
    const ms = await msUntil(async () => (await get(two, "/app/metrics", bearer)).status === 401);
    await revoking;
    expect(ms).toBeLessThan(1000);
    expect((await get(one, "/app/metrics", bearer)).status).toBe(401);
  } finally {
    await revocations.close();
  }
});
