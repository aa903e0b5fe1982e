// Masking one stored value so the result still fits its column: text keeps its length limit,
// integers stay integers within the column's range, dates stay dates, JSON stays JSON. Every
// output derives from the masker's keyed HMAC (or hash) of the value's text form, so equal values
// give equal outputs in every table of the copy.
import { randomInt, randomUUID } from "node:crypto";
import { isPersonalCategory, type Field } from "../map/model.ts";
import type { Masker, MaskingStrategy } from "../masking.ts";
import type { ColumnKind } from "./catalog.ts";
import type { ColumnMask } from "./plan.ts";

/** A value as the copy moves it: database text, raw bytes (MySQL binary columns) or NULL. */
export type Cell = string | Buffer | null;

const SAFE = 2 ** 48; // the masker's integers are 48-bit
const DAY = 86_400_000;
const DATE_FROM = Date.UTC(1930, 0, 1);
const TIME_FROM = Date.UTC(1975, 0, 1);
const pad = (n: number, w = 2) => String(n).padStart(w, "0");

function seedOf(masker: Masker, text: string, s: MaskingStrategy): number {
  if (s.strategy === "random_string_rewrite") return randomInt(SAFE - 1);
  return masker.mask(text, s, { dataType: "integer" }) as number;
}

function hexOf(masker: Masker, text: string, s: MaskingStrategy): string {
  if (s.strategy === "random_string_rewrite") return randomUUID().replaceAll("-", "").repeat(2);
  return masker.mask(text, { ...s, strategy: s.strategy === "hash" ? "hash" : "hmac" }) as string;
}

/** Masks one cell of a column of `kind`; `binaryAsText` says how this database writes bytea (PG: `\x…` text). */
export function maskCell(
  masker: Masker,
  value: Cell,
  kind: ColumnKind,
  m: ColumnMask,
  binaryAsText: boolean,
): Cell {
  if (value === null) return null;
  const s = m.strategy;
  if (s.strategy === "preserve") return value;
  if (s.strategy === "null_rewrite") return null;
  const text = Buffer.isBuffer(value) ? value.toString("hex") : value;
  if (m.nested) return maskNested(masker, text, m.nested);
  switch (kind) {
    case "text":
      return masker.mask(text, s, m.length !== undefined ? { length: m.length } : {}) as string;
    case "json":
      return JSON.stringify(masker.mask(text, s));
    case "integer":
    case "numeric":
    case "float": {
      const max = Math.min(m.max ?? SAFE - 1, SAFE - 1);
      return String(seedOf(masker, text, s) % (max + 1));
    }
    case "boolean":
      return seedOf(masker, text, s) % 2 === 0 ? "false" : "true";
    case "date": {
      const d = new Date(DATE_FROM + (seedOf(masker, text, s) % 36_525) * DAY);
      return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    }
    case "timestamp":
    case "timestamptz": {
      const d = new Date(TIME_FROM + (seedOf(masker, text, s) % (60 * 365 * 86_400)) * 1000);
      const t = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
      return kind === "timestamptz" ? `${t}+00` : t;
    }
    case "uuid": {
      const h = hexOf(masker, text, s);
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
    }
    case "binary": {
      const h = hexOf(masker, text, s);
      const bytes = Buffer.from(h, "hex").subarray(0, m.length ?? 32);
      return binaryAsText ? `\\x${bytes.toString("hex")}` : bytes;
    }
    case "inet": {
      const n = seedOf(masker, text, s);
      return `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    }
    case "other":
      return null; // the plan allows only null_rewrite here
  }
}

// A JSON document whose nested fields are mapped: only the personal leaves change.
function maskNested(masker: Masker, text: string, fields: readonly Field[]): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return JSON.stringify(null); // not JSON: nothing can be kept safely
  }
  const walk = (node: unknown, fs: readonly Field[]): unknown => {
    if (Array.isArray(node)) return node.map((n) => walk(n, fs));
    if (node === null || typeof node !== "object") return node;
    const o = { ...(node as Record<string, unknown>) };
    for (const f of fs) {
      if (!Object.hasOwn(o, f.name)) continue;
      if (f.categories.some(isPersonalCategory) && f.fields.length === 0) {
        const s = f.masking ?? { strategy: "hmac" as const };
        o[f.name] = masker.mask(o[f.name], s, f.dataType ? { dataType: f.dataType } : {});
      } else o[f.name] = walk(o[f.name], f.fields);
    }
    return o;
  };
  return JSON.stringify(walk(doc, fields));
}
