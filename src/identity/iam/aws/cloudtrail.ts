// CloudTrail → IAM: which principal made a call, which IAM action(s) it needed, on which
// resources, and whether it was allowed; plus a streaming reader for CloudTrail files
// (`{"Records":[…]}` as delivered, JSON arrays and JSON lines; gzip or not), never read whole.
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { Invalid } from "../../../platform/errors.ts";

/** The parts of a CloudTrail record the analysis reads. */
export interface CloudTrailRecord {
  eventTime?: string;
  eventSource?: string;
  eventName?: string;
  eventType?: string;
  awsRegion?: string;
  sourceIPAddress?: string;
  recipientAccountId?: string;
  errorCode?: string;
  userIdentity?: {
    type?: string;
    arn?: string;
    accountId?: string;
    sessionContext?: {
      sessionIssuer?: { type?: string; arn?: string };
      attributes?: { mfaAuthenticated?: string };
    };
  };
  requestParameters?: Record<string, unknown> | null;
  resources?: { ARN?: string; accountId?: string; type?: string }[];
}

/** One IAM action a call needed, with the resource ARNs it may have been authorised on. */
export interface NeededAction {
  /** `service:EventName` spelling; the catalogue gives the canonical one. */
  action: string;
  /** Candidate ARNs: the caller keeps those the action accepts. */
  candidates: string[];
  /** Condition keys this action carries beyond the request's (iam:PassedToService). */
  context?: Record<string, string>;
}

/** A CloudTrail record reduced to what least privilege needs. */
export interface MappedCall {
  principal: string;
  time: string;
  account: string;
  outcome: "allowed" | "denied";
  actions: NeededAction[];
  /** Request context for replay: region, source address, MFA. */
  context: { region?: string; sourceIp?: string; mfa?: boolean };
}

// Event sources whose IAM prefix differs from the host name.
const PREFIX: Record<string, string> = {
  monitoring: "cloudwatch",
  email: "ses",
  "api.ecr": "ecr",
  "api.sagemaker": "sagemaker",
  "runtime.sagemaker": "sagemaker",
  "data.iot": "iot",
  "streams.dynamodb": "dynamodb",
  "api.mediatailor": "mediatailor",
  lex: "lex",
  "runtime.lex": "lex",
};

