// createCloudRoot builds each cloud provider from its config section and refuses local kinds.
import { randomBytes } from "node:crypto";
import { OAuth2Client } from "google-auth-library";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startAwsKms, type LocalAwsKms } from "../../../../test/support/kms/aws.ts";
import { startKeyVault, type LocalKeyVault } from "../../../../test/support/kms/azure.ts";
import { startGcpKms, type LocalGcpKms } from "../../../../test/support/kms/gcp.ts";
import { rootKeySchema } from "../schema.ts";
import { createCloudRoot, isCloudRoot } from "./cloud.ts";

let aws: LocalAwsKms;
let gcp: LocalGcpKms;
let azure: LocalKeyVault;
beforeAll(async () => {
  [aws, gcp, azure] = await Promise.all([startAwsKms(), startGcpKms(), startKeyVault()]);
});
afterAll(() => Promise.all([aws.close(), gcp.close(), azure.close()]));

test("each cloud config section yields a ready provider of its kind that round-trips a KEK", async () => {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: "t", expiry_date: Date.now() + 3_600_000 });
  const opts = {
    aws: { credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "s" } },
    gcp: { authClient },
    azure: {
      credential: {
        getToken: async () => ({ token: azure.token, expiresOnTimestamp: Date.now() + 3_600_000 }),
      },
      ca: azure.ca,
      disableChallengeResourceVerification: true,
    },
  };
  // Endpoints come from the config itself, as an operator would write them in rampart.yaml.
  const configs = [
    { provider: "aws-kms", keyId: "alias/rampart", region: aws.region, endpoint: aws.url },
    { provider: "gcp-kms", keyName: gcp.keyName, apiEndpoint: gcp.url },
    { provider: "azure-key-vault", vaultUrl: azure.url, keyName: azure.keyName },
  ].map((c) => rootKeySchema.parse(c));
  for (const cfg of configs) {
    expect(isCloudRoot(cfg)).toBe(true);
    const root = createCloudRoot(cfg, opts);
    expect(root.kind).toBe(cfg.provider);
    expect(root.ready()).toBe(true);
    const kek = randomBytes(32);
    expect(await root.unwrap(await root.wrap(kek, "rampart:kek:7"), "rampart:kek:7")).toEqual(kek);
  }
});

test("a local root-key kind is refused with the setting named", () => {
  const cfg = rootKeySchema.parse({ provider: "file" });
  expect(isCloudRoot(cfg)).toBe(false);
  expect(() => createCloudRoot(cfg)).toThrow(
    'secrets.root.provider: "file" is a local root key, not a cloud KMS',
  );
});
