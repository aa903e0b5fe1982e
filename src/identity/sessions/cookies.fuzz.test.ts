// Fuzzing cookie handling: reading and stripping Rampart's cookies from hostile Cookie headers, and
// the bot clearance cookie (signed, bound to client and user agent), which must never validate once
// any character of it is changed, and must refuse hostile values quickly.
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import {
  CLEARANCE_COOKIE,
  createBotClearance,
  withoutClearanceCookie,
} from "../../network/gateway/bot-challenge.ts";
import { manualClock } from "../../platform/clock.ts";
import { readCookie, sessionCookieName, setCookie, stripRampartCookies } from "./cookies.ts";
import { timed as timedWithin } from "../../../test/support/fuzz.ts";

// Hundreds of inputs per property: on a loaded 2-core CI they need more than the default 30 s.
vi.setConfig({ testTimeout: 120_000 });

const BOUND_MS = 1000;

const timed = <T>(what: string, fn: () => T, bound = BOUND_MS): T => timedWithin(what, fn, bound);

const piece = fc.constantFrom(
  ";",
  "=",
  " ",
  '"',
  ",",
  "\t",
  "\0",
  "\r\n",
  "é",
  "\ud800",
  "rampart_session",
  "__Host-rampart_session",
  "__Secure-rampart_login",
  "__rampart_bot",
  "__proto__",
  "constructor",
  "sid",
  "x",
);
const cookieHeader = fc.oneof(
  fc.array(piece, { maxLength: 40 }).map((p) => p.join("")),
  fc.string({ maxLength: 300, unit: "binary" }),
  fc
    .tuple(fc.constantFrom(";", "=", "a=b;", " ; ", "rampart_session=x;"), fc.integer({ min: 1, max: 8000 }))
    .map(([unit, n]) => unit.repeat(n)),
);
/** A cookie name or value as browsers send it: no `;`, no leading/trailing space, no `=` in names. */
const token = fc.string({ minLength: 1, maxLength: 30 }).map((s) => s.replace(/[;=\s"]/g, "") || "v");

describe("session cookies", () => {
  it("reading and stripping never throw and stay fast on hostile headers", () => {
    fc.assert(
      fc.property(cookieHeader, fc.oneof(piece, token), (header, name) => {
        const value = timed("readCookie", () => readCookie(header, name));
        if (value !== undefined) expect(header.includes(value)).toBe(true);
        const kept = timed("stripRampartCookies", () => stripRampartCookies(header));
        if (kept !== undefined) {
          // Nothing of ours survives, and stripping again changes nothing.
          expect(readCookie(kept, "rampart_session")).toBeUndefined();
          expect(readCookie(kept, "__Host-rampart_session")).toBeUndefined();
          expect(stripRampartCookies(kept)).toBe(kept);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("a cookie set is read back, first occurrence first, among other cookies", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(token, token), { maxLength: 6 }),
        token,
        token,
        fc.boolean(),
        (others, value, shadow, secure) => {
          const name = sessionCookieName(secure);
          const [pair] = setCookie(name, value, { secure }).split("; ");
          const rest = others.filter(([n]) => n !== name).map(([n, v]) => `${n}=${v}`);
          const header = [...rest.slice(0, 2), pair, `${name}=${shadow}`, ...rest.slice(2)].join("; ");
          expect(readCookie(header, name)).toBe(value);
          const stripped = stripRampartCookies(header);
          expect(stripped).toBe(rest.length === 0 ? undefined : rest.join("; "));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("the bot clearance cookie", () => {
  const clock = manualClock("2026-05-01T12:00:00Z");
  const bots = createBotClearance({ secret: "a bot secret for fuzzing, 32+ bytes long", clock });
  const client = "203.0.113.7";
  const userAgent = "Mozilla/5.0 (fuzz)";

  /** A real cookie, earned by redeeming a challenge at 0 bits (every nonce solves it). */
  const earn = (): string => {
    const token = bots.challenge({ client, userAgent, bits: 0, cookieTtlSeconds: 600, returnTo: "/" });
    const redeemed = bots.redeem(token, "0", client, userAgent, true);
    if (!redeemed.ok) throw new Error(`redeeming failed: ${redeemed.reason}`);
    const value = /^__rampart_bot=([^;]+);/.exec(redeemed.setCookie)?.[1];
    if (value === undefined) throw new Error("no cookie value in Set-Cookie");
    return value;
  };
  const cleared = (value: string) =>
    timed("cleared", () =>
      bots.cleared({ cookie: `${CLEARANCE_COOKIE}=${value}`, "user-agent": userAgent }, client, 0, 3600),
    );
  const anyChar = fc.oneof(
    fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=".split("")),
    fc.string({ minLength: 1, maxLength: 1, unit: "binary" }),
  );

  it("validates untouched (the baseline the tampering below changes)", () => {
    expect(cleared(earn())).toBe(true);
  });

  it("never validates with any single character changed", () => {
    const cookie = earn();
    fc.assert(
      fc.property(fc.nat({ max: cookie.length - 1 }), anyChar, (at, replacement) => {
        fc.pre(cookie[at] !== replacement);
        expect(cleared(cookie.slice(0, at) + replacement + cookie.slice(at + 1))).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it("never validates truncated, extended, or for another client", () => {
    const cookie = earn();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.nat({ max: cookie.length - 1 }).map((n) => ({ value: cookie.slice(0, n), ip: client })),
          // Not whitespace or `;`: those end the value in the header, they do not extend it.
          fc
            .string({ minLength: 1, maxLength: 6 })
            .filter((t) => !/[\s;]/.test(t))
            .map((t) => ({ value: cookie + t, ip: client })),
          fc
            .ipV4()
            .filter((ip) => ip !== client)
            .map((ip) => ({ value: cookie, ip })),
        ),
        ({ value, ip }) => {
          const ok = bots.cleared(
            { cookie: `${CLEARANCE_COOKIE}=${value}`, "user-agent": userAgent },
            ip,
            0,
            3600,
          );
          expect(ok).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("hostile cookie headers, challenge tokens and nonces are refused without throwing", () => {
    const hostile = fc.oneof(
      cookieHeader,
      fc.array(fc.string({ maxLength: 30, unit: "binary" }), { maxLength: 9 }).map((p) => p.join(".")),
      fc.constantFrom("99999999999999999999.99.AAAA", "1.1e9.x", "1..", "..", "-1.0.x"),
    );
    fc.assert(
      fc.property(hostile, hostile, fc.string({ maxLength: 40 }), (header, token, nonce) => {
        expect(
          timed("cleared", () => bots.cleared({ cookie: header, "user-agent": userAgent }, client, 0, 3600)),
        ).toBe(false);
        const redeemed = timed("redeem", () => bots.redeem(token, nonce, client, userAgent, true));
        expect(redeemed.ok).toBe(false);
        const kept = timed("withoutClearanceCookie", () => withoutClearanceCookie(header));
        if (kept !== undefined) expect(readCookie(kept, CLEARANCE_COOKIE)).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
  });
});