// Calls whose IAM action is not `prefix:EventName` (after iam-dataset's map.json and the S3 docs:
// "Required permissions" per operation). A list means the call needs every action in it.
const RENAMED: Record<string, string[]> = {
  "s3:ListObjects": ["s3:ListBucket"],
  "s3:ListObjectsV2": ["s3:ListBucket"],
  "s3:ListObjectVersions": ["s3:ListBucketVersions"],
  "s3:HeadObject": ["s3:GetObject"],
  "s3:HeadBucket": ["s3:ListBucket"],
  "s3:ListBuckets": ["s3:ListAllMyBuckets"],
  "s3:CopyObject": ["s3:PutObject", "s3:GetObject"],
  "s3:UploadPartCopy": ["s3:PutObject", "s3:GetObject"],
  "s3:CreateMultipartUpload": ["s3:PutObject"],
  "s3:UploadPart": ["s3:PutObject"],
  "s3:CompleteMultipartUpload": ["s3:PutObject"],
  "s3:ListMultipartUploads": ["s3:ListBucketMultipartUploads"],
  "s3:ListParts": ["s3:ListMultipartUploadParts"],
  "s3:DeleteObjects": ["s3:DeleteObject"],
  "s3:SelectObjectContent": ["s3:GetObject"],
  "s3:GetObjectAttributes": ["s3:GetObject"],
  "s3:GetBucketLifecycle": ["s3:GetLifecycleConfiguration"],
  "s3:GetBucketLifecycleConfiguration": ["s3:GetLifecycleConfiguration"],
  "s3:PutBucketLifecycle": ["s3:PutLifecycleConfiguration"],
  "s3:PutBucketLifecycleConfiguration": ["s3:PutLifecycleConfiguration"],
  "s3:DeleteBucketLifecycle": ["s3:PutLifecycleConfiguration"],
  "s3:GetBucketEncryption": ["s3:GetEncryptionConfiguration"],
  "s3:PutBucketEncryption": ["s3:PutEncryptionConfiguration"],
  "s3:DeleteBucketEncryption": ["s3:PutEncryptionConfiguration"],
  "s3:GetBucketReplication": ["s3:GetReplicationConfiguration"],
  "s3:PutBucketReplication": ["s3:PutReplicationConfiguration"],
  "s3:DeleteBucketReplication": ["s3:PutReplicationConfiguration"],
  "s3:GetBucketCors": ["s3:GetBucketCORS"],
  "s3:PutBucketCors": ["s3:PutBucketCORS"],
  "s3:DeleteBucketCors": ["s3:PutBucketCORS"],
  "s3:DeleteBucketTagging": ["s3:PutBucketTagging"],
  "s3:DeleteObjectTagging": ["s3:DeleteObjectTagging"],
  "s3:GetObjectLockConfiguration": ["s3:GetBucketObjectLockConfiguration"],
  "s3:PutObjectLockConfiguration": ["s3:PutBucketObjectLockConfiguration"],
  "s3:GetPublicAccessBlock": ["s3:GetBucketPublicAccessBlock"],
  "s3:PutPublicAccessBlock": ["s3:PutBucketPublicAccessBlock"],
  "s3:DeletePublicAccessBlock": ["s3:PutBucketPublicAccessBlock"],
  "s3:GetBucketNotificationConfiguration": ["s3:GetBucketNotification"],
  "s3:PutBucketNotificationConfiguration": ["s3:PutBucketNotification"],
  "s3:GetBucketInventoryConfiguration": ["s3:GetInventoryConfiguration"],
  "s3:PutBucketInventoryConfiguration": ["s3:PutInventoryConfiguration"],
  "s3:GetBucketMetricsConfiguration": ["s3:GetMetricsConfiguration"],
  "s3:PutBucketMetricsConfiguration": ["s3:PutMetricsConfiguration"],
  "s3:GetBucketAnalyticsConfiguration": ["s3:GetAnalyticsConfiguration"],
  "s3:PutBucketAnalyticsConfiguration": ["s3:PutAnalyticsConfiguration"],
  "s3:GetBucketIntelligentTieringConfiguration": ["s3:GetIntelligentTieringConfiguration"],
  "s3:PutBucketIntelligentTieringConfiguration": ["s3:PutIntelligentTieringConfiguration"],
  "s3:DeleteBucketOwnershipControls": ["s3:PutBucketOwnershipControls"],
  "s3:DeleteBucketWebsite": ["s3:DeleteBucketWebsite"],
  "s3:GetBucketAcl": ["s3:GetBucketAcl"],
  "lambda:Invoke": ["lambda:InvokeFunction"],
  "ecr:PutImage": ["ecr:PutImage"],
  "kms:ReEncrypt": ["kms:ReEncryptFrom", "kms:ReEncryptTo"],
  "dynamodb:DescribeStream": ["dynamodb:DescribeStream"],
};

// Calls that need no permission at all, or are not IAM-authorised API calls.
const NOT_AUTHORISED = new Set([
  "sts:GetCallerIdentity",
  "signin:ConsoleLogin",
  "signin:CheckMfa",
  "signin:SwitchRole",
]);

