// `rampart privacy breach`: the personal-data breach register through the running control plane's
// API — list, open, show with a readable view of the notification clocks, move the status, record
// a notification sent, and print the draft notices.
import type { Command } from "commander";
import {
  type Breach,
  type BreachClock,
  type BreachDraft,
  breachRegimes,
  breachStatuses,
  draftKinds,
  notificationRecipients,
  shortDuration,
} from "../data/privacy/breach/index.ts";
import { apiFor, type Common, commonOptions, print } from "./access.ts";

const base = "/api/v1/privacy/breaches";
const path = (id: string, rest = "") => `${base}/${encodeURIComponent(id)}${rest}`;
const minute = (iso: string | null) => (iso ? iso.slice(0, 16).replace("T", " ") : "-");
const repeat = (v: string, all: string[]) => [
  ...all,
  ...v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
];

function choice<T extends string>(values: readonly T[], flag: string) {
  return (v: string): T => {
    const x = v.toLowerCase().replaceAll("-", "_");
    if (!(values as readonly string[]).includes(x))
      throw new Error(`${flag}: expected one of ${values.join(", ")}; got '${v}'`);
    return x as T;
  };
}
const regimesOf = (v: string, all: string[]) => {
  const pick = choice(breachRegimes, "--regime");
  return [...all, ...v.split(",").map((s) => pick(s.trim()))];
};

