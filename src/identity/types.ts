// Layer 2's shared vocabulary: who is asking (Identity) and what they ask for (AccessRequest).
// SSO sessions, service-account tokens, API keys and client certificates all end in an Identity;
// route policies decide over an Identity and an AccessRequest.

/** How the gateway learnt who is asking. */
export type Credential = "session" | "access-token" | "api-key" | "client-certificate";

export interface Identity {
  /** A person signed in through an identity provider, or a machine (service account). */
  kind: "user" | "service";
  /** Stable, unique id: `<provider>:<sub>` for users, the service account's name for services. */
  subject: string;
  /** The identity provider's id (users only). */
  provider?: string;
  email?: string;
  /** Emails count for policy only when the provider says they are verified. */
  emailVerified?: boolean;
  name?: string;
  groups: readonly string[];
  /** Roles from RBAC bindings and from just-in-time grants in force now. */
  roles: readonly string[];
  /** The provider's other claims (or a token's), for claim conditions in policies. */
  claims: Readonly<Record<string, unknown>>;
  credential: Credential;
  /** Ids of the just-in-time grants that contribute roles right now. */
  grants?: readonly string[];
}

/** A client certificate the TLS listener verified. */
export interface ClientCertificate {
  subject: string;
  /** SHA-256 of the DER certificate, lowercase hex with no separators. */
  fingerprint: string;
  /** Subject alternative names: `DNS:…`, `URI:…`, `email:…`. */
  san: readonly string[];
}

/** The facts of one request that a policy may look at, besides the identity. */
export interface AccessRequest {
  method: string;
  /** Canonical path, without the query. */
  path: string;
  host: string;
  /** Client IP (after trusted proxies). */
  ip: string;
  /** ISO 3166-1 alpha-2 country of the client IP, when known. */
  country?: string;
  /** The route's `environment` tag (`prod`, `staging`, …). */
  environment?: string;
  clientCertificate?: ClientCertificate;
  now: Date;
}
