// Where a browser may be sent after login: a path on this site, never another origin.
import { Invalid } from "../../platform/errors.ts";

/**
 * The path (with query and fragment) that `returnTo` designates on `origin`; throws `Invalid` when it
 * would leave the origin (`//evil.com`, `/\evil.com`, `https://evil.com`, encoded or control-character variants).
 */
export function safeReturnTo(returnTo: string | undefined, origin: string): string {
  if (returnTo === undefined || returnTo === "") return "/";
  const base = new URL(origin);
  // Browsers ignore tabs and newlines in URLs and treat "\" as "/": refuse rather than guess.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f\\]/.test(returnTo)) throw new Invalid("must be a path on this site", "returnTo");
  let target: URL;
  try {
    target = new URL(returnTo, base);
  } catch {
    throw new Invalid("must be a path on this site", "returnTo");
  }
  if (target.origin !== base.origin || !(returnTo.startsWith("/") || returnTo === target.href)) {
    throw new Invalid("must be a path on this site", "returnTo");
  }
  // A path that starts with "//" after the origin would read as a host to whoever parses it next.
  if (target.pathname.startsWith("//")) throw new Invalid("must be a path on this site", "returnTo");
  return `${target.pathname}${target.search}${target.hash}`;
}
