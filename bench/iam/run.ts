// AWS least-privilege benchmark: 1,000,000 CloudTrail events from ~200 principals in delivered
// `{"Records":[…]}` .json.gz files, analysed end to end (stream, map, aggregate, minimise, replay
// every distinct call through the simulator). Anchor, same run, same files: stream-read, gunzip and
// JSON.parse of every file with nothing else done. Target (issue 9): < 60 s on 2 cores, bounded memory.
// Usage: node bench/iam/run.ts [--json]   env: BENCH_EVENTS (default 1000000), BENCH_PRINCIPALS (200)
import { createReadStream, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createGunzip, gzipSync } from "node:zlib";
import { analyzeAws, createActionCatalogue, loadPolicies } from "../../src/identity/iam/aws/index.ts";
import { progressBar } from "../../src/cli/progress.ts";
import {
  cloudTrailRecord,
  s3ObjectResources,
  seeded,
  type CallSpec,
  type Caller,
} from "../../test/fixtures/iam/aws/events.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PRINCIPALS = Number(process.env.BENCH_PRINCIPALS ?? 200);
const PER_FILE = 20_000;
const ACCOUNT = "111122223333";
const TARGET_SECONDS = 60;
const json = process.argv.includes("--json");

type Use = (r: () => number, n: number) => Omit<CallSpec, "caller" | "time">;

