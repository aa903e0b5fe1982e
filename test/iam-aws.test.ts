// AWS least privilege end to end: generated CloudTrail for three typical principals (a CI
// deployer, a read-only analyst, an over-privileged admin) against their real policies
// (ReadOnlyAccess from ../shared/eval/iam), the expected reductions, the replay gate, M ⊆ P,
// property tests over random policies and logs, the reader's layouts and failure paths, the
// 6,144-character split, and the `rampart iam aws analyze` command.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  analysePrincipal,
  analyzeAws,
  createActionCatalogue,
  createUsageCollector,
  decide,
  loadPolicies,
  mapRecord,
  MANAGED_POLICY_MAX_CHARS,
  readRecords,
  riskFlags,
  split,
  statements,
  type AwsProposal,
  type NamedPolicy,
  type PolicyDocument,
  type PolicyStatement,
  type ReplayPolicies,
} from "../src/identity/iam/aws/index.ts";
import { formatMarkdown, formatTable } from "../src/identity/iam/report.ts";
import type { IamAnalysisReport, PrincipalAnalysis } from "../src/identity/iam/types.ts";
import { authorizationDetails, fixtureCalls } from "./fixtures/iam/aws/generate.ts";
import { cloudTrailRecord, type Caller } from "./fixtures/iam/aws/events.ts";
import { rampart } from "./support/cli.ts";

const fixtures = join(import.meta.dirname, "fixtures/iam/aws");
const trail = join(fixtures, "cloudtrail");
const managedDir = join(import.meta.dirname, "../../shared/eval/iam/aws/managed-policies");
// The reference data's ReadOnlyAccess record (../shared/eval is beside every checkout, CI's too).
const readOnlyName = "ReadOnlyAccess";
interface ManagedRecord {
  name: string;
  arn: string;
  version: string;
  document: PolicyDocument;
  effective_actions: {
    effective_action: string;
    privesc: boolean;
    credentials_exposure: boolean;
    data_access: boolean;
  }[];
}
const managed = (name: string) =>
  JSON.parse(readFileSync(join(managedDir, `${name}.json`), "utf8")) as ManagedRecord;

const CI = "arn:aws:iam::111122223333:role/ci-deployer";
const ANALYST = "arn:aws:iam::111122223333:user/analyst";
const ADMIN = "arn:aws:iam::111122223333:user/admin-alice";
const catalogue = createActionCatalogue();

