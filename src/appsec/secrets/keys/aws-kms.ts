// Root key held by AWS KMS: KEKs are wrapped with Encrypt/Decrypt under one KMS key, the caller's
// context bound as an EncryptionContext so a wrapped KEK cannot be unwrapped for another purpose.
import {
  DecryptCommand,
  EncryptCommand,
  KMSClient,
  KMSServiceException,
  type KMSClientConfig,
} from "@aws-sdk/client-kms";
import { Forbidden, Invalid, RampartError, Unavailable } from "../../../platform/errors.ts";
import type { RootKeyConfig } from "../schema.ts";
import type { RootKeyProvider } from "./types.ts";

export type AwsKmsRootConfig = Extract<RootKeyConfig, { provider: "aws-kms" }>;

export interface AwsKmsRootOptions {
  /** Static credentials (tests, or a caller that resolved them); default: the SDK's credential chain. */
  credentials?: KMSClientConfig["credentials"];
  /** Overrides `cfg.endpoint`. */
  endpoint?: string;
  /** Attempts per call including retries (SDK default 3). */
  maxAttempts?: number;
}

/** The EncryptionContext key under which Rampart binds its wrap context. */
const CONTEXT_KEY = "rampart:context";

/** A root-key provider backed by an AWS KMS symmetric key (`keyId`: key id, ARN or alias). */
export function createAwsKmsRoot(cfg: AwsKmsRootConfig, opts: AwsKmsRootOptions = {}): RootKeyProvider {
  const endpoint = opts.endpoint ?? cfg.endpoint;
  const client = new KMSClient({
    region: cfg.region,
    ...(endpoint ? { endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
  });
  const fail = (op: "wrap" | "unwrap", err: unknown) => kmsError(cfg.keyId, op, err);

  return {
    kind: "aws-kms",
    ready: () => true,
    async wrap(key, context) {
      try {
        const out = await client.send(
          new EncryptCommand({
            KeyId: cfg.keyId,
            Plaintext: key,
            EncryptionContext: { [CONTEXT_KEY]: context },
          }),
        );
        if (!out.CiphertextBlob)
          throw new Unavailable(`aws-kms key ${cfg.keyId}: Encrypt returned no ciphertext`);
        return Buffer.from(out.CiphertextBlob);
      } catch (err) {
        throw fail("wrap", err);
      }
    },
    async unwrap(wrapped, context) {
      try {
        // KeyId pins the key: a blob made under another key is refused instead of silently used.
        const out = await client.send(
          new DecryptCommand({
            KeyId: cfg.keyId,
            CiphertextBlob: wrapped,
            EncryptionContext: { [CONTEXT_KEY]: context },
          }),
        );
        if (!out.Plaintext) throw new Unavailable(`aws-kms key ${cfg.keyId}: Decrypt returned no plaintext`);
        return Buffer.from(out.Plaintext);
      } catch (err) {
        throw fail("unwrap", err);
      }
    },
  };
}

/** Maps an SDK failure to a Rampart error naming the provider and key, never the data. */
function kmsError(keyId: string, op: "wrap" | "unwrap", err: unknown): RampartError {
  if (err instanceof RampartError) return err;
  const at = `aws-kms key ${keyId}`;
  if (!(err instanceof KMSServiceException) || err.$fault === "server") {
    // A service fault is named by its type; a transport failure by its message (host, errno).
    const why =
      err instanceof KMSServiceException ? err.name : err instanceof Error ? err.message : String(err);
    return new Unavailable(`${at}: cannot ${op} a key, KMS is unreachable or failing (${why})`, {
      cause: err,
    });
  }
  switch (err.name) {
    case "AccessDeniedException":
      return new Forbidden(
        `${at}: KMS denied ${op === "wrap" ? "kms:Encrypt" : "kms:Decrypt"} to Rampart's credentials`,
      );
    case "DisabledException":
    case "KMSInvalidStateException":
      return new Forbidden(`${at}: the KMS key is disabled or pending deletion`);
    case "NotFoundException":
      return new Invalid(`KMS key ${keyId} does not exist in this account and region`, "secrets.root.keyId");
    case "InvalidCiphertextException":
    case "IncorrectKeyException":
      return new Invalid(
        "the wrapped key was tampered with, made under another key, or belongs to another context",
        at,
      );
    default:
      return new Unavailable(`${at}: KMS refused to ${op} (${err.name})`, { cause: err });
  }
}
