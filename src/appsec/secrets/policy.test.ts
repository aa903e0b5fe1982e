// The policy matrix: every capability on every path for every kind of identity, each cell asserted.
import { describe, expect, test } from "vitest";
import { identityOf } from "../../../test/support/secrets.ts";
import { compileGlob, compilePolicies } from "./policy.ts";
import { secretsConfigSchema } from "./schema.ts";
import { type Capability, capabilities } from "./types.ts";

const who = identityOf;

const { policies } = secretsConfigSchema.parse({
  policies: [
    {
      name: "alice dev",
      paths: ["/dev/**"],
      capabilities: ["read", "list", "create", "update"],
      users: ["corp:alice"],
    },
    { name: "dba", paths: ["/prod/db/*"], capabilities: ["read", "list", "rotate"], groups: ["dba"] },
    { name: "sre", paths: ["/prod/**"], capabilities: ["list", "delete"], roles: ["sre"] },
    {
      name: "api",
      paths: ["/prod/api/*", "/staging/api/*"],
      capabilities: ["read"],
      serviceAccounts: ["api"],
    },
    {
      name: "no root password",
      effect: "deny",
      paths: ["/prod/db/root*"],
      capabilities: ["read"],
      groups: ["dba"],
    },
  ],
});
const compiled = compilePolicies(policies);

const identities = {
  alice: who("user", "corp:alice"),
  // A service account named like a user gets nothing from the user binding, and the reverse.
  "service corp:alice": who("service", "corp:alice"),
  dba: who("user", "corp:bob", ["dba"]),
  sre: who("user", "corp:carol", [], ["sre"]),
  api: who("service", "api"),
  "user api": who("user", "api"),
  nobody: who("user", "corp:mallory", ["staff"], ["viewer"]),
  admin: who("user", "corp:root", [], ["admin"]),
};
type Who = keyof typeof identities;

const paths = [
  "/dev/api/key",
  "/prod/db/main",
  "/prod/db/root-password",
  "/prod/api/key",
  "/staging/api/key",
  "/staging/db/main",
];

// Expected grants: identity → path → capabilities; everything not listed is denied.
const all: readonly Capability[] = capabilities;
const expected: Record<Who, Record<string, readonly Capability[]>> = {
  alice: { "/dev/api/key": ["read", "list", "create", "update"] },
  "service corp:alice": {},
  dba: {
    "/prod/db/main": ["read", "list", "rotate"],
    "/prod/db/root-password": ["list", "rotate"],
  },
  sre: {
    "/prod/db/main": ["list", "delete"],
    "/prod/db/root-password": ["list", "delete"],
    "/prod/api/key": ["list", "delete"],
  },
  api: { "/prod/api/key": ["read"], "/staging/api/key": ["read"] },
  "user api": {},
  nobody: {},
  admin: Object.fromEntries(paths.map((p) => [p, all])),
};

describe("secrets policy matrix", () => {
  const cells = Object.keys(identities).flatMap((name) =>
    paths.flatMap((path) => capabilities.map((cap) => [name as Who, path, cap] as const)),
  );
  test.each(cells)("%s · %s · %s", (name, path, cap) => {
    const want = expected[name][path]?.includes(cap) ?? false;
    expect(compiled.allows(identities[name], cap, path)).toBe(want);
  });

  test("no policies deny everyone but admin", () => {
    const none = compilePolicies([]);
    expect(none.allows(identities.alice, "read", "/dev/api/key")).toBe(false);
    expect(none.allows(identities.admin, "read", "/dev/api/key")).toBe(true);
  });
});

describe("path globs", () => {
  test.each([
    ["/prod/*/db", "/prod/api/db", true],
    ["/prod/*/db", "/prod/api/x/db", false],
    ["/prod/**", "/prod/api/db", true],
    ["/prod/**", "/production/api/db", false],
    ["/**/password", "/prod/db/password", true],
    ["/**", "/a/b/c", true],
    ["/prod/**/db", "/prod/db", true],
    ["/prod/api-*/key", "/prod/api-v2/key", true],
    ["/prod/api-*/key", "/prod/web/key", false],
    ["/prod/a.b/key", "/prod/aXb/key", false],
    ["/prod/api/key", "/prod/api/key", true],
    ["/prod/api/key", "/prod/api/key2", false],
  ])("%s matches %s: %s", (glob, path, want) => {
    expect(compileGlob(glob)(path)).toBe(want);
  });

  test("bad globs are refused with where", () => {
    expect(() => compileGlob("prod/**", "secrets.policies[0].paths[0]")).toThrow(
      "secrets.policies[0].paths[0]: a path glob starts with '/'",
    );
    expect(() => compileGlob("/prod//x")).toThrow("empty segment");
    expect(() => compileGlob("/prod/a**")).toThrow("'**' must be a whole segment");
  });

  // A backtracking matcher would not finish this within the test timeout.
  test("many ** segments against a long path still answer", () => {
    const glob = compileGlob(`/${Array.from({ length: 30 }, () => "**").join("/")}/x`);
    expect(glob(`/${Array.from({ length: 200 }, () => "a").join("/")}`)).toBe(false);
    expect(glob(`/${Array.from({ length: 200 }, () => "a").join("/")}/x`)).toBe(true);
  });
});
