// Playbook templates: `{{ path.to.value }}` and `{{ path.to.value | default: fallback }}`, nothing
// more. No code runs, no loops, no filters: a playbook is data a reviewer can read, and the values
// it pulls come from detections that attackers may influence.
import { Invalid } from "../../platform/errors.ts";

const EXPR = /\{\{([^{}]*)\}\}/g;
const INNER = /^\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*(?:\|\s*default:\s*(.*?)\s*)?$/s;
const FORBIDDEN = new Set(["__proto__", "prototype", "constructor"]);

/** What a template may read: the run's inputs, the detection, the incident, earlier steps. */
export type TemplateContext = Record<string, unknown>;

/** Whether `text` holds a template expression at all. */
export const hasTemplate = (text: string): boolean => /\{\{/.test(text);

/** Checks every expression in `text` is a plain path (with an optional default); returns the problem or undefined. */
export function templateProblem(text: string): string | undefined {
  let bad = false;
  const stripped = text.replace(EXPR, (_m, inner: string) => {
    if (!INNER.test(inner)) bad = true;
    return "";
  });
  if (bad) return "a template is {{ path.to.value }} or {{ path.to.value | default: text }}";
  if (stripped.includes("{{") || stripped.includes("}}")) return "unbalanced {{ }} in template";
  return undefined;
}

/** The value at a dotted path; own properties only, so a template cannot reach prototypes. */
export function lookup(ctx: TemplateContext, path: string): unknown {
  let cur: unknown = ctx;
  for (const part of path.split(".")) {
    if (FORBIDDEN.has(part) || cur === null || typeof cur !== "object") return undefined;
    if (!Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

const missing = (v: unknown) => v === undefined || v === null || v === "";

function show(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/**
 * Resolves the templates in a string. A string that is one expression keeps the value's type (an
 * array stays an array). A missing value without a default throws Invalid naming the path, unless
 * `lenient`, which gives undefined (whole) or an empty string (inside text).
 */
export function resolveString(text: string, ctx: TemplateContext, where: string, lenient = false): unknown {
  const problem = templateProblem(text);
  if (problem) throw new Invalid(problem, where);
  const value = (path: string, fallback: string | undefined): unknown => {
    const v = lookup(ctx, path);
    if (!missing(v)) return v;
    if (fallback !== undefined) return fallback;
    if (lenient) return undefined;
    throw new Invalid(`{{ ${path} }} has no value (give the input, or a default)`, where);
  };
  const parts = (inner: string) => INNER.exec(inner) as RegExpExecArray;
  const whole = /^\{\{([^{}]*)\}\}$/.exec(text.trim());
  if (whole) {
    const m = parts(whole[1] as string);
    return value(m[1] as string, m[2]);
  }
  return text.replace(EXPR, (_m, inner: string) => {
    const m = parts(inner);
    const v = value(m[1] as string, m[2]);
    return v === undefined ? "" : show(v);
  });
}

/** Resolves every string inside a JSON-like value (objects and arrays walked; other values kept). */
export function resolveValue(v: unknown, ctx: TemplateContext, where: string, lenient = false): unknown {
  if (typeof v === "string") return resolveString(v, ctx, where, lenient);
  if (Array.isArray(v)) return v.map((x, i) => resolveValue(x, ctx, `${where}[${i}]`, lenient));
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const r = resolveValue(x, ctx, `${where}.${k}`, lenient);
      // An empty value is an omitted one: `{{ x | default: }}` leaves an optional parameter out.
      if (r !== undefined && r !== "") out[k] = r;
    }
    return out;
  }
  return v;
}

/** A `when` condition: false for a missing value, an empty string, `false`, `no`, `0`, or an empty list. */
export function truthy(v: unknown): boolean {
  if (missing(v) || v === false || v === 0) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "string") return !["false", "no", "0", "off"].includes(v.trim().toLowerCase());
  return true;
}