let work: string;
let authFile: string;
let report: IamAnalysisReport;
const principal = (arn: string) => report.principals.find((p) => p.principal === arn) as PrincipalAnalysis;
const proposedStatements = (a: PrincipalAnalysis) =>
  (a.proposed as AwsProposal).policies.flatMap((p) => statements(p.document).map((s) => s.raw));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "rampart-iam-aws-"));
  // The fixture leaves the AWS managed read-only policy out; it comes from the reference data.
  const details = JSON.parse(readFileSync(join(fixtures, "authorization-details.json"), "utf8")) as {
    Policies: unknown[];
    GroupDetailList: { AttachedManagedPolicies: { PolicyName: string; PolicyArn: string }[] }[];
  };
  if (readOnlyName) {
    const ro = managed(readOnlyName);
    details.GroupDetailList[0]!.AttachedManagedPolicies = [{ PolicyName: ro.name, PolicyArn: ro.arn }];
    details.Policies.push({
      PolicyName: ro.name,
      Arn: ro.arn,
      DefaultVersionId: ro.version,
      PolicyVersionList: [{ VersionId: ro.version, IsDefaultVersion: true, Document: ro.document }],
    });
  }
  authFile = join(work, "authorization-details.json");
  writeFileSync(authFile, JSON.stringify(details));
  report = await analyzeAws({ policies: await loadPolicies([authFile]), logs: [trail], catalogue });
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("fixtures: three typical principals", () => {
  it("are what the generator produces, in all three layouts", async () => {
    const expected = fixtureCalls().length;
    let n = 0;
    for (const f of readdirSync(trail)) for await (const _ of readRecords(join(trail, f))) n++;
    expect(n).toBe(expected);
    expect(report.events.read).toBe(expected);
    // GetCallerIdentity needs no permission: skipped, and said so
    expect(report.events.skipped["no permission needed"]).toBeGreaterThan(0);
    expect(report.principals.map((p) => p.principal).sort()).toEqual([CI, ADMIN, ANALYST].sort());
  });

  it("the generator's policy fixture is what authorization-details.json holds", () => {
    expect(JSON.parse(readFileSync(join(fixtures, "authorization-details.json"), "utf8"))).toEqual(
      authorizationDetails(),
    );
  });

  it("every observed allowed call is allowed by every proposal (the replay gate)", () => {
    for (const a of report.principals) {
      expect(a.verification.proposed.denied, a.principal).toEqual([]);
      expect(a.verification.proposed.replayed).toBeGreaterThan(0);
      expect(a.verification.proposed.allowed).toBe(a.verification.proposed.replayed);
      expect(a.verification.original?.denied).toEqual([]);
    }
  });

  it("admin: AdministratorAccess shrinks to exactly the actions used", () => {
    const a = principal(ADMIN);
    const used = [
      "ec2:DescribeInstances",
      "ec2:DescribeSecurityGroups",
      "ec2:StartInstances",
      "ec2:StopInstances",
      "s3:GetObject",
      "s3:ListAllMyBuckets",
    ];
    expect(a.used.map((u) => u.permission)).toEqual(used);
    expect(a.diff.kept).toEqual(used);
    expect(a.effective.after).toBe(used.length);
    expect(a.effective.before).toBeGreaterThan(15_000);
    expect(a.reductionPercent).toBeGreaterThan(99.9);
    expect(a.risk.before.privesc).toContain("iam:PassRole");
    expect(a.risk.after.privesc).toEqual([]);
    expect(a.risk.after.credentialsExposure).toEqual([]);
    expect(a.risk.after.dataAccess).toEqual(["s3:GetObject"]);
    // scoped to what was touched
    const stop = proposedStatements(a).find((s) => [s.Action].flat().includes("ec2:StopInstances"));
    expect([stop?.Resource].flat().sort()).toEqual([
      "arn:aws:ec2:us-east-1:111122223333:instance/i-0a1b2c3d4e5f60001",
      "arn:aws:ec2:us-east-1:111122223333:instance/i-0a1b2c3d4e5f60002",
    ]);
    const get = proposedStatements(a).find((s) => [s.Action].flat().includes("s3:GetObject"));
    expect(get?.Resource).toBe("arn:aws:s3:::finance-reports/2026/10.pdf");
  });

  it("analyst: more than 95% of the read-only policy's effective actions go", () => {
    const a = principal(ANALYST);
    const ro = managed(readOnlyName as string);
    const roActions = new Set(ro.effective_actions.map((e) => e.effective_action));
    // the generator drew the analyst's reads from the policy's effective actions
    const reads = a.used.map((u) => u.permission).filter((p) => !p.startsWith("athena:Start"));
    for (const p of reads) expect(roActions, p).toContain(p);
    // scored as ../shared/eval/iam/index.md does: 1 − |effective(M)| / |effective(P)|
    expect(1 - a.effective.after / roActions.size).toBeGreaterThan(0.95);
    expect(a.reductionPercent).toBeGreaterThan(95);
    expect(a.diff.kept).toContain("athena:StartQueryExecution"); // from the group's inline policy
    // the denied write to the data lake is reported, not granted
    expect(a.denied.map((d) => d.permission)).toEqual(["s3:PutObject"]);
    expect(a.diff.kept).not.toContain("s3:PutObject");
    expect(a.risk.after.credentialsExposure).toEqual([]);
    expect(a.risk.before.credentialsExposure.length).toBeGreaterThan(0);
  });

  it("ci-deployer: scoped to its repository, service, bucket and passed roles; Deny and condition kept", () => {
    const a = principal(CI);
    expect(a.diff.kept).toEqual([
      "ecr:BatchCheckLayerAvailability",
      "ecr:CompleteLayerUpload",
      "ecr:GetAuthorizationToken",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
      "ecs:DescribeServices",
      "ecs:RegisterTaskDefinition",
      "ecs:UpdateService",
      "iam:PassRole",
      "s3:ListBucket",
      "s3:PutObject",
    ]);
    expect(a.reductionPercent).toBeGreaterThan(95);
    const st = proposedStatements(a);
    const withAction = (x: string) =>
      st.find((s) => s.Effect === "Allow" && [s.Action].flat().includes(x)) as PolicyStatement;
    expect(withAction("ecr:PutImage").Resource).toBe("arn:aws:ecr:us-east-1:111122223333:repository/web");
    expect(withAction("ecs:UpdateService").Resource).toBe(
      "arn:aws:ecs:us-east-1:111122223333:service/prod/web",
    );
    // 28 build artifacts: generalised to the bucket's objects rather than listed one by one
    expect(withAction("s3:PutObject").Resource).toBe("arn:aws:s3:::ci-artifacts/*");
    const pass = withAction("iam:PassRole");
    expect([pass.Resource].flat().sort()).toEqual([
      "arn:aws:iam::111122223333:role/ecsTaskExecutionRole",
      "arn:aws:iam::111122223333:role/web-task",
    ]);
    expect(pass.Condition).toEqual({ StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } });
    const deny = st.find((s) => s.Effect === "Deny");
    expect(deny).toMatchObject({
      Sid: "NoBucketDeletes",
      Action: ["s3:DeleteBucket", "ecs:DeleteCluster", "ecs:DeleteService"],
    });
    expect(a.denied).toEqual([expect.objectContaining({ permission: "ecs:DeleteService", count: 1 })]);
    expect(a.risk.after.privesc).toEqual(["iam:PassRole"]);
    expect(a.risk.before.resourceExposure.length).toBeGreaterThan(0);
    expect(a.risk.after.resourceExposure).toEqual([]);
  });

  it("M ⊆ P: every action the proposals allow on the resources seen, the originals allow too", async () => {
    const details = await loadPolicies([authFile]);
    for (const a of report.principals) {
      const original = details.principals.get(a.principal) as { policies: NamedPolicy[] };
      const P: ReplayPolicies = { principal: a.principal, identity: original.policies };
      const M: ReplayPolicies = { principal: a.principal, identity: (a.proposed as AwsProposal).policies };
      for (const u of a.used)
        for (const resource of [...u.resources.slice(0, 3), "*"]) {
          const call = {
            action: u.permission,
            resource,
            account: "111122223333",
            context: { region: "us-east-1" },
          };
          if ((await decide(M, call)).allowed)
            expect((await decide(P, call)).allowed, `${u.permission} ${resource}`).toBe(true);
        }
      const before = new Set([...a.unused, ...a.used.map((u) => u.permission)]);
      for (const k of a.diff.kept) expect(before).toContain(k);
    }
  });

  it("the reports say it in a table and in Markdown", () => {
    const table = formatTable(report);
    expect(table).toMatch(/arn:aws:iam::111122223333:user\/admin-alice\s+6\s+\d+\s+\d+→6\s+100\.0%/);
    expect(table).toContain("tried and refused (not proposed): ecs:DeleteService ×1");
    const md = formatMarkdown(report);
    expect(md).toContain("# Least-privilege analysis (AWS)");
    expect(md).toContain("| arn:aws:iam::111122223333:role/ci-deployer |");
    expect(md).toContain("Removed privilege escalation");
  });

  it("a window narrows the evidence: only the first week's calls count", async () => {
    const r = await analyzeAws({
      policies: await loadPolicies([authFile]),
      logs: [trail],
      principal: ADMIN,
      since: new Date("2026-11-02T00:00:00Z"),
      until: new Date("2026-11-05T00:00:00Z"),
      catalogue,
    });
    expect(r.principals).toHaveLength(1);
    const a = r.principals[0]!;
    expect(a.window).toEqual({ from: "2026-11-02T00:00:00.000Z", to: "2026-11-05T00:00:00.000Z" });
    // the EC2 start/stop and the report download came later
    expect(a.diff.kept).toEqual([
      "ec2:DescribeInstances",
      "ec2:DescribeSecurityGroups",
      "s3:ListAllMyBuckets",
    ]);
    expect(r.events.skipped["outside the window"]).toBeGreaterThan(0);
  });
});

