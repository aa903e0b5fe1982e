// supply-chain.allow.yaml: the exceptions the supply-chain gate accepts, each with a reason and an
// expiry so that none lives forever. An entry past its date no longer excuses anything; an entry
// that matches nothing is reported too, so the list only holds what is still needed.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError } from "../../src/config/errors.ts";
import { locatedIssues, readYaml } from "../../src/config/yaml.ts";

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A calendar date that exists (2027-02-30 does not). */
function realDate(s: string): boolean {
  if (!DATE.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

const required = (what: string) => ({ error: `required: ${what}` });
const text = (what: string) =>
  z
    .string(required(what))
    .trim()
    .min(1, { message: `required: ${what}` });

const expires = z
  .string(required("the last day this entry applies, as YYYY-MM-DD"))
  .refine(realDate, { message: "expected a date as YYYY-MM-DD" });

const advisoryEntry = z.strictObject({
  // A bare npm advisory id (1096643) reads as a YAML number.
  advisory: z
    .union(
      [z.string(), z.number().int().nonnegative()],
      required("the advisory: GHSA id, advisory URL or npm advisory id"),
    )
    .transform((v) => String(v).trim())
    .refine((s) => /^GHSA(-[a-z0-9]{4}){3}$/i.test(s) || /^https?:\/\/\S+$/.test(s) || /^\d+$/.test(s), {
      message: "expected a GHSA id (GHSA-xxxx-xxxx-xxxx), an advisory URL or a numeric npm advisory id",
    }),
  package: text("the package name the advisory is reported on"),
  reason: text("why the advisory does not affect Rampart, or why it must wait"),
  expires,
});

const licenceEntry = z.strictObject({
  package: text("the package name"),
  licence: text("the licence exactly as the lockfile declares it"),
  reason: text("why this licence is acceptable for this package"),
  expires,
});

export const allowlistSchema = z.strictObject({
  advisories: z.array(advisoryEntry).nullish(),
  licences: z.array(licenceEntry).nullish(),
});

export type AdvisoryEntry = z.infer<typeof advisoryEntry> & { source: string };
export type LicenceEntry = z.infer<typeof licenceEntry> & { source: string };

export interface Allowlist {
  advisories: AdvisoryEntry[];
  licences: LicenceEntry[];
}

export const emptyAllowlist = (): Allowlist => ({ advisories: [], licences: [] });

/** Parses the allowlist; any problem throws one ConfigError naming file:line:column and key. */
export function parseAllowlist(yamlText: string, file: string): Allowlist {
  const yaml = readYaml(yamlText, file);
  const value: unknown = yaml.doc.toJS();
  // An empty file allows nothing.
  if (value === null || value === undefined) return emptyAllowlist();
  const parsed = allowlistSchema.safeParse(value);
  if (!parsed.success) throw new ConfigError(locatedIssues(yaml, parsed.error));
  const where = (section: string, i: number) => `${file}:${yaml.lineOf([section, i])}`;
  return {
    advisories: (parsed.data.advisories ?? []).map((e, i) => ({ ...e, source: where("advisories", i) })),
    licences: (parsed.data.licences ?? []).map((e, i) => ({ ...e, source: where("licences", i) })),
  };
}

/** Reads the allowlist file; a missing file is an empty list (nothing is excused). */
export function loadAllowlist(file: string, displayName = file): Allowlist {
  let body: string;
  try {
    body = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return emptyAllowlist();
    throw err;
  }
  return parseAllowlist(body, displayName);
}

/** Today's date in UTC as YYYY-MM-DD, the form `expires` is compared against. */
export const utcDay = (now: Date = new Date()): string => now.toISOString().slice(0, 10);

/** An entry applies through the end of its `expires` day (UTC). */
export const isExpired = (entry: { expires: string }, today: string): boolean => entry.expires < today;

/** Entries past their date and entries that excused nothing, for the report. */
export interface EntryHygiene {
  expired: { source: string; expires: string; what: string }[];
  unused: { source: string; what: string }[];
}

/** Sorts `entries` into expired and unused, given which ones matched something. */
export function entryHygiene<E extends { source: string; expires: string }>(
  entries: readonly E[],
  used: ReadonlySet<E>,
  today: string,
  describe: (e: E) => string,
): EntryHygiene {
  const expired = entries
    .filter((e) => isExpired(e, today))
    .map((e) => ({ source: e.source, expires: e.expires, what: describe(e) }));
  const unused = entries
    .filter((e) => !isExpired(e, today) && !used.has(e))
    .map((e) => ({ source: e.source, what: describe(e) }));
  return { expired, unused };
}
