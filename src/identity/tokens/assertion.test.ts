import { createLocalJWKSet, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import type { Identity } from "../types.ts";
import { createAssertionSigner, groupsHeaderValue, headersToStrip, headerValue } from "./assertion.ts";
import { createTokenKeys } from "./keys.ts";

const secret = "a deployment secret of at least 32 bytes, from config";
const alice: Identity = {
  kind: "user",
  subject: "okta:00u1",
  provider: "okta",
  email: "alice@example.com",
  emailVerified: true,
  groups: ["eng", "sre, on-call"],
  roles: ["developer"],
  claims: {},
  credential: "session",
};

function setup() {
  const clock = manualClock("2026-05-01T12:00:00Z");
  const keys = createTokenKeys({ secret, clock });
  const signer = createAssertionSigner({ keys, clock, issuer: "https://gw.example" });
  return { clock, keys, signer };
}

describe("identity assertions", () => {
  it("verify at an upstream against the published JWKS, with the identity's claims", async () => {
    const { clock, keys, signer } = setup();
    const jwt = await signer.signAssertion(alice, { audience: "grafana", sessionId: "s1" });
    const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(await keys.jwks()), {
      issuer: "https://gw.example",
      audience: "grafana",
      typ: "rampart-assertion+jwt",
      currentDate: clock.now(),
    });
    expect(protectedHeader.alg).toBe("EdDSA");
    expect(payload).toMatchObject({
      sub: "okta:00u1",
      kind: "user",
      email: "alice@example.com",
      groups: ["eng", "sre, on-call"],
      roles: ["developer"],
    });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.jti).toBeTypeOf("string");
    await expect(
      jwtVerify(jwt, createLocalJWKSet(await keys.jwks()), { audience: "billing", currentDate: clock.now() }),
    ).rejects.toThrow();
  });

  it("never hands one identity's cached assertion to another with the same claims", async () => {
    const { signer } = setup();
    const service = (subject: string): Identity => ({
      kind: "service",
      subject,
      groups: [],
      roles: ["reader"],
      claims: {},
      credential: "access-token",
    });
    const a = await signer.signAssertion(service("billing"), { audience: "api" });
    const b = await signer.signAssertion(service("reports"), { audience: "api" });
    const sub = (jwt: string) =>
      JSON.parse(Buffer.from(jwt.split(".")[1] as string, "base64url").toString()).sub as string;
    expect([sub(a), sub(b)]).toEqual(["billing", "reports"]);
  });

  it("reuses one assertion per session and audience until it nears expiry", async () => {
    const { clock, signer } = setup();
    const first = await signer.signAssertion(alice, { audience: "grafana", sessionId: "s1" });
    clock.advance(200_000);
    expect(await signer.signAssertion(alice, { audience: "grafana", sessionId: "s1" })).toBe(first);
    expect(await signer.signAssertion(alice, { audience: "wiki", sessionId: "s1" })).not.toBe(first);
    expect(await signer.signAssertion(alice, { audience: "grafana", sessionId: "s2" })).not.toBe(first);
    clock.advance(30_000); // 70 s left of 300: renewed
    expect(await signer.signAssertion(alice, { audience: "grafana", sessionId: "s1" })).not.toBe(first);
  });

  it("issues a new assertion at once when the session's roles change (a grant expired)", async () => {
    const { clock, keys, signer } = setup();
    const withGrant = { ...alice, roles: ["developer", "prod-operator"] };
    const before = await signer.signAssertion(withGrant, { audience: "grafana", sessionId: "s1" });
    const after = await signer.signAssertion(alice, { audience: "grafana", sessionId: "s1" });
    expect(after).not.toBe(before);
    const { payload } = await jwtVerify(after, createLocalJWKSet(await keys.jwks()), {
      currentDate: clock.now(),
    });
    expect(payload.roles).toEqual(["developer"]);
  });

  it("stays within its cache bound", async () => {
    const clock = manualClock();
    const keys = createTokenKeys({ secret, clock });
    const signer = createAssertionSigner({ keys, clock, issuer: "i", cacheSize: 2 });
    const a = await signer.signAssertion(alice, { audience: "a", sessionId: "1" });
    await signer.signAssertion(alice, { audience: "a", sessionId: "2" });
    await signer.signAssertion(alice, { audience: "a", sessionId: "1" }); // 1 is now the most recent
    await signer.signAssertion(alice, { audience: "a", sessionId: "3" }); // evicts 2
    expect(await signer.signAssertion(alice, { audience: "a", sessionId: "1" })).toBe(a);
  });

  it("produces header-safe identity headers, leaving out unverified emails", async () => {
    const { signer } = setup();
    const evil: Identity = {
      ...alice,
      subject: "okta:bob\r\nX-Rampart-User: admin",
      email: "bob@example.com\r\nX-Admin: 1",
      groups: ["a,b", "ops%team", "ünï"],
    };
    const headers = await signer.identityHeaders(evil, { audience: "grafana", sessionId: "s" });
    for (const v of Object.values(headers)) expect(v).toMatch(/^[\x21-\x7e]+$/);
    expect(decodeURIComponent(headers["x-rampart-user"]!)).toBe(evil.subject);
    expect(headers["x-rampart-groups"]!.split(",").map(decodeURIComponent)).toEqual([
      "a,b",
      "ops%team",
      "ünï",
    ]);
    expect(headers["x-rampart-assertion"]).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const unverified = await signer.identityHeaders(
      { ...alice, emailVerified: false, groups: [] },
      { audience: "grafana", sessionId: "s" },
    );
    expect(unverified).not.toHaveProperty("x-rampart-email");
    expect(unverified).not.toHaveProperty("x-rampart-groups");
    expect(Object.keys(headers).sort()).toEqual([
      "x-rampart-assertion",
      "x-rampart-email",
      "x-rampart-groups",
      "x-rampart-user",
    ]);
  });

  it("encodes values so decodeURIComponent restores them", () => {
    expect(headerValue("plain@example.com")).toBe("plain@example.com");
    expect(headerValue("a b%\n")).toBe("a%20b%25%0A");
    expect(groupsHeaderValue(["x,y", "z"])).toBe("x%2Cy,z");
  });

  it("names every client-sent x-rampart-* header to strip, in any case", () => {
    expect(
      headersToStrip([
        "Host",
        "X-Rampart-User",
        "x-rampart-assertion",
        "X-RAMPART-GROUPS",
        "X-Rampart-Whatever",
        "x-forwarded-user",
      ]),
    ).toEqual(["X-Rampart-User", "x-rampart-assertion", "X-RAMPART-GROUPS", "X-Rampart-Whatever"]);
  });
});