describe("risk flags", () => {
  it("agree with iam-dataset's flags on the reference managed policies", async () => {
    const theirs = {
      privesc: new Set<string>(),
      credentialsExposure: new Set<string>(),
      dataAccess: new Set<string>(),
    };
    const all = new Set<string>();
    for (const f of readdirSync(managedDir)) {
      for (const e of managed(f.replace(/\.json$/, "")).effective_actions) {
        all.add(e.effective_action);
        if (e.privesc) theirs.privesc.add(e.effective_action);
        if (e.credentials_exposure) theirs.credentialsExposure.add(e.effective_action);
        if (e.data_access) theirs.dataAccess.add(e.effective_action);
      }
    }
    const mine = await riskFlags(all, catalogue);
    const recall = (k: keyof typeof theirs) =>
      mine[k].filter((a) => theirs[k].has(a)).length / theirs[k].size;
    expect(recall("privesc")).toBeGreaterThanOrEqual(0.8);
    expect(recall("credentialsExposure")).toBeGreaterThanOrEqual(0.6);
    for (const a of [
      "iam:PassRole",
      "iam:CreatePolicyVersion",
      "iam:AttachRolePolicy",
      "iam:UpdateAssumeRolePolicy",
    ])
      expect(mine.privesc).toContain(a);
    for (const a of ["ecr:GetAuthorizationToken", "sts:GetSessionToken", "iam:CreateAccessKey"])
      expect(mine.credentialsExposure).toContain(a);
    for (const a of ["s3:GetObject", "ssm:GetParameter", "dynamodb:Scan"])
      expect(mine.dataAccess).toContain(a);
  });
});

