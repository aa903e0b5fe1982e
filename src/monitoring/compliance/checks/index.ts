// The built-in compliance checks: each reads evidence Rampart already holds (config in force,
// database rows, a live TLS probe, the audit verifier, the privacy services) and reports one item
// per route, secret, finding, request… A check never writes anything.
import type { CheckDefinition } from "../model.ts";
import { auditChecks } from "./audit.ts";
import { noPlaintextConfig } from "./config-references.ts";
import { gateChecks } from "./gates.ts";
import { gatewayChecks } from "./gateway.ts";
import { identityChecks } from "./identity.ts";
import { incidentChecks } from "./incidents.ts";
import { privacyChecks } from "./privacy.ts";
import { secretsChecks } from "./secrets.ts";

export { probeTls } from "./tls-probe.ts";

export const builtinChecks: CheckDefinition[] = [
  ...gatewayChecks,
  ...identityChecks,
  ...secretsChecks,
  noPlaintextConfig,
  ...gateChecks,
  ...auditChecks,
  ...privacyChecks,
  ...incidentChecks,
];
