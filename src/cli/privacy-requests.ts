// `rampart privacy requests`: data-subject requests through the running control plane's API —
// list (by state, kind, due), show with history, approve, reject, extend, complete, retry.
// Who acts is the credential given (see `rampart access`).
import type { Command } from "commander";
import {
  type HistoryEntry,
  type PrivacyRequest,
  requestKindNames,
  requestStates,
} from "../data/privacy/requests/index.ts";
import { apiFor, type Common, commonOptions, print } from "./access.ts";

const path = (id: string, rest = "") => `/api/v1/privacy/requests/${encodeURIComponent(id)}${rest}`;
const minute = (iso: string | null) => (iso ? iso.slice(0, 16).replace("T", " ") : "-");

function choice<T extends string>(values: readonly T[], flag: string) {
  return (v: string): T => {
    if (!(values as readonly string[]).includes(v.toLowerCase()))
      throw new Error(`${flag}: expected one of ${values.join(", ")}; got '${v}'`);
    return v.toLowerCase() as T;
  };
}

const line = (r: PrivacyRequest) =>
  `  ${r.id.padEnd(28)} ${r.kind.padEnd(13)} ${r.state.padEnd(10)} due ${r.dueAt.slice(0, 10)}${r.overdue ? " OVERDUE" : ""}  ${r.email}`;

function details(r: PrivacyRequest & { history: HistoryEntry[] }): string {
  const out = [
    `${r.id}  ${r.kind}  ${r.state}${r.overdue ? "  OVERDUE" : ""}`,
    `  requester   ${r.email}${r.verification ? ` (verified by ${r.verification}${r.app ? ` from ${r.app}` : ""})` : " (not verified)"}`,
    `  received    ${minute(r.receivedAt)}   due ${minute(r.dueAt)}${r.extended ? ` (extended: ${r.extensionReason ?? ""})` : ""}`,
    `  next        ${r.nextStates.join(", ") || "-"}${r.approvalRequired && r.state === "verified" ? "  (waiting for approval)" : ""}`,
  ];
  if (r.action && r.action !== r.kind) out.push(`  action      ${r.action}`);
  if (r.nominee)
    out.push(
      `  nominee     ${r.nominee.name} for ${r.principalEmail ?? "?"} (${r.nominee.ground}${r.nominee.relation ? `, ${r.nominee.relation}` : ""}); evidence ${r.nominee.evidenceRef}`,
    );
  if (r.relatesTo) out.push(`  about       ${r.relatesTo}`);
  if (r.details) out.push(`  details     ${r.details}`);
  if (r.corrections)
    for (const c of r.corrections) out.push(`  correct     ${c.field} = ${JSON.stringify(c.value)}`);
  if (r.approvedBy) out.push(`  approved    ${minute(r.approvedAt)} by ${r.approvedBy}`);
  if (r.completedAt) out.push(`  closed      ${minute(r.completedAt)}`);
  if (r.resolution) out.push(`  resolution  ${r.resolution}`);
  if (r.rejectionReason) out.push(`  rejected    ${r.rejectionReason}`);
  if (r.receipt)
    out.push(`  receipt     ${r.receipt.collections} collection(s), signed by ${r.receipt.keyId}`);
  if (r.lastError)
    out.push(`  last error  ${r.lastError} (attempt ${r.attempts}; next ${minute(r.nextAttemptAt)})`);
  out.push("", `  ${"time".padEnd(16)} ${"actor".padEnd(24)} what`);
  for (const h of r.history)
    out.push(`  ${minute(h.at)} ${h.actor.padEnd(24)} ${h.action}${h.note ? `: ${h.note}` : ""}`);
  return out.join("\n");
}

/** `--correct dataset.collection.field=value` (value as JSON when it parses, else a string). */
function correction(text: string, all: Array<{ field: string; value: unknown }>) {
  const eq = text.indexOf("=");
  if (eq < 1) throw new Error(`--correct: expected dataset.collection.field=value; got '${text}'`);
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed === null || ["number", "boolean", "string"].includes(typeof parsed)) value = parsed;
  } catch {
    // a plain string
  }
  return [...all, { field: text.slice(0, eq), value }];
}

