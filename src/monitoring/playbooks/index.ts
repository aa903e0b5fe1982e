// Incident playbooks as code: YAML phases of manual and automated steps, validated at start,
// run (or dry-run) against an incident, every automated action audited with what triggered it.
export {
  type ActionContext,
  type ActionName,
  type ActionParams,
  type ActionResult,
  actionMethods,
  actionNames,
  actionSchemas,
  actionTarget,
  type BreachClockKind,
  breachClocks,
  durationSeconds,
  type PlaybookActions,
  subjectRef,
} from "./actions.ts";
export {
  type ChecklistItem,
  createPlaybooks,
  playbookMigrations,
  type PlaybookTables,
  type Playbooks,
  type PlaybooksOptions,
  type RunOptions,
  type RunRecord,
  type RunStatus,
  type StepRecord,
  type StepStatus,
} from "./runner.ts";
export {
  builtinPlaybooksDir,
  loadPlaybooks,
  parsePlaybook,
  type Phase,
  phases,
  type Playbook,
  type PlaybookStep,
  type PlaybooksConfig,
  playbookSchema,
  playbooksConfigSchema,
} from "./schema.ts";
export { resolveString, resolveValue, type TemplateContext, truthy } from "./template.ts";
