// What the engine does to one row: makes it JSON-safe (so a resumed run masks exactly what the
// first run saw), keeps the mapped fields, computes masked or corrected values, and hashes what
// was there for the receipt.
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { type Collection, type Field, isPersonalCategory } from "../map/model.ts";
import type { Masker, MaskingStrategy } from "../masking.ts";
import type { FoundRow } from "./types.ts";

type Values = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Values =>
  v !== null &&
  typeof v === "object" &&
  !Array.isArray(v) &&
  !(v instanceof Date) &&
  !(v instanceof Uint8Array);

/** A value as it survives JSON: dates as ISO strings, bytes as base64, bigints as strings, no undefined. */
export function jsonSafe(v: unknown): unknown {
  if (v === undefined || typeof v === "function" || typeof v === "symbol") return undefined;
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  if (Array.isArray(v)) return v.map((x) => jsonSafe(x) ?? null);
  if (v !== null && typeof v === "object") {
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      // Driver types (ObjectId, Decimal128) say what they are through toJSON.
      const toJSON = (v as { toJSON?: () => unknown }).toJSON;
      return typeof toJSON === "function" ? jsonSafe(toJSON.call(v)) : String(v);
    }
    const out: Values = {};
    for (const [k, x] of Object.entries(v)) {
      const s = jsonSafe(x);
      if (s !== undefined) out[k] = s;
    }
    return out;
  }
  return v;
}

/** Values at a dotted path, walking into arrays at every level. */
export function valuesAt(value: unknown, path: readonly string[]): unknown[] {
  if (Array.isArray(value)) return value.flatMap((v) => valuesAt(v, path));
  if (path.length === 0) return value === undefined ? [] : [value];
  if (value === null || typeof value !== "object") return [];
  const [head, ...rest] = path as [string, ...string[]];
  return valuesAt((value as Values)[head], rest);
}

/** The row as the engine keeps it: JSON-safe, with only the top-level fields the map declares (whole). */
export function keepMapped(collection: Collection, row: FoundRow): FoundRow {
  const values: Values = {};
  for (const f of collection.fields)
    if (Object.hasOwn(row.values, f.name)) values[f.name] = jsonSafe(row.values[f.name]) ?? null;
  return { id: row.id, values };
}

/** The mapped fields a `keep` predicate selects, nested ones inside copies of their parents. */
function project(fields: readonly Field[], value: unknown, keep: (f: Field) => boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => project(fields, v, keep));
  if (!isPlainObject(value)) return undefined;
  const out: Values = {};
  for (const f of fields) {
    if (!Object.hasOwn(value, f.name)) continue;
    const v = value[f.name];
    if (keep(f)) out[f.name] = v;
    else if (f.fields.length > 0) {
      const inner = project(f.fields, v, keep);
      if (inner !== undefined && !(isPlainObject(inner) && Object.keys(inner).length === 0))
        out[f.name] = inner;
    }
  }
  return out;
}

/** The row's mapped fields only, nested ones filtered too: what the subject's export shows. */
export const mappedView = (c: Collection, values: Values): Values =>
  project(c.fields, values, (f) => f.fields.length === 0) as Values;

/** The row's personal fields only: what the receipt's hash covers. */
export const personalView = (c: Collection, values: Values): Values =>
  project(c.fields, values, (f) => f.categories.some(isPersonalCategory)) as Values;

/** SHA-256 (hex) of the canonical JSON of the rows' personal fields, in id order. */
export function foundHash(c: Collection, rows: readonly FoundRow[]): string {
  const body = [...rows]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((r) => ({ id: r.id, values: personalView(c, r.values) }));
  return createHash("sha256")
    .update(canonicalize(body) ?? "[]")
    .digest("hex");
}

export interface MaskRule {
  /** Whether erasure touches this field (its categories fall under the policy's). */
  covers(f: Field): boolean;
  /** The strategy for a covered field. */
  strategy(f: Field): MaskingStrategy;
}

function maskValue(masker: Masker, f: Field, s: MaskingStrategy, v: unknown): unknown {
  const sample = Array.isArray(v) ? v.find((x) => x !== null && x !== undefined) : v;
  // An untyped integer key stays an integer, so it still fits its column and matches its references.
  const dataType = f.dataType ?? (Number.isInteger(sample) ? "integer" : undefined);
  return masker.mask(v, s, { ...(dataType ? { dataType } : {}), ...(f.length ? { length: f.length } : {}) });
}

/** Masks covered nested fields inside `obj` (a copy) in place; whether anything changed. */
function maskInside(fields: readonly Field[], obj: unknown, masker: Masker, rule: MaskRule): boolean {
  if (Array.isArray(obj)) {
    let changed = false;
    for (const el of obj) changed = maskInside(fields, el, masker, rule) || changed;
    return changed;
  }
  if (!isPlainObject(obj)) return false;
  let changed = false;
  for (const f of fields) {
    if (!Object.hasOwn(obj, f.name)) continue;
    if (f.fields.length > 0) changed = maskInside(f.fields, obj[f.name], masker, rule) || changed;
    else if (rule.covers(f) && obj[f.name] !== null) {
      obj[f.name] = maskValue(masker, f, rule.strategy(f), obj[f.name]);
      changed = true;
    }
  }
  return changed;
}

/** The new top-level values that mask a row's covered fields; empty when nothing is covered. */
export function maskRow(c: Collection, values: Values, masker: Masker, rule: MaskRule): Values {
  const set: Values = {};
  for (const f of c.fields) {
    if (!Object.hasOwn(values, f.name)) continue;
    const v = values[f.name];
    if (f.fields.length > 0) {
      const copy = structuredClone(v);
      if (maskInside(f.fields, copy, masker, rule)) set[f.name] = copy;
    } else if (rule.covers(f) && v !== null) set[f.name] = maskValue(masker, f, rule.strategy(f), v);
  }
  return set;
}

/** Whether `f` (or a nested field) is covered, so erasure must touch the collection. */
export const anyCovered = (fields: readonly Field[], rule: MaskRule): boolean =>
  fields.some((f) => (f.fields.length > 0 ? anyCovered(f.fields, rule) : rule.covers(f)));

/** The new top-level value that sets `path` to `value` in a copy of the row (in every element of arrays on the way). */
export function correctRow(values: Values, path: readonly string[], value: unknown): Values {
  const [top, ...rest] = path as [string, ...string[]];
  if (rest.length === 0) return { [top]: value };
  const copy = structuredClone(values[top] ?? {});
  const walk = (at: unknown, steps: readonly string[]) => {
    if (Array.isArray(at)) {
      for (const el of at) walk(el, steps);
      return;
    }
    if (!isPlainObject(at)) return;
    const [head, ...tail] = steps as [string, ...string[]];
    if (tail.length === 0) at[head] = structuredClone(value);
    else {
      if (!isPlainObject(at[head]) && !Array.isArray(at[head])) at[head] = {};
      walk(at[head], tail);
    }
  };
  walk(copy, rest);
  return { [top]: copy };
}
