// The CLI reaches the audit log through the running server when there is one (the embedded
// database admits one process), and opens the store itself otherwise.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RampartConfig } from "../config/index.ts";
import {
  type AuditPage,
  type AuditQuery,
  type AuditTables,
  type BundleManifest,
  type CheckpointInfo,
  type ConsistencyProof,
  type InclusionProof,
  type LogStatus,
  queryEntries,
  subjectRef,
  type VerifyReport,
} from "../monitoring/audit/index.ts";
import { openAuditOffline } from "../server/runtime.ts";
import { type ApiCall, serverApi } from "./server-api.ts";

export interface AuditAccess {
  readonly via: string;
  verify(log?: string, onProgress?: (done: number, total: number) => void): Promise<VerifyReport>;
  inclusion(entryId: string): Promise<InclusionProof>;
  consistency(log: string, from: number, to?: number): Promise<ConsistencyProof>;
  exportBundle(from: Date, to: Date, dir: string): Promise<BundleManifest>;
  logs(): Promise<{ logs: LogStatus[]; verifierKey: string }>;
  checkpoint(): Promise<CheckpointInfo[]>;
  search(q: AuditQuery): Promise<AuditPage>;
  close(): Promise<void>;
}

export async function openAuditAccess(
  config: RampartConfig,
  opts: { server?: string; write?: boolean } = {},
): Promise<AuditAccess> {
  const api = serverApi(config, opts.server);
  if (api) return remoteAccess(api.url, api.call);
  const { audit, store, close } = await openAuditOffline(config, { write: opts.write ?? false });
  return {
    via: config.database.url ? "database" : `data directory ${resolve(config.database.dataDir)}`,
    verify: (log, onProgress) =>
      audit.verify({ ...(log ? { log } : {}), ...(onProgress ? { onProgress } : {}) }),
    inclusion: (id) => audit.inclusionProof(id),
    consistency: (log, from, to) => audit.consistencyProof(log, from, to),
    exportBundle: (from, to, dir) => audit.exportBundle({ from, to, dir }),
    logs: async () => ({ logs: await audit.logs(), verifierKey: audit.verifierKey }),
    checkpoint: () => audit.checkpoint(),
    search: (q) =>
      queryEntries(store.db.withTables<AuditTables>(), q, (ref) => subjectRef(ref, audit.subjectKey)),
    close,
  };
}

function remoteAccess(base: string, call: ApiCall): AuditAccess {
  const q = (o: Record<string, string | number | undefined>) =>
    new URLSearchParams(
      Object.entries(o).flatMap(([k, v]): Array<[string, string]> =>
        v === undefined ? [] : [[k, String(v)]],
      ),
    ).toString();
  return {
    via: `server ${base}`,
    verify: (log) => call("POST", `/api/v1/audit/verify?${q({ log })}`),
    inclusion: (entry) => call("GET", `/api/v1/audit/proof/inclusion?${q({ entry })}`),
    consistency: (log, from, to) => call("GET", `/api/v1/audit/proof/consistency?${q({ log, from, to })}`),
    async exportBundle(from, to, dir) {
      const r = await call<{ manifest: BundleManifest; files: Record<string, string> }>(
        "POST",
        "/api/v1/audit/export",
        {
          from: from.toISOString(),
          to: to.toISOString(),
        },
      );
      mkdirSync(dir, { recursive: true });
      for (const [name, text] of Object.entries(r.files))
        writeFileSync(join(dir, name.replace(/[/\\]/g, "_")), text);
      return r.manifest;
    },
    logs: () => call("GET", "/api/v1/audit/logs"),
    checkpoint: async () =>
      (await call<{ checkpoints: CheckpointInfo[] }>("POST", "/api/v1/audit/checkpoint")).checkpoints,
    search: (query) =>
      call("GET", `/api/v1/audit/entries?${q({ ...query, limit: query.limit ?? undefined })}`),
    close: async () => {},
  };
}