/** A bar of how much of the clock's window has gone: [########------------]. */
export function progressBar(fraction: number, width = 20): string {
  const n = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${"#".repeat(n)}${"-".repeat(width - n)}]`;
}

/** One clock for people: "GDPR authority: due in 41h 12m (72h from aware) [######--------------]". */
export function clockLine(c: BreachClock, now: Date): string {
  const start = Date.parse(c.startedAt);
  const due = Date.parse(c.dueAt);
  const window = `${c.hours}h from aware${c.withoutDelay ? ", target for 'without delay'" : ""}`;
  const label = `${c.label}:`.padEnd(24);
  switch (c.state) {
    case "met":
      return `${label}met ${minute(c.metAt)}, ${shortDuration(due - Date.parse(c.metAt as string))} before due (${window})`;
    case "missed":
      return c.metAt
        ? `${label}MISSED: notified ${minute(c.metAt)}, ${shortDuration(Date.parse(c.metAt) - due)} late (${window})`
        : `${label}MISSED by ${shortDuration(now.getTime() - due)}, due ${minute(c.dueAt)} (${window})`;
    case "waived":
      return `${label}not required (breach not reportable or closed)`;
    case "open":
      return `${label}due in ${shortDuration(due - now.getTime())} (${window}) ${progressBar((now.getTime() - start) / (due - start))}`;
  }
}

const line = (b: Breach) =>
  `  ${b.id.padEnd(13)} ${b.status.padEnd(18)} aware ${minute(b.awareAt)}  ${b.regimes.join(",").padEnd(18)} ${b.title}`;

export function breachDetails(b: Breach, now: Date): string {
  const list = (xs: string[]) => (xs.length > 0 ? xs.join(", ") : "-");
  const out = [
    `${b.id}  ${b.status}  ${b.title}`,
    `  aware       ${minute(b.awareAt)}   detected ${minute(b.detectedAt)}${b.incidentId ? `   incident ${b.incidentId}` : ""}`,
    `  regimes     ${b.regimes.join(", ")}`,
    `  data        ${list(b.dataCategories)}`,
    `  people      ${list(b.subjectCategories)}   ~${b.approxSubjects ?? "?"} people, ~${b.approxRecords ?? "?"} records`,
    `  regions     ${list(b.regions)}   systems ${list(b.systems)}`,
    `  next        ${b.nextStatuses.join(", ") || "-"}`,
  ];
  if (b.statusReason) out.push(`  reason      ${b.statusReason}`);
  out.push("", "  clocks");
  for (const c of b.clocks) out.push(`    ${clockLine(c, now)}`);
  if (b.notifications.length > 0) {
    out.push("", "  notifications");
    for (const n of b.notifications)
      out.push(
        `    ${minute(n.sentAt)}  ${n.regime} ${n.recipient}${n.reference ? `  ref ${n.reference}` : ""}  by ${n.recordedBy}`,
      );
  }
  return out.join("\n");
}

/** Registers `breach …` on the `privacy` command. */
export function registerPrivacyBreachCommands(privacy: Command): void {
  const breach = privacy
    .command("breach")
    .description(
      "personal-data breach register: records, notification clocks (GDPR 72h, DPDP, CERT-In 6h), drafts",
    );

  commonOptions(breach.command("list"))
    .description("breach records, most recent first")
    .option("--open", "only those not closed")
    .option(
      "--status <status>",
      `only this status (${breachStatuses.join(", ")})`,
      choice(breachStatuses, "--status"),
    )
    .option("--limit <n>", "at most this many (default 100)")
    .action(async (o: Common & { open?: boolean; status?: string; limit?: string }) => {
      const q = new URLSearchParams();
      if (o.open) q.set("open", "true");
      if (o.status) q.set("status", o.status);
      if (o.limit) q.set("limit", o.limit);
      const { breaches } = await (
        await apiFor(o)
      )<{ breaches: Breach[] }>("GET", `${base}${q.size > 0 ? `?${q}` : ""}`);
      const now = new Date();
      const text = breaches.flatMap((b) => [
        line(b),
        ...b.clocks
          .filter((c) => c.state === "open" || c.state === "missed")
          .map((c) => `      ${clockLine(c, now)}`),
      ]);
      print(o, breaches, breaches.length === 0 ? "no breaches" : text.join("\n"));
    });

  commonOptions(breach.command("show <id>"))
    .description("one breach with its clocks and notifications")
    .action(async (id: string, o: Common) => {
      const b = await (await apiFor(o))<Breach>("GET", path(id));
      print(o, b, breachDetails(b, new Date()));
    });

  commonOptions(breach.command("open"))
    .description("record a breach; its clocks start when you became aware of it")
    .requiredOption("--title <text>", "one line")
    .requiredOption("--description <text>", "what happened")
    .option("--aware-at <iso>", "when the organisation became aware (default: now)")
    .option("--detected-at <iso>", "when it was detected (default: aware-at)")
    .option("--incident <id>", "the incident it came from")
    .option(
      "--regime <r>",
      `regimes (${breachRegimes.join(", ")}; default from config), repeat or comma-separate`,
      regimesOf,
      [],
    )
    .option("--data <category>", "data categories affected (repeat or comma-separate)", repeat, [])
    .option("--subjects <kind>", "kinds of people affected (repeat or comma-separate)", repeat, [])
    .option("--people <n>", "approximate number of people")
    .option("--records <n>", "approximate number of records")
    .option("--region <r>", "regions (repeat or comma-separate)", repeat, [])
    .option("--system <s>", "systems affected (repeat or comma-separate)", repeat, [])
    .option("--type <text>", "type of incident (CERT-In), e.g. 'data leak'")
    .option("--consequences <text>", "likely consequences")
    .option("--measures <text>", "measures taken or proposed")
    .action(async (o: Common & Record<string, string | string[] | undefined>) => {
      const num = (v: unknown, flag: string) => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0)
          throw new Error(`${flag}: expected a whole number; got '${String(v)}'`);
        return n;
      };
      const arr = (v: unknown) => (Array.isArray(v) && v.length > 0 ? v : undefined);
      const body = Object.fromEntries(
        Object.entries({
          title: o["title"],
          description: o["description"],
          awareAt: o["awareAt"],
          detectedAt: o["detectedAt"],
          incidentId: o["incident"],
          regimes: arr(o["regime"]),
          dataCategories: arr(o["data"]),
          subjectCategories: arr(o["subjects"]),
          approxSubjects: num(o["people"], "--people"),
          approxRecords: num(o["records"], "--records"),
          regions: arr(o["region"]),
          systems: arr(o["system"]),
          incidentType: o["type"],
          consequences: o["consequences"],
          measures: o["measures"],
        }).filter(([, v]) => v !== undefined),
      );
      const b = await (await apiFor(o))<Breach>("POST", base, body);
      print(o, b, `opened ${b.id}\n${breachDetails(b, new Date())}`);
    });

  commonOptions(breach.command("move <id> <status>"))
    .description(`move to another status (${breachStatuses.join(", ")})`)
    .option(
      "--reason <text>",
      "why (required for not_reportable, e.g. 'GDPR Art. 33(1): unlikely to result in a risk')",
    )
    .action(async (id: string, status: string, o: Common & { reason?: string }) => {
      const b = await (
        await apiFor(o)
      )<Breach>("PATCH", path(id), {
        status: choice(breachStatuses, "STATUS")(status),
        ...(o.reason ? { reason: o.reason } : {}),
      });
      print(o, b, `${b.id} is ${b.status}; next: ${b.nextStatuses.join(", ") || "-"}`);
    });

  commonOptions(breach.command("notify <id>"))
    .description("record a notification sent; it meets the regime's clock for that recipient")
    .requiredOption("--regime <r>", breachRegimes.join(" | "), choice(breachRegimes, "--regime"))
    .requiredOption(
      "--to <recipient>",
      `${notificationRecipients.join(" | ")} (DPDP: authority = the Board's intimation, authority_report = its detailed report)`,
      choice(notificationRecipients, "--to"),
    )
    .option("--sent-at <iso>", "when it was sent (default: now)")
    .option("--reference <text>", "acknowledgement number, ticket or message id")
    .action(
      async (id: string, o: Common & { regime: string; to: string; sentAt?: string; reference?: string }) => {
        const b = await (
          await apiFor(o)
        )<Breach>("POST", path(id, "/notifications"), {
          regime: o.regime,
          recipient: o.to,
          ...(o.sentAt ? { sentAt: o.sentAt } : {}),
          ...(o.reference ? { reference: o.reference } : {}),
        });
        print(o, b, `recorded: ${o.regime} ${o.to}\n${breachDetails(b, new Date())}`);
      },
    );

  commonOptions(breach.command("draft <id>"))
    .description("draft notices (Markdown) for the breach's regimes")
    .option("--kind <kind>", `only this one (${draftKinds.join(", ")})`, choice(draftKinds, "--kind"))
    .action(async (id: string, o: Common & { kind?: string }) => {
      const { drafts } = await (
        await apiFor(o)
      )<{ drafts: BreachDraft[] }>("GET", path(id, `/drafts${o.kind ? `?kind=${o.kind}` : ""}`));
      const text = drafts.map(
        (d) =>
          `<!-- ${d.kind}: ${d.title}${d.missing.length > 0 ? `; still missing: ${d.missing.join(", ")}` : ""} -->\n\n${d.body}`,
      );
      print(o, drafts, drafts.length === 0 ? "no drafts apply" : text.join("\n---\n\n"));
    });
}
