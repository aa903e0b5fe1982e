// Bot protection per route: a score from 0 (a person) to 100 (a bot) from what the request says
// about itself, crawlers verified by forward-confirmed reverse DNS, and the route's action by
// score: allow, challenge (a proof-of-work page, see bot-challenge.ts) or block. Signals are
// heuristics a browser never trips on its own; each weighs enough to matter only together with
// another, except a bot user agent and a crawler that is not who it claims to be.
import { Resolver } from "node:dns/promises";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import ipaddr from "ipaddr.js";
import { isbot } from "isbot";
import type { z } from "zod";
import type { botPolicySchema } from "../../config/schema.ts";
import type { Clock } from "../../platform/clock.ts";
import {
  answerChallenge,
  type BotClearance,
  CHALLENGE_PATH,
  createBotClearance,
  sendChallenge,
  withoutClearanceCookie,
} from "./bot-challenge.ts";

type BotPolicyConfig = z.output<typeof botPolicySchema>;

export type BotSignal =
  /** isbot knows the user agent (curl, python-requests, HeadlessChrome, crawlers…). */
  | "bot_user_agent"
  /** No User-Agent at all: every browser sends one. */
  | "no_user_agent"
  /** Claims a search crawler, but its address does not resolve to that crawler's domain. */
  | "fake_crawler"
  /** A browser user agent without a header every browser sends on every request. */
  | "no_accept"
  | "no_accept_language"
  | "no_accept_encoding"
  /** Client hints that contradict the user agent (see clientHintsMismatch). */
  | "client_hints_mismatch"
  /** More requests from this address on this route than maxRequestsPerMinute. */
  | "over_rate";

export const SIGNAL_WEIGHTS: Readonly<Record<BotSignal, number>> = {
  bot_user_agent: 60,
  no_user_agent: 60,
  fake_crawler: 100,
  no_accept: 15,
  no_accept_language: 15,
  no_accept_encoding: 15,
  client_hints_mismatch: 25,
  over_rate: 40,
};

export interface BotVerdict {
  action: "allow" | "challenge" | "block";
  score: number;
  signals: readonly BotSignal[];
  /** A search crawler whose address was verified: scored 0 whatever else it shows. */
  crawler?: string;
  /** The request carried a valid clearance cookie, so it was not challenged again. */
  cleared?: boolean;
}

const BROWSER = /^Mozilla\/5\.0 \(/;
// Chromium has sent Sec-CH-UA on every request in a secure context since version 89. Android
// WebView is left out: when it sends hints depends on the embedding app.
const CHROMIUM = /\bChrome\/(\d+)\./;
const WEBVIEW = /; wv\)/;
// Firefox and Safari have never sent client hints.
const NO_HINTS = /\bFirefox\/\d|\bVersion\/[\d.]+ (Mobile\/\w+ )?Safari\//;

/** A Chromium UA without Sec-CH-UA over HTTPS, or a Firefox or Safari UA with it. */
export function clientHintsMismatch(h: IncomingHttpHeaders, ua: string, encrypted: boolean): boolean {
  const hints = h["sec-ch-ua"] !== undefined;
  const chromium = CHROMIUM.exec(ua);
  if (chromium && !WEBVIEW.test(ua)) return encrypted && !hints && Number(chromium[1]) >= 89;
  return hints && NO_HINTS.test(ua);
}

/** The signals a request shows by its headers alone (no rate, no DNS). */
export function headerSignals(h: IncomingHttpHeaders, encrypted: boolean): BotSignal[] {
  const ua = h["user-agent"];
  if (ua === undefined || ua.trim() === "") return ["no_user_agent"];
  if (isbot(ua)) return ["bot_user_agent"];
  if (!BROWSER.test(ua)) return [];
  const out: BotSignal[] = [];
  // A WebSocket handshake carries no Accept in any browser.
  if (h.accept === undefined && h.upgrade === undefined) out.push("no_accept");
  if (h["accept-language"] === undefined) out.push("no_accept_language");
  if (h["accept-encoding"] === undefined) out.push("no_accept_encoding");
  if (clientHintsMismatch(h, ua, encrypted)) out.push("client_hints_mismatch");
  return out;
}

export const scoreOf = (signals: readonly BotSignal[]) =>
  Math.min(
    100,
    signals.reduce((sum, s) => sum + SIGNAL_WEIGHTS[s], 0),
  );

/** A search crawler and the domains its addresses resolve to, as its operator documents them. */
export interface Crawler {
  name: string;
  userAgent: RegExp;
  domains: readonly string[];
}

