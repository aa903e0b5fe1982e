// IAM policies as `gcloud projects get-iam-policy --format=json` prints them, and custom role
// definitions as `gcloud iam roles describe --format=json` prints them. Unknown fields are kept so
// a proposed policy round-trips to `gcloud projects set-iam-policy`.
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { Invalid } from "../../../platform/errors.ts";
import type { RoleDefinition } from "./catalogue.ts";

export const conditionSchema = z.looseObject({
  expression: z.string().min(1),
  title: z.string().optional(),
  description: z.string().optional(),
});

export const bindingSchema = z.looseObject({
  role: z.string().min(1),
  members: z.array(z.string().min(1)).default([]),
  condition: conditionSchema.optional(),
});

export const iamPolicySchema = z.looseObject({
  bindings: z.array(bindingSchema).default([]),
  etag: z.string().optional(),
  version: z.number().int().optional(),
});

export type IamCondition = z.infer<typeof conditionSchema>;
export type IamBinding = z.infer<typeof bindingSchema>;
export type IamPolicy = z.infer<typeof iamPolicySchema>;

export const customRoleSchema = z.looseObject({
  name: z
    .string()
    .regex(
      /^(projects|organizations)\/[^/]+\/roles\/[A-Za-z0-9_.]+$/,
      "expected projects/P/roles/R or organizations/O/roles/R",
    ),
  title: z.string().optional(),
  includedPermissions: z.array(z.string()).default([]),
  stage: z.string().optional(),
  deleted: z.boolean().optional(),
});

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Invalid("not JSON", where);
  }
}

function issues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

/** Validates an IAM policy object. */
export function parseIamPolicy(json: unknown, where = "policy"): IamPolicy {
  const r = iamPolicySchema.safeParse(json);
  if (!r.success) throw new Invalid(issues(r.error), where);
  return r.data;
}

/** Validates custom role definitions (one object or an array of them). */
export function parseCustomRoles(json: unknown, where = "custom roles"): RoleDefinition[] {
  const list = Array.isArray(json) ? json : [json];
  return list.map((item, i) => {
    const r = customRoleSchema.safeParse(item);
    if (!r.success) throw new Invalid(issues(r.error), Array.isArray(json) ? `${where}[${i}]` : where);
    return {
      name: r.data.name,
      title: r.data.title ?? r.data.name,
      stage: r.data.deleted === true ? "DELETED" : (r.data.stage ?? "GA"),
      permissions: new Set(r.data.includedPermissions),
    };
  });
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new Invalid(`cannot read: ${(err as Error).message}`, file);
  }
}

/** Reads and validates a policy file. */
export async function readIamPolicy(file: string): Promise<IamPolicy> {
  return parseIamPolicy(parseJson(await readText(file), file), file);
}

/** Reads custom role definitions from a file. */
export async function readCustomRoles(file: string): Promise<RoleDefinition[]> {
  return parseCustomRoles(parseJson(await readText(file), file), file);
}

/** Canonical key of a binding's condition ("" when unconditional). */
export function conditionKey(c: IamCondition | undefined): string {
  if (!c) return "";
  return JSON.stringify([c.expression, c.title ?? "", c.description ?? ""]);
}

/** The IAM member an audit log principal email stands for. */
export function memberOfEmail(email: string): string {
  return /\.gserviceaccount\.com$/i.test(email) ? `serviceAccount:${email}` : `user:${email}`;
}
