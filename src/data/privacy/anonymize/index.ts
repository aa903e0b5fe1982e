// Anonymised copies of SQL databases (PostgreSQL → PostgreSQL, MySQL/MariaDB → MySQL/MariaDB): public API.
export {
  type AnonymizedTable,
  type AnonymizeOptions,
  type AnonymizeProgress,
  type AnonymizeSummary,
  anonymizeDatabase,
} from "./copy.ts";
export { type UnmappedPolicy, unmappedPolicies } from "./plan.ts";
