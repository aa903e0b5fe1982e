// Per-route access policy: allow/deny rules over who is asking and what they ask for, validated
// and compiled at config load, evaluated in microseconds on every request.
export { compileGlob, globProblem, type SegmentsMatcher } from "./glob.ts";
export {
  type CompiledPolicy,
  compilePolicy,
  type ConditionExplanation,
  type DecidingRule,
  type PolicyDecision,
  type PolicyExplanation,
  type RuleExplanation,
} from "./policy.ts";
export {
  formatIssuePath,
  parseRoutePolicy,
  type PolicyRule,
  type RoutePolicy,
  type RoutePolicyInput,
  routePolicySchema,
  type RuleConditions,
  ruleConditionsSchema,
} from "./schema.ts";
