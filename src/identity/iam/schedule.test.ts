// The scheduled least-privilege analysis over small AWS, GCP and Kubernetes inputs written to a
// temp dir: the events a run emits (no person named in data), the proposal and rollback files,
// the log window, one run at a time, a broken platform not stopping the others, and the timer.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloudTrailRecord } from "../../../test/fixtures/iam/aws/events.ts";
import { manualClock } from "../../platform/clock.ts";
import type { SecurityEvent } from "../../platform/events/index.ts";
import { createLogger } from "../../platform/logging.ts";
import { createIamSchedule, principalTarget, type IamScheduleOptions } from "./schedule.ts";
import { iamConfigSchema, type IamConfig } from "./schema.ts";

const ACCOUNT = "111122223333";
const CI = `arn:aws:iam::${ACCOUNT}:role/ci-deployer`;
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const NOW = "2026-11-20T00:00:00.000Z";
const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(Date.parse(NOW) - n * DAY);

let work: string;

/** Writes the three platforms' inputs under `dir` (relative paths, as rampart.yaml would name them). */
function writeInputs(dir: string): void {
  mkdirSync(join(dir, "aws/cloudtrail"), { recursive: true });
  mkdirSync(join(dir, "gcp/audit"), { recursive: true });
  mkdirSync(join(dir, "k8s/rbac"), { recursive: true });
  mkdirSync(join(dir, "k8s/audit"), { recursive: true });

  // AWS: a CI role with s3 on its bucket and iam:* (privilege escalation it never uses), and a
  // person with administrator access who only lists buckets.
  const doc = (Statement: unknown[]) => ({ Version: "2012-10-17", Statement });
  writeFileSync(
    join(dir, "aws/authorization-details.json"),
    JSON.stringify({
      UserDetailList: [
        {
          Path: "/",
          UserName: "alice",
          UserId: "AIDAALICE",
          Arn: ALICE,
          GroupList: [],
          AttachedManagedPolicies: [],
          UserPolicyList: [
            { PolicyName: "admin", PolicyDocument: doc([{ Effect: "Allow", Action: "*", Resource: "*" }]) },
          ],
        },
      ],
      GroupDetailList: [],
      RoleDetailList: [
        {
          Path: "/",
          RoleName: "ci-deployer",
          Arn: CI,
          AttachedManagedPolicies: [],
          RolePolicyList: [
            {
              PolicyName: "deploy",
              PolicyDocument: doc([
                {
                  Effect: "Allow",
                  Action: ["s3:GetObject", "s3:PutObject"],
                  Resource: "arn:aws:s3:::ci-artifacts/*",
                },
                { Effect: "Allow", Action: "iam:*", Resource: "*" },
              ]),
            },
          ],
        },
      ],
      Policies: [],
    }),
  );
  const ci = { kind: "role", account: ACCOUNT, role: "ci-deployer", session: "build-1" } as const;
  const alice = { kind: "user", account: ACCOUNT, name: "alice" } as const;
  const records = [
    cloudTrailRecord(
      {
        caller: ci,
        time: daysAgo(3),
        source: "s3.amazonaws.com",
        name: "PutObject",
        requestParameters: { bucketName: "ci-artifacts", key: "build/app.tgz" },
        resources: [
          { ARN: "arn:aws:s3:::ci-artifacts/build/app.tgz", type: "AWS::S3::Object" },
          { ARN: "arn:aws:s3:::ci-artifacts", type: "AWS::S3::Bucket" },
        ],
      },
      1,
    ),
    cloudTrailRecord({ caller: alice, time: daysAgo(2), source: "s3.amazonaws.com", name: "ListBuckets" }, 2),
    // Outside the 90-day window: the role's iam:AttachRolePolicy must not count as used.
    cloudTrailRecord(
      {
        caller: ci,
        time: daysAgo(200),
        source: "iam.amazonaws.com",
        name: "AttachRolePolicy",
        requestParameters: {
          roleName: "ci-deployer",
          policyArn: "arn:aws:iam::aws:policy/AdministratorAccess",
        },
      },
      3,
    ),
  ];
  writeFileSync(join(dir, "aws/cloudtrail/trail.json.gz"), gzipSync(JSON.stringify({ Records: records })));

  // GCP: a service account with storage.admin that reads objects; a person with owner who reads an instance.
  writeFileSync(
    join(dir, "gcp/policy.json"),
    JSON.stringify({
      bindings: [
        { role: "roles/storage.admin", members: ["serviceAccount:etl@acme-prod.iam.gserviceaccount.com"] },
        { role: "roles/owner", members: ["user:bob@acme.example"] },
      ],
      etag: "BwYhQzD9Q3E=",
      version: 3,
    }),
  );
  const gcpEntry = (email: string, permission: string, resource: string, time: Date) =>
    JSON.stringify({
      protoPayload: {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        status: {},
        authenticationInfo: { principalEmail: email },
        serviceName: `${permission.split(".")[0]}.googleapis.com`,
        methodName: permission,
        authorizationInfo: [{ resource, permission, granted: true }],
        resourceName: resource,
      },
      timestamp: time.toISOString(),
      logName: "projects/acme-prod/logs/cloudaudit.googleapis.com%2Fdata_access",
    });
  writeFileSync(
    join(dir, "gcp/audit/log.jsonl"),
    [
      gcpEntry(
        "etl@acme-prod.iam.gserviceaccount.com",
        "storage.objects.get",
        "projects/_/buckets/etl/objects/a.csv",
        daysAgo(5),
      ),
      gcpEntry(
        "etl@acme-prod.iam.gserviceaccount.com",
        "storage.objects.list",
        "projects/_/buckets/etl",
        daysAgo(5),
      ),
      gcpEntry(
        "bob@acme.example",
        "compute.instances.get",
        "projects/acme-prod/zones/europe-west1-b/instances/web-1",
        daysAgo(1),
      ),
    ].join("\n") + "\n",
  );

  // Kubernetes: a broad ClusterRole bound to a person and a service account, who each read pods.
  writeFileSync(
    join(dir, "k8s/rbac/edit.yaml"),
    `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: edit-ish}
rules:
- apiGroups: [""]
  resources: [pods, pods/exec, configmaps, secrets, services]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: carol-edits}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit-ish}
subjects:
- {kind: User, name: carol}
- {kind: ServiceAccount, name: deployer, namespace: ns1}
`,
  );
  const k8sEvent = (user: string, verb: string, resource: string, time: Date) =>
    JSON.stringify({
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      level: "Metadata",
      stage: "ResponseComplete",
      verb,
      requestURI: `/api/v1/namespaces/ns1/${resource}`,
      user: { username: user, groups: ["system:authenticated"] },
      objectRef: { resource, namespace: "ns1", apiVersion: "v1" },
      responseStatus: { code: 200 },
      requestReceivedTimestamp: time.toISOString(),
      stageTimestamp: time.toISOString(),
    });
  writeFileSync(
    join(dir, "k8s/audit/audit.log"),
    [
      k8sEvent("carol", "list", "pods", daysAgo(4)),
      k8sEvent("system:serviceaccount:ns1:deployer", "get", "pods", daysAgo(4)),
      // Too old: carol's secrets read is outside the window, so secrets stay unused.
      k8sEvent("carol", "get", "secrets", daysAgo(120)),
      "not json",
    ].join("\n") + "\n",
  );
}

