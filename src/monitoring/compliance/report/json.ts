// A framework's readiness as JSON for machines: dates as ISO 8601 strings and keys sorted, so the
// same state always gives the same bytes (and the same hash in an auditor bundle's manifest).
import type { FrameworkReadiness } from "../model.ts";

/** Dates to ISO strings, object keys sorted, undefined fields dropped. */
export function toStableValue(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(toStableValue);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined && typeof x !== "function") out[k] = toStableValue(x);
    }
    return out;
  }
  return v;
}

/** The readiness as pretty-printed, stable JSON text ending in a newline. */
export function readinessJson(r: FrameworkReadiness): string {
  return `${JSON.stringify(toStableValue(r), null, 2)}\n`;
}
