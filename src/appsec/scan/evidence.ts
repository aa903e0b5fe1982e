// Scan results kept by the control plane as evidence: every run, and per finding its first and
// last sighting and when it was fixed (absent from a later run of the same kind, source and
// target). A finding's age drives SLAs ("critical fixed within 7 days of first seen"); the events
// feed detections, alerts and compliance.
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";
import { z } from "zod";
import type { Clock } from "../../platform/clock.ts";
import { type EventRef, newEvent, type SecurityEvent } from "../../platform/events/index.ts";
import type { Store } from "../../platform/store/index.ts";
import { countFindings, type FindingCounts } from "./output.ts";
import {
  type Finding,
  type FindingLocation,
  type ScanKind,
  type ScanResult,
  scanSeverities,
} from "./types.ts";

export type ScanTables = {
  scan_runs: {
    id: string;
    kind: string;
    target: string;
    source: string;
    started_at: Date;
    finished_at: Date;
    received_at: Date;
    reported_by: string;
    counts: string;
    new_count: number;
    fixed_count: number;
  };
  scan_items: {
    kind: string;
    source: string;
    fingerprint: string;
    target: string;
    rule: string;
    severity: string;
    title: string;
    location: string;
    details: string | null;
    suppressed: string | null;
    first_seen: Date;
    last_seen: Date;
    fixed_at: Date | null;
    last_run: string;
  };
};

export const scanMigrations: Record<string, Migration> = {
  "2026-11-25-01-scan-evidence": {
    async up(db: Kysely<unknown>) {
      await sql`create table scan_runs (
          id text primary key,
          kind text not null,
          target text not null,
          source text not null,
          started_at timestamptz not null,
          finished_at timestamptz not null,
          received_at timestamptz not null,
          reported_by text not null,
          counts text not null,
          new_count integer not null,
          fixed_count integer not null
        )`.execute(db);
      await sql`create index scan_runs_by_source on scan_runs (kind, source, received_at)`.execute(db);
      await sql`create table scan_items (
          kind text not null,
          source text not null,
          fingerprint text not null,
          target text not null,
          rule text not null,
          severity text not null,
          title text not null,
          location text not null,
          details text,
          suppressed text,
          first_seen timestamptz not null,
          last_seen timestamptz not null,
          fixed_at timestamptz,
          last_run text not null,
          primary key (kind, source, fingerprint)
        )`.execute(db);
      await sql`create index scan_items_open on scan_items (kind, source, target) where fixed_at is null`.execute(
        db,
      );
    },
  },
};

const MAX_FINDINGS = 50_000;
const scalar = z.union([z.string().max(4096), z.number(), z.boolean(), z.null()]);

/** A ScanResult as the API accepts it (the shape of src/appsec/scan/types.ts). */
export const scanResultSchema = z.strictObject({
  kind: z.enum(["trivy", "k8s", "iac", "secrets"]),
  target: z.string().min(1).max(4096),
  startedAt: z.iso.datetime({ offset: true }),
  finishedAt: z.iso.datetime({ offset: true }),
  stats: z.record(z.string().max(128), z.number()),
  findings: z
    .array(
      z.strictObject({
        rule: z.string().min(1).max(256),
        severity: z.enum(scanSeverities),
        title: z.string().min(1).max(2048),
        fix: z.string().max(8192).optional(),
        location: z.strictObject({
          file: z.string().max(4096).optional(),
          line: z.number().int().min(0).optional(),
          column: z.number().int().min(0).optional(),
          resource: z.string().max(4096).optional(),
          path: z.string().max(4096).optional(),
        }),
        fingerprint: z.string().regex(/^[0-9a-f]{8,64}$/, "expected a hex fingerprint"),
        references: z.array(z.string().max(256)).max(100).optional(),
        details: z.record(z.string().max(128), scalar).optional(),
        suppressed: z
          .strictObject({
            by: z.enum(["ignore", "baseline", "inline", "policy"]),
            reason: z.string().max(2048).optional(),
            expires: z.string().max(64).optional(),
          })
          .optional(),
      }),
    )
    .max(MAX_FINDINGS),
});

/** The body of POST /api/v1/scans. */
export const scanReportSchema = z.strictObject({
  /** Who ran the scan: the CI project or repository (`group/project`), or a machine's name. */
  source: z.string().trim().min(1).max(256),
  result: scanResultSchema,
});

export interface ScanRun {
  id: string;
  kind: ScanKind;
  target: string;
  source: string;
  startedAt: string;
  finishedAt: string;
  receivedAt: string;
  reportedBy: string;
  counts: FindingCounts;
  new: number;
  fixed: number;
}

export interface ScanItem {
  kind: ScanKind;
  source: string;
  fingerprint: string;
  target: string;
  rule: string;
  severity: Finding["severity"];
  title: string;
  location: FindingLocation;
  details?: Finding["details"];
  suppressed?: Finding["suppressed"];
  firstSeen: string;
  lastSeen: string;
  fixedAt: string | null;
  lastRun: string;
}

