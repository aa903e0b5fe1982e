// Google Cloud checks on a Terraform plan (hashicorp/google and google-beta attribute names).
import { bool, items, type Plan, type PlanResource, read, str } from "../plan.ts";
import {
  ALL_PORTS,
  type CheckContext,
  type CheckInfo,
  type IacIssue,
  isWorld,
  ofType,
  type Placement,
  type PortRange,
  portRange,
  worldOpenIssues,
} from "./common.ts";

export const gcpChecks: CheckInfo[] = [
  {
    rule: "IAC-NET-OPEN-SSH",
    severity: "critical",
    resources: "google_compute_firewall",
    what: "INGRESS allow of tcp/22 from 0.0.0.0/0 or ::/0",
    references: ["CIS-GCP-3.6"],
  },
  {
    rule: "IAC-NET-OPEN-RDP",
    severity: "critical",
    resources: "google_compute_firewall",
    what: "INGRESS allow of tcp/3389 from the world",
    references: ["CIS-GCP-3.7"],
  },
  {
    rule: "IAC-NET-WORLD-OPEN",
    severity: "high",
    resources: "google_compute_firewall",
    what: "any other port than 80/443 from the world",
  },
  {
    rule: "IAC-GCP-SECURE-BOOT",
    severity: "medium",
    resources: "google_compute_instance",
    what: "shielded_instance_config.enable_secure_boot is not true",
    references: ["CIS-GCP-4.8"],
  },
  {
    rule: "IAC-GCP-SQL-TLS",
    severity: "high",
    resources: "google_sql_database_instance",
    what: "ip_configuration.ssl_mode is not ENCRYPTED_ONLY / TRUSTED_CLIENT_CERTIFICATE_REQUIRED (nor legacy require_ssl = true)",
    references: ["CIS-GCP-6.4"],
  },
  {
    rule: "IAC-GCP-SQL-WORLD-AUTHORIZED",
    severity: "critical",
    resources: "google_sql_database_instance",
    what: "authorized_networks contains 0.0.0.0/0",
    references: ["CIS-GCP-6.5"],
  },
  {
    rule: "IAC-GCP-SQL-PUBLIC-IP",
    severity: "medium",
    resources: "google_sql_database_instance",
    what: "ip_configuration.ipv4_enabled is true (public IP)",
    references: ["CIS-GCP-6.6"],
  },
  {
    rule: "IAC-GCP-BUCKET-PUBLIC",
    severity: "critical",
    resources: "google_storage_bucket_iam_member/_binding/_policy, google_storage_bucket_access_control",
    what: "allUsers or allAuthenticatedUsers granted on a bucket",
    references: ["CIS-GCP-5.1"],
  },
  {
    rule: "IAC-GCP-BUCKET-UNIFORM-ACCESS",
    severity: "medium",
    resources: "google_storage_bucket",
    what: "uniform_bucket_level_access is not true",
    references: ["CIS-GCP-5.2"],
  },
  {
    rule: "IAC-GCP-BUCKET-PUBLIC-ACCESS-PREVENTION",
    severity: "medium",
    resources: "google_storage_bucket",
    what: 'public_access_prevention is not "enforced"',
  },
  {
    rule: "IAC-GCP-KMS-ROTATION",
    severity: "medium",
    resources: "google_kms_crypto_key",
    what: "ENCRYPT_DECRYPT key without rotation_period, or longer than 90 days",
    references: ["CIS-GCP-1.10"],
  },
  {
    rule: "IAC-GCP-NO-AUDIT-CONFIG",
    severity: "medium",
    resources: "(plan)",
    what: "the plan has Google resources but no *_iam_audit_config for allServices with DATA_READ and DATA_WRITE (it may live in another plan)",
    references: ["CIS-GCP-2.1"],
  },
  {
    rule: "IAC-GCP-NO-CMK",
    severity: "medium",
    resources:
      "google_compute_disk, google_compute_instance boot disk, google_sql_database_instance, google_storage_bucket",
    what: "with --require-cmk: no Cloud KMS key (disk_encryption_key / kms_key_self_link / encryption_key_name / encryption.default_kms_key_name)",
  },
];

const FW_FIX =
  "restrict source_ranges to known ranges (IAP TCP forwarding 35.235.240.0/20 for SSH/RDP); open only 80/443 to the world, through the load balancer";

