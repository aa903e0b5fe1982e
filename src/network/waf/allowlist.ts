// Parameter allowlists, the positive model beside the detectors: a parameter declared to hold an
// integer, a UUID, a date or one of a few words is not run through the detectors when its value
// fits, and either is inspected as usual or refused when it does not. Each kind is one anchored
// pattern without nested repetition (linear on any input), checked only up to `maxLength`.
import type { Detection } from "./types.ts";

export const VALUE_KINDS = [
  "integer",
  "number",
  "boolean",
  "uuid",
  "hex",
  "alphanumeric",
  "slug",
  "email",
  "date",
  "enum",
] as const;
export type ValueKind = (typeof VALUE_KINDS)[number];

export interface ParameterRule {
  /** Targets as in exclusions: `ARGS:id`, `ARGS_JSON:user.id`, `REQUEST_HEADERS:x-tenant`, `ARGS:*`. */
  targets: readonly string[];
  kind: ValueKind;
  /** For `enum`: the accepted values, exactly. */
  values?: readonly string[];
  /** Longer values do not fit (default 256). */
  maxLength?: number;
  /** What a value that does not fit gets: the detectors as usual, or a refusal. */
  onMismatch: "inspect" | "block";
}

const PATTERNS: Record<Exclude<ValueKind, "enum">, RegExp> = {
  integer: /^[+-]?\d{1,20}$/,
  number: /^[+-]?\d{1,20}(?:\.\d{1,20})?(?:[eE][+-]?\d{1,3})?$/,
  boolean: /^(?:true|false|1|0|yes|no|on|off)$/i,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  hex: /^[0-9a-f]+$/i,
  alphanumeric: /^[a-z0-9]+$/i,
  slug: /^[a-z0-9_-]+$/i,
  email: /^[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,8}$/i,
  date: /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/,
};

export function fits(rule: ParameterRule, value: string): boolean {
  if (value.length > (rule.maxLength ?? 256)) return false;
  return rule.kind === "enum" ? (rule.values ?? []).includes(value) : PATTERNS[rule.kind].test(value);
}

/** What a refused mismatch counts as: one critical match, enough to refuse at the default threshold. */
export const mismatch = (target: string): Detection => ({
  rule: "allowlist-mismatch",
  tags: ["allowlist"],
  paranoia: 1,
  severity: "critical",
  target,
});
