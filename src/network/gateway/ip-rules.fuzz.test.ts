// Fuzzing the CIDR lists and client address resolution: every list the config schema accepts
// compiles, a check never throws whatever the client address, CIDR text round-trips, membership
// agrees with plain integer arithmetic, and X-Forwarded-For walking stops at the first untrusted hop.
import ipaddr from "ipaddr.js";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { ipRulesSchema } from "../../config/schema.ts";
import { createClientIpResolver, normalizeIp } from "./client-ip.ts";
import { compileIpRules, parseRanges } from "./ip-rules.ts";
import { timed as timedWithin } from "../../../test/support/fuzz.ts";

// Hundreds of inputs per property: on a loaded 2-core CI they need more than the default 30 s.
vi.setConfig({ testTimeout: 120_000 });

const BOUND_MS = 1000;

const timed = <T>(what: string, fn: () => T, bound = BOUND_MS): T => timedWithin(what, fn, bound);

const piece = fc.constantFrom(
  "1",
  "255",
  "256",
  "0x7f",
  "010",
  "4294967295",
  ".",
  ":",
  "::",
  "/",
  "%eth0",
  "ffff",
  "::ffff:",
  "1.2.3.4",
  "/0",
  "/32",
  "/33",
  "/128",
  "/-1",
  " ",
  "\0",
  "[",
  "]",
);
const addressish = fc.oneof(
  fc.array(piece, { maxLength: 16 }).map((p) => p.join("")),
  fc.string({ maxLength: 80, unit: "binary" }),
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4Extended(),
  fc
    .tuple(fc.constantFrom("1.", "1:", ":", "0", "1::", "f"), fc.integer({ min: 1, max: 16_000 }))
    .map(([unit, n]) => unit.repeat(n)),
);
const v4 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
const maskOf = (bits: number) => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);

describe("ip rules", () => {
  it("every list the config schema accepts compiles, and checks never throw", () => {
    fc.assert(
      fc.property(
        fc.array(addressish, { maxLength: 4 }),
        fc.array(addressish, { maxLength: 4 }),
        addressish,
        (allow, deny, client) => {
          const parsed = timed("ipRulesSchema", () => ipRulesSchema.safeParse({ allow, deny }));
          if (!parsed.success) return;
          const rules = timed("compileIpRules", () => compileIpRules(parsed.data));
          const verdict = timed("refuses", () => rules.refuses(client));
          expect([undefined, "denied", "not allowed"]).toContain(verdict);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("an IPv4 CIDR round-trips through its text and matches exactly the addresses under its mask", () => {
    fc.assert(
      fc.property(v4, fc.integer({ min: 0, max: 32 }), v4, (base, bits, probe) => {
        const network = (base & maskOf(bits)) >>> 0;
        const text = `${dotted(network)}/${bits}`;
        const [[net, parsedBits]] = parseRanges([text]) as [[ipaddr.IPv4, number]];
        expect(`${net.toString()}/${parsedBits}`).toBe(text);
        const inside = (probe & maskOf(bits)) >>> 0 === network;
        expect(compileIpRules({ allow: [text], deny: [] }).refuses(dotted(probe))).toBe(
          inside ? undefined : "not allowed",
        );
        // Deny wins over allow.
        expect(compileIpRules({ allow: [text], deny: [text] }).refuses(dotted(probe))).toBe(
          inside ? "denied" : "not allowed",
        );
      }),
      { numRuns: 2000 },
    );
  });

  it("an IPv6 CIDR round-trips through its text", () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 0, max: 128 }), (address, bits) => {
        const network = ipaddr.IPv6.networkAddressFromCIDR(`${address}/${bits}`).toString();
        const [[net, parsedBits]] = parseRanges([`${network}/${bits}`]) as [[ipaddr.IPv6, number]];
        const again = parseRanges([`${net.toString()}/${parsedBits}`]);
        expect(again[0]?.[0].toString()).toBe(net.toString());
        expect(compileIpRules({ allow: [`${network}/${bits}`], deny: [] }).refuses(address)).toBe(
          // An IPv4-mapped address is checked as IPv4: a range that keeps the mapped prefix (96 bits
          // or more) becomes its IPv4 range and holds it; a wider IPv6 range does not.
          ipaddr.IPv6.parse(address).isIPv4MappedAddress() && bits < 96 ? "not allowed" : undefined,
        );
      }),
      { numRuns: 1000 },
    );
  });

  // `::ffff:203.0.113.7` and `203.0.113.7` are the same client (client-ip.ts), so a range written
  // in the mapped form must hold the same clients as its IPv4 form, or a deny entry fails open.
  it("a range in IPv4-mapped IPv6 form matches the same clients as its IPv4 form", () => {
    fc.assert(
      fc.property(v4, fc.integer({ min: 0, max: 32 }), v4, (base, bits, probe) => {
        const network = (base & maskOf(bits)) >>> 0;
        const mapped = `::ffff:${dotted(network)}/${96 + bits}`;
        const plain = `${dotted(network)}/${bits}`;
        for (const client of [dotted(probe), `::ffff:${dotted(probe)}`]) {
          expect(compileIpRules({ allow: [], deny: [mapped] }).refuses(client)).toBe(
            compileIpRules({ allow: [], deny: [plain] }).refuses(client),
          );
        }
      }),
      { numRuns: 500 },
    );
  });

  it("a deny entry in IPv4-mapped form denies the IPv4 client (the property's concrete case)", () => {
    const rules = compileIpRules({ allow: [], deny: ["::ffff:203.0.113.0/120"] });
    expect(rules.refuses("203.0.113.7")).toBe("denied");
    expect(rules.refuses("::ffff:203.0.113.7")).toBe("denied");
  });
});

describe("client address resolution", () => {
  it("never throws and answers the peer or one of the forwarded hops", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom("10.0.0.0/8", "::1", "0.0.0.0/0")), {
          maxLength: 3,
        }),
        addressish,
        fc.option(
          fc.array(addressish, { maxLength: 6 }).map((hops) => hops.join(",")),
          { nil: undefined },
        ),
        (trusted, peer, xff) => {
          const resolver = createClientIpResolver(trusted);
          const client = timed("client", () => resolver.client(peer, xff));
          const hops = (xff ?? "").split(",").map((h) => normalizeIp(h.trim()));
          expect([peer, normalizeIp(peer), ...hops]).toContain(client);
          timed("trusts", () => resolver.trusts(peer));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("is the rightmost untrusted hop when the peer and the hops after it are trusted proxies", () => {
    const proxy = v4.map((n) => dotted(((10 << 24) | (n & 0xffffff)) >>> 0)); // in 10.0.0.0/8
    const outsider = v4.filter((n) => n >>> 24 !== 10).map(dotted);
    fc.assert(
      fc.property(
        fc.array(fc.oneof(outsider, fc.string({ maxLength: 10 })), { maxLength: 3 }),
        outsider,
        fc.array(proxy, { maxLength: 3 }),
        proxy,
        (spoofed, real, proxies, peer) => {
          const resolver = createClientIpResolver(["10.0.0.0/8"]);
          const xff = [...spoofed, real, ...proxies].join(", ");
          expect(resolver.client(peer, xff)).toBe(real);
          // A client that is not a trusted proxy is never believed.
          expect(resolver.client(real, xff)).toBe(real);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
