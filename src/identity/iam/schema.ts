// rampart.yaml's `iam:` section: least-privilege analysis on a schedule in the control plane. Off
// by default; each platform is analysed only when its section is present.
import { z } from "zod";

// References resolve to strings, so a string of digits counts as a number: `everyHours: ${env:H}`.
const digitsToNumber = (value: unknown) =>
  typeof value === "string" && /^[0-9]{1,15}$/.test(value) ? Number(value) : value;
const integer = (min: number, max: number) =>
  z.preprocess(digitsToNumber, z.number().int().min(min).max(max));

const path = z.string().min(1).max(4096);
/** One path or a list of them; a list in the parsed config. */
const paths = z
  .union([path, z.array(path).min(1)])
  .transform((v) => (Array.isArray(v) ? v : [v]) as string[]);

export const iamAwsConfigSchema = z.strictObject({
  /** Policy JSON files, directories of them, or `aws iam get-account-authorization-details` output. */
  policies: paths,
  /** CloudTrail files or directories (JSON, .json.gz, JSON lines). */
  logs: paths,
});

export const iamGcpConfigSchema = z.strictObject({
  /** `gcloud projects get-iam-policy PROJECT --format=json` output. */
  policy: path,
  /** Cloud Audit Log files or directories (JSON lines or arrays, .gz). */
  logs: paths,
  /** Custom roles the policy binds (`gcloud iam roles describe --format=json`). */
  customRoles: z.array(path).default(() => []),
  /** Parent of proposed custom roles. */
  customRoleParent: z
    .string()
    .regex(/^(projects|organizations)\/[a-z0-9][a-z0-9-]{2,61}$/, {
      error: "expected projects/PROJECT_ID or organizations/ORG_ID",
    })
    .optional(),
  /** Predefined role catalogue; the bundled one by default. */
  catalogue: path.optional(),
});

export const iamK8sConfigSchema = z.strictObject({
  /** The current Roles, ClusterRoles and bindings (YAML/JSON files or directories). */
  rbac: paths,
  /** API-server audit logs (JSON lines, .gz, or directories). */
  audit: paths,
});

/** rampart.yaml's `iam:` section. Paths are relative to the config file's directory. */
export const iamConfigSchema = z
  .strictObject({
    /** Hours between scheduled analyses; 0 turns the schedule off. */
    everyHours: integer(0, 8760).default(0),
    /** How far back, by event time, each run reads the logs. */
    windowDays: integer(1, 3650).default(90),
    aws: iamAwsConfigSchema.optional(),
    gcp: iamGcpConfigSchema.optional(),
    k8s: iamK8sConfigSchema.optional(),
    /** Where each run writes its proposals and rollbacks (never applied); default <dataDir>/iam/proposals. */
    outDir: path.optional(),
  })
  .superRefine((c, ctx) => {
    // A schedule with nothing to analyse is a mistake the operator would not notice otherwise.
    if (c.everyHours > 0 && !c.aws && !c.gcp && !c.k8s)
      ctx.addIssue({
        code: "custom",
        path: ["everyHours"],
        message: "a schedule needs at least one platform: add aws, gcp or k8s (or set everyHours: 0)",
      });
  });

export type IamConfig = z.output<typeof iamConfigSchema>;
export type IamAwsConfig = z.output<typeof iamAwsConfigSchema>;
export type IamGcpConfig = z.output<typeof iamGcpConfigSchema>;
export type IamK8sConfig = z.output<typeof iamK8sConfigSchema>;
