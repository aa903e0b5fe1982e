import { createHash, createPublicKey, generateKeyPairSync, type JsonWebKey, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { Redis } from "ioredis";
import { generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { listenLocal } from "../../../test/support/services.ts";
import { startTestIdp, type TestIdp } from "../../../test/support/oidc-provider.ts";
import { Invalid } from "../../platform/errors.ts";
import type { SecurityEvent } from "../../platform/events/types.ts";
import { createMemoryHotState, createRedisHotState, type HotState } from "../../platform/hotstate/index.ts";
import { createSessionStore, type SessionStore } from "../sessions/index.ts";
import { LoginFailed, TooManyAttempts } from "./errors.ts";
import { createRelyingParty, type RelyingParty, type RelyingPartyOptions } from "./relying-party.ts";

const origin = "https://grafana.example.test";
const clientSecret = randomUUID();
const users = [
  { sub: "alice", email: "alice@example.com", email_verified: true, name: "Alice", groups: ["eng", "sre"] },
  { sub: "mallory", email: "mallory@example.com", email_verified: false, groups: [] },
];

let idp: TestIdp;
let logoutTokens: string[] = [];
const receiver = createServer((req, res) => {
  let body = "";
  req.on("data", (c: Buffer) => (body += c.toString()));
  req.on("end", () => {
    logoutTokens.push(new URLSearchParams(body).get("logout_token") ?? "");
    res.statusCode = 200;
    res.end();
  });
});

beforeAll(async () => {
  const backchannel = await listenLocal(receiver);
  idp = await startTestIdp({
    users,
    clients: [
      {
        client_id: "rampart",
        client_secret: clientSecret,
        redirect_uris: [`${origin}/.rampart/sso/callback`],
        post_logout_redirect_uris: [`${origin}/logged-out`],
        grant_types: ["authorization_code", "refresh_token"],
        backchannel_logout_uri: `${backchannel}/backchannel`,
        backchannel_logout_session_required: true,
      },
    ],
  });
});

afterAll(async () => {
  await idp.close();
  receiver.closeAllConnections();
  receiver.close();
});

interface Rig {
  rp: RelyingParty;
  sessions: SessionStore;
  hotState: HotState;
  events: SecurityEvent[];
}

function rig(over: Partial<RelyingPartyOptions> = {}, hotState: HotState = createMemoryHotState()): Rig {
  const events: SecurityEvent[] = [];
  const sessions = createSessionStore({ hotState, emit: (e) => events.push(e) });
  const rp = createRelyingParty({
    providers: [
      {
        id: "corp",
        issuer: idp.issuer,
        clientId: "rampart",
        clientSecret,
        scopes: ["openid", "email", "profile", "groups"],
      },
    ],
    sessions,
    hotState,
    emit: (e) => events.push(e),
    ...over,
  });
  return { rp, sessions, hotState, events };
}

const ip = "198.51.100.7";
const cookiePair = (setCookie: string) => setCookie.split(";", 1)[0];

async function login(r: Rig, sub = "alice", returnTo = "/d/abc?orgId=1") {
  const start = await r.rp.beginLogin({ provider: "corp", origin, returnTo, ip });
  const callbackUrl = await idp.signIn(start.redirectUrl, sub);
  return r.rp.finishLogin({ callbackUrl, cookieHeader: `other=1; ${cookiePair(start.setCookie)}`, ip });
}

async function failure(p: Promise<unknown>): Promise<LoginFailed> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LoginFailed);
  return err as LoginFailed;
}

