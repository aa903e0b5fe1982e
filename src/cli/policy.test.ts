// `rampart policy test` as an operator runs it: the decision, the deciding rule and a reason per
// condition; --json for scripts; exit 0 allow, 1 deny, 2 bad input.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { rampart } from "../../test/support/cli.ts";

const work = mkdtempSync(join(tmpdir(), "rampart-policy-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const config = join(work, "rampart.yaml");
writeFileSync(
  config,
  [
    "version: 1",
    "environment: prod",
    "rbac:",
    "  bindings:",
    "    - role: operator",
    "      groups: [sre]",
    "routes:",
    "  - path: /admin",
    "    upstream: http://127.0.0.1:3000",
    "    policy:",
    "      rules:",
    "        - name: embargo",
    "          deny: { countries: [KP, IR] }",
    '        - allow: { groups: [sre], methods: [GET, POST], paths: ["/admin/**"], sourceCidrs: [10.0.0.0/8] }',
    "        - allow: { claims: { department: [security] }, roles: [oncall] }",
    "        - allow: { roles: [operator], environments: [prod], time: { days: [sat, sun] } }",
    "  - path: /grafana",
    "    upstream: http://127.0.0.1:3001",
    "  - path: /broken",
    "    upstream: http://127.0.0.1:3002",
    "    policy:",
    "      rules:",
    "        - allow: { groups: [sre] }",
    "        - allow: { sourceCidrs: [10.0.0.0/8, 10.0.0.300/32] }",
    "",
  ].join("\n"),
);

const base = ["policy", "test", "-c", config, "--route", "/admin", "--time", "2026-11-23T10:00:00Z"];

test("allow: the deciding rule and why every rule matched or not; exit 0", async () => {
  const run = await rampart(
    [...base, "--user", "alice@example.com", "--group", "sre", "--ip", "10.1.2.3", "--path", "/admin/users"],
    { cwd: work },
  );
  expect(run.code).toBe(0);
  expect(run.stdout).toBe(
    [
      "ALLOW  by rule 1 (allow)",
      '  rule 0 (deny "embargo"): does not match',
      "    ✗ countries: no country",
      "  rule 1 (allow): matches",
      '    ✓ groups: groups ["sre"] listed',
      '    ✓ sourceCidrs: client IP 10.1.2.3 in ["10.0.0.0/8"]',
      '    ✓ methods: method ["GET"] listed',
      '    ✓ paths: path /admin/users matches ["/admin/**"]',
      "  rule 2 (allow): does not match",
      '    ✗ roles: roles ["operator"] not in ["oncall"]',
      "    ✗ claims: claim department absent",
      "  rule 3 (allow): does not match",
      '    ✓ roles: roles ["operator"] listed',
      "    ✗ time: mon 10:00 UTC outside sat,sun UTC",
      '    ✓ environments: environment ["prod"] listed',
      "",
    ].join("\n"),
  );
});

test("deny: by a deny rule, or by default; exit 1; --json for scripts", async () => {
  const embargo = await rampart(
    [...base, "--user", "corp:bob", "--group", "sre", "--ip", "10.1.2.3", "--country", "kp"],
    { cwd: work },
  );
  expect(embargo.code).toBe(1);
  expect(embargo.stdout.split("\n")[0]).toBe('DENY  by rule 0 (deny "embargo")');
  const json = await rampart(
    [...base, "--user", "corp:bob", "--claim", "department=security", "-X", "DELETE", "--json"],
    { cwd: work },
  );
  expect(json.code).toBe(1);
  const x = JSON.parse(json.stdout);
  expect(x.decision).toEqual({ allowed: false });
  expect(x.rules[2]).toMatchObject({ index: 2, kind: "allow", matched: false });
  // --role adds a role, as a just-in-time grant would.
  const oncall = await rampart(
    [...base, "--user", "corp:bob", "--claim", "department=security", "--role", "oncall"],
    {
      cwd: work,
    },
  );
  expect(oncall.code).toBe(0);
  expect(oncall.stdout.split("\n")[0]).toBe("ALLOW  by rule 2 (allow)");
});

test("nobody signed in: identity conditions fail and say so", async () => {
  const run = await rampart([...base, "--ip", "10.1.2.3"], { cwd: work });
  expect(run.code).toBe(1);
  expect(run.stdout).toContain("✗ groups: no signed-in identity");
});

test("bad input exits 2 and says what and where", async () => {
  const missing = await rampart(["policy", "test", "-c", config, "--route", "/nope"], { cwd: work });
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain("--route: ");
  expect(missing.stderr).toContain("has no route with path '/nope' (it has /admin, /grafana, /broken)");
  const none = await rampart(["policy", "test", "-c", config, "--route", "/grafana"], { cwd: work });
  expect(none.code).toBe(2);
  expect(none.stderr).toContain("the route '/grafana' has no policy section");
  const broken = await rampart(["policy", "test", "-c", config, "--route", "/broken"], { cwd: work });
  expect(broken.code).toBe(2);
  expect(broken.stderr).toContain(
    "routes[2].policy.rules[1].allow.sourceCidrs[1]: expected an IP address or CIDR range",
  );
  const time = await rampart([...base, "--time", "yesterday"], { cwd: work });
  expect(time.code).toBe(2);
  expect(time.stderr).toContain("--time: expected an ISO 8601 time; got 'yesterday'");
  const claim = await rampart([...base, "--user", "corp:bob", "--claim", "novalue"], { cwd: work });
  expect(claim.code).toBe(2);
  expect(claim.stderr).toContain("--claim: expected name=value; got 'novalue'");
});
