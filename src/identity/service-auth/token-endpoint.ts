// The OAuth 2.0 token endpoint for service accounts: the client credentials grant (RFC 6749
// §4.4) with client_secret_basic or client_secret_post (§2.3.1), answering errors as §5.2 says.
// Framework-free: the gateway hands it the raw request parts and writes back what it returns.
import type { Clock } from "../../platform/clock.ts";
import { newEvent, type SecurityEvent } from "../../platform/events/index.ts";
import type { ServiceAccounts } from "./accounts.ts";
import type { AccessTokens } from "./access-tokens.ts";
import type { ClientLockout } from "./lockout.ts";

/** Where the gateway mounts the endpoint. */
export const TOKEN_PATH = "/.rampart/token";

export interface TokenRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  /** The raw body. */
  body: string | Uint8Array;
  /** The client IP (after trusted proxies). */
  ip: string;
}

export interface TokenResponse {
  status: number;
  headers: Record<string, string>;
  json: Record<string, unknown>;
}

export interface TokenEndpointOptions {
  accounts: ServiceAccounts;
  accessTokens: AccessTokens;
  lockout: ClientLockout;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
}

export interface TokenEndpoint {
  /** Answers one token request; never throws for bad input (only when hot state is down: Unavailable). */
  handleTokenRequest(req: TokenRequest): Promise<TokenResponse>;
}

const MAX_BODY = 8192;
const MAX_CLIENT_ID = 128;
const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" };

function error(
  status: number,
  code: string,
  description: string,
  extra: Record<string, string> = {},
): TokenResponse {
  return {
    status,
    headers: { ...NO_STORE, ...extra },
    json: { error: code, error_description: description },
  };
}

const invalidRequest = (d: string) => error(400, "invalid_request", d);
// §5.2: a client that tried the Authorization header gets 401 with a matching challenge.
const invalidClient = (d = "client authentication failed") =>
  error(401, "invalid_client", d, { "www-authenticate": 'Basic realm="rampart", charset="UTF-8"' });

/** application/x-www-form-urlencoded decoding of one component; undefined if malformed. */
function formDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

type Credentials = { clientId: string; secret: string; method: "client_secret_basic" | "client_secret_post" };

function readCredentials(
  header: string | string[] | undefined,
  params: URLSearchParams,
): Credentials | TokenResponse {
  const postedId = params.get("client_id");
  const postedSecret = params.get("client_secret");
  if (header !== undefined) {
    if (postedSecret !== null) return invalidRequest("use one client authentication method, not two");
    const m = typeof header === "string" ? /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header) : null;
    if (!m) return invalidClient("expected HTTP Basic client authentication");
    const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const clientId = colon > 0 ? formDecode(decoded.slice(0, colon)) : undefined;
    const secret = colon > 0 ? formDecode(decoded.slice(colon + 1)) : undefined;
    if (!clientId || secret === undefined) return invalidClient("malformed HTTP Basic credentials");
    if (postedId !== null && postedId !== clientId)
      return invalidRequest("client_id differs from the authenticated client");
    return { clientId, secret, method: "client_secret_basic" };
  }
  if (postedId === null || postedSecret === null) return invalidClient("client authentication required");
  return { clientId: postedId, secret: postedSecret, method: "client_secret_post" };
}

/** The token endpoint; see the module comment. */
export function createTokenEndpoint(opts: TokenEndpointOptions): TokenEndpoint {
  const { accounts, accessTokens, lockout, clock, emit } = opts;

  function event(
    type: string,
    clientId: string,
    outcome: "success" | "failure",
    data: Record<string, unknown>,
  ) {
    emit(
      newEvent(
        {
          type,
          severity: outcome === "success" ? "info" : "low",
          actor: { kind: "service", id: clientId },
          outcome,
          data,
        },
        clock.now(),
      ),
    );
  }

  return {
    async handleTokenRequest(req) {
      if (req.method.toUpperCase() !== "POST")
        return {
          ...invalidRequest("the token endpoint takes POST"),
          status: 405,
          headers: { ...NO_STORE, allow: "POST" },
        };
      const type = req.headers["content-type"];
      if (
        typeof type !== "string" ||
        type.split(";")[0]!.trim().toLowerCase() !== "application/x-www-form-urlencoded"
      )
        return invalidRequest("expected Content-Type application/x-www-form-urlencoded");
      const raw = typeof req.body === "string" ? req.body : Buffer.from(req.body).toString("utf8");
      if (raw.length > MAX_BODY) return invalidRequest("request body too large");
      const params = new URLSearchParams(raw);
      const names = [...params.keys()];
      // §3.2: parameters must not repeat; a repeat could smuggle a second value past a check.
      if (new Set(names).size !== names.length) return invalidRequest("a parameter is repeated");

      const creds = readCredentials(req.headers.authorization, params);
      if ("status" in creds) return creds;
      const { clientId, secret, method } = creds;
      if (clientId.length > MAX_CLIENT_ID) return invalidClient();

      const wait = await lockout.retryAfterMs(clientId, req.ip);
      if (wait > 0) {
        event("identity.client_auth_failed", clientId, "failure", {
          ip: req.ip,
          method,
          reason: "locked_out",
        });
        return error(429, "invalid_client", "too many failed attempts; try again later", {
          "retry-after": String(Math.ceil(wait / 1000)),
        });
      }
      const account = accounts.get(clientId);
      if (!accounts.checkSecret(clientId, secret) || !account) {
        await lockout.failed(clientId, req.ip);
        event("identity.client_auth_failed", clientId, "failure", {
          ip: req.ip,
          method,
          reason: "bad_credentials",
        });
        return invalidClient();
      }
      await lockout.succeeded(clientId);

      const grantType = params.get("grant_type");
      if (grantType === null) return invalidRequest("grant_type is required");
      if (grantType !== "client_credentials")
        return error(400, "unsupported_grant_type", "only client_credentials is supported");
      const scopeParam = params.get("scope");
      const asked =
        scopeParam === null ? account.scopes : [...new Set(scopeParam.split(" ").filter(Boolean))];
      const refused = asked.filter((s) => !account.scopes.includes(s));
      if (refused.length > 0 || (scopeParam !== null && asked.length === 0))
        return error(400, "invalid_scope", "a requested scope is not allowed for this client");

      const issued = await accessTokens.issue(account, asked);
      event("identity.token_issued", clientId, "success", {
        ip: req.ip,
        method,
        scope: issued.scope,
        expiresIn: issued.expiresIn,
      });
      return {
        status: 200,
        headers: { ...NO_STORE },
        json: {
          access_token: issued.accessToken,
          token_type: "Bearer",
          expires_in: issued.expiresIn,
          scope: issued.scope,
        },
      };
    },
  };
}
