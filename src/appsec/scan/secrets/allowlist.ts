// `.rampart-secrets.yaml`: what a repository declares is not a secret. Paths are gitignore-style
// globs (skipped entirely), rules are switched off by id, and regexes / stopwords drop matches
// whose secret they match (they are reported as suppressed, so an auditor still sees them).
import { readFileSync } from "node:fs";
import { gitignore as ignore, type Ignore } from "./gitignore.ts";
import { LineCounter, parseDocument } from "yaml";
import { documentData } from "../../../config/yaml.ts";
import { z } from "zod";
import { Invalid } from "../../../platform/errors.ts";

export const secretsAllowlistSchema = z.strictObject({
  /** gitignore-style patterns relative to the scanned root: files never scanned. */
  paths: z.array(z.string().min(1)).default([]),
  /** Rule ids switched off. */
  rules: z.array(z.string().min(1)).default([]),
  /** JavaScript regexes: a secret matching one is allowed. */
  regexes: z.array(z.string().min(1)).default([]),
  /** Words (case-insensitive): a secret containing one is allowed. */
  stopwords: z.array(z.string().min(1)).default([]),
});
export type SecretsAllowlistFile = z.infer<typeof secretsAllowlistSchema>;

export interface SecretsAllowlist {
  /** True when the relative path (forward slashes) is allowlisted. */
  pathAllowed(relPath: string): boolean;
  ruleDisabled(rule: string): boolean;
  /** Why a secret is allowed (`regex …`, `stopword …`), or undefined. */
  secretAllowed(secret: string): string | undefined;
}

/** Builds an allowlist from its parsed form. */
export function createAllowlist(file: Partial<SecretsAllowlistFile> = {}): SecretsAllowlist {
  const parsed = secretsAllowlistSchema.parse(file);
  const paths: Ignore = ignore().add(parsed.paths);
  const rules = new Set(parsed.rules);
  const regexes = parsed.regexes.map((r) => ({ source: r, re: new RegExp(r) }));
  const stopwords = parsed.stopwords.map((w) => w.toLowerCase());
  return {
    pathAllowed: (rel) => parsed.paths.length > 0 && rel !== "" && paths.ignores(rel),
    ruleDisabled: (rule) => rules.has(rule),
    secretAllowed(secret) {
      for (const { source, re } of regexes) if (re.test(secret)) return `allowlist regex ${source}`;
      if (stopwords.length) {
        const lower = secret.toLowerCase();
        for (const w of stopwords) if (lower.includes(w)) return `allowlist stopword ${w}`;
      }
      return undefined;
    },
  };
}

/** Reads and validates an allowlist file; Invalid with file:line:col on a bad entry. */
export function readAllowlistFile(path: string): SecretsAllowlistFile {
  const text = readFileSync(path, "utf8");
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = lineCounter.linePos(e.pos[0]);
    throw new Invalid(e.message.split("\n")[0]!, `${path}:${pos.line}:${pos.col}`);
  }
  const read = documentData(doc);
  if ("problems" in read) {
    const pos = lineCounter.linePos(read.problems[0]?.offset ?? 0);
    throw new Invalid(read.problems[0]?.message ?? "not plain data", `${path}:${pos.line}:${pos.col}`);
  }
  const result = secretsAllowlistSchema.safeParse(read.value ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const node = doc.getIn(issue.path as (string | number)[], true) as
      { range?: [number, number] } | undefined;
    const pos = node?.range ? lineCounter.linePos(node.range[0]) : { line: 1, col: 1 };
    throw new Invalid(
      `${issue.path.join(".") || "(root)"}: ${issue.message}`,
      `${path}:${pos.line}:${pos.col}`,
    );
  }
  for (const [i, r] of result.data.regexes.entries()) {
    try {
      new RegExp(r);
    } catch (err) {
      throw new Invalid(`regexes[${i}]: ${(err as Error).message}`, path);
    }
  }
  return result.data;
}
