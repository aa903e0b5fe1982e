// Secrets store checks: rotation age per path, encryption at rest of the current versions, and
// the age of the newest key-encryption key. They read metadata and the presence of ciphertext,
// never a value: paths are names, not secrets.
//
// SLA defaults: an overdue rotation or KEK gets 7 days (2 of tolerance) to be rotated; a value
// stored without encryption is a defect to fix within a day.
import { sql } from "kysely";
import type { SecretsTables } from "../../../appsec/secrets/tables.ts";
import type { CheckDefinition, CheckItem } from "../model.ts";
import { DAY_MS, daysBetween, isoDay, notApplicable, tablesOf } from "./common.ts";

const rotationAge: CheckDefinition = {
  id: "secrets.rotation-age",
  title: "Secrets are rotated within their rotation period",
  source: "secrets",
  remediation:
    "Write a new version (`rampart secrets put`), or run its rotation (`rampart secrets rotate`) and fix the rotator if the schedule failed.",
  slaDays: 7,
  toleranceDays: 2,
  async run(ctx) {
    const db = tablesOf<SecretsTables>(ctx);
    const rows = await db
      .selectFrom("secret_paths as p")
      .innerJoin("secret_versions as v", (j) =>
        j.onRef("v.path", "=", "p.path").onRef("v.version", "=", "p.current_version"),
      )
      .select(["p.path", "p.rotation_period_days", "v.version", "v.created_at"])
      .orderBy("p.path")
      .execute();
    const scheduled = new Map<string, number>();
    for (const s of ctx.config.secrets.rotation)
      scheduled.set(s.path, Math.min(s.everyDays, scheduled.get(s.path) ?? Infinity));
    const items: CheckItem[] = [];
    for (const r of rows) {
      const periods = [r.rotation_period_days, scheduled.get(r.path)].filter(
        (d): d is number => typeof d === "number",
      );
      if (periods.length === 0) continue;
      const period = Math.min(...periods);
      const created = new Date(r.created_at);
      const due = new Date(created.getTime() + period * DAY_MS);
      const age = daysBetween(created, ctx.now);
      const observed = { version: r.version, createdAt: created.toISOString(), periodDays: period };
      items.push(
        due.getTime() > ctx.now.getTime()
          ? {
              resource: `secret:${r.path}`,
              status: "pass",
              detail: `rotated ${age} days ago (every ${period})`,
              observed,
            }
          : {
              resource: `secret:${r.path}`,
              status: "fail",
              detail: `rotated ${age} days ago (every ${period}); due ${isoDay(due)}`,
              observed,
              failingSince: due,
            },
      );
    }
    return items.length > 0 ? items : notApplicable("secrets:rotation", "no secret has a rotation period");
  },
};

const encryptedAtRest: CheckDefinition = {
  id: "secrets.encrypted-at-rest",
  title: "Stored secret values are encrypted under a live key-encryption key",
  source: "secrets",
  remediation:
    "Investigate the row: a current version without ciphertext or data key, or sealed under a KEK that no longer exists, cannot be read and may have been tampered with. Write a new version and check the database's audit trail.",
  slaDays: 1,
  toleranceDays: 0,
  async run(ctx) {
    const db = tablesOf<SecretsTables>(ctx);
    const rows = await db
      .selectFrom("secret_paths as p")
      .innerJoin("secret_versions as v", (j) =>
        j.onRef("v.path", "=", "p.path").onRef("v.version", "=", "p.current_version"),
      )
      .leftJoin("secret_keks as k", "k.version", "v.kek_version")
      .select([
        "p.path",
        "v.version",
        "v.state",
        "v.kek_version",
        sql<boolean>`v.ciphertext is not null`.as("has_ciphertext"),
        sql<boolean>`v.wrapped_dek is not null`.as("has_dek"),
        sql<boolean>`k.version is not null`.as("kek_exists"),
      ])
      .orderBy("p.path")
      .execute();
    if (rows.length === 0) return notApplicable("secrets:store", "no secrets stored");
    return rows.map((r): CheckItem => {
      const resource = `secret:${r.path}`;
      const observed = {
        version: r.version,
        state: r.state,
        kekVersion: r.kek_version,
        ciphertext: r.has_ciphertext,
        wrappedDek: r.has_dek,
        kekExists: r.kek_exists,
      };
      if (r.state === "destroyed" || r.state === "revoked")
        return {
          resource,
          status: "not_applicable",
          detail: `current version ${r.version} ${r.state}: no value kept`,
          observed,
        };
      const missing = [
        ...(r.has_ciphertext ? [] : ["ciphertext"]),
        ...(r.has_dek ? [] : ["wrapped data key"]),
        ...(r.kek_exists ? [] : [`KEK ${r.kek_version}`]),
      ];
      return missing.length === 0
        ? {
            resource,
            status: "pass",
            detail: `version ${r.version} sealed under KEK ${r.kek_version}`,
            observed,
          }
        : { resource, status: "fail", detail: `version ${r.version} lacks ${missing.join(", ")}`, observed };
    });
  },
};

const kekRotation: CheckDefinition = {
  id: "secrets.kek-rotation",
  title: "The key-encryption key is rotated on schedule",
  source: "secrets",
  remediation:
    "Rotate the KEK (`rampart secrets keys rotate`) and check why the scheduled rotation did not run: a sealed store does not rotate.",
  slaDays: 7,
  toleranceDays: 2,
  async run(ctx) {
    const newest = await tablesOf<SecretsTables>(ctx)
      .selectFrom("secret_keks")
      .select(["version", "created_at"])
      .orderBy("version", "desc")
      .limit(1)
      .executeTakeFirst();
    if (!newest) return notApplicable("secrets:kek", "the secrets store has no key-encryption key yet");
    const every = ctx.config.secrets.kekRotationDays;
    const created = new Date(newest.created_at);
    const due = new Date(created.getTime() + every * DAY_MS);
    const age = daysBetween(created, ctx.now);
    const observed = { version: newest.version, createdAt: created.toISOString(), everyDays: every };
    return [
      due.getTime() > ctx.now.getTime()
        ? {
            resource: "secrets:kek",
            status: "pass",
            detail: `KEK ${newest.version} is ${age} days old (every ${every})`,
            observed,
          }
        : {
            resource: "secrets:kek",
            status: "fail",
            detail: `KEK ${newest.version} is ${age} days old (every ${every}); due ${isoDay(due)}`,
            observed,
            failingSince: due,
          },
    ];
  },
};

export const secretsChecks: CheckDefinition[] = [rotationAge, encryptedAtRest, kekRotation];
