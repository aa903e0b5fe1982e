// A framework's readiness as CSV, one row per requirement and mapped control, for spreadsheets and
// GRC imports. RFC 4180 quoting; cells that a spreadsheet would run as a formula are defused.
import type { FrameworkReadiness } from "../model.ts";
import { isOpenFailure } from "./format.ts";

export const CSV_HEADER = [
  "framework",
  "ref",
  "title",
  "requirement_status",
  "control_id",
  "relationship",
  "control_status",
  "failing_items",
  "overdue_items",
] as const;

/** Quotes a cell per RFC 4180 and prefixes ' to cells starting with = + - @ (or tab/CR) against formula injection. */
export function csvCell(value: string | number): string {
  let s = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

const row = (cells: (string | number)[]): string => cells.map(csvCell).join(",");

/** One row per requirement × control (a requirement with no control gets one row with empty control cells); CRLF line ends. */
export function readinessCsv(r: FrameworkReadiness): string {
  const controls = new Map(r.controls.map((c) => [c.control.id, c]));
  const lines = [row([...CSV_HEADER])];
  for (const req of r.requirements) {
    const base = [r.framework.id, req.requirement.ref, req.requirement.title, req.status];
    if (req.controls.length === 0) lines.push(row([...base, "", "", "", 0, 0]));
    for (const c of req.controls) {
      const items = controls.get(c.id)?.checks.flatMap((k) => k.items) ?? [];
      const failing = items.filter(isOpenFailure).length;
      const overdue = items.filter((i) => i.standing === "overdue").length;
      lines.push(row([...base, c.id, c.relationship, c.status, failing, overdue]));
    }
  }
  return `${lines.join("\r\n")}\r\n`;
}
