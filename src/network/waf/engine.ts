// The WAF engine: a request's targets, each in its decoded variants, through every detector; the
// matches left after the route's exclusions add up to an anomaly score, and the route's mode and
// threshold decide. A rule counts once per request, at its highest severity, wherever it matched.
// The detections of short values are remembered (see CACHED_VALUE_CHARS).
import { fits, mismatch, type ParameterRule } from "./allowlist.ts";
import { CHAR_ALL, charBits } from "./chars.ts";
import { DEFAULT_DECODE_LIMITS, type DecodeLimits, variants } from "./decode.ts";
import {
  DEFAULT_TARGET_LIMITS,
  type InspectedRequest,
  requestTargets,
  type TargetLimits,
} from "./targets.ts";
import {
  type Detection,
  type Detector,
  NO_DETECTIONS,
  type ParanoiaLevel,
  type RequestDetector,
  SEVERITY_POINTS,
  type Target,
} from "./types.ts";

/**
 * A false positive tuned away: matches of these rules (or of rules with these tags) are ignored,
 * on these targets only when `targets` is given. A target is named exactly (`ARGS:comment`) or by
 * family (`ARGS:*`); `ARGS:x` also covers the multipart field `x`.
 */
export interface Exclusion {
  rules?: readonly string[];
  tags?: readonly string[];
  targets?: readonly string[];
}

export interface WafPolicy {
  /** off: no inspection; detect: score and report, never refuse; block: refuse at the threshold. */
  mode: "off" | "detect" | "block";
  paranoia: ParanoiaLevel;
  /** Anomaly score at which a request is refused (CRS: 5, one critical match). */
  threshold: number;
  exclusions: readonly Exclusion[];
  /** Parameters with a declared kind of value; the first rule covering a target applies. */
  parameters?: readonly ParameterRule[];
}

export interface WafVerdict {
  score: number;
  /**
   * One per rule: the first target it matched, how many targets matched it, and the start of the
   * first matched value (for events, where it is kept only as a keyed HMAC).
   */
  matches: (Detection & { targets: number; sample: string })[];
  blocked: boolean;
}

const SAMPLE_CHARS = 256;

/**
 * The matches of a verdict as one line for events: `rule@target,... score=N`. Target names come
 * from the client (parameter names), so the characters that delimit the line are percent-encoded:
 * a parameter named `x,sqli-union@ARGS:id` cannot pass for a second match. `parseDetail` reads it.
 */