describe("CloudTrail mapping", () => {
  const role: Caller = { kind: "role", account: "123456789012", role: "app", session: "s1" };
  const at = new Date("2026-11-01T00:00:00Z");
  const map = (source: string, name: string, extra: Partial<Parameters<typeof cloudTrailRecord>[0]> = {}) =>
    mapRecord(cloudTrailRecord({ caller: role, time: at, source, name, ...extra }, 1) as never);

  it("names the role, not the session, and applies the S3 exceptions", () => {
    const list = map("s3.amazonaws.com", "ListObjectsV2", { requestParameters: { bucketName: "b" } });
    expect(list).toMatchObject({ principal: "arn:aws:iam::123456789012:role/app", outcome: "allowed" });
    expect(typeof list === "object" && list.actions.map((a) => a.action)).toEqual(["s3:ListBucket"]);
    const head = map("s3.amazonaws.com", "HeadObject", { requestParameters: { bucketName: "b", key: "k" } });
    expect(typeof head === "object" && head.actions[0]).toEqual({
      action: "s3:GetObject",
      candidates: ["arn:aws:s3:::b", "arn:aws:s3:::b/k"],
    });
    const copy = map("s3.amazonaws.com", "CopyObject");
    expect(typeof copy === "object" && copy.actions.map((a) => a.action)).toEqual([
      "s3:PutObject",
      "s3:GetObject",
    ]);
  });

  it("strips API versions from event names and maps event sources to IAM prefixes", () => {
    const l = map("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", {
      requestParameters: { functionName: "f" },
    });
    expect(typeof l === "object" && l.actions[0]?.action).toBe("lambda:UpdateFunctionCode");
    const cw = map("monitoring.amazonaws.com", "GetMetricData");
    expect(typeof cw === "object" && cw.actions[0]?.action).toBe("cloudwatch:GetMetricData");
  });

  it("counts AccessDenied as a denied attempt, and skips calls that need no permission", () => {
    expect(
      map("ec2.amazonaws.com", "TerminateInstances", { errorCode: "Client.UnauthorizedOperation" }),
    ).toMatchObject({
      outcome: "denied",
    });
    expect(map("sts.amazonaws.com", "GetCallerIdentity")).toBe("no permission needed");
    expect(mapRecord({ eventSource: "s3.amazonaws.com" } as never)).toBe("malformed record");
    expect(
      mapRecord({
        ...(cloudTrailRecord(
          { caller: role, time: at, source: "s3.amazonaws.com", name: "GetObject" },
          1,
        ) as object),
        userIdentity: { type: "AWSService", invokedBy: "athena.amazonaws.com" },
      } as never),
    ).toBe("AWS service principal");
  });

  it("adds iam:PassRole for a role handed to a service", () => {
    const r = map("lambda.amazonaws.com", "CreateFunction20150331", {
      requestParameters: { functionName: "f", role: "arn:aws:iam::123456789012:role/fn" },
    });
    expect(typeof r === "object" && r.actions[1]).toEqual({
      action: "iam:PassRole",
      candidates: ["arn:aws:iam::123456789012:role/fn"],
      context: { "iam:PassedToService": "lambda.amazonaws.com" },
    });
  });
});

