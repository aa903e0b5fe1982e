// `rampart iam`: least-privilege analysis from access logs, one subcommand per platform
// (aws, gcp, k8s). Each reads policies and logs, proposes minimised policies and writes them
// (with rollback files) only to local files: no cloud API is called.
import type { Command } from "commander";
import { registerAwsIam } from "./iam-aws.ts";
import { registerGcpIam } from "./iam-gcp.ts";
import { registerK8sIam } from "./iam-k8s.ts";

/** Registers the `iam` command group and its platforms. */
export function registerIamCommands(program: Command): void {
  const iam = program
    .command("iam")
    .description(
      "least privilege from evidence: minimise AWS IAM, GCP IAM and Kubernetes RBAC from access logs",
    );
  registerAwsIam(iam);
  registerGcpIam(iam);
  registerK8sIam(iam);
}