// googleusercontent.com is left out on purpose: anyone's cloud VM resolves there.
export const CRAWLERS: readonly Crawler[] = [
  {
    name: "google",
    userAgent:
      /Googlebot|AdsBot-Google|Mediapartners-Google|Google-InspectionTool|GoogleOther|Storebot-Google/,
    domains: ["googlebot.com", "google.com"],
  },
  { name: "bing", userAgent: /bingbot|BingPreview|msnbot|adidxbot/i, domains: ["search.msn.com"] },
  { name: "apple", userAgent: /Applebot/, domains: ["applebot.apple.com"] },
  {
    name: "yandex",
    userAgent: /YandexBot|YandexImages|YandexMobileBot/,
    domains: ["yandex.ru", "yandex.net", "yandex.com"],
  },
  { name: "baidu", userAgent: /Baiduspider/, domains: ["baidu.com", "baidu.jp"] },
  { name: "yahoo", userAgent: /Yahoo! Slurp/, domains: ["crawl.yahoo.net"] },
];

export const claimedCrawler = (ua: string | undefined): Crawler | undefined =>
  ua === undefined ? undefined : CRAWLERS.find((c) => c.userAgent.test(ua));

export interface CrawlerVerifier {
  /** Whether `ip` is `crawler`'s: its PTR names lie in the crawler's domains and resolve back to it. */
  verify(crawler: Crawler, ip: string): Promise<boolean>;
}

/**
 * Forward-confirmed reverse DNS, as Google and Bing document it. Answers are cached (a lookup
 * that timed out or failed only briefly), concurrent requests share one lookup, and past
 * `maxInFlight` lookups a claim is simply unverified, so fake crawlers from many addresses cannot
 * queue up DNS work. No lookup holds a request longer than `timeoutMs`.
 */
export function createCrawlerVerifier(o: {
  servers?: readonly string[];
  clock: Clock;
  timeoutMs?: number;
  ttlMs?: number;
  failureTtlMs?: number;
  maxEntries?: number;
  maxInFlight?: number;
}): CrawlerVerifier {
  const timeoutMs = o.timeoutMs ?? 1500;
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  if (o.servers && o.servers.length > 0) resolver.setServers([...o.servers]);
  const cache = new Map<string, { verified: boolean; until: number }>();
  const inFlight = new Map<string, Promise<boolean>>();
  const maxEntries = o.maxEntries ?? 10_000;
  const remember = (key: string, verified: boolean, ttl: number) => {
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(key, { verified, until: o.clock.now().getTime() + ttl });
  };
  const inDomains = (name: string, domains: readonly string[]) => {
    const n = name.toLowerCase().replace(/\.$/, "");
    return domains.some((d) => n.endsWith(`.${d}`));
  };
  const sameIp = (a: string, b: string) => ipaddr.isValid(a) && ipaddr.process(a).toString() === b;

  // Throws only on DNS failures worth retrying soon; "no such name" is a definite no.
  async function lookup(crawler: Crawler, ip: string): Promise<boolean> {
    let names: string[];
    try {
      names = await resolver.reverse(ip);
    } catch (err) {
      if ((err as { code?: string }).code === "ENOTFOUND") return false;
      throw err;
    }
    const v6 = ip.includes(":");
    for (const name of names.filter((n) => inDomains(n, crawler.domains)).slice(0, 3)) {
      const addresses = await (v6 ? resolver.resolve6(name) : resolver.resolve4(name)).catch((err) => {
        if ((err as { code?: string }).code === "ENOTFOUND" || (err as { code?: string }).code === "ENODATA")
          return [];
        throw err;
      });
      if (addresses.some((a) => sameIp(a, ip))) return true;
    }
    return false;
  }

  return {
    async verify(crawler, ip) {
      const key = `${crawler.name}\0${ip}`;
      const hit = cache.get(key);
      if (hit && hit.until > o.clock.now().getTime()) return hit.verified;
      const pending = inFlight.get(key);
      if (pending) return pending;
      if (inFlight.size >= (o.maxInFlight ?? 64)) return false;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
      });
      const p = Promise.race([lookup(crawler, ip), deadline])
        .then(
          (r) => {
            const verified = r === true;
            remember(key, verified, r === "timeout" ? (o.failureTtlMs ?? 30_000) : (o.ttlMs ?? 3_600_000));
            return verified;
          },
          () => {
            remember(key, false, o.failureTtlMs ?? 30_000);
            return false;
          },
        )
        .finally(() => {
          clearTimeout(timer);
          inFlight.delete(key);
        });
      inFlight.set(key, p);
      return p;
    },
  };
}

/**
 * Requests per client in the last minute, as a sliding window over two one-minute buckets (the
 * previous bucket weighted by how much of it still overlaps). Holds at most `maxClients`; the
 * least recently active client is forgotten first.
 */