describe("reading CloudTrail files", () => {
  const records = [
    {
      eventTime: "2026-11-01T00:00:00Z",
      eventSource: "s3.amazonaws.com",
      eventName: "GetObject",
      note: 'a "quoted" } brace { in a string\\',
    },
    {
      eventTime: "2026-11-01T00:00:01Z",
      eventSource: "s3.amazonaws.com",
      eventName: "PutObject",
      nested: { a: [1, { b: "]" }] },
    },
  ];
  const read = async (file: string) => {
    const out: unknown[] = [];
    for await (const r of readRecords(file)) out.push(r);
    return out;
  };

  it("reads delivered gzip, pretty-printed JSON, a JSON array and JSON lines alike", async () => {
    const dir = mkdtempSync(join(work, "layouts-"));
    writeFileSync(join(dir, "a.json.gz"), gzipSync(JSON.stringify({ Records: records })));
    writeFileSync(join(dir, "b.json"), JSON.stringify({ Records: records }, null, 4));
    writeFileSync(join(dir, "c.json"), JSON.stringify(records));
    writeFileSync(join(dir, "d.jsonl"), records.map((r) => JSON.stringify(r)).join("\n"));
    writeFileSync(join(dir, "e.json"), JSON.stringify({ Records: [] }));
    for (const f of ["a.json.gz", "b.json", "c.json", "d.jsonl"])
      expect(await read(join(dir, f)), f).toEqual(records);
    expect(await read(join(dir, "e.json"))).toEqual([]);
  });

  it("refuses a truncated file and one that is not JSON, naming the file", async () => {
    const dir = mkdtempSync(join(work, "bad-"));
    const cut = JSON.stringify({ Records: records });
    writeFileSync(join(dir, "cut.json"), cut.slice(0, cut.length - 30));
    writeFileSync(join(dir, "text.json"), "this is not a CloudTrail file at all, just text");
    await expect(read(join(dir, "cut.json"))).rejects.toThrow(/cut\.json: truncated JSON/);
    await expect(read(join(dir, "text.json"))).rejects.toThrow(/text\.json: not CloudTrail JSON/);
    await expect(
      analyzeAws({ policies: await loadPolicies([authFile]), logs: [join(dir, "missing")] }),
    ).rejects.toThrow(/no such file or directory/);
  });

  it("refuses a policy file that is not a policy", async () => {
    const f = join(work, "not-policy.json");
    writeFileSync(f, JSON.stringify({ Statement: [{ Effect: "Maybe", Action: "s3:*" }] }));
    await expect(loadPolicies([f])).rejects.toThrow(/not-policy\.json: not an IAM policy document/);
  });
});

describe("the 6,144-character limit", () => {
  it("splits a large proposal into documents that each fit, losing no statement or action", async () => {
    const actions = (await catalogue.all()).filter((a) => a.startsWith("ec2:Describe"));
    const many: PolicyStatement[] = Array.from({ length: 12 }, (_, i) => ({
      Sid: `S${i}`,
      Effect: "Allow",
      Action: actions.slice(i * 10, i * 10 + 10),
      Resource: "*",
    }));
    many.push({ Sid: "Huge", Effect: "Allow", Action: actions, Resource: "*" });
    const docs = split(many);
    expect(docs.length).toBeGreaterThan(1);
    for (const d of docs) expect(JSON.stringify(d).length).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
    const flat = docs.flatMap((d) => statements(d)).flatMap((s) => s.action ?? []);
    expect(new Set(flat)).toEqual(new Set([...many.flatMap((s) => [s.Action ?? []].flat())]));
  });
});