// Where a call names a role it hands to a service (the call also needs iam:PassRole on it).
// CloudTrail logs no event for PassRole, which is why iamlive and Access Analyzer add it.
const PASSED_ROLE: Record<string, { fields: string[]; to: string }> = {
  "ecs:RegisterTaskDefinition": {
    fields: ["taskRoleArn", "executionRoleArn"],
    to: "ecs-tasks.amazonaws.com",
  },
  "ecs:CreateService": { fields: ["role"], to: "ecs.amazonaws.com" },
  "lambda:CreateFunction": { fields: ["role"], to: "lambda.amazonaws.com" },
  "lambda:UpdateFunctionConfiguration": { fields: ["role"], to: "lambda.amazonaws.com" },
  "cloudformation:CreateStack": { fields: ["roleARN"], to: "cloudformation.amazonaws.com" },
  "cloudformation:UpdateStack": { fields: ["roleARN"], to: "cloudformation.amazonaws.com" },
  "codebuild:CreateProject": { fields: ["serviceRole"], to: "codebuild.amazonaws.com" },
  "codebuild:UpdateProject": { fields: ["serviceRole"], to: "codebuild.amazonaws.com" },
  "states:CreateStateMachine": { fields: ["roleArn"], to: "states.amazonaws.com" },
  "glue:CreateJob": { fields: ["role"], to: "glue.amazonaws.com" },
  "glue:CreateDevEndpoint": { fields: ["roleArn"], to: "glue.amazonaws.com" },
  "sagemaker:CreateTrainingJob": { fields: ["roleArn"], to: "sagemaker.amazonaws.com" },
  "batch:CreateComputeEnvironment": { fields: ["serviceRole"], to: "batch.amazonaws.com" },
  "events:PutTargets": { fields: ["roleArn"], to: "events.amazonaws.com" },
};

const DENIED = new Set([
  "AccessDenied",
  "AccessDeniedException",
  "Client.UnauthorizedOperation",
  "UnauthorizedOperation",
  "Client.AccessDenied",
  "UnauthorizedAccess",
  "AuthorizationError",
  "AuthorizationErrorException",
  "Forbidden",
]);

/** Why a record was not mapped (counted in the report). */
export type SkipReason =
  "no principal" | "AWS service principal" | "not an API call" | "no permission needed" | "malformed record";

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);

/** Principal of a record: the user, or for an assumed-role session the role that issued it. */
export function principalOf(r: CloudTrailRecord): string | SkipReason {
  const u = r.userIdentity;
  if (!u) return "no principal";
  if (u.type === "AWSService") return "AWS service principal";
  if (u.type === "AssumedRole")
    return str(u.sessionContext?.sessionIssuer?.arn) ?? str(u.arn) ?? "no principal";
  return str(u.arn) ?? "no principal";
}

/** Lambda and CloudFront version their event names (`UpdateFunctionCode20150331v2`). */
function eventAction(source: string, name: string): string {
  const host = source.replace(/\.amazonaws\.com$/, "");
  const prefix = PREFIX[host] ?? host.split(".")[0] ?? host;
  const bare = name.replace(/20\d{6}(v\d+)?$/, "").replace(/\d{4}_\d{2}_\d{2}$/, "");
  return `${prefix}:${bare}`;
}

