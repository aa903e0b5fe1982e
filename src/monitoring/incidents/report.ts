// Incident figures over a period, per priority: what the API and `rampart incident report` show.
// MTTA = acknowledged_at − created_at over incidents acknowledged in the period; MTTR =
// recovered_at − created_at over incidents recovered in the period. Median and p90 are nearest-rank.
import { type Priority, priorities } from "../detect/types.ts";

export interface DurationStats {
  /** How many incidents the figures are over. */
  count: number;
  meanSeconds: number | null;
  medianSeconds: number | null;
  p90Seconds: number | null;
}

export interface ReportLine {
  opened: number;
  closed: number;
  openNow: number;
  mtta: DurationStats;
  mttr: DurationStats;
  oldestOpen: { id: string; createdAt: string; ageSeconds: number } | null;
}

export interface IncidentReport {
  since: string;
  until: string;
  priorities: Record<Priority, ReportLine>;
  total: ReportLine;
}

/** The times a report needs of one incident. */
export interface ReportRow {
  id: string;
  priority: Priority;
  open: boolean;
  createdAt: Date;
  acknowledgedAt: Date | null;
  recoveredAt: Date | null;
  closedAt: Date | null;
}

const nearestRank = (sorted: number[], p: number) =>
  sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;

/** Mean, median and p90 of `seconds` (null when there are none). */
export function durationStats(seconds: number[]): DurationStats {
  if (seconds.length === 0) return { count: 0, meanSeconds: null, medianSeconds: null, p90Seconds: null };
  const sorted = [...seconds].sort((a, b) => a - b);
  return {
    count: sorted.length,
    meanSeconds: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    medianSeconds: nearestRank(sorted, 0.5),
    p90Seconds: nearestRank(sorted, 0.9),
  };
}

function line(rows: ReportRow[], since: Date, until: Date, now: Date): ReportLine {
  const within = (d: Date | null): d is Date => d !== null && d >= since && d < until;
  const secs = (from: Date, to: Date) => (to.getTime() - from.getTime()) / 1000;
  const open = rows.filter((r) => r.open).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  const oldest = open[0];
  return {
    opened: rows.filter((r) => within(r.createdAt)).length,
    closed: rows.filter((r) => within(r.closedAt)).length,
    openNow: open.length,
    mtta: durationStats(
      rows.filter((r) => within(r.acknowledgedAt)).map((r) => secs(r.createdAt, r.acknowledgedAt as Date)),
    ),
    mttr: durationStats(
      rows.filter((r) => within(r.recoveredAt)).map((r) => secs(r.createdAt, r.recoveredAt as Date)),
    ),
    oldestOpen: oldest
      ? { id: oldest.id, createdAt: oldest.createdAt.toISOString(), ageSeconds: secs(oldest.createdAt, now) }
      : null,
  };
}

/** Figures for [since, until) from `rows`; "open now" and ages are as of `now`. */
export function buildReport(rows: ReportRow[], o: { since: Date; until: Date; now: Date }): IncidentReport {
  const per = Object.fromEntries(
    priorities.map((p) => [
      p,
      line(
        rows.filter((r) => r.priority === p),
        o.since,
        o.until,
        o.now,
      ),
    ]),
  ) as Record<Priority, ReportLine>;
  return {
    since: o.since.toISOString(),
    until: o.until.toISOString(),
    priorities: per,
    total: line(rows, o.since, o.until, o.now),
  };
}

/** Seconds for people: `6m 40s`, `2h 5m`, `3d 4h`, `45s`. */
export function humanDuration(seconds: number | null): string {
  if (seconds === null) return "-";
  const s = Math.round(seconds);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return r > 0 ? `${m}m ${r}s` : `${m}m`;
  return `${r}s`;
}
