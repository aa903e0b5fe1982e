// Client address resolution: only trusted hops are walked past, whatever the address family.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { createClientIpResolver } from "./client-ip.ts";

describe("client IP", () => {
  const r = createClientIpResolver(["10.0.0.0/8", "fd00::/8", "192.0.2.1"]);

  test("an untrusted peer is the client, whatever X-Forwarded-For says", () => {
    expect(r.client("203.0.113.5", "1.2.3.4")).toBe("203.0.113.5");
    expect(r.client("::ffff:203.0.113.5", undefined)).toBe("203.0.113.5");
  });

  test("trusted hops are walked from the right, in both address families", () => {
    expect(r.client("10.0.0.1", "198.51.100.7, 10.2.3.4")).toBe("198.51.100.7");
    expect(r.client("fd00::1", "2001:db8::9, fd12::3")).toBe("2001:db8::9");
    expect(r.client("192.0.2.1", "6.6.6.6, 198.51.100.7")).toBe("198.51.100.7");
    expect(r.client("::ffff:10.0.0.1", "::ffff:198.51.100.7")).toBe("198.51.100.7");
  });

  test("a chain of only trusted hops ends at its leftmost; garbage stops the walk", () => {
    expect(r.client("10.0.0.1", "10.9.9.9, 10.2.3.4")).toBe("10.9.9.9");
    expect(r.client("10.0.0.1", "198.51.100.7, evil, 10.2.3.4")).toBe("10.2.3.4");
  });

  test("property: without trusted proxies the peer is always the client", () => {
    const none = createClientIpResolver([]);
    fc.assert(
      fc.property(fc.ipV4(), fc.string(), (peer, xff) => {
        expect(none.client(peer, xff)).toBe(peer);
      }),
    );
  });
});
