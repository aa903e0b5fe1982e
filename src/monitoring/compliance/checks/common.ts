// What the built-in checks share: the `compliance:` config section read loosely (the lead adds its
// schema; the checks must not depend on it), route classification, and small time helpers.
import type { Kysely } from "kysely";
import { type RouteConfig, routeId } from "../../../config/index.ts";
import { compileGlob } from "../../../identity/policy/index.ts";
import type { CheckContext, CheckItem } from "../model.ts";

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;

/** Incident severities as compliance speaks of them, mapped to detection priorities (P0 most urgent). */
export const severities = ["critical", "high", "medium", "low"] as const;
export type Severity = (typeof severities)[number];

/** The `compliance:` section of rampart.yaml, as far as checks read it. Every key is optional. */
export interface ComplianceSection {
  /** Extra TLS endpoints ("host:port") probed besides the gateway. */
  tlsEndpoints?: string[];
  /** Countries every public route must refuse. */
  geo?: { deny?: string[] };
  /** Globs over route ids marking internal routes (besides routes with an environment). */
  internalRoutes?: string[];
  /** Globs over route ids that must demand MFA (besides prod routes). */
  mfaRoutes?: string[];
  /** Mean time to resolve targets in hours, per severity. */
  mttrHours?: Partial<Record<Severity, number>>;
}

export function complianceOf(ctx: CheckContext): ComplianceSection {
  const section = (ctx.config as { compliance?: ComplianceSection }).compliance;
  return section ?? {};
}

/** The control plane's database narrowed to a module's tables. */
export const tablesOf = <T extends Record<string, Record<string, unknown>>>(ctx: CheckContext): Kysely<T> =>
  ctx.db.withTables<T>() as unknown as Kysely<T>;

export const routeItem = (r: RouteConfig): string => `route:${routeId(r)}`;

/** Public: a route without `auth`, reachable without an identity. */
export const isPublic = (r: RouteConfig): boolean => r.auth === undefined;

/** Matches route ids against `/`-separated globs (`*` one segment, `**` any number). */
export function routeGlobs(patterns: readonly string[] | undefined): (r: RouteConfig) => boolean {
  const matchers = (patterns ?? []).map((p) => compileGlob(p, "/"));
  return (r) => {
    const segments = routeId(r).split("/");
    return matchers.some((m) => m(segments));
  };
}

/** Whole days between two instants, rounded down, for details people read. */
export const daysBetween = (from: Date, to: Date): number =>
  Math.floor((to.getTime() - from.getTime()) / DAY_MS);

export const isoDay = (d: Date): string => d.toISOString().slice(0, 10);

/** The one item a check reports when it has nothing to look at. */
export const notApplicable = (resource: string, detail: string): CheckItem[] => [
  { resource, status: "not_applicable", detail },
];
