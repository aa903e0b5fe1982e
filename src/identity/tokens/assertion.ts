// The identity the gateway hands to upstreams: a signed JWT assertion (verifiable against the
// JWKS) plus plain headers for upstreams that only read headers. Signing per request would cost
// more than the proxying itself, so a session's assertion is reused until it nears expiry.
import { createHash } from "node:crypto";
import type { Clock } from "../../platform/clock.ts";
import { Invalid } from "../../platform/errors.ts";
import type { Identity } from "../types.ts";
import { ASSERTION_TYPE, checkLifetime, signJwt } from "./jwt.ts";
import type { TokenKeys } from "./keys.ts";

export const ASSERTION_HEADER = "x-rampart-assertion";
export const USER_HEADER = "x-rampart-user";
export const EMAIL_HEADER = "x-rampart-email";
export const GROUPS_HEADER = "x-rampart-groups";
/** Every header starting with this is the gateway's to set; a client's copy is always removed. */
export const RAMPART_HEADER_PREFIX = "x-rampart-";

export interface AssertionSignerOptions {
  keys: TokenKeys;
  clock: Clock;
  /** The `iss` of assertions, e.g. the gateway's public URL. */
  issuer: string;
  /** Default assertion lifetime (default 300 s). */
  lifetimeSeconds?: number;
  /** Most assertions kept (default 10,000; least recently used dropped first). */
  cacheSize?: number;
}

export interface AssertionOptions {
  /** The route or upstream the assertion is for (`aud`). */
  audience: string;
  /** The session it belongs to; assertions are cached per session. */
  sessionId?: string;
  lifetimeSeconds?: number;
}

export interface AssertionSigner {
  /** A compact JWT asserting `identity` to one audience; reused from the cache while fresh. */
  signAssertion(identity: Identity, o: AssertionOptions): Promise<string>;
  /** The headers to add to the upstream request: assertion, user, email, groups. */
  identityHeaders(identity: Identity, o: AssertionOptions): Promise<Record<string, string>>;
}

/** Builds the assertion signer; see the module comment. */
export function createAssertionSigner(opts: AssertionSignerOptions): AssertionSigner {
  const defaultLifetime = opts.lifetimeSeconds ?? 300;
  checkLifetime(opts.keys, defaultLifetime, "identity.assertions.lifetimeSeconds");
  const cacheSize = opts.cacheSize ?? 10_000;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 1)
    throw new Invalid("must be a positive integer", "identity.assertions.cacheSize");
  // Map order is insertion order: re-inserting on a hit makes the first key the least recent.
  const cache = new Map<string, { jwt: string; exp: number; renewAt: number }>();

  async function signAssertion(identity: Identity, o: AssertionOptions): Promise<string> {
    if (typeof o.audience !== "string" || o.audience.length === 0)
      throw new Invalid("must be a non-empty string", "audience");
    const lifetime = o.lifetimeSeconds ?? defaultLifetime;
    const { kid } = await opts.keys.signingKey();
    const claims = assertedClaims(identity);
    // The subject and claims are part of the key: two identities never share an assertion, and
    // when a grant expires the roles change, and so does the assertion.
    const key = `${o.sessionId ?? ""}\n${identity.subject}\n${o.audience}\n${kid}\n${lifetime}\n${digest(claims)}`;
    const now = opts.clock.now().getTime() / 1000;
    const hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      if (now < hit.renewAt) {
        cache.set(key, hit);
        return hit.jwt;
      }
    }
    const signed = await signJwt(opts.keys, opts.clock, claims, {
      typ: ASSERTION_TYPE,
      issuer: opts.issuer,
      audience: o.audience,
      subject: identity.subject,
      lifetimeSeconds: lifetime,
    });
    // Renew with a quarter of the lifetime left, so upstreams never receive an almost-expired one.
    cache.set(key, { jwt: signed.jwt, exp: signed.exp, renewAt: signed.exp - lifetime / 4 });
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value as string);
    return signed.jwt;
  }

  return {
    signAssertion,
    async identityHeaders(identity, o) {
      const headers: Record<string, string> = {
        [ASSERTION_HEADER]: await signAssertion(identity, o),
        [USER_HEADER]: headerValue(identity.subject),
      };
      const email = verifiedEmail(identity);
      if (email) headers[EMAIL_HEADER] = headerValue(email);
      if (identity.groups.length > 0) headers[GROUPS_HEADER] = groupsHeaderValue(identity.groups);
      return headers;
    },
  };
}

// An unverified email could name someone else's mailbox: upstreams only ever see verified ones.
function verifiedEmail(identity: Identity): string | undefined {
  return identity.email && identity.emailVerified === true ? identity.email : undefined;
}

function assertedClaims(identity: Identity): Record<string, unknown> {
  const email = verifiedEmail(identity);
  return {
    kind: identity.kind,
    ...(email ? { email } : {}),
    groups: [...identity.groups],
    roles: [...identity.roles],
  };
}

function digest(claims: Record<string, unknown>): string {
  return createHash("sha256").update(JSON.stringify(claims)).digest("base64url");
}

/**
 * A header-safe form of `value`: UTF-8 bytes outside visible ASCII, `%`, and any of `extra` are
 * percent-encoded, so no CR/LF or control character reaches the upstream and
 * `decodeURIComponent` gives the value back.
 */
export function headerValue(value: string, extra = ""): string {
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    const c = String.fromCharCode(byte);
    out +=
      byte < 0x21 || byte > 0x7e || c === "%" || extra.includes(c)
        ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
        : c;
  }
  return out;
}

/** Groups as one header value: comma-separated, each group's own commas percent-encoded. */
export function groupsHeaderValue(groups: readonly string[]): string {
  return groups.map((g) => headerValue(g, ",")).join(",");
}

/** The names among `incoming` a client must not pass to an upstream (any `x-rampart-*`, any case). */
export function headersToStrip(incoming: Iterable<string>): string[] {
  const out: string[] = [];
  for (const name of incoming) if (name.toLowerCase().startsWith(RAMPART_HEADER_PREFIX)) out.push(name);
  return out;
}