describe("SSO login (authorization code + PKCE) against a real OpenID provider", () => {
  it("logs in, keeps groups, refreshes and logs out", async () => {
    const r = rig();
    const start = await r.rp.beginLogin({ provider: "corp", origin, returnTo: "/d/abc?orgId=1", ip });
    const auth = new URL(start.redirectUrl);
    expect(auth.searchParams.get("code_challenge_method")).toBe("S256");
    expect(auth.searchParams.get("code_challenge")).toMatch(/^[\w-]{43}$/);
    expect(auth.searchParams.get("nonce")).toBeTruthy();
    expect(start.setCookie).toMatch(
      /^__Host-rampart_login=[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=600$/,
    );

    const callbackUrl = await idp.signIn(start.redirectUrl, "alice");
    const done = await r.rp.finishLogin({ callbackUrl, cookieHeader: cookiePair(start.setCookie), ip });
    expect(done.returnTo).toBe("/d/abc?orgId=1");
    expect(done.session.identity).toMatchObject({
      kind: "user",
      subject: "corp:alice",
      provider: "corp",
      email: "alice@example.com",
      emailVerified: true,
      name: "Alice",
      groups: ["eng", "sre"],
      credential: "session",
    });
    expect(done.session.sid).toBeTruthy();
    expect(done.setCookies[0]).toMatch(
      /^__Host-rampart_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=4320[0-9]|4319[0-9]$/,
    );
    expect(done.setCookies[1]).toMatch(/^__Host-rampart_login=; .*Max-Age=0$/);
    const id = cookiePair(done.setCookies[0]!)!.split("=")[1]!;
    expect((await r.sessions.get(id))?.identity.subject).toBe("corp:alice");

    // Groups change at the provider; the refresh brings them in.
    idp.updateUser({ ...users[0]!, groups: ["eng"] });
    const before = idp.grants("refresh_token");
    const refreshed = await r.rp.refresh(done.session);
    expect(idp.grants("refresh_token")).toBe(before + 1);
    expect(refreshed?.tokens.accessToken).not.toBe(done.session.tokens.accessToken);
    expect(refreshed?.tokens.refreshToken).not.toBe(done.session.tokens.refreshToken); // rotated
    expect(refreshed?.identity.groups).toEqual(["eng"]);
    expect((await r.sessions.get(id))?.tokens.accessToken).toBe(refreshed?.tokens.accessToken);
    idp.updateUser(users[0]!);

    const out = await r.rp.logout(refreshed!, `${origin}/logged-out`);
    const end = new URL(out.redirectUrl);
    expect(`${end.origin}${end.pathname}`).toBe(`${idp.issuer}/session/end`);
    expect(end.searchParams.get("id_token_hint")).toBe(refreshed!.tokens.idToken);
    expect(end.searchParams.get("post_logout_redirect_uri")).toBe(`${origin}/logged-out`);
    expect(await r.sessions.get(id)).toBeNull();
    // The provider accepts the hint and the registered redirect: it shows its sign-out page.
    expect((await fetch(out.redirectUrl)).status).toBe(200);

    expect(r.events.map((e) => e.type)).toEqual(["identity.login", "identity.logout"]);
    const logged = JSON.stringify(r.events);
    for (const secret of [
      id,
      done.session.tokens.accessToken,
      done.session.tokens.refreshToken!,
      clientSecret,
    ]) {
      expect(logged).not.toContain(secret);
    }
  });

  it("refuses a callback whose state was tampered with, or that belongs to another browser", async () => {
    const r = rig();
    const start = await r.rp.beginLogin({ provider: "corp", origin, ip });
    const callback = new URL(await idp.signIn(start.redirectUrl, "alice"));
    const cookie = cookiePair(start.setCookie);

    const tampered = new URL(callback);
    tampered.searchParams.set("state", `${callback.searchParams.get("state")}x`);
    expect(
      (await failure(r.rp.finishLogin({ callbackUrl: tampered.href, cookieHeader: cookie, ip }))).reason,
    ).toBe("state_mismatch");
    // Login CSRF: the attacker's callback in a victim's browser that never started this login.
    expect(
      (await failure(r.rp.finishLogin({ callbackUrl: callback.href, cookieHeader: undefined, ip }))).reason,
    ).toBe("state_mismatch");
    const other = await r.rp.beginLogin({ provider: "corp", origin, ip });
    expect(
      (
        await failure(
          r.rp.finishLogin({ callbackUrl: callback.href, cookieHeader: cookiePair(other.setCookie), ip }),
        )
      ).reason,
    ).toBe("state_mismatch");
    // The genuine pair still works once.
    await r.rp.finishLogin({ callbackUrl: callback.href, cookieHeader: cookie, ip });
    expect(r.events.filter((e) => e.type === "identity.login_failed")).toHaveLength(3);
  });

  it("refuses a replayed callback and a replayed authorization code", async () => {
    const r = rig();
    const start = await r.rp.beginLogin({ provider: "corp", origin, ip });
    const callbackUrl = await idp.signIn(start.redirectUrl, "alice");
    const cookieHeader = cookiePair(start.setCookie);
    await r.rp.finishLogin({ callbackUrl, cookieHeader, ip });
    expect((await failure(r.rp.finishLogin({ callbackUrl, cookieHeader, ip }))).reason).toBe("login_expired");

    // The same code under a fresh, valid state: the provider refuses it.
    const fresh = await r.rp.beginLogin({ provider: "corp", origin, ip });
    const replay = new URL(callbackUrl);
    replay.searchParams.set("state", cookiePair(fresh.setCookie)!.split("=")[1]!);
    const err = await failure(
      r.rp.finishLogin({ callbackUrl: replay.href, cookieHeader: cookiePair(fresh.setCookie), ip }),
    );
    expect(err.reason).toBe("code_rejected");
  });

  it("refuses an ID token whose nonce is not this login's", async () => {
    const r = rig();
    const start = await r.rp.beginLogin({ provider: "corp", origin, ip });
    const callbackUrl = await idp.signIn(start.redirectUrl, "alice");
    const state = new URL(callbackUrl).searchParams.get("state")!;
    const key = `sso:login:${createHash("sha256").update(state).digest("hex")}`;
    const record = JSON.parse((await r.hotState.get(key))!);
    await r.hotState.set(key, JSON.stringify({ ...record, nonce: "some-other-login" }));
    const err = await failure(
      r.rp.finishLogin({ callbackUrl, cookieHeader: cookiePair(start.setCookie), ip }),
    );
    expect(err.reason).toBe("nonce_mismatch");
  });

  it("reports the provider's refusal and an unverified email as failed logins", async () => {
    const r = rig();
    const start = await r.rp.beginLogin({ provider: "corp", origin, ip });
    const denied = await idp.cancelSignIn(start.redirectUrl);
    const err = await failure(
      r.rp.finishLogin({ callbackUrl: denied, cookieHeader: cookiePair(start.setCookie), ip }),
    );
    expect(err.reason).toBe("idp_error");
    expect(err.message).toContain("access_denied");
    expect((await failure(login(r, "mallory"))).reason).toBe("email_unverified");
  });

  it("refuses open redirects in returnTo", async () => {
    const r = rig();
    for (const returnTo of [
      "//evil.com",
      "/\\evil.com",
      "\\\\evil.com",
      "https://evil.com",
      "https://grafana.example.test.evil.com/",
      "http://grafana.example.test/",
      "javascript:alert(1)",
      "/\t/evil.com",
      "///evil.com",
      "evil.com",
    ]) {
      await expect(
        r.rp.beginLogin({ provider: "corp", origin, returnTo, ip }),
        returnTo,
      ).rejects.toBeInstanceOf(Invalid);
    }
    const ok = await login(r, "alice", "/%2F%2Fevil.com");
    expect(ok.returnTo).toBe("/%2F%2Fevil.com"); // a path on this site, not a host
  });

  it("locks a client IP out after repeated failures, with growing waits", async () => {
    const r = rig({ lockout: { maxFailures: 3, baseLockMs: 2000 } });
    const start = await r.rp.beginLogin({ provider: "corp", origin, ip: "203.0.113.9" });
    const forged = `${origin}/.rampart/sso/callback?code=x&state=y`;
    for (let i = 0; i < 3; i++) {
      await failure(
        r.rp.finishLogin({
          callbackUrl: forged,
          cookieHeader: cookiePair(start.setCookie),
          ip: "203.0.113.9",
        }),
      );
    }
    const locked = await r.rp
      .beginLogin({ provider: "corp", origin, ip: "203.0.113.9" })
      .catch((e: unknown) => e);
    expect(locked).toBeInstanceOf(TooManyAttempts);
    expect((locked as TooManyAttempts).status).toBe(429);
    expect((locked as TooManyAttempts).retryAfterS).toBe(2);
    // Another client is not affected.
    await login(r);
  });

  it("ends the session when the provider refuses the refresh token", async () => {
    const r = rig();
    const { session } = await login(r);
    const revoked = await fetch(`${idp.issuer}/token/revocation`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`rampart:${clientSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ token: session.tokens.refreshToken!, token_type_hint: "refresh_token" }),
    });
    expect(revoked.status).toBe(200);
    expect(await r.rp.refresh(session)).toBeNull();
    expect(await r.sessions.read(session.handle)).toBeNull();
    const failed = r.events.find((e) => e.type === "identity.refresh_failed");
    expect(failed?.actor.id).toBe("corp:alice");
  });
});

describe("back-channel logout", () => {
  it("ends the session the provider's own logout token names, once", async () => {
    const r = rig();
    const { session } = await login(r);
    const keep = await login(r);
    logoutTokens = [];
    await idp.backChannelLogout("rampart", "alice", session.sid!);
    expect(logoutTokens).toHaveLength(1);
    expect(await r.rp.backChannelLogout(logoutTokens[0]!)).toBe(1);
    expect(await r.sessions.read(session.handle)).toBeNull();
    expect(await r.sessions.read(keep.session.handle)).not.toBeNull();
    await expect(r.rp.backChannelLogout(logoutTokens[0]!)).rejects.toThrow(/replayed/);
  });

  it("by subject ends every session of the user", async () => {
    const r = rig();
    const a = await login(r);
    const b = await login(r);
    const token = await idp.sign(valid({ sid: undefined }));
    expect(await r.rp.backChannelLogout(token)).toBe(2);
    expect(await r.sessions.read(a.session.handle)).toBeNull();
    expect(await r.sessions.read(b.session.handle)).toBeNull();
  });

  function valid(over: Record<string, unknown> = {}): Record<string, unknown> {
    const claims: Record<string, unknown> = {
      iss: idp.issuer,
      aud: "rampart",
      iat: Math.floor(Date.now() / 1000),
      jti: randomUUID(),
      sub: "alice",
      events: { "http://schemas.openid.net/event/backchannel-logout": {} },
      ...over,
    };
    for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
    return claims;
  }

  it("rejects forged, tampered, confused and malformed logout tokens", async () => {
    const r = rig();
    const { session } = await login(r);
    const now = Math.floor(Date.now() / 1000);
    const otherKey = (await generateKeyPair("RS256")).privateKey;
    const forged = await new SignJWT(valid())
      .setProtectedHeader({ alg: "RS256", kid: "test-rs256" })
      .sign(otherKey);
    const genuine = await idp.sign(valid());
    const [h, p, s] = genuine.split(".");
    const tamperedPayload = Buffer.from(JSON.stringify(valid({ sub: "bob" }))).toString("base64url");
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as { keys: object[] };
    // Key confusion: HMAC keyed with the provider's public key.
    const publicPem = createPublicKey({ key: jwks.keys[0] as JsonWebKey, format: "jwk" }).export({
      type: "spki",
      format: "pem",
    });
    const confused = await new SignJWT(valid())
      .setProtectedHeader({ alg: "HS256" })
      .sign(Buffer.from(publicPem));
    const ed = generateKeyPairSync("ed25519").privateKey;
    const hostile: Record<string, string> = {
      forged,
      tampered: `${h}.${tamperedPayload}.${s}`,
      "alg none": new UnsecuredJWT(valid()).encode(),
      "key confusion": confused,
      "unknown key": await new SignJWT(valid()).setProtectedHeader({ alg: "EdDSA" }).sign(ed),
      "wrong audience": await idp.sign(valid({ aud: "someone-else" })),
      "wrong issuer": await idp.sign(valid({ iss: "https://evil.example" })),
      "issued long ago": await idp.sign(valid({ iat: now - 3600 })),
      "issued in the future": await idp.sign(valid({ iat: now + 3600 })),
      "not yet valid": await idp.sign(valid({ nbf: now + 3600 })),
      expired: await idp.sign(valid({ exp: now - 120 })),
      "with a nonce": await idp.sign(valid({ nonce: "n" })),
      "without events": await idp.sign(valid({ events: undefined })),
      "other event": await idp.sign(valid({ events: { "urn:other": {} } })),
      "without jti": await idp.sign(valid({ jti: undefined })),
      "without sid or sub": await idp.sign(valid({ sub: undefined })),
      garbage: "not.a.jwt",
      "signature of another token": `${h}.${p}.${forged.split(".")[2]}`,
    };
    for (const [name, token] of Object.entries(hostile)) {
      await expect(r.rp.backChannelLogout(token), name).rejects.toBeInstanceOf(Invalid);
    }
    expect(await r.sessions.read(session.handle)).not.toBeNull();
  });
});

describe("refresh across replicas over Redis", () => {
  const url = inject("redisUrl");
  const keyPrefix = `test:sso:${randomUUID()}:`;
  afterAll(async () => {
    const raw = new Redis(url);
    const keys = await raw.keys(`${keyPrefix}*`);
    if (keys.length) await raw.del(...keys);
    await raw.quit();
  });

  it("refreshes once at the provider, renewing its lease while the provider is slow; both replicas get the new tokens", async () => {
    const hs = [createRedisHotState({ url, keyPrefix }), createRedisHotState({ url, keyPrefix })];
    // A lease far shorter than the provider's delay: only renewal keeps the second replica waiting.
    const [a, b] = hs.map((h) => rig({ refreshLeaseMs: 400 }, h)) as [Rig, Rig];
    const { session } = await login(a);
    const before = idp.grants("refresh_token");
    idp.setTokenDelay(1500);
    try {
      const [ra, rb] = await Promise.all([a.rp.refresh(session), b.rp.refresh(session)]);
      expect(idp.grants("refresh_token")).toBe(before + 1);
      expect(ra?.tokens.accessToken).toBeTruthy();
      expect(ra?.tokens.accessToken).not.toBe(session.tokens.accessToken);
      expect(rb?.tokens.accessToken).toBe(ra?.tokens.accessToken);
    } finally {
      idp.setTokenDelay(0);
      await Promise.all(hs.map((h) => h.close()));
    }
  });
});
