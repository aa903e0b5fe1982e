// One entry point for the cloud root-key providers, so the server builds whichever the config names.
import { Invalid } from "../../../platform/errors.ts";
import type { RootKeyConfig } from "../schema.ts";
import { createAwsKmsRoot, type AwsKmsRootOptions } from "./aws-kms.ts";
import { createAzureKeyVaultRoot, type AzureKeyVaultRootOptions } from "./azure-key-vault.ts";
import { createGcpKmsRoot, type GcpKmsRootOptions } from "./gcp-kms.ts";
import type { RootKeyProvider } from "./types.ts";

export type CloudRootKeyConfig = Extract<
  RootKeyConfig,
  { provider: "aws-kms" | "gcp-kms" | "azure-key-vault" }
>;

/** Per-provider overrides (credentials, endpoints, trust, retries); production passes none. */
export interface CloudRootOptions {
  aws?: AwsKmsRootOptions;
  gcp?: GcpKmsRootOptions;
  azure?: AzureKeyVaultRootOptions;
}

/** True when the config names a cloud KMS rather than a local root key. */
export function isCloudRoot(cfg: RootKeyConfig): cfg is CloudRootKeyConfig {
  return cfg.provider === "aws-kms" || cfg.provider === "gcp-kms" || cfg.provider === "azure-key-vault";
}

/** Builds the root-key provider for a cloud KMS config; always ready (the KMS holds the key). */
export function createCloudRoot(cfg: RootKeyConfig, opts: CloudRootOptions = {}): RootKeyProvider {
  switch (cfg.provider) {
    case "aws-kms":
      return createAwsKmsRoot(cfg, opts.aws);
    case "gcp-kms":
      return createGcpKmsRoot(cfg, opts.gcp);
    case "azure-key-vault":
      return createAzureKeyVaultRoot(cfg, opts.azure);
    default:
      throw new Invalid(`"${cfg.provider}" is a local root key, not a cloud KMS`, "secrets.root.provider");
  }
}
