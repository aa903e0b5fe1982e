// GCP least privilege end to end: a policy and Cloud Audit Log files (generated from the reference
// role catalogue by test/fixtures/iam/gcp/generate.ts) → proposed bindings, diff, rollback; the
// cover against a plain greedy baseline; streaming log formats; properties over random bindings.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rampart } from "./support/cli.ts";
import {
  analyzeGcpFiles,
  analyzeGcpPolicy,
  catalogueFrom,
  createGcpUsage,
  type GcpAnalysis,
  type GcpMemberProposal,
  loadCatalogue,
  plainGreedyCover,
  readAuditLog,
  type RoleCatalogue,
  type RoleDefinition,
  weightedCover,
} from "../src/identity/iam/gcp/index.ts";
import { Invalid } from "../src/platform/errors.ts";
import type { PrincipalAnalysis } from "../src/identity/iam/types.ts";

const fixtures = join(import.meta.dirname, "fixtures/iam/gcp");
const sharedGcp = process.env.IAM_EVAL_DIR
  ? join(process.env.IAM_EVAL_DIR, "gcp")
  : join(import.meta.dirname, "../../shared/eval/iam/gcp");
const root = join(import.meta.dirname, "..");

const CI = "serviceAccount:ci-deployer@acme-prod.iam.gserviceaccount.com";
const ANALYST = "user:analyst@acme.example";
const ADMIN = "user:admin@acme.example";
const BACKUP = "serviceAccount:backup@acme-prod.iam.gserviceaccount.com";
const ONCALL = "user:oncall@acme.example";
const LEGACY = "serviceAccount:legacy-etl@acme-prod.iam.gserviceaccount.com";

let catalogue: RoleCatalogue;
let analysis: GcpAnalysis;
let tmp: string;

