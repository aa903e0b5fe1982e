// Tickets that follow the test: one ticket per failing item (deduplicated by the item's
// fingerprint), a comment only when what was seen changes, closed after N passing runs or when an
// exception covers the item, and reopened when the item regresses or someone closes the ticket
// while the test still fails. The test is the source of truth, the table remembers what the
// tracker was last told, and it changes only after the tracker accepted the call, so a failed
// call is simply retried by the next sync.
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";
import { type Clock, systemClock } from "../../../platform/clock.ts";
import { newEvent, type SecurityEvent, systemActor } from "../../../platform/events/index.ts";
import type { ItemResult, ItemStanding, RemoteTicket, TicketDraft, TicketTracker } from "../model.ts";
import type { TicketsConfig } from "./config.ts";

export type TicketTables = {
  compliance_tickets: {
    fingerprint: string;
    provider: string;
    remote_key: string;
    url: string;
    check_id: string;
    resource: string;
    state: "open" | "closed";
    /** Consecutive passing runs since the last failure. */
    passes: number;
    /** The detail and standing the tracker last heard about, so unchanged failures stay quiet. */
    last_detail: string;
    last_standing: string;
    opened_at: Date;
    updated_at: Date;
    closed_at: Date | null;
  };
};

export const ticketMigrations: Record<string, Migration> = {
  "2026-11-27-20-compliance-tickets": {
    async up(db: Kysely<unknown>) {
      await sql`create table compliance_tickets (
          fingerprint text primary key,
          provider text not null,
          remote_key text not null,
          url text not null,
          check_id text not null,
          resource text not null,
          state text not null check (state in ('open', 'closed')),
          passes integer not null default 0,
          last_detail text not null,
          last_standing text not null,
          opened_at timestamptz not null,
          updated_at timestamptz not null,
          closed_at timestamptz
        )`.execute(db);
      await sql`create index compliance_tickets_by_check on compliance_tickets (check_id, state)`.execute(db);
    },
  },
};

/** What the caller knows about an item beyond its result: the check's title and remediation. */
export interface TicketItemInfo {
  /** The check's title; the ticket is titled "<title>: <resource>". */
  title: string;
  remediation: string;
  /** Rampart control ids the check evidences. */
  controls: string[];
  /** The exception covering an excepted item, to name it when the ticket closes. */
  exception?: { id: string; expiresAt: Date } | undefined;
}

export interface TicketSyncSummary {
  opened: number;
  commented: number;
  closed: number;
  reopened: number;
  /** One entry per item whose tracker call failed; its row is unchanged, so the next sync retries. */
  errors: { fingerprint: string; message: string }[];
}

export interface TicketSync {
  sync(results: ItemResult[], info: (r: ItemResult) => TicketItemInfo): Promise<TicketSyncSummary>;
}

export interface TicketSyncOptions {
  db: Kysely<object> | Kysely<unknown>;
  tracker: TicketTracker;
  config: Pick<TicketsConfig, "closeAfterPasses" | "on"> & { labels?: string[] | undefined };
  clock?: Clock | undefined;
  emit?: ((e: SecurityEvent) => void) | undefined;
}

type Row = TicketTables["compliance_tickets"];

const FAILING: ReadonlySet<ItemStanding> = new Set(["at_risk", "failing", "overdue"]);
const PASSING: ReadonlySet<ItemStanding> = new Set(["passing", "not_applicable"]);

/** The hidden line that ties a ticket to its item, so people (and a later search) can find it. */
export const fingerprintMarker = (fingerprint: string) => `<!-- rampart:fingerprint=${fingerprint} -->`;

const day = (d: Date | undefined) => (d ? d.toISOString().slice(0, 10) : undefined);
const when = (d: Date) => d.toISOString();

