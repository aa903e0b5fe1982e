// What every provider's checks share: the check signature, world-open network ranges, linking a
// helper resource (public access block, diagnostic setting) to the resource it protects, and
// data residency (allowed regions, India and EU presets).
import { Invalid } from "../../../../platform/errors.ts";
import type { ScanSeverity } from "../../types.ts";
import { type Plan, type PlanResource, read, references, stripKeys } from "../plan.ts";

/** Options that change what the checks demand. */
export interface IacScanOptions {
  /** Demand customer-managed keys (KMS/CMEK/disk encryption sets), not provider-managed ones. */
  requireCmk?: boolean;
  /** Allowed regions/locations (any provider's names, case-insensitive). */
  regions?: string[];
  /** A preset of allowed regions, added to `regions`. */
  residency?: ResidencyPreset;
}

/** A finding before the scanner adds its file and fingerprint. */
export interface IacIssue {
  rule: string;
  severity: ScanSeverity;
  title: string;
  fix: string;
  /** Resource address; `plan` for findings about the plan as a whole. */
  resource: string;
  /** Attribute path inside the resource. */
  path?: string;
  references?: string[];
}

export interface CheckContext {
  plan: Plan;
  options: IacScanOptions;
}

/** A provider's checks: everything wrong in the plan for that provider. */
export type ProviderChecks = (ctx: CheckContext) => IacIssue[];

/** One documented check, for docs and tests. */
export interface CheckInfo {
  rule: string;
  severity: ScanSeverity;
  resources: string;
  what: string;
  references?: string[];
}

export const WORLD_V4 = "0.0.0.0/0";
export const WORLD_V6 = "::/0";

/** A CIDR or address prefix meaning "anyone on the internet". */
export function isWorld(cidr: string): boolean {
  const c = cidr.trim().toLowerCase();
  return c === WORLD_V4 || c === WORLD_V6 || c === "*" || c === "internet" || c === "any";
}

/** An inclusive port range; all ports when the protocol is "all". */
export interface PortRange {
  from: number;
  to: number;
}

export const ALL_PORTS: PortRange = { from: 0, to: 65535 };

/** Parses `22`, `8000-8080`, `*`; undefined when not a port spec. */
export function portRange(spec: string): PortRange | undefined {
  const s = spec.trim();
  if (s === "*" || s === "") return ALL_PORTS;
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  if (!m) return undefined;
  const from = Number(m[1]);
  return { from, to: m[2] !== undefined ? Number(m[2]) : from };
}

const WEB_PORTS = new Set([80, 443]);

/** Issues for one world-open ingress rule covering `ranges`: SSH, RDP, anything else but 80/443. */
export function worldOpenIssues(
  resource: string,
  path: string,
  ranges: PortRange[],
  fix: string,
  refs: { ssh?: string[]; rdp?: string[] } = {},
): IacIssue[] {
  const covers = (p: number): boolean => ranges.some((r) => r.from <= p && p <= r.to);
  const out: IacIssue[] = [];
  if (covers(22))
    out.push({
      rule: "IAC-NET-OPEN-SSH",
      severity: "critical",
      title: "SSH (22) is open to the whole internet",
      fix,
      resource,
      path,
      references: refs.ssh,
    });
  if (covers(3389))
    out.push({
      rule: "IAC-NET-OPEN-RDP",
      severity: "critical",
      title: "RDP (3389) is open to the whole internet",
      fix,
      resource,
      path,
      references: refs.rdp,
    });
  const other = ranges.some((r) => {
    for (let p = r.from; p <= r.to; p++) if (!WEB_PORTS.has(p) && p !== 22 && p !== 3389) return true;
    return false;
  });
  if (other) {
    const shown = ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(", ");
    out.push({
      rule: "IAC-NET-WORLD-OPEN",
      severity: "high",
      title: `ports ${shown} are open to the whole internet (only 80/443 should be, through the WAF)`,
      fix,
      resource,
      path,
    });
  }
  return out;
}

/** Resources of these types. */
export function ofType(plan: Plan, ...types: string[]): PlanResource[] {
  return plan.resources.filter((r) => types.includes(r.type));
}

/** The base address a configuration reference inside `from`'s module points to. */
function referencedAddress(from: PlanResource, ref: string): string {
  const parts = ref.split(".");
  const base = parts.length >= 2 ? `${parts[0]}.${parts[1]}` : ref;
  return stripKeys(from.module ? `${from.module}.${base}` : base);
}

/**
 * Whether `helper.attr` points at `target`: by a configuration reference (the usual case: the
 * value is known only after apply) or by an equal known value (name or id).
 */
