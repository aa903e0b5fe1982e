// Licence check: every package in the runtime tree must declare a licence that is a valid SPDX
// expression allowing a choice other than AGPL or SSPL; anything else needs an allowlist entry.
// Reads package-lock.json only, so it needs no network.
import {
  type Allowlist,
  type EntryHygiene,
  entryHygiene,
  isExpired,
  type LicenceEntry,
} from "./allowlist.ts";
import { type LockedPackage, runtimePackages } from "./lockfile.ts";
import { judgeLicence, type Verdict } from "./spdx.ts";

export interface LicenceProblem {
  package: string;
  version: string;
  path: string;
  licence: string;
  verdict: Exclude<Verdict, "ok">;
  why: string;
}

export interface LicenceResult {
  status: "pass" | "fail";
  /** Distinct name@version in the runtime tree. */
  packages: number;
  /** Declared licence → number of distinct name@version. */
  counts: Record<string, number>;
  failing: LicenceProblem[];
  excused: (LicenceProblem & { by: string; reason: string; expires: string })[];
  entries: EntryHygiene;
}

/** The licence policy over a lockfile's runtime packages. */
export function licenceGate(lock: unknown, allow: Allowlist, today: string): LicenceResult {
  const distinct = new Map<string, LockedPackage>();
  for (const p of runtimePackages(lock))
    distinct.set(`${p.name}@${p.version}`, distinct.get(`${p.name}@${p.version}`) ?? p);
  const counts: Record<string, number> = {};
  const failing: LicenceProblem[] = [];
  const excused: LicenceResult["excused"] = [];
  const used = new Set<LicenceEntry>();
  for (const pkg of [...distinct.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const { expression, verdict, why } = judgeLicence(pkg.license);
    counts[expression] = (counts[expression] ?? 0) + 1;
    if (verdict === "ok") continue;
    const problem: LicenceProblem = {
      package: pkg.name,
      version: pkg.version,
      path: pkg.path,
      licence: expression,
      verdict,
      why: why ?? verdict,
    };
    const matching = allow.licences.filter((e) => e.package === pkg.name && e.licence.trim() === expression);
    for (const e of matching) used.add(e);
    const valid = matching.find((e) => !isExpired(e, today));
    if (valid) excused.push({ ...problem, by: valid.source, reason: valid.reason, expires: valid.expires });
    else failing.push(problem);
  }
  const sorted = Object.fromEntries(
    Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
  );
  return {
    status: failing.length > 0 ? "fail" : "pass",
    packages: distinct.size,
    counts: sorted,
    failing,
    excused,
    entries: entryHygiene(allow.licences, used, today, (e) => `${e.package} (${e.licence})`),
  };
}
