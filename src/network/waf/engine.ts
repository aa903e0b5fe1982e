// The WAF engine: a request's targets, each in its decoded variants, through every detector; the
// matches left after the route's exclusions add up to an anomaly score, and the route's mode and
// threshold decide. A rule counts once per request, at its highest severity, wherever it matched.
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
  type ParanoiaLevel,
  type RequestDetector,
  SEVERITY_POINTS,
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

const ALLOW: WafVerdict = { score: 0, matches: [], blocked: false };

function targetCovered(pattern: string, target: string): boolean {
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

export function createWaf(o: {
  detectors: readonly Detector[];
  requestDetectors?: readonly RequestDetector[];
  targetLimits?: TargetLimits;
  decodeLimits?: DecodeLimits;
}): Waf {
  const targetLimits = o.targetLimits ?? DEFAULT_TARGET_LIMITS;
  const decodeLimits = o.decodeLimits ?? DEFAULT_DECODE_LIMITS;
  return {
    inspect(req, policy) {
      if (policy.mode === "off") return ALLOW;
      const byRule = new Map<string, Detection & { targets: number; sample: string }>();
      for (const detector of o.requestDetectors ?? [])
        for (const d of detector.inspectRequest(req))
          if (d.paranoia <= policy.paranoia && !byRule.has(d.rule) && !excluded(d, policy.exclusions))
            byRule.set(d.rule, { ...d, targets: 1, sample: "" });
      for (const target of requestTargets(req, targetLimits)) {
        const seen = new Set<string>(); // a rule counts once per target, whichever variant matched
        for (const value of variants(target.value, decodeLimits))
          for (const detector of o.detectors)
            for (const d of detector.inspect({ name: target.name, value })) {
              if (d.paranoia > policy.paranoia || seen.has(d.rule) || excluded(d, policy.exclusions))
                continue;
              seen.add(d.rule);
              const prior = byRule.get(d.rule);
              if (!prior)
                byRule.set(d.rule, { ...d, targets: 1, sample: target.value.slice(0, SAMPLE_CHARS) });
              else {
                prior.targets++;
                if (SEVERITY_POINTS[d.severity] > SEVERITY_POINTS[prior.severity])
                  prior.severity = d.severity;
              }
            }
      }
      const matches = [...byRule.values()];
      const score = matches.reduce((sum, m) => sum + SEVERITY_POINTS[m.severity], 0);
      return { score, matches, blocked: policy.mode === "block" && score >= policy.threshold };
    },
  };
}
