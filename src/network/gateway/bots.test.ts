// Bot scoring, the signed challenge and cookie, and crawler verification against a real DNS
// server on loopback (answering PTR, A and AAAA from a small zone).
import { createHash } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import type { IncomingMessage } from "node:http";
import { decode, encode, type Answer } from "dns-packet";
import { afterAll, beforeAll, expect, test } from "vitest";
import { botPolicySchema, gatewayConfigSchema } from "../../config/schema.ts";
import { manualClock } from "../../platform/clock.ts";
import { CLEARANCE_COOKIE, createBotClearance, hasLeadingZeroBits, safeReturnPath } from "./bot-challenge.ts";
import {
  CRAWLERS,
  claimedCrawler,
  compileBotPolicy,
  createCrawlerVerifier,
  createRequestRate,
  headerSignals,
  scoreOf,
} from "./bots.ts";

const CHROME =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const chromeHeaders = {
  "user-agent": CHROME,
  accept: "text/html,application/xhtml+xml,*/*;q=0.8",
  "accept-language": "en-GB,en;q=0.9",
  "accept-encoding": "gzip, deflate, br, zstd",
  "sec-ch-ua": '"Chromium";v="131", "Not_A Brand";v="24"',
};

// A tiny authoritative server: PTR by address, A/AAAA by name; a name in `silent` never gets an answer.
const zone = {
  ptr: new Map<string, string>([
    ["66.249.66.1", "crawl-66-249-66-1.googlebot.com"],
    ["2001:4860:4801:10::1", "crawl-2001-4860-4801-10--1.googlebot.com"],
    ["203.0.113.5", "crawl.googlebot.com.evil.example"], // right-looking, wrong domain
    ["203.0.113.6", "crawl-spoofed.googlebot.com"], // right domain, forward lookup says otherwise
    ["157.55.39.1", "msnbot-157-55-39-1.search.msn.com"],
  ]),
  a: new Map<string, string>([
    ["crawl-66-249-66-1.googlebot.com", "66.249.66.1"],
    ["crawl.googlebot.com.evil.example", "203.0.113.5"],
    ["crawl-spoofed.googlebot.com", "66.249.66.99"],
    ["msnbot-157-55-39-1.search.msn.com", "157.55.39.1"],
  ]),
  aaaa: new Map([["crawl-2001-4860-4801-10--1.googlebot.com", "2001:4860:4801:10::1"]]),
  silent: new Set(["8.113.0.203.in-addr.arpa"]),
};
let dns: Socket;
let dnsServer: string;
const queries: string[] = [];

function arpaToIp(name: string): string | undefined {
  const labels = name.split(".");
  if (name.endsWith(".in-addr.arpa")) return labels.slice(0, 4).reverse().join(".");
  if (!name.endsWith(".ip6.arpa")) return undefined;
  const hex = labels.slice(0, 32).reverse().join("");
  const groups = hex.match(/.{4}/g) ?? [];
  for (const [ip] of zone.ptr) if (ip.includes(":") && expand6(ip) === groups.join(":")) return ip;
  return undefined;
}
const expand6 = (ip: string) => {
  const [head, tail] = ip.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  return [...h, ...Array(8 - h.length - t.length).fill("0"), ...t].map((g) => g.padStart(4, "0")).join(":");
};

beforeAll(async () => {
  dns = createSocket("udp4");
  dns.on("message", (msg, from) => {
    const q = decode(msg);
    const question = q.questions?.[0];
    if (!question) return;
    queries.push(`${question.type} ${question.name}`);
    if (zone.silent.has(question.name)) return;
    const answers: Answer[] = [];
    if (question.type === "PTR") {
      const ip = arpaToIp(question.name);
      const name = ip && zone.ptr.get(ip);
      if (name) answers.push({ type: "PTR", name: question.name, ttl: 60, data: name });
    } else if (question.type === "A" || question.type === "AAAA") {
      const ip = (question.type === "A" ? zone.a : zone.aaaa).get(question.name);
      if (ip) answers.push({ type: question.type, name: question.name, ttl: 60, data: ip });
    }
    const reply = encode({
      id: q.id,
      type: "response",
      flags: (answers.length === 0 ? 3 : 0) | (1 << 10), // NXDOMAIN when nothing matched; authoritative
      questions: q.questions,
      answers,
    });
    dns.send(reply, from.port, from.address);
  });
  await new Promise<void>((r) => dns.bind(0, "127.0.0.1", r));
  dnsServer = `127.0.0.1:${dns.address().port}`;
});
afterAll(() => dns.close());

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
const google = CRAWLERS.find((c) => c.name === "google")!;
const bing = CRAWLERS.find((c) => c.name === "bing")!;

