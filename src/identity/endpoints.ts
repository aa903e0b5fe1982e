// Rampart's own identity endpoints, answered by the gateway on every protected origin before
// routing: the JWKS, the client-credentials token endpoint, the SSO callback, logout and
// back-channel logout.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Invalid, RampartError } from "../platform/errors.ts";
import type { Logger } from "../platform/logging.ts";
import { type TokenEndpoint, TOKEN_PATH } from "./service-auth/index.ts";
import { clearCookie, type Session, sessionCookieName, type SessionStore } from "./sessions/index.ts";
import { LoginFailed, type RelyingParty, TooManyAttempts } from "./sso/index.ts";
import { JWKS_PATH, type TokenKeys } from "./tokens/index.ts";

export const CALLBACK_PATH = "/.rampart/sso/callback";
export const LOGOUT_PATH = "/.rampart/sso/logout";
export const BACKCHANNEL_LOGOUT_PATH = "/.rampart/sso/backchannel-logout";

const RESERVED = new Set([CALLBACK_PATH, LOGOUT_PATH, BACKCHANNEL_LOGOUT_PATH, TOKEN_PATH, JWKS_PATH]);
const MAX_FORM_BYTES = 64 * 1024;

/** Whether a request path (query allowed) is one of these endpoints. */
export function isIdentityEndpoint(path: string): boolean {
  const q = path.indexOf("?");
  return RESERVED.has(q < 0 ? path : path.slice(0, q));
}

export interface EndpointContext {
  client: string;
  encrypted: boolean;
  /** Canonical path with its query. */
  path: string;
}

export interface EndpointDeps {
  keys: TokenKeys;
  tokenEndpoint: TokenEndpoint;
  rp: RelyingParty | undefined;
  sessions: SessionStore;
  /** The session behind the request's cookie, as the identity step reads it. */
  sessionOf(req: IncomingMessage, secure: boolean): Promise<Session | null>;
  logger?: Logger | undefined;
}

/** The origin a protected request came to, for the provider's redirect URIs. */
export const originOf = (req: IncomingMessage, encrypted: boolean): string =>
  `${encrypted ? "https" : "http"}://${req.headers.host ?? "localhost"}`;

/** Answers one of the identity endpoints; errors become JSON with the status they carry. */
export async function answerEndpoint(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: EndpointContext,
  d: EndpointDeps,
): Promise<void> {
  const origin = originOf(req, ctx.encrypted);
  const url = new URL(ctx.path, origin);
  const secure = ctx.encrypted;
  try {
    switch (url.pathname) {
      case JWKS_PATH:
        return sendJson(res, 200, await d.keys.jwks(), { "cache-control": "public, max-age=300" });
      case TOKEN_PATH: {
        const body = await readBody(req, MAX_FORM_BYTES);
        if (body === undefined) return sendJson(res, 413, { error: "invalid_request" });
        const answer = await d.tokenEndpoint.handleTokenRequest({
          method: req.method ?? "GET",
          headers: req.headers,
          body,
          ip: ctx.client,
        });
        return sendJson(res, answer.status, answer.json, answer.headers);
      }
      case CALLBACK_PATH: {
        if (!d.rp) return sendJson(res, 404, { error: "no identity provider is configured" });
        const done = await d.rp.finishLogin({
          callbackUrl: url.href,
          cookieHeader: req.headers.cookie,
          ip: ctx.client,
        });
        return redirect(res, done.returnTo, done.setCookies);
      }
      case LOGOUT_PATH: {
        const session = await d.sessionOf(req, secure);
        const cleared = [clearCookie(sessionCookieName(secure), secure)];
        if (!session || !d.rp) {
          if (session) await d.sessions.destroy(session.handle);
          return redirect(res, "/", cleared);
        }
        const out = await d.rp.logout(session, `${origin}/`);
        return redirect(res, out.redirectUrl, cleared);
      }
      case BACKCHANNEL_LOGOUT_PATH: {
        if (!d.rp || req.method !== "POST") return sendJson(res, 400, { error: "invalid_request" });
        const body = await readBody(req, MAX_FORM_BYTES);
        const token = body ? new URLSearchParams(body.toString("utf8")).get("logout_token") : null;
        if (!token) return sendJson(res, 400, { error: "invalid_request" });
        await d.rp.backChannelLogout(token);
        return sendJson(res, 200, {});
      }
    }
    return sendJson(res, 404, { error: "not found" });
  } catch (err) {
    if (err instanceof TooManyAttempts)
      return sendJson(res, 429, { error: err.message }, { "retry-after": String(err.retryAfterS) });
    if (err instanceof LoginFailed || err instanceof Invalid || err instanceof RampartError)
      return sendJson(res, err.status, { error: err.message });
    d.logger?.error({ err: (err as Error).message, path: url.pathname }, "identity endpoint failed");
    return sendJson(res, 500, { error: "internal error" });
  }
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", () => resolve(undefined));
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function redirect(res: ServerResponse, location: string, cookies: string[] = []) {
  res.writeHead(303, { location, "cache-control": "no-store", "content-length": 0, "set-cookie": cookies });
  res.end();
}
