// The strict address parser beside ipaddr.js on tricky spellings, and ranges over both families.
import ipaddr from "ipaddr.js";
import { expect, test } from "vitest";
import { compileCidrs, type ParsedIp, parseIp, parseRange } from "./cidr.ts";

test("reads what ipaddr.js reads as the same address, and refuses ambiguous or malformed text", () => {
  const same = [
    "10.1.2.3",
    "0.0.0.0",
    "255.255.255.255",
    "::",
    "::1",
    "1::",
    "2001:db8::8a2e:370:7334",
    "2001:DB8:0:0:0:0:0:1",
    "1:2:3:4:5:6:7:8",
    "::ffff:10.1.2.3",
    "::ffff:a01:203",
    "64:ff9b::1.2.3.4",
    "fe80::1:2",
  ];
  for (const text of same) {
    const mine = parseIp(text);
    const theirs = ipaddr.process(text);
    if (theirs.kind() === "ipv4")
      expect(mine, text).toBe((theirs as ipaddr.IPv4).toByteArray().reduce((n, b) => n * 256 + b, 0));
    else {
      const g = (theirs as ipaddr.IPv6).parts;
      expect(mine, text).toEqual(
        [0, 1, 2, 3].map((w) => (g[2 * w] as number) * 0x10000 + (g[2 * w + 1] as number)),
      );
    }
  }
  expect(parseIp("2001:db8::1")).toEqual([0x20010db8, 0, 0, 1]);
  const refused = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "010.0.0.1",
    "1.2.3.4 ",
    "0x0a.0.0.1",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    ":::",
    "1:2:3:4:5:6:7::8",
    "12345::",
    "fe80::1%eth0",
    "::ffff:1.2.3",
    "g::1",
    "1:2:3:4:5:6:7",
  ];
  for (const text of refused) expect(parseIp(text), text).toBeUndefined();
});

test("ranges: host bits ignored, prefix lengths bounded, mapped IPv4 ranges are IPv4 ranges", () => {
  const set = compileCidrs(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::ffff:172.16.0.0/108"]);
  const has = (ip: string) => set.has(parseIp(ip) as ParsedIp);
  expect([has("10.200.1.1"), has("11.0.0.0"), has("192.0.2.7"), has("192.0.2.6")]).toEqual([
    true,
    false,
    true,
    false,
  ]);
  expect([has("2001:db8:ffff::1"), has("2001:db9::"), has("172.16.5.5"), has("172.32.0.1")]).toEqual([
    true,
    false,
    true,
    false,
  ]);
  expect(compileCidrs(["10.9.9.9/8"]).has(parseIp("10.1.1.1") as number)).toBe(true);
  expect(compileCidrs(["::/0"]).has(parseIp("::1") as ParsedIp)).toBe(true);
  expect(compileCidrs(["0.0.0.0/0"]).has(parseIp("8.8.8.8") as number)).toBe(true);
  for (const bad of [
    "10.0.0.0/33",
    "10.0.0.0/",
    "10.0.0.0/08",
    "::/129",
    "::ffff:10.0.0.0/64",
    "10.0.0.0/-1",
  ])
    expect(parseRange(bad), bad).toBeUndefined();
});