const config = (over: Record<string, unknown> = {}): IamConfig =>
  iamConfigSchema.parse({
    everyHours: 24,
    windowDays: 90,
    aws: { policies: "./aws/authorization-details.json", logs: ["./aws/cloudtrail/"] },
    gcp: { policy: "./gcp/policy.json", logs: ["./gcp/audit/"] },
    k8s: { rbac: ["./k8s/rbac/"], audit: "./k8s/audit/" },
    outDir: "./out",
    ...over,
  });

function schedule(cfg: IamConfig, o: Partial<IamScheduleOptions> = {}) {
  const events: SecurityEvent[] = [];
  const clock = manualClock(NOW);
  const s = createIamSchedule({
    config: () => cfg,
    configDir: work,
    dataDir: join(work, "data"),
    clock,
    emit: (e) => events.push(e),
    logger: createLogger({ level: "silent" }),
    ...o,
  });
  return { s, events, clock };
}

const ofType = (events: SecurityEvent[], type: string) => events.filter((e) => e.type === type);
const completed = (events: SecurityEvent[], platform: string) =>
  ofType(events, "iam.analysis_completed").find((e) => e.data.platform === platform);
const finding = (events: SecurityEvent[], id: string) =>
  ofType(events, "iam.overprivileged").find((e) => e.target?.id === id);

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "rampart-iam-schedule-"));
  writeInputs(work);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("a run over AWS, GCP and Kubernetes", () => {
  let events: SecurityEvent[];
  let summary: Awaited<ReturnType<ReturnType<typeof createIamSchedule>["runNow"]>>;

  beforeAll(async () => {
    const t = schedule(config());
    events = t.events;
    summary = await t.s.runNow();
  }, 60_000);

  it("reports each platform completed, with no replayed call denied", () => {
    expect(summary.platforms.map((p) => [p.platform, p.ok])).toEqual([
      ["aws", true],
      ["gcp", true],
      ["k8s", true],
    ]);
    expect(summary.window).toEqual({ from: daysAgo(90).toISOString(), to: NOW });
    for (const platform of ["aws", "gcp", "k8s"]) {
      const e = completed(events, platform);
      expect(e, platform).toBeDefined();
      expect(e?.actor).toEqual({ kind: "system", id: "iam" });
      expect(e?.severity).toBe("info");
      expect(e?.data.replayDenied).toBe(0);
      expect(e?.data.principals).toBe(2);
      expect(e?.data.reductionPercent as number).toBeGreaterThan(50);
      expect(e?.data.removedPermissions as number).toBeGreaterThan(0);
      // Kubernetes counts unused rules; the one broad rule was used (pods), so none is unused.
      if (platform === "k8s") expect(e?.data.unusedPermissions).toBe(0);
      else expect(e?.data.unusedPermissions as number).toBeGreaterThan(0);
    }
    expect(ofType(events, "iam.analysis_failed")).toEqual([]);
  });

  it("flags the CI role's unused iam:* as privilege escalation, high", () => {
    const e = finding(events, CI);
    expect(e?.target).toEqual({ kind: "principal", id: CI });
    expect(e?.severity).toBe("high");
    const risk = e?.data.unusedRisk as { privesc: string[] };
    expect(risk.privesc).toContain("iam:AttachRolePolicy");
    expect(risk.privesc).toContain("iam:PassRole");
    expect((completed(events, "aws")?.data.riskRemoved as { privesc: number }).privesc).toBeGreaterThan(0);
  });

  it("names people only as user targets, never in data", () => {
    const alice = finding(events, ALICE);
    expect(alice?.target).toEqual({ kind: "user", id: ALICE });
    expect(alice?.data.reductionPercent as number).toBeGreaterThan(99);
    expect(finding(events, "bob@acme.example")?.target?.kind).toBe("user");
    expect(finding(events, "carol")?.target?.kind).toBe("user");
    expect(finding(events, "serviceAccount:etl@acme-prod.iam.gserviceaccount.com")?.target?.kind).toBe(
      "principal",
    );
    expect(finding(events, "system:serviceaccount:ns1:deployer")?.target?.kind).toBe("principal");
    for (const e of events) {
      const data = JSON.stringify(e.data);
      for (const name of ["alice", "bob@", "carol"]) expect(data, e.type).not.toContain(name);
    }
  });

  it("reads only the window: old calls do not count as used", () => {
    const carol = finding(events, "carol");
    // secrets were read 120 days ago only: unused now, so their credentials exposure is removed.
    expect((carol?.data.unusedRisk as { credentialsExposure: string[] }).credentialsExposure.join()).toMatch(
      /secrets/,
    );
    const k8s = JSON.parse(
      readFileSync(join(completed(events, "k8s")?.data.dir as string, "report.json"), "utf8"),
    ) as { events: { read: number; inWindow: number; skipped: Record<string, number> } };
    expect(k8s.events).toMatchObject({
      read: 4,
      inWindow: 2,
      skipped: { "outside the window": 1, "not JSON": 1 },
    });
  });

  it("writes proposals and rollbacks under outDir/<platform>/<timestamp>", () => {
    const out = join(work, "out");
    expect(readdirSync(out).sort()).toEqual(["aws", "gcp", "k8s"]);
    const stamp = "2026-11-20T00-00-00.000Z";
    for (const p of summary.platforms) {
      expect(p.ok && p.dir).toBe(join(out, p.platform, stamp));
      expect(existsSync(join(out, p.platform, stamp, "report.md"))).toBe(true);
    }
    const aws = join(out, "aws", stamp, "arn_aws_iam_111122223333_role_ci-deployer");
    const proposed = JSON.parse(readFileSync(join(aws, "proposed", "least-privilege.json"), "utf8")) as {
      Statement: { Action: string | string[] }[];
    };
    expect(JSON.stringify(proposed)).toContain("s3:PutObject");
    expect(JSON.stringify(proposed)).not.toContain("iam:");
    expect(existsSync(join(aws, "rollback", "manifest.json"))).toBe(true);
    const gcp = join(out, "gcp", stamp);
    for (const f of ["proposed-policy.json", "rollback-policy.json", "bindings.diff"])
      expect(existsSync(join(gcp, f)), f).toBe(true);
    const rollback = JSON.parse(readFileSync(join(gcp, "rollback-policy.json"), "utf8")) as {
      bindings: { role: string }[];
    };
    expect(rollback.bindings.map((b) => b.role)).toContain("roles/owner");
    const k8s = join(out, "k8s", stamp, "carol");
    expect(readFileSync(join(k8s, "proposed.yaml"), "utf8")).toMatch(/pods/);
    expect(readFileSync(join(k8s, "rollback.yaml"), "utf8")).toMatch(/edit-ish/);
  });
});

