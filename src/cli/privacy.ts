// `rampart privacy`: the data map and records of processing (offline), anonymised copies, and the
// server's requests, consent, registers, breaches and retention.
import type { Command } from "commander";
import { registerPrivacyAnonymizeCommand } from "./privacy-anonymize.ts";
import { registerPrivacyBreachCommands } from "./privacy-breach.ts";
import { registerPrivacyConsentCommands } from "./privacy-consent.ts";
import { registerPrivacyMapCommands } from "./privacy-map.ts";
import { registerPrivacyRegisterCommands } from "./privacy-register.ts";
import { registerPrivacyRequestCommands } from "./privacy-requests.ts";
import { registerPrivacyRetentionCommands } from "./privacy-retention.ts";

export function registerPrivacyCommands(program: Command): void {
  const privacy = program
    .command("privacy")
    .description(
      "privacy operations for DPDP and GDPR: data map, records of processing, data-subject requests, consent, processors and DPIAs, breaches, retention, anonymised copies",
    );
  registerPrivacyMapCommands(privacy);
  registerPrivacyRequestCommands(privacy);
  registerPrivacyConsentCommands(privacy);
  registerPrivacyRegisterCommands(privacy);
  registerPrivacyBreachCommands(privacy);
  registerPrivacyRetentionCommands(privacy);
  registerPrivacyAnonymizeCommand(privacy);
}
