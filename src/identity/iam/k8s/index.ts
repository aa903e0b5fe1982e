// Kubernetes RBAC least privilege (issue 9): RBAC objects + API-server audit logs → a minimal
// Role/ClusterRole per subject, unused grants, risk flags, and a replay check of the proposal.
export {
  analyzeK8s,
  analyzePrincipal,
  DEFAULT_ANALYZE_OPTIONS,
  isEmptyRbac,
  type K8sAnalyzeOptions,
  type K8sPrincipalAnalysis,
  type K8sRuleUse,
  type K8sUse,
  manifestsYaml,
  toPrincipalAnalysis,
} from "./analyze.ts";
export {
  addObservation,
  type AuditUsage,
  emptyUsage,
  eventToRequest,
  type ObservedRequest,
  type PrincipalUsage,
  readAuditLogs,
  readAuditStream,
  requestKey,
} from "./audit.ts";
export {
  AUDIT2RBAC_VERB_EXPANSIONS,
  compactRules,
  DEFAULT_GENERATE_OPTIONS,
  describeRequest,
  type GenerateOptions,
  type Generation,
  generateRoles,
  grantsAtom,
  type PermissionAtom,
  ruleAtoms,
} from "./generate.ts";
export {
  type ClusterRole,
  type ClusterRoleBinding,
  createAuthorizer,
  discoveryBaseline,
  type EffectiveRule,
  emptyRbac,
  loadRbac,
  parseRbac,
  type PolicyRule,
  type RbacObjects,
  type RbacRequest,
  resolveAggregation,
  type Role,
  type RoleBinding,
  ruleAllows,
  rulesFor,
  serviceAccountUser,
  type Subject,
  subjectFor,
} from "./rbac.ts";
export { type K8sRiskFlags, riskCount, riskFlags } from "./risk.ts";
