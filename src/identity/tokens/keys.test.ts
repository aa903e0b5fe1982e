import { createLocalJWKSet, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import { Invalid } from "../../platform/errors.ts";
import { createTokenKeys } from "./keys.ts";
import { signJwt } from "./jwt.ts";

const secret = "a deployment secret of at least 32 bytes, from config";
const DAY = 86_400_000;

describe("token keys", () => {
  it("gives every replica the same keys from the same secret", async () => {
    const clock = manualClock("2026-03-01T10:00:00Z");
    const a = createTokenKeys({ secret, clock });
    const b = createTokenKeys({ secret, clock });
    expect(await a.jwks()).toEqual(await b.jwks());
    expect((await a.signingKey()).kid).toBe((await b.signingKey()).kid);
    const other = createTokenKeys({ secret: `${secret}!`, clock });
    expect((await other.signingKey()).kid).not.toBe((await a.signingKey()).kid);
  });

  it("publishes the previous, current and next public keys, and no private part", async () => {
    const clock = manualClock("2026-03-01T10:00:00Z");
    const keys = createTokenKeys({ secret, clock });
    const before = await keys.jwks();
    expect(before.keys).toHaveLength(3);
    for (const k of before.keys) {
      expect(k).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
      expect(k).not.toHaveProperty("d");
    }
    expect(before.keys[1]?.kid).toBe((await keys.signingKey()).kid);
    clock.advance(DAY);
    const after = await keys.jwks();
    // Rotation slides the window by one: yesterday's current key is today's previous one.
    expect(after.keys.slice(0, 2)).toEqual(before.keys.slice(1, 3));
    expect(after.keys[1]?.kid).toBe((await keys.signingKey()).kid);
  });

  it("keeps a token signed just before rotation valid for its lifetime, via a cached JWKS too", async () => {
    const clock = manualClock("2026-03-01T23:59:00Z");
    const keys = createTokenKeys({ secret, clock });
    const cachedJwks = createLocalJWKSet(await keys.jwks());
    const { jwt } = await signJwt(
      keys,
      clock,
      {},
      { typ: "t", issuer: "i", audience: "a", subject: "s", lifetimeSeconds: 600 },
    );
    clock.advance(120_000); // into the next epoch
    const verifyKey = (h: { alg?: string; kid?: string }) => keys.verificationKey(h);
    await expect(jwtVerify(jwt, verifyKey, { currentDate: clock.now() })).resolves.toBeDefined();
    // An upstream that cached the JWKS before the rotation also verifies tokens signed after it.
    const { jwt: fresh } = await signJwt(
      keys,
      clock,
      {},
      { typ: "t", issuer: "i", audience: "a", subject: "s", lifetimeSeconds: 600 },
    );
    await expect(jwtVerify(fresh, cachedJwks, { currentDate: clock.now() })).resolves.toBeDefined();
    clock.advance(2 * DAY);
    await expect(
      keys.verificationKey({ alg: "EdDSA", kid: (await keys.signingKey()).kid }),
    ).resolves.toBeDefined();
    await expect(
      jwtVerify(jwt, verifyKey, { currentDate: clock.now(), clockTolerance: 10 * DAY }),
    ).rejects.toThrow(/retired/);
  });

  it("derives ES256 keys when asked", async () => {
    const clock = manualClock();
    const keys = createTokenKeys({ secret, clock, algorithm: "ES256" });
    const { jwt } = await signJwt(
      keys,
      clock,
      { x: 1 },
      { typ: "t", issuer: "i", audience: "a", subject: "s", lifetimeSeconds: 60 },
    );
    const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(await keys.jwks()), {
      currentDate: clock.now(),
    });
    expect(protectedHeader.alg).toBe("ES256");
    expect(payload.x).toBe(1);
    expect((await keys.jwks()).keys[0]).toMatchObject({ kty: "EC", crv: "P-256" });
  });

  it("refuses a short secret, an unknown algorithm and a lifetime longer than the rotation period", async () => {
    const clock = manualClock();
    expect(() => createTokenKeys({ secret: "too short", clock })).toThrow(Invalid);
    expect(() => createTokenKeys({ secret, clock, algorithm: "RS256" as "ES256" })).toThrow(Invalid);
    const keys = createTokenKeys({ secret, clock, rotationPeriodMs: 3_600_000 });
    await expect(
      signJwt(keys, clock, {}, { typ: "t", issuer: "i", audience: "a", subject: "s", lifetimeSeconds: 3601 }),
    ).rejects.toThrow(Invalid);
  });
});