describe("runs", () => {
  it("one at a time: a second request joins the run under way", async () => {
    const { s, events } = schedule(config({ aws: undefined, gcp: undefined, outDir: "./out-once" }));
    const [a, b] = [s.runNow(), s.runNow()];
    expect(a).toBe(b);
    await a;
    expect(ofType(events, "iam.analysis_completed")).toHaveLength(1);
    // Same clock, next run: a directory of its own.
    await s.runNow();
    expect(readdirSync(join(work, "out-once", "k8s")).sort()).toEqual([
      "2026-11-20T00-00-00.000Z",
      "2026-11-20T00-00-00.000Z-2",
    ]);
  });

  it("a broken platform fails alone, with its error and no secrets, and the others still run", async () => {
    const { s, events } = schedule(
      config({
        aws: { policies: "./aws/missing.json", logs: "./aws/cloudtrail/" },
        outDir: "./out-broken",
      }),
    );
    const summary = await s.runNow();
    expect(summary.platforms.map((p) => [p.platform, p.ok])).toEqual([
      ["aws", false],
      ["gcp", true],
      ["k8s", true],
    ]);
    const failed = ofType(events, "iam.analysis_failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      severity: "medium",
      outcome: "failure",
      data: { platform: "aws" },
    });
    expect(failed[0]?.data.error).toMatch(/missing\.json|no such file/i);
    expect(completed(events, "gcp")).toBeDefined();
    expect(completed(events, "k8s")).toBeDefined();
  }, 30_000);

  it("a log that is not what it claims fails that platform only", async () => {
    const bad = join(work, "bad-gcp");
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, "log.json.gz"), "this is not gzip");
    const { s, events } = schedule(
      config({
        aws: undefined,
        gcp: { policy: "./gcp/policy.json", logs: "./bad-gcp" },
        outDir: "./out-bad",
      }),
    );
    const summary = await s.runNow();
    expect(summary.platforms.map((p) => p.ok)).toEqual([false, true]);
    expect(ofType(events, "iam.analysis_failed")[0]?.data.platform).toBe("gcp");
  });
});

