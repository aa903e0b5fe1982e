// Draft notifications generated from a breach record, for a person to check, complete and send:
// the GDPR Art. 33(3) notification to the supervisory authority, the DPDP intimation and detailed
// report to the Data Protection Board, the DPDP notice to Data Principals and a CERT-In incident
// report. The wording is ours; it follows what each regime asks for, not the regulators' forms.
// Record text is escaped: drafts are Markdown and may be rendered as HTML by the console.
import type { BreachConfig } from "./schema.ts";
import type { Breach, BreachDraft, DraftKind } from "./types.ts";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };
/** Record text made inert in Markdown rendered as HTML. */
export const escapeText = (s: string): string => s.replace(/[&<>]/g, (c) => ESCAPES[c] as string);

const UNKNOWN = "_(not yet known: complete before sending)_";

interface Facts {
  missing: string[];
  field(value: string | null | undefined, name: string): string;
  list(values: readonly string[], name: string): string;
  count(value: number | null, name: string): string;
}

function facts(): Facts {
  const missing: string[] = [];
  const gap = (name: string) => {
    if (!missing.includes(name)) missing.push(name);
    return UNKNOWN;
  };
  return {
    missing,
    field: (v, name) => (v && v.trim() ? escapeText(v.trim()) : gap(name)),
    list: (vs, name) => (vs.length > 0 ? vs.map(escapeText).join(", ") : gap(name)),
    count: (v, name) => (v === null ? gap(name) : `about ${v.toLocaleString("en")}`),
  };
}

const when = (iso: string) => `${iso.slice(0, 16).replace("T", " ")} UTC`;

function contact(config: BreachConfig, f: Facts): { controller: string; contact: string; dpo: string } {
  const c = config.controller;
  return {
    controller: f.field(c?.name, "controller name (privacy.breaches.controller.name)"),
    contact: f.field(c?.contact, "contact point (privacy.breaches.controller.contact)"),
    dpo: f.field(c?.dpo ?? c?.contact, "DPO contact (privacy.breaches.controller.dpo)"),
  };
}

function dueLine(b: Breach, key: string): string {
  const c = b.clocks.find((x) => x.key === key);
  return c
    ? `Deadline: ${when(c.dueAt)} (${c.hours}h from awareness${c.withoutDelay ? ", our target" : ""}).`
    : "";
}

function lateNote(b: Breach, key: string): string[] {
  const c = b.clocks.find((x) => x.key === key);
  if (!c || c.state !== "missed") return [];
  return [
    "",
    "## Reasons for the delay",
    "",
    `This notification is sent after the deadline of ${when(c.dueAt)}. Reasons: ${UNKNOWN}`,
  ];
}

function gdprAuthority(b: Breach, config: BreachConfig): BreachDraft {
  const f = facts();
  const who = contact(config, f);
  const body = [
    `# Personal data breach notification (GDPR Art. 33)`,
    "",
    `Controller: ${who.controller}  `,
    `Our reference: ${b.id}  `,
    dueLine(b, "gdpr.authority"),
    "",
    "## What happened",
    "",
    `${escapeText(b.title)}.`,
    "",
    escapeText(b.description),
    "",
    `We became aware of the breach on ${when(b.awareAt)}; it was detected on ${when(b.detectedAt)}.`,
    "",
    "## Who and what is affected",
    "",
    `- Categories of people: ${f.list(b.subjectCategories, "categories of people affected")}`,
    `- Approximate number of people: ${f.count(b.approxSubjects, "approximate number of people")}`,
    `- Categories of personal data: ${f.list(b.dataCategories, "categories of personal data")}`,
    `- Approximate number of records: ${f.count(b.approxRecords, "approximate number of records")}`,
    `- Countries or regions: ${f.list(b.regions, "regions")}`,
    "",
    "## Likely consequences",
    "",
    f.field(b.consequences, "likely consequences"),
    "",
    "## Measures taken or proposed",
    "",
    f.field(b.measures, "measures taken"),
    "",
    "## Contact for more information",
    "",
    `Data protection officer or contact point: ${who.dpo}`,
    "",
    "Where some of this information is not yet available, we will provide it in phases without further undue delay.",
    ...lateNote(b, "gdpr.authority"),
  ];
  return draft("gdpr_authority", "gdpr", "authority", "Notification to the supervisory authority", body, f);
}

function dpdpBoardIntimation(b: Breach, config: BreachConfig): BreachDraft {
  const f = facts();
  const who = contact(config, f);
  const body = [
    `# Intimation of a personal data breach to the Data Protection Board of India`,
    "",
    `Data Fiduciary: ${who.controller}  `,
    `Our reference: ${b.id}  `,
    dueLine(b, "dpdp.board_intimation"),
    "",
    "## Description of the breach",
    "",
    `${escapeText(b.title)}.`,
    "",
    escapeText(b.description),
    "",
    `- Nature and extent: ${f.list(b.dataCategories, "categories of personal data")}; ${f.count(b.approxSubjects, "approximate number of people")} Data Principals`,
    `- When it occurred or was found: aware ${when(b.awareAt)}, detected ${when(b.detectedAt)}`,
    `- Where: ${f.list(b.regions, "regions")}`,
    `- Likely impact: ${f.field(b.consequences, "likely consequences")}`,
    "",
    `Contact: ${who.contact}. A detailed report follows within the period the Rules allow.`,
  ];
  return draft(
    "dpdp_board_intimation",
    "dpdp",
    "authority",
    "Intimation to the Data Protection Board",
    body,
    f,
  );
}

