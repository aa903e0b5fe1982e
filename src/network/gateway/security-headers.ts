// Security headers added to responses the upstream left without them (the app's own choice wins),
// precomputed per route so a response only pays for a few lookups.
import type { z } from "zod";
import type { securityHeadersSchema } from "../../config/schema.ts";

type SecurityHeaders = z.output<typeof securityHeadersSchema>;

const keyword = (s: string) => (s === "self" || s === "none" ? `'${s}'` : s);

export interface HeaderSet {
  /** Headers for a response over plain HTTP and over HTTPS (HSTS only there, RFC 6797 §7.2). */
  http: [string, string][];
  https: [string, string][];
}

export function compileSecurityHeaders(c: SecurityHeaders): HeaderSet {
  const common: [string, string][] = [];
  if (c.contentTypeOptions) common.push(["x-content-type-options", "nosniff"]);
  if (c.frameAncestors.length > 0) {
    const none = c.frameAncestors.includes("none");
    common.push([
      "content-security-policy",
      `frame-ancestors ${none ? "'none'" : c.frameAncestors.map(keyword).join(" ")}`,
    ]);
    // For browsers without CSP level 2.
    if (none) common.push(["x-frame-options", "DENY"]);
    else if (c.frameAncestors.length === 1 && c.frameAncestors[0] === "self")
      common.push(["x-frame-options", "SAMEORIGIN"]);
  }
  common.push(["referrer-policy", c.referrerPolicy]);
  if (c.permissionsPolicy) common.push(["permissions-policy", c.permissionsPolicy]);
  const https = [...common];
  if (c.hstsMaxAge > 0)
    https.push([
      "strict-transport-security",
      `max-age=${c.hstsMaxAge}${c.hstsIncludeSubDomains ? "; includeSubDomains" : ""}${c.hstsPreload ? "; preload" : ""}`,
    ]);
  return { http: common, https };
}

/** Adds each header the response does not already carry. */
export function addMissing(
  headers: Record<string, string | string[]>,
  set: readonly [string, string][],
): void {
  for (const [name, value] of set) if (headers[name] === undefined) headers[name] = value;
}