export function pointsAt(
  helper: PlanResource,
  attr: string,
  target: PlanResource,
  targetValues: string[],
): boolean {
  const targetBase = stripKeys(target.address);
  if (references(helper.expressions, attr).some((ref) => referencedAddress(helper, ref) === targetBase)) {
    const hk = /\[[^\]]*\]$/.exec(helper.address)?.[0];
    const tk = /\[[^\]]*\]$/.exec(target.address)?.[0];
    return hk === undefined || tk === undefined || hk === tk;
  }
  const v = read(helper.root, attr);
  return v.state === "known" && typeof v.value === "string" && targetValues.includes(v.value);
}

/** Known string values of a resource's attributes (name, id, bucket…), for linking by value. */
export function knownStrings(r: PlanResource, ...attrs: string[]): string[] {
  const out: string[] = [];
  for (const a of attrs) {
    const v = read(r.root, a);
    if (v.state === "known" && typeof v.value === "string" && v.value !== "") out.push(v.value);
  }
  return out;
}

// Data residency -----------------------------------------------------------------------------

export const residencyPresets = {
  india: {
    aws: ["ap-south-1", "ap-south-2"],
    google: ["asia-south1", "asia-south2"],
    azurerm: ["centralindia", "southindia", "westindia", "jioindiawest", "jioindiacentral"],
  },
  // Member states of the EU only: London (UK), Zurich/Geneva (Switzerland) and Norway are
  // outside the EU; add them with --regions when EEA/adequacy is what you need.
  eu: {
    aws: ["eu-central-1", "eu-west-1", "eu-west-3", "eu-south-1", "eu-south-2", "eu-north-1"],
    google: [
      "europe-west1",
      "europe-west3",
      "europe-west4",
      "europe-west8",
      "europe-west9",
      "europe-west10",
      "europe-west12",
      "europe-north1",
      "europe-north2",
      "europe-central2",
      "europe-southwest1",
      "eu",
      "eur4",
    ],
    azurerm: [
      "westeurope",
      "northeurope",
      "francecentral",
      "francesouth",
      "germanywestcentral",
      "germanynorth",
      "swedencentral",
      "swedensouth",
      "italynorth",
      "polandcentral",
      "spaincentral",
    ],
  },
} as const;

export type ResidencyPreset = keyof typeof residencyPresets;

/** `Central India` → `centralindia`; `ASIA-SOUTH1` → `asia-south1`. */
export function normalizeRegion(r: string): string {
  return r.trim().toLowerCase().replace(/\s+/g, "");
}

/** The allowed set from `--regions` and `--residency`, or undefined when residency is not checked. */
export function allowedRegions(o: IacScanOptions): Set<string> | undefined {
  if (!o.regions?.length && !o.residency) return undefined;
  const out = new Set<string>((o.regions ?? []).map(normalizeRegion).filter((r) => r !== ""));
  if (o.residency) {
    // The preset name may come from config or an API call, not only the CLI's checked choices.
    if (!Object.hasOwn(residencyPresets, o.residency))
      throw new Invalid(`unknown residency preset '${o.residency}'`, "residency");
    for (const list of Object.values(residencyPresets[o.residency])) for (const r of list) out.add(r);
  }
  return out;
}

/** A located resource: where it lives and which attribute (or provider setting) says so. */
export interface Placement {
  region: string;
  path: string;
}

/** A resource and where it lives. */
export interface PlanResourcePlacement {
  resource: PlanResource;
  placement: Placement;
}

/** Residency findings: every placed resource outside the allowed set is high. */
export function residencyIssues(placed: PlanResourcePlacement[], o: IacScanOptions): IacIssue[] {
  const allowed = allowedRegions(o);
  if (!allowed) return [];
  const name = [o.residency, ...(o.regions ?? [])].filter((x) => x !== undefined).join(" + ");
  const out: IacIssue[] = [];
  for (const { resource, placement } of placed) {
    const region = normalizeRegion(placement.region);
    if (allowed.has(region)) continue;
    // Name the provider's own allowed regions in the fix (the set mixes every provider's names).
    const presets = o.residency ? (residencyPresets[o.residency] as Record<string, readonly string[]>) : {};
    // The provider is the plan's (a resource type's prefix): an own-key lookup only.
    const preset = Object.hasOwn(presets, resource.provider) ? presets[resource.provider] : undefined;
    const choices = [...(preset ?? []), ...(o.regions ?? [])];
    out.push({
      rule: "IAC-RESIDENCY",
      severity: "high",
      title: `${resource.type} is placed in '${placement.region}', outside the allowed regions (${name})`,
      fix: `move it to one of: ${choices.join(", ")}`,
      resource: resource.address,
      path: placement.path,
    });
  }
  return out;
}