function dpdpBoardReport(b: Breach, config: BreachConfig): BreachDraft {
  const f = facts();
  const who = contact(config, f);
  const sent = b.notifications.filter((n) => n.regime === "dpdp" && n.recipient === "subjects");
  const body = [
    `# Detailed report of a personal data breach to the Data Protection Board of India`,
    "",
    `Data Fiduciary: ${who.controller}  `,
    `Our reference: ${b.id}  `,
    dueLine(b, "dpdp.board_report"),
    "",
    "## Facts of the breach",
    "",
    escapeText(b.description),
    "",
    `- Aware since: ${when(b.awareAt)}; detected: ${when(b.detectedAt)}`,
    `- Personal data affected: ${f.list(b.dataCategories, "categories of personal data")} (${f.count(b.approxRecords, "approximate number of records")} records)`,
    `- Data Principals affected: ${f.list(b.subjectCategories, "categories of people affected")}, ${f.count(b.approxSubjects, "approximate number of people")}`,
    `- Systems involved: ${f.list(b.systems, "systems involved")}`,
    `- Regions: ${f.list(b.regions, "regions")}`,
    "",
    "## Circumstances and cause",
    "",
    f.field(b.incidentType, "cause or type of incident"),
    "",
    "## Measures to mitigate the risk",
    "",
    f.field(b.measures, "measures taken"),
    "",
    "## Findings about the person or cause responsible",
    "",
    UNKNOWN,
    "",
    "## Remedial measures to prevent a recurrence",
    "",
    UNKNOWN,
    "",
    "## Intimations to affected Data Principals",
    "",
    sent.length > 0
      ? sent
          .map((n) => `- Sent ${when(n.sentAt)}${n.reference ? ` (${escapeText(n.reference)})` : ""}`)
          .join("\n")
      : "_(none recorded yet)_",
    "",
    `Contact: ${who.contact}`,
  ];
  f.missing.push("findings about the cause", "remedial measures");
  return draft(
    "dpdp_board_report",
    "dpdp",
    "authority_report",
    "Detailed report to the Data Protection Board",
    body,
    f,
  );
}

function dpdpPrincipals(b: Breach, config: BreachConfig): BreachDraft {
  const f = facts();
  const who = contact(config, f);
  const body = [
    `# About a problem with your personal data`,
    "",
    `We are writing to tell you that some of your personal data held by ${who.controller} was affected by a security incident.`,
    "",
    "## What happened",
    "",
    escapeText(b.description),
    "",
    `We found out on ${when(b.awareAt)}.`,
    "",
    "## What data was involved",
    "",
    f.list(b.dataCategories, "categories of personal data"),
    "",
    "## What this could mean for you",
    "",
    f.field(b.consequences, "likely consequences"),
    "",
    "## What we have done",
    "",
    f.field(b.measures, "measures taken"),
    "",
    "## What you can do",
    "",
    "- Be careful with messages or calls that mention this incident or ask for passwords, codes or payments.",
    "- Change your password if you use it elsewhere, and turn on two-step sign-in where you can.",
    "- Watch your accounts and statements for anything you do not recognise, and tell us about it.",
    "",
    "## Who to contact",
    "",
    `If you have questions or want to raise a grievance, contact ${who.contact}. Quote reference ${b.id}.`,
  ];
  return draft("dpdp_principals", "dpdp", "subjects", "Notice to affected Data Principals", body, f);
}

function certInReport(b: Breach, config: BreachConfig): BreachDraft {
  const f = facts();
  const who = contact(config, f);
  const body = [
    `# Cyber security incident report to CERT-In`,
    "",
    `| Field | Value |`,
    `|---|---|`,
    `| Organisation | ${who.controller} |`,
    `| Point of contact | ${who.contact} |`,
    `| Our reference | ${b.id} |`,
    `| Type of incident | ${f.field(b.incidentType, "type of incident")} |`,
    `| Time noticed | ${when(b.awareAt)} |`,
    `| Time detected | ${when(b.detectedAt)} |`,
    `| Systems affected | ${f.list(b.systems, "systems involved")} |`,
    `| Location | ${f.list(b.regions, "regions")} |`,
    `| Personal data involved | ${f.list(b.dataCategories, "categories of personal data")} |`,
    `| Actions taken | ${f.field(b.measures, "measures taken").replace(/\n+/g, " ")} |`,
    "",
    "## Description",
    "",
    escapeText(b.description),
    "",
    dueLine(b, "cert_in.report"),
  ];
  return draft("cert_in_report", "cert_in", "authority", "Incident report to CERT-In", body, f);
}

function draft(
  kind: DraftKind,
  regime: BreachDraft["regime"],
  recipient: BreachDraft["recipient"],
  title: string,
  lines: string[],
  f: Facts,
): BreachDraft {
  const body = `${lines
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim()}\n`;
  return { kind, regime, recipient, title, format: "markdown", body, missing: f.missing };
}

const builders: Record<DraftKind, (b: Breach, c: BreachConfig) => BreachDraft> = {
  gdpr_authority: gdprAuthority,
  dpdp_board_intimation: dpdpBoardIntimation,
  dpdp_board_report: dpdpBoardReport,
  dpdp_principals: dpdpPrincipals,
  cert_in_report: certInReport,
};

/** The drafts that apply to `b` (by its regimes), or only `kind`. */
export function draftsFor(b: Breach, config: BreachConfig, kind?: DraftKind): BreachDraft[] {
  return Object.entries(builders)
    .map(([k, build]) => ({ k: k as DraftKind, build }))
    .filter(({ k }) => (kind ? k === kind : true))
    .map(({ build }) => build(b, config))
    .filter((d) => b.regimes.includes(d.regime));
}
