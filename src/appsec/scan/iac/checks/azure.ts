// Azure checks on a Terraform plan (hashicorp/azurerm 3.x and 4.x attribute names; where 4.0
// renamed an attribute both names are read).
import { bool, items, type Plan, type PlanResource, type PlanValue, read, str } from "../plan.ts";
import {
  type CheckContext,
  type CheckInfo,
  type IacIssue,
  isWorld,
  knownStrings,
  ofType,
  type Placement,
  pointsAt,
  type PortRange,
  portRange,
  worldOpenIssues,
} from "./common.ts";

export const azureChecks: CheckInfo[] = [
  {
    rule: "IAC-NET-OPEN-SSH",
    severity: "critical",
    resources: "azurerm_network_security_group, azurerm_network_security_rule",
    what: "Inbound Allow to 22 from *, Internet, 0.0.0.0/0 or ::/0",
  },
  {
    rule: "IAC-NET-OPEN-RDP",
    severity: "critical",
    resources: "same",
    what: "Inbound Allow to 3389 from the world",
  },
  {
    rule: "IAC-NET-WORLD-OPEN",
    severity: "high",
    resources: "same",
    what: "any other port than 80/443 from the world",
  },
  {
    rule: "IAC-AZ-VM-SECURE-BOOT",
    severity: "medium",
    resources: "azurerm_linux_virtual_machine, azurerm_windows_virtual_machine",
    what: "secure_boot_enabled is not true (Trusted Launch)",
  },
  {
    rule: "IAC-AZ-VM-VTPM",
    severity: "medium",
    resources: "same",
    what: "vtpm_enabled is not true (Trusted Launch)",
  },
  {
    rule: "IAC-AZ-STORAGE-HTTPS",
    severity: "high",
    resources: "azurerm_storage_account",
    what: "https_traffic_only_enabled (4.x) / enable_https_traffic_only (3.x) is false",
  },
  {
    rule: "IAC-AZ-STORAGE-TLS",
    severity: "medium",
    resources: "azurerm_storage_account",
    what: "min_tls_version below TLS1_2",
  },
  {
    rule: "IAC-AZ-STORAGE-INFRA-ENCRYPTION",
    severity: "low",
    resources: "azurerm_storage_account",
    what: "infrastructure_encryption_enabled is not true (no second encryption layer)",
  },
  {
    rule: "IAC-AZ-STORAGE-PUBLIC-BLOB",
    severity: "high",
    resources: "azurerm_storage_account",
    what: "allow_nested_items_to_be_public is true (containers may be made public)",
  },
  {
    rule: "IAC-AZ-STORAGE-PUBLIC-NETWORK",
    severity: "medium",
    resources: "azurerm_storage_account",
    what: 'public network access on with no network_rules default_action = "Deny"',
  },
  {
    rule: "IAC-AZ-CONTAINER-PUBLIC",
    severity: "high",
    resources: "azurerm_storage_container",
    what: "container_access_type is blob or container",
  },
  {
    rule: "IAC-AZ-DB-PUBLIC",
    severity: "high",
    resources:
      "azurerm_mssql_server, azurerm_postgresql_flexible_server, azurerm_mysql_flexible_server, azurerm_postgresql_server, azurerm_mysql_server",
    what: "public_network_access_enabled is true",
  },
  {
    rule: "IAC-AZ-DB-TLS",
    severity: "high",
    resources:
      "azurerm_postgresql_server, azurerm_mysql_server, *_flexible_server_configuration, azurerm_mssql_server",
    what: "ssl_enforcement_enabled false, require_secure_transport = off, or minimum TLS below 1.2",
  },
  {
    rule: "IAC-AZ-KV-PURGE-PROTECTION",
    severity: "high",
    resources: "azurerm_key_vault",
    what: "purge_protection_enabled is not true",
  },
  {
    rule: "IAC-AZ-KV-SOFT-DELETE-RETENTION",
    severity: "low",
    resources: "azurerm_key_vault",
    what: "soft_delete_retention_days below 90",
  },
  {
    rule: "IAC-AZ-KV-NO-DIAGNOSTICS",
    severity: "medium",
    resources: "azurerm_key_vault",
    what: "no azurerm_monitor_diagnostic_setting targets the vault (no AuditEvent logs)",
  },
  {
    rule: "IAC-AZ-NO-CMK",
    severity: "medium",
    resources:
      "azurerm_managed_disk, VM os_disk, azurerm_storage_account, azurerm_mssql_server, *_flexible_server",
    what: "with --require-cmk: no disk encryption set / customer_managed_key / TDE key in Key Vault",
  },
];

const NSG_FIX =
  "allow only 80/443 from Internet (through Application Gateway/Front Door WAF); reach SSH/RDP through Azure Bastion or a VPN address range";