test("browsers score 0; curl, headless browsers and spoofed browser user agents do not", () => {
  expect(headerSignals(chromeHeaders, true)).toEqual([]);
  expect(headerSignals({ ...chromeHeaders, "user-agent": FIREFOX, "sec-ch-ua": undefined }, true)).toEqual(
    [],
  );
  expect(headerSignals({ "user-agent": "curl/8.5.0", accept: "*/*" }, false)).toEqual(["bot_user_agent"]);
  expect(
    headerSignals({ ...chromeHeaders, "user-agent": CHROME.replace("Chrome", "HeadlessChrome") }, true),
  ).toEqual(["bot_user_agent"]);
  expect(headerSignals({ accept: "*/*" }, false)).toEqual(["no_user_agent"]);
  // A script that copied a browser's user agent and nothing else.
  expect(headerSignals({ "user-agent": CHROME }, true)).toEqual([
    "no_accept",
    "no_accept_language",
    "no_accept_encoding",
    "client_hints_mismatch",
  ]);
  // Chromium sends client hints only in secure contexts; Firefox never does.
  const { "sec-ch-ua": _hints, ...noHints } = chromeHeaders;
  expect(headerSignals(noHints, false)).toEqual([]);
  expect(headerSignals(noHints, true)).toEqual(["client_hints_mismatch"]);
  expect(headerSignals({ ...chromeHeaders, "user-agent": FIREFOX }, true)).toEqual(["client_hints_mismatch"]);
  // One missing header alone stays well under the default challenge threshold (40).
  expect(scoreOf(headerSignals({ ...chromeHeaders, "accept-language": undefined }, true))).toBe(15);
  expect(scoreOf(["fake_crawler", "over_rate"])).toBe(100);
});

test("the request rate is a sliding minute per client, and forgets the least recently active", () => {
  const clock = manualClock("2026-01-01T00:00:00Z");
  const rate = createRequestRate({ clock, maxClients: 2 });
  for (let i = 0; i < 59; i++) rate.hit("a");
  expect(rate.hit("a")).toBe(60);
  clock.advance(90_000); // half of the previous minute still overlaps the window
  expect(rate.hit("a")).toBe(31);
  rate.hit("b");
  clock.advance(60_000);
  rate.hit("b"); // b is now the most recently active
  rate.hit("c"); // over the bound: a goes
  expect(rate.hit("a")).toBe(1);
});

