// Fuzzing token handling: Rampart JWTs (verify) and the strict `Authorization: Bearer` reader.
// A token is attacker input until its signature checks out, so: hostile tokens are refused with
// Unauthorized and nothing else, quickly, without an unhandled rejection; and a token with any one
// character changed never verifies.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import { Unauthorized } from "../../platform/errors.ts";
import { readBearerToken } from "../service-auth/bearer.ts";
import { createTokenKeys, type SigningAlgorithm } from "./keys.ts";
import { signJwt, verifyJwt } from "./jwt.ts";

// Hundreds of inputs per property: on a loaded 2-core CI they need more than the default 30 s.
vi.setConfig({ testTimeout: 120_000 });

const BOUND_MS = 1000;
const secret = "a deployment secret of at least 32 bytes, for fuzzing";
const claims = { typ: "at+jwt", issuer: "https://gw.example", audience: "rampart" };

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on("unhandledRejection", onUnhandled);
});
afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

function setup(algorithm: SigningAlgorithm) {
  const clock = manualClock("2026-05-01T12:00:00Z");
  const keys = createTokenKeys({ secret, clock, algorithm });
  const verify = (token: string) => verifyJwt(keys, clock, token, claims);
  const sign = (extra: Record<string, unknown> = { scope: "read" }) =>
    signJwt(keys, clock, extra, { ...claims, subject: "billing", lifetimeSeconds: 600 });
  return { verify, sign };
}

/** Verifies `token`, which must be refused with Unauthorized within the bound. */
async function refused(verify: (t: string) => Promise<unknown>, token: string): Promise<void> {
  const started = performance.now();
  const outcome = await verify(token).then(
    () => "verified",
    (error: unknown) => error,
  );
  const ms = performance.now() - started;
  if (outcome === "verified") throw new Error(`a tampered token verified: ${token}`);
  if (!(outcome instanceof Unauthorized)) throw outcome;
  // The reason is ours: it never echoes the token.
  if (token.length >= 8) expect(outcome.message.includes(token)).toBe(false);
  // Timed twice before failing: a GC pause or a busy machine is not what this looks for.
  if (ms > BOUND_MS) {
    const again = performance.now();
    await verify(token).catch(() => undefined);
    expect(performance.now() - again).toBeLessThan(BOUND_MS);
  }
}

const b64 = (s: string) => Buffer.from(s).toString("base64url");
const base64urlChar = fc.constantFrom(
  ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".split(""),
);
const anyChar = fc.oneof(
  base64urlChar,
  fc.constantFrom(".", "=", "+", "/", " ", "\0", "\n", "é", "\ud800", "%"),
  fc.string({ minLength: 1, maxLength: 1, unit: "binary" }),
);

// Headers and payloads an attacker might try: other algorithms, odd kids, critical extensions.
const hostileJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.string({ maxLength: 30 }),
    fc.constantFrom(1e308, -1, 2 ** 53 + 1, 0, null, true, "none", "HS256", "EdDSA", "ES256"),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie("value"), { maxKeys: 4 }),
  ),
})).value;
const header = fc.record(
  {
    alg: fc.oneof(fc.constantFrom("EdDSA", "ES256", "none", "HS256", "RS256"), hostileJson),
    kid: fc.oneof(
      fc.constantFrom("999999999999.AAAAAAAAAAAAAAAA", "0.AAAAAAAAAAAAAAAA", "-1.x", "__proto__"),
      fc.integer({ min: 0, max: 99_999 }).map((e) => `${e}.AAAAAAAAAAAAAAAA`),
      hostileJson,
    ),
    typ: fc.oneof(fc.constant("at+jwt"), hostileJson),
    crit: hostileJson,
    b64: fc.boolean(),
    jwk: hostileJson,
  },
  { requiredKeys: [] },
);
const forgedToken = fc.oneof(
  fc
    .tuple(header, hostileJson, fc.string({ maxLength: 100 }))
    .map(([h, p, s]) => `${b64(JSON.stringify(h))}.${b64(JSON.stringify(p) ?? "")}.${b64(s)}`),
  fc.array(fc.string({ maxLength: 60, unit: "binary" }), { maxLength: 6 }).map((parts) => parts.join(".")),
  fc.string({ maxLength: 300, unit: "binary" }),
  fc.integer({ min: 1, max: 20_000 }).map((n) => `${"e30".repeat(n)}.${"e30".repeat(n)}.${"A".repeat(n)}`),
);

