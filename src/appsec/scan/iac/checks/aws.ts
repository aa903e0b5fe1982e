// AWS checks on a Terraform plan (hashicorp/aws provider attribute names). There is no Secure Boot
// attribute on aws_instance, so IMDSv2 (metadata_options.http_tokens = "required") stands in as
// the instance-hardening check.
import {
  bool,
  items,
  type Plan,
  type PlanResource,
  type PlanValue,
  providerSetting,
  read,
  str,
} from "../plan.ts";
import {
  ALL_PORTS,
  type CheckContext,
  type CheckInfo,
  type IacIssue,
  isWorld,
  knownStrings,
  ofType,
  type Placement,
  pointsAt,
  type PortRange,
  worldOpenIssues,
} from "./common.ts";

export const awsChecks: CheckInfo[] = [
  {
    rule: "IAC-NET-OPEN-SSH",
    severity: "critical",
    resources: "aws_security_group, aws_security_group_rule, aws_vpc_security_group_ingress_rule",
    what: "port 22 reachable from 0.0.0.0/0 or ::/0",
    references: ["CIS-AWS-5.2", "CIS-AWS-5.3"],
  },
  {
    rule: "IAC-NET-OPEN-RDP",
    severity: "critical",
    resources: "same",
    what: "port 3389 reachable from 0.0.0.0/0 or ::/0",
    references: ["CIS-AWS-5.2", "CIS-AWS-5.3"],
  },
  {
    rule: "IAC-NET-WORLD-OPEN",
    severity: "high",
    resources: "same",
    what: "any other port than 80/443 reachable from the world",
  },
  {
    rule: "IAC-AWS-IMDSV2",
    severity: "medium",
    resources: "aws_instance",
    what: 'metadata_options.http_tokens is not "required" (IMDSv1 allowed)',
    references: ["CIS-AWS-5.6"],
  },
  {
    rule: "IAC-AWS-EBS-UNENCRYPTED",
    severity: "high",
    resources: "aws_ebs_volume, aws_instance root/ebs_block_device",
    what: "encrypted is false or unset",
    references: ["CIS-AWS-2.2.1"],
  },
  {
    rule: "IAC-AWS-RDS-UNENCRYPTED",
    severity: "high",
    resources: "aws_db_instance, aws_rds_cluster",
    what: "storage_encrypted is false or unset",
    references: ["CIS-AWS-2.3.1"],
  },
  {
    rule: "IAC-AWS-RDS-PUBLIC",
    severity: "high",
    resources: "aws_db_instance, aws_rds_cluster_instance",
    what: "publicly_accessible = true",
    references: ["CIS-AWS-2.3.3"],
  },
  {
    rule: "IAC-AWS-RDS-TLS",
    severity: "high",
    resources: "aws_db_parameter_group, aws_rds_cluster_parameter_group",
    what: "rds.force_ssl (PostgreSQL) / require_secure_transport (MySQL, MariaDB) not on",
  },
  {
    rule: "IAC-AWS-S3-NO-SSE-CONFIG",
    severity: "low",
    resources: "aws_s3_bucket",
    what: "no aws_s3_bucket_server_side_encryption_configuration for the bucket (AWS still applies SSE-S3 by default)",
  },
  {
    rule: "IAC-AWS-S3-NO-PUBLIC-ACCESS-BLOCK",
    severity: "medium",
    resources: "aws_s3_bucket",
    what: "no aws_s3_bucket_public_access_block for the bucket (and no account-level block)",
    references: ["CIS-AWS-2.1.4"],
  },
  {
    rule: "IAC-AWS-S3-PUBLIC-ACCESS-BLOCK",
    severity: "high",
    resources: "aws_s3_bucket_public_access_block, aws_s3_account_public_access_block",
    what: "one of block_public_acls, block_public_policy, ignore_public_acls, restrict_public_buckets is not true",
    references: ["CIS-AWS-2.1.4"],
  },
  {
    rule: "IAC-AWS-S3-PUBLIC-ACL",
    severity: "high",
    resources: "aws_s3_bucket_acl, aws_s3_bucket",
    what: "acl public-read / authenticated-read (critical for public-read-write), or a grant to AllUsers/AuthenticatedUsers",
  },
  {
    rule: "IAC-AWS-KMS-ROTATION",
    severity: "medium",
    resources: "aws_kms_key",
    what: "symmetric key without enable_key_rotation = true",
    references: ["CIS-AWS-3.6"],
  },
  {
    rule: "IAC-AWS-NO-CLOUDTRAIL",
    severity: "medium",
    resources: "(plan)",
    what: "the plan has AWS resources but no aws_cloudtrail (it may live in another plan)",
    references: ["CIS-AWS-3.1"],
  },
  {
    rule: "IAC-AWS-CLOUDTRAIL-SINGLE-REGION",
    severity: "medium",
    resources: "aws_cloudtrail",
    what: "is_multi_region_trail is not true",
    references: ["CIS-AWS-3.1"],
  },
  {
    rule: "IAC-AWS-CLOUDTRAIL-LOG-VALIDATION",
    severity: "medium",
    resources: "aws_cloudtrail",
    what: "enable_log_file_validation is not true",
    references: ["CIS-AWS-3.2"],
  },
  {
    rule: "IAC-AWS-NO-CMK",
    severity: "medium",
    resources:
      "aws_ebs_volume, aws_instance, aws_db_instance, aws_rds_cluster, S3 SSE configuration, aws_cloudtrail",
    what: "with --require-cmk: no customer-managed KMS key (kms_key_id / kms_master_key_id)",
    references: ["CIS-AWS-3.5"],
  },
];