/** What recording a run changed; `items` give each reported finding's first sighting (for SLAs). */
export interface ScanRecordOutcome {
  run: ScanRun;
  new: number;
  fixed: number;
  reopened: number;
  open: number;
  items: { fingerprint: string; firstSeen: string }[];
}

export interface ScanEvidence {
  /** Stores a run and its findings' state; emits scan.completed, scan.finding_new and scan.finding_fixed. */
  record(result: ScanResult, source: string, by: EventRef): Promise<ScanRecordOutcome>;
  runs(filter?: { kind?: ScanKind; source?: string; limit?: number }): Promise<ScanRun[]>;
  items(filter?: { kind?: ScanKind; source?: string; open?: boolean; limit?: number }): Promise<ScanItem[]>;
}

const iso = (d: Date | string) => new Date(d).toISOString();
const CHUNK = 500;
const chunks = <T>(xs: T[]): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(xs.slice(i, i + CHUNK));
  return out;
};

// Secrets findings keep no details: whatever a scanner put there, the evidence store is no place
// for anything derived from a credential beyond its redacted title and fingerprint.
const keptDetails = (kind: ScanKind, f: Finding) =>
  kind === "secrets" || !f.details ? null : JSON.stringify(f.details);

/** Scan evidence in `store`, events through `emit`. */
export function createScanEvidence(o: {
  store: Store;
  clock: Clock;
  emit: (e: SecurityEvent) => void;
  newId?: () => string;
}): ScanEvidence {
  const db = o.store.db.withTables<ScanTables>();
  const newId = o.newId ?? (() => crypto.randomUUID());

  const runOf = (r: ScanTables["scan_runs"]): ScanRun => ({
    id: r.id,
    kind: r.kind as ScanKind,
    target: r.target,
    source: r.source,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    receivedAt: iso(r.received_at),
    reportedBy: r.reported_by,
    counts: JSON.parse(r.counts) as FindingCounts,
    new: r.new_count,
    fixed: r.fixed_count,
  });
  const itemOf = (r: ScanTables["scan_items"]): ScanItem => ({
    kind: r.kind as ScanKind,
    source: r.source,
    fingerprint: r.fingerprint,
    target: r.target,
    rule: r.rule,
    severity: r.severity as Finding["severity"],
    title: r.title,
    location: JSON.parse(r.location) as FindingLocation,
    ...(r.details ? { details: JSON.parse(r.details) as Finding["details"] } : {}),
    ...(r.suppressed ? { suppressed: JSON.parse(r.suppressed) as Finding["suppressed"] } : {}),
    firstSeen: iso(r.first_seen),
    lastSeen: iso(r.last_seen),
    fixedAt: r.fixed_at ? iso(r.fixed_at) : null,
    lastRun: r.last_run,
  });

  return {
    async record(result, source, by) {
      const now = o.clock.now();
      const runId = newId();
      // One finding per fingerprint: a scanner repeating one keeps the most severe.
      const byPrint = new Map<string, Finding>();
      for (const f of result.findings) {
        const had = byPrint.get(f.fingerprint);
        if (!had || scanSeverities.indexOf(f.severity) > scanSeverities.indexOf(had.severity))
          byPrint.set(f.fingerprint, f);
      }
      const findings = [...byPrint.values()];
      const counts = countFindings(result);
      const key = { kind: result.kind, source };

      const outcome = await db.transaction().execute(async (tx) => {
        const known = new Map<string, { first_seen: Date; fixed_at: Date | null }>();
        for (const part of chunks(findings.map((f) => f.fingerprint))) {
          const rows = await tx
            .selectFrom("scan_items")
            .select(["fingerprint", "first_seen", "fixed_at"])
            .where("kind", "=", key.kind)
            .where("source", "=", key.source)
            .where("fingerprint", "in", part)
            .execute();
          for (const r of rows) known.set(r.fingerprint, r);
        }
        const fresh = findings.filter((f) => !known.has(f.fingerprint));
        const reopened = findings.filter((f) => known.get(f.fingerprint)?.fixed_at);
        for (const part of chunks(findings)) {
          await tx
            .insertInto("scan_items")
            .values(
              part.map((f) => ({
                kind: key.kind,
                source: key.source,
                fingerprint: f.fingerprint,
                target: result.target,
                rule: f.rule,
                severity: f.severity,
                title: f.title,
                location: JSON.stringify(f.location),
                details: keptDetails(result.kind, f),
                suppressed: f.suppressed ? JSON.stringify(f.suppressed) : null,
                first_seen: now,
                last_seen: now,
                fixed_at: null,
                last_run: runId,
              })),
            )
            .onConflict((c) =>
              c.columns(["kind", "source", "fingerprint"]).doUpdateSet((eb) => ({
                target: eb.ref("excluded.target"),
                rule: eb.ref("excluded.rule"),
                severity: eb.ref("excluded.severity"),
                title: eb.ref("excluded.title"),
                location: eb.ref("excluded.location"),
                details: eb.ref("excluded.details"),
                suppressed: eb.ref("excluded.suppressed"),
                last_seen: eb.ref("excluded.last_seen"),
                fixed_at: null,
                last_run: eb.ref("excluded.last_run"),
              })),
            )
            .execute();
        }
        // Open items of this kind, source and target that this run did not report are fixed.
        const fixed = await tx
          .updateTable("scan_items")
          .set({ fixed_at: now })
          .where("kind", "=", key.kind)
          .where("source", "=", key.source)
          .where("target", "=", result.target)
          .where("fixed_at", "is", null)
          .where("last_run", "!=", runId)
          .returningAll()
          .execute();
        const open = await tx
          .selectFrom("scan_items")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("kind", "=", key.kind)
          .where("source", "=", key.source)
          .where("fixed_at", "is", null)
          .executeTakeFirstOrThrow();
        const row: ScanTables["scan_runs"] = {
          id: runId,
          kind: result.kind,
          target: result.target,
          source,
          started_at: new Date(result.startedAt),
          finished_at: new Date(result.finishedAt),
          received_at: now,
          reported_by: `${by.kind}:${by.id}`,
          counts: JSON.stringify(counts),
          new_count: fresh.length,
          fixed_count: fixed.length,
        };
        await tx.insertInto("scan_runs").values(row).execute();
        return { row, fresh, reopened, fixed, open: Number(open.n), known };
      });

      const run = runOf(outcome.row);
      const target: EventRef = { kind: "scan", id: `${result.kind}:${source}` };
      const events: SecurityEvent[] = [
        newEvent(
          {
            type: "scan.completed",
            severity: "info",
            actor: by,
            target,
            retention: "audit",
            data: {
              run: runId,
              kind: result.kind,
              source,
              target: result.target,
              counts,
              new: outcome.fresh.length,
              fixed: outcome.fixed.length,
              reopened: outcome.reopened.length,
              open: outcome.open,
            },
          },
          now,
        ),
        ...outcome.fresh.map((f) =>
          newEvent(
            {
              type: "scan.finding_new",
              // Suppressed findings are recorded, but an accepted risk raises no alarm.
              severity: f.suppressed ? "info" : f.severity,
              actor: by,
              target: { kind: "scan_item", id: f.fingerprint },
              data: {
                run: runId,
                kind: result.kind,
                source,
                target: result.target,
                rule: f.rule,
                title: f.title,
                location: f.location,
                suppressed: f.suppressed !== undefined,
              },
            },
            now,
          ),
        ),
        ...outcome.fixed.map((i) =>
          newEvent(
            {
              type: "scan.finding_fixed",
              severity: "info",
              actor: by,
              target: { kind: "scan_item", id: i.fingerprint },
              data: {
                run: runId,
                kind: result.kind,
                source,
                target: i.target,
                rule: i.rule,
                severity: i.severity,
                title: i.title,
                firstSeen: iso(i.first_seen),
              },
            },
            now,
          ),
        ),
      ];
      for (const e of events) o.emit(e);
      // A finding that comes back after a fix keeps its first sighting: its SLA clock never restarted.
      const firstSeen = (fp: string) => iso(outcome.known.get(fp)?.first_seen ?? now);
      return {
        run,
        new: outcome.fresh.length,
        fixed: outcome.fixed.length,
        reopened: outcome.reopened.length,
        open: outcome.open,
        items: findings.map((f) => ({ fingerprint: f.fingerprint, firstSeen: firstSeen(f.fingerprint) })),
      };
    },

    async runs(filter = {}) {
      let q = db.selectFrom("scan_runs").selectAll();
      if (filter.kind) q = q.where("kind", "=", filter.kind);
      if (filter.source) q = q.where("source", "=", filter.source);
      const rows = await q
        .orderBy("received_at", "desc")
        .orderBy("id")
        .limit(filter.limit ?? 100)
        .execute();
      return rows.map(runOf);
    },

    async items(filter = {}) {
      let q = db.selectFrom("scan_items").selectAll();
      if (filter.kind) q = q.where("kind", "=", filter.kind);
      if (filter.source) q = q.where("source", "=", filter.source);
      if (filter.open === true) q = q.where("fixed_at", "is", null);
      if (filter.open === false) q = q.where("fixed_at", "is not", null);
      const rows = await q
        .orderBy("first_seen")
        .orderBy("fingerprint")
        .limit(filter.limit ?? 1000)
        .execute();
      return rows.map(itemOf);
    },
  };
}