/** Registers `requests …` under `privacy` (the `rampart privacy` command). */
export function registerPrivacyRequestCommands(privacy: Command): void {
  const requests = privacy
    .command("requests")
    .description("data-subject requests: list, show, record, approve, reject, extend, complete, retry");

  commonOptions(requests.command("list"))
    .description("requests, newest first (by due date with --due)")
    .option(
      "--state <state>",
      `only this state (${requestStates.join(", ")})`,
      choice(requestStates, "--state"),
    )
    .option(
      "--kind <kind>",
      `only this kind (${requestKindNames.join(", ")})`,
      choice(requestKindNames, "--kind"),
    )
    .option(
      "--due <which>",
      "overdue, soon (within the first reminder) or open",
      choice(["overdue", "soon", "open"] as const, "--due"),
    )
    .option("--limit <n>", "at most this many (default 100)")
    .action(async (o: Common & { state?: string; kind?: string; due?: string; limit?: string }) => {
      const q = new URLSearchParams();
      for (const k of ["state", "kind", "due", "limit"] as const) if (o[k]) q.set(k, o[k] as string);
      const { requests: list } = await (
        await apiFor(o)
      )<{ requests: PrivacyRequest[] }>("GET", `/api/v1/privacy/requests${q.size > 0 ? `?${q}` : ""}`);
      print(o, list, list.length === 0 ? "no privacy requests" : list.map(line).join("\n"));
    });

  commonOptions(requests.command("record"))
    .description("record a request received by post, phone or in person, whose identity you checked")
    .requiredOption(
      "--kind <kind>",
      "access, erasure, rectification, portability, objection, withdrawal or grievance",
      choice(requestKindNames, "--kind"),
    )
    .requiredOption("--email <address>", "where the answer goes")
    .requiredOption("--identity-check <text>", "how you checked who they are, for the history")
    .option("--details <text>", "what they asked for, in their words")
    .action(async (o: Common & { kind: string; email: string; identityCheck: string; details?: string }) => {
      if (o.kind === "nominee")
        throw new Error(
          "--kind nominee: record a nominee's request through the API (it needs the nominee's evidence)",
        );
      const r = await (
        await apiFor(o)
      )<PrivacyRequest>("POST", "/api/v1/privacy/requests", {
        request: { kind: o.kind, email: o.email, ...(o.details ? { details: o.details } : {}) },
        identityCheck: o.identityCheck,
      });
      print(o, r, `recorded ${r.id}: ${r.kind} ${r.state}, due ${r.dueAt.slice(0, 10)}`);
    });

  commonOptions(requests.command("show <id>"))
    .description("one request with its history")
    .action(async (id: string, o: Common) => {
      const r = await (await apiFor(o))<PrivacyRequest & { history: HistoryEntry[] }>("GET", path(id));
      print(o, r, details(r));
    });

  commonOptions(requests.command("approve <id>"))
    .description("approve a verified request; the engine carries it out")
    .option("--note <text>", "for the history")
    .option(
      "--correct <field=value>",
      "a rectification's change, dataset.collection.field=value (repeatable)",
      correction,
      [],
    )
    .action(
      async (
        id: string,
        o: Common & { note?: string; correct: Array<{ field: string; value: unknown }> },
      ) => {
        const r = await (
          await apiFor(o)
        )<PrivacyRequest>("POST", path(id, "/approve"), {
          ...(o.note ? { note: o.note } : {}),
          ...(o.correct.length > 0 ? { corrections: o.correct } : {}),
        });
        print(o, r, `approved ${r.id}: ${r.state}`);
      },
    );

  for (const [verb, what] of [
    ["reject", "decline a request; the reason is mailed to the requester"],
    ["extend", "extend the deadline once (GDPR Art. 12(3)); the reason is mailed to the requester"],
  ] as const)
    commonOptions(requests.command(`${verb} <id>`))
      .description(what)
      .requiredOption("--reason <text>", "why, in words for the requester")
      .action(async (id: string, o: Common & { reason: string }) => {
        const r = await (await apiFor(o))<PrivacyRequest>("POST", path(id, `/${verb}`), { reason: o.reason });
        print(o, r, verb === "extend" ? `extended ${r.id}: due ${r.dueAt.slice(0, 10)}` : `rejected ${r.id}`);
      });

  commonOptions(requests.command("complete <id>"))
    .description("close an objection, withdrawal or grievance a person carried out")
    .requiredOption("--resolution <text>", "what was done, mailed to the requester")
    .option("--link <url>", "where the requester finds the answer")
    .action(async (id: string, o: Common & { resolution: string; link?: string }) => {
      const r = await (
        await apiFor(o)
      )<PrivacyRequest>("POST", path(id, "/complete"), {
        resolution: o.resolution,
        ...(o.link ? { link: o.link } : {}),
      });
      print(o, r, `completed ${r.id}`);
    });

  commonOptions(requests.command("retry <id>"))
    .description("run a failed request again now")
    .action(async (id: string, o: Common) => {
      const r = await (await apiFor(o))<PrivacyRequest>("POST", path(id, "/retry"), {});
      print(o, r, `retrying ${r.id}`);
    });
}
