// Root key held by Google Cloud KMS: KEKs are wrapped with encrypt/decrypt on one crypto key, the
// caller's context bound as additionalAuthenticatedData, and every request and response
// integrity-checked with CRC32C as Google documents (a corrupted reply is refused, not used).
import { KeyManagementServiceClient } from "@google-cloud/kms";
import { Forbidden, Invalid, RampartError, Unavailable } from "../../../platform/errors.ts";
import type { RootKeyConfig } from "../schema.ts";
import type { RootKeyProvider } from "./types.ts";

export type GcpKmsRootConfig = Extract<RootKeyConfig, { provider: "gcp-kms" }>;
type ClientOptions = NonNullable<ConstructorParameters<typeof KeyManagementServiceClient>[0]>;

export interface GcpKmsRootOptions {
  /** An authenticated client (tests); default: Application Default Credentials. */
  authClient?: ClientOptions["authClient"];
  /** Overrides `cfg.apiEndpoint`: a host[:port] or an http(s) URL. */
  apiEndpoint?: string;
  /** Retries per call on UNAVAILABLE (library default when unset). */
  maxRetries?: number;
}

/** A root-key provider backed by a Cloud KMS symmetric crypto key, over the REST transport. */
export function createGcpKmsRoot(cfg: GcpKmsRootConfig, opts: GcpKmsRootOptions = {}): RootKeyProvider {
  const endpoint = opts.apiEndpoint ?? cfg.apiEndpoint;
  const client = new KeyManagementServiceClient({
    // REST rather than gRPC: one HTTP/1.1 transport, proxies and local stand-ins work unchanged.
    fallback: true,
    ...(endpoint ? endpointOptions(endpoint) : {}),
    ...(opts.authClient ? { authClient: opts.authClient } : {}),
  });
  const call = opts.maxRetries === undefined ? undefined : { maxRetries: opts.maxRetries };
  const at = `gcp-kms key ${cfg.keyName}`;

  return {
    kind: "gcp-kms",
    ready: () => true,
    async wrap(key, context) {
      const aad = Buffer.from(context);
      try {
        const [out] = await client.encrypt(
          {
            name: cfg.keyName,
            plaintext: key,
            plaintextCrc32c: { value: crc32c(key) },
            additionalAuthenticatedData: aad,
            additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
          },
          call,
        );
        const ciphertext = Buffer.from(out.ciphertext ?? "");
        if (!out.verifiedPlaintextCrc32c || !out.verifiedAdditionalAuthenticatedDataCrc32c) {
          throw new Unavailable(
            `${at}: KMS did not confirm the request checksums; the request may have been corrupted in transit`,
          );
        }
        if (ciphertext.length === 0 || Number(out.ciphertextCrc32c?.value) !== crc32c(ciphertext)) {
          throw new Unavailable(
            `${at}: the encrypt response failed its CRC32C check; it was corrupted in transit`,
          );
        }
        return ciphertext;
      } catch (err) {
        throw kmsError(at, "wrap", err);
      }
    },
    async unwrap(wrapped, context) {
      const aad = Buffer.from(context);
      try {
        const [out] = await client.decrypt(
          {
            name: cfg.keyName,
            ciphertext: wrapped,
            ciphertextCrc32c: { value: crc32c(wrapped) },
            additionalAuthenticatedData: aad,
            additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
          },
          call,
        );
        const plaintext = Buffer.from(out.plaintext ?? "");
        if (plaintext.length === 0 || Number(out.plaintextCrc32c?.value) !== crc32c(plaintext)) {
          throw new Unavailable(
            `${at}: the decrypt response failed its CRC32C check; it was corrupted in transit`,
          );
        }
        return plaintext;
      } catch (err) {
        throw kmsError(at, "unwrap", err);
      }
    },
  };
}

/** `cloudkms.googleapis.com`, `host:port` or `http://host:port` as the client's endpoint options. */
function endpointOptions(endpoint: string): { apiEndpoint: string; port?: number; protocol?: string } {
  if (!/^https?:\/\//.test(endpoint)) return { apiEndpoint: endpoint };
  const url = new URL(endpoint);
  const protocol = url.protocol.slice(0, -1);
  return { apiEndpoint: url.hostname, port: Number(url.port || (protocol === "http" ? 80 : 443)), protocol };
}

// google-gax reports gRPC codes for its own errors; over REST a refusal may surface as the
// HTTP client's error carrying Google's JSON envelope. Both are read as Google's status name.
const GRPC_STATUS: Record<number, string> = {
  3: "INVALID_ARGUMENT",
  5: "NOT_FOUND",
  7: "PERMISSION_DENIED",
  9: "FAILED_PRECONDITION",
  16: "UNAUTHENTICATED",
};
const HTTP_STATUS: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
};

/** Google's status name (`PERMISSION_DENIED`...) for a failed call, if the service answered. */
function googleStatus(err: unknown): string | undefined {
  const e = err as {
    code?: unknown;
    error?: unknown;
    message?: unknown;
    response?: { status?: unknown; data?: unknown };
  };
  // The HTTP client puts Google's error body in its message when it does not keep the data.
  for (const body of [e.response?.data, e.error, e.message]) {
    const parsed: unknown = typeof body === "string" ? safeJson(body) : body;
    const status = (parsed as { error?: { status?: unknown } } | undefined)?.error?.status;
    if (typeof status === "string") return status;
  }
  if (typeof e.response?.status === "number") return HTTP_STATUS[e.response.status];
  return typeof e.code === "number" ? GRPC_STATUS[e.code] : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Maps a client failure to a Rampart error naming the provider and key, never the data. */
function kmsError(at: string, op: "wrap" | "unwrap", err: unknown): RampartError {
  if (err instanceof RampartError) return err;
  const status = googleStatus(err);
  switch (status) {
    case "PERMISSION_DENIED":
    case "UNAUTHENTICATED":
      return new Forbidden(
        `${at}: KMS denied ${op === "wrap" ? "cloudkms.cryptoKeyVersions.useToEncrypt" : "cloudkms.cryptoKeyVersions.useToDecrypt"} to Rampart's credentials (or the key does not exist)`,
      );
    case "FAILED_PRECONDITION":
      return new Forbidden(`${at}: the key version is not enabled (disabled, destroyed or pending)`);
    case "NOT_FOUND":
      return new Invalid(
        `crypto key ${at.slice("gcp-kms key ".length)} does not exist`,
        "secrets.root.keyName",
      );
    case "INVALID_ARGUMENT":
      return new Invalid(
        "the wrapped key was tampered with, made under another key, or belongs to another context",
        at,
      );
    default: {
      // No answer at all (network) names the transport error; a 5xx names only Google's status.
      const why = status ?? (err instanceof Error ? err.message : String(err));
      return new Unavailable(`${at}: cannot ${op} a key, KMS is unreachable or failing (${why})`, {
        cause: err,
      });
    }
  }
}

// CRC32C (Castagnoli) is the checksum Cloud KMS uses for integrity; Node has CRC32 but not CRC32C.
const CRC32C_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC32C of `data` as an unsigned 32-bit number. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
