// What every request goes through before it is forwarded: who the client is, which route, and the
// route's checks in order (dynamic blocks, IP rules, lockdown, geo, identity and policy, bots, rate limits).
// Shared by plain requests and WebSocket upgrades. A check refuses with a status and a message fit for the client.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { type GatewayConfig, type RouteConfig, routeId } from "../../config/index.ts";
import {
  type AccessOutcome,
  type GatewayAccess,
  type Identity,
  type RouteIdentity,
  stripRampartCookies,
} from "../../identity/index.ts";
import type { WafPolicy } from "../waf/index.ts";
import type { Clock } from "../../platform/clock.ts";
import type { BlockWatch } from "./blocks.ts";
import { CHALLENGE_PATH } from "./bot-challenge.ts";
import { botForwardHeaders, type BotPolicy, type BotProtection } from "./bots.ts";
import { createClientIpResolver, normalizeIp } from "./client-ip.ts";
import { compileCors, type Cors } from "./cors.ts";
import type { DecisionRecorder } from "./decisions.ts";
import { compileGeoRules, type CountryLookup, type GeoPolicy } from "./geo.ts";
import { upstreamRequestHeaders } from "./headers.ts";
import { compileIpRules, type IpRules, parseRanges } from "./ip-rules.ts";
import { lockdownAdmitsAddress, lockdownAdmitsCredential, type LockdownWatch } from "./lockdown.ts";
import type { RateLimiting, RouteLimiter } from "./rate-limit.ts";
import { canonicalTarget, compileRoutes, createRouter, hostName, type Route } from "./routes.ts";
import { compileSecurityHeaders, type HeaderSet } from "./security-headers.ts";
import { createUpstreamSet, type UpstreamSet } from "./upstreams.ts";

/** Everything a route needs per request, compiled once. */
export interface RouteControls {
  /** The route as people name it: `host/path`, `*` for any host. */
  name: string;
  upstreams: UpstreamSet;
  ipRules: IpRules;
  /** The route's and gateway's `ipRules.allow`: who a lockdown without its own list admits. */
  lockdownAllow: ReturnType<typeof parseRanges>;
  /** Added to responses that lack them; HSTS only in the HTTPS set. */
  securityHeaders: HeaderSet;
  cors: Cors | undefined;
  limiter: RouteLimiter | undefined;
  geo: GeoPolicy | undefined;
  bots: BotPolicy | undefined;
  waf: WafPolicy | undefined;
  /** Present when the route has `auth` or `policy`. */
  access: RouteIdentity | undefined;
}

export interface Admitted {
  refused: false;
  requestId: string;
  path: string;
  /** The client's connection is HTTPS (here, or at a trusted proxy). */
  encrypted: boolean;
  rc: RouteControls;
  client: string;
  rateHeaders: Record<string, string> | undefined;
  forwardHeaders: Record<string, string | string[]>;
  /** Who is asking, on routes with `auth`. */
  identity: Identity | undefined;
  /** Runs the identity step again (a WebSocket is re-checked while it stays open). */
  reauthorize: (() => Promise<boolean>) | undefined;
}

export interface Refusal {
  refused: true;
  status: number;
  message: string;
  headers: Record<string, string>;
  requestId: string;
  /** The route, when the request got that far. */
  route: string | undefined;
  /** Answers in place of the error page (the bot challenge); upgrades still get `status`. */
  respond?: (req: IncomingMessage, res: ServerResponse) => unknown;
}

export interface Admission {
  admit(req: IncomingMessage): Promise<Admitted | Refusal>;
  /** Every route's controls, for metrics and shutdown. */
  routes: readonly RouteControls[];
}

const LOCKED_ADDRESS = "this route is locked down; requests from your address are not admitted for now";
const LOCKED_CREDENTIAL = "this route is locked down; sign in with single sign-on to use it";

/**
 * Why a locked-down route refuses a request that passed its address check, or undefined: on a
 * route with `auth`, only a session or an access token gets in (a browser without one is sent to
 * sign in as usual); on a route without `auth`, the address alone decides.
 */
function lockdownRefuses(rc: RouteControls, authorized: AccessOutcome | undefined): string | undefined {
  if (rc.access?.auth === undefined) return undefined;
  if (authorized === undefined) return "no_credential";
  if (!authorized.allowed)
    return authorized.decision === "auth_required" && authorized.status !== 302 ? "no_credential" : undefined;
  const credential = authorized.identity?.credential;
  if (credential === undefined) return "no_credential";
  return lockdownAdmitsCredential(credential) ? undefined : credential;
}