describe("the timer", () => {
  const k8sOnly = (everyHours: number, outDir: string) =>
    config({ aws: undefined, gcp: undefined, everyHours, outDir });
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  };

  it("runs after the start delay, then again only when everyHours have passed", async () => {
    const { s, events, clock } = schedule(k8sOnly(24, "./out-timer"), { startDelayMs: 20, tickMs: 10 });
    s.start();
    const runs = () => ofType(events, "iam.analysis_completed").length;
    await until(() => runs() === 1);
    expect(runs()).toBe(1);
    clock.advance(23 * 3_600_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(runs()).toBe(1);
    clock.advance(3_600_000);
    await until(() => runs() === 2);
    expect(runs()).toBe(2);
    await s.close();
    clock.advance(48 * 3_600_000);
    await new Promise((r) => setTimeout(r, 60));
    expect(runs()).toBe(2);
  });

  it("everyHours: 0 is off", async () => {
    const { s, events } = schedule(k8sOnly(0, "./out-off"), { startDelayMs: 5, tickMs: 5 });
    s.start();
    await new Promise((r) => setTimeout(r, 80));
    await s.close();
    expect(events).toEqual([]);
    expect(existsSync(join(work, "out-off"))).toBe(false);
  });

  it("close waits for the run under way", async () => {
    const { s, events } = schedule(k8sOnly(24, "./out-close"));
    const run = s.runNow();
    await s.close();
    expect(ofType(events, "iam.analysis_completed")).toHaveLength(1);
    await run;
  });
});

