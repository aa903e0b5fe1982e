// How a namespace reads through the store: as service `k8s:<namespace>`, allowed read and list on
// exactly the globs `secrets.kubernetes.namespaces[].paths` gives it, by synthetic policies.
import type { EventRef } from "../../../platform/events/index.ts";
import { compileGlob, type PathMatcher } from "../policy.ts";
import type { SecretsConfig, SecretsPolicy } from "../schema.ts";
import type { SecretsCaller } from "../types.ts";

/** The service-account subject a namespace reads as. */
export const namespaceSubject = (namespace: string) => `k8s:${namespace}`;

/** The caller the Kubernetes endpoint passes to the store for `namespace`. */
export function namespaceCaller(namespace: string): SecretsCaller {
  const subject = namespaceSubject(namespace);
  const actor: EventRef = { kind: "service", id: subject };
  return {
    identity: { kind: "service", subject, groups: [], roles: [], claims: {}, credential: "api-key" },
    actor,
  };
}

const withPolicies = new WeakMap<SecretsConfig, SecretsConfig>();

/**
 * The config with one read/list policy per Kubernetes namespace appended. Memoized per config
 * object, so the store's policy cache compiles again only when the config changes.
 */
export function withKubernetesPolicies(config: SecretsConfig): SecretsConfig {
  const cached = withPolicies.get(config);
  if (cached) return cached;
  const synthetic: SecretsPolicy[] = config.kubernetes.namespaces.map((ns) => ({
    name: `kubernetes namespace ${ns.namespace}`,
    effect: "allow",
    paths: ns.paths,
    capabilities: ["read", "list"],
    users: [],
    groups: [],
    roles: [],
    serviceAccounts: [namespaceSubject(ns.namespace)],
  }));
  const out = synthetic.length === 0 ? config : { ...config, policies: [...config.policies, ...synthetic] };
  withPolicies.set(config, out);
  return out;
}

const scopes = new WeakMap<SecretsConfig, Map<string, PathMatcher>>();

/** Whether `namespace` is configured and its globs cover `path`; undefined when the namespace is unknown. */
export function namespaceAllows(config: SecretsConfig, namespace: string, path: string): boolean | undefined {
  let byNamespace = scopes.get(config);
  if (!byNamespace) {
    byNamespace = new Map();
    for (const [i, ns] of config.kubernetes.namespaces.entries()) {
      const matchers = ns.paths.map((g, j) =>
        compileGlob(g, `secrets.kubernetes.namespaces[${i}].paths[${j}]`),
      );
      byNamespace.set(ns.namespace, (p) => matchers.some((m) => m(p)));
    }
    scopes.set(config, byNamespace);
  }
  const matches = byNamespace.get(namespace);
  return matches ? matches(path) : undefined;
}