// What each kind of principal does, and the policy it holds (broad, as real ones are).
const KINDS: { name: string; statements: (n: number) => unknown[]; uses: Use[] }[] = [
  {
    name: "admin",
    statements: () => [{ Effect: "Allow", Action: "*", Resource: "*" }],
    uses: [
      () => ({ source: "ec2.amazonaws.com", name: "DescribeInstances" }),
      () => ({ source: "s3.amazonaws.com", name: "ListBuckets" }),
      (r) => {
        const id = `i-${Math.floor(r() * 6)}`;
        return {
          source: "ec2.amazonaws.com",
          name: "StopInstances",
          requestParameters: { instancesSet: { items: [{ instanceId: id }] } },
        };
      },
      () => ({ source: "iam.amazonaws.com", name: "ListRoles" }),
    ],
  },
  {
    name: "app",
    statements: (n) => [
      { Effect: "Allow", Action: ["s3:*", "dynamodb:*", "sqs:*"], Resource: "*" },
      {
        Effect: "Allow",
        Action: ["kms:Decrypt", "kms:GenerateDataKey"],
        Resource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/k-${n}`,
      },
      { Effect: "Deny", Action: ["s3:DeleteBucket", "dynamodb:DeleteTable"], Resource: "*" },
    ],
    uses: [
      (r, n) => {
        const key = `data/${Math.floor(r() * 30)}.json`;
        return {
          source: "s3.amazonaws.com",
          name: "GetObject",
          requestParameters: { bucketName: `app-${n}`, key },
          resources: s3ObjectResources(`app-${n}`, key),
        };
      },
      (r, n) => {
        const key = `out/${Math.floor(r() * 30)}.json`;
        return {
          source: "s3.amazonaws.com",
          name: "PutObject",
          requestParameters: { bucketName: `app-${n}`, key },
          resources: s3ObjectResources(`app-${n}`, key),
        };
      },
      (_r, n) => ({
        source: "dynamodb.amazonaws.com",
        name: "GetItem",
        requestParameters: { tableName: `t-${n}` },
      }),
      (_r, n) => ({
        source: "dynamodb.amazonaws.com",
        name: "PutItem",
        requestParameters: { tableName: `t-${n}` },
      }),
      (_r, n) => ({
        source: "dynamodb.amazonaws.com",
        name: "Query",
        requestParameters: { tableName: `t-${n}` },
      }),
      (_r, n) => ({
        source: "sqs.amazonaws.com",
        name: "SendMessage",
        requestParameters: { queueUrl: `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/q-${n}` },
      }),
      (_r, n) => ({
        source: "sqs.amazonaws.com",
        name: "ReceiveMessage",
        requestParameters: { queueUrl: `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/q-${n}` },
      }),
      (_r, n) => ({
        source: "kms.amazonaws.com",
        name: "Decrypt",
        resources: [{ ARN: `arn:aws:kms:us-east-1:${ACCOUNT}:key/k-${n}`, type: "AWS::KMS::Key" }],
      }),
    ],
  },
  {
    name: "reader",
    statements: () => [
      {
        Effect: "Allow",
        Action: ["s3:Get*", "s3:List*", "ec2:Describe*", "logs:*", "cloudwatch:Get*", "cloudwatch:List*"],
        Resource: "*",
      },
      { Effect: "Deny", Action: "iam:*", Resource: "*" },
    ],
    uses: [
      () => ({ source: "ec2.amazonaws.com", name: "DescribeInstances" }),
      () => ({ source: "ec2.amazonaws.com", name: "DescribeVpcs" }),
      () => ({ source: "monitoring.amazonaws.com", name: "GetMetricData" }),
      () => ({ source: "monitoring.amazonaws.com", name: "ListMetrics" }),
      (_r, n) => ({
        source: "logs.amazonaws.com",
        name: "FilterLogEvents",
        requestParameters: { logGroupName: `/app/${n}` },
      }),
      (r) => ({
        source: "s3.amazonaws.com",
        name: "ListObjectsV2",
        requestParameters: { bucketName: `shared-${Math.floor(r() * 3)}` },
      }),
    ],
  },
  {
    name: "deployer",
    statements: () => [
      { Effect: "Allow", Action: ["ecr:*", "ecs:*"], Resource: "*" },
      {
        Effect: "Allow",
        Action: "iam:PassRole",
        Resource: `arn:aws:iam::${ACCOUNT}:role/*`,
        Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
      },
    ],
    uses: [
      () => ({ source: "ecr.amazonaws.com", name: "GetAuthorizationToken" }),
      (_r, n) => ({
        source: "ecr.amazonaws.com",
        name: "PutImage",
        requestParameters: { repositoryName: `svc-${n}` },
      }),
      (_r, n) => ({
        source: "ecr.amazonaws.com",
        name: "UploadLayerPart",
        requestParameters: { repositoryName: `svc-${n}` },
      }),
      (_r, n) => ({
        source: "ecs.amazonaws.com",
        name: "RegisterTaskDefinition",
        requestParameters: { family: `svc-${n}`, taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/task-${n}` },
      }),
      (_r, n) => ({
        source: "ecs.amazonaws.com",
        name: "UpdateService",
        requestParameters: { cluster: "prod", service: `svc-${n}` },
      }),
    ],
  },
];

function caller(i: number): Caller {
  return i % 2 === 0
    ? { kind: "role", account: ACCOUNT, role: `p-${i}`, session: `s-${i}` }
    : { kind: "user", account: ACCOUNT, name: `p-${i}` };
}

/** Writes the policies and CloudTrail files; returns their paths. */
function generate(dir: string): { authFile: string; logDir: string } {
  const details = {
    UserDetailList: [] as unknown[],
    RoleDetailList: [] as unknown[],
    GroupDetailList: [],
    Policies: [],
  };
  for (let i = 0; i < PRINCIPALS; i++) {
    const kind = KINDS[i % KINDS.length]!;
    const c = caller(i);
    const policy = {
      PolicyName: kind.name,
      PolicyDocument: { Version: "2012-10-17", Statement: kind.statements(i) },
    };
    if (c.kind === "role")
      details.RoleDetailList.push({
        Arn: `arn:aws:iam::${ACCOUNT}:role/${c.role}`,
        RolePolicyList: [policy],
      });
    else
      details.UserDetailList.push({
        Arn: `arn:aws:iam::${ACCOUNT}:user/${c.name}`,
        UserPolicyList: [policy],
      });
  }
  const authFile = join(dir, "authorization-details.json");
  writeFileSync(authFile, JSON.stringify(details));
  const logDir = join(dir, "cloudtrail");
  mkdirSync(logDir, { recursive: true });
  const rand = seeded(42);
  const start = Date.parse("2026-10-01T00:00:00Z");
  const span = 30 * 86_400_000;
  let written = 0;
  let file = 0;
  const bar = progressBar("generating CloudTrail");
  while (written < EVENTS) {
    const n = Math.min(PER_FILE, EVENTS - written);
    const records: unknown[] = [];
    for (let k = 0; k < n; k++) {
      const id = written + k;
      const p = Math.floor(rand() * PRINCIPALS);
      const kind = KINDS[p % KINDS.length]!;
      const use = kind.uses[Math.floor(rand() * kind.uses.length)]!(rand, p);
      const spec: CallSpec = {
        caller: caller(p),
        time: new Date(start + Math.floor((id / EVENTS) * span)),
        ...use,
        ip: `10.0.${p % 250}.${1 + (p % 7)}`,
        // one call in a thousand is refused (a probe, a typo)
        ...(rand() < 0.001 ? { errorCode: "AccessDenied" } : {}),
      };
      records.push(cloudTrailRecord(spec, id));
    }
    const name = `${ACCOUNT}_CloudTrail_us-east-1_${String(file).padStart(5, "0")}.json.gz`;
    writeFileSync(join(logDir, name), gzipSync(JSON.stringify({ Records: records }), { level: 1 }));
    written += n;
    file++;
    bar?.update(written, EVENTS);
  }
  bar?.done();
  return { authFile, logDir };
}

/** The anchor: stream each file through gunzip and JSON.parse it, nothing else. */
async function anchor(files: string[]): Promise<{ seconds: number; records: number }> {
  const t = performance.now();
  let records = 0;
  for (const f of files) {
    const parts: string[] = [];
    const gunzip = createReadStream(f).pipe(createGunzip());
    gunzip.setEncoding("utf8");
    for await (const chunk of gunzip as AsyncIterable<string>) parts.push(chunk);
    records += (JSON.parse(parts.join("")) as { Records: unknown[] }).Records.length;
  }
  return { seconds: (performance.now() - t) / 1000, records };
}

const dir = mkdtempSync(join(tmpdir(), "rampart-bench-iam-"));
try {
  const g0 = performance.now();
  const { authFile, logDir } = generate(dir);
  const generateSeconds = (performance.now() - g0) / 1000;
  const files = readdirSync(logDir).map((f) => join(logDir, f));

  const base = await anchor(files);

  const bar = progressBar("analysing CloudTrail");
  const t0 = performance.now();
  const catalogue = createActionCatalogue();
  const policies = await loadPolicies([authFile]);
  let readSeconds = 0;
  const report = await analyzeAws({
    policies,
    logs: [logDir],
    catalogue,
    onProgress: (p) => {
      bar?.update(p.files, p.totalFiles);
      if (p.files === p.totalFiles) readSeconds = (performance.now() - t0) / 1000;
    },
  });
  bar?.done();
  const seconds = (performance.now() - t0) / 1000;
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  const denied = report.principals.reduce((n, a) => n + a.verification.proposed.denied.length, 0);
  const replayed = report.principals.reduce((n, a) => n + a.verification.proposed.replayed, 0);
  const result = {
    events: report.events.read,
    principals: report.principals.length,
    files: files.length,
    cores: cpus().length,
    generateSeconds: Number(generateSeconds.toFixed(2)),
    seconds: Number(seconds.toFixed(2)),
    readSeconds: Number(readSeconds.toFixed(2)),
    analyseSeconds: Number((seconds - readSeconds).toFixed(2)),
    eventsPerSecond: Math.round(report.events.read / seconds),
    anchorSeconds: Number(base.seconds.toFixed(2)),
    anchorEventsPerSecond: Math.round(base.records / base.seconds),
    ratio: Number((seconds / base.seconds).toFixed(2)),
    maxRssMiB: Math.round(maxRssMiB),
    replayed,
    replayDenied: denied,
    meanReductionPercent: Number(
      (
        report.principals.reduce((n, a) => n + a.reductionPercent, 0) / Math.max(1, report.principals.length)
      ).toFixed(1),
    ),
    target: { seconds: TARGET_SECONDS, pass: seconds < TARGET_SECONDS && denied === 0 },
  };
  if (json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(
      `IAM least privilege (AWS): ${result.events.toLocaleString("en")} CloudTrail events, ${result.principals} principals, ${result.files} .json.gz files, ${result.cores} cores`,
    );
    console.log(`  generated in ${result.generateSeconds} s (not counted)`);
    console.log(
      `  analysis   ${result.seconds} s (read+map+aggregate ${result.readSeconds} s, minimise+replay ${result.analyseSeconds} s)  ${result.eventsPerSecond.toLocaleString("en")} events/s`,
    );
    console.log(
      `  anchor     ${result.anchorSeconds} s stream+gunzip+JSON.parse of the same files  ${result.anchorEventsPerSecond.toLocaleString("en")} events/s  (analysis/anchor ${result.ratio}×)`,
    );
    console.log(`  peak RSS   ${result.maxRssMiB} MiB`);
    console.log(
      `  replay     ${result.replayed} distinct calls against the proposals, ${result.replayDenied} denied; mean reduction ${result.meanReductionPercent}%`,
    );
    console.log(
      `${result.target.pass ? "PASS" : "MISS"}: ${result.seconds} s for ${result.events.toLocaleString("en")} events (target < ${TARGET_SECONDS} s, no replay denied)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
