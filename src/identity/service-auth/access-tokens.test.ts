import { afterEach, describe, expect, it } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import { Unauthorized } from "../../platform/errors.ts";
import { createMemoryHotState } from "../../platform/hotstate/index.ts";
import { createAssertionSigner } from "../tokens/index.ts";
import type { Identity } from "../types.ts";
import { createServiceAccounts, hashClientSecret } from "./accounts.ts";
import { createAccessTokens } from "./access-tokens.ts";
import { readBearerToken } from "./bearer.ts";
import { BILLING_SECRET, billingAccounts, ISSUER, replica } from "./testing.ts";

let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers) await c();
  closers = [];
});

async function setup() {
  const clock = manualClock("2026-05-01T12:00:00Z");
  const hotState = createMemoryHotState({ clock });
  const r = await replica(hotState, clock);
  closers.push(r.close, () => hotState.close());
  const account = billingAccounts().get("billing")!;
  return { ...r, clock, account };
}

async function reason(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Unauthorized);
  return (err as Error).message;
}

describe("service access tokens", () => {
  it("expire after their lifetime", async () => {
    const { accessTokens, account, clock } = await setup();
    const { accessToken } = await accessTokens.issue(account, ["invoices:read"]);
    clock.advance(599_000);
    await expect(accessTokens.verifyAccessToken(accessToken)).resolves.toMatchObject({ subject: "billing" });
    clock.advance(7_000);
    expect(await reason(accessTokens.verifyAccessToken(accessToken))).toBe("token expired");
  });

  it("fail at once when their subject is revoked, while tokens issued afterwards work", async () => {
    const { accessTokens, account, clock, revocations, events } = await setup();
    const { accessToken } = await accessTokens.issue(account, []);
    await expect(accessTokens.verifyAccessToken(accessToken)).resolves.toBeDefined(); // now remembered
    clock.advance(5_000);
    await revocations.revokeSubject("billing", { kind: "user", id: "okta:admin" }, "key leaked");
    expect(await reason(accessTokens.verifyAccessToken(accessToken))).toBe("token revoked");
    clock.advance(1_000);
    const fresh = await accessTokens.issue(account, []);
    await expect(accessTokens.verifyAccessToken(fresh.accessToken)).resolves.toMatchObject({
      subject: "billing",
    });
    expect(events.at(-1)).toMatchObject({
      type: "identity.subject_revoked",
      target: { id: "billing" },
      severity: "high",
    });
  });

  it("follow the account as configured now: removed accounts and scopes stop working", async () => {
    const { accessTokens, account, keys, clock, revocations } = await setup();
    const { accessToken } = await accessTokens.issue(account, ["invoices:read", "invoices:write"]);
    const narrowed = createAccessTokens({
      keys,
      clock,
      issuer: ISSUER,
      revocations,
      accounts: createServiceAccounts([
        { name: "billing", scopes: ["invoices:read"], secretHashes: [hashClientSecret(BILLING_SECRET)] },
      ]),
    });
    expect((await narrowed.verifyAccessToken(accessToken)).claims.scope).toBe("invoices:read");
    const removed = createAccessTokens({
      keys,
      clock,
      issuer: ISSUER,
      revocations,
      accounts: createServiceAccounts([]),
    });
    expect(await reason(removed.verifyAccessToken(accessToken))).toBe("service account no longer exists");
  });

  it("refuse an identity assertion replayed as an access token", async () => {
    const { accessTokens, keys, clock } = await setup();
    const signer = createAssertionSigner({ keys, clock, issuer: ISSUER });
    const identity: Identity = {
      kind: "service",
      subject: "billing",
      groups: [],
      roles: [],
      claims: {},
      credential: "api-key",
    };
    const assertion = await signer.signAssertion(identity, { audience: "rampart" });
    expect(await reason(accessTokens.verifyAccessToken(assertion))).toMatch(/typ/);
  });
});

describe("reading bearer tokens", () => {
  it("takes exactly one well-formed Bearer token", () => {
    expect(readBearerToken(undefined)).toBeUndefined();
    expect(readBearerToken("Bearer abc.def-_~+/=")).toBe("abc.def-_~+/=");
    expect(readBearerToken("bearer  rpk_x")).toBe("rpk_x");
    for (const bad of [
      "Bearer",
      "Bearer ",
      "Basic abc",
      "Bearer a b",
      "Bearer a,Bearer b",
      "Bearer a\r\nX: y",
      "Token abc",
      `Bearer ${"a".repeat(9000)}`,
    ]) {
      expect(() => readBearerToken(bad), bad).toThrow(Unauthorized);
    }
    expect(() => readBearerToken(["Bearer a", "Bearer b"])).toThrow(Unauthorized);
  });
});
