// The Cloud KMS root through the real @google-cloud/kms client (REST transport) against a local
// Cloud KMS speaking REST v1, with CRC32C integrity checks both ways.
import { randomBytes } from "node:crypto";
import { OAuth2Client } from "google-auth-library";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { startGcpKms, type LocalGcpKms } from "../../../../test/support/kms/gcp.ts";
import { crc32c, createGcpKmsRoot } from "./gcp-kms.ts";

let kms: LocalGcpKms;
// A client holding an unexpired access token: requests carry it, nothing goes to Google.
const authClient = new OAuth2Client();
authClient.setCredentials({ access_token: "local-test-token", expiry_date: Date.now() + 3_600_000 });
const root = (keyName = kms.keyName, apiEndpoint = kms.url) =>
  createGcpKmsRoot({ provider: "gcp-kms", keyName }, { authClient, apiEndpoint, maxRetries: 0 });

beforeAll(async () => {
  kms = await startGcpKms();
});
afterAll(() => kms.close());
afterEach(() =>
  Object.assign(kms.faults, {
    denied: false,
    disabled: false,
    internalError: false,
    badChecksum: false,
    unverified: false,
  }),
);

describe("gcp-kms root key", () => {
  test("CRC32C matches the Castagnoli check value", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  test("wraps and unwraps a KEK through encrypt and decrypt with the caller's token", async () => {
    const kek = randomBytes(32);
    const wrapped = await root().wrap(kek, "rampart:kek:1");
    expect(wrapped.includes(kek)).toBe(false);
    expect(await root().unwrap(wrapped, "rampart:kek:1")).toEqual(kek);
    expect(kms.tokens).toEqual(["local-test-token", "local-test-token"]);
    expect(root().ready()).toBe(true);
  });

  test("a wrapped KEK does not unwrap under another context", async () => {
    const wrapped = await root().wrap(randomBytes(32), "rampart:kek:1");
    await expect(root().unwrap(wrapped, "rampart:kek:2")).rejects.toMatchObject({
      code: "invalid",
      message: `gcp-kms key ${kms.keyName}: the wrapped key was tampered with, made under another key, or belongs to another context`,
    });
  });

  test("any tampered byte of the ciphertext is refused with a clear error", async () => {
    const wrapped = await root().wrap(randomBytes(32), "ctx");
    for (const at of [0, 5, 20, wrapped.length - 1]) {
      const bad = Buffer.from(wrapped);
      bad[at] = (bad[at] ?? 0) ^ 0x80;
      await expect(root().unwrap(bad, "ctx")).rejects.toMatchObject({ code: "invalid" });
    }
  });

  test("a response whose checksum does not verify is refused, not used", async () => {
    const kek = randomBytes(32);
    const wrapped = await root().wrap(kek, "ctx");
    kms.faults.badChecksum = true;
    await expect(root().wrap(kek, "ctx")).rejects.toMatchObject({
      code: "unavailable",
      message: /encrypt response failed its CRC32C check/,
    });
    await expect(root().unwrap(wrapped, "ctx")).rejects.toMatchObject({
      code: "unavailable",
      message: /decrypt response failed its CRC32C check/,
    });
    kms.faults.badChecksum = false;
    kms.faults.unverified = true;
    await expect(root().wrap(kek, "ctx")).rejects.toMatchObject({
      message: /did not confirm the request checksums/,
    });
  });

  test("access denied, another key and a disabled key become clear errors without key material", async () => {
    const kek = randomBytes(32);
    const wrapped = await root().wrap(kek, "ctx");
    kms.faults.denied = true;
    const denied = await root()
      .unwrap(wrapped, "ctx")
      .catch((e: unknown) => e);
    expect(denied).toMatchObject({
      code: "forbidden",
      message: /^gcp-kms key .+: KMS denied cloudkms.cryptoKeyVersions.useToDecrypt/,
    });
    expect(String(denied)).not.toContain(kek.toString("base64"));
    kms.faults.denied = false;
    const other = "projects/rampart-test/locations/europe-west1/keyRings/rampart/cryptoKeys/other";
    await expect(root(other).wrap(kek, "ctx")).rejects.toMatchObject({
      code: "forbidden",
      message: new RegExp(other),
    });
    kms.faults.disabled = true;
    await expect(root().unwrap(wrapped, "ctx")).rejects.toMatchObject({
      code: "forbidden",
      message: /not enabled/,
    });
  });

  test("a KMS outage or an unreachable endpoint is Unavailable", async () => {
    kms.faults.internalError = true;
    await expect(root().wrap(randomBytes(32), "ctx")).rejects.toMatchObject({
      code: "unavailable",
      message: /unreachable or failing/,
    });
    await expect(root(kms.keyName, "http://127.0.0.1:9").wrap(randomBytes(32), "ctx")).rejects.toMatchObject({
      code: "unavailable",
    });
  });
});