beforeAll(async () => {
  catalogue = await loadCatalogue();
  tmp = mkdtempSync(join(tmpdir(), "rampart-iam-gcp-"));
  analysis = await analyzeGcpFiles({
    policy: join(fixtures, "policy.json"),
    logs: [fixtures],
    customRoles: [join(fixtures, "custom-roles.json")],
    customRoleParent: "projects/acme-prod",
  });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function principal(member: string): PrincipalAnalysis {
  const p = analysis.report.principals.find((x) => x.principal === member);
  if (!p) throw new Error(`no analysis for ${member}`);
  return p;
}
const proposal = (member: string): GcpMemberProposal => principal(member).proposed as GcpMemberProposal;
const roles = (member: string): string[] =>
  proposal(member)
    .bindings.map((b) => b.role)
    .sort();

/** Every permission a role set grants, from the catalogue or the given custom roles. */
function grantedBy(
  roleNames: readonly string[],
  extra: readonly { name: string; includedPermissions: string[] }[] = [],
): Set<string> {
  const out = new Set<string>();
  for (const r of roleNames) {
    const def = catalogue.roles.get(r);
    const custom = extra.find((c) => c.name === r);
    for (const p of def?.permissions ?? custom?.includedPermissions ?? []) out.add(p);
  }
  return out;
}

describe("the bundled role catalogue", () => {
  it.runIf(existsSync(join(sharedGcp, "roles-permissions.json.gz")))(
    "holds exactly the reference roles and their permissions",
    () => {
      const ref = JSON.parse(
        gunzipSync(readFileSync(join(sharedGcp, "roles-permissions.json.gz"))).toString(),
      ) as Record<string, { includedPermissions: string[]; stage: string }>;
      expect(catalogue.roles.size).toBe(Object.keys(ref).length);
      for (const [name, r] of Object.entries(ref)) {
        const got = catalogue.roles.get(name);
        expect(got?.stage, name).toBe(r.stage);
        expect([...(got?.permissions ?? [])].sort(), name).toEqual(
          [...new Set(r.includedPermissions)].sort(),
        );
      }
      // The reference form loads too (for --catalogue with a newer iam-dataset snapshot).
      expect(catalogueFrom(ref).roles.get("roles/viewer")?.permissions.size).toBe(
        catalogue.roles.get("roles/viewer")?.permissions.size,
      );
    },
  );

  it("is small enough to ship and says where it came from", () => {
    const file = join(root, "src/identity/iam/gcp/catalogue.json.gz");
    expect(readFileSync(file).length).toBeLessThan(1024 * 1024);
    expect(catalogue.source).toMatch(/iann0036\/iam-dataset.*MIT/);
  });
});

describe("typical principals", () => {
  it("reads every fixture entry, from JSON lines, gzip and a gcloud JSON array", () => {
    expect(analysis.report.events.read).toBe(231);
    expect(analysis.report.events.inWindow).toBe(231);
  });

  it("CI deployer: roles/editor becomes Cloud Run developer, Artifact Registry writer and service account user", () => {
    expect(roles(CI)).toEqual([
      "roles/artifactregistry.writer",
      "roles/iam.serviceAccountUser",
      "roles/run.developer",
    ]);
    const p = principal(CI);
    expect(p.effective.before).toBe(catalogue.roles.get("roles/editor")?.permissions.size);
    expect(p.reductionPercent).toBeGreaterThan(98);
    expect(p.used.map((u) => u.permission)).toContain("iam.serviceAccounts.actAs");
    // The weighted cover grants far less beyond the used set than the plain greedy baseline.
    const [cover] = proposal(CI).covers;
    expect(cover?.weighted.excess).toBeLessThan(cover?.baseline.excess ?? 0);
    expect(p.risk.before.credentialsExposure.length).toBeGreaterThan(0);
    expect(p.risk.after.credentialsExposure).toEqual([]);
  });

  it("analyst: viewer and bigquery.user go; BigQuery job user, data viewer and object viewer remain", () => {
    expect(roles(ANALYST)).toEqual([
      "roles/bigquery.dataViewer",
      "roles/bigquery.jobUser",
      "roles/storage.objectViewer",
    ]);
    const p = principal(ANALYST);
    expect(p.used.map((u) => u.permission)).toEqual([
      "bigquery.jobs.create",
      "bigquery.tables.getData",
      "storage.objects.get",
      "storage.objects.list",
    ]);
    expect(p.reductionPercent).toBeGreaterThan(99);
    // A refused write is reported, and not granted.
    expect(p.denied.map((d) => d.permission)).toEqual(["storage.objects.create"]);
    expect(p.diff.kept).not.toContain("storage.objects.create");
    expect(analysis.changes.filter((c) => c.member === ANALYST)).toEqual([
      { change: "remove", role: "roles/bigquery.user", member: ANALYST },
      { change: "remove", role: "roles/viewer", member: ANALYST },
      { change: "add", role: "roles/bigquery.jobUser", member: ANALYST },
    ]);
  });

  it("over-privileged admin: owner becomes a compute instance role, dropping project-wide setIamPolicy", () => {
    const p = principal(ADMIN);
    expect(roles(ADMIN)).toHaveLength(1);
    expect(roles(ADMIN)[0]).toMatch(/^roles\/compute\./);
    expect(p.reductionPercent).toBeGreaterThan(97);
    expect(p.risk.before.privesc.length).toBeGreaterThan(100);
    expect(p.risk.before.privesc).toContain("resourcemanager.projects.setIamPolicy");
    // What remains is confined to the compute resources it used, none project-wide.
    expect(p.risk.after.privesc.filter((x) => !x.startsWith("compute."))).toEqual([]);
    const [cover] = proposal(ADMIN).covers;
    expect(cover?.weighted.excess).toBeLessThanOrEqual(cover?.baseline.excess ?? 0);
  });

  it("a custom role no predefined role fits inside is replaced by a custom role of exactly what was used", () => {
    const [role] = proposal(BACKUP).customRoles;
    expect(role?.name).toMatch(/^projects\/acme-prod\/roles\/rampart_backup_[0-9a-f]{8}$/);
    expect(role?.includedPermissions).toEqual(["storage.objects.create"]);
    expect(analysis.customRoles).toContainEqual(role);
    expect(principal(BACKUP).effective).toEqual({ before: 5, after: 1 });
  });

  it("keeps a binding's condition on the roles that replace it", () => {
    const [b] = proposal(ONCALL).bindings;
    expect(b?.condition?.expression).toBe('request.time < timestamp("2026-12-31T00:00:00Z")');
    const bound = analysis.proposedPolicy.bindings.find((x) => x.members.includes(ONCALL));
    expect(bound?.condition?.title).toBe("until end of 2026");
    expect(analysis.proposedPolicy.version).toBe(3);
  });

  it("removes an unused member's bindings and leaves groups it cannot attribute alone", () => {
    expect(principal(LEGACY).effective.after).toBe(0);
    expect(analysis.proposedPolicy.bindings.some((b) => b.members.includes(LEGACY))).toBe(false);
    expect(analysis.proposedPolicy.bindings).toContainEqual({
      role: "roles/viewer",
      members: ["group:sre@acme.example"],
    });
    expect(analysis.unanalysed).toEqual(["group:sre@acme.example"]);
    expect(analysis.report.notes.join(" ")).toMatch(/Data Access audit logs are off by default/);
  });

  it("never widens: every proposal replays all observed uses and stays within the original grant", () => {
    for (const p of analysis.report.principals) {
      expect(p.verification.proposed.denied, p.principal).toEqual([]);
      const original = grantedBy(
        (p.original as { bindings: { role: string }[] }).bindings.map((b) => b.role),
        JSON.parse(readFileSync(join(fixtures, "custom-roles.json"), "utf8")) as {
          name: string;
          includedPermissions: string[];
        }[],
      );
      const after = grantedBy(
        proposal(p.principal).bindings.map((b) => b.role),
        proposal(p.principal).customRoles,
      );
      for (const x of after) expect(original.has(x), `${p.principal} ${x}`).toBe(true);
      for (const u of p.used) expect(after.has(u.permission), `${p.principal} ${u.permission}`).toBe(true);
    }
  });

  it("rolls back to the original policy, without the etag the change invalidates", () => {
    const original = JSON.parse(readFileSync(join(fixtures, "policy.json"), "utf8")) as Record<
      string,
      unknown
    >;
    const { etag, ...rest } = original;
    expect(etag).toBeTypeOf("string");
    expect(analysis.rollbackPolicy).toEqual(rest);
    expect(analysis.proposedPolicy.etag).toBe(etag);
  });

  it("is deterministic", async () => {
    const again = await analyzeGcpFiles({
      policy: join(fixtures, "policy.json"),
      logs: [
        join(fixtures, "others.jsonl"),
        join(fixtures, "analyst.json"),
        join(fixtures, "ci-deployer.jsonl.gz"),
      ],
      customRoles: [join(fixtures, "custom-roles.json")],
      customRoleParent: "projects/acme-prod",
    });
    expect(again.proposedPolicy).toEqual(analysis.proposedPolicy);
    expect(again.changes).toEqual(analysis.changes);
  });

  it("--custom-role-only and --max-excess choose a custom role of exactly the used permissions", async () => {
    const strict = await analyzeGcpFiles({
      policy: join(fixtures, "policy.json"),
      logs: [fixtures],
      customRoles: [join(fixtures, "custom-roles.json")],
      members: [ANALYST],
      maxExcess: 10,
    });
    expect(strict.report.principals.map((p) => p.principal)).toEqual([ANALYST]);
    const [role] = strict.customRoles;
    expect(role?.name).toMatch(/^projects\/PROJECT_ID\/roles\//);
    expect(role?.includedPermissions).toEqual([
      "bigquery.jobs.create",
      "bigquery.tables.getData",
      "storage.objects.get",
      "storage.objects.list",
    ]);
    // Only the analysed member changes.
    expect(strict.changes.every((c) => c.member === ANALYST)).toBe(true);
  });
});

describe("role-set cover", () => {
  const role = (name: string, perms: string[]): RoleDefinition => ({
    name,
    title: name,
    stage: "GA",
    permissions: new Set(perms),
  });
  const big = role("roles/x.big", [
    "x.a",
    "x.b",
    "x.c",
    ...Array.from({ length: 100 }, (_, i) => `x.extra${i}`),
  ]);
  const ab = role("roles/x.ab", ["x.a", "x.b", "x.d"]);
  const c = role("roles/x.c", ["x.c"]);
  const used = new Set(["x.a", "x.b", "x.c"]);

  it("prefers two tight roles to one wide one, where plain greedy takes the wide one", () => {
    expect(weightedCover(used, [big, ab, c])).toEqual({
      roles: ["roles/x.ab", "roles/x.c"],
      uncovered: [],
      excess: 1,
    });
    expect(plainGreedyCover(used, [big, ab, c])).toEqual({
      roles: ["roles/x.big"],
      uncovered: [],
      excess: 100,
    });
  });

  it("prunes roles the later picks made redundant and reports what nothing covers", () => {
    const a = role("roles/x.a", ["x.a"]);
    const abc = role("roles/x.abc", ["x.a", "x.b", "x.c", "x.e"]);
    const got = weightedCover(new Set(["x.a", "x.b", "x.c", "x.z"]), [a, abc]);
    expect(got).toEqual({ roles: ["roles/x.abc"], uncovered: ["x.z"], excess: 1 });
  });

  it("on the reference catalogue, beats or ties the baseline for random used sets", () => {
    const pool = [...catalogue.roles.values()].filter((r) => r.stage === "GA" && r.permissions.size <= 60);
    const perms = [...new Set(pool.flatMap((r) => [...r.permissions]))].sort();
    let better = 0;
    fc.assert(
      fc.property(fc.uniqueArray(fc.constantFrom(...perms), { minLength: 1, maxLength: 8 }), (u) => {
        const set = new Set(u);
        const w = weightedCover(set, pool);
        const b = plainGreedyCover(set, pool);
        expect(w.uncovered).toEqual(b.uncovered);
        if (w.excess < b.excess) better++;
        return true;
      }),
      { numRuns: 40, seed: 7 },
    );
    expect(better).toBeGreaterThan(0);
  });
});

describe("audit log reading", () => {
  const entry = (
    email: string,
    permission: string,
    granted?: boolean,
    time = "2026-10-01T10:00:00Z",
  ): object => ({
    protoPayload: {
      authenticationInfo: { principalEmail: email },
      authorizationInfo: [
        { permission, resource: "projects/p", ...(granted === undefined ? {} : { granted }) },
      ],
      methodName: "m",
      serviceName: "s.googleapis.com",
    },
    timestamp: time,
  });

  async function all(file: string): Promise<unknown[]> {
    const out = [];
    for await (const e of readAuditLog(file)) out.push(e);
    return out;
  }

  it("reads JSON lines, a pretty JSON array and gzip alike; a missing granted is a refusal", async () => {
    const entries = [
      entry("a@x.example", "storage.objects.get", true),
      entry("a@x.example", "storage.objects.delete"),
    ];
    writeFileSync(join(tmp, "a.jsonl"), entries.map((e) => JSON.stringify(e)).join("\n"));
    writeFileSync(join(tmp, "a.json"), JSON.stringify(entries, null, 2));
    writeFileSync(join(tmp, "a.json.gz"), gzipSync(JSON.stringify(entries)));
    const lines = await all(join(tmp, "a.jsonl"));
    expect(lines).toHaveLength(2);
    expect(await all(join(tmp, "a.json"))).toEqual(lines);
    expect(await all(join(tmp, "a.json.gz"))).toEqual(lines);
    expect((lines[1] as { checks: { granted: boolean }[] }).checks[0]?.granted).toBe(false);
  });

  it("keeps braces inside strings apart from structure", async () => {
    const e = entry('we{ir"d}@x.example', "storage.objects.get", true);
    writeFileSync(join(tmp, "b.jsonl"), JSON.stringify(e) + "\n");
    const [got] = (await all(join(tmp, "b.jsonl"))) as { principalEmail: string }[];
    expect(got?.principalEmail).toBe('we{ir"d}@x.example');
  });

  it("rejects a truncated log and garbage between entries", async () => {
    writeFileSync(join(tmp, "t.json"), JSON.stringify([entry("a@x.example", "p.q.r", true)]).slice(0, 60));
    await expect(all(join(tmp, "t.json"))).rejects.toThrow(/truncated/);
    writeFileSync(join(tmp, "g.jsonl"), `${JSON.stringify(entry("a@x.example", "p.q.r", true))}\nnot json\n`);
    await expect(all(join(tmp, "g.jsonl"))).rejects.toBeInstanceOf(Invalid);
    await expect(all(join(tmp, "missing.jsonl"))).rejects.toThrow(/cannot read/);
  });

  it("skips entries without a principal, permission checks or time, and outside the window", () => {
    const usage = createGcpUsage({ from: "2026-10-01T00:00:00Z", to: "2026-10-02T00:00:00Z" });
    usage.add({ checks: [{ permission: "a.b.c", granted: true }], timestamp: "2026-10-01T01:00:00Z" });
    usage.add({ principalEmail: "a@x.example", checks: [], timestamp: "2026-10-01T01:00:00Z" });
    usage.add({ principalEmail: "a@x.example", checks: [{ permission: "a.b.c", granted: true }] });
    usage.add({
      principalEmail: "a@x.example",
      checks: [{ permission: "a.b.c", granted: true }],
      timestamp: "2026-10-03T00:00:00Z",
    });
    usage.add({
      principalEmail: "a@x.example",
      checks: [{ permission: "a.b.c", granted: true }],
      timestamp: "2026-10-01T02:00:00Z",
    });
    expect(usage.events).toEqual({
      read: 5,
      inWindow: 1,
      skipped: {
        "no principalEmail": 1,
        "no authorizationInfo": 1,
        "no timestamp": 1,
        "outside the window": 1,
      },
    });
    expect([...usage.allowed("user:a@x.example").keys()]).toEqual(["a.b.c"]);
  });
});

describe("rampart iam gcp analyze", () => {
  const run = (args: string[]) => rampart(["iam", "gcp", "analyze", ...args], { cwd: tmp });
  const base = [
    "--policy",
    join(fixtures, "policy.json"),
    "--logs",
    fixtures,
    "--custom-roles",
    join(fixtures, "custom-roles.json"),
  ];

  it("writes the proposed policy, rollback, diff, custom roles and reports", async () => {
    const out = join(tmp, "out");
    const r = await run([...base, "--project", "acme-prod", "--format", "json", "--out-dir", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as GcpAnalysis;
    expect(printed.proposedPolicy).toEqual(
      JSON.parse(readFileSync(join(out, "proposed-policy.json"), "utf8")),
    );
    expect(JSON.parse(readFileSync(join(out, "rollback-policy.json"), "utf8"))).toEqual(
      analysis.rollbackPolicy,
    );
    expect(readFileSync(join(out, "bindings.diff"), "utf8")).toContain(`- roles/owner ${ADMIN}\n`);
    const [role] = printed.customRoles;
    const id = role?.name.split("/").pop() ?? "";
    expect(JSON.parse(readFileSync(join(out, "custom-roles", `${id}.json`), "utf8"))).toEqual({
      title: role?.title,
      description: role?.description,
      stage: "GA",
      includedPermissions: ["storage.objects.create"],
    });
    expect(readFileSync(join(out, "report.md"), "utf8")).toMatch(/^# GCP least-privilege analysis/);
  });

  it("prints a table for one member, and refuses bad arguments", async () => {
    const r = await run([...base, "--member", ANALYST]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("roles/bigquery.jobUser");
    expect(r.stdout).not.toContain(ADMIN);
    const bad = await run([...base, "--member", "analyst@acme.example"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/user:EMAIL or serviceAccount:EMAIL/);
    const absent = await run([...base, "--member", "user:nobody@acme.example"]);
    expect(absent.code).not.toBe(0);
    expect(absent.stderr).toMatch(/not bound in the policy/);
    const missing = await run(["--policy", join(tmp, "nope.json"), "--logs", fixtures]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/nope\.json/);
  });
});

describe("properties over random bindings and usage", () => {
  it("the proposal allows every used permission and grants nothing the member did not have", () => {
    const pool = [...catalogue.roles.values()]
      .filter((r) => r.permissions.size <= 400)
      .map((r) => r.name)
      .sort();
    const members = ["user:p1@x.example", "serviceAccount:p2@x.iam.gserviceaccount.com"];
    const arbBinding = fc.record({
      role: fc.constantFrom(...pool),
      members: fc.subarray(members, { minLength: 1 }),
      conditional: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(arbBinding, { minLength: 1, maxLength: 4 }),
        fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
        fc.record({
          allowBeta: fc.boolean(),
          customRoleOnly: fc.boolean(),
          maxExcess: fc.option(fc.nat(50), { nil: undefined }),
        }),
        (bs, coins, opts) => {
          const bindings = bs.map((b) => ({
            role: b.role,
            members: b.members,
            ...(b.conditional
              ? { condition: { expression: "resource.name.startsWith('projects/_/buckets/a')", title: "a" } }
              : {}),
          }));
          const usage = createGcpUsage();
          const granted = new Map<string, Set<string>>();
          for (const b of bindings)
            for (const m of b.members) {
              const s = granted.get(m) ?? new Set<string>();
              for (const p of catalogue.roles.get(b.role)?.permissions ?? []) s.add(p);
              granted.set(m, s);
            }
          const it = coins[Symbol.iterator]();
          const used = new Map<string, Set<string>>();
          for (const [m, perms] of granted) {
            const u = new Set([...perms].filter(() => (it.next().value as number) < 0.05));
            used.set(m, u);
            for (const p of u)
              usage.add({
                principalEmail: m.slice(m.indexOf(":") + 1),
                timestamp: "2026-10-01T00:00:00Z",
                checks: [{ permission: p, granted: true }],
              });
          }
          const a = analyzeGcpPolicy({ bindings }, usage, { catalogue, ...opts });
          for (const p of a.report.principals) {
            const before = granted.get(p.principal) ?? new Set();
            const after = new Set(p.diff.kept);
            expect(p.verification.proposed.denied).toEqual([]);
            for (const u of used.get(p.principal) ?? []) expect(after.has(u)).toBe(true);
            for (const x of after) expect(before.has(x)).toBe(true);
            // The rewritten policy grants the member exactly the proposal.
            const rebound = new Set<string>();
            for (const b of a.proposedPolicy.bindings)
              if (b.members.includes(p.principal))
                for (const x of catalogue.roles.get(b.role)?.permissions ??
                  a.customRoles.find((c) => c.name === b.role)?.includedPermissions ??
                  [])
                  rebound.add(x);
            expect([...rebound].sort()).toEqual([...after].sort());
          }
        },
      ),
      { numRuns: 60, seed: 42 },
    );
  });
});