function firewalls(plan: Plan): IacIssue[] {
  const out: IacIssue[] = [];
  for (const fw of ofType(plan, "google_compute_firewall")) {
    const dir = read(fw.root, "direction");
    if (dir.state === "unknown" || (dir.state === "known" && dir.value !== "INGRESS")) continue;
    if (bool(fw.root, "disabled") === true) continue;
    const src = read(fw.root, "source_ranges");
    if (src.state !== "known" || !Array.isArray(src.value)) continue;
    if (!src.value.some((c) => typeof c === "string" && isWorld(c))) continue;
    const allows = items(fw.root, "allow");
    if (allows === "unknown") continue;
    allows.forEach((a, i) => {
      const proto = str(a, "protocol")?.toLowerCase();
      if (proto === undefined || proto === "icmp" || proto === "ipip" || proto === "esp" || proto === "ah")
        return;
      const portsRead = read(a, "ports");
      if (portsRead.state === "unknown") return;
      const list = portsRead.state === "known" && Array.isArray(portsRead.value) ? portsRead.value : [];
      const ranges: PortRange[] =
        list.length === 0
          ? [ALL_PORTS]
          : list.flatMap((p) => {
              const r = typeof p === "string" ? portRange(p) : undefined;
              return r ? [r] : [];
            });
      out.push(
        ...worldOpenIssues(fw.address, `allow[${i}].ports`, ranges, FW_FIX, {
          ssh: ["CIS-GCP-3.6"],
          rdp: ["CIS-GCP-3.7"],
        }),
      );
    });
  }
  return out;
}

function noCmk(r: PlanResource, path: string, what: string): IacIssue {
  return {
    rule: "IAC-GCP-NO-CMK",
    severity: "medium",
    title: `${what} uses a Google-managed key, not a customer-managed Cloud KMS key`,
    fix: `set ${path} to a google_kms_crypto_key you manage`,
    resource: r.address,
    path,
  };
}

/** Known to be unset (or empty); unknown is "cannot tell". */
function unset(r: PlanResource | { root: PlanResource["root"] }, path: string): boolean {
  const v = read(r.root, path);
  return (
    v.state === "absent" ||
    (v.state === "known" && (v.value === "" || (Array.isArray(v.value) && v.value.length === 0)))
  );
}

function compute(plan: Plan, cmk: boolean): IacIssue[] {
  const out: IacIssue[] = [];
  for (const vm of ofType(plan, "google_compute_instance")) {
    const sb = read(vm.root, "shielded_instance_config[0].enable_secure_boot");
    if (sb.state === "absent" || (sb.state === "known" && sb.value !== true))
      out.push({
        rule: "IAC-GCP-SECURE-BOOT",
        severity: "medium",
        title: "Shielded VM Secure Boot is off",
        fix: "set shielded_instance_config { enable_secure_boot = true, enable_vtpm = true, enable_integrity_monitoring = true } on a Shielded VM image",
        resource: vm.address,
        path: "shielded_instance_config[0].enable_secure_boot",
        references: ["CIS-GCP-4.8"],
      });
    if (
      cmk &&
      unset(vm, "boot_disk[0].kms_key_self_link") &&
      unset(vm, "boot_disk[0].disk_encryption_key_raw") &&
      unset(vm, "boot_disk[0].disk_encryption_key_rsa")
    )
      out.push(noCmk(vm, "boot_disk[0].kms_key_self_link", "boot disk"));
  }
  if (cmk)
    for (const d of ofType(plan, "google_compute_disk")) {
      const k = "disk_encryption_key[0]";
      if (
        unset(d, `${k}.kms_key_self_link`) &&
        unset(d, `${k}.raw_key`) &&
        unset(d, `${k}.rsa_encrypted_key`)
      )
        out.push(noCmk(d, "disk_encryption_key[0].kms_key_self_link", "disk"));
    }
  return out;
}

