// Ignores with a justification and an expiry: `.rampartignore.yaml`, and a `.trivyignore` beside it
// so a project that already keeps one is not asked to rewrite it. An ignore that has expired no
// longer applies: the finding gates again, and the run says which ignore ran out.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { z } from "zod";
import { ConfigError, type ConfigIssue } from "../../../config/errors.ts";
import { locatedIssues, readYaml } from "../../../config/yaml.ts";
import { Invalid } from "../../../platform/errors.ts";
import type { Finding } from "../types.ts";
import { misconfigRule } from "./parse.ts";

/** One ignore entry, from either file. */
export interface IgnoreRule {
  /** Vulnerability id, misconfiguration id (`KSV-0001`, `KSV001`, `AVD-KSV-0001`), secret rule id or licence name. */
  id: string;
  reason: string;
  /** `YYYY-MM-DD`: the ignore applies through the end of that day (UTC). */
  expires: string;
  /** Globs over the finding's target, file or package path. */
  paths?: string[];
  /** Package names (globs allowed). */
  packages?: string[];
  /** `file:line` of the entry, to say which ignore matched or ran out. */
  source: string;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function realDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

const expiresSchema = z
  .string({ error: "required: when this ignore stops applying, as YYYY-MM-DD" })
  .refine(realDate, { message: "expected a date as YYYY-MM-DD" });

/** `.rampartignore.yaml`. */
export const rampartIgnoreSchema = z.strictObject({
  ignores: z
    .array(
      z.strictObject({
        id: z
          .string({ error: "required: the vulnerability, misconfiguration or secret rule id" })
          .trim()
          .min(1),
        reason: z
          .string({ error: "required: why this finding may be ignored" })
          .trim()
          .min(1, { message: "required: why this finding may be ignored" }),
        expires: expiresSchema,
        paths: z.array(z.string().min(1)).min(1).optional(),
        packages: z.array(z.string().min(1)).min(1).optional(),
      }),
    )
    .default([]),
});

/** Parses `.rampartignore.yaml`; ConfigError lists every problem with file:line:column. */
export function parseRampartIgnore(text: string, file: string): IgnoreRule[] {
  const yaml = readYaml(text, file);
  const value: unknown = yaml.data();
  // An empty file ignores nothing.
  if (value === null || value === undefined) return [];
  const parsed = rampartIgnoreSchema.safeParse(value);
  if (!parsed.success) throw new ConfigError(locatedIssues(yaml, parsed.error));
  return parsed.data.ignores.map((entry, i) => {
    const line = yaml.lineOf(["ignores", i]);
    return {
      id: entry.id,
      reason: entry.reason,
      expires: entry.expires,
      ...(entry.paths ? { paths: entry.paths } : {}),
      ...(entry.packages ? { packages: entry.packages } : {}),
      source: `${file}:${line}`,
    };
  });
}

/**
 * Parses a `.trivyignore`: one id per line with `exp:YYYY-MM-DD`. The reason is the `#` comment
 * after the id or the comment lines just above it; an entry without both is an error, as in
 * `.rampartignore.yaml`.
 */
export function parseTrivyIgnore(text: string, file: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  const issues: ConfigIssue[] = [];
  let comment: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === "") {
      comment = [];
      return;
    }
    if (trimmed.startsWith("#")) {
      const c = trimmed.replace(/^#+\s*/, "");
      if (c) comment.push(c);
      return;
    }
    const hash = raw.search(/\s#/);
    const body = hash >= 0 ? raw.slice(0, hash) : raw;
    const inline =
      hash >= 0
        ? raw
            .slice(hash)
            .trim()
            .replace(/^#+\s*/, "")
        : "";
    const tokens = [...body.matchAll(/\S+/g)];
    const idToken = tokens[0];
    if (!idToken) return;
    const id = idToken[0];
    const column = (idToken.index ?? 0) + 1;
    let expires: string | undefined;
    for (const t of tokens.slice(1)) {
      const m = /^exp:(.*)$/.exec(t[0]);
      if (!m) {
        issues.push({ file, line, column: (t.index ?? 0) + 1, path: id, message: `unexpected '${t[0]}'` });
        continue;
      }
      if (!realDate(m[1] as string))
        issues.push({ file, line, column: (t.index ?? 0) + 1, path: id, message: "expected exp:YYYY-MM-DD" });
      else expires = m[1];
    }
    const reason = inline || comment.join(" ");
    comment = [];
    if (!tokens.slice(1).some((t) => t[0].startsWith("exp:")))
      issues.push({
        file,
        line,
        column,
        path: id,
        message: "needs an expiry: add exp:YYYY-MM-DD after the id",
      });
    if (!reason)
      issues.push({
        file,
        line,
        column,
        path: id,
        message: "needs a reason: a # comment after the id or on the line above",
      });
    if (expires && reason) rules.push({ id, reason, expires, source: `${file}:${line}` });
  });
  if (issues.length > 0) throw new ConfigError(issues);
  return rules;
}

/** The ignore files that apply and their rules. */
export interface LoadedIgnores {
  rules: IgnoreRule[];
  files: string[];
}

/**
 * Reads `ignoreFile` (it must exist) or else `.rampartignore.yaml` in `cwd` when there is one,
 * and `.trivyignore` beside it when there is one.
 */
export function loadIgnores(o: { ignoreFile?: string; cwd: string }): LoadedIgnores {
  const rampartFile = o.ignoreFile ?? join(o.cwd, ".rampartignore.yaml");
  const trivyFile = join(o.ignoreFile ? dirname(o.ignoreFile) : o.cwd, ".trivyignore");
  const rules: IgnoreRule[] = [];
  const files: string[] = [];
  if (o.ignoreFile || existsSync(rampartFile)) {
    let text: string;
    try {
      text = readFileSync(rampartFile, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Invalid(
        code === "ENOENT" ? "ignore file not found" : `cannot read the ignore file (${code})`,
        rampartFile,
      );
    }
    rules.push(...parseRampartIgnore(text, rampartFile));
    files.push(rampartFile);
  }
  if (existsSync(trivyFile)) {
    rules.push(...parseTrivyIgnore(readFileSync(trivyFile, "utf8"), trivyFile));
    files.push(trivyFile);
  }
  return { rules, files };
}

/** The last instant an ignore applies: the end of its `expires` day, UTC. */
export function ignoreEnd(expires: string): Date {
  return new Date(`${expires}T23:59:59.999Z`);
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function idMatches(rule: IgnoreRule, f: Finding): boolean {
  const want = [rule.id, misconfigRule(rule.id)].map((s) => s.toUpperCase());
  const have = [f.rule, str(f.details?.["trivyId"]), str(f.details?.["avdId"])]
    .filter((s): s is string => s !== undefined)
    .map((s) => s.toUpperCase());
  return want.some((w) => have.includes(w));
}

const glob = (pattern: string, value: string): boolean =>
  value === pattern || posix.matchesGlob(value, pattern);

function pathsMatch(rule: IgnoreRule, f: Finding): boolean {
  if (!rule.paths) return true;
  const target = str(f.details?.["target"]);
  const candidates = [
    target,
    target?.replace(/\s*\([^()]*\)\s*$/, ""),
    f.location.file,
    f.location.resource,
    str(f.details?.["pkgPath"]),
  ]
    .filter((s): s is string => s !== undefined)
    .map((s) => s.replace(/^\.?\//, ""));
  return rule.paths.some((p) => candidates.some((c) => glob(p.replace(/^\.?\//, ""), c)));
}

function packagesMatch(rule: IgnoreRule, f: Finding): boolean {
  if (!rule.packages) return true;
  const pkg = str(f.details?.["package"]);
  return pkg !== undefined && rule.packages.some((p) => glob(p, pkg));
}

/** An ignore that matched a finding but has run out. */
export interface ExpiredIgnore {
  rule: IgnoreRule;
  fingerprint: string;
}

/**
 * Marks findings an ignore covers as suppressed. A finding whose only matching ignores have
 * expired stays unsuppressed, carries `details.ignoreExpired`, and is listed in `expired`.
 * `unused` lists live ignores that matched nothing (stale entries worth removing).
 */
export function applyIgnores(
  findings: readonly Finding[],
  rules: readonly IgnoreRule[],
  now: Date,
): { findings: Finding[]; expired: ExpiredIgnore[]; unused: IgnoreRule[] } {
  const used = new Set<IgnoreRule>();
  const expired: ExpiredIgnore[] = [];
  const out = findings.map((f) => {
    if (f.suppressed) return f;
    const matching = rules.filter((r) => idMatches(r, f) && pathsMatch(r, f) && packagesMatch(r, f));
    if (matching.length === 0) return f;
    for (const r of matching) used.add(r);
    const live = matching.find((r) => now.getTime() <= ignoreEnd(r.expires).getTime());
    if (live)
      return { ...f, suppressed: { by: "ignore" as const, reason: live.reason, expires: live.expires } };
    const last = matching.toSorted((a, b) => b.expires.localeCompare(a.expires))[0] as IgnoreRule;
    expired.push({ rule: last, fingerprint: f.fingerprint });
    return { ...f, details: { ...f.details, ignoreExpired: last.expires, ignoreSource: last.source } };
  });
  const unused = rules.filter((r) => !used.has(r) && now.getTime() <= ignoreEnd(r.expires).getTime());
  return { findings: out, expired, unused };
}
