// `rampart alerts` and `rampart siem` through the running control plane's API: the alert outbox
// (what went out, what is stuck and why), retrying a failed alert once its channel is fixed, a test
// alert to check routes and receivers, and the health of the SIEM exporters.
import { type Command, InvalidArgumentError } from "commander";
import { type OutboxEntry, type OutboxStatus, outboxStatuses } from "../monitoring/alerts/index.ts";
import { type Priority, priorities } from "../monitoring/detect/types.ts";
import type { SiemExporterStats } from "../monitoring/siem/index.ts";
import { apiFor, type Common, commonOptions, print } from "./access.ts";

const minute = (iso: string | null) => (iso ? iso.slice(0, 16).replace("T", " ") : "-");

function statusArg(v: string): OutboxStatus {
  if (!(outboxStatuses as readonly string[]).includes(v))
    throw new InvalidArgumentError(`expected one of ${outboxStatuses.join(", ")}`);
  return v as OutboxStatus;
}

function priorityArg(v: string): Priority {
  const up = v.toUpperCase();
  if (!(priorities as readonly string[]).includes(up))
    throw new InvalidArgumentError(`expected one of ${priorities.join(", ")}`);
  return up as Priority;
}

function limitArg(v: string): number {
  if (!/^[1-9]\d{0,3}$/.test(v) || Number(v) > 1000)
    throw new InvalidArgumentError("expected a whole number from 1 to 1000");
  return Number(v);
}

const entryLine = (e: OutboxEntry) => {
  const when = e.status === "delivered" ? minute(e.deliveredAt) : minute(e.createdAt);
  const error = e.lastError ? `  (${e.lastError})` : "";
  const next = e.status === "pending" && e.attempts > 0 ? `  next ${minute(e.nextAttemptAt)}` : "";
  return `  ${e.id}  ${e.status.padEnd(9)} ${e.channel.padEnd(16)} ${e.message.priority}  ${String(e.attempts).padStart(2)} att.  ${when}  ${e.message.title}${error}${next}`;
};

const exporterLine = (x: SiemExporterStats) =>
  `  ${x.name.padEnd(20)} ${x.type.padEnd(7)} ${(x.healthy ? "healthy" : "FAILING").padEnd(8)} ${String(x.exported).padStart(9)} exported ${String(x.queued).padStart(7)} queued ${String(x.dropped).padStart(7)} dropped${x.lastError ? `  last error: ${x.lastError}` : ""}`;

/** Registers `rampart alerts …` and `rampart siem …` on `program`. */
export function registerAlertCommands(program: Command): void {
  const alerts = program
    .command("alerts")
    .description("the alert outbox: list deliveries, retry a failed one, send a test alert");

  commonOptions(alerts.command("list"))
    .description("outbox rows, newest first: one per message and channel")
    .option("--status <status>", `only ${outboxStatuses.join(", ")}`, statusArg)
    .option("--limit <n>", "at most this many (default 100)", limitArg)
    .action(async (o: Common & { status?: OutboxStatus; limit?: number }) => {
      const q = new URLSearchParams();
      if (o.status) q.set("status", o.status);
      if (o.limit) q.set("limit", String(o.limit));
      const { entries } = await (
        await apiFor(o)
      )<{ entries: OutboxEntry[] }>("GET", `/api/v1/alerts/outbox${q.size > 0 ? `?${q}` : ""}`);
      print(
        o,
        entries,
        entries.length === 0
          ? `no alerts${o.status ? ` ${o.status}` : ""} in the outbox`
          : entries.map(entryLine).join("\n"),
      );
    });

  commonOptions(alerts.command("retry <id>"))
    .description("queue a failed alert again from its first attempt (fix its channel first)")
    .action(async (id: string, o: Common) => {
      const e = await (
        await apiFor(o)
      )<OutboxEntry>("POST", `/api/v1/alerts/outbox/${encodeURIComponent(id)}/retry`, {});
      print(o, e, `queued ${e.id} again for ${e.channel}`);
    });

  commonOptions(alerts.command("test"))
    .description("send a test notice through the routing in force and show the channels it went to")
    .option("--priority <P>", "the priority routes see (default P3)", priorityArg)
    .option("--text <text>", "what the message says")
    .action(async (o: Common & { priority?: Priority; text?: string }) => {
      const r = await (
        await apiFor(o)
      )<{ id: string; priority: Priority; channels: string[]; queued: number }>(
        "POST",
        "/api/v1/alerts/test",
        {
          ...(o.priority ? { priority: o.priority } : {}),
          ...(o.text ? { text: o.text } : {}),
        },
      );
      print(
        o,
        r,
        r.channels.length === 0
          ? `no route takes a ${r.priority} notice: nothing sent (see alerts.routes)`
          : `test ${r.priority} notice ${r.id} queued for ${r.channels.join(", ")}; follow it with \`rampart alerts list\``,
      );
      // Nothing routed is worth a non-zero exit in a deployment check.
      if (r.channels.length === 0) process.exitCode = 1;
    });

  const siem = program.command("siem").description("SIEM export: syslog, JSON lines and OTLP exporters");

  commonOptions(siem.command("status"))
    .description("each exporter: healthy or failing, events exported, queued and dropped, last error")
    .action(async (o: Common) => {
      const { exporters } = await (
        await apiFor(o)
      )<{ exporters: SiemExporterStats[] }>("GET", "/api/v1/siem/exporters");
      print(
        o,
        exporters,
        exporters.length === 0 ? "no SIEM exporters configured" : exporters.map(exporterLine).join("\n"),
      );
    });
}