export function createAdmission(o: {
  gateway: GatewayConfig;
  routes: readonly RouteConfig[];
  limiting: RateLimiting;
  countries: CountryLookup | undefined;
  blocks: BlockWatch | undefined;
  /** Route lockdowns in force (lockdown.ts); absent: none. */
  lockdowns?: LockdownWatch | undefined;
  decisions: DecisionRecorder;
  clock: Clock;
  /** Present when some route has `bots`. */
  bots?: BotProtection | undefined;
  /** Present when some route has `auth` or `policy`, or service accounts are configured. */
  access?: GatewayAccess | undefined;
}): Admission {
  const g = o.gateway;
  const routes = compileRoutes(o.routes);
  const route = createRouter(routes);
  const controls = new Map<Route, RouteControls>(
    routes.map((r) => {
      const c = o.routes[r.index] as RouteConfig;
      return [
        r,
        {
          name: routeId(c),
          upstreams: createUpstreamSet(r.upstreams, { ...g, clock: o.clock, upstreamTls: c.upstreamTls }),
          ipRules: compileIpRules(g.ipRules, c.ipRules),
          lockdownAllow: parseRanges([...g.ipRules.allow, ...c.ipRules.allow]),
          securityHeaders: compileSecurityHeaders(c.securityHeaders),
          cors: c.cors ? compileCors(c.cors) : undefined,
          limiter: o.limiting.forRoute(c.rateLimits),
          geo: c.geo ? compileGeoRules(c.geo, g.geo.unknownCountries) : undefined,
          bots: o.bots?.forRoute(c.bots),
          waf: c.waf,
          access: o.access?.forRoute({ ...c, id: routeId(c) }),
        },
      ];
    }),
  );
  const clientIp = createClientIpResolver(g.trustedProxies);
  // The peer and whether it is a trusted proxy, parsed once per connection, not per request.
  const peers = new WeakMap<Socket, { peer: string; trusted: boolean }>();
  const peerOf = (socket: Socket) => {
    let p = peers.get(socket);
    if (!p) {
      const peer = normalizeIp(socket.remoteAddress ?? "") ?? "unknown";
      p = { peer, trusted: clientIp.trusts(peer) };
      peers.set(socket, p);
    }
    return p;
  };
  const { decisions } = o;

  async function admit(req: IncomingMessage): Promise<Admitted | Refusal> {
    const requestId = randomUUID();
    const { peer, trusted } = peerOf(req.socket);
    // HTTPS as far as the client is concerned: TLS here, or at a trusted proxy that says so.
    const encrypted =
      (req.socket as TLSSocket).encrypted === true ||
      (trusted && req.headers["x-forwarded-proto"] === "https");
    const forwardedFor = req.headers["x-forwarded-for"];
    const client =
      trusted && forwardedFor !== undefined
        ? clientIp.client(peer, Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
        : peer;
    const target = req.url ?? "/";
    const refuse = (
      status: number,
      message: string,
      route?: string,
      headers: Record<string, string> = {},
    ): Refusal => ({ refused: true, status, message, headers, requestId, route });
    if (!target.startsWith("/")) return refuse(400, "the request target must be a path");
    const path = canonicalTarget(target);
    if (path === undefined)
      return refuse(400, "the request path is ambiguous (dot segments or backslashes); send it resolved");
    // A blocked address or country gets nothing, not even the bot check's endpoint. The country
    // is looked up here only while some country is blocked.
    const blocks = o.blocks;
    let block = blocks?.blocking(client);
    let country: string | undefined;
    let countryKnown = false;
    if (block === undefined && blocks?.blocksCountries() === true) {
      country = (o.countries ?? blocks.countryLookup())?.country(client);
      countryKnown = true;
      block = blocks.blockingCountry(country);
    }
    const blocked = block !== undefined;
    const bots = o.bots;
    if (bots?.reserves(path) && !blocked)
      return {
        ...refuse(403, "the browser check answers POST only", CHALLENGE_PATH),
        respond: async (req, res) => {
          const outcome = await bots.answer(req, res, { client, secure: encrypted, requestId });
          if (outcome === "failed")
            decisions.record("bot_blocked", CHALLENGE_PATH, client, "failed_challenge");
        },
      };
    const access = o.access;
    if (access?.reserves(path) && !blocked)
      return {
        ...refuse(404, "not found", "identity"),
        respond: (req, res) => access.answer(req, res, { client, country: undefined, encrypted, path }),
      };
    const r = route(hostName(req.headers.host), path);
    if (!r) return refuse(404, "no route for this host and path");
    const rc = controls.get(r) as RouteControls;
    if (blocked) {
      if (countryKnown) {
        decisions.record("country_blocked", rc.name, client, `country:${country ?? "unknown"}`);
        return refuse(403, "requests from your country are blocked for now", rc.name);
      }
      decisions.record("ip_blocked", rc.name, client);
      return refuse(403, "requests from your address are blocked for now", rc.name);
    }
    if (rc.ipRules.refuses(client)) {
      decisions.record("ip_denied", rc.name, client);
      return refuse(403, "requests from your address are not allowed here", rc.name);
    }
    const lockdown = o.lockdowns?.lockdown(rc.name);
    if (lockdown !== undefined && !lockdownAdmitsAddress(lockdown, client, rc.lockdownAllow)) {
      decisions.record("lockdown_denied", rc.name, client, "address");
      return refuse(403, LOCKED_ADDRESS, rc.name);
    }
    if (!countryKnown && (rc.geo || rc.access?.policy)) country = o.countries?.country(client);
    if (rc.geo?.refuses(country)) {
      decisions.record("geo_denied", rc.name, client, country ?? "unknown");
      return refuse(403, "requests from your country are not allowed here", rc.name);
    }
    // Rate limits come before sign-in: a flood must not fill hot state with login records.
    const rate = rc.limiter ? await rc.limiter.check(client, rc.name, req.headers) : undefined;
    if (rate?.kind === "unavailable")
      return refuse(503, "rate limiting is unavailable; try again shortly", rc.name, { "retry-after": "5" });
    if (rate?.kind === "limited") {
      decisions.record("rate_limited", rc.name, client, rate.limit);
      return refuse(429, "too many requests", rc.name, {
        "retry-after": String(rate.retryAfterS),
        ...rate.headers,
      });
    }
    const context = { client, country, encrypted, path };
    const authorized =
      rc.access && access
        ? (access.authorizeNow(req, rc.access, context) ?? (await access.authorize(req, rc.access, context)))
        : undefined;
    const locked = lockdown !== undefined ? lockdownRefuses(rc, authorized) : undefined;
    if (locked !== undefined) {
      decisions.record("lockdown_denied", rc.name, client, locked);
      return refuse(403, LOCKED_CREDENTIAL, rc.name);
    }
    if (authorized && !authorized.allowed) {
      decisions.record(authorized.decision, rc.name, client, authorized.detail);
      const { status, message, headers } = authorized;
      if (status !== 302) return refuse(status, message, rc.name, headers);
      return {
        ...refuse(401, message, rc.name),
        respond: (_req, res) => {
          res.writeHead(302, { ...headers, "x-request-id": requestId, "content-length": 0 });
          res.end();
        },
      };
    }
    if (authorized?.shadowDenied !== undefined)
      decisions.record("policy_shadow_denied", rc.name, client, authorized.shadowDenied);
    const identity = authorized?.identity;
    // Service accounts are automated by design: bot checks are for anonymous and human traffic.
    const bot =
      rc.bots && identity?.kind !== "service" ? await rc.bots.check(req, client, encrypted) : undefined;
    if (bot?.action === "block") {
      decisions.record("bot_blocked", rc.name, client, bot.signals.join(","));
      return refuse(403, "automated requests are not allowed here", rc.name);
    }
    if (bot?.action === "challenge") {
      decisions.record("challenged", rc.name, client, bot.signals.join(","));
      const policy = rc.bots as BotPolicy;
      return {
        ...refuse(403, "this route admits browsers after a JavaScript check", rc.name),
        respond: (req, res) => policy.challenge(req, res, client, requestId),
      };
    }
    // Rampart's cookies and credentials reach no upstream, on any route: an app behind a public
    // route could otherwise replay a user's session.
    const cookie = req.headers.cookie;
    const forwardHeaders = upstreamRequestHeaders(req.headers, {
      client,
      peer,
      peerTrusted: trusted,
      proto: encrypted ? "https" : "http",
      requestId,
      ...(cookie !== undefined && cookie.includes("rampart_")
        ? { cookie: { value: stripRampartCookies(cookie) } }
        : {}),
      dropAuthorization:
        authorized?.dropAuthorization === true ||
        access?.carriesCredential(req.headers.authorization) === true,
    });
    if (bot) botForwardHeaders(forwardHeaders, bot);
    if (authorized) Object.assign(forwardHeaders, authorized.headers);
    const routeAccess = rc.access;
    return {
      refused: false,
      requestId,
      path,
      encrypted,
      rc,
      client,
      rateHeaders: rate?.headers,
      forwardHeaders,
      identity,
      reauthorize:
        routeAccess && access
          ? async () => {
              const again = await access.authorize(req, routeAccess, context);
              // A lockdown set while the WebSocket is open closes it unless it would admit it now.
              const l = o.lockdowns?.lockdown(rc.name);
              if (l === undefined) return again.allowed;
              return (
                again.allowed &&
                lockdownAdmitsAddress(l, client, rc.lockdownAllow) &&
                lockdownRefuses(rc, again) === undefined
              );
            }
          : undefined,
    };
  }

  return { admit, routes: [...controls.values()] };
}
