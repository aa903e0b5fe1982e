// RBAC as Rampart's API uses it: who holds which roles, what each built-in role may do, and the
// bindings the API adds and removes at run time.
import { describe, expect, test } from "vitest";
import { createRbac, rbacConfigSchema } from "./index.ts";

const alice = {
  kind: "user" as const,
  subject: "corp:alice",
  email: "Alice@Example.com",
  emailVerified: true,
  groups: ["auditors"],
};
const deployer = { kind: "service" as const, subject: "deployer", groups: [] };

const rbac = () =>
  createRbac(
    rbacConfigSchema.parse({
      roles: {
        "team-a-dev": {
          description: "team A's routes",
          permissions: [
            { action: "gateway:routes:*", resources: ["routes/team-a/**"] },
            "jit:requests:create",
          ],
        },
      },
      bindings: [
        { role: "auditor", groups: ["auditors"] },
        { role: "team-a-dev", users: ["alice@example.com"] },
        { role: "operator", serviceAccounts: ["deployer"] },
        { id: "root", role: "admin", users: ["corp:root"] },
      ],
    }),
  );

describe("roles of an identity", () => {
  test("by group, by verified email, by subject, and for service accounts by name", () => {
    const r = rbac();
    expect(r.rolesOf(alice)).toEqual(["auditor", "team-a-dev"]);
    expect(r.rolesOf({ kind: "user", subject: "corp:root", groups: [] })).toEqual(["admin"]);
    expect(r.rolesOf(deployer)).toEqual(["operator"]);
  });

  test("an unverified email, or a person named like a service account, gets nothing from them", () => {
    const r = rbac();
    expect(r.rolesOf({ ...alice, emailVerified: false })).toEqual(["auditor"]);
    expect(r.rolesOf({ kind: "user", subject: "deployer", groups: [] })).toEqual([]);
    expect(r.rolesOf({ kind: "service", subject: "corp:root", groups: [] })).toEqual([]);
    expect(r.rolesOf({ kind: "user", subject: "corp:nobody", groups: [] })).toEqual([]);
  });
});

describe("built-in roles", () => {
  const r = createRbac();
  const table: [string, string, boolean][] = [
    ["admin", "rbac:bindings:write", true],
    ["admin", "secrets:read", true],
    ["security-admin", "gateway:blocks:write", true],
    ["security-admin", "gateway:waf:write", true],
    ["security-admin", "secrets:policy:write", true],
    ["security-admin", "incidents:write", true],
    ["security-admin", "rbac:bindings:read", true],
    ["security-admin", "rbac:bindings:write", false],
    ["security-admin", "rbac:roles:write", false],
    ["security-admin", "secrets:read", false],
    ["operator", "gateway:routes:write", true],
    ["operator", "gateway:reload", true],
    ["operator", "audit:read", true],
    ["operator", "secrets:read", false],
    ["operator", "secrets:policy:write", false],
    ["operator", "rbac:bindings:write", false],
    ["developer", "gateway:routes:read", true],
    ["developer", "jit:requests:create", true],
    ["developer", "gateway:routes:write", false],
    ["developer", "audit:read", false],
    ["auditor", "audit:read", true],
    ["auditor", "gateway:blocks:read", true],
    ["auditor", "secrets:list", true],
    ["auditor", "secrets:read", false],
    ["auditor", "gateway:blocks:write", false],
    ["auditor", "incidents:write", false],
  ];
  test.each(table)("%s may %s: %s", (role, action, expected) => {
    expect(r.can([role], action)).toBe(expected);
    expect(r.permissionCheck(action)([role])).toBe(expected);
  });

  test("no role, an unknown role or an unknown action grants nothing", () => {
    expect(r.can([], "audit:read")).toBe(false);
    expect(r.can(["root", "superuser"], "audit:read")).toBe(false);
    expect(r.can(["developer"], "anything:at:all")).toBe(false);
    expect(r.can(["admin"], "anything:at:all")).toBe(true);
  });
});

test("a permission scoped to resources grants only on those resources", () => {
  const r = rbac();
  const roles = r.rolesOf(alice);
  expect(r.can(roles, "gateway:routes:write", "routes/team-a/grafana")).toBe(true);
  expect(r.can(roles, "gateway:routes:write", "routes/team-b/grafana")).toBe(false);
  expect(r.can(roles, "gateway:routes:write", "routes/team-a")).toBe(true);
  expect(r.can(roles, "gateway:routes:write")).toBe(false);
  expect(r.permissionCheck("gateway:routes:write", "routes/team-a/x")(roles)).toBe(true);
  // Unscoped permissions hold for any resource.
  expect(r.can(roles, "audit:read", "audit/2026")).toBe(true);
});

test("bindings added, removed and replaced through the API take effect at once", () => {
  const r = rbac();
  const b = r.addBinding({ role: "security-admin", groups: ["secops"] });
  expect(b.id).toMatch(/^security-admin-[0-9a-f]{12}$/);
  const sec = { kind: "user" as const, subject: "corp:sam", groups: ["secops"] };
  expect(r.rolesOf(sec)).toEqual(["security-admin"]);
  expect(() => r.addBinding({ role: "security-admin", groups: ["secops"] })).toThrow(/exists/);
  r.removeBinding(b.id);
  expect(r.rolesOf(sec)).toEqual([]);
  expect(() => r.removeBinding(b.id)).toThrow(expect.objectContaining({ code: "not_found" }));
  r.replaceBindings([{ id: "only", role: "developer", groups: ["secops"] }]);
  expect(r.bindings()).toEqual([{ id: "only", role: "developer", groups: ["secops"] }]);
  expect(r.rolesOf(alice)).toEqual([]);
});

test("a bad binding is refused with where and why, and changes nothing", () => {
  const r = rbac();
  const before = r.bindings();
  expect(() => r.addBinding({ role: "god", users: ["x"] })).toThrow("binding.role: no role named god");
  expect(() => r.addBinding({ role: "admin" })).toThrow("bind the role to users, groups or serviceAccounts");
  expect(() => r.addBinding({ role: "admin", user: ["x"] })).toThrow(/Unrecognized key/);
  expect(() =>
    r.replaceBindings([
      { role: "admin", users: ["a"] },
      { role: "nope", users: ["b"] },
    ]),
  ).toThrow("bindings[1].role: no role named nope");
  expect(r.bindings()).toEqual(before);
});

test("RBAC config errors: unknown roles, redefined built-ins, malformed actions", () => {
  const issues = rbacConfigSchema
    .safeParse({
      roles: { admin: { permissions: ["**"] }, ops: { permissions: ["gateway:routes:**read"] } },
      bindings: [{ role: "opz", groups: ["ops"] }],
    })
    .error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  expect(issues).toEqual([
    "roles.ops.permissions.0: expected an action such as secrets:read, with * for one segment or ** for any",
    "roles.admin: admin is a built-in role",
    "bindings.0.role: no role named opz",
  ]);
});