function sql(plan: Plan, cmk: boolean): IacIssue[] {
  const out: IacIssue[] = [];
  for (const db of ofType(plan, "google_sql_database_instance")) {
    const ip = "settings[0].ip_configuration[0]";
    const mode = read(db.root, `${ip}.ssl_mode`);
    const legacy = bool(db.root, `${ip}.require_ssl`);
    const enforced =
      legacy === true ||
      (mode.state === "known" &&
        (mode.value === "ENCRYPTED_ONLY" || mode.value === "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"));
    if (!enforced && mode.state !== "unknown")
      out.push({
        rule: "IAC-GCP-SQL-TLS",
        severity: "high",
        title: "Cloud SQL accepts unencrypted connections",
        fix: 'set settings { ip_configuration { ssl_mode = "ENCRYPTED_ONLY" } } (or TRUSTED_CLIENT_CERTIFICATE_REQUIRED)',
        resource: db.address,
        path: `${ip}.ssl_mode`,
        references: ["CIS-GCP-6.4"],
      });
    const v4 = read(db.root, `${ip}.ipv4_enabled`);
    const publicIp = v4.state === "known" ? v4.value === true : v4.state === "absent"; // provider default: true
    if (publicIp) {
      out.push({
        rule: "IAC-GCP-SQL-PUBLIC-IP",
        severity: "medium",
        title: "Cloud SQL instance has a public IPv4 address",
        fix: "set ipv4_enabled = false and connect through private_network (Private Service Access) or PSC",
        resource: db.address,
        path: `${ip}.ipv4_enabled`,
        references: ["CIS-GCP-6.6"],
      });
      const nets = items(db.root, `${ip}.authorized_networks`);
      if (nets !== "unknown")
        nets.forEach((n, i) => {
          const value = str(n, "value");
          if (value && isWorld(value))
            out.push({
              rule: "IAC-GCP-SQL-WORLD-AUTHORIZED",
              severity: "critical",
              title: "Cloud SQL authorizes connections from the whole internet",
              fix: "remove the 0.0.0.0/0 authorized network; use the Cloud SQL Auth Proxy or private IP",
              resource: db.address,
              path: `${ip}.authorized_networks[${i}].value`,
              references: ["CIS-GCP-6.5"],
            });
        });
    }
    if (cmk && unset(db, "encryption_key_name"))
      out.push(noCmk(db, "encryption_key_name", "Cloud SQL instance"));
  }
  return out;
}

const PUBLIC_MEMBERS = ["allUsers", "allAuthenticatedUsers"];

function publicIssue(r: PlanResource, path: string, who: string): IacIssue {
  return {
    rule: "IAC-GCP-BUCKET-PUBLIC",
    severity: "critical",
    title: `bucket access is granted to ${who}`,
    fix: "grant roles to specific principals; serve public content through a load balancer with Cloud CDN and signed URLs",
    resource: r.address,
    path,
    references: ["CIS-GCP-5.1"],
  };
}

function storage(plan: Plan, cmk: boolean): IacIssue[] {
  const out: IacIssue[] = [];
  for (const b of ofType(plan, "google_storage_bucket")) {
    const ubla = read(b.root, "uniform_bucket_level_access");
    if (ubla.state === "absent" || (ubla.state === "known" && ubla.value !== true))
      out.push({
        rule: "IAC-GCP-BUCKET-UNIFORM-ACCESS",
        severity: "medium",
        title: "bucket uses fine-grained ACLs (uniform bucket-level access off)",
        fix: "set uniform_bucket_level_access = true",
        resource: b.address,
        path: "uniform_bucket_level_access",
        references: ["CIS-GCP-5.2"],
      });
    const pap = read(b.root, "public_access_prevention");
    if (pap.state === "absent" || (pap.state === "known" && pap.value !== "enforced"))
      out.push({
        rule: "IAC-GCP-BUCKET-PUBLIC-ACCESS-PREVENTION",
        severity: "medium",
        title: "bucket does not enforce public access prevention",
        fix: 'set public_access_prevention = "enforced"',
        resource: b.address,
        path: "public_access_prevention",
      });
    if (cmk && unset(b, "encryption[0].default_kms_key_name"))
      out.push(noCmk(b, "encryption[0].default_kms_key_name", "bucket"));
  }
  for (const m of ofType(plan, "google_storage_bucket_iam_member")) {
    const who = str(m.root, "member");
    if (who && PUBLIC_MEMBERS.includes(who)) out.push(publicIssue(m, "member", who));
  }
  for (const m of ofType(plan, "google_storage_bucket_iam_binding")) {
    const members = read(m.root, "members");
    if (members.state !== "known" || !Array.isArray(members.value)) continue;
    for (const who of members.value)
      if (typeof who === "string" && PUBLIC_MEMBERS.includes(who)) out.push(publicIssue(m, "members", who));
  }
  for (const m of ofType(plan, "google_storage_bucket_iam_policy")) {
    const data = str(m.root, "policy_data");
    const who = data ? PUBLIC_MEMBERS.find((p) => data.includes(`"${p}"`)) : undefined;
    if (who) out.push(publicIssue(m, "policy_data", who));
  }
  for (const m of ofType(
    plan,
    "google_storage_bucket_access_control",
    "google_storage_default_object_access_control",
  )) {
    const entity = str(m.root, "entity");
    if (entity && PUBLIC_MEMBERS.includes(entity)) out.push(publicIssue(m, "entity", entity));
  }
  return out;
}

