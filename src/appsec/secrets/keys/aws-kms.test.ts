// The AWS KMS root through the real @aws-sdk/client-kms against a local KMS speaking its wire protocol.
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { startAwsKms, type LocalAwsKms } from "../../../../test/support/kms/aws.ts";
import { noFaults } from "../../../../test/support/kms/wire.ts";
import { createAwsKmsRoot } from "./aws-kms.ts";

let kms: LocalAwsKms;
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "test-secret-access-key" };
const root = (keyId = kms.keyId, endpoint = kms.url) =>
  createAwsKmsRoot(
    { provider: "aws-kms", keyId, region: kms.region, endpoint },
    { credentials, maxAttempts: 1 },
  );

beforeAll(async () => {
  kms = await startAwsKms();
});
afterAll(() => kms.close());
afterEach(() => Object.assign(kms.faults, noFaults()));

describe("aws-kms root key", () => {
  test("wraps and unwraps a KEK through Encrypt and Decrypt, by key id or alias", async () => {
    const kek = randomBytes(32);
    const wrapped = await root().wrap(kek, "rampart:kek:1");
    expect(wrapped.includes(kek)).toBe(false);
    expect(await root().unwrap(wrapped, "rampart:kek:1")).toEqual(kek);
    const viaAlias = await root("alias/rampart").wrap(kek, "rampart:kek:2");
    expect(await root(kms.arn).unwrap(viaAlias, "rampart:kek:2")).toEqual(kek);
    expect(kms.calls).toEqual(["Encrypt", "Decrypt", "Encrypt", "Decrypt"]);
    expect(root().ready()).toBe(true);
  });

  test("a wrapped KEK does not unwrap under another context", async () => {
    const wrapped = await root().wrap(randomBytes(32), "rampart:kek:1");
    await expect(root().unwrap(wrapped, "rampart:kek:2")).rejects.toMatchObject({
      code: "invalid",
      message: expect.stringMatching(/^aws-kms key .+: the wrapped key was tampered with/),
    });
  });

  test("any tampered byte of the ciphertext is refused with a clear error", async () => {
    const wrapped = await root().wrap(randomBytes(32), "ctx");
    for (const at of [0, 2, wrapped.length - 20, wrapped.length - 1]) {
      const bad = Buffer.from(wrapped);
      bad[at] = (bad[at] ?? 0) ^ 1;
      await expect(root().unwrap(bad, "ctx")).rejects.toMatchObject({ code: "invalid" });
    }
  });

  test("access denied, a disabled key and an unknown key become clear errors", async () => {
    const kek = randomBytes(32);
    const wrapped = await root().wrap(kek, "ctx");
    kms.faults.denied = true;
    const denied = await root()
      .unwrap(wrapped, "ctx")
      .catch((e: unknown) => e);
    expect(denied).toMatchObject({
      code: "forbidden",
      message: `aws-kms key ${kms.keyId}: KMS denied kms:Decrypt to Rampart's credentials`,
    });
    kms.faults.denied = false;
    kms.faults.disabled = true;
    await expect(root().wrap(kek, "ctx")).rejects.toMatchObject({ code: "forbidden", message: /disabled/ });
    kms.faults.disabled = false;
    await expect(root("alias/missing").wrap(kek, "ctx")).rejects.toMatchObject({
      code: "invalid",
      message: "secrets.root.keyId: KMS key alias/missing does not exist in this account and region",
    });
    for (const e of [denied]) expect(String(e)).not.toContain(kek.toString("base64"));
  });

  test("a KMS outage or an unreachable endpoint is Unavailable", async () => {
    kms.faults.internalError = true;
    await expect(root().wrap(randomBytes(32), "ctx")).rejects.toMatchObject({
      code: "unavailable",
      message: /aws-kms key .+ failing/,
    });
    await expect(root(kms.keyId, "http://127.0.0.1:9").wrap(randomBytes(32), "ctx")).rejects.toMatchObject({
      code: "unavailable",
      message: /unreachable/,
    });
  });
});
