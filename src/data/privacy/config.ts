// rampart.yaml's `privacy:` section: where the data map lives, which stores hold its datasets, and
// the settings of requests, consent, the registers, breaches and retention.
import { z } from "zod";
import { breachConfigSchema } from "./breach/index.ts";
import { consentConfigSchema } from "./consent/index.ts";
import { dsrConnectionsConfigSchema } from "./dsr/connectors/index.ts";
import { dsrConfigSchema } from "./dsr/index.ts";
import { registerConfigSchema } from "./register/index.ts";
import { privacyRequestsConfigSchema } from "./requests/index.ts";
import { retentionConfigSchema } from "./retention/index.ts";

export const privacyConfigSchema = z.strictObject({
  /** Data map files or directories (Fides dataset YAML plus systems, purposes, retention), relative to the config file. */
  map: z.array(z.string().min(1)).default([]),
  /** Stores that hold the map's datasets: `name: { type, url, datasets }`. */
  connections: dsrConnectionsConfigSchema,
  dsr: dsrConfigSchema.prefault({}),
  /** Mail to people: request codes and outcomes, inactivity notices. Without a URL nothing is mailed. */
  smtp: z
    .strictObject({
      /** smtp://user:pass@host:587 or smtps://… (a ${secret:…} reference keeps the password out of the file). */
      url: z
        .string()
        .regex(/^smtps?:\/\//, "expected smtp:// or smtps://")
        .optional(),
      from: z.string().min(3).default("privacy@localhost"),
    })
    .prefault({}),
  requests: privacyRequestsConfigSchema.prefault({}),
  consent: consentConfigSchema.prefault({}),
  register: registerConfigSchema.prefault({}),
  breaches: breachConfigSchema.prefault({}),
  retention: retentionConfigSchema.prefault({}),
});
export type PrivacyConfig = z.output<typeof privacyConfigSchema>;
