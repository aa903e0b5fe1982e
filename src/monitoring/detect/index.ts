// Detection rules as code over the event spine: the engine, the rule schema, the built-in rules
// and the first_seen memory.
export { builtinRuleInputs, builtinRules, detectRules, ruleSource } from "./builtin.ts";
export {
  createDetector,
  type Detector,
  type DetectorOptions,
  type DetectorStats,
  fingerprintOf,
  renderSummary,
  type RuleStats,
} from "./engine.ts";
export {
  type DetectConfig,
  detectConfigSchema,
  durationMs,
  parseRule,
  type Rule,
  type RuleInput,
  ruleSchema,
} from "./schema.ts";
export {
  createSeenStore,
  detectMigrations,
  type SeenStore,
  type SeenStoreOptions,
  type SeenTables,
} from "./seen.ts";
export { atLeast, type Detection, type Priority, priorities, prioritySeverity } from "./types.ts";
