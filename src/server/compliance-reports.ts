// Reports the control plane serves: readiness in each format, the OSCAL export and the auditor
// bundle, signed with the audit log's Ed25519 key so auditors verify it with the same public key.
import { type KeyObject, sign } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { AuditLog } from "../monitoring/audit/index.ts";
import type { ComplianceConfig } from "../monitoring/compliance/config.ts";
import type { FrameworkReadiness } from "../monitoring/compliance/model.ts";
import { assessmentResults } from "../monitoring/compliance/oscal/export.ts";
import {
  readinessCsv,
  readinessJson,
  renderPdf,
  renderReadinessHtml,
  writeAuditorBundle,
} from "../monitoring/compliance/report/index.ts";
import type { ComplianceService } from "../monitoring/compliance/service.ts";
import type { Clock } from "../platform/clock.ts";

export const reportFormats = ["json", "html", "csv", "pdf"] as const;
export type ReportFormat = (typeof reportFormats)[number];

export interface ComplianceReports {
  render(
    r: FrameworkReadiness,
    format: ReportFormat,
  ): Promise<{ contentType: string; body: string | Buffer }>;
  oscal(frameworks: string[], window?: { from: Date; to: Date }): Promise<object>;
  /** The auditor bundle's files (bundle-relative path → base64) and the key that verifies them. */
  bundle(
    frameworks: string[],
    window: { from: Date; to: Date },
  ): Promise<{ files: Record<string, string>; verifierKey: string }>;
}

const VERSION = "0.1.0";

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

export function createComplianceReports(o: {
  compliance: ComplianceService;
  config: () => ComplianceConfig;
  audit: AuditLog;
  signingKey: KeyObject;
  clock: Clock;
}): ComplianceReports {
  const html = (r: FrameworkReadiness) =>
    renderReadinessHtml(r, { organisation: o.config().reports.organisation });
  const readinessOf = (frameworks: string[], window?: { from: Date; to: Date }) =>
    Promise.all(frameworks.map((f) => o.compliance.readiness(f, window)));
  const oscalOf = (reports: FrameworkReadiness[], window?: { from: Date; to: Date }) =>
    assessmentResults(reports, {
      title: `${o.config().reports.organisation}: Rampart continuous compliance`,
      generatedAt: o.clock.now(),
      ...(window ? { auditWindow: window } : {}),
      toolVersion: VERSION,
    });

  // The audit log's bundle needs a signed checkpoint over its last entry: sign one now, and again
  // if entries landed in the window between that checkpoint and the export.
  const exportAudit = async (window: { from: Date; to: Date }, dir: string) => {
    for (let attempt = 0; ; attempt++) {
      await o.audit.checkpoint();
      try {
        return await o.audit.exportBundle({ from: window.from, to: window.to, dir });
      } catch (err) {
        if (attempt >= 2 || !/no signed checkpoint/.test((err as Error).message)) throw err;
      }
    }
  };

  return {
    async render(r, format) {
      switch (format) {
        case "json":
          return { contentType: "application/json", body: readinessJson(r) };
        case "csv":
          return { contentType: "text/csv; charset=utf-8", body: readinessCsv(r) };
        case "html":
          return { contentType: "text/html; charset=utf-8", body: html(r) };
        case "pdf": {
          const chromium = o.config().reports.chromium;
          return {
            contentType: "application/pdf",
            body: await renderPdf(html(r), chromium ? { chromium } : {}),
          };
        }
      }
    },
    async oscal(frameworks, window) {
      return oscalOf(await readinessOf(frameworks, window), window);
    },
    async bundle(frameworks, window) {
      const reports = await readinessOf(frameworks, window);
      const evidence = await o.compliance.evidence({ from: window.from, to: window.to });
      const evidenceFiles: { name: string; bytes: Buffer }[] = [];
      for (const e of evidence) {
        const { content } = await o.compliance.evidenceContent(e.id);
        const meta = Buffer.from(`${JSON.stringify(e, null, 2)}\n`);
        evidenceFiles.push({ name: `${e.id}.json`, bytes: meta });
        if (content)
          evidenceFiles.push({
            name: `${e.id}.${e.kind === "snapshot" ? "snapshot.json" : "content"}`,
            bytes: content,
          });
      }
      const dir = await mkdtemp(join(tmpdir(), "rampart-bundle-"));
      try {
        await writeAuditorBundle({
          dir,
          window,
          reports,
          oscal: oscalOf(reports, window),
          evidenceFiles,
          exportAuditLog: (to) => exportAudit(window, to),
          sign: (data) => sign(null, data, o.signingKey),
          verifierKey: o.audit.verifierKey,
          html,
          now: o.clock.now(),
        });
        const files: Record<string, string> = {};
        for (const p of await filesUnder(dir))
          files[relative(dir, p).split("\\").join("/")] = (await readFile(p)).toString("base64");
        return { files, verifierKey: o.audit.verifierKey };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
