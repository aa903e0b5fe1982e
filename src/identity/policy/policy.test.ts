// Route policies as an operator writes them and as the gateway asks them: who is let in, who is
// refused, and the hostile inputs that must never widen access.
import { describe, expect, test } from "vitest";
import type { AccessRequest, Identity } from "../types.ts";
import { compilePolicy, parseRoutePolicy, type RoutePolicyInput } from "./index.ts";

const policy = (p: RoutePolicyInput) => compilePolicy(parseRoutePolicy(p));

const alice: Identity = {
  kind: "user",
  subject: "corp:alice",
  provider: "corp",
  email: "Alice@Example.com",
  emailVerified: true,
  groups: ["sre", "staff"],
  roles: [],
  claims: { department: "security", org: { unit: ["payments", "risk"] }, "https://corp/tier": "gold" },
  credential: "session",
};
const billing: Identity = {
  kind: "service",
  subject: "billing-worker",
  groups: [],
  roles: [],
  claims: {},
  credential: "access-token",
};
const request = (r: Partial<AccessRequest> = {}): AccessRequest => ({
  method: "GET",
  path: "/admin/users",
  host: "tools.example.com",
  ip: "10.1.2.3",
  now: new Date("2026-11-23T10:00:00Z"), // a Monday
  ...r,
});

describe("deciding", () => {
  const sre = policy({
    rules: [
      { deny: { countries: ["KP", "IR"] } },
      {
        allow: {
          groups: ["sre"],
          methods: ["GET", "POST"],
          paths: ["/admin/**"],
          sourceCidrs: ["10.0.0.0/8"],
        },
      },
      { name: "billing", allow: { serviceAccounts: ["billing-worker"], paths: ["/api/*/invoices"] } },
    ],
  });

  test("an allow rule whose every condition holds lets the request in, and says which rule", () => {
    expect(sre.evaluate(alice, request())).toEqual({ allowed: true, rule: { index: 1, kind: "allow" } });
    expect(sre.evaluate(billing, request({ path: "/api/v2/invoices" }))).toEqual({
      allowed: true,
      rule: { index: 2, kind: "allow", name: "billing" },
    });
  });

  test("deny wins over a matching allow", () => {
    expect(sre.evaluate(alice, request({ country: "KP" }))).toEqual({
      allowed: false,
      rule: { index: 0, kind: "deny" },
    });
  });

  test("nothing matching means deny, for strangers and for requests outside every rule", () => {
    expect(sre.evaluate(undefined, request())).toEqual({ allowed: false });
    expect(sre.evaluate(alice, request({ method: "DELETE" }))).toEqual({ allowed: false });
    expect(sre.evaluate(alice, request({ ip: "192.168.1.1" }))).toEqual({ allowed: false });
    expect(sre.evaluate(alice, request({ path: "/other" }))).toEqual({ allowed: false });
    expect(sre.evaluate(billing, request({ path: "/api/v2/x/invoices" }))).toEqual({ allowed: false });
    expect(sre.evaluate({ ...alice, groups: ["dev"] }, request())).toEqual({ allowed: false });
  });

  test("shadow mode lets every request through but reports what it would have denied", () => {
    const shadow = policy({
      shadow: true,
      rules: [{ deny: { countries: ["KP"] } }, { allow: { groups: ["sre"] } }],
    });
    expect(shadow.evaluate(alice, request())).toEqual({ allowed: true, rule: { index: 1, kind: "allow" } });
    expect(shadow.evaluate(alice, request({ country: "KP" }))).toEqual({
      allowed: true,
      shadowDenied: true,
      rule: { index: 0, kind: "deny" },
    });
    expect(shadow.evaluate(undefined, request())).toEqual({ allowed: true, shadowDenied: true });
  });

  test("request-only rules admit requests nobody signed in to; identity conditions never do", () => {
    const office = policy({
      rules: [{ allow: { sourceCidrs: ["10.0.0.0/8"] } }, { allow: { kind: "user" } }],
    });
    expect(office.evaluate(undefined, request()).allowed).toBe(true);
    expect(office.evaluate(undefined, request({ ip: "8.8.8.8" })).allowed).toBe(false);
  });
});

