// Notification clocks of a personal-data breach, each started from the moment the organisation
// became aware of it:
// - GDPR Art. 33(1): the supervisory authority within 72 hours.
// - DPDP Rules 2025, Rule 7 (as described by secondary summaries, not the gazetted text): each
//   affected Data Principal and the Data Protection Board "without delay", then a detailed report to
//   the Board within 72 hours. "Without delay" has no figure, so it is a due-now clock with a
//   configurable target (default 24 hours).
// - CERT-In Directions of 28 April 2022: report the incident within 6 hours of noticing it.
import { Invalid } from "../../../platform/errors.ts";

export const breachRegimes = ["gdpr", "dpdp", "cert_in"] as const;
export type BreachRegime = (typeof breachRegimes)[number];

/** Who a notification goes to: the regulator, the people affected, or the regulator's detailed/follow-up report. */
export const notificationRecipients = ["authority", "subjects", "authority_report"] as const;
export type NotificationRecipient = (typeof notificationRecipients)[number];

export const clockKeys = [
  "gdpr.authority",
  "dpdp.board_intimation",
  "dpdp.principals",
  "dpdp.board_report",
  "cert_in.report",
] as const;
export type ClockKey = (typeof clockKeys)[number];

/** Hours per clock, from config (`privacy.breaches.hours`). */
export interface ClockHours {
  gdprAuthority: number;
  dpdpBoardIntimation: number;
  dpdpPrincipals: number;
  dpdpBoardReport: number;
  certIn: number;
}

export interface ClockDefinition {
  key: ClockKey;
  regime: BreachRegime;
  recipient: NotificationRecipient;
  /** For people: "GDPR authority". */
  label: string;
  hours: keyof ClockHours;
  /** A "without delay" duty: the hours are our target, not the law's figure. */
  withoutDelay: boolean;
}

export const clockDefinitions: readonly ClockDefinition[] = [
  {
    key: "gdpr.authority",
    regime: "gdpr",
    recipient: "authority",
    label: "GDPR authority",
    hours: "gdprAuthority",
    withoutDelay: false,
  },
  {
    key: "dpdp.board_intimation",
    regime: "dpdp",
    recipient: "authority",
    label: "DPDP Board intimation",
    hours: "dpdpBoardIntimation",
    withoutDelay: true,
  },
  {
    key: "dpdp.principals",
    regime: "dpdp",
    recipient: "subjects",
    label: "DPDP principals",
    hours: "dpdpPrincipals",
    withoutDelay: true,
  },
  {
    key: "dpdp.board_report",
    regime: "dpdp",
    recipient: "authority_report",
    label: "DPDP Board report",
    hours: "dpdpBoardReport",
    withoutDelay: false,
  },
  {
    key: "cert_in.report",
    regime: "cert_in",
    recipient: "authority",
    label: "CERT-In report",
    hours: "certIn",
    withoutDelay: false,
  },
];

export const definitionOf = (key: ClockKey): ClockDefinition =>
  clockDefinitions.find((d) => d.key === key) as ClockDefinition;

/** The clocks `regimes` start. */
export const definitionsFor = (regimes: readonly BreachRegime[]): ClockDefinition[] =>
  clockDefinitions.filter((d) => regimes.includes(d.regime));

/** The clock a notification to `recipient` under `regime` meets, if any (GDPR Art. 34 to subjects has none). */
export const clockMetBy = (regime: BreachRegime, recipient: NotificationRecipient): ClockKey | undefined =>
  clockDefinitions.find((d) => d.regime === regime && d.recipient === recipient)?.key;

export const clockStates = ["open", "met", "missed", "waived"] as const;
export type ClockState = (typeof clockStates)[number];

/**
 * met: notified by the deadline; missed: the deadline passed unmet, or the notification came late;
 * waived: the breach was found not reportable (or closed) before the deadline; open otherwise.
 */
export function clockState(c: { dueAt: Date; metAt: Date | null }, now: Date, stopped: boolean): ClockState {
  if (c.metAt) return c.metAt.getTime() <= c.dueAt.getTime() ? "met" : "missed";
  if (now.getTime() > c.dueAt.getTime()) return stopped ? "waived" : "missed";
  return stopped ? "waived" : "open";
}

/** A reminder offset: "50%" of the window elapsed, or a duration before the deadline ("1h", "30m", "2d"). */
export const reminderOffsetPattern = /^(?:(\d{1,2}(?:\.\d+)?)%|(\d+)([mhd]))$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** When each reminder of a clock falls; offsets outside the window (before aware_at) are dropped. */
export function reminderTimes(
  awareAt: Date,
  dueAt: Date,
  offsets: readonly string[],
): { offset: string; at: Date }[] {
  const window = dueAt.getTime() - awareAt.getTime();
  const out: { offset: string; at: Date }[] = [];
  for (const offset of offsets) {
    const m = reminderOffsetPattern.exec(offset);
    if (!m) throw new Invalid(`expected 50% or a duration such as 1h; got '${offset}'`, "reminders");
    const at = m[1]
      ? awareAt.getTime() + (window * Number(m[1])) / 100
      : dueAt.getTime() - Number(m[2]) * (UNIT_MS[m[3] as string] as number);
    if (at > awareAt.getTime() && at < dueAt.getTime()) out.push({ offset, at: new Date(at) });
  }
  return out.sort((a, b) => a.at.getTime() - b.at.getTime());
}

/** "41h 12m", "3d 4h", "12m" — for clock views. */
export function shortDuration(ms: number): string {
  const minutes = Math.floor(Math.abs(ms) / 60_000);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  if (d >= 3) return `${d}d ${h}h`;
  if (d > 0 || h > 0) return `${d * 24 + h}h ${m}m`;
  return `${m}m`;
}
