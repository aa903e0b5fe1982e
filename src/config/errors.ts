import { RampartError } from "../platform/errors.ts";

/** One problem in a config file, located by 1-based line and column. */
export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  /** Key path such as `routes[2].upstream`; empty for problems not tied to a key (YAML syntax). */
  path: string;
  message: string;
  /**
   * Set by the loader for `${secret:…}` problems, so a server can tell "needs the secrets store"
   * (`secret-needs-store`, resolvable once the store is open) from a reference that failed.
   */
  code?: "secret-needs-store" | "secret-unresolved";
}

/** A config file that cannot be used; `issues` lists every problem found, in file order. */
export class ConfigError extends RampartError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super("config_invalid", 400, issues.map(formatConfigIssue).join("\n"));
    this.issues = issues;
  }
}

/** `file:line:column path: message`, the form editors and CI annotations recognise. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}`;
  return issue.path === "" ? `${where} ${issue.message}` : `${where} ${issue.path}: ${issue.message}`;
}
