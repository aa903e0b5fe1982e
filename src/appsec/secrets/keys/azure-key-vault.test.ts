// The Azure Key Vault root through the real @azure/keyvault-keys client against a local vault over
// TLS: the bearer challenge, RSA-OAEP-256 wrap/unwrap, key rotation, refusals and outages.
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { startKeyVault, type LocalKeyVault } from "../../../../test/support/kms/azure.ts";
import { noFaults } from "../../../../test/support/kms/wire.ts";
import { createAzureKeyVaultRoot, type TokenCredential } from "./azure-key-vault.ts";

let vault: LocalKeyVault;
const scopesAsked: string[][] = [];
// Hands out the vault's token and records the scopes the SDK derived from the challenge.
const credential: TokenCredential = {
  getToken: async (scopes) => {
    scopesAsked.push([scopes].flat());
    return { token: vault.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  },
};
const root = (vaultUrl = vault.url, keyName = vault.keyName) =>
  createAzureKeyVaultRoot(
    { provider: "azure-key-vault", vaultUrl, keyName },
    // The vault is 127.0.0.1, not *.vault.azure.net, so the challenge's resource cannot match its host.
    { credential, ca: vault.ca, maxRetries: 0, disableChallengeResourceVerification: true },
  );

beforeAll(async () => {
  vault = await startKeyVault();
});
afterAll(() => vault.close());
afterEach(() => Object.assign(vault.faults, noFaults()));

describe("azure-key-vault root key", () => {
  test("wraps and unwraps a KEK with RSA-OAEP-256 after the bearer challenge", async () => {
    const kek = randomBytes(32);
    const provider = root();
    const wrapped = await provider.wrap(kek, "rampart:kek:1");
    expect(wrapped.includes(kek)).toBe(false);
    expect(await root().unwrap(wrapped, "rampart:kek:1")).toEqual(kek);
    expect(vault.challenges).toBeGreaterThan(0);
    expect(scopesAsked.at(0)).toEqual([`${vault.resource}/.default`]);
    expect(vault.calls.filter((c) => c.startsWith("POST"))).toEqual([
      expect.stringMatching(/^POST \/keys\/rampart-root\/[0-9a-f]{32}\/wrapkey$/),
      expect.stringMatching(/^POST \/keys\/rampart-root\/[0-9a-f]{32}\/unwrapkey$/),
    ]);
    expect(provider.ready()).toBe(true);
  });

  test("a key wrapped before a rotation in the vault still unwraps; new wraps use the new version", async () => {
    const kek = randomBytes(32);
    const before = await root().wrap(kek, "ctx");
    const version = vault.rotate();
    const after = await root().wrap(kek, "ctx");
    expect(after.toString("latin1")).toContain(version);
    expect(before.toString("latin1")).not.toContain(version);
    expect(await root().unwrap(before, "ctx")).toEqual(kek);
    expect(await root().unwrap(after, "ctx")).toEqual(kek);
  });

  test("a wrapped KEK does not unwrap under another context", async () => {
    const wrapped = await root().wrap(randomBytes(32), "rampart:kek:1");
    await expect(root().unwrap(wrapped, "rampart:kek:2")).rejects.toMatchObject({
      code: "invalid",
      message: `azure-key-vault key ${vault.url}/keys/${vault.keyName}: the wrapped key was tampered with, made under another key, or belongs to another context`,
    });
  });

  test("tampered bytes, a foreign key id or truncation are refused with a clear error", async () => {
    const wrapped = await root().wrap(randomBytes(32), "ctx");
    for (const at of [0, 1, 10, wrapped.length - 100, wrapped.length - 1]) {
      const bad = Buffer.from(wrapped);
      bad[at] = (bad[at] ?? 0) ^ 1;
      await expect(root().unwrap(bad, "ctx")).rejects.toMatchObject({ code: "invalid" });
    }
    await expect(root().unwrap(wrapped.subarray(0, 40), "ctx")).rejects.toMatchObject({ code: "invalid" });
    const foreign = Buffer.from(wrapped.toString("latin1").replace("127.0.0.1", "127.0.0.2"), "latin1");
    const before = vault.calls.length;
    await expect(root().unwrap(foreign, "ctx")).rejects.toMatchObject({ code: "invalid" });
    expect(vault.calls.length).toBe(before);
  });

  test("access denied, a disabled key and an unknown key become clear errors without key material", async () => {
    const kek = randomBytes(32);
    const wrapped = await root().wrap(kek, "ctx");
    vault.faults.denied = true;
    const denied = await root()
      .unwrap(wrapped, "ctx")
      .catch((e: unknown) => e);
    expect(denied).toMatchObject({
      code: "forbidden",
      message: `azure-key-vault key ${vault.url}/keys/${vault.keyName}: Key Vault denied unwrapKey to Rampart's identity`,
    });
    expect(String(denied)).not.toContain(kek.toString("base64"));
    expect(String(denied)).not.toContain(vault.token);
    vault.faults.denied = false;
    vault.faults.disabled = true;
    await expect(root().unwrap(wrapped, "ctx")).rejects.toMatchObject({
      code: "forbidden",
      message: /the key is disabled$/,
    });
    vault.faults.disabled = false;
    await expect(root(vault.url, "missing").wrap(kek, "ctx")).rejects.toMatchObject({
      code: "invalid",
      message: `secrets.root.keyName: ${vault.url}/keys/missing does not exist`,
    });
  });

  test("a vault outage, an unreachable vault or an untrusted certificate is Unavailable", async () => {
    vault.faults.internalError = true;
    await expect(root().wrap(randomBytes(32), "ctx")).rejects.toMatchObject({
      code: "unavailable",
      message: /\(HTTP 500\)$/,
    });
    vault.faults.internalError = false;
    await expect(root("https://127.0.0.1:9").wrap(randomBytes(32), "ctx")).rejects.toMatchObject({
      code: "unavailable",
    });
    const untrusting = createAzureKeyVaultRoot(
      { provider: "azure-key-vault", vaultUrl: vault.url, keyName: vault.keyName },
      { credential, maxRetries: 0, disableChallengeResourceVerification: true },
    );
    await expect(untrusting.wrap(randomBytes(32), "ctx")).rejects.toMatchObject({ code: "unavailable" });
  });
});
