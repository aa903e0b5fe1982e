// `rampart incident`: incidents through the running control plane's API — open, acknowledge,
// move through the life cycle, assign a commander, add notes and evidence, write the review,
// close, and the MTTA/MTTR report. Who acts is the credential given (see `rampart access`).
import type { Command } from "commander";
import { priorities } from "../monitoring/detect/types.ts";
import {
  humanDuration,
  type Incident,
  type IncidentReport,
  incidentStates,
  type ReportLine,
  type TimelineEntry,
} from "../monitoring/incidents/index.ts";
import { apiFor, type Common, commonOptions, print } from "./access.ts";

const repeat = (v: string, all: string[]) => [...all, v];
const path = (id: string, rest = "") => `/api/v1/incidents/${encodeURIComponent(id)}${rest}`;
const minute = (iso: string | null) => (iso ? iso.slice(0, 16).replace("T", " ") : "-");

function choice<T extends string>(values: readonly T[], flag: string) {
  return (v: string): T => {
    const up = flag === "--priority" ? v.toUpperCase() : v.toLowerCase();
    if (!(values as readonly string[]).includes(up))
      throw new Error(`${flag}: expected one of ${values.join(", ")}; got '${v}'`);
    return up as T;
  };
}
const priority = choice(priorities, "--priority");
const state = choice(incidentStates, "STATE");

const line = (i: Incident) =>
  `  ${i.id.padEnd(14)} ${i.priority}  ${i.state.padEnd(10)} ${minute(i.createdAt)}  ${(i.commander ?? "-").padEnd(16)} ${i.title}`;

function details(i: Incident & { timeline: TimelineEntry[] }): string {
  const out = [
    `${i.id}  ${i.priority}  ${i.state}  ${i.title}`,
    `  commander   ${i.commander ?? "-"}`,
    `  opened      ${minute(i.createdAt)}   acknowledged ${minute(i.acknowledgedAt)}   contained ${minute(i.containedAt)}`,
    `  recovered   ${minute(i.recoveredAt)}   closed ${minute(i.closedAt)}`,
    `  next        ${i.nextStates.join(", ") || "-"}`,
  ];
  if (i.summary) out.push(`  summary     ${i.summary}`);
  if (i.rule) out.push(`  rule        ${i.rule}  (${i.fingerprint ?? "no fingerprint"})`);
  if (i.playbookRuns.length > 0) out.push(`  playbooks   ${i.playbookRuns.join(", ")}`);
  if (i.review) {
    out.push(
      `  review      by ${i.review.reviewedBy} at ${minute(i.review.reviewedAt)}: ${i.review.summary}`,
    );
    out.push(`  root cause  ${i.review.rootCause}`);
    for (const l of i.review.lessons) out.push(`  lesson      ${l}`);
    for (const a of i.review.actionItems)
      out.push(`  action      ${a.title}${a.owner ? ` (${a.owner})` : ""}${a.due ? ` due ${a.due}` : ""}`);
  }
  const actorWidth = Math.min(28, Math.max(5, ...i.timeline.map((t) => t.actor.length)));
  out.push("", `  ${"time".padEnd(19)} ${"kind".padEnd(9)} ${"actor".padEnd(actorWidth)} what`);
  for (const t of i.timeline)
    out.push(
      `  ${t.at.slice(0, 19).replace("T", " ")} ${t.kind.padEnd(9)} ${t.actor.padEnd(actorWidth)} ${t.text}`,
    );
  if (i.autoDropped > 0)
    out.push(`  (${i.autoDropped} later events not added: the timeline keeps the first ${i.autoEntries})`);
  return out.join("\n");
}

function reportTable(r: IncidentReport): string {
  const head = [
    "priority",
    "opened",
    "closed",
    "open",
    "MTTA mean",
    "median",
    "p90",
    "MTTR mean",
    "median",
    "p90",
    "oldest open",
  ];
  const row = (name: string, l: ReportLine) => [
    name,
    String(l.opened),
    String(l.closed),
    String(l.openNow),
    humanDuration(l.mtta.meanSeconds),
    humanDuration(l.mtta.medianSeconds),
    humanDuration(l.mtta.p90Seconds),
    humanDuration(l.mttr.meanSeconds),
    humanDuration(l.mttr.medianSeconds),
    humanDuration(l.mttr.p90Seconds),
    l.oldestOpen ? `${l.oldestOpen.id} (${humanDuration(l.oldestOpen.ageSeconds)})` : "-",
  ];
  const rows = [head, ...priorities.map((p) => row(p, r.priorities[p])), row("total", r.total)];
  const widths = head.map((_, c) => Math.max(...rows.map((x) => (x[c] as string).length)));
  return [
    `incidents ${minute(r.since)} → ${minute(r.until)} (MTTA: opened → acknowledged; MTTR: opened → recovered)`,
    ...rows.map((x) =>
      `  ${x.map((v, c) => (c === 0 || c === x.length - 1 ? v.padEnd(widths[c] as number) : v.padStart(widths[c] as number))).join("  ")}`.trimEnd(),
    ),
  ].join("\n");
}

