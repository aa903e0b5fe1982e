// Client certificates to identities. The TLS listener has already verified the chain; this only
// says who a verified certificate is, by exact fingerprint, SAN or subject (most specific first).
// An unmapped certificate gives no identity: a trusted CA alone grants nothing.
import { z } from "zod";
import { Invalid } from "../../platform/errors.ts";
import type { ClientCertificate, Identity } from "../types.ts";
import type { ServiceAccounts } from "./accounts.ts";

export const certificateMappingSchema = z
  .strictObject({
    /** SHA-256 of the DER certificate, hex (colons and case ignored). */
    fingerprint: z
      .string()
      .transform((s) => s.replace(/:/g, "").toLowerCase())
      .pipe(z.string().regex(/^[0-9a-f]{64}$/, "expected a SHA-256 fingerprint (64 hex digits)"))
      .optional(),
    /** One subject alternative name, exactly as `DNS:…`, `URI:…` or `email:…`. */
    san: z
      .string()
      .regex(/^(DNS|URI|email|IP Address):\S+$/, "expected e.g. URI:spiffe://prod/billing")
      .optional(),
    /** The certificate's subject, exactly as the listener reports it. */
    subject: z.string().min(1).optional(),
    /** Map to this service account (its roles apply). */
    service: z.string().min(1).optional(),
    /** Or map to this user subject (`<provider>:<sub>`). */
    user: z.string().min(1).optional(),
    groups: z.array(z.string().min(1)).default([]),
  })
  .refine((r) => [r.fingerprint, r.san, r.subject].filter((v) => v !== undefined).length === 1, {
    message: "give exactly one of fingerprint, san or subject",
  })
  .refine((r) => (r.service === undefined) !== (r.user === undefined), {
    message: "give exactly one of service or user",
  });

export type CertificateMapping = z.infer<typeof certificateMappingSchema>;

export interface CertificateIdentities {
  /** The identity a verified client certificate maps to, or undefined. */
  identityFor(cert: ClientCertificate): Identity | undefined;
}

/** Validates the mapping rules (config `identity.clientCertificates`) and indexes them. */
export function createCertificateIdentities(
  config: unknown,
  deps: { accounts: ServiceAccounts },
): CertificateIdentities {
  const parsed = z.array(certificateMappingSchema).safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Invalid(issue.message, ["identity", "clientCertificates", ...issue.path].join("."));
  }
  const byFingerprint = new Map<string, CertificateMapping>();
  const bySan = new Map<string, CertificateMapping>();
  const bySubject = new Map<string, CertificateMapping>();
  parsed.data.forEach((rule, i) => {
    if (rule.service !== undefined && !deps.accounts.get(rule.service))
      throw new Invalid(`no service account '${rule.service}'`, `identity.clientCertificates.${i}.service`);
    const [map, key] = rule.fingerprint
      ? [byFingerprint, rule.fingerprint]
      : rule.san
        ? [bySan, rule.san]
        : [bySubject, rule.subject as string];
    if (map.has(key))
      throw new Invalid("the same certificate is mapped twice", `identity.clientCertificates.${i}`);
    map.set(key, rule);
  });

  return {
    identityFor(cert) {
      const rule =
        byFingerprint.get(cert.fingerprint.toLowerCase()) ??
        cert.san.map((s) => bySan.get(s)).find((r) => r !== undefined) ??
        bySubject.get(cert.subject);
      if (!rule) return undefined;
      const claims = { certificate: { subject: cert.subject, fingerprint: cert.fingerprint } };
      if (rule.service !== undefined) {
        // Accounts are checked at load; a reload that drops the account rebuilds this too.
        const account = deps.accounts.get(rule.service);
        if (!account) return undefined;
        return {
          kind: "service",
          subject: account.name,
          groups: rule.groups,
          roles: account.roles,
          claims,
          credential: "client-certificate",
        };
      }
      return {
        kind: "user",
        subject: rule.user as string,
        groups: rule.groups,
        roles: [],
        claims,
        credential: "client-certificate",
      };
    },
  };
}