const ADMIN_REFS = { ssh: ["CIS-AWS-5.2", "CIS-AWS-5.3"], rdp: ["CIS-AWS-5.2", "CIS-AWS-5.3"] };
const SG_FIX =
  "allow only 80/443 from the world (through the load balancer/WAF); reach SSH/RDP through SSM Session Manager, a bastion or a VPN range";

function num(v: PlanValue, path: string): number | undefined {
  const r = read(v, path);
  return r.state === "known" && typeof r.value === "number" ? r.value : undefined;
}

/** Port range of an AWS rule; ALL for protocol -1/all; undefined for ICMP or unknown ports. */
function awsPorts(v: PlanValue, protocolAttr: string): PortRange | undefined {
  const proto = str(v, protocolAttr)?.toLowerCase();
  if (proto === undefined) return undefined;
  if (proto === "-1" || proto === "all") return ALL_PORTS;
  if (proto === "icmp" || proto === "1" || proto === "icmpv6" || proto === "58") return undefined;
  const from = num(v, "from_port");
  const to = num(v, "to_port");
  if (from === undefined || to === undefined) return undefined;
  return from === -1 ? ALL_PORTS : { from, to };
}

function worldCidrs(v: PlanValue, ...attrs: string[]): string | undefined {
  for (const a of attrs) {
    const r = read(v, a);
    if (r.state !== "known") continue;
    const list = Array.isArray(r.value) ? r.value : [r.value];
    if (list.some((c) => typeof c === "string" && isWorld(c))) return a;
  }
  return undefined;
}

function network(plan: Plan): IacIssue[] {
  const out: IacIssue[] = [];
  for (const sg of ofType(plan, "aws_security_group")) {
    const rules = items(sg.root, "ingress");
    if (rules === "unknown") continue;
    rules.forEach((rule, i) => {
      const attr = worldCidrs(rule, "cidr_blocks", "ipv6_cidr_blocks");
      const ports = awsPorts(rule, "protocol");
      if (attr && ports)
        out.push(...worldOpenIssues(sg.address, `ingress[${i}].${attr}`, [ports], SG_FIX, ADMIN_REFS));
    });
  }
  for (const r of ofType(plan, "aws_security_group_rule")) {
    if (str(r.root, "type") !== "ingress") continue;
    const attr = worldCidrs(r.root, "cidr_blocks", "ipv6_cidr_blocks");
    const ports = awsPorts(r.root, "protocol");
    if (attr && ports) out.push(...worldOpenIssues(r.address, attr, [ports], SG_FIX, ADMIN_REFS));
  }
  for (const r of ofType(plan, "aws_vpc_security_group_ingress_rule")) {
    const attr = worldCidrs(r.root, "cidr_ipv4", "cidr_ipv6");
    const ports = awsPorts(r.root, "ip_protocol");
    if (attr && ports) out.push(...worldOpenIssues(r.address, attr, [ports], SG_FIX, ADMIN_REFS));
  }
  return out;
}