/** The ARNs a record names for its call: `resources[]` and well-known request parameters. */
function candidateArns(r: CloudTrailRecord, service: string, account: string): string[] {
  const out = new Set<string>();
  for (const x of r.resources ?? []) if (str(x.ARN)) out.add(x.ARN as string);
  const p = r.requestParameters ?? {};
  const region = r.awsRegion ?? "";
  const arnOr = (v: unknown, build: (name: string) => string) => {
    const s = str(v);
    if (s) out.add(s.startsWith("arn:") ? s : build(s));
  };
  switch (service) {
    case "s3": {
      const bucket = str(p.bucketName);
      if (bucket) {
        out.add(`arn:aws:s3:::${bucket}`);
        const key = str(p.key);
        if (key) out.add(`arn:aws:s3:::${bucket}/${key}`);
      }
      break;
    }
    case "ecr":
      arnOr(p.repositoryName, (n) => `arn:aws:ecr:${region}:${account}:repository/${n}`);
      break;
    case "ecs": {
      const cluster = str(p.cluster)?.replace(/^arn:.*:cluster\//, "") ?? "default";
      arnOr(p.service, (n) => `arn:aws:ecs:${region}:${account}:service/${cluster}/${n}`);
      if (Array.isArray(p.services))
        for (const x of p.services)
          arnOr(x, (n) => `arn:aws:ecs:${region}:${account}:service/${cluster}/${n}`);
      if (str(p.cluster)) arnOr(p.cluster, (n) => `arn:aws:ecs:${region}:${account}:cluster/${n}`);
      arnOr(
        p.taskDefinition,
        (n) => `arn:aws:ecs:${region}:${account}:task-definition/${n.includes(":") ? n : `${n}:*`}`,
      );
      break;
    }
    case "lambda":
      arnOr(p.functionName, (n) => `arn:aws:lambda:${region}:${account}:function:${n}`);
      break;
    case "dynamodb":
      arnOr(p.tableName, (n) => `arn:aws:dynamodb:${region}:${account}:table/${n}`);
      break;
    case "sqs": {
      const url = str(p.queueUrl);
      const name = url?.split("/").pop();
      if (name) out.add(`arn:aws:sqs:${region}:${account}:${name}`);
      break;
    }
    case "sns":
      arnOr(p.topicArn, (n) => n);
      break;
    case "ssm":
      arnOr(p.name, (n) => `arn:aws:ssm:${region}:${account}:parameter/${n.replace(/^\//, "")}`);
      break;
    case "secretsmanager":
      if (str(p.secretId)?.startsWith("arn:")) out.add(p.secretId as string);
      break;
    case "logs":
      arnOr(p.logGroupName, (n) => `arn:aws:logs:${region}:${account}:log-group:${n}`);
      break;
    case "athena":
      arnOr(p.workGroup, (n) => `arn:aws:athena:${region}:${account}:workgroup/${n}`);
      break;
    case "sts":
      arnOr(p.roleArn, (n) => n);
      break;
    case "iam":
      arnOr(p.roleName, (n) => `arn:aws:iam::${account}:role/${n}`);
      arnOr(p.userName, (n) => `arn:aws:iam::${account}:user/${n}`);
      arnOr(p.policyArn, (n) => n);
      break;
    case "kms":
      if (str(p.keyId)?.startsWith("arn:")) out.add(p.keyId as string);
      break;
    case "ec2":
      for (const id of instanceIds(p)) out.add(`arn:aws:ec2:${region}:${account}:instance/${id}`);
      break;
  }
  return [...out];
}

function instanceIds(p: Record<string, unknown>): string[] {
  const set = p.instancesSet as { items?: { instanceId?: unknown }[] } | undefined;
  return (set?.items ?? []).map((i) => str(i.instanceId)).filter((x): x is string => x !== undefined);
}

/** Maps a CloudTrail record to the call it records, or says why it is skipped. */
export function mapRecord(r: CloudTrailRecord): MappedCall | SkipReason {
  if (typeof r !== "object" || r === null) return "malformed record";
  const source = str(r.eventSource);
  const name = str(r.eventName);
  const time = str(r.eventTime);
  if (!source || !name || !time) return "malformed record";
  if (
    r.eventType === "AwsConsoleSignIn" ||
    r.eventType === "AwsServiceEvent" ||
    r.eventType === "AwsCloudTrailInsight"
  )
    return "not an API call";
  const principal = principalOf(r);
  if (!principal.startsWith("arn:")) return principal as SkipReason;
  const base = eventAction(source, name);
  if (NOT_AUTHORISED.has(base)) return "no permission needed";
  const service = base.slice(0, base.indexOf(":"));
  const account =
    str(r.recipientAccountId) ?? str(r.userIdentity?.accountId) ?? principal.split(":")[4] ?? "";
  const candidates = candidateArns(r, service, account);
  const actions: NeededAction[] = (RENAMED[base] ?? [base]).map((action) => ({ action, candidates }));
  const p = r.requestParameters ?? {};
  const passes = PASSED_ROLE[base];
  for (const field of passes?.fields ?? []) {
    const role = str(p[field]);
    if (role)
      actions.push({
        action: "iam:PassRole",
        candidates: [role.startsWith("arn:") ? role : `arn:aws:iam::${account}:role/${role}`],
        // the condition key policies use to say which service a role may be passed to
        context: { "iam:PassedToService": passes!.to },
      });
  }
  const context: MappedCall["context"] = {};
  if (str(r.awsRegion)) context.region = r.awsRegion as string;
  if (str(r.sourceIPAddress) && /^[\d.:a-fA-F]+$/.test(r.sourceIPAddress as string))
    context.sourceIp = r.sourceIPAddress as string;
  const mfa = r.userIdentity?.sessionContext?.attributes?.mfaAuthenticated;
  if (mfa !== undefined) context.mfa = mfa === "true";
  return {
    principal,
    time,
    account,
    outcome: r.errorCode !== undefined && DENIED.has(r.errorCode) ? "denied" : "allowed",
    actions,
    context,
  };
}

/** Every log file under the given paths (directories walked; *.json, *.json.gz, *.jsonl, *.gz). */
export async function logFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string, top: boolean) => {
    const s = await stat(p).catch(() => undefined);
    if (!s) {
      if (top) throw new Invalid("no such file or directory", p);
      return;
    }
    if (s.isDirectory()) {
      const entries = (await readdir(p)).sort();
      for (const e of entries) await walk(join(p, e), false);
    } else if (top || /\.(json|jsonl|ndjson|gz)$/i.test(p)) out.push(p);
  };
  for (const p of paths) await walk(p, true);
  return out;
}

