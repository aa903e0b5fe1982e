// The web application firewall: request targets, decoding, detectors and anomaly scoring. The
// gateway's pipeline and `rampart waf` use it through this file.
import { cmdiDetector } from "./detectors/cmdi.ts";
import { codeDetector } from "./detectors/code.ts";
import { sqliDetector } from "./detectors/sqli.ts";
import { ssrfDetector } from "./detectors/ssrf.ts";
import { traversalDetector } from "./detectors/traversal.ts";
import { xssDetector } from "./detectors/xss.ts";
import type { Detector } from "./types.ts";

export { createWaf, type Exclusion, type Waf, type WafPolicy, type WafVerdict } from "./engine.ts";
export type { InspectedRequest } from "./targets.ts";
export type { Detection, Detector, ParanoiaLevel, Severity } from "./types.ts";

/** Every detector Rampart ships, in the order they run. */
export const builtInDetectors: readonly Detector[] = [
  sqliDetector,
  xssDetector,
  traversalDetector,
  cmdiDetector,
  ssrfDetector,
  codeDetector,
];
