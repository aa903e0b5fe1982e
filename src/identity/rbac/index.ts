// Role-based access control for Rampart's own API and console, and roles for route policies:
// roles grant action patterns, bindings give roles to users, groups and service accounts.
export { BUILT_IN_ROLES } from "./builtin.ts";
export { createRbac, type Principal, type Rbac, type StoredBinding } from "./rbac.ts";
export {
  actionPatternSchema,
  type Binding,
  bindingSchema,
  type Permission,
  permissionSchema,
  type RbacConfig,
  rbacConfigSchema,
  type Role,
  roleNameSchema,
  roleSchema,
} from "./schema.ts";