const NINETY_DAYS = 90 * 86_400;

function kmsAndAudit(plan: Plan): IacIssue[] {
  const out: IacIssue[] = [];
  for (const k of ofType(plan, "google_kms_crypto_key")) {
    const purpose = read(k.root, "purpose");
    if (purpose.state === "known" && purpose.value !== "ENCRYPT_DECRYPT") continue; // asymmetric keys cannot auto-rotate
    const rp = read(k.root, "rotation_period");
    if (rp.state === "unknown") continue;
    const secs =
      rp.state === "known"
        ? Number(/^(\d+(?:\.\d+)?)s$/.exec(String(rp.value))?.[1] ?? Number.NaN)
        : Number.NaN;
    if (rp.state === "absent" || !(secs <= NINETY_DAYS))
      out.push({
        rule: "IAC-GCP-KMS-ROTATION",
        severity: "medium",
        title:
          rp.state === "absent"
            ? "KMS key has no automatic rotation"
            : `KMS key rotates every ${String(rp.value)}, more than 90 days`,
        fix: 'set rotation_period = "7776000s" (90 days) or shorter',
        resource: k.address,
        path: "rotation_period",
        references: ["CIS-GCP-1.10"],
      });
  }
  if (plan.resources.some((r) => r.provider === "google")) {
    const configs = ofType(
      plan,
      "google_project_iam_audit_config",
      "google_folder_iam_audit_config",
      "google_organization_iam_audit_config",
    );
    const full = configs.some((c) => {
      if (str(c.root, "service") !== "allServices") return false;
      const logs = items(c.root, "audit_log_config");
      if (logs === "unknown") return true;
      const types = new Set(logs.map((l) => str(l, "log_type")));
      return types.has("DATA_READ") && types.has("DATA_WRITE");
    });
    if (!full)
      out.push({
        rule: "IAC-GCP-NO-AUDIT-CONFIG",
        severity: "medium",
        title:
          configs.length === 0
            ? "no IAM audit config in this plan: make sure Data Access audit logs are on for the project (here or in the org baseline)"
            : "the IAM audit configs in this plan do not turn on DATA_READ and DATA_WRITE for allServices",
        fix: 'add google_project_iam_audit_config { service = "allServices" } with audit_log_config for ADMIN_READ, DATA_READ and DATA_WRITE',
        resource: configs.length === 0 ? "plan" : (configs[0] as PlanResource).address,
        path: configs.length === 0 ? undefined : "audit_log_config",
        references: ["CIS-GCP-2.1"],
      });
  }
  return out;
}

/** Where a Google resource lives: its location, region or zone attribute. */
export function gcpPlacement(r: PlanResource): Placement | undefined {
  for (const attr of ["location", "region", "zone"]) {
    const v = read(r.root, attr);
    if (v.state === "unknown") return undefined;
    if (v.state !== "known" || typeof v.value !== "string" || v.value === "") continue;
    const region = attr === "zone" ? v.value.replace(/-[a-z]$/, "") : v.value;
    return { region, path: attr };
  }
  return undefined;
}

/** All Google Cloud findings for the plan. */
export function checkGcp(ctx: CheckContext): IacIssue[] {
  const cmk = ctx.options.requireCmk === true;
  return [
    ...firewalls(ctx.plan),
    ...compute(ctx.plan, cmk),
    ...sql(ctx.plan, cmk),
    ...storage(ctx.plan, cmk),
    ...kmsAndAudit(ctx.plan),
  ];
}
