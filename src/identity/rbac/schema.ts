// RBAC as code: `rbac:` in rampart.yaml. Roles grant action patterns (optionally on resources) and
// may refuse some (refusals win); bindings give roles to users, groups and service accounts.
import { z } from "zod";
import { globProblem } from "../policy/index.ts";
import { BUILT_IN_ROLES } from "./builtin.ts";

const list = <T extends z.ZodType>(item: T) =>
  z.array(item).min(1, { error: "an empty list grants nothing: list a value or remove the key" });
const text = z.string().min(1, { error: "must not be empty" });

/** `secrets:read`, `gateway:*:write`, `gateway:**`: `*` is one segment, `**` any number. */
export const actionPatternSchema = z
  .string()
  .regex(/^(\*\*|\*|[a-z0-9][a-z0-9_-]*)(:(\*\*|\*|[a-z0-9][a-z0-9_-]*))*$/, {
    error: "expected an action such as secrets:read, with * for one segment or ** for any",
  });

/** A resource glob over `/`-separated names (`routes/team-a/**`). */
const resourcePatternSchema = z.string().superRefine((v, ctx) => {
  const problem = v === "" ? "must not be empty" : globProblem(v, "/");
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

export const permissionSchema = z.union([
  actionPatternSchema,
  z.strictObject({ action: actionPatternSchema, resources: list(resourcePatternSchema) }),
]);

export const roleNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]*$/, { error: "expected a role name such as db-reader (lowercase, digits, -)" });

export const roleSchema = z.strictObject({
  description: text.optional(),
  permissions: list(permissionSchema),
  /** Actions this role never grants, whatever `permissions` say. */
  refuse: list(actionPatternSchema).optional(),
});

export const bindingSchema = z
  .strictObject({
    /** Names the binding for the API; derived from its content when absent. */
    id: text.optional(),
    role: roleNameSchema,
    /** Subjects (`<provider>:<sub>`) or verified emails. */
    users: list(text).optional(),
    groups: list(text).optional(),
    serviceAccounts: list(text).optional(),
  })
  .refine((b) => b.users !== undefined || b.groups !== undefined || b.serviceAccounts !== undefined, {
    error: "bind the role to users, groups or serviceAccounts",
  });

export const rbacConfigSchema = z
  .strictObject({
    roles: z.record(roleNameSchema, roleSchema).default(() => ({})),
    bindings: z.array(bindingSchema).default(() => []),
  })
  .superRefine((c, ctx) => {
    for (const name of Object.keys(c.roles))
      if (Object.hasOwn(BUILT_IN_ROLES, name))
        ctx.addIssue({ code: "custom", path: ["roles", name], message: `${name} is a built-in role` });
    c.bindings.forEach((b, i) => {
      if (!Object.hasOwn(BUILT_IN_ROLES, b.role) && !Object.hasOwn(c.roles, b.role))
        ctx.addIssue({ code: "custom", path: ["bindings", i, "role"], message: `no role named ${b.role}` });
    });
  });

export type Permission = z.output<typeof permissionSchema>;
export type Role = z.output<typeof roleSchema>;
export type Binding = z.output<typeof bindingSchema>;
export type RbacConfig = z.output<typeof rbacConfigSchema>;