for (const algorithm of ["EdDSA", "ES256"] as const) {
  describe(`${algorithm} JWTs`, () => {
    const { verify, sign } = setup(algorithm);

    it("verify untouched (the baseline the tampering below changes)", async () => {
      const { jwt } = await sign();
      await expect(verify(jwt)).resolves.toMatchObject({ sub: "billing" });
    });

    it("never verify with any single character changed", async () => {
      const { jwt } = await sign();
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: jwt.length - 1 }), anyChar, async (at, replacement) => {
          fc.pre(jwt[at] !== replacement);
          await refused(verify, jwt.slice(0, at) + replacement + jwt.slice(at + 1));
        }),
        { numRuns: 1000 },
      );
    });

    // The case the property above shrinks to: a 64-byte signature is 86 base64url chars whose
    // last one carries 2 spare bits, so 3 other spellings decode to the same bytes.
    it("never verify with the signature's spare bits set", async () => {
      const { jwt } = await sign();
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      const last = alphabet.indexOf(jwt.at(-1) as string);
      for (let spare = 1; spare < 4; spare++) {
        await refused(verify, jwt.slice(0, -1) + alphabet[(last & ~3) | ((last + spare) & 3)]);
      }
    });

    // The cases the property below shrinks to: padding or whitespace after the signature.
    it("never verify with padding or whitespace after the signature", async () => {
      const { jwt } = await sign();
      for (const tail of ["==", " ", "\n", "\t"]) await refused(verify, jwt + tail);
    });

    it("never verify truncated, extended or with a duplicated part", async () => {
      const { jwt } = await sign();
      const [h, p, s] = jwt.split(".") as [string, string, string];
      const variants = fc.oneof(
        fc.nat({ max: jwt.length - 1 }).map((n) => jwt.slice(0, n)),
        fc.string({ minLength: 1, maxLength: 8 }).map((tail) => jwt + tail),
        fc.constantFrom(`${h}.${p}.${s}.${s}`, `${h}.${p}`, `${h}.${h}.${s}`, `${p}.${p}.${s}`, `${h}..${s}`),
      );
      await fc.assert(
        fc.asyncProperty(variants, (t) => refused(verify, t)),
        { numRuns: 300 },
      );
    });

    it("refuse forged and hostile tokens with Unauthorized only", async () => {
      await fc.assert(
        fc.asyncProperty(forgedToken, (t) => refused(verify, t)),
        { numRuns: 1000 },
      );
    });
  });
}

describe("readBearerToken", () => {
  const token68 = fc
    .tuple(
      fc.string({ minLength: 1, maxLength: 200, unit: fc.constantFrom(..."Az09-._~+/".split("")) }),
      fc.nat({ max: 2 }),
    )
    .map(([t, pad]) => t + "=".repeat(pad));

  it("returns the token of a well-formed header, whatever the scheme's case and spacing", () => {
    fc.assert(
      fc.property(
        token68,
        fc.constantFrom("Bearer", "bearer", "BEARER"),
        fc.integer({ min: 1, max: 3 }),
        fc.nat({ max: 3 }),
        (t, scheme, before, after) => {
          expect(readBearerToken(`${scheme}${" ".repeat(before)}${t}${" ".repeat(after)}`)).toBe(t);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("returns or throws Unauthorized on anything, quickly, even at 64 KiB", () => {
    const header = fc.oneof(
      fc.string({ maxLength: 300, unit: "binary" }),
      fc
        .tuple(fc.constantFrom("Bearer ", "Basic ", "Bearer  x ", ""), fc.string({ maxLength: 100 }))
        .map(([a, b]) => a + b),
      fc
        .tuple(fc.constantFrom(" ", "a", "=", "a=", " a"), fc.integer({ min: 1, max: 64 * 1024 }))
        .map(([unit, n]) => `Bearer ${unit.repeat(n)}!`),
      fc.array(fc.string(), { maxLength: 3 }),
    );
    fc.assert(
      fc.property(header, (h) => {
        const read = () => {
          try {
            const t = readBearerToken(h);
            if (t !== undefined) expect(t.length).toBeGreaterThan(0);
          } catch (error) {
            if (!(error instanceof Unauthorized)) throw error;
          }
        };
        let started = performance.now();
        read();
        if (performance.now() - started > BOUND_MS) {
          started = performance.now(); // timed twice: a GC pause is not a slow regex
          read();
          expect(performance.now() - started).toBeLessThan(BOUND_MS);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
