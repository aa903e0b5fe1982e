import { afterEach, describe, expect, it } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import { Invalid, NotFound } from "../../platform/errors.ts";
import { createMemoryHotState } from "../../platform/hotstate/index.ts";
import { API_KEY_PATTERN, createApiKeys } from "./api-keys.ts";
import { createRevocations } from "./revocations.ts";
import { createServiceAccounts } from "./accounts.ts";
import { replica } from "./testing.ts";

const admin = { kind: "user", id: "okta:admin" };
const DAY_S = 86_400;

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
  return { ...r, clock, hotState };
}

describe("API keys", () => {
  it("are prefix-identified, shown once, and verify to the subject's identity", async () => {
    const { apiKeys, events } = await setup();
    const { key, apiKey } = await apiKeys.create(
      {
        kind: "service",
        subject: "billing",
        scopes: ["invoices:read"],
        ttlSeconds: 30 * DAY_S,
        description: "nightly export",
      },
      admin,
    );
    expect(key).toMatch(new RegExp(`^${API_KEY_PATTERN.source}$`));
    expect(key.startsWith(`rpk_${apiKey.id}_`)).toBe(true);
    expect(apiKey).not.toHaveProperty("hash");
    expect(JSON.stringify(await apiKeys.get(apiKey.id))).not.toContain(key.slice(13));
    expect(await apiKeys.verifyApiKey(key)).toEqual({
      kind: "service",
      subject: "billing",
      groups: [],
      roles: ["billing-writer"],
      claims: { scope: "invoices:read", key_id: apiKey.id },
      credential: "api-key",
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: "identity.api_key_created",
      target: { kind: "api_key", id: apiKey.id },
    });
    expect(JSON.stringify(events)).not.toContain(key);
  });

  it("report each key's use from each address once a minute, naming the key's subject", async () => {
    const { apiKeys, events, clock } = await setup();
    const { key, apiKey } = await apiKeys.create(
      { kind: "service", subject: "billing", scopes: ["invoices:read"], ttlSeconds: DAY_S },
      admin,
    );
    await apiKeys.verifyApiKey(key);
    events.length = 0;
    apiKeys.noteUse(apiKey.id, "198.51.100.4", "api");
    apiKeys.noteUse(apiKey.id, "198.51.100.4", "api");
    apiKeys.noteUse(apiKey.id, "203.0.113.9", "api");
    clock.advance(30_000);
    apiKeys.noteUse(apiKey.id, "198.51.100.4", "api");
    expect(events.map((e) => [e.type, e.actor.id, e.target?.id, e.data.ip])).toEqual([
      ["identity.api_key_used", "billing", apiKey.id, "198.51.100.4"],
      ["identity.api_key_used", "billing", apiKey.id, "203.0.113.9"],
    ]);
    clock.advance(31_000);
    apiKeys.noteUse(apiKey.id, "198.51.100.4", "api");
    expect(events).toHaveLength(3);
    expect(JSON.stringify(events)).not.toContain(key);
  });

  it("refuse tampered, truncated and unknown keys", async () => {
    const { apiKeys } = await setup();
    const { key } = await apiKeys.create(
      { kind: "user", subject: "okta:00u1", scopes: [], ttlSeconds: DAY_S },
      admin,
    );
    const last = key.at(-1) === "A" ? "B" : "A";
    for (const bad of [
      `${key.slice(0, -1)}${last}`,
      key.slice(0, -1),
      `${key}A`,
      `rpk_zzzzzzzz_${key.slice(13)}`,
      ` ${key}`,
      "rpk_",
      "",
    ]) {
      expect(await apiKeys.verifyApiKey(bad), bad).toBeUndefined();
    }
    await expect(apiKeys.verifyApiKey(key)).resolves.toMatchObject({
      kind: "user",
      subject: "okta:00u1",
      roles: [],
    });
  });

  it("stop working when revoked, and the revocation is audited", async () => {
    const { apiKeys, events } = await setup();
    const { key, apiKey } = await apiKeys.create(
      { kind: "service", subject: "billing", scopes: [], ttlSeconds: DAY_S },
      admin,
    );
    expect(await apiKeys.verifyApiKey(key)).toBeDefined();
    const revoked = await apiKeys.revoke(apiKey.id, admin);
    expect(revoked.revokedAt).toBeDefined();
    expect(await apiKeys.verifyApiKey(key)).toBeUndefined();
    expect(events.at(-1)).toMatchObject({
      type: "identity.api_key_revoked",
      actor: admin,
      target: { id: apiKey.id },
    });
    await expect(apiKeys.revoke("nosuchid", admin)).rejects.toThrow(NotFound);
  });

  it("expire", async () => {
    const { apiKeys, clock } = await setup();
    const { key } = await apiKeys.create(
      { kind: "service", subject: "billing", scopes: [], ttlSeconds: 3600 },
      admin,
    );
    clock.advance(3_599_000);
    expect(await apiKeys.verifyApiKey(key)).toBeDefined();
    clock.advance(1_000);
    expect(await apiKeys.verifyApiKey(key)).toBeUndefined();
  });

  it("die with their subject's revocation and with their service account", async () => {
    const { apiKeys, revocations, clock, hotState } = await setup();
    const { key } = await apiKeys.create(
      { kind: "service", subject: "billing", scopes: [], ttlSeconds: 90 * DAY_S },
      admin,
    );
    const { key: userKey } = await apiKeys.create(
      { kind: "user", subject: "okta:00u1", scopes: [], ttlSeconds: DAY_S },
      admin,
    );
    clock.advance(1000);
    await revocations.revokeSubject("billing", admin);
    expect(await apiKeys.verifyApiKey(key)).toBeUndefined();
    expect(await apiKeys.verifyApiKey(userKey)).toBeDefined();
    // Still revoked long after any access token would have expired: keys live for months.
    clock.advance(60 * DAY_S * 1000);
    await revocations.refresh();
    expect(await apiKeys.verifyApiKey(key)).toBeUndefined();
    const { key: newKey } = await apiKeys.create(
      { kind: "service", subject: "billing", scopes: [], ttlSeconds: DAY_S },
      admin,
    );
    expect(await apiKeys.verifyApiKey(newKey)).toBeDefined();
    const withoutBilling = createApiKeys({
      hotState,
      clock,
      emit: () => {},
      accounts: createServiceAccounts([]),
      revocations: createRevocations({ hotState, clock, emit: () => {} }),
    });
    expect(await withoutBilling.verifyApiKey(newKey)).toBeUndefined();
  });

  it("list a subject's keys with their last use", async () => {
    const { apiKeys, clock } = await setup();
    const a = await apiKeys.create(
      { kind: "service", subject: "billing", scopes: [], ttlSeconds: DAY_S },
      admin,
    );
    const b = await apiKeys.create(
      { kind: "service", subject: "billing", scopes: ["invoices:write"], ttlSeconds: 2 * DAY_S },
      admin,
    );
    await apiKeys.create({ kind: "user", subject: "okta:00u1", scopes: [], ttlSeconds: DAY_S }, admin);
    await apiKeys.verifyApiKey(b.key);
    await new Promise((r) => setImmediate(r));
    const listed = await apiKeys.list("billing");
    expect(listed.map((k) => k.id).sort()).toEqual([a.apiKey.id, b.apiKey.id].sort());
    expect(listed.find((k) => k.id === b.apiKey.id)?.lastUsedAt).toBe(clock.now().toISOString());
    clock.advance(DAY_S * 1000);
    expect((await apiKeys.list("billing")).map((k) => k.id)).toEqual([b.apiKey.id]);
  });

  it("refuse keys beyond what the account may do", async () => {
    const { apiKeys } = await setup();
    const bad = [
      { kind: "service" as const, subject: "billing", scopes: ["admin"], ttlSeconds: DAY_S },
      { kind: "service" as const, subject: "nobody", scopes: [], ttlSeconds: DAY_S },
      { kind: "user" as const, subject: "no-provider", scopes: [], ttlSeconds: DAY_S },
      { kind: "service" as const, subject: "billing", scopes: [], ttlSeconds: 400 * DAY_S },
    ];
    for (const input of bad) await expect(apiKeys.create(input, admin)).rejects.toThrow(Invalid);
  });
});