/** `false` or absent-and-known is unencrypted; unknown is "cannot tell". */
function notTrue(v: PlanValue, path: string): boolean {
  const r = read(v, path);
  return r.state === "absent" || (r.state === "known" && r.value !== true);
}

function absent(v: PlanValue, path: string): boolean {
  const r = read(v, path);
  return r.state === "absent" || (r.state === "known" && r.value === "");
}

function noCmk(r: PlanResource, path: string, what: string): IacIssue {
  return {
    rule: "IAC-AWS-NO-CMK",
    severity: "medium",
    title: `${what} is not encrypted with a customer-managed KMS key`,
    fix: `set ${path} to an aws_kms_key you manage (rotation on, key policy scoped)`,
    resource: r.address,
    path,
    references: r.type === "aws_cloudtrail" ? ["CIS-AWS-3.5"] : undefined,
  };
}

function compute(plan: Plan, cmk: boolean): IacIssue[] {
  const out: IacIssue[] = [];
  for (const r of ofType(plan, "aws_instance")) {
    const tokens = read(r.root, "metadata_options[0].http_tokens");
    // Unset means the default, "optional"; unknown means the provider decides at apply: cannot tell.
    const imdsv1 = tokens.state === "absent" || (tokens.state === "known" && tokens.value !== "required");
    if (imdsv1)
      out.push({
        rule: "IAC-AWS-IMDSV2",
        severity: "medium",
        title: 'instance metadata allows IMDSv1 (http_tokens is not "required")',
        fix: 'set metadata_options { http_tokens = "required" } (and http_put_response_hop_limit = 1 unless containers need 2)',
        resource: r.address,
        path: "metadata_options[0].http_tokens",
        references: ["CIS-AWS-5.6"],
      });
    const roots = items(r.root, "root_block_device");
    if (roots !== "unknown")
      roots.forEach((d, i) => {
        if (bool(d, "encrypted") === false)
          out.push({
            rule: "IAC-AWS-EBS-UNENCRYPTED",
            severity: "high",
            title: "the instance's root volume is not encrypted",
            fix: "set root_block_device { encrypted = true } (or enable EBS encryption by default for the account)",
            resource: r.address,
            path: `root_block_device[${i}].encrypted`,
            references: ["CIS-AWS-2.2.1"],
          });
        else if (cmk && absent(d, "kms_key_id"))
          out.push(noCmk(r, `root_block_device[${i}].kms_key_id`, "the root volume"));
      });
    const ebs = items(r.root, "ebs_block_device");
    if (ebs !== "unknown")
      ebs.forEach((d, i) => {
        if (bool(d, "encrypted") === false)
          out.push({
            rule: "IAC-AWS-EBS-UNENCRYPTED",
            severity: "high",
            title: "an attached EBS volume is not encrypted",
            fix: "set ebs_block_device { encrypted = true }",
            resource: r.address,
            path: `ebs_block_device[${i}].encrypted`,
            references: ["CIS-AWS-2.2.1"],
          });
      });
  }
  for (const r of ofType(plan, "aws_ebs_volume")) {
    if (notTrue(r.root, "encrypted"))
      out.push({
        rule: "IAC-AWS-EBS-UNENCRYPTED",
        severity: "high",
        title: "EBS volume is not encrypted",
        fix: "set encrypted = true (with kms_key_id for a customer-managed key)",
        resource: r.address,
        path: "encrypted",
        references: ["CIS-AWS-2.2.1"],
      });
    else if (cmk && absent(r.root, "kms_key_id")) out.push(noCmk(r, "kms_key_id", "EBS volume"));
  }
  return out;
}

