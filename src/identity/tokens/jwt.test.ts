import { SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import { Unauthorized } from "../../platform/errors.ts";
import { createTokenKeys } from "./keys.ts";
import { signJwt, verifyJwt } from "./jwt.ts";

const secret = "a deployment secret of at least 32 bytes, from config";
const claims = { typ: "at+jwt", issuer: "https://gw.example", audience: "rampart" };

async function setup() {
  const clock = manualClock("2026-05-01T12:00:00Z");
  const keys = createTokenKeys({ secret, clock });
  const sign = (o: Partial<typeof claims & { lifetimeSeconds: number }> = {}) =>
    signJwt(keys, clock, { scope: "read" }, { ...claims, subject: "billing", lifetimeSeconds: 600, ...o });
  const verify = (token: string, o: Partial<typeof claims> = {}) =>
    verifyJwt(keys, clock, token, { ...claims, ...o });
  return { clock, keys, sign, verify };
}

async function rejection(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Unauthorized);
  return (err as Error).message;
}

describe("Rampart JWTs", () => {
  it("verify when signed by the deployment's key", async () => {
    const { sign, verify } = await setup();
    const { jwt } = await sign();
    const payload = await verify(jwt);
    expect(payload).toMatchObject({
      sub: "billing",
      aud: "rampart",
      iss: "https://gw.example",
      scope: "read",
    });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("reject a token signed by another deployment's key (forged signature)", async () => {
    const { clock, verify } = await setup();
    const other = createTokenKeys({ secret: "some other deployment's secret, 32+ bytes", clock });
    const { jwt } = await signJwt(other, clock, {}, { ...claims, subject: "billing", lifetimeSeconds: 600 });
    expect(await rejection(verify(jwt))).toMatch(/not signed by a Rampart key/);
  });

  it("reject a tampered payload", async () => {
    const { sign, verify } = await setup();
    const { jwt } = await sign();
    const [h, p, s] = jwt.split(".");
    const payload = JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...payload, sub: "admin" })).toString("base64url");
    expect(await rejection(verify(`${h}.${forged}.${s}`))).toMatch(/signature invalid/);
  });

  it("reject alg none", async () => {
    const { keys, clock, verify } = await setup();
    const { kid } = await keys.signingKey();
    const unsigned = new UnsecuredJWT({ sub: "billing" })
      .setIssuer(claims.issuer)
      .setAudience(claims.audience)
      .setIssuedAt(Math.floor(clock.now().getTime() / 1000))
      .setExpirationTime("10m")
      .encode();
    // Also with our kid and typ in the header, as an attacker would write it.
    const header = Buffer.from(JSON.stringify({ alg: "none", kid, typ: "at+jwt" })).toString("base64url");
    const withKid = `${header}.${unsigned.split(".")[1]}.`;
    expect(await rejection(verify(unsigned))).toMatch(/algorithm|malformed/);
    expect(await rejection(verify(withKid))).toMatch(/algorithm|malformed/);
  });

  it("reject key confusion: HS256 keyed with the published public key", async () => {
    const { keys, clock, verify } = await setup();
    const key = await keys.signingKey();
    const pem = key.publicKey.export({ type: "spki", format: "pem" }) as string;
    const jwk = (await keys.jwks()).keys[1]!;
    for (const hmacKey of [
      Buffer.from(pem),
      Buffer.from(jwk.x!, "base64url"),
      Buffer.from(JSON.stringify(jwk)),
    ]) {
      const forged = await new SignJWT({ scope: "admin" })
        .setProtectedHeader({ alg: "HS256", kid: key.kid, typ: "at+jwt" })
        .setIssuer(claims.issuer)
        .setAudience(claims.audience)
        .setSubject("billing")
        .setIssuedAt(Math.floor(clock.now().getTime() / 1000))
        .setNotBefore("0s")
        .setJti("x")
        .setExpirationTime("10m")
        .sign(hmacKey);
      expect(await rejection(verify(forged))).toMatch(/algorithm|not signed/);
    }
  });

  it("reject the wrong audience, issuer or token type", async () => {
    const { sign, verify } = await setup();
    expect(await rejection(verify((await sign({ audience: "grafana" })).jwt))).toMatch(/aud/);
    expect(await rejection(verify((await sign({ issuer: "https://evil.example" })).jwt))).toMatch(/iss/);
    expect(await rejection(verify((await sign({ typ: "rampart-assertion+jwt" })).jwt))).toMatch(/typ/);
  });

  it("reject expired and not-yet-valid tokens, allowing a few seconds of clock skew", async () => {
    const { clock, sign, verify } = await setup();
    const { jwt } = await sign({ lifetimeSeconds: 60 });
    clock.advance(63_000);
    await expect(verify(jwt)).resolves.toBeDefined();
    clock.advance(3_000);
    expect(await rejection(verify(jwt))).toBe("token expired");
    const { jwt: future } = await sign();
    clock.advance(-60_000);
    expect(await rejection(verify(future))).toBe("token not yet valid");
  });

  it("reject garbage without echoing it", async () => {
    const { verify } = await setup();
    for (const junk of ["", "abc", "a.b.c", "eyJhbGciOiJFZERTQSJ9..", "secret-looking-value.x.y"]) {
      const message = await rejection(verify(junk));
      expect(message).not.toContain("secret-looking");
    }
  });
});
