// The access export a subject receives (GDPR Art. 15 and 20, DPDP s.11): canonical JSON whose
// SHA-256 goes into the signed receipt, a flat CSV any tool can read, and a readable HTML page
// that is self-contained, escaped and runs no script.
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import type { RequestKind } from "./types.ts";

export interface ExportRow {
  /** The store's locator of the row. */
  id: string;
  values: Record<string, unknown>;
}

export interface AccessExport {
  request: { id: string; kind: RequestKind; completedAt: string };
  generatedAt: string;
  /** dataset → collection → rows (mapped fields only). */
  datasets: Record<string, Record<string, ExportRow[]>>;
  /** "dataset.collection.field.path" → data categories. */
  categories: Record<string, string[]>;
}

export type ExportFormat = "json" | "csv" | "html";

export const exportContentTypes: Record<ExportFormat, string> = {
  json: "application/json; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  html: "text/html; charset=utf-8",
};

/** Canonical JSON (RFC 8785): the same export always gives the same bytes and hash. */
export const exportJson = (e: AccessExport): string => canonicalize(e) ?? "{}";

export const sha256Hex = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

interface Leaf {
  /** Path with element positions, e.g. "emergency_contacts[1].phone". */
  path: string;
  /** Path without positions, as the data map names the field. */
  field: string;
  value: unknown;
}

function leaves(value: unknown, path: string, field: string, out: Leaf[]): Leaf[] {
  if (Array.isArray(value) && value.length > 0)
    value.forEach((v, i) => {
      leaves(v, `${path}[${i}]`, field, out);
    });
  else if (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    Object.keys(value).length > 0
  )
    for (const [k, v] of Object.entries(value))
      leaves(v, path ? `${path}.${k}` : k, field ? `${field}.${k}` : k, out);
  else out.push({ path, field, value });
  return out;
}

const text = (v: unknown): string =>
  v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);

interface Line {
  dataset: string;
  collection: string;
  row: string;
  leaf: Leaf;
  categories: string[];
}

function lines(e: AccessExport): Line[] {
  const out: Line[] = [];
  for (const dataset of Object.keys(e.datasets).sort())
    for (const collection of Object.keys(e.datasets[dataset] ?? {}).sort())
      for (const row of e.datasets[dataset]?.[collection] ?? [])
        for (const leaf of leaves(row.values, "", "", []))
          out.push({
            dataset,
            collection,
            row: row.id,
            leaf,
            categories: e.categories[`${dataset}.${collection}.${leaf.field}`] ?? [],
          });
  return out;
}

const csvCell = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/** One line per value: dataset,collection,row,field,category,value (categories joined by ';'), RFC 4180 quoting. */
export function exportCsv(e: AccessExport): string {
  const rows = [["dataset", "collection", "row", "field", "category", "value"]];
  for (const l of lines(e))
    rows.push([l.dataset, l.collection, l.row, l.leaf.path, l.categories.join(";"), text(l.leaf.value)]);
  return `${rows.map((r) => r.map(csvCell).join(",")).join("\r\n")}\r\n`;
}

const categoryWords: Record<string, string> = {
  user: "personal data",
  "user.contact": "contact details",
  "user.contact.email": "email address",
  "user.contact.phone_number": "phone number",
  "user.contact.address": "postal address",
  "user.contact.address.street": "street address",
  "user.contact.address.city": "city",
  "user.contact.address.state": "state or region",
  "user.contact.address.postal_code": "postal code",
  "user.contact.address.country": "country",
  "user.name": "name",
  "user.unique_id": "an identifier of you",
  "user.financial": "financial information",
  "user.financial.bank_account": "bank account or card number",
  "user.demographic": "demographic information",
  "user.demographic.date_of_birth": "date of birth",
  "user.demographic.gender": "gender",
  "user.job_title": "job title",
  "user.childrens": "information about your children",
  "user.sensor": "device or sensor data",
  "user.location": "location",
  "user.device": "device information",
  "user.behavior": "how you use our services",
  "user.health_and_medical": "health information",
  "user.government_id": "government identifier",
  "user.authorization.credentials": "credentials",
  "system.operations": "data we need to run the service",
};

/** A category in plain words: the known ones by name, others from their last parts. */
export function categoryInWords(category: string): string {
  const known = categoryWords[category];
  if (known) return known;
  const parts = category.split(".").filter((p) => p !== "user");
  return parts.map((p) => p.replaceAll("_", " ")).join(", ") || category;
}

const escapeHtml = (s: string) =>
  s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");

const STYLE =
  "body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#111}" +
  "table{border-collapse:collapse;width:100%;margin:0 0 2rem}th,td{border:1px solid #ccc;padding:.3rem .5rem;" +
  "text-align:left;vertical-align:top}th{background:#f3f3f3}td.v{white-space:pre-wrap;word-break:break-word}" +
  "caption{text-align:left;font-weight:600;padding:.3rem 0}";
const STYLE_HASH = createHash("sha256").update(STYLE).digest("base64");

/** A readable page: one table per collection, categories in plain words; no script, no external resource. */
export function exportHtml(e: AccessExport): string {
  const all = lines(e);
  const out: string[] = [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-${STYLE_HASH}'; base-uri 'none'; form-action 'none'">`,
    '<meta name="referrer" content="no-referrer">',
    `<title>Your data — request ${escapeHtml(e.request.id)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    "<h1>The personal data we hold about you</h1>",
    `<p>Request <strong>${escapeHtml(e.request.id)}</strong>, completed ${escapeHtml(e.request.completedAt)}. ` +
      "Each table below is one place where we store data; each line is one value we found for you.</p>",
  ];
  if (all.length === 0) out.push("<p>We found no data about you.</p>");
  for (const dataset of Object.keys(e.datasets).sort()) {
    const collections = Object.keys(e.datasets[dataset] ?? {})
      .sort()
      .filter((c) => (e.datasets[dataset]?.[c] ?? []).length > 0);
    if (collections.length === 0) continue;
    out.push(`<h2>${escapeHtml(dataset)}</h2>`);
    for (const collection of collections) {
      const rows = e.datasets[dataset]?.[collection] ?? [];
      out.push(
        `<table><caption>${escapeHtml(collection)} (${rows.length} ${rows.length === 1 ? "record" : "records"})</caption>`,
        "<thead><tr><th>Record</th><th>Field</th><th>Kind of data</th><th>Value</th></tr></thead><tbody>",
      );
      rows.forEach((row, i) => {
        for (const leaf of leaves(row.values, "", "", [])) {
          const cats = e.categories[`${dataset}.${collection}.${leaf.field}`] ?? [];
          const words = [...new Set(cats.map(categoryInWords))].join("; ");
          out.push(
            `<tr><td>${i + 1}</td><td>${escapeHtml(leaf.path)}</td><td>${escapeHtml(words)}</td>` +
              `<td class="v">${escapeHtml(text(leaf.value))}</td></tr>`,
          );
        }
      });
      out.push("</tbody></table>");
    }
  }
  out.push("</body></html>");
  return `${out.join("\n")}\n`;
}

/** The export in `format`, with its content type. */
export function renderExport(e: AccessExport, format: ExportFormat): { contentType: string; body: string } {
  const body = format === "json" ? exportJson(e) : format === "csv" ? exportCsv(e) : exportHtml(e);
  return { contentType: exportContentTypes[format], body };
}
