// The alert outbox: `send` writes one row per channel in one statement and returns once it is
// durable; a deliverer claims due rows under a lease, delivers them, and records the outcome. Rows
// outlive the process, so an alert queued before a crash or restart is delivered after it.
import { randomUUID } from "node:crypto";
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";
import { Gauge, Counter, type Registry } from "prom-client";
import type { Clock } from "../../platform/clock.ts";
import { Conflict, NotFound } from "../../platform/errors.ts";
import { type EventRef, newEvent, type SecurityEvent, systemActor } from "../../platform/events/index.ts";
import type { Logger } from "../../platform/logging.ts";
import type { Store } from "../../platform/store/index.ts";
import { type AlertChannel, createChannel, DeliveryError } from "./channels/index.ts";
import { type AlertMessage, checkAlertMessage } from "./messages.ts";
import type { AlertChannelConfig, AlertsConfig } from "./schema.ts";

export const outboxStatuses = ["pending", "delivered", "failed"] as const;
export type OutboxStatus = (typeof outboxStatuses)[number];

export type AlertTables = {
  alert_outbox: {
    id: string;
    channel: string;
    message_id: string;
    message: string;
    status: OutboxStatus;
    attempts: number;
    next_attempt_at: Date;
    last_error: string | null;
    created_at: Date;
    delivered_at: Date | null;
  };
};

export const alertMigrations: Record<string, Migration> = {
  "2026-11-24-10-alert-outbox": {
    async up(db: Kysely<unknown>) {
      await sql`create table alert_outbox (
          id text primary key,
          channel text not null,
          message_id text not null,
          message text not null,
          status text not null,
          attempts integer not null default 0,
          next_attempt_at timestamptz not null,
          last_error text,
          created_at timestamptz not null,
          delivered_at timestamptz
        )`.execute(db);
      // A message queued twice (a caller retrying its send) still reaches each channel once.
      await sql`create unique index alert_outbox_message_channel on alert_outbox (message_id, channel)`.execute(
        db,
      );
      await sql`create index alert_outbox_due on alert_outbox (next_attempt_at) where status = 'pending'`.execute(
        db,
      );
    },
  },
};

/** One row of the outbox as the API and CLI show it. */
export interface OutboxEntry {
  id: string;
  channel: string;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  message: AlertMessage;
}

export interface Alerts {
  /**
   * Routes `message` and queues it for each matching channel (or only `channel`, when given);
   * resolves once the rows are durable.
   */
  send(message: AlertMessage, opts?: { channel?: string }): Promise<{ queued: number }>;
  /** Starts delivering (rows left by an earlier run included). */
  start(): void;
  /** Stops delivering; an attempt in flight is abandoned and its row stays pending for the next start. */
  close(): Promise<void>;
  /** Resolves once no row is due and none is in flight; throws after `timeoutMs`. For tests and shutdown. */
  drain(timeoutMs?: number): Promise<void>;
  list(o?: { status?: OutboxStatus; limit?: number }): Promise<OutboxEntry[]>;
  /** Queues a failed row again, from its first attempt. */
  retry(id: string, by?: EventRef): Promise<OutboxEntry>;
}

export interface AlertsOptions {
  store: Store;
  clock: Clock;
  /** Read at every use, so a config reload takes effect without a restart. */
  config: () => AlertsConfig;
  emit: (event: SecurityEvent) => void;
  logger: Logger;
  /** How often to look for rows that became due (other servers' sends, backoffs); default 1000. */
  pollMs?: number;
  /** Deliveries at once; default 4. */
  concurrency?: number;
  /** How long a claimed row is kept from other deliverers; beyond any attempt's timeout. */
  leaseMs?: number;
  /** Registers `rampart_alerts_sent_total` and `rampart_alert_outbox_pending` here. */
  registry?: Registry;
}

// A receiver's Retry-After is honoured up to this, so a hostile answer cannot park a row for ever.
const MAX_RETRY_AFTER_MS = 3_600_000;

/** The channels `message` goes to: every channel of every route it matches, once each. */
export function routeMessage(
  config: AlertsConfig,
  message: Pick<AlertMessage, "priority" | "kind">,
): string[] {
  const names = new Set<string>();
  for (const r of config.routes) {
    if (r.priorities && !r.priorities.includes(message.priority)) continue;
    if (r.kinds && !r.kinds.includes(message.kind)) continue;
    for (const c of r.channels) names.add(c);
  }
  return [...names];
}