/**
 * Streams the records of one CloudTrail file: `{"Records":[…]}`, a JSON array, or JSON lines;
 * gzip is detected from the magic bytes. Objects are cut out with a small scanner and parsed one
 * at a time, so memory stays at one chunk plus one record.
 */
export async function* readRecords(file: string): AsyncGenerator<unknown> {
  const head = await new Promise<Buffer>((resolve, reject) => {
    const s = createReadStream(file, { start: 0, end: 1 });
    const parts: Buffer[] = [];
    s.on("data", (b) => parts.push(b as Buffer));
    s.on("end", () => resolve(Buffer.concat(parts)));
    s.on("error", reject);
  });
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const input = head[0] === 0x1f && head[1] === 0x8b ? raw.pipe(createGunzip({ chunkSize: 1 << 20 })) : raw;
  input.setEncoding("utf8");

  let target = -1; // the depth at which records start: 0 JSON lines, 1 array, 2 {"Records":[…]}
  let sniff = "";
  let depth = 0;
  let inString = false;
  let escaped = false;
  let pending = ""; // the start of a record cut by a chunk boundary
  const decide = (t: string) => {
    if (t.startsWith("[")) return 1;
    if (!t.startsWith("{")) throw new Invalid("not CloudTrail JSON (expected an object or an array)", file);
    return /^\{\s*"Records"\s*:\s*\[/.test(t) ? 2 : 0;
  };
  function* scan(text: string): Generator<unknown> {
    let start = pending.length > 0 ? 0 : -1;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 92) escaped = true;
        else if (c === 34) inString = false;
        continue;
      }
      if (c === 34) inString = true;
      else if (c === 123 || c === 91) {
        if (depth === target && c === 123) start = i;
        depth++;
      } else if (c === 125 || c === 93) {
        depth--;
        if (depth === target && c === 125 && start >= 0) {
          const json = pending + text.slice(start, i + 1);
          pending = "";
          start = -1;
          yield JSON.parse(json) as unknown;
        }
      }
    }
    if (start >= 0) pending += text.slice(start);
  }
  for await (const chunk of input as AsyncIterable<string>) {
    if (target >= 0) {
      yield* scan(chunk);
      continue;
    }
    // Decide the layout from the first 32 significant characters.
    sniff += chunk;
    const t = sniff.trimStart();
    if (t.length < 32) continue;
    target = decide(t);
    sniff = "";
    yield* scan(t);
  }
  const rest = sniff.trimStart();
  if (target < 0 && rest.length > 0) {
    target = decide(rest);
    yield* scan(rest);
  }
  if (pending.trim().length > 0) throw new Invalid("truncated JSON at the end of the file", file);
}
