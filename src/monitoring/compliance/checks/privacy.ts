// Privacy checks: data-subject request deadlines, breach notification clocks, and the register of
// processors and DPIAs. Requests and breaches are read from their tables; nothing that names a
// person (requester email, breach description) goes into an item.
//
// SLA defaults: a missed legal deadline is already late, so DSRs and breach clocks have slaDays
// 0 (overdue at once). Register findings (a missing DPA, a stale review) get 30 days, 7 of
// tolerance: they need contracts and people.
import type { BreachTables } from "../../../data/privacy/breach/schema.ts";
import { clockDefinitions, clockState } from "../../../data/privacy/breach/clocks.ts";
import { clocksStopped } from "../../../data/privacy/breach/status.ts";
import type { RequestTables } from "../../../data/privacy/requests/schema.ts";
import { isClosed, type RequestState } from "../../../data/privacy/requests/states.ts";
import type { CheckDefinition, CheckItem } from "../model.ts";
import { DAY_MS, isoDay, notApplicable, tablesOf } from "./common.ts";

const dsrDeadlines: CheckDefinition = {
  id: "privacy.dsr-deadlines",
  title: "Data-subject requests are answered by their deadline",
  source: "privacy",
  remediation:
    "Work the request to completion (approve, run, or reject with a reason); if more time is lawful, extend it with the reason recorded.",
  slaDays: 0,
  toleranceDays: 0,
  async run(ctx) {
    const rows = await tablesOf<RequestTables>(ctx)
      .selectFrom("privacy_requests")
      .select(["id", "kind", "state", "due_at", "extended"])
      .where("state", "not in", ["completed", "rejected", "cancelled"])
      .orderBy("due_at")
      .execute();
    const open = rows.filter((r) => !isClosed(r.state as RequestState));
    if (open.length === 0)
      return [{ resource: "dsr:queue", status: "pass", detail: "no open data-subject request" }];
    return open.map((r): CheckItem => {
      const due = new Date(r.due_at);
      const observed = { kind: r.kind, state: r.state, dueAt: due.toISOString(), extended: r.extended };
      const what = `${r.kind} request, ${r.state}`;
      return due.getTime() <= ctx.now.getTime()
        ? {
            resource: `dsr:${r.id}`,
            status: "fail",
            detail: `${what}, was due ${isoDay(due)}`,
            observed,
            failingSince: due,
          }
        : { resource: `dsr:${r.id}`, status: "pass", detail: `${what}, due ${isoDay(due)}`, observed };
    });
  },
};

const labels = new Map(clockDefinitions.map((d) => [d.key as string, d.label]));
// A missed clock stays on record; a closed breach drops out of the check a year after awareness.
const CLOSED_KEPT_MS = 365 * DAY_MS;

const breachClocks: CheckDefinition = {
  id: "privacy.breach-clocks",
  title: "Breach notifications meet their legal clocks",
  source: "privacy",
  remediation:
    "Notify the authority or the people affected now and record the notification (rampart privacy breach notify); record why it was late.",
  slaDays: 0,
  toleranceDays: 0,
  async run(ctx) {
    const db = tablesOf<BreachTables>(ctx);
    const breaches = await db
      .selectFrom("privacy_breaches")
      .select(["id", "status", "aware_at"])
      .orderBy("aware_at")
      .execute();
    const clocks = await db
      .selectFrom("privacy_breach_clocks")
      .select(["breach_id", "clock", "due_at", "met_at"])
      .orderBy("due_at")
      .execute();
    const items: CheckItem[] = [];
    for (const b of breaches) {
      const status = b.status as Parameters<typeof clocksStopped>[0];
      const stopped = clocksStopped(status);
      const own = clocks
        .filter((c) => c.breach_id === b.id)
        .map((c) => ({
          key: c.clock,
          dueAt: new Date(c.due_at),
          state: clockState(
            { dueAt: new Date(c.due_at), metAt: c.met_at ? new Date(c.met_at) : null },
            ctx.now,
            stopped,
          ),
        }));
      const missed = own.filter((c) => c.state === "missed");
      const running = own.filter((c) => c.state === "open");
      if (
        status === "closed" &&
        (missed.length === 0 || ctx.now.getTime() - new Date(b.aware_at).getTime() > CLOSED_KEPT_MS)
      )
        continue;
      const observed = { status, clocks: Object.fromEntries(own.map((c) => [c.key, c.state])) };
      const name = (key: string) => labels.get(key) ?? key;
      if (missed.length > 0)
        items.push({
          resource: `breach:${b.id}`,
          status: "fail",
          detail: `missed: ${missed.map((c) => `${name(c.key)} (due ${c.dueAt.toISOString()})`).join(", ")}`,
          observed,
          failingSince: missed[0]?.dueAt,
        });
      else
        items.push({
          resource: `breach:${b.id}`,
          status: "pass",
          detail:
            running.length > 0
              ? `running: ${running.map((c) => `${name(c.key)} due ${c.dueAt.toISOString()}`).join(", ")}`
              : `${status}; every clock met or waived`,
          observed,
        });
    }
    return items.length > 0 ? items : notApplicable("privacy:breaches", "no breach on record");
  },
};

const register: CheckDefinition = {
  id: "privacy.register",
  title: "Processors and DPIAs are in order",
  source: "privacy",
  remediation:
    "Resolve the finding in the register: sign the DPA, assess or review the processor, record the transfer mechanism, approve or review the DPIA.",
  slaDays: 30,
  toleranceDays: 7,
  async run(ctx) {
    const reg = ctx.privacy?.register;
    if (!reg) return notApplicable("privacy:register", "the privacy services are not running");
    const findings = await reg.findings(ctx.now);
    const byItem = new Map<string, typeof findings>();
    for (const f of findings)
      byItem.set(`${f.kind}:${f.key}`, [...(byItem.get(`${f.kind}:${f.key}`) ?? []), f]);
    const items: CheckItem[] = [...byItem].map(([resource, fs]) => ({
      resource,
      status: "fail",
      detail: fs.map((f) => `${f.code}: ${f.message}`).join("; "),
      observed: { codes: fs.map((f) => f.code), severities: fs.map((f) => f.severity) },
    }));
    const processors = (await reg.listProcessors()).filter((p) => p.status !== "offboarded");
    for (const p of processors)
      if (!byItem.has(`processor:${p.key}`))
        items.push({
          resource: `processor:${p.key}`,
          status: "pass",
          detail: "DPA, assessment and review in order",
        });
    for (const d of await reg.listDpias())
      if (!byItem.has(`dpia:${d.key}`))
        items.push({ resource: `dpia:${d.key}`, status: "pass", detail: `DPIA ${d.state}` });
    return items.length > 0 ? items : notApplicable("privacy:register", "no processor or DPIA registered");
  },
};

export const privacyChecks: CheckDefinition[] = [dsrDeadlines, breachClocks, register];