function listOrOne(v: PlanValue, one: string, many: string): string[] {
  const out: string[] = [];
  const a = read(v, one);
  if (a.state === "known" && typeof a.value === "string" && a.value !== "") out.push(a.value);
  const b = read(v, many);
  if (b.state === "known" && Array.isArray(b.value))
    for (const x of b.value) if (typeof x === "string") out.push(x);
  return out;
}

function nsgRule(resource: string, prefix: string, v: PlanValue): IacIssue[] {
  if (str(v, "direction")?.toLowerCase() !== "inbound" || str(v, "access")?.toLowerCase() !== "allow")
    return [];
  const proto = str(v, "protocol")?.toLowerCase();
  if (proto === undefined || proto === "icmp") return [];
  const sources = listOrOne(v, "source_address_prefix", "source_address_prefixes");
  if (!sources.some(isWorld)) return [];
  const ports: PortRange[] = listOrOne(v, "destination_port_range", "destination_port_ranges").flatMap(
    (p) => {
      const r = portRange(p);
      return r ? [r] : [];
    },
  );
  if (ports.length === 0) return [];
  return worldOpenIssues(resource, `${prefix}destination_port_range`, ports, NSG_FIX);
}

function network(plan: Plan): IacIssue[] {
  const out: IacIssue[] = [];
  for (const nsg of ofType(plan, "azurerm_network_security_group")) {
    const rules = items(nsg.root, "security_rule");
    if (rules === "unknown") continue;
    rules.forEach((r, i) => out.push(...nsgRule(nsg.address, `security_rule[${i}].`, r)));
  }
  for (const r of ofType(plan, "azurerm_network_security_rule")) out.push(...nsgRule(r.address, "", r.root));
  return out;
}

/** Known false, or known to be unset (the provider default is false). */
function offOrUnset(v: PlanValue, path: string): boolean {
  const r = read(v, path);
  return r.state === "absent" || (r.state === "known" && r.value !== true);
}

function unset(v: PlanValue, path: string): boolean {
  const r = read(v, path);
  return (
    r.state === "absent" ||
    (r.state === "known" && (r.value === "" || (Array.isArray(r.value) && r.value.length === 0)))
  );
}

function noCmk(r: PlanResource, path: string, what: string): IacIssue {
  return {
    rule: "IAC-AZ-NO-CMK",
    severity: "medium",
    title: `${what} is encrypted with a platform-managed key, not a customer-managed key`,
    fix: `set ${path} (a key in a Key Vault with purge protection)`,
    resource: r.address,
    path,
  };
}

function compute(plan: Plan, cmk: boolean): IacIssue[] {
  const out: IacIssue[] = [];
  for (const vm of ofType(plan, "azurerm_linux_virtual_machine", "azurerm_windows_virtual_machine")) {
    if (offOrUnset(vm.root, "secure_boot_enabled"))
      out.push({
        rule: "IAC-AZ-VM-SECURE-BOOT",
        severity: "medium",
        title: "VM is not a Trusted Launch VM with Secure Boot",
        fix: "set secure_boot_enabled = true (with a Gen2 image that supports Trusted Launch)",
        resource: vm.address,
        path: "secure_boot_enabled",
      });
    if (offOrUnset(vm.root, "vtpm_enabled"))
      out.push({
        rule: "IAC-AZ-VM-VTPM",
        severity: "medium",
        title: "VM has no virtual TPM (Trusted Launch measured boot)",
        fix: "set vtpm_enabled = true",
        resource: vm.address,
        path: "vtpm_enabled",
      });
    if (
      cmk &&
      unset(vm.root, "os_disk[0].disk_encryption_set_id") &&
      unset(vm.root, "os_disk[0].secure_vm_disk_encryption_set_id")
    )
      out.push(noCmk(vm, "os_disk[0].disk_encryption_set_id", "OS disk"));
  }
  if (cmk)
    for (const d of ofType(plan, "azurerm_managed_disk"))
      if (unset(d.root, "disk_encryption_set_id") && unset(d.root, "secure_vm_disk_encryption_set_id"))
        out.push(noCmk(d, "disk_encryption_set_id", "managed disk"));
  return out;
}

/**
 * Whether the account's firewall denies by default: its network_rules block, or a separate
 * azurerm_storage_account_network_rules. An unset block is computed (unknown) and means Allow;
 * a configured one whose value is unknown cannot be told, so it counts as Deny.
 */