/** Exponential backoff with jitter (half fixed, half random) before attempt `attempts + 1`. */
export function backoffMs(attempts: number, retry: AlertsConfig["retry"], random = Math.random): number {
  const base = Math.min(retry.maxBackoff, retry.initialBackoff * 2 ** Math.max(0, attempts - 1));
  return Math.round(base / 2 + (random() * base) / 2);
}

type Row = AlertTables["alert_outbox"];

const toEntry = (r: Row): OutboxEntry => ({
  id: r.id,
  channel: r.channel,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: new Date(r.next_attempt_at).toISOString(),
  lastError: r.last_error,
  createdAt: new Date(r.created_at).toISOString(),
  deliveredAt: r.delivered_at ? new Date(r.delivered_at).toISOString() : null,
  message: JSON.parse(r.message) as AlertMessage,
});

/** The alert service over the outbox in `store` (which must have run {@link alertMigrations}). */
export function createAlerts(o: AlertsOptions): Alerts {
  const db = o.store.db.withTables<AlertTables>();
  const { clock, logger } = o;
  const pollMs = o.pollMs ?? 1000;
  const concurrency = o.concurrency ?? 4;

  // A channel is rebuilt only when its config object changes (a reload), so SMTP transports are reused.
  const channels = new Map<string, { config: AlertChannelConfig; channel: AlertChannel }>();
  function channel(name: string): AlertChannel | undefined {
    const c = o.config().channels.find((x) => x.name === name);
    if (!c) return undefined;
    const known = channels.get(name);
    if (known?.config === c) return known.channel;
    void known?.channel.close?.().catch(() => {});
    const ch = createChannel(c, clock);
    channels.set(name, { config: c, channel: ch });
    return ch;
  }

  const sent = o.registry
    ? registerMetric(
        o.registry,
        new Counter({
          name: "rampart_alerts_sent_total",
          help: "Alert delivery attempts, by channel, channel type and result (delivered, retry, failed).",
          labelNames: ["channel", "type", "result"],
          registers: [],
        }),
      )
    : undefined;
  if (o.registry)
    registerMetric(
      o.registry,
      new Gauge({
        name: "rampart_alert_outbox_pending",
        help: "Alerts in the outbox waiting for delivery (grows while a receiver is away).",
        registers: [],
        async collect() {
          this.set(await pendingCount().catch(() => 0));
        },
      }),
    );

  async function pendingCount(): Promise<number> {
    const r = await db
      .selectFrom("alert_outbox")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("status", "=", "pending")
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  let started = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let pumping: Promise<void> | undefined;
  let pumpAgain = false;
  const inFlight = new Map<string, { done: Promise<void>; abort: AbortController }>();

  /** Claims due rows up to the free delivery slots: the lease keeps other deliverers off them. */
  async function claim(n: number): Promise<Row[]> {
    const now = clock.now();
    const leaseUntil = new Date(
      now.getTime() + (o.leaseMs ?? Math.max(60_000, o.config().retry.timeout * 3)),
    );
    // SKIP LOCKED lets two servers claim different rows at once; the outer conditions are checked
    // again on the locked row, so a row one server claimed is never claimed by the other. The CTE
    // runs once: as an IN (subquery) the planner may rescan it and claim past the limit.
    const r = await sql<Row>`
      with due as materialized (
        select id from alert_outbox
        where status = 'pending' and next_attempt_at <= ${now}
        order by next_attempt_at
        limit ${n}
        for update skip locked
      )
      update alert_outbox o set next_attempt_at = ${leaseUntil}, attempts = o.attempts + 1
      from due
      where o.id = due.id and o.status = 'pending' and o.next_attempt_at <= ${now}
      returning o.*`.execute(db);
    return r.rows;
  }

  function pump(): Promise<void> {
    if (!started || closed) return Promise.resolve();
    if (pumping) {
      pumpAgain = true;
      return pumping;
    }
    const run = async () => {
      do {
        pumpAgain = false;
        const free = concurrency - inFlight.size;
        if (free <= 0) break;
        const rows = await claim(free);
        if (closed) {
          // Claimed while closing: hand the rows straight back.
          await release(rows);
          break;
        }
        for (const row of rows) deliver(row);
        if (rows.length === free) pumpAgain = true;
      } while (pumpAgain && !closed);
    };
    // Cleared in a callback, never synchronously: a run that ends without awaiting must not leave
    // `pumping` set to its finished promise.
    pumping = run()
      .catch((err: unknown) =>
        logger.warn({ err: (err as Error).message }, "alert outbox not readable; retrying"),
      )
      .finally(() => {
        pumping = undefined;
        // A delivery that ended during the run asked for another: claim now rather than at the poll.
        if (pumpAgain && started && !closed) void pump();
        else schedule();
      });
    return pumping;
  }

  async function release(rows: Row[]): Promise<void> {
    for (const row of rows)
      await db
        .updateTable("alert_outbox")
        .set({ next_attempt_at: clock.now(), attempts: row.attempts - 1 })
        .where("id", "=", row.id)
        .where("attempts", "=", row.attempts)
        .execute();
  }

  function schedule(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!started || closed) return;
    timer = setTimeout(() => void pump(), pollMs);
    timer.unref();
    // Sooner than the poll when a row in backoff becomes due before it.
    void db
      .selectFrom("alert_outbox")
      .select("next_attempt_at")
      .where("status", "=", "pending")
      .orderBy("next_attempt_at")
      .limit(1)
      .executeTakeFirst()
      .then((r) => {
        if (!r || !timer || closed) return;
        const wait = new Date(r.next_attempt_at).getTime() - clock.now().getTime();
        if (wait < pollMs) {
          clearTimeout(timer);
          timer = setTimeout(() => void pump(), Math.max(5, wait));
          timer.unref();
        }
      })
      .catch(() => {});
  }

  function deliver(row: Row): void {
    const abort = new AbortController();
    const done = attempt(row, abort.signal)
      .catch((err: unknown) =>
        logger.error({ err: (err as Error).message, alert: row.id }, "alert outcome not recorded"),
      )
      .finally(() => {
        inFlight.delete(row.id);
        void pump();
      });
    inFlight.set(row.id, { done, abort });
  }

  async function attempt(row: Row, closing: AbortSignal): Promise<void> {
    const message = JSON.parse(row.message) as AlertMessage;
    const retry = o.config().retry;
    const ch = channel(row.channel);
    let failure: DeliveryError | undefined;
    if (!ch) failure = new DeliveryError("channel not configured", { permanent: true });
    else {
      try {
        await ch.deliver(message, AbortSignal.any([closing, AbortSignal.timeout(retry.timeout)]));
      } catch (err) {
        failure = err instanceof DeliveryError ? err : new DeliveryError("error");
      }
    }
    const now = clock.now();
    const mine = (q: ReturnType<typeof db.updateTable<"alert_outbox">>) =>
      // Only while the row is still ours: past the lease another server may have claimed it.
      q.where("id", "=", row.id).where("attempts", "=", row.attempts).where("status", "=", "pending");
    const type = ch?.type ?? "unknown";
    const facts = { channel: row.channel, message: message.id, kind: message.kind, attempts: row.attempts };

    if (!failure) {
      await mine(
        db.updateTable("alert_outbox").set({ status: "delivered", delivered_at: now, last_error: null }),
      ).execute();
      sent?.inc({ channel: row.channel, type, result: "delivered" });
      o.emit(
        newEvent(
          {
            type: "alert.delivered",
            retention: "audit",
            actor: systemActor,
            target: { kind: "alert", id: message.id },
            data: {
              channel: row.channel,
              type,
              messageId: message.id,
              kind: message.kind,
              attempts: row.attempts,
            },
          },
          now,
        ),
      );
      logger.info(facts, "alert delivered");
      return;
    }
    if (closing.aborted) {
      // Stopped, not failed: the attempt does not count and the row is due at the next start.
      await mine(
        db.updateTable("alert_outbox").set({ next_attempt_at: now, attempts: row.attempts - 1 }),
      ).execute();
      return;
    }
    const giveUp = failure.permanent || row.attempts >= retry.maxAttempts;
    if (giveUp) {
      await mine(
        db.updateTable("alert_outbox").set({ status: "failed", last_error: failure.reason }),
      ).execute();
      sent?.inc({ channel: row.channel, type, result: "failed" });
      o.emit(
        newEvent(
          {
            type: "alert.failed",
            severity: "high",
            outcome: "failure",
            retention: "audit",
            actor: systemActor,
            target: { kind: "alert", id: message.id },
            data: {
              channel: row.channel,
              type,
              messageId: message.id,
              kind: message.kind,
              priority: message.priority,
              attempts: row.attempts,
              reason: failure.reason,
              permanent: failure.permanent,
            },
          },
          now,
        ),
      );
      logger.error({ ...facts, reason: failure.reason }, "alert not delivered: gave up");
      return;
    }
    const wait =
      failure.retryAfterMs !== undefined
        ? Math.min(MAX_RETRY_AFTER_MS, Math.max(failure.retryAfterMs, 0))
        : backoffMs(row.attempts, retry);
    await mine(
      db
        .updateTable("alert_outbox")
        .set({ next_attempt_at: new Date(now.getTime() + wait), last_error: failure.reason }),
    ).execute();
    sent?.inc({ channel: row.channel, type, result: "retry" });
    logger.warn({ ...facts, reason: failure.reason, retryInMs: wait }, "alert not delivered yet; will retry");
  }

  async function get(id: string): Promise<Row | undefined> {
    return db.selectFrom("alert_outbox").selectAll().where("id", "=", id).executeTakeFirst();
  }

  return {
    async send(raw, opts) {
      const message = checkAlertMessage(raw);
      const config = o.config();
      if (opts?.channel !== undefined && !config.channels.some((c) => c.name === opts.channel))
        throw new NotFound(`no alert channel '${opts.channel}' in alerts.channels`);
      const names = opts?.channel !== undefined ? [opts.channel] : routeMessage(config, message);
      if (names.length === 0) return { queued: 0 };
      const now = clock.now();
      const body = JSON.stringify(message);
      const r = await db
        .insertInto("alert_outbox")
        .values(
          names.map((channel) => ({
            id: randomUUID(),
            channel,
            message_id: message.id,
            message: body,
            status: "pending" as const,
            attempts: 0,
            next_attempt_at: now,
            last_error: null,
            created_at: now,
            delivered_at: null,
          })),
        )
        .onConflict((oc) => oc.columns(["message_id", "channel"]).doNothing())
        .executeTakeFirst();
      void pump();
      return { queued: Number(r.numInsertedOrUpdatedRows ?? names.length) };
    },

    start() {
      if (started || closed) return;
      started = true;
      void pump();
    },

    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      await pumping;
      for (const f of inFlight.values()) f.abort.abort();
      await Promise.all([...inFlight.values()].map((f) => f.done));
      await Promise.all([...channels.values()].map((c) => c.channel.close?.().catch(() => {})));
    },

    async drain(timeoutMs = 10_000) {
      if (!started || closed) throw new Error("alerts are not delivering: start() them first");
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        await pump();
        await Promise.all([...inFlight.values()].map((f) => f.done));
        const due = await db
          .selectFrom("alert_outbox")
          .select("id")
          .where("status", "=", "pending")
          .where("next_attempt_at", "<=", clock.now())
          .limit(1)
          .executeTakeFirst();
        if (!due && inFlight.size === 0) {
          // A pump still running may have claimed rows that were due a moment ago: wait for it and
          // see whether it started any delivery.
          const running = pumping;
          if (!running) return;
          await running;
          if (inFlight.size === 0) return;
        }
        if (performance.now() > deadline) throw new Error(`alert outbox not drained within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },

    async list(q = {}) {
      let query = db
        .selectFrom("alert_outbox")
        .selectAll()
        .orderBy("created_at", "desc")
        .orderBy("id")
        .limit(Math.min(Math.max(q.limit ?? 100, 1), 1000));
      if (q.status) query = query.where("status", "=", q.status);
      return (await query.execute()).map(toEntry);
    },

    async retry(id, by = systemActor) {
      const row = await get(id);
      if (!row) throw new NotFound(`no alert in the outbox with the id ${id}`);
      if (row.status !== "failed")
        throw new Conflict(`alert ${id} is ${row.status}; only a failed one can be retried`);
      const now = clock.now();
      const updated = await db
        .updateTable("alert_outbox")
        .set({ status: "pending", attempts: 0, next_attempt_at: now })
        .where("id", "=", id)
        .where("status", "=", "failed")
        .returningAll()
        .executeTakeFirst();
      if (!updated) throw new Conflict(`alert ${id} changed meanwhile; look again`);
      const message = JSON.parse(row.message) as AlertMessage;
      o.emit(
        newEvent(
          {
            type: "alert.requeued",
            retention: "audit",
            actor: by,
            target: { kind: "alert", id: message.id },
            data: { channel: row.channel, messageId: message.id, kind: message.kind, outboxId: id },
          },
          now,
        ),
      );
      void pump();
      return toEntry(updated);
    },
  };
}

// A second service on one registry (a restart in the same process) takes over the metric's name.
function registerMetric<T extends Counter<string> | Gauge<string>>(registry: Registry, metric: T): T {
  const name = (metric as unknown as { name: string }).name;
  if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
  registry.registerMetric(metric);
  return metric;
}
