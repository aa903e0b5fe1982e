// Baseline (as detect-secrets does it): the findings a team has accepted, so only new secrets
// fail the gate. Entries hold the fingerprint and a SHA-256 of the secret, never the secret;
// line numbers are informational (a secret that moves within its file stays baselined).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { Invalid } from "../../../platform/errors.ts";
import type { FoundSecret } from "./scanner.ts";

const entrySchema = z.strictObject({
  fingerprint: z.string().regex(/^[0-9a-f]{16}$/),
  rule: z.string().min(1),
  file: z.string(),
  line: z.number().int().nonnegative().optional(),
  /** SHA-256 hex of the secret. */
  hashedSecret: z.string().regex(/^[0-9a-f]{64}$/),
  commit: z.string().optional(),
});

export const secretsBaselineSchema = z.strictObject({
  version: z.literal(1),
  generatedAt: z.string(),
  findings: z.array(entrySchema),
});
export type SecretsBaseline = z.infer<typeof secretsBaselineSchema>;

/** Reads a baseline file; Invalid names the file and the bad field. */
export function readBaseline(path: string): SecretsBaseline {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Invalid(`cannot read baseline: ${(err as Error).message}`, path);
  }
  const r = secretsBaselineSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new Invalid(`${issue.path.join(".") || "(root)"}: ${issue.message}`, path);
  }
  return r.data;
}

/** The baseline of these findings (suppressed-by-inline ones are left out: they are already allowed). */
export function toBaseline(found: FoundSecret[], now: Date): SecretsBaseline {
  const seen = new Set<string>();
  const findings: SecretsBaseline["findings"] = [];
  for (const { finding: f, secretHash } of found) {
    if (f.suppressed?.by === "inline" || f.suppressed?.by === "ignore" || seen.has(f.fingerprint)) continue;
    seen.add(f.fingerprint);
    const commit = f.details?.commit;
    findings.push({
      fingerprint: f.fingerprint,
      rule: f.rule,
      file: f.location.file ?? "",
      ...(f.location.line !== undefined ? { line: f.location.line } : {}),
      hashedSecret: secretHash,
      ...(typeof commit === "string" ? { commit } : {}),
    });
  }
  findings.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : (a.line ?? 0) - (b.line ?? 0)));
  return { version: 1, generatedAt: now.toISOString(), findings };
}

/** Writes the baseline as stable, reviewable JSON. */
export function writeBaseline(path: string, baseline: SecretsBaseline): void {
  writeFileSync(path, `${JSON.stringify(baseline, null, 2)}\n`);
}

/** Marks findings the baseline holds as suppressed (they are reported but do not fail the gate). */
export function applyBaseline(found: FoundSecret[], baseline: SecretsBaseline): void {
  const known = new Set(baseline.findings.map((e) => e.fingerprint));
  for (const { finding } of found)
    if (!finding.suppressed && known.has(finding.fingerprint))
      finding.suppressed = { by: "baseline", reason: "in the secrets baseline" };
}

/** A baseline file exists at `path`. */
export const baselineExists = (path: string): boolean => existsSync(path);
