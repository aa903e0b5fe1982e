// Every table of the privacy module, in one set for the store to apply at start.
import type { Migration } from "kysely/migration";
import { breachMigrations } from "./breach/index.ts";
import { consentMigrations } from "./consent/index.ts";
import { dsrMigrations } from "./dsr/index.ts";
import { registerMigrations } from "./register/index.ts";
import { requestMigrations } from "./requests/index.ts";
import { retentionMigrations } from "./retention/index.ts";

export const privacyMigrations: Record<string, Migration> = {
  ...dsrMigrations,
  ...requestMigrations,
  ...consentMigrations,
  ...registerMigrations,
  ...breachMigrations,
  ...retentionMigrations,
};