describe("config", () => {
  it("is off by default, and takes one path or a list", () => {
    expect(iamConfigSchema.parse({})).toEqual({ everyHours: 0, windowDays: 90 });
    const c = iamConfigSchema.parse({ everyHours: "12", k8s: { rbac: "./rbac", audit: ["./a", "./b"] } });
    expect(c.everyHours).toBe(12);
    expect(c.k8s).toEqual({ rbac: ["./rbac"], audit: ["./a", "./b"] });
    expect(iamConfigSchema.parse({ gcp: { policy: "p.json", logs: "l" } }).gcp?.customRoles).toEqual([]);
  });

  it("refuses a schedule with nothing to analyse, unknown keys and bad parents", () => {
    expect(() => iamConfigSchema.parse({ everyHours: 24 })).toThrow(/at least one platform/);
    expect(() => iamConfigSchema.parse({ evryHours: 24 })).toThrow();
    expect(() =>
      iamConfigSchema.parse({ gcp: { policy: "p", logs: "l", customRoleParent: "folders/1" } }),
    ).toThrow(/projects\/PROJECT_ID/);
  });

  it("names principals: people as users, the rest as principals", () => {
    expect(principalTarget("aws", CI)).toEqual({ kind: "principal", id: CI });
    expect(principalTarget("aws", ALICE)).toEqual({ kind: "user", id: ALICE });
    expect(principalTarget("gcp", "user:bob@acme.example")).toEqual({ kind: "user", id: "bob@acme.example" });
    expect(principalTarget("k8s", "system:node:n1")).toEqual({ kind: "principal", id: "system:node:n1" });
    expect(principalTarget("k8s", "x".repeat(600)).id).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
