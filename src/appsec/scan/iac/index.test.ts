import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { manualClock } from "../../../platform/clock.ts";
import { Invalid } from "../../../platform/errors.ts";
import { type IacScanOptions, iacChecks, residencyPresets, scanPlan } from "./index.ts";

const fixture = (name: string): string =>
  readFileSync(new URL(`../../../../test/fixtures/iac/${name}`, import.meta.url), "utf8");

const scan = (name: string, o: IacScanOptions = {}) =>
  scanPlan(fixture(name), { ...o, target: `plans/${name}`, clock: manualClock("2026-11-20T10:00:00Z") });

const rules = (name: string, o: IacScanOptions = {}) => new Set(scan(name, o).findings.map((f) => f.rule));

const strict: IacScanOptions = { requireCmk: true, residency: "india" };

/** A minimal plan around some resource changes, as `terraform show -json` writes it. */
function planWith(
  changes: {
    type: string;
    name: string;
    after: Record<string, unknown>;
    unknown?: Record<string, unknown>;
  }[],
  region = "ap-south-1",
): string {
  return JSON.stringify({
    format_version: "1.2",
    terraform_version: "1.9.8",
    planned_values: { root_module: {} },
    resource_changes: changes.map((c) => ({
      address: `${c.type}.${c.name}`,
      mode: "managed",
      type: c.type,
      name: c.name,
      provider_name: "registry.terraform.io/hashicorp/x",
      change: { actions: ["create"], before: null, after: c.after, after_unknown: c.unknown ?? {} },
    })),
    configuration: {
      provider_config: { aws: { name: "aws", expressions: { region: { constant_value: region } } } },
    },
  });
}

describe("scan iac: every check fires on the insecure plans and none on the hardened ones", () => {
  const planLevel = new Set(["IAC-AWS-NO-CLOUDTRAIL"]); // needs a plan without a trail: see modules-unknown
  for (const [provider, file] of [
    ["aws", "aws"],
    ["google", "gcp"],
    ["azurerm", "azure"],
  ] as const) {
    it(`${file}: insecure plan triggers each ${provider} check`, () => {
      const found = rules(`${file}-insecure.json`, strict);
      const expected = [...iacChecks[provider], ...iacChecks.any]
        .map((c) => c.rule)
        .filter((r) => !planLevel.has(r));
      expect([...new Set(expected)].filter((r) => !found.has(r))).toEqual([]);
    });
    it(`${file}: hardened plan has no findings, even with --require-cmk --residency india`, () => {
      expect(scan(`${file}-hardened.json`, strict).findings).toEqual([]);
    });
  }

  it("SSH and RDP from the world are critical; other ports high; 80/443 are fine", () => {
    const r = scan("gcp-insecure.json");
    const fw = r.findings.filter((f) => f.location.resource === "google_compute_firewall.admin");
    expect(fw.map((f) => [f.rule, f.severity])).toEqual([
      ["IAC-NET-OPEN-SSH", "critical"],
      ["IAC-NET-OPEN-RDP", "critical"],
      ["IAC-NET-WORLD-OPEN", "high"],
    ]);
    const all = scanPlan(
      planWith([
        {
          type: "aws_security_group_rule",
          name: "any",
          after: { type: "ingress", protocol: "-1", from_port: 0, to_port: 0, cidr_blocks: ["0.0.0.0/0"] },
        },
        {
          type: "aws_vpc_security_group_ingress_rule",
          name: "https",
          after: { ip_protocol: "tcp", from_port: 443, to_port: 443, cidr_ipv6: "::/0" },
        },
      ]),
      { target: "p.json" },
    );
    expect(all.findings.map((f) => `${f.location.resource} ${f.rule}`)).toEqual([
      "aws_security_group_rule.any IAC-NET-OPEN-SSH",
      "aws_security_group_rule.any IAC-NET-OPEN-RDP",
      "aws_security_group_rule.any IAC-NET-WORLD-OPEN",
      "plan IAC-AWS-NO-CLOUDTRAIL",
    ]);
  });

  it("Azure rules read destination_port_ranges and the Internet/* service tags", () => {
    const r = scanPlan(
      planWith([
        {
          type: "azurerm_network_security_rule",
          name: "mgmt",
          after: {
            direction: "Inbound",
            access: "Allow",
            protocol: "*",
            source_address_prefix: "Internet",
            destination_port_ranges: ["443", "3380-3390"],
          },
        },
      ]),
      { target: "p.json" },
    );
    expect(r.findings.map((f) => f.rule)).toEqual(["IAC-NET-OPEN-RDP", "IAC-NET-WORLD-OPEN"]);
  });

  it("customer-managed keys are demanded only with --require-cmk", () => {
    expect(rules("gcp-insecure.json").has("IAC-GCP-NO-CMK")).toBe(false);
    expect(rules("azure-insecure.json").has("IAC-AZ-NO-CMK")).toBe(false);
    expect(rules("aws-insecure.json").has("IAC-AWS-NO-CMK")).toBe(false);
    expect(rules("modules-unknown.json", { requireCmk: true }).has("IAC-AWS-NO-CMK")).toBe(true); // AES256 buckets
  });
});