/** `--action "title|owner|YYYY-MM-DD"` (owner and due optional). */
function actionItem(text: string): { title: string; owner?: string; due?: string } {
  const [title = "", owner, due] = text.split("|").map((s) => s.trim());
  if (!title)
    throw new Error(`--action: expected "title|owner|YYYY-MM-DD" (owner and due optional); got '${text}'`);
  return { title, ...(owner ? { owner } : {}), ...(due ? { due } : {}) };
}

/** Registers `rampart incident …` on `program`. */
export function registerIncidentCommands(program: Command): void {
  const incident = program
    .command("incident")
    .description("incidents P0-P3: open, acknowledge, contain, recover, review, close; MTTA/MTTR report");

  commonOptions(incident.command("list"))
    .description("incidents, newest first")
    .option("--open", "only those not closed")
    .option("--priority <P>", "only this priority (P0-P3)", priority)
    .option("--state <state>", `only this state (${incidentStates.join(", ")})`, state)
    .option("--since <when>", "opened in the last 30d, 12h… or since an ISO date-time")
    .option("--limit <n>", "at most this many (default 100)")
    .action(
      async (
        o: Common & { open?: boolean; priority?: string; state?: string; since?: string; limit?: string },
      ) => {
        const q = new URLSearchParams();
        if (o.open) q.set("open", "true");
        if (o.priority) q.set("priority", o.priority);
        if (o.state) q.set("state", o.state);
        if (o.since) q.set("since", o.since);
        if (o.limit) q.set("limit", o.limit);
        const qs = q.size > 0 ? `?${q}` : "";
        const { incidents } = await (
          await apiFor(o)
        )<{ incidents: Incident[] }>("GET", `/api/v1/incidents${qs}`);
        print(o, incidents, incidents.length === 0 ? "no incidents" : incidents.map(line).join("\n"));
      },
    );

  commonOptions(incident.command("show <id>"))
    .description("one incident with its timeline")
    .action(async (id: string, o: Common) => {
      const i = await (await apiFor(o))<Incident & { timeline: TimelineEntry[] }>("GET", path(id));
      print(o, i, details(i));
    });

  commonOptions(incident.command("open"))
    .description("open an incident by hand")
    .requiredOption("--title <text>", "one line for people")
    .requiredOption("--priority <P>", "P0 (all hands, now) … P3 (this week)", priority)
    .option("--commander <who>", "the incident commander")
    .option("--summary <text>", "what is known so far")
    .action(async (o: Common & { title: string; priority: string; commander?: string; summary?: string }) => {
      const i = await (
        await apiFor(o)
      )<Incident>("POST", "/api/v1/incidents", {
        title: o.title,
        priority: o.priority,
        ...(o.commander ? { commander: o.commander } : {}),
        ...(o.summary ? { summary: o.summary } : {}),
      });
      print(o, i, `opened ${i.id}\n${line(i)}`);
    });

  commonOptions(incident.command("ack <id>"))
    .description("acknowledge: a detected incident moves to triaged (starts MTTA's clock stop)")
    .action(async (id: string, o: Common) => {
      const i = await (await apiFor(o))<Incident>("POST", path(id, "/ack"), {});
      print(o, i, `acknowledged ${i.id} at ${minute(i.acknowledgedAt)}\n${line(i)}`);
    });

  commonOptions(incident.command("move <id> <state>"))
    .description(`move to another state (${incidentStates.join(" → ")}; back to contained on new evidence)`)
    .option("--note <text>", "why (required to reopen a closed incident)")
    .action(async (id: string, to: string, o: Common & { note?: string }) => {
      const i = await (
        await apiFor(o)
      )<Incident>("POST", path(id, "/transition"), {
        to: state(to),
        ...(o.note ? { note: o.note } : {}),
      });
      print(o, i, `${i.id} is ${i.state}; next: ${i.nextStates.join(", ")}`);
    });

  commonOptions(incident.command("close <id>"))
    .description("close a recovered incident (P0/P1 need their review first)")
    .option("--note <text>", "a closing note")
    .action(async (id: string, o: Common & { note?: string }) => {
      const i = await (
        await apiFor(o)
      )<Incident>("POST", path(id, "/transition"), {
        to: "closed",
        ...(o.note ? { note: o.note } : {}),
      });
      print(o, i, `closed ${i.id}`);
    });

  commonOptions(incident.command("reopen <id>"))
    .description("reopen a closed incident (back to triaged)")
    .requiredOption("--reason <text>", "what turned up")
    .action(async (id: string, o: Common & { reason: string }) => {
      const i = await (
        await apiFor(o)
      )<Incident>("POST", path(id, "/transition"), { to: "triaged", note: o.reason });
      print(o, i, `reopened ${i.id}\n${line(i)}`);
    });

  commonOptions(incident.command("assign <id> <who>"))
    .description("name the incident commander")
    .action(async (id: string, who: string, o: Common) => {
      const i = await (await apiFor(o))<Incident>("POST", path(id, "/assign"), { commander: who });
      print(o, i, `${i.id} commander: ${i.commander ?? "-"}`);
    });

  commonOptions(incident.command("priority <id> <priority>"))
    .description("change the priority")
    .requiredOption("--reason <text>", "why")
    .action(async (id: string, p: string, o: Common & { reason: string }) => {
      const i = await (
        await apiFor(o)
      )<Incident>("POST", path(id, "/priority"), {
        priority: priority(p),
        reason: o.reason,
      });
      print(o, i, `${i.id} is ${i.priority}`);
    });

  commonOptions(incident.command("note <id> <text>"))
    .description("add a note to the timeline")
    .action(async (id: string, text: string, o: Common) => {
      const e = await (await apiFor(o))<TimelineEntry>("POST", path(id, "/notes"), { text });
      print(o, e, `noted on ${id} at ${e.at.slice(0, 19).replace("T", " ")}`);
    });

  commonOptions(incident.command("evidence <id>"))
    .description("link evidence: an event id, an audit export bundle, a URL or a file")
    .requiredOption("--kind <kind>", "event, audit_bundle, url or file")
    .requiredOption("--ref <ref>", "the event id, bundle path, URL or file path")
    .option("--sha256 <hex>", "the file's or bundle's SHA-256, so it can be checked later")
    .option("--description <text>", "what it shows")
    .action(
      async (
        id: string,
        o: Common & { kind: string; ref: string; sha256?: string; description?: string },
      ) => {
        const e = await (
          await apiFor(o)
        )<TimelineEntry>("POST", path(id, "/evidence"), {
          kind: o.kind,
          ref: o.ref,
          ...(o.sha256 ? { sha256: o.sha256 } : {}),
          description: o.description ?? `${o.kind} ${o.ref}`,
        });
        print(o, e, `linked to ${id}: ${e.text}`);
      },
    );

  commonOptions(incident.command("review <id>"))
    .description("record the post-incident review (P0/P1 need one before they close)")
    .requiredOption("--summary <text>", "what happened")
    .requiredOption("--root-cause <text>", "why it happened")
    .option("--lesson <text>", "a lesson learnt (repeat for more; at least one)", repeat, [])
    .option(
      "--action <title|owner|due>",
      "an action item, e.g. 'mask CI logs|corp:bob|2026-02-01' (repeatable)",
      repeat,
      [],
    )
    .action(
      async (
        id: string,
        o: Common & { summary: string; rootCause: string; lesson: string[]; action: string[] },
      ) => {
        if (o.lesson.length === 0) throw new Error("review: give at least one --lesson");
        const i = await (
          await apiFor(o)
        )<Incident>("POST", path(id, "/review"), {
          summary: o.summary,
          rootCause: o.rootCause,
          lessons: o.lesson,
          actionItems: o.action.map(actionItem),
        });
        print(o, i, `reviewed ${i.id}: ${o.lesson.length} lesson(s), ${o.action.length} action item(s)`);
      },
    );

  commonOptions(incident.command("report"))
    .description("per priority: opened, closed, open now, MTTA and MTTR (mean, median, p90)")
    .option("--since <when>", "start: 30d, 12h… back, or an ISO date-time", "30d")
    .option("--until <when>", "end (default now)")
    .action(async (o: Common & { since: string; until?: string }) => {
      const q = new URLSearchParams({ since: o.since, ...(o.until ? { until: o.until } : {}) });
      const r = await (await apiFor(o))<IncidentReport>("GET", `/api/v1/incidents/report?${q}`);
      print(o, r, reportTable(r));
    });
}