describe("conditions", () => {
  const allowed = (when: Record<string, unknown>, id: Identity | undefined, r: Partial<AccessRequest> = {}) =>
    policy({ rules: [{ allow: when }] }).evaluate(id, request(r)).allowed;

  test("users by subject or verified email; emails and domains of verified emails only", () => {
    expect(allowed({ users: ["corp:alice"] }, alice)).toBe(true);
    expect(allowed({ users: ["alice@example.COM"] }, alice)).toBe(true);
    expect(allowed({ emails: ["alice@example.com"] }, alice)).toBe(true);
    expect(allowed({ domains: ["example.com"] }, alice)).toBe(true);
    // An unverified email is anyone's claim to make.
    const unverified = { ...alice, emailVerified: false };
    expect(allowed({ users: ["alice@example.com"] }, unverified)).toBe(false);
    expect(allowed({ emails: ["alice@example.com"] }, unverified)).toBe(false);
    expect(allowed({ domains: ["example.com"] }, unverified)).toBe(false);
    // A look-alike domain is another domain; subdomains are not included.
    expect(allowed({ domains: ["example.com"] }, { ...alice, email: "eve@example.com.evil.io" })).toBe(false);
    expect(allowed({ domains: ["example.com"] }, { ...alice, email: "eve@evil.example.com" })).toBe(false);
    expect(allowed({ domains: ["example.com"] }, { ...alice, email: "eve@evilexample.com" })).toBe(false);
  });

  test("claims: nested by dotted name, namespaced names whole, arrays match any element, types exact", () => {
    expect(allowed({ claims: { department: ["security"] } }, alice)).toBe(true);
    expect(allowed({ claims: { "org.unit": ["risk"] } }, alice)).toBe(true);
    expect(allowed({ claims: { "https://corp/tier": ["gold"] } }, alice)).toBe(true);
    expect(allowed({ claims: { department: ["security"], "org.unit": ["sales"] } }, alice)).toBe(false);
    expect(allowed({ claims: { level: [5] } }, { ...alice, claims: { level: "5" } })).toBe(false);
    expect(allowed({ claims: { level: [5] } }, { ...alice, claims: { level: 5 } })).toBe(true);
  });

  test("a claim name cannot reach inherited properties", () => {
    const p = policy({
      rules: [{ allow: { claims: { "department.toString": ["x"], "org.unit.length": [2] } } }],
    });
    expect(p.evaluate(alice, request()).allowed).toBe(false);
    expect(() => parseRoutePolicy({ rules: [{ allow: { claims: { "a.__proto__": ["x"] } } }] })).toThrow(
      /claim name/,
    );
  });

  test("service accounts, kind and credential", () => {
    expect(allowed({ serviceAccounts: ["billing-worker"] }, billing)).toBe(true);
    // A person whose subject happens to equal a service account's name is not that service.
    expect(allowed({ serviceAccounts: ["billing-worker"] }, { ...alice, subject: "billing-worker" })).toBe(
      false,
    );
    expect(allowed({ kind: "service" }, billing)).toBe(true);
    expect(allowed({ kind: ["service"] }, alice)).toBe(false);
    expect(allowed({ credential: ["session", "api-key"] }, alice)).toBe(true);
    expect(allowed({ credential: "api-key" }, billing)).toBe(false);
    expect(allowed({ roles: ["oncall"] }, { ...alice, roles: ["oncall"] })).toBe(true);
  });

  test("source CIDRs over IPv4 and IPv6; IPv4-mapped IPv6 is the same address", () => {
    const cidrs = { sourceCidrs: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"] };
    expect(allowed(cidrs, alice, { ip: "10.255.0.1" })).toBe(true);
    expect(allowed(cidrs, alice, { ip: "11.0.0.1" })).toBe(false);
    expect(allowed(cidrs, alice, { ip: "2001:db8:1::1" })).toBe(true);
    expect(allowed(cidrs, alice, { ip: "2001:db9::1" })).toBe(false);
    expect(allowed(cidrs, alice, { ip: "192.0.2.7" })).toBe(true);
    expect(allowed(cidrs, alice, { ip: "192.0.2.8" })).toBe(false);
    expect(allowed(cidrs, alice, { ip: "::ffff:10.1.2.3" })).toBe(true);
    expect(allowed({ sourceCidrs: ["0.0.0.0/0"] }, alice, { ip: "203.0.113.9" })).toBe(true);
  });

  test("a deny by CIDR is not dodged by another spelling of the address", () => {
    const p = policy({
      rules: [{ deny: { sourceCidrs: ["203.0.113.0/24"] } }, { allow: { groups: ["sre"] } }],
    });
    expect(p.evaluate(alice, request({ ip: "::ffff:203.0.113.5" })).allowed).toBe(false);
    expect(p.evaluate(alice, request({ ip: "::ffff:cb00:7105" })).allowed).toBe(false);
    // Not an address (octal-looking, garbage): a deny rule over addresses counts it against it.
    expect(p.evaluate(alice, request({ ip: "0203.0.113.5" })).allowed).toBe(false);
    expect(p.evaluate(alice, request({ ip: "not-an-ip" })).allowed).toBe(false);
    expect(p.evaluate(alice, request({ ip: "198.51.100.1" })).allowed).toBe(true);
  });

  test("countries, methods, environments", () => {
    expect(allowed({ countries: ["IN"] }, alice, { country: "IN" })).toBe(true);
    expect(allowed({ countries: ["IN"] }, alice, {})).toBe(false);
    expect(allowed({ methods: ["get"] }, alice, { method: "GET" })).toBe(true);
    expect(allowed({ environments: ["prod"] }, alice, { environment: "staging" })).toBe(false);
    expect(allowed({ environments: ["prod"] }, alice, { environment: "prod" })).toBe(true);
    // A lowercase method must not slip past a deny written for its uppercase form.
    const p = policy({ rules: [{ deny: { methods: ["DELETE"] } }, { allow: { groups: ["sre"] } }] });
    expect(p.evaluate(alice, request({ method: "delete" })).allowed).toBe(false);
  });

  test("paths: * is one segment, ** any depth, without regard to case as routes match", () => {
    const at = (globs: string[], path: string) => allowed({ paths: globs }, alice, { path });
    expect(at(["/admin/**"], "/admin")).toBe(true);
    expect(at(["/admin/**"], "/admin/a/b/c")).toBe(true);
    expect(at(["/admin/**"], "/administrator")).toBe(false);
    expect(at(["/api/*/items"], "/api/v1/items")).toBe(true);
    expect(at(["/api/*/items"], "/api/v1/x/items")).toBe(false);
    expect(at(["/a/**/z"], "/a/z")).toBe(true);
    expect(at(["/a/**/z"], "/a/b/c/z")).toBe(true);
    expect(at(["/a/**/z"], "/a/b/c/y")).toBe(false);
    expect(at(["/files/*.pdf"], "/files/report.pdf")).toBe(true);
    expect(at(["/files/*.pdf"], "/files/x/report.pdf")).toBe(false);
    const p = policy({ rules: [{ deny: { paths: ["/admin/**"] } }, { allow: { groups: ["sre"] } }] });
    expect(p.evaluate(alice, request({ path: "/ADMIN/users" })).allowed).toBe(false);
    // Upstreams that decode an encoded slash or backslash would see /admin/users.
    expect(p.evaluate(alice, request({ path: "/admin%2Fusers" })).allowed).toBe(false);
    expect(p.evaluate(alice, request({ path: "/admin%5cusers" })).allowed).toBe(false);
    expect(p.evaluate(alice, request({ path: "/administrator%2Fusers" })).allowed).toBe(true);
  });

  test("time windows in a zone, including windows crossing midnight", () => {
    const office = {
      time: {
        days: ["mon", "tue", "wed", "thu", "fri"],
        from: "08:00",
        to: "19:00",
        timeZone: "Europe/London",
      },
    };
    expect(allowed(office, alice, { now: new Date("2026-11-23T10:00:00Z") })).toBe(true); // Mon 10:00 GMT
    expect(allowed(office, alice, { now: new Date("2026-11-22T10:00:00Z") })).toBe(false); // Sunday
    expect(allowed(office, alice, { now: new Date("2026-11-23T19:00:00Z") })).toBe(false); // 19:00 is out
    // In summer London is UTC+1: 07:30 UTC is 08:30 there.
    expect(allowed(office, alice, { now: new Date("2026-07-06T07:30:00Z") })).toBe(true);
    expect(allowed(office, alice, { now: new Date("2026-07-06T18:30:00Z") })).toBe(false);
    const night = { time: { days: ["fri"], from: "22:00", to: "06:00", timeZone: "Asia/Kolkata" } };
    // Friday 23:00 and Saturday 05:00 in Kolkata (UTC+5:30) are in Friday's window; Saturday 23:00 is not.
    expect(allowed(night, alice, { now: new Date("2026-11-27T17:30:00Z") })).toBe(true);
    expect(allowed(night, alice, { now: new Date("2026-11-27T23:30:00Z") })).toBe(true);
    expect(allowed(night, alice, { now: new Date("2026-11-28T17:30:00Z") })).toBe(false);
    expect(allowed(night, alice, { now: new Date("2026-11-27T06:00:00Z") })).toBe(false); // Fri 11:30
    expect(
      allowed({ time: { days: ["sat", "sun"] } }, alice, { now: new Date("2026-11-22T23:59:00Z") }),
    ).toBe(true);
  });

  test("client certificates by fingerprint, subject and SAN, all given holding", () => {
    const fp = "ab".repeat(32);
    const cert = {
      subject: "CN=build-bot,O=Example",
      fingerprint: fp,
      san: ["DNS:build.internal", "URI:spiffe://ex/build"],
    };
    const colons = fp.toUpperCase().match(/../g)?.join(":") as string;
    expect(
      allowed({ clientCertificate: { fingerprints: [colons] } }, undefined, { clientCertificate: cert }),
    ).toBe(true);
    expect(
      allowed(
        { clientCertificate: { subjects: ["CN=build-bot,O=Example"], sans: ["URI:spiffe://ex/build"] } },
        undefined,
        {
          clientCertificate: cert,
        },
      ),
    ).toBe(true);
    expect(
      allowed({ clientCertificate: { sans: ["DNS:other.internal"] } }, undefined, {
        clientCertificate: cert,
      }),
    ).toBe(false);
    expect(allowed({ clientCertificate: { subjects: ["CN=build-bot,O=Example"] } }, undefined, {})).toBe(
      false,
    );
  });
});

test("hostile paths and IPs cost about what ordinary ones do", () => {
  const p = policy({ rules: [{ allow: { paths: ["/a/**/*x*y*z*/**/b/**/c", "/**/*a*a*a*a*b"] } }] });
  const long = `/a${"/x".repeat(2000)}/${"a".repeat(5000)}`;
  const started = performance.now();
  for (let i = 0; i < 20; i++) p.evaluate(alice, request({ path: long }));
  expect(performance.now() - started).toBeLessThan(1000);
  expect(p.evaluate(alice, request({ path: long })).allowed).toBe(false);
  expect(p.evaluate(alice, request({ path: "/a/q/AxByZ/b/c" })).allowed).toBe(true);
});

test("explain says, for every rule, which condition held or failed and why", () => {
  const p = policy({
    rules: [
      { name: "embargo", deny: { countries: ["KP"] } },
      { allow: { groups: ["sre"], sourceCidrs: ["10.0.0.0/8"], paths: ["/admin/**"] } },
      { allow: { domains: ["example.com"], time: { days: ["sat"], timeZone: "UTC" } } },
    ],
  });
  const x = p.explain(alice, request({ ip: "192.168.0.9" }));
  expect(x.decision).toEqual({ allowed: false });
  expect(x.rules.map((r) => [r.index, r.kind, r.matched])).toEqual([
    [0, "deny", false],
    [1, "allow", false],
    [2, "allow", false],
  ]);
  expect(x.rules[0]).toMatchObject({
    name: "embargo",
    conditions: [{ condition: "countries", held: false, reason: "no country" }],
  });
  expect(x.rules[1]?.conditions).toEqual([
    { condition: "groups", held: true, reason: 'groups ["sre"] listed' },
    { condition: "sourceCidrs", held: false, reason: 'client IP 192.168.0.9 not in ["10.0.0.0/8"]' },
    { condition: "paths", held: true, reason: 'path /admin/users matches ["/admin/**"]' },
  ]);
  expect(x.rules[2]?.conditions[1]?.reason).toBe("mon 10:00 UTC outside sat UTC");
  expect(p.explain(undefined, request()).rules[1]?.conditions[0]?.reason).toBe("no signed-in identity");
});
