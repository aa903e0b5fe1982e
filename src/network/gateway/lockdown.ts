// Route lockdown: during an incident, a route admits only people on an allowed address who signed
// in through single sign-on, for a while. Set by an operator or an incident playbook through the
// control plane; stored and shared like dynamic blocks (blocks.ts): one hot-state key changed by
// compare-and-set, announced on a channel, re-read on an interval, checked from a local copy.
//
// Who gets in while a route is locked down:
// - the address: on the lockdown's own `allow` list when it has one, else on the `ipRules.allow`
//   lists configured for the route and the gateway; with neither, no one.
// - and, on a route with `auth`: a session or a Rampart access token (the credentials single
//   sign-on yields), as the route verifies them. API keys, client certificates and anonymous
//   requests are refused. A browser on an allowed address without a session is sent to sign in.
//   On a route without `auth`, the address alone decides.
import ipaddr from "ipaddr.js";
import type { Clock } from "../../platform/clock.ts";
import { Invalid, NotFound } from "../../platform/errors.ts";
import type { HotState } from "../../platform/hotstate/index.ts";
import type { Logger } from "../../platform/logging.ts";
import { isCountryTarget, normalizeTarget, sharedList, watchSharedList } from "./blocks.ts";
import { inRanges, parseRange, type Range } from "./ip-rules.ts";

const KEY = "gateway:lockdowns";
const CHANNEL = "gateway:lockdowns";
const MAX_LOCKDOWNS = 1000;
const MAX_ALLOW = 100;
const MAX_TTL_SECONDS = 30 * 86_400;

export interface RouteLockdown {
  /** The route's id (`routeId()`: its `id`, or `<host or *><path>`). */
  route: string;
  /** Addresses and CIDR ranges admitted, normalized; empty: the route's and gateway's `ipRules.allow`. */
  allow: string[];
  /** Why, for the people who read the list and the audit log. */
  reason: string;
  /** Who set it (an operator's token name, or a playbook). */
  by: string;
  createdAt: string;
  expiresAt: string;
}

/** The control plane's side: lock a route down, lift it, list what is locked. */
export interface Lockdowns {
  add(l: {
    route: string;
    ttlSeconds: number;
    reason: string;
    by: string;
    allow?: readonly string[] | undefined;
  }): Promise<RouteLockdown>;
  /** Lifts the lockdown on `route`; NotFound when there is none. */
  remove(route: string): Promise<RouteLockdown>;
  list(): Promise<RouteLockdown[]>;
}

function checkRoute(route: string): string {
  // Route ids are config-defined; this only keeps junk out of the shared list.
  if (route.length === 0 || route.length > 512 || /[\s\p{Cc}]/u.test(route))
    throw new Invalid("expected a route id, e.g. app.example.com/admin or */", "route");
  return route;
}

/** Route lockdowns in hot state, shared by every gateway. */
export function createLockdowns(hot: HotState, o: { clock: Clock }): Lockdowns {
  const shared = sharedList<RouteLockdown>(hot, {
    key: KEY,
    channel: CHANNEL,
    clock: o.clock,
    what: "lockdown list",
  });
  return {
    async add({ route, ttlSeconds, reason, by, allow = [] }) {
      const r = checkRoute(route);
      if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS)
        throw new Invalid(`must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS}`, "ttlSeconds");
      if (allow.length > MAX_ALLOW) throw new Invalid(`at most ${MAX_ALLOW} addresses or ranges`, "allow");
      const allowed = [
        ...new Set(
          allow.map((a) => {
            const t = normalizeTarget(a);
            if (isCountryTarget(t))
              throw new Invalid(`expected IP addresses or CIDR ranges; got ${t}`, "allow");
            return t;
          }),
        ),
      ];
      let lockdown: RouteLockdown | undefined;
      await shared.change((list, now) => {
        if (list.length >= MAX_LOCKDOWNS && !list.some((l) => l.route === r))
          throw new Invalid(`the lockdown list is full (${MAX_LOCKDOWNS} entries)`, "route");
        lockdown = {
          route: r,
          allow: allowed,
          reason,
          by,
          createdAt: new Date(now).toISOString(),
          expiresAt: new Date(now + ttlSeconds * 1000).toISOString(),
        };
        // Locking a route again replaces its lockdown (a new expiry, reason and allow list).
        return [...list.filter((l) => l.route !== r), lockdown];
      });
      return lockdown as RouteLockdown;
    },
    async remove(route) {
      const r = checkRoute(route);
      let removed: RouteLockdown | undefined;
      await shared.change((list) => {
        removed = list.find((l) => l.route === r);
        if (!removed) throw new NotFound(`no lockdown on ${r}`);
        return list.filter((l) => l !== removed);
      });
      return removed as RouteLockdown;
    },
    list: shared.read,
  };
}

/** A lockdown as a gateway holds it: its allow list parsed once. */
export interface LockdownInForce {
  lockdown: RouteLockdown;
  /** Epoch ms of `expiresAt`. */
  until: number;
  /** The lockdown's own allow list; undefined when it defers to the configured `ipRules.allow`. */
  allow: readonly Range[] | undefined;
}

/** A gateway's side: a local copy of the live lockdowns, kept fresh. */
export interface LockdownWatch {
  /** The lockdown on `route` in force now, if any (local lookup, no I/O). */
  lockdown(route: string): LockdownInForce | undefined;
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/** Follows the lockdown list in hot state (on announcement and every `refreshMs`), for the gateway. */
export async function watchLockdowns(
  hot: HotState,
  o: { clock: Clock; refreshMs?: number; logger?: Logger | undefined },
): Promise<LockdownWatch> {
  let byRoute = new Map<string, LockdownInForce>();
  const watch = await watchSharedList<RouteLockdown>(hot, {
    key: KEY,
    channel: CHANNEL,
    clock: o.clock,
    what: "route lockdowns",
    refreshMs: o.refreshMs,
    logger: o.logger,
    apply(list) {
      const next = new Map<string, LockdownInForce>();
      for (const l of list) {
        const own = Array.isArray(l.allow) && l.allow.length > 0 ? l.allow : undefined;
        const allow: Range[] = [];
        for (const a of own ?? [])
          try {
            allow.push(parseRange(a));
          } catch {
            // A malformed entry (written by hand) is left out: fewer addresses admitted, never more.
          }
        next.set(l.route, { lockdown: l, until: Date.parse(l.expiresAt), allow: own ? allow : undefined });
      }
      byRoute = next;
    },
  });
  return {
    lockdown(route) {
      if (byRoute.size === 0) return undefined;
      const l = byRoute.get(route);
      return l && l.until > o.clock.now().getTime() ? l : undefined;
    },
    refresh: watch.refresh,
    close: watch.close,
  };
}

/**
 * Whether a locked-down route admits `client` by address: the lockdown's own allow list when it
 * has one, else `configured` (the route's and gateway's `ipRules.allow`); neither admits no one.
 */
export function lockdownAdmitsAddress(
  l: LockdownInForce,
  client: string,
  configured: readonly Range[],
): boolean {
  const allow = l.allow ?? configured;
  if (allow.length === 0 || !ipaddr.isValid(client)) return false;
  return inRanges(ipaddr.process(client), allow);
}

/** Whether a credential is one single sign-on yields (a session, or a Rampart access token). */
export const lockdownAdmitsCredential = (credential: string | undefined): boolean =>
  credential === "session" || credential === "access-token";
