// The RBAC registry: roles fixed when it is created (built-ins plus config), bindings that the API
// may add, remove or replace at run time. Deny by default: an unknown role or action grants nothing.
import { createHash } from "node:crypto";
import { Conflict, Invalid, NotFound } from "../../platform/errors.ts";
import { compileGlob, formatIssuePath, type SegmentsMatcher } from "../policy/index.ts";
import type { Identity } from "../types.ts";
import { BUILT_IN_ROLES } from "./builtin.ts";
import { type Binding, bindingSchema, type RbacConfig, type Role } from "./schema.ts";

/** A binding as stored: its id is always set. */
export type StoredBinding = Binding & { id: string };

/** Who a binding looks at: the identity before RBAC added its roles. */
export type Principal = Pick<Identity, "kind" | "subject" | "email" | "emailVerified" | "groups">;

export interface Rbac {
  /** Every role: built-ins, then the config's. */
  readonly roles: Readonly<Record<string, Role>>;
  /** Roles bound to an identity (directly, by email, by group or as a service account), sorted. */
  rolesOf(principal: Principal): string[];
  /** Whether any of `roles` grants `action` (on `resource`, when the permission is scoped). */
  can(roles: readonly string[], action: string, resource?: string): boolean;
  /** A check for one action (and resource) decided per role up front: a Set lookup per role after. */
  permissionCheck(action: string, resource?: string): (roles: readonly string[]) => boolean;
  bindings(): StoredBinding[];
  /** Validates and adds a binding; Invalid if malformed or its role is unknown, Conflict on a taken id. */
  addBinding(binding: unknown): StoredBinding;
  /** Removes a binding by id; NotFound if there is none. */
  removeBinding(id: string): void;
  /** Replaces every binding at once (loading from the store); nothing changes if one is invalid. */
  replaceBindings(bindings: readonly unknown[]): void;
}

interface CompiledRole {
  grants: { action: SegmentsMatcher; resources: SegmentsMatcher[] | undefined }[];
  refuses: SegmentsMatcher[];
}

function compileRole(role: Role): CompiledRole {
  return {
    grants: role.permissions.map((p) =>
      typeof p === "string"
        ? { action: compileGlob(p, ":"), resources: undefined }
        : { action: compileGlob(p.action, ":"), resources: p.resources.map((r) => compileGlob(r, "/")) },
    ),
    refuses: (role.refuse ?? []).map((r) => compileGlob(r, ":")),
  };
}

function grants(role: CompiledRole, action: string[], resource: string[] | undefined): boolean {
  if (role.refuses.some((m) => m(action))) return false;
  // A permission scoped to resources grants nothing when no resource is named.
  return role.grants.some(
    (g) =>
      g.action(action) &&
      (g.resources === undefined || (resource !== undefined && g.resources.some((r) => r(resource)))),
  );
}

const bindingId = (b: Binding) =>
  `${b.role}-${createHash("sha256")
    .update(JSON.stringify([b.role, b.users ?? [], b.groups ?? [], b.serviceAccounts ?? []]))
    .digest("hex")
    .slice(0, 12)}`;

const MAX_CACHED_ACTIONS = 10_000;

/** An RBAC registry over the built-in roles and `config` (validated by `rbacConfigSchema`). */
export function createRbac(config: Partial<RbacConfig> = {}): Rbac {
  const roles: Record<string, Role> = { ...BUILT_IN_ROLES, ...config.roles };
  const compiled = new Map(Object.entries(roles).map(([name, role]) => [name, compileRole(role)]));
  let stored: StoredBinding[] = [];
  let index = {
    users: new Map<string, string[]>(),
    groups: new Map<string, string[]>(),
    services: new Map<string, string[]>(),
  };

  const validate = (raw: unknown, where: string): StoredBinding => {
    const result = bindingSchema.safeParse(raw);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new Invalid(issue?.message ?? "invalid binding", formatIssuePath(where, issue?.path ?? []));
    }
    const b = result.data;
    if (!compiled.has(b.role)) throw new Invalid(`no role named ${b.role}`, formatIssuePath(where, ["role"]));
    return { ...b, id: b.id ?? bindingId(b) };
  };

  const install = (next: StoredBinding[]) => {
    const ids = new Set<string>();
    for (const b of next) {
      if (ids.has(b.id)) throw new Conflict(`two bindings have the id ${b.id}`);
      ids.add(b.id);
    }
    const add = (map: Map<string, string[]>, key: string, role: string) => {
      const list = map.get(key);
      if (!list) map.set(key, [role]);
      else if (!list.includes(role)) list.push(role);
    };
    const fresh = {
      users: new Map<string, string[]>(),
      groups: new Map<string, string[]>(),
      services: new Map<string, string[]>(),
    };
    for (const b of next) {
      // Subjects are exact; emails compare without case, as mail systems do.
      for (const u of b.users ?? []) add(fresh.users, u.includes("@") ? u.toLowerCase() : u, b.role);
      for (const g of b.groups ?? []) add(fresh.groups, g, b.role);
      for (const s of b.serviceAccounts ?? []) add(fresh.services, s, b.role);
    }
    stored = next;
    index = fresh;
  };

  const actionCache = new Map<string, Set<string>>();
  const rolesGranting = (action: string, resource: string | undefined): Set<string> => {
    const a = action.split(":");
    const r = resource?.split("/");
    return new Set([...compiled].filter(([, role]) => grants(role, a, r)).map(([name]) => name));
  };

  install((config.bindings ?? []).map((b, i) => validate(b, `rbac.bindings[${i}]`)));

  return {
    roles,
    rolesOf(p) {
      const out = new Set<string>();
      const addAll = (list: readonly string[] | undefined) => list?.forEach((r) => out.add(r));
      if (p.kind === "service") addAll(index.services.get(p.subject));
      else {
        addAll(index.users.get(p.subject));
        if (p.email !== undefined && p.emailVerified === true) addAll(index.users.get(p.email.toLowerCase()));
      }
      for (const g of p.groups) addAll(index.groups.get(g));
      return [...out].sort();
    },
    can(held, action, resource) {
      if (resource !== undefined) {
        const a = action.split(":");
        const r = resource.split("/");
        return held.some((name) => {
          const role = compiled.get(name);
          return role !== undefined && grants(role, a, r);
        });
      }
      let granting = actionCache.get(action);
      if (!granting) {
        if (actionCache.size >= MAX_CACHED_ACTIONS) actionCache.clear();
        actionCache.set(action, (granting = rolesGranting(action, undefined)));
      }
      const set = granting;
      return held.some((name) => set.has(name));
    },
    permissionCheck(action, resource) {
      const granting = rolesGranting(action, resource);
      return (held) => {
        for (let i = 0; i < held.length; i++) if (granting.has(held[i] as string)) return true;
        return false;
      };
    },
    bindings: () => stored.map((b) => ({ ...b })),
    addBinding(raw) {
      const b = validate(raw, "binding");
      if (stored.some((s) => s.id === b.id)) throw new Conflict(`a binding with the id ${b.id} exists`);
      install([...stored, b]);
      return { ...b };
    },
    removeBinding(id) {
      if (!stored.some((b) => b.id === id)) throw new NotFound(`no binding with the id ${id}`);
      install(stored.filter((b) => b.id !== id));
    },
    replaceBindings(bindings) {
      install(bindings.map((b, i) => validate(b, `bindings[${i}]`)));
    },
  };
}