export function createRequestRate(o: { clock: Clock; maxClients?: number }) {
  const clients = new Map<string, { minute: number; current: number; previous: number }>();
  const max = o.maxClients ?? 10_000;
  return {
    /** Counts one request from `client` and returns its rate per minute. */
    hit(client: string): number {
      const t = o.clock.now().getTime() / 60_000;
      const minute = Math.floor(t);
      let c = clients.get(client);
      if (!c || c.minute < minute) {
        // Re-inserted once a minute at most, which keeps the Map in order of recent activity.
        const fresh = {
          minute,
          current: 0,
          previous: c && c.minute === minute - 1 ? c.current : 0,
        };
        clients.delete(client);
        if (clients.size >= max) clients.delete(clients.keys().next().value as string);
        clients.set(client, fresh);
        c = fresh;
      }
      c.current++;
      return c.current + c.previous * (1 - (t - minute));
    },
  };
}

export interface BotPolicy {
  /** Scores the request and picks the route's action for it. */
  check(req: IncomingMessage, client: string, encrypted: boolean): Promise<BotVerdict>;
  /** Answers with a fresh challenge at this route's difficulty (a page, or JSON for non-browsers). */
  challenge(req: IncomingMessage, res: ServerResponse, client: string, requestId: string): void;
}

export function compileBotPolicy(
  c: BotPolicyConfig,
  deps: { verifier: CrawlerVerifier; clearance: BotClearance; clock: Clock },
): BotPolicy {
  const rate = createRequestRate({ clock: deps.clock });
  const actionFor = (score: number): BotVerdict["action"] => {
    if (c.action === "allow") return "allow";
    if (c.action === "block" && score > c.blockAbove) return "block";
    return score > c.challengeAbove ? "challenge" : "allow";
  };
  return {
    challenge(req, res, client, requestId) {
      const token = deps.clearance.challenge({
        client,
        userAgent: req.headers["user-agent"] ?? "",
        bits: c.difficultyBits,
        cookieTtlSeconds: c.cookieTtlSeconds,
        returnTo: req.url ?? "/",
      });
      sendChallenge(req, res, token, c.difficultyBits, requestId);
    },
    async check(req, client, encrypted) {
      const over = rate.hit(client) > c.maxRequestsPerMinute;
      const ua = req.headers["user-agent"];
      const crawler = c.verifyCrawlers ? claimedCrawler(ua) : undefined;
      let signals: BotSignal[];
      if (crawler) {
        if (await deps.verifier.verify(crawler, client))
          return { action: "allow", score: 0, signals: [], crawler: crawler.name };
        signals = ["fake_crawler"];
      } else signals = headerSignals(req.headers, encrypted);
      if (over) signals.push("over_rate");
      const score = scoreOf(signals);
      const action = actionFor(score);
      // A solved challenge stands in for a challenge, never for a block.
      if (
        action === "challenge" &&
        deps.clearance.cleared(req.headers, client, c.difficultyBits, c.cookieTtlSeconds)
      )
        return { action: "allow", score, signals, cleared: true };
      return { action, score, signals };
    },
  };
}

export interface BotProtection {
  clearance: BotClearance;
  forRoute(c: BotPolicyConfig | undefined): BotPolicy | undefined;
  /** Whether `path` is the reserved path challenge solutions are posted to. */
  reserves(path: string): boolean;
  /** Answers a posted solution: the cookie and a redirect back, or a refusal. */
  answer(
    req: IncomingMessage,
    res: ServerResponse,
    o: { client: string; secure: boolean; requestId: string },
  ): Promise<"cleared" | "stale" | "failed" | "not_post">;
}

/** What every route with `bots` shares: the signing key and the crawler DNS cache. */
export function createBotProtection(o: {
  cookieSecret?: string | undefined;
  dnsServers?: readonly string[];
  clock: Clock;
}): BotProtection {
  const clearance = createBotClearance({ secret: o.cookieSecret, clock: o.clock });
  const verifier = createCrawlerVerifier({ servers: o.dnsServers ?? [], clock: o.clock });
  return {
    clearance,
    forRoute: (c) => (c ? compileBotPolicy(c, { verifier, clearance, clock: o.clock }) : undefined),
    reserves: (path) =>
      path.startsWith(CHALLENGE_PATH) &&
      (path.length === CHALLENGE_PATH.length || path[CHALLENGE_PATH.length] === "?"),
    answer: (req, res, a) => answerChallenge(req, res, { clearance, ...a }),
  };
}

/** What the upstream learns: the score, and not our cookie (it set none of its own by that name). */
export function botForwardHeaders(headers: Record<string, string | string[]>, verdict: BotVerdict): void {
  headers["x-rampart-bot-score"] = String(verdict.score);
  const cookie = headers.cookie;
  if (typeof cookie !== "string") return;
  const rest = withoutClearanceCookie(cookie);
  if (rest === undefined) delete headers.cookie;
  else headers.cookie = rest;
}
