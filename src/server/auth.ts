// Bearer-token checks for the control-plane API; tokens are compared in constant time.
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { Unauthorized } from "../platform/errors.ts";

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/** A checker for a set of tokens; returns the matching entry's name, throws `Unauthorized` otherwise. */
export function bearerAuth(
  tokens: () => ReadonlyArray<{ name: string; token: string }>,
): (req: FastifyRequest) => string {
  return (req) => {
    const header = req.headers.authorization;
    const presented = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
    if (!presented) throw new Unauthorized("missing bearer token");
    // Hash both sides so the comparison is constant-time whatever the lengths.
    const p = digest(presented);
    let match: string | undefined;
    for (const t of tokens()) if (timingSafeEqual(p, digest(t.token)) && match === undefined) match = t.name;
    if (match === undefined) throw new Unauthorized("invalid bearer token");
    return match;
  };
}
