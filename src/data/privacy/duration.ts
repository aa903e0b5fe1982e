// ISO 8601 durations as the privacy module writes them: retention periods and notice windows
// (P3Y, P90D, PT48H), consent retention (P7Y), vendor review intervals (P1Y6M). Years and months
// are calendar units that clamp to the month's end, as PostgreSQL's interval arithmetic does:
// 29 February plus or minus one year is 28 February, never 1 March.
import { Invalid } from "../../platform/errors.ts";

export interface IsoDuration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

// `P` must be followed by something and `T` by a digit, so "P", "PT" and "P1DT" are refused.
const PATTERN =
  /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** The parts of an ISO 8601 duration, or undefined when `text` is not one. */
export function parseIsoDuration(text: string): IsoDuration | undefined {
  const m = PATTERN.exec(text);
  if (!m) return undefined;
  const n = (i: number) => Number(m[i] ?? 0);
  return { years: n(1), months: n(2), weeks: n(3), days: n(4), hours: n(5), minutes: n(6), seconds: n(7) };
}

/** Whether `text` is an ISO 8601 duration (for zod refinements). */
export const isIsoDuration = (text: string): boolean => PATTERN.test(text);

const isZero = (d: IsoDuration) => Object.values(d).every((v) => v === 0);

/**
 * The parts of `text` (surrounding blanks ignored); Invalid naming `where` (e.g. the policy's key)
 * when it is not a duration, or with `positive` when it is zero.
 */
export function requireIsoDuration(text: string, where: string, o: { positive?: boolean } = {}): IsoDuration {
  const d = parseIsoDuration(text.trim());
  if (!d) throw new Invalid(`expected an ISO 8601 duration such as P3Y, P90D or PT48H; got '${text}'`, where);
  if (o.positive && isZero(d)) throw new Invalid(`a zero duration ('${text}') is not a period`, where);
  return d;
}

/** `at` moved by `sign` × `d` (UTC; sign -1: back). A string is parsed first, Invalid if it is not a duration. */
export function addDuration(at: Date, d: IsoDuration | string, sign: 1 | -1 = 1): Date {
  const dur = typeof d === "string" ? requireIsoDuration(d, "duration") : d;
  const t = new Date(at.getTime());
  if (dur.years || dur.months) {
    // Clamp to the month's last day: 29 Feb minus one year is 28 Feb, not 1 Mar.
    const day = t.getUTCDate();
    t.setUTCDate(1);
    t.setUTCMonth(t.getUTCMonth() + sign * (dur.years * 12 + dur.months));
    const last = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 0)).getUTCDate();
    t.setUTCDate(Math.min(day, last));
  }
  const ms =
    (((dur.weeks * 7 + dur.days) * 24 + dur.hours) * 60 + dur.minutes) * 60_000 +
    Math.round(dur.seconds * 1000);
  return new Date(t.getTime() + sign * ms);
}

/** `at` moved back by `d`. */
export const subtractDuration = (at: Date, d: IsoDuration | string): Date => addDuration(at, d, -1);

/** Human words for a duration: "3 years", "1 year 6 months", "48 hours". */
export function describeDuration(d: IsoDuration): string {
  const parts: [number, string][] = [
    [d.years, "year"],
    [d.months, "month"],
    [d.weeks, "week"],
    [d.days, "day"],
    [d.hours, "hour"],
    [d.minutes, "minute"],
    [d.seconds, "second"],
  ];
  return (
    parts
      .filter(([n]) => n > 0)
      .map(([n, unit]) => `${n} ${unit}${n === 1 ? "" : "s"}`)
      .join(" ") || "0 seconds"
  );
}
