// The WAF's shared vocabulary: what is inspected (targets), and what a detector reports.
import type { InspectedRequest } from "./targets.ts";

/** One named piece of a request, decoded: `ARGS:q`, `ARGS_JSON:user.name`, `REQUEST_HEADERS:user-agent`, … */
export interface Target {
  name: string;
  value: string;
}

/** CRS-style severities; each adds its points to the request's anomaly score. */
export type Severity = "critical" | "error" | "warning" | "notice";

export const SEVERITY_POINTS: Record<Severity, number> = { critical: 5, error: 4, warning: 3, notice: 2 };

/** Higher paranoia levels catch more and wrongly block more; a route runs rules up to its level. */
export type ParanoiaLevel = 1 | 2 | 3 | 4;

export interface Detection {
  /** Stable rule id, e.g. `sqli-tautology`; exclusions name it. */
  rule: string;
  /** Attack class and more, e.g. `attack-sqli`; exclusions may name a tag instead of a rule. */
  tags: readonly string[];
  paranoia: ParanoiaLevel;
  severity: Severity;
  /** The target's name (never its value: values go to events only truncated and HMAC'd). */
  target: string;
}

/** A detector inspects one decoded value and reports the rules it matched there. */
export interface Detector {
  /** Family name, e.g. `sqli`. */
  name: string;
  inspect(target: Target): readonly Detection[];
  /**
   * A prefilter, for detectors whose every rule needs one of a few characters: the CHAR_* bits
   * (see chars.ts) of which a value must hold at least one for `inspect` to find anything in it,
   * unless `anyway(value, name)` is true. The engine skips `inspect` on any other value. It must
   * never skip a value `inspect` would flag (chars.test.ts checks each detector's).
   */
  needs?: { bits: number; anyway?: (value: string, name: string) => boolean };
}

/**
 * A detector of the request as a whole (method, request line, header set, framing): protocol
 * violations and tool signatures that no single decoded value shows. It runs once per request;
 * its detections name the target they concern (`REQUEST_METHOD`, `REQUEST_HEADERS:host`, …).
 */
export interface RequestDetector {
  name: string;
  /** `targets`: the request's targets as the engine parsed them (the engine always passes them). */
  inspectRequest(req: InspectedRequest, targets?: readonly Target[]): readonly Detection[];
}

/** What most values yield: one shared, frozen empty list rather than a new array per call. */
export const NO_DETECTIONS: readonly Detection[] = Object.freeze([]);
