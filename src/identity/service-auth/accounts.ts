// Service accounts, defined as code. Client secrets are random and long, so a plain SHA-256 is
// enough to store them (no password hashing needed) and an operator can compute one with
// `sha256sum`. Several hashes per account let a secret rotate without downtime.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { Invalid } from "../../platform/errors.ts";

const SECRET_HASH = /^sha256:[0-9a-f]{64}$/;

export const serviceAccountSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{1,62}$/, "expected lower-case letters, digits and dashes, e.g. 'billing-worker'"),
  description: z.string().max(500).default(""),
  roles: z.array(z.string().min(1).max(128)).default([]),
  /** Scopes this account may ask for; a token request without `scope` gets all of them. */
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, "expected an RFC 6749 scope token"))
    .default([]),
  /** `sha256:<hex>` of each client secret in force; none means no client-credentials login. */
  secretHashes: z
    .array(z.string().regex(SECRET_HASH, "expected sha256:<64 lower-case hex digits>"))
    .default([]),
});

export const serviceAccountsSchema = z.array(serviceAccountSchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((a, i) => {
    if (seen.has(a.name))
      ctx.addIssue({ code: "custom", message: `duplicate service account '${a.name}'`, path: [i, "name"] });
    seen.add(a.name);
  });
});

export type ServiceAccount = z.infer<typeof serviceAccountSchema>;

/** `sha256:<hex>` of a client secret, the form `secretHashes` holds (same as `sha256sum`). */
export function hashClientSecret(secret: string): string {
  return `sha256:${createHash("sha256").update(secret, "utf8").digest("hex")}`;
}

/** A new random client secret (32 bytes, base64url). */
export function generateClientSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** The accounts in force, looked up by name. */
export interface ServiceAccounts {
  get(name: string): ServiceAccount | undefined;
  /** True when `secret` matches one of `name`'s secret hashes; constant time in the secret. */
  checkSecret(name: string, secret: string): boolean;
}

// Compared against when the account is unknown, so both answers cost the same.
const DUMMY = Buffer.alloc(32);

/** Validates the configured accounts and indexes them by name. */
export function createServiceAccounts(config: unknown): ServiceAccounts {
  const parsed = serviceAccountsSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Invalid(issue.message, ["identity", "serviceAccounts", ...issue.path].join("."));
  }
  const byName = new Map(parsed.data.map((a) => [a.name, a]));
  const digests = new Map(
    parsed.data.map((a) => [
      a.name,
      a.secretHashes.map((h) => Buffer.from(h.slice("sha256:".length), "hex")),
    ]),
  );
  return {
    get: (name) => byName.get(name),
    checkSecret(name, secret) {
      const presented = createHash("sha256").update(secret, "utf8").digest();
      const known = digests.get(name) ?? [];
      let ok = false;
      // Every hash is compared, so timing does not tell which one (or whether any) matched.
      for (const d of known.length > 0 ? known : [DUMMY]) ok = timingSafeEqual(presented, d) || ok;
      return ok && known.length > 0;
    },
  };
}