function databases(plan: Plan, cmk: boolean): IacIssue[] {
  const out: IacIssue[] = [];
  for (const r of ofType(plan, "aws_db_instance", "aws_rds_cluster")) {
    const serverlessV1 = str(r.root, "engine_mode") === "serverless"; // always encrypted
    if (!serverlessV1 && notTrue(r.root, "storage_encrypted"))
      out.push({
        rule: "IAC-AWS-RDS-UNENCRYPTED",
        severity: "high",
        title: "database storage is not encrypted at rest",
        fix: "set storage_encrypted = true (needs a new instance/cluster restored from an encrypted snapshot)",
        resource: r.address,
        path: "storage_encrypted",
        references: ["CIS-AWS-2.3.1"],
      });
    else if (cmk && absent(r.root, "kms_key_id")) out.push(noCmk(r, "kms_key_id", "database storage"));
  }
  for (const r of ofType(plan, "aws_db_instance", "aws_rds_cluster_instance")) {
    if (bool(r.root, "publicly_accessible") === true)
      out.push({
        rule: "IAC-AWS-RDS-PUBLIC",
        severity: "high",
        title: "database instance is publicly accessible (gets a public IP)",
        fix: "set publicly_accessible = false and reach it from inside the VPC",
        resource: r.address,
        path: "publicly_accessible",
        references: ["CIS-AWS-2.3.3"],
      });
  }
  for (const r of ofType(plan, "aws_db_parameter_group", "aws_rds_cluster_parameter_group")) {
    const family = str(r.root, "family")?.toLowerCase();
    if (!family) continue;
    const params = items(r.root, "parameter");
    if (params === "unknown") continue;
    const value = (name: string): { v: string; i: number } | undefined => {
      for (const [i, p] of params.entries()) {
        if (str(p, "name") !== name) continue;
        const v = read(p, "value");
        return { v: v.state === "known" ? String(v.value) : "", i };
      }
      return undefined;
    };
    const pg = /postgres/.test(family);
    const my = /mysql|mariadb/.test(family);
    if (!pg && !my) continue;
    const name = pg ? "rds.force_ssl" : "require_secure_transport";
    const set = value(name);
    // RDS PostgreSQL 15+ defaults rds.force_ssl to 1; older versions and MySQL/MariaDB do not.
    const major = Number(/(\d+)/.exec(family)?.[1] ?? "0");
    const defaultOn = pg && major >= 15;
    const on = set ? ["1", "on", "true"].includes(set.v.toLowerCase()) : defaultOn;
    if (!on)
      out.push({
        rule: "IAC-AWS-RDS-TLS",
        severity: "high",
        title: `${family} parameter group does not force TLS (${name} is ${set ? `'${set.v}'` : "unset"})`,
        fix: `add parameter { name = "${name}" value = "1" }`,
        resource: r.address,
        path: set ? `parameter[${set.i}].value` : "parameter",
      });
  }
  return out;
}

const FOUR = [
  "block_public_acls",
  "block_public_policy",
  "ignore_public_acls",
  "restrict_public_buckets",
] as const;