// Random policies (catalogue actions, wildcards, NotAction, Deny, resource scopes, conditions) and
// random logs: the minimised policy allows every call the original allowed, and nothing more.
describe("properties", () => {
  const ACCOUNT = "123456789012";
  const buckets = ["arn:aws:s3:::alpha", "arn:aws:s3:::beta"];
  const objects = ["arn:aws:s3:::alpha/a.txt", "arn:aws:s3:::alpha/logs/b.txt", "arn:aws:s3:::beta/c.txt"];
  const roles = [`arn:aws:iam::${ACCOUNT}:role/app`, `arn:aws:iam::${ACCOUNT}:role/admin`];
  const instances = [
    `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-1`,
    `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-2`,
  ];
  // Actions with the resources they take (none: authorised on "*" only).
  const pool: { action: string; resources: string[] }[] = [
    { action: "s3:GetObject", resources: objects },
    { action: "s3:PutObject", resources: objects },
    { action: "s3:DeleteObject", resources: objects },
    { action: "s3:ListBucket", resources: buckets },
    { action: "s3:GetBucketPolicy", resources: buckets },
    { action: "s3:ListAllMyBuckets", resources: [] },
    { action: "ec2:DescribeInstances", resources: [] },
    { action: "ec2:StartInstances", resources: instances },
    { action: "ec2:StopInstances", resources: instances },
    { action: "ec2:TerminateInstances", resources: instances },
    { action: "iam:GetRole", resources: roles },
    { action: "iam:PassRole", resources: roles },
    { action: "iam:ListRoles", resources: [] },
    { action: "iam:CreateAccessKey", resources: [`arn:aws:iam::${ACCOUNT}:user/bob`] },
  ];
  const patterns = [
    ...pool.map((p) => p.action),
    "s3:*",
    "s3:Get*",
    "s3:*Object",
    "ec2:*",
    "ec2:Describe*",
    "iam:Get*",
    "iam:*",
    "*",
  ];
  const resourcePatterns = [
    "*",
    "arn:aws:s3:::alpha/*",
    "arn:aws:s3:::alpha",
    "arn:aws:s3:::*",
    `arn:aws:iam::${ACCOUNT}:role/app`,
    `arn:aws:ec2:*:${ACCOUNT}:instance/i-1`,
  ];
  const region = fc.constantFrom("us-east-1", "eu-west-1");

  const statementArb: fc.Arbitrary<PolicyStatement> = fc
    .record({
      effect: fc.constantFrom<"Allow" | "Deny">("Allow", "Allow", "Allow", "Deny"),
      not: fc.boolean(),
      actions: fc.uniqueArray(fc.constantFrom(...patterns), { minLength: 1, maxLength: 4 }),
      resources: fc.uniqueArray(fc.constantFrom(...resourcePatterns), { minLength: 1, maxLength: 2 }),
      condition: fc.option(region, { nil: undefined }),
    })
    .map((r) => ({
      Effect: r.effect,
      // NotAction sparingly: only on Allow and with a narrow list, as real policies use it
      ...(r.not && r.effect === "Allow" && !r.actions.includes("*")
        ? { NotAction: r.actions }
        : { Action: r.actions }),
      Resource: r.resources,
      ...(r.condition ? { Condition: { StringEquals: { "aws:RequestedRegion": r.condition } } } : {}),
    }));

  // Random actions straight from the catalogue too (called with no resource named).
  const useArb = fc.record({
    pick: fc.nat({ max: pool.length + 5 }),
    random: fc.nat(),
    resource: fc.nat(),
    region,
    denied: fc.boolean(),
    minute: fc.nat({ max: 10_000 }),
  });

  it("M allows every observed call P allowed, and allows nothing P does not", async () => {
    const all = await catalogue.all();
    await fc.assert(
      fc.asyncProperty(
        fc.array(statementArb, { minLength: 1, maxLength: 5 }),
        fc.array(useArb, { minLength: 1, maxLength: 25 }),
        async (stmts, uses) => {
          const policies: NamedPolicy[] = [
            { name: "p", kind: "inline", document: { Version: "2012-10-17", Statement: stmts } },
          ];
          const collector = createUsageCollector(catalogue, {});
          const caller: Caller = { kind: "role", account: ACCOUNT, role: "subject", session: "x" };
          for (const [i, u] of uses.entries()) {
            const entry =
              u.pick < pool.length ? pool[u.pick]! : { action: all[u.random % all.length]!, resources: [] };
            const [service, name] = entry.action.split(":") as [string, string];
            const arn =
              entry.resources.length > 0 ? entry.resources[u.resource % entry.resources.length] : undefined;
            await collector.add(
              cloudTrailRecord(
                {
                  caller,
                  time: new Date(Date.parse("2026-11-01T00:00:00Z") + u.minute * 60_000),
                  source: `${service}.amazonaws.com`,
                  name,
                  region: u.region,
                  ...(arn ? { resources: [{ ARN: arn, type: "AWS::Resource" }] } : {}),
                  ...(u.denied && i % 3 === 0 ? { errorCode: "AccessDenied" } : {}),
                },
                i,
              ),
            );
          }
          const principalArn = `arn:aws:iam::${ACCOUNT}:role/subject`;
          const a = await analysePrincipal(
            principalArn,
            collector.log.principals.get(principalArn) ?? new Map(),
            { policies },
            { from: "", to: "" },
            catalogue,
          );
          // Must-allow: every call P allowed, M allows.
          expect(a.verification.proposed.denied).toEqual([]);
          expect(a.verification.proposed.replayed).toBe(a.verification.original?.allowed);
          // M ⊆ P on actions…
          const granted = new Set([...a.unused, ...a.used.map((u) => u.permission)]);
          for (const k of a.diff.kept) expect(granted.has(k), k).toBe(true);
          // …and on requests: whatever M allows, P allows.
          const P: ReplayPolicies = { principal: principalArn, identity: policies };
          const M: ReplayPolicies = {
            principal: principalArn,
            identity: (a.proposed as AwsProposal).policies,
          };
          for (const k of a.diff.kept) {
            const entry = pool.find((p) => p.action === k);
            for (const resource of entry && entry.resources.length > 0 ? entry.resources : ["*"])
              for (const r of ["us-east-1", "eu-west-1"]) {
                const call = { action: k, resource, account: ACCOUNT, context: { region: r } };
                if ((await decide(M, call)).allowed)
                  expect((await decide(P, call)).allowed, `${k} ${resource} ${r}`).toBe(true);
              }
          }
        },
      ),
      { numRuns: Number(process.env.IAM_PROPERTY_RUNS ?? 40) },
    );
  }, 120_000);
});

