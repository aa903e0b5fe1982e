// The `secrets:` section of rampart.yaml: where the root key comes from, how often key-encryption
// keys rotate, who may do what on which paths, rotation schedules and Kubernetes namespaces.
import { z } from "zod";
import { capabilities } from "./types.ts";

const nonEmpty = () => z.string().trim().min(1);

/** The root of the key hierarchy. Default: a generated key file (0600) in the data directory. */
export const rootKeySchema = z.discriminatedUnion("provider", [
  z.strictObject({
    provider: z.literal("file"),
    /** Default <dataDir>/keys/secrets-root.key, created on first start. */
    file: nonEmpty().optional(),
  }),
  z.strictObject({
    provider: z.literal("env"),
    /** Names the variable that holds 32 random bytes, base64. */
    variable: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name")
      .default("RAMPART_SECRETS_ROOT_KEY"),
  }),
  z.strictObject({
    provider: z.literal("shamir"),
    /** Shares handed out by `rampart secrets init`, and how many unseal the store. */
    shares: z.number().int().min(2).max(255).default(5),
    threshold: z.number().int().min(2).max(255).default(3),
  }),
  z.strictObject({
    provider: z.literal("aws-kms"),
    keyId: nonEmpty(),
    region: nonEmpty(),
    /** Another endpoint than AWS's (a VPC endpoint, a local KMS-compatible server). */
    endpoint: z.url().optional(),
  }),
  z.strictObject({
    provider: z.literal("gcp-kms"),
    /** projects/P/locations/L/keyRings/R/cryptoKeys/K */
    keyName: z.string().regex(/^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/, {
      error: "expected projects/P/locations/L/keyRings/R/cryptoKeys/K",
    }),
    apiEndpoint: nonEmpty().optional(),
  }),
  z.strictObject({
    provider: z.literal("azure-key-vault"),
    vaultUrl: z.url(),
    keyName: nonEmpty(),
  }),
]);

/** Allow (or deny) capabilities on path globs to users, groups, roles and service accounts. */
export const secretsPolicySchema = z
  .strictObject({
    name: nonEmpty(),
    effect: z.enum(["allow", "deny"]).default("allow"),
    /** Globs over secret paths: `*` is one segment, `**` any number (`/prod/api/*`, `/dev/**`). */
    paths: z.array(nonEmpty()).min(1),
    capabilities: z.array(z.enum(capabilities)).min(1),
    /** Subjects as the identity layer names them (`corp:alice` for a user of provider corp). */
    users: z.array(nonEmpty()).default(() => []),
    groups: z.array(nonEmpty()).default(() => []),
    roles: z.array(nonEmpty()).default(() => []),
    serviceAccounts: z.array(nonEmpty()).default(() => []),
  })
  .refine((p) => p.users.length + p.groups.length + p.roles.length + p.serviceAccounts.length > 0, {
    error: "a secrets policy must name at least one user, group, role or service account",
  });

/** A rotator's connection: how Rampart reaches the system whose credential it renews. */
export const rotationTargetSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("postgres"),
    /** An admin connection (`${secret:…}` or `${env:…}` reference), allowed to ALTER ROLE. */
    adminUrl: nonEmpty(),
    /** The login role consumers use; two-phase rotation alternates between `<role>_a` and `<role>_b` when `twoPhase`. */
    role: nonEmpty(),
  }),
  z.strictObject({
    kind: z.literal("mysql"),
    adminUrl: nonEmpty(),
    user: nonEmpty(),
    host: z.string().default("%"),
  }),
  z.strictObject({
    kind: z.literal("redis"),
    adminUrl: nonEmpty(),
    user: nonEmpty(),
  }),
  z.strictObject({
    kind: z.literal("random"),
    /** Which key of the secret's map holds the token. */
    key: nonEmpty().default("value"),
    bytes: z.number().int().min(16).max(256).default(32),
    prefix: z.string().max(32).default(""),
  }),
]);

export const rotationScheduleSchema = z.strictObject({
  path: nonEmpty(),
  /** Days between rotations. */
  everyDays: z.number().positive().max(3650),
  target: rotationTargetSchema,
  /** How long the previous credential keeps working after a rotation (two-phase). */
  graceMinutes: z.number().int().min(0).max(10_080).default(60),
});

/** A Kubernetes namespace whose External Secrets Operator may read these path globs. */
export const kubernetesNamespaceSchema = z.strictObject({
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "expected a Kubernetes namespace name"),
  paths: z.array(nonEmpty()).min(1),
});

export const secretsConfigSchema = z.strictObject({
  root: rootKeySchema.default({ provider: "file" }),
  /** A new key-encryption key this often; older data keys are re-wrapped in the background. */
  kekRotationDays: z.number().int().min(1).max(3650).default(90),
  /** Versions kept per secret unless its metadata says otherwise. */
  maxVersions: z.number().int().min(1).max(1000).default(10),
  policies: z.array(secretsPolicySchema).default(() => []),
  rotation: z.array(rotationScheduleSchema).default(() => []),
  kubernetes: z
    .strictObject({ namespaces: z.array(kubernetesNamespaceSchema).default(() => []) })
    .prefault({}),
});

export type RootKeyConfig = z.infer<typeof rootKeySchema>;
export type SecretsPolicy = z.infer<typeof secretsPolicySchema>;
export type RotationSchedule = z.infer<typeof rotationScheduleSchema>;
export type RotationTarget = z.infer<typeof rotationTargetSchema>;
export type SecretsConfig = z.infer<typeof secretsConfigSchema>;