function buckets(plan: Plan, cmk: boolean): IacIssue[] {
  const out: IacIssue[] = [];
  const blocks = ofType(plan, "aws_s3_bucket_public_access_block");
  const accountBlocks = ofType(plan, "aws_s3_account_public_access_block");
  const sseConfigs = ofType(plan, "aws_s3_bucket_server_side_encryption_configuration");
  for (const pab of [...blocks, ...accountBlocks]) {
    for (const a of FOUR) {
      if (notTrue(pab.root, a))
        out.push({
          rule: "IAC-AWS-S3-PUBLIC-ACCESS-BLOCK",
          severity: "high",
          title: `public access block has ${a} off`,
          fix: `set ${a} = true (all four settings)`,
          resource: pab.address,
          path: a,
          references: ["CIS-AWS-2.1.4"],
        });
    }
  }
  const accountWide = accountBlocks.some((b) => FOUR.every((a) => bool(b.root, a) === true));
  for (const b of ofType(plan, "aws_s3_bucket")) {
    const ids = knownStrings(b, "bucket", "id");
    const linked = (list: PlanResource[]): PlanResource[] =>
      list.filter((h) => pointsAt(h, "bucket", b, ids));
    if (!accountWide && linked(blocks).length === 0)
      out.push({
        rule: "IAC-AWS-S3-NO-PUBLIC-ACCESS-BLOCK",
        severity: "medium",
        title: "bucket has no aws_s3_bucket_public_access_block in this plan",
        fix: "add aws_s3_bucket_public_access_block for the bucket with all four settings true",
        resource: b.address,
        references: ["CIS-AWS-2.1.4"],
      });
    // The inline block is computed since provider 4.x (unknown on create): only a known, non-empty
    // one counts; otherwise the separate resource is what declares encryption.
    const inline = read(b.root, "server_side_encryption_configuration");
    const hasInline = inline.state === "known" && Array.isArray(inline.value) && inline.value.length > 0;
    if (!hasInline && linked(sseConfigs).length === 0)
      out.push({
        rule: "IAC-AWS-S3-NO-SSE-CONFIG",
        severity: cmk ? "medium" : "low",
        title:
          "bucket has no server-side encryption configuration in this plan (AWS applies SSE-S3 by default)",
        fix: 'add aws_s3_bucket_server_side_encryption_configuration with sse_algorithm = "aws:kms" and your kms_master_key_id',
        resource: b.address,
      });
    const acl = str(b.root, "acl");
    if (acl) out.push(...aclIssues(b, "acl", acl));
  }
  if (cmk)
    for (const c of sseConfigs) {
      const rules = items(c.root, "rule");
      if (rules === "unknown") continue;
      rules.forEach((rule, i) => {
        const p = `rule[${i}].apply_server_side_encryption_by_default[0]`;
        const algo = read(rule, "apply_server_side_encryption_by_default[0].sse_algorithm");
        const key = read(rule, "apply_server_side_encryption_by_default[0].kms_master_key_id");
        if (algo.state === "unknown" || key.state === "unknown") return;
        const kms = algo.state === "known" && String(algo.value).startsWith("aws:kms");
        if (!kms || key.state !== "known" || key.value === "")
          out.push(
            noCmk(c, `${p}.${kms ? "kms_master_key_id" : "sse_algorithm"}`, "bucket default encryption"),
          );
      });
    }
  for (const a of ofType(plan, "aws_s3_bucket_acl")) {
    const acl = str(a.root, "acl");
    if (acl) out.push(...aclIssues(a, "acl", acl));
    const grants = items(a.root, "access_control_policy[0].grant");
    if (grants !== "unknown")
      grants.forEach((g, i) => {
        const uri = str(g, "grantee[0].uri") ?? "";
        if (/AllUsers|AuthenticatedUsers/.test(uri))
          out.push({
            rule: "IAC-AWS-S3-PUBLIC-ACL",
            severity: "high",
            title: `bucket ACL grants ${str(g, "permission") ?? "access"} to ${uri.split("/").pop()}`,
            fix: "remove the grant; share objects with presigned URLs or CloudFront with origin access control",
            resource: a.address,
            path: `access_control_policy[0].grant[${i}].grantee[0].uri`,
          });
      });
  }
  return out;
}

function aclIssues(r: PlanResource, path: string, acl: string): IacIssue[] {
  if (!["public-read", "public-read-write", "authenticated-read"].includes(acl)) return [];
  return [
    {
      rule: "IAC-AWS-S3-PUBLIC-ACL",
      severity: acl === "public-read-write" ? "critical" : "high",
      title: `bucket ACL is '${acl}'`,
      fix: 'use acl = "private" (or no ACL with object ownership BucketOwnerEnforced)',
      resource: r.address,
      path,
    },
  ];
}

