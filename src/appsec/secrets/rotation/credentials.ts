// Shared pieces of the rotators: fresh random passwords, connection URLs for consumers, and
// error messages scrubbed of every credential they might echo.
import { randomBytes } from "node:crypto";
import { Invalid } from "../../../platform/errors.ts";

/** A fresh random password: 32 base64url characters (192 bits), safe in URLs and SQL literals. */
export function newPassword(): string {
  return randomBytes(24).toString("base64url");
}

/** Parses an admin URL, with an error that names the setting but never echoes the URL (it holds a password). */
export function parseAdminUrl(adminUrl: string, where: string, protocols: string[]): URL {
  let url: URL;
  try {
    url = new URL(adminUrl);
  } catch {
    throw new Invalid("expected a connection URL", where);
  }
  if (!protocols.includes(url.protocol)) {
    throw new Invalid(`expected a ${protocols.join(" or ")}// URL, got ${url.protocol}//`, where);
  }
  return url;
}

/** The URL consumers connect with: the admin URL's host, port and database with their own user and password. */
export function consumerUrl(admin: URL, username: string, password: string): string {
  const url = new URL(admin.toString());
  url.username = encodeURIComponent(username);
  url.password = encodeURIComponent(password);
  url.search = "";
  return url.toString();
}

/** The message of `err` with every given secret (and its URL-encoded form) replaced, for events and errors. */
export function scrubbed(err: unknown, secrets: Array<string | undefined>): string {
  let msg = err instanceof Error ? err.message || err.name : String(err);
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) msg = msg.split(form).join("[redacted]");
  }
  return msg;
}