describe("scan iac: findings", () => {
  it("are located by file, resource address and attribute path, with fix, references and a stable fingerprint", () => {
    const a = scan("aws-insecure.json");
    const ssh = a.findings.find((f) => f.rule === "IAC-NET-OPEN-SSH");
    expect(ssh).toMatchObject({
      severity: "critical",
      location: {
        file: "plans/aws-insecure.json",
        resource: "aws_security_group.web",
        path: "ingress[0].cidr_blocks",
      },
      references: ["CIS-AWS-5.2", "CIS-AWS-5.3"],
    });
    expect(ssh?.fix).toMatch(/80\/443/);
    expect(ssh?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(scan("aws-insecure.json").findings.map((f) => f.fingerprint)).toEqual(
      a.findings.map((f) => f.fingerprint),
    );
    expect(new Set(a.findings.map((f) => f.fingerprint)).size).toBe(a.findings.length);
    expect(a).toMatchObject({
      kind: "iac",
      target: "plans/aws-insecure.json",
      startedAt: "2026-11-20T10:00:00.000Z",
    });
    expect(a.stats.resources).toBe(14);
  });

  it("a plan without CloudTrail gets one plan-level finding that says 'not in this plan'", () => {
    const f = scan("modules-unknown.json").findings.filter((x) => x.rule === "IAC-AWS-NO-CLOUDTRAIL");
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ severity: "medium", location: { resource: "plan" } });
    expect(f[0]?.title).toMatch(/in this plan/);
  });
});

describe("scan iac: modules, unknown values, actions", () => {
  const r = scan("modules-unknown.json");
  it("values known only after apply are not reported as missing", () => {
    // encrypted, metadata_options, ingress and storage_encrypted are all unknown in this plan
    expect(r.findings.map((f) => f.rule)).toEqual(["IAC-AWS-NO-CLOUDTRAIL"]);
  });
  it("helper resources in a module link to their bucket by a module-relative reference and count index", () => {
    expect(r.findings.some((f) => f.rule.startsWith("IAC-AWS-S3"))).toBe(false);
    expect(r.stats.resources).toBe(10); // the deleted group and the data source are not judged
  });
  it("resources in nested modules keep their full address and the root provider's region", () => {
    const eu = scan("modules-unknown.json", { residency: "eu" }).findings.filter(
      (f) => f.rule === "IAC-RESIDENCY",
    );
    expect(eu.map((f) => f.location.resource)).toContain(
      "module.storage.module.archive.aws_ebs_volume.archive",
    );
    expect(eu.map((f) => f.location.resource)).toContain("module.storage.aws_s3_bucket.this[1]");
    expect(eu.find((f) => f.location.resource === "module.compute.aws_instance.worker")?.location.path).toBe(
      "provider.region",
    );
  });
});

describe("scan iac: data residency", () => {
  it("india preset: in-country plans pass, others are high findings naming the region", () => {
    for (const p of ["aws", "gcp", "azure"])
      expect(rules(`${p}-hardened.json`, { residency: "india" }).has("IAC-RESIDENCY")).toBe(false);
    const us = scan("gcp-insecure.json", { residency: "india" }).findings.filter(
      (f) => f.rule === "IAC-RESIDENCY",
    );
    expect(us.map((f) => `${f.location.resource}:${f.location.path}`)).toEqual([
      "google_compute_instance.app:zone",
      "google_compute_disk.data:zone",
      "google_sql_database_instance.orders:region",
      "google_storage_bucket.public:location",
      "google_kms_key_ring.app:location",
    ]);
    expect(us.every((f) => f.severity === "high")).toBe(true);
    expect(us[0]?.title).toMatch(/us-central1/);
  });
  it("eu preset rejects Indian regions and excludes London and Zurich", () => {
    expect(scan("azure-hardened.json", { residency: "eu" }).findings.length).toBeGreaterThan(0);
    expect(residencyPresets.eu.aws).not.toContain("eu-west-2");
    expect(residencyPresets.eu.aws).not.toContain("eu-central-2");
    expect(residencyPresets.eu.google).not.toContain("europe-west2");
    expect(residencyPresets.eu.azurerm).not.toContain("uksouth");
  });
  it("--regions alone or added to a preset; names compare case- and space-insensitively", () => {
    expect(rules("aws-insecure.json", { regions: ["us-east-1"] }).has("IAC-RESIDENCY")).toBe(false);
    expect(
      rules("gcp-insecure.json", { regions: ["US-CENTRAL1", "us", "global"] }).has("IAC-RESIDENCY"),
    ).toBe(false);
    expect(rules("azure-insecure.json", { residency: "eu", regions: ["East US"] }).has("IAC-RESIDENCY")).toBe(
      false,
    );
    expect(rules("aws-insecure.json", {}).has("IAC-RESIDENCY")).toBe(false); // not asked for: not checked
  });
  it("AWS resources take the provider's region, resolved through a root variable", () => {
    const eu = scan("aws-hardened.json", { residency: "eu" }).findings;
    expect(eu.find((f) => f.location.resource === "aws_db_instance.orders")?.title).toMatch(/ap-south-1/);
    // IAM is global: no region to keep in-country
    expect(eu.some((f) => f.location.resource === "aws_iam_role.app")).toBe(false);
  });
});

