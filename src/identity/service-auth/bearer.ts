// Reading `Authorization: Bearer <token>` strictly (RFC 6750 §2.1): one scheme, one token68, no
// extra parameters. Anything else is refused rather than guessed at.
import { Unauthorized } from "../../platform/errors.ts";

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
// Far above any token Rampart issues; bounds the work done on hostile input.
const MAX_LENGTH = 8192;

/** The bearer token in an Authorization header; undefined when there is no header, Unauthorized when malformed. */
export function readBearerToken(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header) || header.length > MAX_LENGTH)
    throw new Unauthorized("malformed Authorization header");
  const m = BEARER.exec(header);
  if (!m) throw new Unauthorized("malformed Authorization header");
  return m[1];
}
