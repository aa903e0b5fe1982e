// Policy config mistakes are errors that say where, never rules that quietly admit more.
import { expect, test } from "vitest";
import { parseRoutePolicy } from "./index.ts";

const problems = (raw: unknown): string[] => {
  try {
    parseRoutePolicy(raw);
  } catch (error) {
    return (error as Error).message.split("\n");
  }
  return [];
};

test("the example from the docs is valid, normalised, and shadow is off unless asked", () => {
  const p = parseRoutePolicy({
    rules: [
      { deny: { countries: ["KP", "IR"] } },
      {
        allow: {
          groups: ["sre"],
          methods: ["get", "POST"],
          paths: ["/Admin/**"],
          sourceCidrs: ["10.0.0.0/8"],
        },
      },
      {
        allow: {
          emails: ["Bob@Example.com"],
          clientCertificate: { fingerprints: ["AB:".repeat(31) + "AB"] },
        },
      },
    ],
  });
  expect(p.shadow).toBe(false);
  expect(p.rules[1]).toEqual({
    name: undefined,
    kind: "allow",
    when: { groups: ["sre"], methods: ["GET", "POST"], paths: ["/admin/**"], sourceCidrs: ["10.0.0.0/8"] },
  });
  expect(p.rules[2]?.when.emails).toEqual(["bob@example.com"]);
  expect(p.rules[2]?.when.clientCertificate?.fingerprints).toEqual(["ab".repeat(32)]);
});

test("a misspelt key, an empty rule or an empty list is an error, located", () => {
  expect(problems({ rules: [{ allow: { group: ["sre"] } }] })).toEqual([
    'policy.rules[0].allow: Unrecognized key: "group"',
  ]);
  expect(problems({ rules: [{ allow: {} }] })).toEqual([
    "policy.rules[0].allow: a rule needs at least one condition (a rule with none would match every request)",
  ]);
  expect(problems({ rules: [{ allow: null }] })[0]).toMatch(/^policy\.rules\[0\]\.allow: /);
  expect(problems({ rules: [{ deny: { groups: [] } }] })).toEqual([
    "policy.rules[0].deny.groups: an empty list matches nothing: list a value or remove the condition",
  ]);
  expect(problems({ rules: [] })).toEqual(["policy.rules: no rules: list at least one allow rule"]);
  expect(problems({ rules: [{ allow: { groups: ["a"] }, deny: { groups: ["b"] } }] })).toEqual([
    "policy.rules[0]: a rule is either allow: {…} or deny: {…}",
  ]);
  expect(problems({ shadow: "yes", rules: [{ allow: { groups: ["a"] } }] })[0]).toMatch(/^policy\.shadow: /);
  expect(problems({ rules: [{ allow: { groups: ["a"] } }], mode: "shadow" })).toEqual([
    'policy: Unrecognized key: "mode"',
  ]);
});

test("invalid addresses, countries, globs, times and zones say which value is wrong", () => {
  expect(
    problems({
      rules: [
        { allow: { sourceCidrs: ["10.0.0.0/8", "10.0.0.0/33"] } },
        { allow: { sourceCidrs: ["300.1.1.1"] } },
        { allow: { sourceCidrs: ["010.0.0.0/8"] } },
        { deny: { countries: ["uk", "GBR"] } },
        { allow: { paths: ["admin/**", "/a/b**"] } },
        { allow: { time: { from: "8:00", to: "19:00" } } },
        { allow: { time: { timeZone: "Mars/Olympus", days: ["mon"] } } },
        { allow: { time: { from: "09:00" } } },
        { allow: { time: { days: ["monday"] } } },
        { allow: { clientCertificate: { fingerprints: ["abc"] } } },
        { allow: { domains: ["@example.com"] } },
      ],
    }),
  ).toEqual([
    "policy.rules[0].allow.sourceCidrs[1]: expected an IP address or CIDR range (dotted decimal IPv4 or IPv6), e.g. 10.0.0.0/8",
    "policy.rules[1].allow.sourceCidrs[0]: expected an IP address or CIDR range (dotted decimal IPv4 or IPv6), e.g. 10.0.0.0/8",
    "policy.rules[2].allow.sourceCidrs[0]: expected an IP address or CIDR range (dotted decimal IPv4 or IPv6), e.g. 10.0.0.0/8",
    'policy.rules[3].deny.countries[0]: expected an ISO 3166-1 alpha-2 country code such as "IN"',
    'policy.rules[3].deny.countries[1]: expected an ISO 3166-1 alpha-2 country code such as "IN"',
    'policy.rules[4].allow.paths[0]: a path glob starts with "/"',
    "policy.rules[4].allow.paths[1]: `**` must be a whole segment",
    "policy.rules[5].allow.time.from: expected a time HH:MM from 00:00 to 23:59",
    "policy.rules[6].allow.time.timeZone: expected an IANA time zone such as Europe/London",
    "policy.rules[7].allow.time.to: from and to go together",
    expect.stringMatching(/^policy\.rules\[8\]\.allow\.time\.days\[0\]: /),
    "policy.rules[9].allow.clientCertificate.fingerprints[0]: expected a SHA-256 fingerprint: 64 hex digits, colons allowed",
    'policy.rules[10].allow.domains[0]: expected a domain such as "example.com" (no "@", no wildcard: subdomains are separate domains)',
  ]);
});
