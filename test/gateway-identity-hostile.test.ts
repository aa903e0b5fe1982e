// Hostile clients against the gateway's identity step, with a real OpenID provider: forged and
// tampered cookies, forged tokens (another key, alg none, key confusion, expired, not yet valid,
// edited claims), spoofed identity headers, open redirects through sign-in and logout, callbacks
// from another browser or replayed, dead API keys, and Rampart's credentials kept from upstreams.
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { base64url, exportSPKI, importJWK, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { rampartConfigSchema } from "../src/config/index.ts";
import {
  createApiKeys,
  createRevocations,
  createServiceAccounts,
  hashClientSecret,
} from "../src/identity/service-auth/index.ts";
import { ACCESS_TOKEN_TYPE, createTokenKeys, signJwt } from "../src/identity/tokens/index.ts";
import type { Gateway } from "../src/network/gateway/proxy.ts";
import { type Clock, systemClock } from "../src/platform/clock.ts";
import { createMemoryHotState } from "../src/platform/hotstate/index.ts";
import {
  API,
  BROWSER,
  cookiePair,
  cookieValue,
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

const SERVICE_SECRET = "svc-reports-secret-0123456789abcdef";
const HOUR_MS = 3_600_000;

let idp: TestIdp;
let gw: Gateway;
let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
const hot = createMemoryHotState();
let alice: string; // alice's session cookie pair

const serviceAccounts = [
  { name: "reports", secretHashes: [hashClientSecret(SERVICE_SECRET)], scopes: ["metrics"] },
];

beforeAll(async () => {
  upstream = await startEchoUpstream();
  const port = await freePort();
  idp = await startTestIdp({
    clients: [rampartClient(`http://127.0.0.1:${port}`)],
    users: [
      { sub: "alice", email: "alice@example.com", email_verified: true, groups: ["sre"] },
      { sub: "bob", email: "bob@example.com", email_verified: true, groups: ["sre"] },
    ],
  });
  const config = rampartConfigSchema.parse({
    version: 1,
    gateway: { port },
    identity: {
      providers: [corpProvider(idp.issuer)],
      tokens: { secret: TOKENS_SECRET },
      serviceAccounts,
    },
    routes: [
      { path: "/public", upstream: upstream.url },
      {
        // An app that takes its own bearer tokens: Rampart signs people in with a session only.
        path: "/notebooks",
        upstream: upstream.url,
        auth: { provider: "corp", accept: ["session"] },
        policy: { rules: [{ allow: { groups: ["sre"] } }] },
      },
      {
        path: "/",
        upstream: upstream.url,
        auth: { provider: "corp" },
        policy: { rules: [{ allow: { groups: ["sre"] } }, { allow: { serviceAccounts: ["reports"] } }] },
      },
    ],
  });
  gw = await startConfiguredGateway(config, {
    hot,
  });
  alice = await signIn(gw.url, idp, "alice", "/app/");
});

afterAll(async () => {
  await gw?.close();
  await idp?.close();
  await hot.close();
  upstream?.server.close();
});

/** A browser gets sent to sign in, an API client gets 401: the gateway treats the request as signed out. */
async function expectSignedOut(cookie: string) {
  const page = await get(gw.url, "/app/", { ...BROWSER, cookie });
  expect(page.status).toBe(302);
  expect(new URL(page.headers.get("location") as string).origin).toBe(idp.issuer);
  expect((await get(gw.url, "/app/", { ...API, cookie })).status).toBe(401);
}

describe("session cookies", () => {
  test("a genuine cookie works; a random one or another user's with one character changed is signed out", async () => {
    expect((await get(gw.url, "/app/", { ...API, cookie: alice })).status).toBe(200);
    await expectSignedOut(`rampart_session=${randomBytes(32).toString("base64url")}`);
    const value = cookieValue(alice);
    const flipped = value.slice(0, 10) + (value[10] === "A" ? "B" : "A") + value.slice(11);
    await expectSignedOut(`rampart_session=${flipped}`);
    await expectSignedOut(`rampart_session=${value.slice(0, -1)}`);
    await expectSignedOut(`rampart_session=${value}${value}`);
    await expectSignedOut("rampart_session=");
  });

  test("a cookie made for HTTPS (__Host-) does not sign anyone in over plain HTTP", async () => {
    await expectSignedOut(`__Host-rampart_session=${cookieValue(alice)}`);
  });
});

describe("access tokens", () => {
  const keys = (secret: string, clock: Clock = systemClock) =>
    createTokenKeys({ secret, algorithm: "EdDSA", rotationPeriodMs: 24 * HOUR_MS, clock });
  const opts = { typ: ACCESS_TOKEN_TYPE, issuer: "rampart", audience: "rampart", subject: "reports" };
  const claims = { scope: "metrics", client_id: "reports", kind: "service" };
  const bearer = (token: string) => ({ ...API, authorization: `Bearer ${token}` });
  const status = async (token: string) => (await get(gw.url, "/app/metrics", bearer(token))).status;
  const at = (ms: number): Clock => ({ now: () => new Date(Date.now() + ms) });

  async function genuine(): Promise<string> {
    const res = await fetch(`${gw.url}/.rampart/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`reports:${SERVICE_SECRET}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials&scope=metrics",
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  }

  test("the gateway's own token is accepted, and never forwarded to the upstream", async () => {
    expect(await status(await genuine())).toBe(200);
    expect(upstream.seen.at(-1)?.headers.authorization).toBeUndefined();
    expect(upstream.seen.at(-1)?.headers["x-rampart-user"]).toBe("reports");
  });

  test("a token signed with another deployment's secret is refused", async () => {
    const { jwt } = await signJwt(keys(`another-${TOKENS_SECRET}`), systemClock, claims, {
      ...opts,
      lifetimeSeconds: 600,
    });
    expect(await status(jwt)).toBe(401);
  });

  test("alg none is refused, with or without a signature", async () => {
    const part = (o: object) => base64url.encode(JSON.stringify(o));
    const [, payload] = (await genuine()).split(".");
    for (const alg of ["none", "None", "NONE"]) {
      const header = part({ alg, typ: ACCESS_TOKEN_TYPE });
      expect(await status(`${header}.${payload}.`)).toBe(401);
      expect(await status(`${header}.${payload}`)).toBe(401);
    }
  });

  test("HS256 signed with the published public key (key confusion) is refused", async () => {
    const jwks = (await (await fetch(`${gw.url}/.well-known/rampart/jwks.json`)).json()) as { keys: JWK[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const jwk of jwks.keys) {
      const pem = await exportSPKI((await importJWK(jwk, jwk.alg)) as Parameters<typeof exportSPKI>[0]);
      for (const secret of [pem, JSON.stringify(jwk), jwk.x as string]) {
        const now = Math.floor(Date.now() / 1000);
        const token = await new SignJWT({ ...claims, sub: "reports", jti: randomBytes(8).toString("hex") })
          .setProtectedHeader({ alg: "HS256", kid: jwk.kid as string, typ: ACCESS_TOKEN_TYPE })
          .setIssuer("rampart")
          .setAudience("rampart")
          .setIssuedAt(now)
          .setNotBefore(now)
          .setExpirationTime(now + 600)
          .sign(new TextEncoder().encode(secret));
        expect(await status(token)).toBe(401);
      }
    }
  });

  test("tokens with the right key but past their expiry or not yet valid are refused", async () => {
    const expired = await signJwt(keys(TOKENS_SECRET, at(-2 * HOUR_MS)), at(-2 * HOUR_MS), claims, {
      ...opts,
      lifetimeSeconds: 600,
    });
    expect(await status(expired.jwt)).toBe(401);
    const early = await signJwt(keys(TOKENS_SECRET, at(HOUR_MS)), at(HOUR_MS), claims, {
      ...opts,
      lifetimeSeconds: 600,
    });
    expect(await status(early.jwt)).toBe(401);
    // The same keys at the present make a good token: the refusals above are about time alone.
    const now = await signJwt(keys(TOKENS_SECRET), systemClock, claims, { ...opts, lifetimeSeconds: 600 });
    expect(await status(now.jwt)).toBe(200);
  });

  test("a genuine token with an edited payload or signature is refused", async () => {
    const [header, payload, signature] = (await genuine()).split(".") as [string, string, string];
    const edited = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as Record<string, unknown>;
    const forged = base64url.encode(JSON.stringify({ ...edited, scope: "metrics admin", sub: "admin" }));
    expect(await status(`${header}.${forged}.${signature}`)).toBe(401);
    const sig = base64url.decode(signature);
    sig[0] = (sig[0] as number) ^ 1;
    expect(await status(`${header}.${payload}.${base64url.encode(sig)}`)).toBe(401);
  });
});

describe("API keys", () => {
  test("an unknown key is refused; a live key works until it is revoked, then it is refused", async () => {
    const fake = `rpk_${"a".repeat(8)}_${randomBytes(32).toString("base64url")}`;
    expect((await get(gw.url, "/app/", { ...API, authorization: `Bearer ${fake}` })).status).toBe(401);

    // The control plane's side: it writes keys to the hot state the gateway reads.
    const accounts = createServiceAccounts(serviceAccounts);
    const revocations = createRevocations({ hotState: hot, clock: systemClock, emit: () => {} });
    const apiKeys = createApiKeys({
      hotState: hot,
      clock: systemClock,
      emit: () => {},
      accounts,
      revocations,
    });
    const by = { kind: "user" as const, id: "corp:admin" };
    const { key, apiKey } = await apiKeys.create(
      { kind: "service", subject: "reports", scopes: ["metrics"], ttlSeconds: 3600 },
      by,
    );
    const auth = { ...API, authorization: `Bearer ${key}` };
    expect((await get(gw.url, "/app/", auth)).status).toBe(200);
    expect(upstream.seen.at(-1)?.headers.authorization).toBeUndefined();
    // The same key with its secret part changed is someone guessing.
    const guessed = `${key.slice(0, -2)}${key.endsWith("AA") ? "BB" : "AA"}`;
    expect((await get(gw.url, "/app/", { ...API, authorization: `Bearer ${guessed}` })).status).toBe(401);

    await apiKeys.revoke(apiKey.id, by);
    expect(await msUntil(async () => (await get(gw.url, "/app/", auth)).status === 401)).toBeLessThan(1000);
    await apiKeys.close();
    await revocations.close();
  });
});

/** Sends a request with exactly these header lines (duplicates and odd case kept); resolves when answered. */
function raw(path: string, lines: string[]): Promise<string> {
  const { port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), "127.0.0.1", () =>
      s.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${lines.join("\r\n")}\r\nConnection: close\r\n\r\n`,
      ),
    );
    let out = "";
    s.on("data", (d) => (out += d));
    s.on("close", () => resolve(out));
    s.on("error", reject);
  });
}

describe("what reaches the upstream", () => {
  const spoofed = [
    "X-Rampart-User: corp:root",
    "x-rampart-user: corp:admin",
    "X-RAMPART-EMAIL: root@example.com",
    "x-RaMpArT-gRoUpS: admins",
    "X-Rampart-Groups: admins",
    "X-Rampart-Assertion: eyJhbGciOiJub25lIn0.eyJzdWIiOiJyb290In0.",
    "X-Rampart-Bot-Score: 0",
  ];

  test("spoofed X-Rampart-* headers, in any case and repeated, never reach the upstream", async () => {
    const own = (h: Record<string, unknown>) => Object.keys(h).filter((k) => k.startsWith("x-rampart-"));
    expect(await raw("/public/spoof", spoofed)).toMatch(/^HTTP\/1\.1 200/);
    expect(own(upstream.seen.at(-1)?.headers ?? {})).toEqual([]);

    expect(await raw("/app/spoof", [...spoofed, `Cookie: ${alice}`])).toMatch(/^HTTP\/1\.1 200/);
    const seen = upstream.seen.at(-1)?.headers ?? {};
    expect(seen["x-rampart-user"]).toBe("corp:alice");
    expect(seen["x-rampart-email"]).toBe("alice@example.com");
    expect(seen["x-rampart-groups"]).toBe("sre");
    expect(seen["x-rampart-assertion"]).not.toContain("eyJhbGciOiJub25lIn0");
    expect(own(seen).sort()).toEqual([
      "x-rampart-assertion",
      "x-rampart-email",
      "x-rampart-groups",
      "x-rampart-user",
    ]);
  });

  test("Rampart's cookies never reach a protected route's upstream; the app's own cookies do", async () => {
    const cookie = `theme=dark; ${alice}; rampart_login=abc; __Host-rampart_session=x; lang=en`;
    expect((await get(gw.url, "/app/", { cookie })).status).toBe(200);
    expect(upstream.seen.at(-1)?.headers.cookie).toBe("theme=dark; lang=en");
  });

  test("Rampart's cookies and credentials never reach a public route's upstream either", async () => {
    const key = `rpk_${"c".repeat(8)}_${randomBytes(32).toString("base64url")}`;
    const res = await get(gw.url, "/public/", {
      cookie: `theme=dark; ${alice}`,
      authorization: `Bearer ${key}`,
    });
    expect(res.status).toBe(200);
    const { cookie, authorization } = upstream.seen.at(-1)?.headers ?? {};
    expect({ cookie, authorization }).toEqual({ cookie: "theme=dark", authorization: undefined });
  });

  test("on a session-only route the app's own bearer token passes, a Rampart credential does not", async () => {
    const app = { cookie: alice, authorization: "Bearer app-token-123" };
    expect((await get(gw.url, "/notebooks/", app)).status).toBe(200);
    expect(upstream.seen.at(-1)?.headers.authorization).toBe("Bearer app-token-123");
    const key = `rpk_${"b".repeat(8)}_${randomBytes(32).toString("base64url")}`;
    expect((await get(gw.url, "/notebooks/", { cookie: alice, authorization: `Bearer ${key}` })).status).toBe(
      200,
    );
    expect(upstream.seen.at(-1)?.headers.authorization).toBeUndefined();
  });
});

describe("sign-in and logout redirects", () => {
  const offSite = (location: string) => new URL(location, gw.url).origin !== new URL(gw.url).origin;

  test.each([
    "//evil.com",
    "//evil.com/",
    "/%2F%2Fevil.com",
    "/%2f%2fevil.com/x",
    "/%5Cevil.com",
    "/\\evil.com",
  ])("sign-in started at %s never sends the browser off-site after the callback", async (path) => {
    const reply = await raw(path, [`Accept: ${BROWSER.accept}`, `User-Agent: ${BROWSER["user-agent"]}`]);
    const status = Number(reply.slice(9, 12));
    const location = /\r\nlocation: ([^\r]*)/i.exec(reply)?.[1];
    if (status !== 302) {
      // Refused outright (an ambiguous path): nothing to follow.
      expect(status).toBeGreaterThanOrEqual(400);
      expect(location).toBeUndefined();
      return;
    }
    expect(new URL(location as string).origin).toBe(idp.issuer);
    const login = cookiePair(/\r\nset-cookie: ([^\r]*)/i.exec(reply)?.[1] as string);
    const callback = await idp.signIn(location as string, "alice");
    const done = await fetch(callback, { headers: { cookie: login }, redirect: "manual" });
    expect(done.status).toBe(303);
    const back = done.headers.get("location") as string;
    expect(back).toMatch(/^\/(?![/\\])/);
    expect(offSite(back)).toBe(false);
  });

  test("logout goes to the provider or to this site, whatever the request says", async () => {
    const bob = await signIn(gw.url, idp, "bob", "/app/");
    const hostile =
      "?post_logout_redirect_uri=https://evil.com/&returnTo=//evil.com&redirect=https://evil.com";
    const out = await get(gw.url, `/.rampart/sso/logout${hostile}`, { ...BROWSER, cookie: bob });
    expect(out.status).toBe(303);
    const to = new URL(out.headers.get("location") as string);
    expect(to.origin).toBe(idp.issuer);
    expect(to.searchParams.get("post_logout_redirect_uri")).toBe(`${gw.url}/`);
    const signedOut = await get(gw.url, `/.rampart/sso/logout${hostile}`, BROWSER);
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.get("location")).toBe("/");
  });

  test("a callback carrying another browser's state is refused, and a callback replayed is refused", async () => {
    const victim = await get(gw.url, "/app/", BROWSER);
    const attacker = await get(gw.url, "/app/", BROWSER);
    const attackerCookie = cookiePair(attacker.headers.getSetCookie()[0] as string);
    const victimCookie = cookiePair(victim.headers.getSetCookie()[0] as string);
    const callback = await idp.signIn(victim.headers.get("location") as string, "alice");
    // The attacker's browser presents the victim's callback (login CSRF / stolen code): refused.
    const crossed = await fetch(callback, { headers: { cookie: attackerCookie }, redirect: "manual" });
    expect(crossed.status).toBe(401);
    expect(crossed.headers.getSetCookie().some((c) => c.startsWith("rampart_session="))).toBe(false);
    // Without any login cookie: refused as well.
    expect((await fetch(callback, { redirect: "manual" })).status).toBe(401);
    // The victim's own browser finishes the login, once.
    const done = await fetch(callback, { headers: { cookie: victimCookie }, redirect: "manual" });
    expect(done.status).toBe(303);
    const replay = await fetch(callback, { headers: { cookie: victimCookie }, redirect: "manual" });
    expect(replay.status).toBe(401);
    expect(replay.headers.getSetCookie().some((c) => c.startsWith("rampart_session="))).toBe(false);
  });

  test("a forged back-channel logout token ends nobody's session", async () => {
    const session = await signIn(gw.url, idp, "bob", "/app/");
    const forged = await new SignJWT({
      events: { "http://schemas.openid.net/event/backchannel-logout": {} },
      sub: "bob",
      jti: randomBytes(8).toString("hex"),
    })
      .setProtectedHeader({ alg: "HS256", typ: "logout+jwt" })
      .setIssuer(idp.issuer)
      .setAudience("rampart")
      .setIssuedAt()
      .sign(new TextEncoder().encode(TOKENS_SECRET));
    const res = await fetch(`${gw.url}/.rampart/sso/backchannel-logout`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ logout_token: forged }).toString(),
    });
    expect(res.status).toBe(400);
    expect((await get(gw.url, "/app/", { ...API, cookie: session })).status).toBe(200);
  });
});