function keysAndAudit(plan: Plan, cmk: boolean): IacIssue[] {
  const out: IacIssue[] = [];
  for (const k of ofType(plan, "aws_kms_key")) {
    const spec = read(k.root, "customer_master_key_spec");
    if (spec.state === "known" && spec.value !== "SYMMETRIC_DEFAULT") continue; // only symmetric keys rotate
    if (notTrue(k.root, "enable_key_rotation"))
      out.push({
        rule: "IAC-AWS-KMS-ROTATION",
        severity: "medium",
        title: "KMS key rotation is off",
        fix: "set enable_key_rotation = true",
        resource: k.address,
        path: "enable_key_rotation",
        references: ["CIS-AWS-3.6"],
      });
  }
  const trails = ofType(plan, "aws_cloudtrail");
  if (trails.length === 0 && plan.resources.some((r) => r.provider === "aws"))
    out.push({
      rule: "IAC-AWS-NO-CLOUDTRAIL",
      severity: "medium",
      title:
        "no aws_cloudtrail in this plan: make sure an organisation or account trail covers these resources",
      fix: "manage a multi-region aws_cloudtrail with log file validation (here or in the account baseline)",
      resource: "plan",
      references: ["CIS-AWS-3.1"],
    });
  for (const t of trails) {
    if (notTrue(t.root, "is_multi_region_trail"))
      out.push({
        rule: "IAC-AWS-CLOUDTRAIL-SINGLE-REGION",
        severity: "medium",
        title: "CloudTrail records only one region",
        fix: "set is_multi_region_trail = true",
        resource: t.address,
        path: "is_multi_region_trail",
        references: ["CIS-AWS-3.1"],
      });
    if (notTrue(t.root, "enable_log_file_validation"))
      out.push({
        rule: "IAC-AWS-CLOUDTRAIL-LOG-VALIDATION",
        severity: "medium",
        title: "CloudTrail log file validation is off",
        fix: "set enable_log_file_validation = true",
        resource: t.address,
        path: "enable_log_file_validation",
        references: ["CIS-AWS-3.2"],
      });
    if (cmk && absent(t.root, "kms_key_id")) out.push(noCmk(t, "kms_key_id", "CloudTrail logs"));
  }
  return out;
}

// Global services have no region to keep in-country.
const GLOBAL =
  /^aws_(iam_|route53_(?!resolver)|cloudfront_|organizations_|budgets_|ce_|shield_|globalaccelerator_|waf_)/;

/** Where an AWS resource lives: its own region (provider v6), its AZ, or its provider's region. */
export function awsPlacement(plan: Plan, r: PlanResource): Placement | undefined {
  if (GLOBAL.test(r.type)) return undefined;
  const own = read(r.root, "region");
  if (own.state === "known" && typeof own.value === "string" && own.value !== "")
    return { region: own.value, path: "region" };
  // An unknown `region` set in configuration (provider 6.x per-resource region) cannot be placed;
  // an unknown computed one (aws_s3_bucket.region before 6.x) is the provider's region.
  if (own.state === "unknown" && r.expressions?.region !== undefined) return undefined;
  const az = str(r.root, "availability_zone");
  if (az && /^[a-z]{2}(-[a-z]+)+-\d+[a-z]$/.test(az))
    return { region: az.slice(0, -1), path: "availability_zone" };
  const region = providerSetting(plan, r, "region");
  return region ? { region, path: "provider.region" } : undefined;
}

/** All AWS findings for the plan. */
export function checkAws(ctx: CheckContext): IacIssue[] {
  const cmk = ctx.options.requireCmk === true;
  return [
    ...network(ctx.plan),
    ...compute(ctx.plan, cmk),
    ...databases(ctx.plan, cmk),
    ...buckets(ctx.plan, cmk),
    ...keysAndAudit(ctx.plan, cmk),
  ];
}
