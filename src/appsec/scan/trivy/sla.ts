// Remediation SLAs: days per severity, counted from when a finding was first seen. First seen
// comes from the control plane (with --report-to), else a local state file, else "now".
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { Invalid } from "../../../platform/errors.ts";
import { scanSeverities, type Finding, type ScanSeverity } from "../types.ts";

export type SlaDays = Partial<Record<ScanSeverity, number>>;

/** Days to fix, by severity; `info` has none. */
export const DEFAULT_SLA: Readonly<SlaDays> = { critical: 7, high: 30, medium: 90, low: 180 };

const DAY = 86_400_000;

/** Parses `critical=7,high=30,…` over the defaults; throws Invalid naming the bad part. */
export function parseSla(spec: string, base: Readonly<SlaDays> = DEFAULT_SLA): SlaDays {
  const out: SlaDays = { ...base };
  for (const part of spec.split(",")) {
    const p = part.trim();
    if (p === "") continue;
    const m = /^([a-z]+)\s*=\s*(\d{1,5})$/i.exec(p);
    const sev = m?.[1]?.toLowerCase();
    if (!m || !sev || !(scanSeverities as readonly string[]).includes(sev))
      throw new Invalid(
        `expected severity=days pairs such as critical=7,high=30 (severities: ${scanSeverities.join(", ")}); got '${p}'`,
        "--sla",
      );
    const days = Number(m[2]);
    if (days < 1) throw new Invalid(`'${p}': days must be 1 or more`, "--sla");
    out[sev as ScanSeverity] = days;
  }
  return out;
}

/** `fingerprint → first seen (ISO 8601)`, as the control plane or a state file knows it. */
export type FirstSeen = ReadonlyMap<string, string>;

/** Where first-seen times come from; findings it does not know were first seen now. */
export type FirstSeenSource = (findings: readonly Finding[]) => Promise<FirstSeen>;

const stateSchema = z.record(z.string().min(1), z.iso.datetime({ offset: true }));

/** Reads a `--state` file (missing: empty). Throws Invalid naming the file and the bad entry. */
export function readStateFile(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return new Map();
    throw new Invalid(`cannot read the state file (${(error as NodeJS.ErrnoException).code})`, path);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Invalid("not valid JSON: expected an object of fingerprint → first-seen time", path);
  }
  const parsed = stateSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path.map(String).join(".") ?? "";
    throw new Invalid(`${key ? `${key}: ` : ""}${issue?.message ?? "invalid"}`, path);
  }
  return new Map(Object.entries(parsed.data));
}

/** Writes the state file atomically (a crash leaves the old file, never half of one). */
export function writeStateFile(path: string, state: ReadonlyMap<string, string>): void {
  const sorted = Object.fromEntries([...state.entries()].sort(([a], [b]) => a.localeCompare(b)));
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(sorted, null, 2)}\n`);
  renameSync(tmp, path);
}

/**
 * A first-seen source over a state file: known fingerprints keep their time, new ones get `now`
 * and are added to `state` (the caller writes it back). Entries of findings no longer reported
 * stay: one state file may serve several images or repositories.
 */
export function stateFirstSeen(state: Map<string, string>, now: () => Date): FirstSeenSource {
  return (findings) => {
    const at = now().toISOString();
    for (const f of findings) if (!state.has(f.fingerprint)) state.set(f.fingerprint, at);
    return Promise.resolve(state);
  };
}

const plural = (n: number): string => `${n} day${n === 1 ? "" : "s"}`;

/**
 * Adds SLA details to each finding with an SLA for its severity: `firstSeen`, `slaDays`, `dueAt`,
 * `sla` ("due in N days", "due today" within the last 24 hours, "overdue by N days") and `slaBreached`.
 */
export function applySla(
  findings: readonly Finding[],
  o: { sla: Readonly<SlaDays>; firstSeen: FirstSeen; now: Date },
): Finding[] {
  const now = o.now.getTime();
  return findings.map((f) => {
    const days = o.sla[f.severity];
    if (days === undefined) return f;
    const seenText = o.firstSeen.get(f.fingerprint);
    const seen = seenText ? new Date(seenText).getTime() : now;
    const first = Number.isNaN(seen) ? now : seen;
    // The control plane's clock may run a little ahead of this one: a sighting "in the future"
    // counts from now, and is still shown as the control plane recorded it.
    const due = Math.min(first, now) + days * DAY;
    const left = due - now;
    const sla =
      left < 0
        ? `overdue by ${plural(Math.max(1, Math.floor(-left / DAY)))}`
        : left < DAY
          ? "due today"
          : `due in ${plural(Math.ceil(left / DAY))}`;
    return {
      ...f,
      details: {
        ...f.details,
        firstSeen: new Date(first).toISOString(),
        slaDays: days,
        dueAt: new Date(due).toISOString(),
        sla,
        slaBreached: left < 0,
      },
    };
  });
}