describe("rampart iam aws analyze", () => {
  const run = (args: string[]) => rampart(["iam", "aws", "analyze", ...args], { cwd: work });

  it("prints the table, JSON and Markdown, and writes proposals and rollbacks with --apply", async () => {
    const table = await run(["--policies", authFile, "--logs", trail]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/admin-alice\s+6\s+/);

    const json = await run(["--policies", authFile, "--logs", trail, "--principal", CI, "--format", "json"]);
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout) as IamAnalysisReport;
    expect(r.principals.map((p) => p.principal)).toEqual([CI]);
    expect(r.principals[0]!.verification.proposed.denied).toEqual([]);

    const md = await run(["--policies", authFile, "--logs", join(trail), "--format", "markdown"]);
    expect(md.stdout).toContain("# Least-privilege analysis (AWS)");

    const out = join(work, "proposals");
    const applied = await run([
      "--policies",
      authFile,
      "--logs",
      trail,
      "--principal",
      ADMIN,
      "--apply",
      "--out-dir",
      out,
    ]);
    expect(applied.code, applied.stderr).toBe(0);
    const dir = join(out, "arn_aws_iam_111122223333_user_admin-alice");
    const proposed = JSON.parse(
      readFileSync(join(dir, "proposed/least-privilege.json"), "utf8"),
    ) as PolicyDocument;
    expect(statements(proposed).flatMap((s) => s.action ?? [])).toHaveLength(6);
    expect(JSON.parse(readFileSync(join(dir, "rollback/managed-AdministratorAccess.json"), "utf8"))).toEqual({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
    });
    const script = readFileSync(join(out, "apply-aws.sh"), "utf8");
    expect(script).toContain(
      "aws iam detach-user-policy --user-name 'admin-alice' --policy-arn 'arn:aws:iam::aws:policy/AdministratorAccess'",
    );
  }, 60_000);

  it("refuses bad arguments with a message", async () => {
    const bad = await run(["--policies", authFile, "--logs", trail, "--principal", "alice"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("expected a principal ARN");
    const missing = await run(["--policies", join(work, "nope.json"), "--logs", trail]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("no such file or directory");
    const format = await run(["--policies", authFile, "--logs", trail, "--format", "xml"]);
    expect(format.code).not.toBe(0);
  }, 60_000);
});
