// A real OpenID provider (panva's oidc-provider) on loopback for tests. Consent is granted
// automatically; login is a one-field form (`login` = the user's sub), which a browser can fill in
// and `signIn` drives over HTTP for API-level tests.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import Provider, { type ClientMetadata, type KoaContextWithOIDC } from "oidc-provider";
import { listenLocal } from "./services.ts";

export interface TestUser {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  groups?: string[];
}

export interface TestIdpOptions {
  clients: ClientMetadata[];
  users: TestUser[];
  /** Access-token lifetime in seconds (default 60). */
  accessTokenTtlS?: number;
}

export interface TestIdp {
  issuer: string;
  /** Follows an authorization URL through login as `sub`; returns the redirect back to the client (code and state). */
  signIn(authorizationUrl: string, sub: string): Promise<string>;
  /** Like `signIn`, but the user cancels at the login form; returns the redirect carrying `error=access_denied`. */
  cancelSignIn(authorizationUrl: string): Promise<string>;
  /** Makes the provider send its own back-channel logout token to the client's registered URI. */
  backChannelLogout(clientId: string, sub: string, sid: string): Promise<void>;
  /** Signs any claims with the provider's ID-token key (to build hostile logout tokens). */
  sign(claims: JWTPayload, typ?: string): Promise<string>;
  /** Successful token-endpoint grants so far, by grant type. */
  grants(type: "authorization_code" | "refresh_token"): number;
  /** Delays every token-endpoint response by `ms` (a slow provider). */
  setTokenDelay(ms: number): void;
  /** Changes a user's claims (e.g. groups) for the next userinfo call. */
  updateUser(user: TestUser): void;
  close(): Promise<void>;
}

/** Starts an OpenID provider on a free loopback port. */
export async function startTestIdp(opts: TestIdpOptions): Promise<TestIdp> {
  const users = new Map(opts.users.map((u) => [u.sub, u]));
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "test-rs256", alg: "RS256", use: "sig" };

  const server = createServer();
  const issuer = await listenLocal(server);
  const provider = new Provider(issuer, {
    clients: opts.clients,
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name"],
      groups: ["groups"],
    },
    scopes: ["openid", "offline_access", "email", "profile", "groups"],
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      revocation: { enabled: true, allowedPolicy: async () => true },
    },
    pkce: { required: () => true },
    // The clients under test listen on loopback, which the provider's SSRF guard would refuse.
    fetch: (url, options) => fetch(url, { ...options, dispatcher: undefined } as RequestInit),
    ttl: {
      AccessToken: opts.accessTokenTtlS ?? 60,
      IdToken: 3600,
      RefreshToken: 86_400,
      Interaction: 600,
      Grant: 86_400,
      Session: 86_400,
    },
    // Every refresh rotates the refresh token and spends the old one: the case where replicas racing
    // to refresh log users out.
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, id) {
      const user = users.get(id);
      if (!user) return undefined;
      return { accountId: id, claims: () => ({ ...users.get(id), sub: id }) };
    },
    // Consent is not what these tests are about: grant whatever was asked.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const client = ctx.oidc.client;
      const session = ctx.oidc.session;
      if (!client || !session?.accountId) return undefined;
      const existing = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope(String(ctx.oidc.params?.scope ?? "openid"));
      await grant.save();
      return grant;
    },
  });
  const counts = { authorization_code: 0, refresh_token: 0 };
  provider.on("grant.success", (ctx: KoaContextWithOIDC) => {
    const type = ctx.oidc.params?.grant_type;
    if (type === "authorization_code" || type === "refresh_token") counts[type]++;
  });
  const callback = provider.callback();

  let tokenDelayMs = 0;
  server.on("request", (req, res) => {
    if (tokenDelayMs > 0 && req.url?.startsWith("/token")) {
      setTimeout(() => callback(req, res), tokenDelayMs);
      return;
    }
    const m = /^\/interaction\/([\w-]+)(\/login|\/abort)?$/.exec(req.url ?? "");
    if (!m) return callback(req, res);
    interaction(req, res, m[2]).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });

  async function interaction(req: IncomingMessage, res: ServerResponse, action: string | undefined) {
    const details = await provider.interactionDetails(req, res);
    if (req.method === "GET" && action === undefined) {
      res.setHeader("content-type", "text/html; charset=utf-8");
      res.end(
        `<!doctype html><title>Sign in</title><form method="post" action="/interaction/${details.uid}/login">` +
          `<input name="login" autofocus><button type="submit">Sign in</button></form>`,
      );
      return;
    }
    if (req.method === "POST" && action === "/abort") {
      await provider.interactionFinished(
        req,
        res,
        { error: "access_denied" },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    if (req.method === "POST" && action === "/login") {
      const login = new URLSearchParams(await body(req)).get("login") ?? "";
      if (!users.has(login)) {
        res.statusCode = 401;
        res.end("unknown user");
        return;
      }
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: login } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    res.statusCode = 405;
    res.end();
  }

  /** A browser in miniature: one cookie jar, manual redirects, the login form posted when it shows up. */
  async function drive(
    authorizationUrl: string,
    formAction: "/login" | "/abort",
    sub: string,
  ): Promise<string> {
    const jar = new Map<string, string>();
    let url = new URL(authorizationUrl);
    let post: string | undefined;
    for (let hop = 0; hop < 12; hop++) {
      const res = await fetch(url, {
        method: post === undefined ? "GET" : "POST",
        redirect: "manual",
        headers: {
          cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; "),
          ...(post === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }),
        },
        ...(post === undefined ? {} : { body: post }),
      });
      for (const c of res.headers.getSetCookie()) {
        const pair = c.split(";", 1)[0] ?? "";
        const eq = pair.indexOf("=");
        jar.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
      post = undefined;
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        const next = new URL(location, url);
        if (next.origin !== issuer) return next.href;
        url = next;
        continue;
      }
      await res.arrayBuffer();
      if (res.status === 200 && url.pathname.startsWith("/interaction/")) {
        url = new URL(`${url.pathname}${formAction}`, url);
        post = new URLSearchParams({ login: sub }).toString();
        continue;
      }
      throw new Error(`test IdP: unexpected ${res.status} at ${url.pathname}`);
    }
    throw new Error("test IdP: too many redirects");
  }

  return {
    issuer,
    signIn: (authorizationUrl, sub) => drive(authorizationUrl, "/login", sub),
    cancelSignIn: (authorizationUrl) => drive(authorizationUrl, "/abort", ""),
    async backChannelLogout(clientId, sub, sid) {
      const client = await provider.Client.find(clientId);
      if (!client) throw new Error(`test IdP: no client ${clientId}`);
      // Present at runtime, missing from the type definitions.
      await (
        client as unknown as { backchannelLogout(sub: string, sid: string): Promise<void> }
      ).backchannelLogout(sub, sid);
    },
    sign: (claims, typ = "logout+jwt") =>
      new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: jwk.kid, typ }).sign(privateKey),
    grants: (type) => counts[type],
    setTokenDelay(ms) {
      tokenDelayMs = ms;
    },
    updateUser(user) {
      users.set(user.sub, user);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
