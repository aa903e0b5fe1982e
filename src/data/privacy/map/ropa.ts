// Records of processing activities (GDPR Art. 30(1); DPDP asks the same questions of a significant
// data fiduciary's audit): one record per system and purpose, built from the data map, with the
// categories actually held, recipients, storage regions, transfers out of the home jurisdictions
// and the retention that applies. Rendered as Markdown, CSV (spreadsheets) and JSON.
import { cell, durationWords } from "./render.ts";
import {
  allFields,
  categoryCovers,
  type DataMap,
  isPersonalCategory,
  type LegalBasis,
  type Purpose,
  type RetentionPolicy,
  type System,
} from "./model.ts";

export interface RopaOptions {
  /** The controller (data fiduciary) named in every record. */
  controller: string;
  /** Jurisdictions (ISO country codes, "EU") or regions where data is at home; default EU and India. */
  homeRegions?: readonly string[];
}

export interface RopaTransfer {
  region: string;
  /** ISO country code, or "unknown" for a region we cannot place. */
  country: string;
}

export interface RopaRecord {
  controller: string;
  systemKey: string;
  system: string;
  owner?: string;
  purposeKey: string;
  purpose: string;
  legalBasis: LegalBasis;
  consentRequired: boolean;
  dataSubjects: string[];
  /** Personal data categories the system holds for this purpose (the purpose's own list when none are mapped). */
  dataCategories: string[];
  /** Processors (vendors) the system shares data with. */
  recipients: string[];
  regions: string[];
  /** Regions outside the home jurisdictions: transfers that need a safeguard (SCCs, adequacy, DPDP s.16). */
  transfers: RopaTransfer[];
  retention: string[];
}

const EU = new Set(
  "AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split(" "),
);
/** The EEA states outside the EU: GDPR applies there, so they count as EU for transfers. */
const EEA = new Set(["IS", "LI", "NO"]);

/** Cloud regions (AWS, Google Cloud, Azure) by the country their data centres are in. */
const cloudRegions: Record<string, string> = {
  "ap-south-1": "IN",
  "ap-south-2": "IN",
  "asia-south1": "IN",
  "asia-south2": "IN",
  centralindia: "IN",
  southindia: "IN",
  westindia: "IN",
  "eu-west-1": "IE",
  "eu-west-2": "GB",
  "eu-west-3": "FR",
  "eu-central-1": "DE",
  "eu-central-2": "CH",
  "eu-north-1": "SE",
  "eu-south-1": "IT",
  "eu-south-2": "ES",
  "europe-west1": "BE",
  "europe-west2": "GB",
  "europe-west3": "DE",
  "europe-west4": "NL",
  "europe-west6": "CH",
  "europe-west8": "IT",
  "europe-west9": "FR",
  "europe-north1": "FI",
  "europe-central2": "PL",
  "europe-southwest1": "ES",
  westeurope: "NL",
  northeurope: "IE",
  francecentral: "FR",
  germanywestcentral: "DE",
  swedencentral: "SE",
  uksouth: "GB",
  ukwest: "GB",
  "ap-southeast-1": "SG",
  "ap-southeast-2": "AU",
  "ap-northeast-1": "JP",
  "ap-northeast-2": "KR",
  "ap-east-1": "HK",
  "sa-east-1": "BR",
  "af-south-1": "ZA",
  "me-south-1": "BH",
  "me-central-1": "AE",
  "il-central-1": "IL",
};

/** The ISO country of a region name ("ap-south-1" → IN, "DE" → DE), or "unknown". */
export function countryOfRegion(region: string): string {
  if (/^[A-Za-z]{2}$/.test(region)) return region.toUpperCase();
  const r = region.toLowerCase();
  if (cloudRegions[r]) return cloudRegions[r];
  if (/^(us-|us[a-z]|eastus|westus|centralus|northcentralus|southcentralus|westcentralus)/.test(r))
    return "US";
  if (/^(ca-|northamerica-northeast|canada)/.test(r)) return "CA";
  return "unknown";
}

/** Whether `region` lies in one of `homes` (country codes, "EU", or region names). */
export function isHomeRegion(region: string, homes: readonly string[]): boolean {
  const country = countryOfRegion(region);
  return homes.some((h) => {
    const home = h.toUpperCase();
    if (h.toLowerCase() === region.toLowerCase() || home === country) return true;
    return (home === "EU" || home === "EEA") && (EU.has(country) || EEA.has(country));
  });
}

