// The web application firewall: request targets, decoding, detectors and anomaly scoring. The
// gateway's pipeline and `rampart waf` use it through this file.
import { cmdiDetector } from "./detectors/cmdi.ts";
import { codeDetector } from "./detectors/code.ts";
import { crlfDetector } from "./detectors/crlf.ts";
import { graphqlDetector } from "./detectors/graphql.ts";
import { ldapDetector } from "./detectors/ldap.ts";
import { mailDetector } from "./detectors/mail.ts";
import { nosqlDetector } from "./detectors/nosql.ts";
import { protocolDetector, protocolValueDetector } from "./detectors/protocol.ts";
import { scannerDetector } from "./detectors/scanner.ts";
import { sessionDetector } from "./detectors/session.ts";
import { sqliDetector } from "./detectors/sqli.ts";
import { ssiDetector } from "./detectors/ssi.ts";
import { ssrfDetector } from "./detectors/ssrf.ts";
import { traversalDetector } from "./detectors/traversal.ts";
import { xpathDetector } from "./detectors/xpath.ts";
import { xssDetector } from "./detectors/xss.ts";
import { xxeDetector } from "./detectors/xxe.ts";
import { createWaf, type Waf } from "./engine.ts";
import type { Detector, RequestDetector } from "./types.ts";

export {
  createWaf,
  type Exclusion,
  formatDetail,
  targetCovered,
  type Waf,
  type WafPolicy,
  type WafVerdict,
} from "./engine.ts";
export type { InspectedRequest } from "./targets.ts";
export type { Detection, Detector, ParanoiaLevel, RequestDetector, Severity } from "./types.ts";

/** Every detector Rampart ships, in the order they run. */
export const builtInDetectors: readonly Detector[] = [
  sqliDetector,
  xssDetector,
  traversalDetector,
  cmdiDetector,
  ssrfDetector,
  codeDetector,
  xxeDetector,
  crlfDetector,
  ssiDetector,
  mailDetector,
  ldapDetector,
  xpathDetector,
  nosqlDetector,
  graphqlDetector,
  protocolValueDetector,
  scannerDetector,
  sessionDetector,
];

/** Every detector of whole requests (protocol, tool signatures) Rampart ships. */
export const builtInRequestDetectors: readonly RequestDetector[] = [protocolDetector, sessionDetector];

/** The engine with every built-in detector: what the gateway and `rampart waf` run. */
export const createBuiltInWaf = (): Waf =>
  createWaf({ detectors: builtInDetectors, requestDetectors: builtInRequestDetectors });
