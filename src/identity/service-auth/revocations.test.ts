import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, inject, it } from "vitest";
import { systemClock } from "../../platform/clock.ts";
import { Unauthorized } from "../../platform/errors.ts";
import { eventually } from "../../platform/hotstate/contract.ts";
import { createRedisHotState, type HotState } from "../../platform/hotstate/index.ts";
import { createRevocations } from "./revocations.ts";
import { billingAccounts, replica } from "./testing.ts";

const url = inject("redisUrl");
const admin = { kind: "user", id: "okta:admin" };

let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.reverse()) await c();
  closers = [];
});

/** Two gateway replicas, each with its own Redis connections, sharing one key prefix. */
async function twoReplicas() {
  const prefix = `test:identity:revocations:${randomUUID()}:`;
  const hs = [
    createRedisHotState({ url, keyPrefix: prefix }),
    createRedisHotState({ url, keyPrefix: prefix }),
  ];
  closers.push(...hs.map((h) => () => h.close()));
  const [a, b] = await Promise.all(hs.map((h) => replica(h, systemClock)));
  closers.push(a!.close, b!.close);
  return { a: a!, b: b!, prefix };
}

const within = (ms: number, check: () => Promise<void>) => {
  const started = Date.now();
  return (async () => {
    for (;;) {
      try {
        await check();
        return Date.now() - started;
      } catch (err) {
        if (Date.now() - started > ms) throw err;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  })();
};

describe("revocation across replicas (Redis)", () => {
  it("makes a subject's access tokens and API keys fail on another replica within 1 s", async () => {
    const { a, b } = await twoReplicas();
    const account = billingAccounts().get("billing")!;
    const { accessToken } = await a.accessTokens.issue(account, []);
    const { key } = await a.apiKeys.create(
      { kind: "service", subject: "billing", scopes: [], ttlSeconds: 3600 },
      admin,
    );
    await expect(b.accessTokens.verifyAccessToken(accessToken)).resolves.toMatchObject({
      subject: "billing",
    });
    expect(await b.apiKeys.verifyApiKey(key)).toBeDefined();
    // Tokens carry whole seconds: revoke in a later second than the issue.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    await a.revocations.revokeSubject("billing", admin);
    const elapsed = await within(1000, async () => {
      await expect(b.accessTokens.verifyAccessToken(accessToken)).rejects.toThrow(Unauthorized);
      expect(await b.apiKeys.verifyApiKey(key)).toBeUndefined();
    });
    expect(elapsed).toBeLessThan(1000);
  });

  it("makes a revoked API key fail on a replica that had it cached, within 1 s", async () => {
    const { a, b } = await twoReplicas();
    const { key, apiKey } = await a.apiKeys.create(
      { kind: "service", subject: "billing", scopes: [], ttlSeconds: 3600 },
      admin,
    );
    expect(await b.apiKeys.verifyApiKey(key)).toBeDefined();
    await a.apiKeys.revoke(apiKey.id, admin);
    const elapsed = await within(1000, async () => {
      expect(await b.apiKeys.verifyApiKey(key)).toBeUndefined();
    });
    expect(elapsed).toBeLessThan(1000);
  });

  it("still reaches a replica that missed the announcement, by re-reading", async () => {
    const { b, prefix } = await twoReplicas();
    const raw = createRedisHotState({ url, keyPrefix: prefix });
    closers.push(() => raw.close());
    // A writer whose announcement is lost on the way.
    const silent: HotState = { ...raw, publish: async () => {} };
    const writer = createRevocations({ hotState: silent, clock: systemClock, emit: () => {} });
    await writer.revokeSubject("okta:mallory", admin);
    await eventually(
      () => expect(b.revocations.isRevoked("okta:mallory", Date.now() - 10_000)).toBe(true),
      1000,
    );
    expect(b.revocations.isRevoked("okta:alice", Date.now() - 10_000)).toBe(false);
  });
});