const triggerWords: Record<RetentionPolicy["trigger"], string> = {
  last_activity: "last activity",
  created: "creation",
  purpose_fulfilled: "the purpose is fulfilled",
};

function retentionFor(map: DataMap, purpose: Purpose, categories: readonly string[]): RetentionPolicy[] {
  return map.retention.filter(
    (r) =>
      r.purposes.includes(purpose.key) ||
      (r.purposes.length === 0 && categories.some((c) => r.categories.some((w) => categoryCovers(w, c)))),
  );
}

function heldCategories(map: DataMap, system: System): string[] {
  const datasets = map.datasets.filter((d) => system.datasets.includes(d.key));
  const all = datasets.flatMap((d) =>
    d.collections.flatMap((c) => allFields(c.fields).flatMap((f) => f.categories)),
  );
  return [...new Set(all.filter(isPersonalCategory))].toSorted();
}

/** One record per system and purpose, in map order. */
export function buildRopa(map: DataMap, options: RopaOptions): RopaRecord[] {
  const homes = options.homeRegions ?? ["EU", "IN"];
  const purposes = new Map(map.purposes.map((p) => [p.key, p]));
  return map.systems.flatMap((s) => {
    const held = heldCategories(map, s);
    return s.purposes.flatMap((key): RopaRecord[] => {
      const p = purposes.get(key);
      if (!p) return [];
      const covered =
        p.categories.length === 0 ? held : held.filter((c) => p.categories.some((w) => categoryCovers(w, c)));
      const categories = covered.length > 0 ? covered : p.categories;
      const record: RopaRecord = {
        controller: options.controller,
        systemKey: s.key,
        system: s.name,
        purposeKey: p.key,
        purpose: p.name,
        legalBasis: p.legalBasis,
        consentRequired: p.requiresConsent,
        dataSubjects: p.subjects,
        dataCategories: categories,
        recipients: s.processors,
        regions: s.regions,
        transfers: s.regions
          .filter((r) => !isHomeRegion(r, homes))
          .map((region) => ({ region, country: countryOfRegion(region) })),
        retention: retentionFor(map, p, categories).map(
          (r) =>
            `${r.key}: ${durationWords(r.period)} after ${triggerWords[r.trigger]}, then ${r.action}${r.legalHold ? " (legal hold)" : ""}`,
        ),
      };
      if (s.owner) record.owner = s.owner;
      return [record];
    });
  });
}

const columns: [string, (r: RopaRecord) => string][] = [
  ["Controller", (r) => r.controller],
  ["System", (r) => r.system],
  ["Owner", (r) => r.owner ?? ""],
  ["Purpose", (r) => `${r.purpose} (${r.purposeKey})`],
  [
    "Legal basis",
    (r) => r.legalBasis + (r.consentRequired && r.legalBasis !== "consent" ? " + consent" : ""),
  ],
  ["Data subjects", (r) => r.dataSubjects.join("; ")],
  ["Data categories", (r) => r.dataCategories.join("; ")],
  ["Recipients", (r) => r.recipients.join("; ")],
  ["Regions", (r) => r.regions.join("; ")],
  [
    "Transfers outside home",
    (r) => r.transfers.map((t) => `${t.region} (${t.country})`).join("; ") || "none",
  ],
  ["Retention", (r) => r.retention.join("; ")],
];

/** Markdown table of the records, with a heading naming the controller and home jurisdictions. */
export function renderRopaMarkdown(records: readonly RopaRecord[], options: RopaOptions): string {
  const homes = options.homeRegions ?? ["EU", "IN"];
  const head = columns.filter(([name]) => name !== "Controller");
  return [
    `# Records of processing activities: ${options.controller}`,
    "",
    `GDPR Art. 30(1). Home jurisdictions: ${homes.join(", ")}; any other region is listed as a transfer.`,
    "",
    `| ${head.map(([n]) => n).join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...records.map((r) => `| ${head.map(([, v]) => cell(v(r) || "-")).join(" | ")} |`),
    "",
  ].join("\n");
}

/** A CSV cell: quoted when needed; a leading = + - @ is defused so spreadsheets do not run it as a formula. */
function csvCell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** RFC 4180 CSV with a header row (lists joined with "; "). */
export function renderRopaCsv(records: readonly RopaRecord[]): string {
  const rows = [columns.map(([n]) => n), ...records.map((r) => columns.map(([, v]) => v(r)))];
  return rows.map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

export function renderRopaJson(records: readonly RopaRecord[]): string {
  return `${JSON.stringify(records, null, 2)}\n`;
}
