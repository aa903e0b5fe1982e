// Response deadlines. GDPR Art. 12(3): one month from receipt, extendable by two further months
// with reasons given to the subject; calendar months, clamped to the month's last day (31 Jan +
// one month = 28/29 Feb), as the EU's Regulation 1182/71 counts periods.
const DAY = 86_400_000;

/** `from` plus `months` calendar months (UTC), on the last day of the month when it has no such day. */
export function addMonths(from: Date, months: number): Date {
  const d = new Date(from.getTime());
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d;
}

export const addDays = (from: Date, days: number): Date => new Date(from.getTime() + days * DAY);

/** Whole days from `now` until `due`, rounded up (0 once due). */
export const daysLeft = (now: Date, due: Date): number =>
  Math.max(0, Math.ceil((due.getTime() - now.getTime()) / DAY));

/**
 * The reminder to send now: the smallest threshold (days before due) already reached and not sent.
 * Thresholds passed at the same time are all marked sent, so one tick sends one reminder.
 */
export function reminderDue(
  now: Date,
  due: Date,
  thresholds: readonly number[],
  sent: readonly string[],
): { label: string; days: number; markSent: string[] } | undefined {
  const reached = [...thresholds]
    .sort((a, b) => b - a)
    .filter((d) => now.getTime() >= due.getTime() - d * DAY && now.getTime() < due.getTime());
  const fresh = reached.filter((d) => !sent.includes(`${d}d`));
  if (fresh.length === 0) return undefined;
  const days = Math.min(...fresh);
  return { label: `${days}d`, days, markSent: reached.map((d) => `${d}d`) };
}