function denyByDefault(sa: PlanResource, separate: PlanResource[]): boolean {
  const action = read(sa.root, "network_rules[0].default_action");
  if (action.state === "known") return action.value === "Deny";
  if (action.state === "unknown" && sa.expressions?.network_rules !== undefined) return true;
  const ids = knownStrings(sa, "id");
  return separate.some(
    (n) => pointsAt(n, "storage_account_id", sa, ids) && str(n.root, "default_action") !== "Allow",
  );
}

function storage(plan: Plan, cmk: boolean): IacIssue[] {
  const out: IacIssue[] = [];
  const accountKeys = ofType(plan, "azurerm_storage_account_customer_managed_key");
  const networkRules = ofType(plan, "azurerm_storage_account_network_rules");
  for (const sa of ofType(plan, "azurerm_storage_account")) {
    const httpsAttr =
      read(sa.root, "https_traffic_only_enabled").state !== "absent"
        ? "https_traffic_only_enabled"
        : "enable_https_traffic_only";
    if (bool(sa.root, httpsAttr) === false)
      out.push({
        rule: "IAC-AZ-STORAGE-HTTPS",
        severity: "high",
        title: "storage account accepts plain HTTP",
        fix: `set ${httpsAttr} = true`,
        resource: sa.address,
        path: httpsAttr,
      });
    const tls = str(sa.root, "min_tls_version");
    if (tls !== undefined && tls !== "TLS1_2" && tls !== "TLS1_3")
      out.push({
        rule: "IAC-AZ-STORAGE-TLS",
        severity: "medium",
        title: `storage account accepts ${tls}`,
        fix: 'set min_tls_version = "TLS1_2"',
        resource: sa.address,
        path: "min_tls_version",
      });
    if (offOrUnset(sa.root, "infrastructure_encryption_enabled"))
      out.push({
        rule: "IAC-AZ-STORAGE-INFRA-ENCRYPTION",
        severity: "low",
        title: "storage account has no infrastructure (double) encryption",
        fix: "set infrastructure_encryption_enabled = true (only at creation)",
        resource: sa.address,
        path: "infrastructure_encryption_enabled",
      });
    if (bool(sa.root, "allow_nested_items_to_be_public") === true)
      out.push({
        rule: "IAC-AZ-STORAGE-PUBLIC-BLOB",
        severity: "high",
        title: "containers in this storage account may be made public",
        fix: "set allow_nested_items_to_be_public = false",
        resource: sa.address,
        path: "allow_nested_items_to_be_public",
      });
    if (bool(sa.root, "public_network_access_enabled") === true && !denyByDefault(sa, networkRules))
      out.push({
        rule: "IAC-AZ-STORAGE-PUBLIC-NETWORK",
        severity: "medium",
        title: "storage account is reachable from any network",
        fix: 'set public_network_access_enabled = false (private endpoint), or network_rules { default_action = "Deny" } with allowed ranges',
        resource: sa.address,
        path: "public_network_access_enabled",
      });
    if (cmk && unset(sa.root, "customer_managed_key")) {
      const ids = knownStrings(sa, "id", "name");
      if (!accountKeys.some((k) => pointsAt(k, "storage_account_id", sa, ids)))
        out.push(noCmk(sa, "customer_managed_key", "storage account"));
    }
  }
  for (const c of ofType(plan, "azurerm_storage_container")) {
    const access = str(c.root, "container_access_type");
    if (access === "blob" || access === "container")
      out.push({
        rule: "IAC-AZ-CONTAINER-PUBLIC",
        severity: "high",
        title: `container allows anonymous read (${access})`,
        fix: 'set container_access_type = "private"',
        resource: c.address,
        path: "container_access_type",
      });
  }
  return out;
}

function dbPublic(r: PlanResource): IacIssue[] {
  const v = read(r.root, "public_network_access_enabled");
  // azurerm_postgresql_server/_mysql_server/_mssql_server default to true when unset.
  if (!(v.state === "known" ? v.value === true : v.state === "absent")) return [];
  return [
    {
      rule: "IAC-AZ-DB-PUBLIC",
      severity: "high",
      title: "database server is reachable over its public endpoint",
      fix: "set public_network_access_enabled = false and use a private endpoint or VNet integration",
      resource: r.address,
      path: "public_network_access_enabled",
    },
  ];
}

function dbTls(r: PlanResource, path: string, title: string, fix: string): IacIssue {
  return { rule: "IAC-AZ-DB-TLS", severity: "high", title, fix, resource: r.address, path };
}

