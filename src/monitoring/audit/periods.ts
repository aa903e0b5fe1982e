// Each retention class is split into periods (month by default); one Merkle log per class and
// period, so expiry drops whole logs and never rewrites a live one.
export type PeriodUnit = "month" | "week" | "day";

export interface Period {
  readonly key: string;
  readonly start: Date;
  readonly end: Date;
}

const DAY = 86_400_000;

/** The period of `unit` that contains `t` (UTC). */
export function periodOf(t: Date, unit: PeriodUnit): Period {
  const y = t.getUTCFullYear();
  const m = t.getUTCMonth();
  const d = t.getUTCDate();
  if (unit === "month") {
    const start = new Date(Date.UTC(y, m, 1));
    return { key: `${y}-${pad(m + 1)}`, start, end: new Date(Date.UTC(y, m + 1, 1)) };
  }
  const day = new Date(Date.UTC(y, m, d));
  if (unit === "day") {
    return { key: `${y}-${pad(m + 1)}-${pad(d)}`, start: day, end: new Date(day.getTime() + DAY) };
  }
  // ISO 8601 week: starts Monday; the week-year is the year of its Thursday.
  const start = new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * DAY);
  const thursday = new Date(start.getTime() + 3 * DAY);
  const wy = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(wy, 0, 1)) / (7 * DAY)) + 1;
  return { key: `${wy}-W${pad(week)}`, start, end: new Date(start.getTime() + 7 * DAY) };
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}
