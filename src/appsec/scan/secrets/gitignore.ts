// gitignore semantics from the `ignore` package (the matcher ESLint uses).
import ignore from "ignore";

export type Ignore = ignore.Ignore;

/** A new gitignore matcher. */
export const gitignore = (): Ignore => ignore();
