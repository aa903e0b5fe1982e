// Local time in an IANA zone, fast: Intl is slow (microseconds a call), so a zone's UTC offset is
// computed once per quarter hour of UTC and kept. Offsets change only at transitions, and every
// zone's transitions fall on quarter hours of UTC, so the offset is the same across one.

const QUARTER_HOUR = 15 * 60_000;
const DAY = 86_400_000;
const MAX_CACHED = 4096;

/** Minute of the week in a zone (0 = Sunday 00:00) for an instant in epoch ms. */
export type ZoneClock = (epochMs: number) => number;

/** Whether `timeZone` is an IANA zone this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** A clock for `timeZone` (validated with `isTimeZone`). */
export function zoneClock(timeZone: string): ZoneClock {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  });
  const offsets = new Map<number, number>();
  const offsetAt = (quarter: number): number => {
    const cached = offsets.get(quarter);
    if (cached !== undefined) return cached;
    const at = quarter * QUARTER_HOUR;
    const p: Record<string, number> = {};
    for (const part of format.formatToParts(at)) p[part.type] = Number(part.value);
    const offset =
      Date.UTC(p.year as number, (p.month as number) - 1, p.day, p.hour, p.minute, p.second) - at;
    if (offsets.size >= MAX_CACHED) offsets.clear();
    offsets.set(quarter, offset);
    return offset;
  };
  return (epochMs) => {
    const local = epochMs + offsetAt(Math.floor(epochMs / QUARTER_HOUR));
    const days = Math.floor(local / DAY);
    // 1970-01-01 was a Thursday (4).
    const weekday = (((days + 4) % 7) + 7) % 7;
    return weekday * 1440 + Math.floor((local - days * DAY) / 60_000);
  };
}
