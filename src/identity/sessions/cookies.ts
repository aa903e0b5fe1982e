// Rampart's cookies: reading them from a Cookie header (RFC 6265 §5.4 shape: `name=value` pairs
// split on ";"), building Set-Cookie values, and removing them before a request goes upstream.

/** The session cookie's name: `__Host-` pins it to this host, HTTPS and Path=/ (browsers enforce it). */
export function sessionCookieName(secure: boolean): string {
  return secure ? "__Host-rampart_session" : "rampart_session";
}

/** The short-lived cookie that ties an OIDC callback to the browser that started the login. */
export function loginCookieName(secure: boolean): string {
  return secure ? "__Host-rampart_login" : "rampart_login";
}

/** Any cookie of ours, in any of its forms; none of them is the upstream's business. */
const ours = /^(__Host-|__Secure-)?_{0,2}rampart_/;

/** The value of cookie `name` in a Cookie header; the first one wins, as browsers send the most specific first. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

/** The Cookie header without Rampart's cookies; undefined when nothing is left. */
export function stripRampartCookies(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const kept: string[] = [];
  for (const pair of header.split(";")) {
    const trimmed = pair.trim();
    if (trimmed === "") continue;
    const eq = trimmed.indexOf("=");
    if (ours.test((eq < 0 ? trimmed : trimmed.slice(0, eq)).trim())) continue;
    kept.push(trimmed);
  }
  return kept.length === 0 ? undefined : kept.join("; ");
}

/** A Set-Cookie value for one of our cookies: HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS. */
export function setCookie(name: string, value: string, opts: { secure: boolean; maxAgeS?: number }): string {
  const parts = [`${name}=${value}`, "Path=/", "HttpOnly", "SameSite=Lax"];
  if (opts.secure) parts.push("Secure");
  if (opts.maxAgeS !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(opts.maxAgeS))}`);
  return parts.join("; ");
}

/** A Set-Cookie value that makes the browser forget cookie `name`. */
export function clearCookie(name: string, secure: boolean): string {
  return setCookie(name, "", { secure, maxAgeS: 0 });
}
