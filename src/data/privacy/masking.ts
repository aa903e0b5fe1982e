// Masking strategies for erasure and anonymised copies. Keys are derived per request (or per
// copy) from one secret, so a value masks the same way in every store within a request (foreign
// keys stay consistent) and masked values cannot be linked across requests.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { Invalid } from "../../platform/errors.ts";

export const maskingStrategyNames = [
  "null_rewrite",
  "string_rewrite",
  "random_string_rewrite",
  "hash",
  "hmac",
  "aes_encrypt",
  "preserve",
] as const;
export type MaskingStrategyName = (typeof maskingStrategyNames)[number];

/** Fides' masking_strategy_override shape: a strategy name and its options. */
export interface MaskingStrategy {
  strategy: MaskingStrategyName;
  configuration?: {
    /** string_rewrite: the replacement (default "REDACTED"). */
    rewrite_value?: string;
    /** random_string_rewrite: length of the random string (default 30). */
    length?: number;
    /** hash / hmac: digest (default SHA-256). */
    algorithm?: "SHA-256" | "SHA-512";
  };
}

export const defaultMasking: MaskingStrategy = { strategy: "hmac" };

export interface MaskOptions {
  /** Fides data type of the field; "integer" keeps integers integers (a stable 48-bit value). */
  dataType?: string;
  /** Column length: string outputs of hash/hmac are cut to it so the write fits. */
  length?: number;
}

export interface Masker {
  mask(value: unknown, strategy: MaskingStrategy, opts?: MaskOptions): unknown;
  /** Reverses aes_encrypt tokens made with the same secret; anything else is Invalid. */
  detokenise(token: string): string;
}

const TOKEN_PREFIX = "tok:v1:";

/** A masker whose keys derive from `secret` (32 random bytes, kept with the request). */
export function createMasker(secret: Buffer): Masker {
  if (secret.length < 32) throw new Invalid("masking secret must be at least 32 bytes");
  const derive = (info: string) => Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), info, 32));
  const hashSalt = derive("rampart-privacy-hash-salt");
  const hmacKey = derive("rampart-privacy-hmac");
  const aesKey = derive("rampart-privacy-aes");
  const nonceKey = derive("rampart-privacy-aes-nonce");

  const digest = (alg: "SHA-256" | "SHA-512" | undefined) => (alg === "SHA-512" ? "sha512" : "sha256");

  const maskScalar = (value: unknown, s: MaskingStrategy, opts: MaskOptions): unknown => {
    if (value === null || value === undefined) return value;
    const text = typeof value === "string" ? value : JSON.stringify(value);
    const fit = (out: string) => (opts.length && opts.length > 0 ? out.slice(0, opts.length) : out);
    switch (s.strategy) {
      case "preserve":
        return value;
      case "null_rewrite":
        return null;
      case "string_rewrite":
        return fit(s.configuration?.rewrite_value ?? "REDACTED");
      case "random_string_rewrite":
        return fit(
          randomBytes(64)
            .toString("base64url")
            .slice(0, s.configuration?.length ?? 30),
        );
      case "hash":
      case "hmac": {
        const mac =
          s.strategy === "hash"
            ? createHash(digest(s.configuration?.algorithm)).update(hashSalt).update(text)
            : createHmac(digest(s.configuration?.algorithm), hmacKey).update(text);
        const out = mac.digest();
        if (isInteger(opts.dataType)) return out.readUIntBE(0, 6);
        return fit(out.toString("hex"));
      }
      case "aes_encrypt": {
        // Deterministic nonce (HMAC of the plaintext): equal inputs give equal tokens, as Fides does.
        const nonce = createHmac("sha256", nonceKey).update(text).digest().subarray(0, 12);
        const cipher = createCipheriv("aes-256-gcm", aesKey, nonce);
        const body = Buffer.concat([cipher.update(text, "utf8"), cipher.final(), cipher.getAuthTag()]);
        return TOKEN_PREFIX + Buffer.concat([nonce, body]).toString("base64url");
      }
    }
  };

  const mask = (value: unknown, s: MaskingStrategy, opts: MaskOptions = {}): unknown => {
    if (Array.isArray(value)) return value.map((v) => mask(v, s, opts));
    if (value !== null && typeof value === "object" && !(value instanceof Date) && s.strategy !== "preserve")
      return null; // a whole object is not a value to pseudonymise: its nested fields are masked one by one
    return maskScalar(value instanceof Date ? value.toISOString() : value, s, opts);
  };

  return {
    mask,
    detokenise(token) {
      if (!token.startsWith(TOKEN_PREFIX)) throw new Invalid("not an aes_encrypt token");
      const raw = Buffer.from(token.slice(TOKEN_PREFIX.length), "base64url");
      if (raw.length < 12 + 16) throw new Invalid("aes_encrypt token is too short");
      const decipher = createDecipheriv("aes-256-gcm", aesKey, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      try {
        return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString(
          "utf8",
        );
      } catch {
        throw new Invalid("aes_encrypt token does not open with this request's key");
      }
    },
  };
}

const isInteger = (dataType: string | undefined) => dataType === "integer" || dataType === "int";

/** A fresh per-request secret. */
export const newMaskingSecret = (): Buffer => randomBytes(32);
