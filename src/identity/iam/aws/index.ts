// AWS least privilege: IAM policies + CloudTrail → minimised policies, verified by replay.
export {
  analyzeAws,
  analysePrincipal,
  createUsageCollector,
  readUsage,
  USAGE_LIMITS,
  type ActionUsage,
  type AwsAnalysisOptions,
  type AwsProposal,
  type UsageLog,
} from "./analyze.ts";
export { createActionCatalogue, type ActionCatalogue } from "./catalogue.ts";
export {
  logFiles,
  mapRecord,
  principalOf,
  readRecords,
  type CloudTrailRecord,
  type MappedCall,
} from "./cloudtrail.ts";
export { awsProposalFiles } from "./files.ts";
export {
  MANAGED_POLICY_MAX_CHARS,
  minimise,
  split,
  type KeptAction,
  type KeptCall,
  type Minimised,
  type MinimiseOptions,
  type StatementAllows,
} from "./minimise.ts";
export {
  globMatch,
  loadPolicies,
  parsePolicyDocument,
  policiesFor,
  statements,
  type NamedPolicy,
  type PolicyDocument,
  type PolicySet,
  type PolicyStatement,
  type PrincipalPolicies,
} from "./policy.ts";
export {
  CREDENTIALS_EXPOSURE_ACTIONS,
  DATA_ACCESS_ACTIONS,
  PRIVESC_ACTIONS,
  RESOURCE_EXPOSURE_ACTIONS,
  riskFlags,
} from "./risk.ts";
export { decide, replay, type ReplayCall, type ReplayContext, type ReplayPolicies } from "./verify.ts";