test("challenge tokens and cookies are signed, bound to IP and user agent, and expire", () => {
  const clock = manualClock("2026-01-01T00:00:00Z");
  const clearance = createBotClearance({ secret: "s".repeat(32), clock });
  const token = clearance.challenge({
    client: "198.51.100.7",
    userAgent: CHROME,
    bits: 8,
    cookieTtlSeconds: 600,
    returnTo: "/shop?item=1",
  });
  const solves = (t: string, n: number) =>
    hasLeadingZeroBits(
      createHash("sha256")
        .update(t + n)
        .digest(),
      8,
    );
  // The first nonce that solves the puzzle, and one that does not (a fixed
  // guess would solve it by chance one time in 256).
  let n = 0;
  while (!solves(token, n)) n++;
  const nonce = String(n);
  let wrong = 0;
  while (solves(token, wrong)) wrong++;
  expect(clearance.redeem(token, String(wrong), "198.51.100.7", CHROME, false)).toMatchObject({ ok: false });
  expect(clearance.redeem(token, nonce, "198.51.100.8", CHROME, false)).toEqual({
    ok: false,
    reason: "forged",
  });
  expect(clearance.redeem(token, nonce, "198.51.100.7", FIREFOX, false)).toEqual({
    ok: false,
    reason: "forged",
  });
  // Lowering the difficulty in the token breaks its signature.
  expect(clearance.redeem(token.replace(".8.", ".1."), nonce, "198.51.100.7", CHROME, false)).toEqual({
    ok: false,
    reason: "forged",
  });
  const ok = clearance.redeem(token, nonce, "198.51.100.7", CHROME, true);
  if (!ok.ok) throw new Error(`not redeemed: ${ok.reason}`);
  expect(ok.returnTo).toBe("/shop?item=1");
  expect(ok.setCookie).toMatch(
    new RegExp(`^${CLEARANCE_COOKIE}=[^;]+; Path=/; Max-Age=600; HttpOnly; SameSite=Lax; Secure$`),
  );
  const cookie = ok.setCookie.split(";")[0] as string;
  const headers = (ua: string, c = cookie) => ({ cookie: `theme=dark; ${c}`, "user-agent": ua });
  expect(clearance.cleared(headers(CHROME), "198.51.100.7", 8, 600)).toBe(true);
  expect(clearance.cleared(headers(CHROME), "198.51.100.7", 12, 600)).toBe(false); // earned on an easier route
  expect(clearance.cleared(headers(CHROME), "198.51.100.8", 8, 600)).toBe(false);
  expect(clearance.cleared(headers(FIREFOX), "198.51.100.7", 8, 600)).toBe(false);
  // Earned where clearance lasts 600 s, it does not admit to a route whose clearance lasts 60 s.
  expect(clearance.cleared(headers(CHROME), "198.51.100.7", 8, 60)).toBe(false);
  const [until, bits, mac] = cookie.split("=")[1]!.split(".") as [string, string, string];
  const later = `${CLEARANCE_COOKIE}=${Number(until) + 86_400}.${bits}.${mac}`;
  expect(clearance.cleared(headers(CHROME, later), "198.51.100.7", 8, 600)).toBe(false);
  // Another key (another deployment) does not accept it.
  const other = createBotClearance({ secret: "t".repeat(32), clock });
  expect(other.cleared(headers(CHROME), "198.51.100.7", 8, 600)).toBe(false);
  clock.advance(601_000);
  expect(clearance.cleared(headers(CHROME), "198.51.100.7", 8, 600)).toBe(false);
  // A genuine challenge past its 5 minutes sends the browser back for a new one.
  expect(clearance.redeem(token, nonce, "198.51.100.7", CHROME, true)).toEqual({
    ok: false,
    reason: "stale",
    returnTo: "/shop?item=1",
  });
});

test("the page only ever sends the browser back to a path on the same site", () => {
  expect(safeReturnPath("/a/b?c=d")).toBe("/a/b?c=d");
  for (const p of [
    "//evil.example/",
    "/\\evil.example",
    "https://evil.example/",
    "/a\r\nSet-Cookie: x",
    "/.rampart/challenge",
  ])
    expect(safeReturnPath(p)).toBe("/");
});

test("crawlers are verified by reverse DNS in their domain, forward-confirmed, and cached", async () => {
  const clock = manualClock();
  const verifier = createCrawlerVerifier({ servers: [dnsServer], clock, timeoutMs: 300 });
  expect(claimedCrawler(GOOGLEBOT)?.name).toBe("google");
  expect(await verifier.verify(google, "66.249.66.1")).toBe(true);
  expect(await verifier.verify(google, "2001:4860:4801:10::1")).toBe(true);
  expect(await verifier.verify(bing, "157.55.39.1")).toBe(true);
  expect(await verifier.verify(bing, "66.249.66.1")).toBe(false); // Google's address is not Bing's
  expect(await verifier.verify(google, "203.0.113.5")).toBe(false); // googlebot.com.evil.example
  expect(await verifier.verify(google, "203.0.113.6")).toBe(false); // its name points elsewhere
  expect(await verifier.verify(google, "203.0.113.7")).toBe(false); // no PTR record
  const asked = queries.length;
  expect(await verifier.verify(google, "66.249.66.1")).toBe(true);
  expect(queries.length).toBe(asked); // answered from the cache
  clock.advance(3_600_001);
  expect(await verifier.verify(google, "66.249.66.1")).toBe(true);
  expect(queries.length).toBeGreaterThan(asked);
});

