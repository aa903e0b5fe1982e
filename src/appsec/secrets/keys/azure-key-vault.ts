// Root key held by Azure Key Vault: KEKs are wrapped with RSA-OAEP-256 (wrapKey/unwrapKey) under
// one vault key. Key Vault has no associated data on wrap, so the context is bound inside the
// wrapped payload: SHA-256(context) || KEK, checked on unwrap. The wrapped form also records the
// key version used, so unwrapping keeps working after the key is rotated in the vault.
import { createHash, timingSafeEqual } from "node:crypto";
import { DefaultAzureCredential } from "@azure/identity";
import {
  CryptographyClient,
  KeyClient,
  type CryptographyClientOptions,
  type KeyVaultKey,
} from "@azure/keyvault-keys";
import { Forbidden, Invalid, RampartError, Unavailable } from "../../../platform/errors.ts";
import type { RootKeyConfig } from "../schema.ts";
import type { RootKeyProvider } from "./types.ts";

/** What @azure/identity credentials implement (from the SDK's own signature, no extra dependency). */
export type TokenCredential = ConstructorParameters<typeof KeyClient>[1];

export type AzureKeyVaultRootConfig = Extract<RootKeyConfig, { provider: "azure-key-vault" }>;

export interface AzureKeyVaultRootOptions {
  /** Default: DefaultAzureCredential (environment, workload identity, managed identity, CLI). */
  credential?: TokenCredential;
  /** Trust anchors for the vault's TLS certificate instead of the public CAs (a test server). */
  ca?: string | Buffer;
  /** Retries per call on throttling and 5xx (SDK default when unset). */
  maxRetries?: number;
  /** Skip checking that the challenge's resource matches the vault host (a vault not under *.vault.azure.net). */
  disableChallengeResourceVerification?: boolean;
}

const ALGORITHM = "RSA-OAEP-256";
/** Format byte of the wrapped form: 1 = [1][kid length u16][kid][RSA-OAEP-256 ciphertext]. */
const FORMAT = 1;

/** A root-key provider backed by an RSA key in Azure Key Vault. */
export function createAzureKeyVaultRoot(
  cfg: AzureKeyVaultRootConfig,
  opts: AzureKeyVaultRootOptions = {},
): RootKeyProvider {
  const vaultUrl = cfg.vaultUrl.replace(/\/+$/, "");
  const credential = opts.credential ?? new DefaultAzureCredential();
  const clientOptions: CryptographyClientOptions = {
    ...(opts.ca ? { tlsOptions: { ca: opts.ca } } : {}),
    ...(opts.maxRetries === undefined ? {} : { retryOptions: { maxRetries: opts.maxRetries } }),
    ...(opts.disableChallengeResourceVerification ? { disableChallengeResourceVerification: true } : {}),
  };
  const keys = new KeyClient(vaultUrl, credential, { ...clientOptions });
  const at = `azure-key-vault key ${vaultUrl}/keys/${cfg.keyName}`;
  // One client per key version: each fetches its key once, then only wraps/unwraps.
  const clients = new Map<string, CryptographyClient>();
  const clientFor = (kid: string, key?: KeyVaultKey) => {
    let client = clients.get(kid);
    // A fresh options object each time: the SDK writes its user agent into the one it is given.
    if (!client)
      clients.set(kid, (client = new CryptographyClient(key ?? kid, credential, { ...clientOptions })));
    return client;
  };

  const origin = new URL(vaultUrl).origin;
  const isVersionOfKey = (kid: string) => {
    const url = URL.canParse(kid) ? new URL(kid) : undefined;
    const [, keysSegment, name, version, ...rest] = url?.pathname.split("/") ?? [];
    return (
      url?.origin === origin &&
      keysSegment === "keys" &&
      name === cfg.keyName &&
      !!version &&
      rest.length === 0
    );
  };

  return {
    kind: "azure-key-vault",
    ready: () => true,
    async wrap(key, context) {
      try {
        // The current version, so a rotation in the vault is picked up by the next wrap.
        const current = await keys.getKey(cfg.keyName);
        if (!current.id || !current.properties.version) {
          throw new Unavailable(`${at}: Key Vault did not say which key version is current`);
        }
        const out = await clientFor(current.id, current).wrapKey(
          ALGORITHM,
          Buffer.concat([digest(context), key]),
        );
        const kid = Buffer.from(current.id);
        const length = Buffer.alloc(2);
        length.writeUInt16BE(kid.length);
        return Buffer.concat([Buffer.from([FORMAT]), length, kid, Buffer.from(out.result)]);
      } catch (err) {
        throw vaultError(at, "wrap", err);
      }
    },
    async unwrap(wrapped, context) {
      const tampered = () =>
        new Invalid(
          "the wrapped key was tampered with, made under another key, or belongs to another context",
          at,
        );
      const kidLength = wrapped.length >= 3 ? wrapped.readUInt16BE(1) : 0;
      const kid = wrapped.subarray(3, 3 + kidLength).toString("utf8");
      // Only this vault's key: a forged kid must not send our bearer token elsewhere.
      if (wrapped[0] !== FORMAT || !isVersionOfKey(kid) || wrapped.length <= 3 + kidLength) {
        throw tampered();
      }
      let payload: Buffer;
      try {
        const out = await clientFor(kid).unwrapKey(ALGORITHM, wrapped.subarray(3 + kidLength));
        payload = Buffer.from(out.result);
      } catch (err) {
        throw vaultError(at, "unwrap", err);
      }
      const expected = digest(context);
      if (
        payload.length <= expected.length ||
        !timingSafeEqual(payload.subarray(0, expected.length), expected)
      ) {
        throw tampered();
      }
      return payload.subarray(expected.length);
    },
  };
}

const digest = (context: string) => createHash("sha256").update(context, "utf8").digest();

/** Maps an SDK failure to a Rampart error naming the provider and key, never the data. */
function vaultError(at: string, op: "wrap" | "unwrap", err: unknown): RampartError {
  if (err instanceof RampartError) return err;
  const e = err as { statusCode?: unknown; code?: unknown; name?: unknown; message?: unknown };
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  const message = typeof e.message === "string" ? e.message : "";
  if (status === 401 || status === 403) {
    if (/disabled/i.test(message)) return new Forbidden(`${at}: the key is disabled`);
    return new Forbidden(
      `${at}: Key Vault denied ${op === "wrap" ? "get/wrapKey" : "unwrapKey"} to Rampart's identity`,
    );
  }
  if (status === 404)
    return new Invalid(`${at.slice("azure-key-vault key ".length)} does not exist`, "secrets.root.keyName");
  if (status === 400) {
    return new Invalid(
      "the wrapped key was tampered with, made under another key, or belongs to another context",
      at,
    );
  }
  // No answer, a 5xx, or no credential: name what failed, not what was sent.
  const why = status ? `HTTP ${status}` : typeof e.code === "string" ? e.code : String(e.name ?? "error");
  return new Unavailable(`${at}: cannot ${op} a key, Key Vault is unreachable or failing (${why})`, {
    cause: err,
  });
}