export function formatDetail(v: WafVerdict, maxChars = 512): string {
  const escape = (t: string) => t.replace(/[%,@ ]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const text = `${v.matches.map((m) => `${m.rule}@${escape(m.target)}`).join(",")} score=${v.score}`;
  return text.length > maxChars ? `${text.slice(0, maxChars - 3)}...` : text;
}

const ALLOW: WafVerdict = { score: 0, matches: [], blocked: false };

/** Whether an exclusion's target pattern covers a matched target. */
export function targetCovered(pattern: string, target: string): boolean {
  if (pattern.endsWith(":*")) return target.startsWith(pattern.slice(0, -1));
  if (pattern === target) return true;
  // A form field is the same parameter whether urlencoded or multipart.
  return pattern.startsWith("ARGS:") && target === `MULTIPART:${pattern.slice(5)}`;
}

function excluded(d: Detection, exclusions: readonly Exclusion[]): boolean {
  return exclusions.some(
    (e) =>
      (e.rules?.includes(d.rule) || e.tags?.some((t) => d.tags.includes(t))) &&
      (e.targets === undefined || e.targets.some((p) => targetCovered(p, d.target))),
  );
}

export interface Waf {
  inspect(req: InspectedRequest, policy: WafPolicy): WafVerdict;
}

/**
 * Values up to this length have their detections remembered, keyed by target name and value: the
 * same User-Agent, Accept, Referer, cookie names and form field names come back request after
 * request. Detectors are pure functions of (name, value), so a hit is exact.
 */
const CACHED_VALUE_CHARS = 512;
const CACHE_ENTRIES = 8192;
/**
 * After this many misses on a name with fewer than a quarter as many hits, the name's values are
 * looked up again only after SKIPPED_LOOKUPS more values (detection is the same either way).
 */
const SKIP_AFTER_MISSES = 16;
const SKIPPED_LOOKUPS = 256;

interface Slot {
  values: Map<string, readonly Detection[]>;
  /** The same name's values in the older generation. */
  older: Map<string, readonly Detection[]> | undefined;
  hits: number;
  misses: number;
  /** Values still to inspect without the cache. */
  skip: number;
}

export function createWaf(o: {
  detectors: readonly Detector[];
  requestDetectors?: readonly RequestDetector[];
  targetLimits?: TargetLimits;
  decodeLimits?: DecodeLimits;
}): Waf {
  const targetLimits = o.targetLimits ?? DEFAULT_TARGET_LIMITS;
  const decodeLimits = o.decodeLimits ?? DEFAULT_DECODE_LIMITS;
  // Bound once: a call through `detector.inspect` at one site for many detectors is a slow lookup.
  const inspectors = o.detectors.map((d) => d.inspect.bind(d));
  // Each detector's prefilter (see `Detector.needs`): 0 when it has none and always runs.
  const needs = o.detectors.map((d) => d.needs?.bits ?? 0);
  const anyway = o.detectors.map((d) => d.needs?.anyway);
  const prefiltered = needs.some((bits) => bits !== 0);
  // Remembered detections by target name, then value (no key strings to build and hash). Two
  // generations approximate LRU in O(1): hits in the old one move to the new one, and when the new
  // one is full the old one is dropped whole (Map deletes leave holes that slow iteration).
  let recent = new Map<string, Slot>();
  let older = new Map<string, Slot>();
  let recentSize = 0;
  /**
   * The recent generation's slot for `name`, made (with the older one's values and counts) if
   * missing, after the generations turn over if the recent one is full.
   */
  const slotFor = (name: string): Slot => {
    if (recentSize >= CACHE_ENTRIES / 2) {
      for (const s of recent.values()) s.older = undefined; // the generation before goes
      older = recent;
      recent = new Map();
      recentSize = 0;
    }
    let slot = recent.get(name);
    if (slot === undefined) {
      const prev = older.get(name);
      slot = {
        values: new Map(),
        older: prev?.values,
        hits: prev?.hits ?? 0,
        misses: prev?.misses ?? 0,
        skip: prev?.skip ?? 0,
      };
      recent.set(name, slot);
    }
    return slot;
  };

  /** Every rule matched on `value`, in any decoded variant, once each at its highest severity. */
  function run(name: string, value: string): readonly Detection[] {
    let byRule: Map<string, Detection> | undefined;
    const vs = variants(value, decodeLimits);
    for (let v = 0; v < vs.length; v++) {
      const seen: Target = { name, value: vs[v] as string };
      const bits = prefiltered ? charBits(seen.value) : CHAR_ALL;
      for (let j = 0; j < inspectors.length; j++) {
        const need = needs[j] as number;
        if ((bits & need) === 0 && need !== 0 && !anyway[j]?.(seen.value, name)) continue;
        const found = (inspectors[j] as Detector["inspect"])(seen);
        for (let i = 0; i < found.length; i++) {
          const d = found[i] as Detection;
          byRule ??= new Map();
          const prior = byRule.get(d.rule);
          if (!prior || SEVERITY_POINTS[d.severity] > SEVERITY_POINTS[prior.severity]) byRule.set(d.rule, d);
        }
      }
    }
    return byRule ? [...byRule.values()] : NO_DETECTIONS;
  }

  /**
   * `run`, remembered for short values. A name whose values seldom repeat (a form's free-text
   * field) skips the cache for a while: the lookups and stores cost more than they save there.
   */
  function detect(target: Target): readonly Detection[] {
    const { name, value } = target;
    if (value.length > CACHED_VALUE_CHARS) return run(name, value);
    let slot = recent.get(name);
    if (slot !== undefined && slot.skip > 0) {
      slot.skip--;
      return run(name, value);
    }
    const hit = slot?.values.get(value);
    if (hit) {
      slot!.hits++;
      return hit;
    }
    // A turnover in slotFor leaves `slot`, if any, in the older generation, which it then reads.
    if (slot === undefined || recentSize >= CACHE_ENTRIES / 2) slot = slotFor(name);
    const old = slot.older?.get(value);
    if (old) slot.hits++;
    else if (++slot.misses >= SKIP_AFTER_MISSES) {
      if (slot.hits * 4 < slot.misses) slot.skip = SKIPPED_LOOKUPS;
      slot.hits = slot.misses = 0;
    }
    const found = old ?? run(name, value);
    slot.values.set(value, found);
    recentSize++;
    return found;
  }

  return {
    inspect(req, policy) {
      if (policy.mode === "off") return ALLOW;
      const byRule = new Map<string, Detection & { targets: number; sample: string }>();
      const count = (d: Detection, sample: string) => {
        if (d.paranoia > policy.paranoia || excluded(d, policy.exclusions)) return;
        const prior = byRule.get(d.rule);
        if (!prior) byRule.set(d.rule, { ...d, targets: 1, sample });
        else {
          prior.targets++;
          if (SEVERITY_POINTS[d.severity] > SEVERITY_POINTS[prior.severity]) prior.severity = d.severity;
        }
      };
      const targets = requestTargets(req, targetLimits);
      for (const detector of o.requestDetectors ?? [])
        for (const d of detector.inspectRequest(req, targets)) count(d, "");
      const parameters = policy.parameters ?? [];
      for (const target of targets) {
        const declared =
          parameters.length === 0
            ? undefined
            : parameters.find((p) => p.targets.some((t) => targetCovered(t, target.name)));
        if (declared && fits(declared, target.value)) continue;
        const found = detect(target);
        if (found.length === 0 && declared?.onMismatch !== "block") continue;
        const sample = target.value.slice(0, SAMPLE_CHARS);
        if (declared?.onMismatch === "block") count(mismatch(target.name), sample);
        for (const d of found) count(d, sample);
      }
      const matches = [...byRule.values()];
      const score = matches.reduce((sum, m) => sum + SEVERITY_POINTS[m.severity], 0);
      return { score, matches, blocked: policy.mode === "block" && score >= policy.threshold };
    },
  };
}
