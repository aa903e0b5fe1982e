// Kubernetes sync for the secrets store: per-namespace machine tokens for External Secrets
// Operator's webhook provider, the namespace's read scope, and manifest rendering.
export { namespaceAllows, namespaceCaller, namespaceSubject, withKubernetesPolicies } from "./access.ts";
export {
  type ExternalOptions,
  manifestName,
  RELOADER_MATCH,
  type RenderedManifest,
  renderExternal,
  renderSecrets,
} from "./render.ts";
export { type KubernetesTables, kubernetesMigrations } from "./tables.ts";
export {
  createMachineTokens,
  DEFAULT_ROTATION_GRACE_SECONDS,
  type IssuedToken,
  type MachineTokens,
  namespaceName,
} from "./tokens.ts";