describe("scan iac: input errors", () => {
  const fails = (text: string) => {
    try {
      scanPlan(text, { target: "plan.json" });
    } catch (e) {
      expect(e).toBeInstanceOf(Invalid);
      return (e as Error).message;
    }
    throw new Error("expected an error");
  };
  it("malformed JSON names file:line:col", () => {
    expect(fails('{\n  "format_version": "1.2",\n  oops\n}')).toMatch(/^plan\.json:3:3: not valid JSON/);
  });
  it("a state file, another JSON document or a future format are refused with what to run", () => {
    expect(fails(JSON.stringify({ format_version: "1.0", terraform_version: "1.9.8", values: {} }))).toMatch(
      /state file, not a plan.*terraform show -json/,
    );
    expect(fails("[1,2]")).toMatch(/expected a JSON object/);
    expect(fails(JSON.stringify({ name: "package" }))).toMatch(/not a Terraform plan \(format_version/);
    expect(fails(JSON.stringify({ format_version: "2.0", resource_changes: [] }))).toMatch(
      /unsupported plan format_version '2.0'/,
    );
  });
  it("module trees nested past the limit are refused, naming the path, not overflowing the stack", () => {
    const nested = (depth: number, key: "child_modules" | "module_calls") => {
      let mod: Record<string, unknown> = {};
      for (let d = 0; d < depth; d++)
        mod = key === "child_modules" ? { child_modules: [mod] } : { module_calls: { m: { module: mod } } };
      return mod;
    };
    const plan = (root: unknown, configuration?: unknown) =>
      JSON.stringify({
        format_version: "1.2",
        planned_values: { root_module: root },
        ...(configuration ? { configuration: { root_module: configuration } } : {}),
      });
    expect(scanPlan(plan(nested(64, "child_modules")), { target: "plan.json" }).findings).toEqual([]);
    expect(fails(plan(nested(65, "child_modules")))).toMatch(
      /^plan\.json: not a Terraform plan \(planned_values\.root_module\.child_modules\[0\]\.child_modules\[0\]\.….*deeper than 64 levels\)$/,
    );
    expect(fails(plan(nested(2000, "child_modules")))).toMatch(/deeper than 64 levels/);
    expect(fails(plan({}, nested(1000, "module_calls")))).toMatch(
      /configuration\.root_module\.module_calls\.m\.module\.….*deeper than 64 levels/,
    );
  });
  it("plan keys named like Object.prototype members are plain keys", () => {
    const r = scanPlan(
      JSON.stringify({
        format_version: "1.2",
        variables: { __proto__: { value: { region: "x" } }, toString: { value: "y" } },
        resource_changes: [],
        configuration: { provider_config: { __proto__: { expressions: {} } } },
      }),
      { target: "plan.json" },
    );
    expect(r.findings).toEqual([]);
  });
  it("an unknown residency preset is refused, not read off Object.prototype", () => {
    expect(() =>
      scanPlan(JSON.stringify({ format_version: "1.2", resource_changes: [] }), {
        target: "plan.json",
        residency: "toString" as IacScanOptions["residency"],
      }),
    ).toThrow(/unknown residency preset 'toString'/);
  });
  it("an empty plan is valid and has no findings", () => {
    const r = scanPlan(JSON.stringify({ format_version: "1.2", planned_values: { root_module: {} } }), {
      target: "p",
    });
    expect(r.findings).toEqual([]);
  });
});
