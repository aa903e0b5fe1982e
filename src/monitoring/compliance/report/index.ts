// Compliance reports: readiness as HTML, PDF, CSV and JSON, and the signed auditor bundle.
export {
  type AuditorBundleOptions,
  type AuditorBundleResult,
  type AuditorManifest,
  sanitiseEvidenceName,
  verifyAuditorBundle,
  writeAuditorBundle,
} from "./bundle.ts";
export { CSV_HEADER, csvCell, readinessCsv } from "./csv.ts";
export { escapeHtml } from "./format.ts";
export { renderReadinessHtml } from "./html.ts";
export { readinessJson, toStableValue } from "./json.ts";
export { findChromium, NO_CHROMIUM, renderPdf, runChromium } from "./pdf.ts";