function databases(plan: Plan, cmk: boolean): IacIssue[] {
  const out: IacIssue[] = [];
  const tde = ofType(plan, "azurerm_mssql_server_transparent_data_encryption");
  for (const s of ofType(plan, "azurerm_mssql_server")) {
    out.push(...dbPublic(s));
    const tls = str(s.root, "minimum_tls_version");
    if (tls !== undefined && tls !== "1.2" && tls !== "1.3")
      out.push(
        dbTls(s, "minimum_tls_version", `SQL server accepts TLS ${tls}`, 'set minimum_tls_version = "1.2"'),
      );
    if (cmk && unset(s.root, "transparent_data_encryption_key_vault_key_id")) {
      const ids = knownStrings(s, "id");
      const viaTde = tde.some((t) => pointsAt(t, "server_id", s, ids) && !unset(t.root, "key_vault_key_id"));
      if (!viaTde) out.push(noCmk(s, "transparent_data_encryption_key_vault_key_id", "SQL server TDE"));
    }
  }
  for (const s of ofType(plan, "azurerm_postgresql_flexible_server", "azurerm_mysql_flexible_server")) {
    // Flexible servers in a delegated subnet have no public endpoint whatever the flag says.
    if (read(s.root, "delegated_subnet_id").state !== "known") out.push(...dbPublic(s));
    if (cmk && unset(s.root, "customer_managed_key[0].key_vault_key_id"))
      out.push(noCmk(s, "customer_managed_key[0].key_vault_key_id", "database server"));
  }
  for (const c of ofType(
    plan,
    "azurerm_postgresql_flexible_server_configuration",
    "azurerm_mysql_flexible_server_configuration",
  )) {
    if (str(c.root, "name") === "require_secure_transport" && str(c.root, "value")?.toLowerCase() === "off")
      out.push(
        dbTls(
          c,
          "value",
          "server accepts unencrypted connections (require_secure_transport = off)",
          'set value = "on"',
        ),
      );
  }
  for (const s of ofType(plan, "azurerm_postgresql_server", "azurerm_mysql_server")) {
    out.push(...dbPublic(s));
    if (bool(s.root, "ssl_enforcement_enabled") === false)
      out.push(
        dbTls(
          s,
          "ssl_enforcement_enabled",
          "server accepts unencrypted connections",
          "set ssl_enforcement_enabled = true",
        ),
      );
    const min = str(s.root, "ssl_minimal_tls_version_enforced");
    if (min !== undefined && min !== "TLS1_2" && min !== "TLS1_3")
      out.push(
        dbTls(
          s,
          "ssl_minimal_tls_version_enforced",
          `server accepts ${min}`,
          'set ssl_minimal_tls_version_enforced = "TLS1_2"',
        ),
      );
  }
  return out;
}

function keyVaults(plan: Plan): IacIssue[] {
  const out: IacIssue[] = [];
  const diagnostics = ofType(plan, "azurerm_monitor_diagnostic_setting");
  for (const kv of ofType(plan, "azurerm_key_vault")) {
    if (offOrUnset(kv.root, "purge_protection_enabled"))
      out.push({
        rule: "IAC-AZ-KV-PURGE-PROTECTION",
        severity: "high",
        title:
          "Key Vault purge protection is off: deleted keys and secrets can be purged before retention ends",
        fix: "set purge_protection_enabled = true",
        resource: kv.address,
        path: "purge_protection_enabled",
      });
    const days = read(kv.root, "soft_delete_retention_days");
    if (days.state === "known" && typeof days.value === "number" && days.value < 90)
      out.push({
        rule: "IAC-AZ-KV-SOFT-DELETE-RETENTION",
        severity: "low",
        title: `deleted vault objects are kept only ${days.value} days`,
        fix: "set soft_delete_retention_days = 90",
        resource: kv.address,
        path: "soft_delete_retention_days",
      });
    const ids = knownStrings(kv, "id");
    if (!diagnostics.some((d) => pointsAt(d, "target_resource_id", kv, ids)))
      out.push({
        rule: "IAC-AZ-KV-NO-DIAGNOSTICS",
        severity: "medium",
        title: "no diagnostic setting sends this Key Vault's audit logs anywhere (in this plan)",
        fix: 'add azurerm_monitor_diagnostic_setting with target_resource_id = the vault and enabled_log { category_group = "audit" }',
        resource: kv.address,
      });
  }
  return out;
}

/** Where an Azure resource lives: its location attribute. */
export function azurePlacement(r: PlanResource): Placement | undefined {
  const v = read(r.root, "location");
  return v.state === "known" && typeof v.value === "string" && v.value !== ""
    ? { region: v.value, path: "location" }
    : undefined;
}

/** All Azure findings for the plan. */
export function checkAzure(ctx: CheckContext): IacIssue[] {
  const cmk = ctx.options.requireCmk === true;
  return [
    ...network(ctx.plan),
    ...compute(ctx.plan, cmk),
    ...storage(ctx.plan, cmk),
    ...databases(ctx.plan, cmk),
    ...keyVaults(ctx.plan),
  ];
}
