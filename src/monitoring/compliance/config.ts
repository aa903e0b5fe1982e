// rampart.yaml's `compliance:` section: how often the checks run, per-check SLAs, what the checks
// are told about intent (internal routes, declared geo policy, MTTR targets), tickets and reports.
import { z } from "zod";
import { ticketsConfigSchema } from "./tickets/config.ts";

const checkOverrideSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Days a failing item may stay failing before it is overdue. */
  slaDays: z.number().min(0).max(3650).optional(),
  /** Days within the SLA that count as "at risk" rather than failing. */
  toleranceDays: z.number().min(0).max(3650).optional(),
});

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "expected host:port, e.g. app.example.com:443");

const country = z.string().regex(/^[A-Z]{2}$/, 'expected an ISO 3166 country code such as "KP"');

export const complianceConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Seconds between runs of every check (the scheduler also runs once at start). */
  intervalSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .default(3600),
  /** Frameworks shown by status and reports; the catalogue holds them all. */
  frameworks: z
    .array(z.string().min(1))
    .default(() => ["dpdp", "gdpr", "iso27001", "iso27017", "iso27018", "soc2", "nist-csf-2.0", "cis-k8s"]),
  /** Per-check settings by check id, e.g. `gates.trivy-critical-sla: { slaDays: 14 }`. */
  checks: z.record(z.string(), checkOverrideSchema).default(() => ({})),
  /** How long an automatic evidence snapshot stays valid without a newer run confirming it. */
  snapshotValidityHours: z.number().int().min(1).max(8760).default(48),
  /** TLS endpoints probed besides the gateway's own listener (host:port). */
  tlsEndpoints: z.array(hostPort).default(() => []),
  /** Route id globs that are internal (need SSO) besides routes with an environment. */
  internalRoutes: z.array(z.string().min(1)).default(() => []),
  /** Route id globs whose policy must demand MFA, besides prod routes. */
  mfaRoutes: z.array(z.string().min(1)).default(() => []),
  /** The geo policy public routes must enforce, e.g. `deny: [KP, IR]`. */
  geo: z.strictObject({ deny: z.array(country).default(() => []) }).optional(),
  /** Mean time to resolve targets by incident severity, in hours. */
  mttrHours: z
    .strictObject({
      critical: z.number().positive().default(24),
      high: z.number().positive().default(72),
      medium: z.number().positive().default(168),
      low: z.number().positive().default(720),
    })
    .prefault({}),
  /** One ticket per failing item in GitHub, GitLab or Jira, following the test. */
  tickets: ticketsConfigSchema.optional(),
  reports: z
    .strictObject({
      /** Named on reports. */
      organisation: z.string().min(1).default("Rampart"),
      /** Chromium for PDF reports; default: RAMPART_CHROMIUM or chromium on PATH. */
      chromium: z.string().min(1).optional(),
    })
    .prefault({}),
});

export type ComplianceConfig = z.output<typeof complianceConfigSchema>;
