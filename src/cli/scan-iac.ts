// `rampart scan iac PLAN.json`: posture checks on a Terraform plan (`terraform show -json`) for
// AWS, Google Cloud and Azure, with customer-managed keys and data residency on demand.
import { readFile } from "node:fs/promises";
import { type Command, Option } from "commander";
import { type IacScanOptions, residencyPresets, scanPlan } from "../appsec/scan/iac/index.ts";
import { type CommonScanOptions, commonScanOptions, type ScanRunner } from "./scan.ts";

interface IacOptions extends CommonScanOptions {
  requireCmk?: boolean;
  regions?: string;
  residency?: keyof typeof residencyPresets;
}

/** `a, b,c` → `["a", "b", "c"]`; rejects an empty list. */
function regionList(v: string): string[] {
  const list = v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (list.length === 0) throw new Error(`--regions: expected a comma-separated list of regions; got '${v}'`);
  return list;
}

/** Adds `rampart scan iac` to the scan group. */
export function registerIacScan(scan: Command, run: ScanRunner): void {
  const cmd = scan
    .command("iac")
    .description(
      "check a Terraform plan (terraform show -json PLANFILE > plan.json) for AWS, GCP and Azure: open networks, Secure Boot/IMDSv2, encryption, database TLS and exposure, public buckets, key vaults, audit logging, regions",
    )
    .argument("<plan>", "plan JSON from `terraform show -json`, or - for stdin")
    .option("--require-cmk", "demand customer-managed keys (KMS, Cloud KMS, Key Vault disk encryption sets)")
    .option("--regions <list>", "allowed regions, comma-separated (ap-south-1,asia-south1,centralindia)")
    .addOption(
      new Option("--residency <preset>", "allowed regions preset (added to --regions)").choices(
        Object.keys(residencyPresets),
      ),
    );
  commonScanOptions(cmd);
  cmd.action(async (plan: string, o: IacOptions) => {
    await run(o, async () => {
      const options: IacScanOptions = {
        requireCmk: o.requireCmk === true,
        ...(o.regions !== undefined ? { regions: regionList(o.regions) } : {}),
        ...(o.residency ? { residency: o.residency } : {}),
      };
      const text = plan === "-" ? await readStdin() : await readPlan(plan);
      return scanPlan(text, { ...options, target: plan === "-" ? "stdin" : plan });
    });
  });
}

async function readPlan(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      `${path}: cannot read the plan (${code === "ENOENT" ? "no such file" : (code ?? "error")})`,
      { cause: err },
    );
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
