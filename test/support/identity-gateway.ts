// What the identity end-to-end tests share: an upstream that echoes what it was sent, the IdP
// client registration for a gateway origin, and a browser's sign-in driven over HTTP.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { ClientMetadata } from "oidc-provider";
import { expect } from "vitest";
import type { RampartConfig } from "../../src/config/index.ts";
import { type Gateway, startGateway } from "../../src/network/gateway/proxy.ts";
import type { TestIdp } from "./oidc-provider.ts";
import { listenLocal } from "./services.ts";

export const CLIENT_ID = "rampart";
export const CLIENT_SECRET = "oidc-client-secret-0123456789abcdef";
export const TOKENS_SECRET = "identity-secret-shared-by-every-replica-0123";

/** Headers of a browser navigating: the gateway answers them with a redirect to sign in. */
export const BROWSER = { accept: "text/html,application/xhtml+xml", "user-agent": "Mozilla/5.0 test" };
/** Headers of an API client: the gateway answers them with 401. */
export const API = { accept: "application/json" };

/** What the echo upstream was sent. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** An upstream that answers every request with what it received, as JSON, and remembers it. */
export async function startEchoUpstream(): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const s = { method: req.method ?? "", url: req.url ?? "", headers: req.headers };
    seen.push(s);
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(s));
  });
  return { url: await listenLocal(server), seen, server };
}

/** The IdP's registration of the gateway(s) at `origins`, with back-channel logout. */
export function rampartClient(...origins: string[]): ClientMetadata {
  const first = origins[0] as string;
  return {
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: origins.map((o) => `${o}/.rampart/sso/callback`),
    post_logout_redirect_uris: origins.map((o) => `${o}/`),
    backchannel_logout_uri: `${first}/.rampart/sso/backchannel-logout`,
    backchannel_logout_session_required: true,
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  };
}

/** The `identity.providers` entry for the test IdP. */
export const corpProvider = (issuer: string) => ({
  id: "corp",
  issuer,
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  scopes: ["openid", "email", "profile", "groups", "offline_access"],
});

export const cookiePair = (setCookie: string) => setCookie.split(";", 1)[0] as string;

/** The value of the session cookie in a `name=value` pair. */
export const cookieValue = (pair: string) => pair.slice(pair.indexOf("=") + 1);

/** GET through the gateway at `base`, redirects not followed. */
export const get = (base: string, path: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { headers, redirect: "manual" });

/** Signs `sub` in through the gateway at `base` the way a browser would; returns the session cookie pair. */
export async function signIn(base: string, idp: TestIdp, sub: string, path: string): Promise<string> {
  const start = await get(base, path, BROWSER);
  expect(start.status).toBe(302);
  const login = cookiePair(start.headers.getSetCookie()[0] as string);
  const callback = await idp.signIn(start.headers.get("location") as string, sub);
  const done = await fetch(callback, { headers: { cookie: login }, redirect: "manual" });
  expect(done.status).toBe(303);
  const session = done.headers.getSetCookie().find((c) => c.startsWith("rampart_session="));
  expect(session).toBeDefined();
  return cookiePair(session as string);
}

/** Polls `refused` every 10 ms until it is true; the milliseconds that took (throws after `limitMs`). */
export async function msUntil(refused: () => Promise<boolean>, limitMs = 5000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await refused()) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`still admitted after ${limitMs} ms`);
}

type GatewayDeps = Omit<Parameters<typeof startGateway>[0], "gateway" | "routes" | "identity">;

/** A gateway in this process with a parsed rampart.yaml's gateway, routes, identity and RBAC. */
export function startConfiguredGateway(config: RampartConfig, deps: GatewayDeps = {}): Promise<Gateway> {
  return startGateway({
    gateway: config.gateway,
    routes: config.routes,
    identity: { identity: config.identity, rbac: config.rbac },
    ...deps,
  });
}