test("a DNS server that does not answer costs a request at most the timeout, and counts as unverified", async () => {
  const verifier = createCrawlerVerifier({ servers: [dnsServer], clock: manualClock(), timeoutMs: 300 });
  const started = performance.now();
  const [a, b] = await Promise.all([
    verifier.verify(google, "203.0.113.8"),
    verifier.verify(google, "203.0.113.8"),
  ]);
  expect([a, b]).toEqual([false, false]);
  expect(performance.now() - started).toBeLessThan(1000);
  expect(queries.filter((q) => q === "PTR 8.113.0.203.in-addr.arpa")).toHaveLength(1); // one shared lookup
});

test("a route's policy: verified crawlers pass, fakes are blocked, bots are challenged until cleared", async () => {
  const clock = manualClock();
  const clearance = createBotClearance({ clock });
  const verifier = createCrawlerVerifier({ servers: [dnsServer], clock, timeoutMs: 300 });
  const policy = compileBotPolicy(botPolicySchema.parse({ maxRequestsPerMinute: 5 }), {
    verifier,
    clearance,
    clock,
  });
  const check = (ip: string, headers: Record<string, string>) => policy.check(request(headers), ip, true);

  expect(await check("66.249.66.1", { "user-agent": GOOGLEBOT })).toEqual({
    action: "allow",
    score: 0,
    signals: [],
    crawler: "google",
  });
  expect(await check("203.0.113.6", { "user-agent": GOOGLEBOT })).toMatchObject({
    action: "block",
    signals: ["fake_crawler"],
  });
  expect(await check("198.51.100.1", chromeHeaders)).toMatchObject({ action: "allow", score: 0 });
  expect(await check("198.51.100.2", { "user-agent": "curl/8.5.0" })).toMatchObject({
    action: "challenge",
    score: 60,
  });
  // Still curl, now also over 5 requests a minute: 100, blocked.
  for (let i = 0; i < 4; i++) await check("198.51.100.2", { "user-agent": "curl/8.5.0" });
  expect(await check("198.51.100.2", { "user-agent": "curl/8.5.0" })).toMatchObject({
    action: "block",
    signals: ["bot_user_agent", "over_rate"],
  });

  const allowOnly = compileBotPolicy(botPolicySchema.parse({ action: "allow" }), {
    verifier,
    clearance,
    clock,
  });
  expect(await allowOnly.check(request({ "user-agent": "curl/8.5.0" }), "198.51.100.3", false)).toMatchObject(
    {
      action: "allow",
      score: 60,
    },
  );
  const challengeOnly = compileBotPolicy(botPolicySchema.parse({ action: "challenge" }), {
    verifier,
    clearance,
    clock,
  });
  expect(await challengeOnly.check(request({ "user-agent": GOOGLEBOT }), "203.0.113.6", true)).toMatchObject({
    action: "challenge",
    score: 100,
  });
});

test("config: thresholds in order, DNS servers as addresses with optional ports", () => {
  expect(botPolicySchema.safeParse({ challengeAbove: 80, blockAbove: 50 }).success).toBe(false);
  expect(botPolicySchema.parse({})).toMatchObject({ action: "block", challengeAbove: 40, blockAbove: 90 });
  const servers = ["192.0.2.53", "192.0.2.53:5353", "2001:db8::53", "[2001:db8::53]:53"];
  expect(gatewayConfigSchema.parse({ bots: { dnsServers: servers } }).bots.dnsServers).toEqual(servers);
  expect(gatewayConfigSchema.safeParse({ bots: { dnsServers: ["dns.example"] } }).success).toBe(false);
  expect(gatewayConfigSchema.safeParse({ bots: { cookieSecret: "short" } }).success).toBe(false);
});
