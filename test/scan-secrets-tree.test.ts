// Secrets scanning over real trees: this repository (every finding must be a deliberate fixture,
// allowed inline or in .rampart-secrets.yaml) and its node_modules (third-party code full of
// look-alikes: docs, tests, minified bundles), where false positives must stay under 1 per 10 MB.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { scanSecrets } from "../src/appsec/scan/secrets/index.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const mb = (bytes: number) => bytes / 1024 / 1024;
const list = (r: Awaited<ReturnType<typeof scanSecrets>>) =>
  r.findings
    .filter((f) => f.rule !== "file-too-large")
    .map(
      (f) =>
        `  ${f.rule} ${f.location.file}:${f.location.line} ${f.details?.redacted}${f.suppressed ? ` (${f.suppressed.by}: ${f.suppressed.reason})` : ""}`,
    )
    .join("\n");

describe("secrets scan over real trees", () => {
  it("finds nothing unallowed in this repository", { timeout: 60_000 }, async () => {
    const r = await scanSecrets({ path: root, workers: 2 });
    console.log(
      `repository: ${r.stats.files} files, ${mb(r.stats.bytes!).toFixed(1)} MB, ${r.stats.findings} findings, ${r.stats.suppressed} suppressed (fixtures)\n${list(r)}`,
    );
    expect(r.stats.files).toBeGreaterThan(100);
    expect(
      r.findings
        .filter((f) => !f.suppressed && f.rule !== "file-too-large")
        .map((f) => `${f.rule} ${f.location.file}:${f.location.line}`),
    ).toEqual([]);
  });

  it("keeps false positives under 1 per 10 MB in node_modules", { timeout: 120_000 }, async () => {
    const r = await scanSecrets({ path: join(root, "node_modules"), all: true, workers: 2 });
    const findings = r.findings.filter((f) => f.rule !== "file-too-large");
    const size = mb(r.stats.bytes!);
    console.log(
      `node_modules: ${r.stats.files} files, ${size.toFixed(1)} MB, ${findings.length} findings (${((findings.length / size) * 10).toFixed(2)} per 10 MB), ${r.stats.skippedBinary} binary and ${r.stats.skippedLarge} large files skipped\n${list(r)}`,
    );
    expect(size).toBeGreaterThan(50);
    expect(findings.length / (size / 10)).toBeLessThan(1);
  });
});