function draftOf(r: ItemResult, i: TicketItemInfo, labels: string[]): TicketDraft {
  const lines = [
    `Rampart's compliance check \`${r.checkId}\` fails for \`${r.resource}\`.`,
    "",
    `- Standing: ${r.standing}`,
    `- Observed: ${r.detail}`,
    ...(r.firstFailedAt ? [`- Failing since: ${day(r.firstFailedAt)}`] : []),
    ...(r.dueAt ? [`- Fix by: ${day(r.dueAt)}`] : []),
    ...(i.controls.length ? [`- Controls: ${i.controls.join(", ")}`] : []),
    "",
    "## Remediation",
    "",
    i.remediation,
    "",
    "This ticket follows the check: it closes by itself once the check passes, and reopens if the item fails again.",
    "",
    fingerprintMarker(r.fingerprint),
  ];
  return { fingerprint: r.fingerprint, title: `${i.title}: ${r.resource}`, body: lines.join("\n"), labels };
}

const stillFails = (r: ItemResult) =>
  `The check \`${r.checkId}\` still fails for \`${r.resource}\` (${r.standing}${r.dueAt ? `, fix by ${day(r.dueAt)}` : ""}): ${r.detail}`;

export function createTicketSync(o: TicketSyncOptions): TicketSync {
  const db = (o.db as Kysely<object>).withTables<TicketTables>();
  const clock = o.clock ?? systemClock;
  const provider = o.tracker.name;
  const on = new Set<ItemStanding>(o.config.on);
  const labels = o.config.labels ?? [];
  // One sync at a time: two overlapping runs could both see "no ticket" and open two.
  let running: Promise<unknown> = Promise.resolve();

  const emit = (type: "opened" | "closed" | "reopened", r: ItemResult, t: { key: string; url: string }) =>
    o.emit?.(
      newEvent(
        {
          type: `compliance.ticket_${type}`,
          actor: systemActor,
          target: { kind: "ticket", id: `${provider}:${t.key}` },
          data: { checkId: r.checkId, resource: r.resource, provider, key: t.key, url: t.url },
        },
        clock.now(),
      ),
    );

  const update = (fingerprint: string, set: Partial<Row>) =>
    db
      .updateTable("compliance_tickets")
      .set({ ...set, updated_at: clock.now() })
      .where("fingerprint", "=", fingerprint)
      .execute();

  async function open(r: ItemResult, i: TicketItemInfo, s: TicketSyncSummary) {
    const t: RemoteTicket = await o.tracker.create(draftOf(r, i, labels));
    const now = clock.now();
    await db
      .insertInto("compliance_tickets")
      .values({
        fingerprint: r.fingerprint,
        provider,
        remote_key: t.key,
        url: t.url,
        check_id: r.checkId,
        resource: r.resource,
        state: "open",
        passes: 0,
        last_detail: r.detail,
        last_standing: r.standing,
        opened_at: now,
        updated_at: now,
        closed_at: null,
      })
      // A row left by another provider (the config switched trackers) gives way to the new ticket.
      .onConflict((c) =>
        c.column("fingerprint").doUpdateSet((eb) => ({
          provider: eb.ref("excluded.provider"),
          remote_key: eb.ref("excluded.remote_key"),
          url: eb.ref("excluded.url"),
          state: eb.ref("excluded.state"),
          passes: eb.ref("excluded.passes"),
          last_detail: eb.ref("excluded.last_detail"),
          last_standing: eb.ref("excluded.last_standing"),
          opened_at: eb.ref("excluded.opened_at"),
          updated_at: eb.ref("excluded.updated_at"),
          closed_at: null,
        })),
      )
      .execute();
    s.opened++;
    emit("opened", r, t);
  }

  async function reopen(row: Row, r: ItemResult, why: string, s: TicketSyncSummary) {
    await o.tracker.reopen(row.remote_key, `${why}\n\n${stillFails(r)}`);
    await update(row.fingerprint, {
      state: "open",
      passes: 0,
      last_detail: r.detail,
      last_standing: r.standing,
      closed_at: null,
    });
    s.reopened++;
    emit("reopened", r, { key: row.remote_key, url: row.url });
  }

  async function close(row: Row, r: ItemResult, text: string, s: TicketSyncSummary, passes: number) {
    // Someone may have closed it already; closing again would fail on Jira (no transition from done).
    const remote = await o.tracker.get(row.remote_key);
    if (remote.open) await o.tracker.close(row.remote_key, text);
    await update(row.fingerprint, { state: "closed", passes, closed_at: clock.now() });
    s.closed++;
    emit("closed", r, { key: row.remote_key, url: row.url });
  }

  async function follow(r: ItemResult, i: TicketItemInfo, row: Row | undefined, s: TicketSyncSummary) {
    if (FAILING.has(r.standing)) {
      if (!row) {
        if (on.has(r.standing)) await open(r, i, s);
        return;
      }
      if (row.state === "closed") {
        if (on.has(r.standing)) await reopen(row, r, "The item fails again after it was fixed.", s);
        return;
      }
      const remote = await o.tracker.get(row.remote_key);
      if (!remote.open) {
        await reopen(row, r, "This ticket was closed, but the check still fails, so it is open again.", s);
        return;
      }
      const changed = r.detail !== row.last_detail || r.standing !== row.last_standing;
      if (changed) {
        await o.tracker.comment(row.remote_key, `What the check sees changed.\n\n${stillFails(r)}`);
        s.commented++;
      }
      if (changed || row.passes !== 0)
        await update(row.fingerprint, { passes: 0, last_detail: r.detail, last_standing: r.standing });
      return;
    }
    if (!row || row.state !== "open") return;
    if (PASSING.has(r.standing)) {
      const passes = row.passes + 1;
      if (passes < o.config.closeAfterPasses) {
        await update(row.fingerprint, { passes });
        return;
      }
      const text = [
        `The check \`${r.checkId}\` passes for \`${r.resource}\` as of ${when(r.lastRunAt)}` +
          (passes > 1 ? ` (${passes} passing runs in a row)` : "") +
          ", so this ticket closes.",
        "",
        `Evidence: ${r.standing === "not_applicable" ? "no longer applicable" : "passing"}: ${r.detail}`,
      ].join("\n");
      await close(row, r, text, s, passes);
      return;
    }
    if (r.standing === "excepted") {
      const ex = i.exception;
      const named = ex
        ? `exception ${ex.id}, which expires ${when(ex.expiresAt)}`
        : `exception ${r.exceptionId ?? "(unnamed)"}`;
      const text =
        `An approved ${named}, covers \`${r.resource}\` for the check \`${r.checkId}\`, so this ticket closes. ` +
        "If the item still fails when the exception ends, it reopens.";
      await close(row, r, text, s, row.passes);
    }
  }

  async function run(
    results: ItemResult[],
    info: (r: ItemResult) => TicketItemInfo,
  ): Promise<TicketSyncSummary> {
    const s: TicketSyncSummary = { opened: 0, commented: 0, closed: 0, reopened: 0, errors: [] };
    const prints = [...new Set(results.map((r) => r.fingerprint))];
    const rows = new Map<string, Row>();
    for (let k = 0; k < prints.length; k += 500) {
      const part = prints.slice(k, k + 500);
      for (const row of await db
        .selectFrom("compliance_tickets")
        .selectAll()
        .where("fingerprint", "in", part)
        .where("provider", "=", provider)
        .execute())
        rows.set(row.fingerprint, row);
    }
    const seen = new Set<string>();
    for (const r of results) {
      if (seen.has(r.fingerprint)) continue;
      seen.add(r.fingerprint);
      try {
        await follow(r, info(r), rows.get(r.fingerprint), s);
      } catch (err) {
        s.errors.push({
          fingerprint: r.fingerprint,
          message: err instanceof Error ? err.message : String(err),
        });
      }
    }
    return s;
  }

  return {
    sync(results, info) {
      const next = running.then(() => run(results, info));
      running = next.catch(() => {});
      return next;
    },
  };
}
