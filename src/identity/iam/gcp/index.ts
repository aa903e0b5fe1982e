// GCP least-privilege analysis: IAM policy bindings + Cloud Audit Logs → per member, the unused
// permissions and the smallest predefined roles (or one custom role) covering what was used.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { Invalid } from "../../../platform/errors.ts";
import { analyzeGcpPolicy, createGcpUsage, type GcpAnalysis, type GcpAnalysisOptions } from "./analyze.ts";
import { loadCatalogue } from "./catalogue.ts";
import { readAuditLog } from "./logs.ts";
import { readCustomRoles, readIamPolicy } from "./policy.ts";

export * from "./analyze.ts";
export * from "./catalogue.ts";
export * from "./cover.ts";
export * from "./format.ts";
export * from "./logs.ts";
export * from "./policy.ts";
export * from "./risk.ts";

const LOG_FILE = /\.(json|jsonl|ndjson|log)(\.gz)?$|\.gz$/i;

/** The log files a path names: the file itself, or the log files under a directory (sorted). */
export async function logFilesOf(path: string): Promise<string[]> {
  let s;
  try {
    s = await stat(path);
  } catch (err) {
    throw new Invalid(`cannot read: ${(err as Error).message}`, path);
  }
  if (!s.isDirectory()) return [path];
  const out: string[] = [];
  for (const e of (await readdir(path, { withFileTypes: true, recursive: true })).sort((a, b) =>
    join(a.parentPath, a.name) < join(b.parentPath, b.name) ? -1 : 1,
  ))
    if (e.isFile() && LOG_FILE.test(e.name)) out.push(join(e.parentPath, e.name));
  return out;
}

export interface GcpFileInputs extends Omit<GcpAnalysisOptions, "catalogue" | "customRoles"> {
  policy: string;
  logs: readonly string[];
  customRoles?: readonly string[];
  /** Role catalogue file; the bundled one by default. */
  catalogue?: string;
  from?: string;
  to?: string;
  /** Called after each log entry with the running count (for a progress bar). */
  onEntry?: (read: number) => void;
}

/** Reads a policy, custom roles and audit logs from files (streaming the logs) and analyses them. */
export async function analyzeGcpFiles(inputs: GcpFileInputs): Promise<GcpAnalysis> {
  const {
    policy: policyFile,
    logs,
    customRoles: roleFiles,
    catalogue: catalogueFile,
    from,
    to,
    onEntry,
    ...opts
  } = inputs;
  const catalogue = await loadCatalogue(catalogueFile);
  const policy = await readIamPolicy(policyFile);
  const customRoles = (await Promise.all((roleFiles ?? []).map((f) => readCustomRoles(f)))).flat();
  const usage = createGcpUsage({ ...(from ? { from } : {}), ...(to ? { to } : {}) });
  for (const path of logs)
    for (const file of await logFilesOf(path))
      for await (const entry of readAuditLog(file)) {
        usage.add(entry);
        onEntry?.(usage.events.read);
      }
  return analyzeGcpPolicy(policy, usage, { ...opts, catalogue, customRoles });
}
