// Who may do what on which paths: `secrets.policies` compiled once per config into matchers over
// path segments (no regex backtracking across segments). Deny wins; no match denies; role admin may do all.
import type { Identity } from "../../identity/types.ts";
import { Invalid } from "../../platform/errors.ts";
import type { SecretsPolicy } from "./schema.ts";
import type { Capability, SecretsCaller } from "./types.ts";

export const ADMIN_ROLE = "admin";

/** One glob segment: a literal, `*` (any one segment), `**` (any number) or a pattern within a segment. */
type Segment =
  { kind: "literal"; text: string } | { kind: "one" } | { kind: "any" } | { kind: "pattern"; re: RegExp };

export type PathMatcher = (path: string) => boolean;

interface CompiledPolicy {
  name: string;
  deny: boolean;
  capabilities: ReadonlySet<Capability>;
  matches: PathMatcher;
  users: ReadonlySet<string>;
  groups: ReadonlySet<string>;
  roles: ReadonlySet<string>;
  serviceAccounts: ReadonlySet<string>;
}

export interface CompiledPolicies {
  /** Whether `identity` holds `capability` on `path`. */
  allows(identity: Identity, capability: Capability, path: string): boolean;
}

/** Compiles a path glob (`/prod/api/*`, `/dev/**`, `/prod/*-api/db`) into a matcher. */
export function compileGlob(glob: string, where = "glob"): PathMatcher {
  if (!glob.startsWith("/"))
    throw new Invalid(`a path glob starts with '/', got ${JSON.stringify(glob)}`, where);
  const segments: Segment[] = glob
    .slice(1)
    .split("/")
    .map((s) => {
      if (s === "**") return { kind: "any" };
      if (s === "*") return { kind: "one" };
      if (s === "") throw new Invalid(`empty segment in path glob ${JSON.stringify(glob)}`, where);
      if (s.includes("**"))
        throw new Invalid(`'**' must be a whole segment in ${JSON.stringify(glob)}`, where);
      if (!s.includes("*")) return { kind: "literal", text: s };
      const body = s.split("*").map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
      return { kind: "pattern", re: new RegExp(`^${body.join("[^/]*")}$`) };
    });
  return (path) => matchSegments(segments, path.slice(1).split("/"));
}

// Dynamic programming over (glob segment, path segment): linear in their product, whatever the glob.
function matchSegments(glob: readonly Segment[], parts: readonly string[]): boolean {
  let reach = new Array<boolean>(parts.length + 1).fill(false);
  reach[0] = true;
  for (const seg of glob) {
    const next = new Array<boolean>(parts.length + 1).fill(false);
    for (let j = 0; j <= parts.length; j++) {
      if (!reach[j]) continue;
      if (seg.kind === "any") {
        for (let k = j; k <= parts.length; k++) next[k] = true;
        break;
      }
      const part = parts[j];
      if (part === undefined) continue;
      const ok =
        seg.kind === "one" ||
        (seg.kind === "literal" ? seg.text === part : seg.kind === "pattern" && seg.re.test(part));
      if (ok) next[j + 1] = true;
    }
    reach = next;
  }
  return reach[parts.length] === true;
}

/** Compiles the configured policies; a bad glob fails with `where` naming the policy. */
export function compilePolicies(policies: readonly SecretsPolicy[]): CompiledPolicies {
  const compiled: CompiledPolicy[] = policies.map((p, i) => {
    const where = `secrets.policies[${i}].paths`;
    const matchers = p.paths.map((g, j) => compileGlob(g, `${where}[${j}]`));
    return {
      name: p.name,
      deny: p.effect === "deny",
      capabilities: new Set(p.capabilities),
      matches: (path) => matchers.some((m) => m(path)),
      users: new Set(p.users),
      groups: new Set(p.groups),
      roles: new Set(p.roles),
      serviceAccounts: new Set(p.serviceAccounts),
    };
  });
  return {
    allows(identity, capability, path) {
      if (identity.roles.includes(ADMIN_ROLE)) return true;
      let allowed = false;
      for (const p of compiled) {
        if (!p.capabilities.has(capability) || !binds(p, identity) || !p.matches(path)) continue;
        if (p.deny) return false;
        allowed = true;
      }
      return allowed;
    },
  };
}

function binds(p: CompiledPolicy, identity: Identity): boolean {
  if (identity.kind === "user" && p.users.has(identity.subject)) return true;
  if (identity.kind === "service" && p.serviceAccounts.has(identity.subject)) return true;
  return identity.groups.some((g) => p.groups.has(g)) || identity.roles.some((r) => p.roles.has(r));
}

/** Compiles again only when the config's policy list changes (hot reload swaps the array). */
export function policyCache(
  current: () => readonly SecretsPolicy[],
): (caller: SecretsCaller, capability: Capability, path: string) => boolean {
  let source: readonly SecretsPolicy[] | undefined;
  let compiled: CompiledPolicies | undefined;
  return (caller, capability, path) => {
    const policies = current();
    if (policies !== source || !compiled) {
      compiled = compilePolicies(policies);
      source = policies;
    }
    return compiled.allows(caller.identity, capability, path);
  };
}
