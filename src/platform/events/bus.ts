// The event spine: producers emit SecurityEvents; the bus batches them, hands each batch to
// the durable journal (the audit log) first and then to every subscriber (metrics, detections).
import type { Logger } from "pino";
import type { SecurityEvent } from "./types.ts";

/** A group of events that arrived together; `batchId` makes a retried remote batch idempotent. */
export interface JournalItem {
  readonly events: readonly SecurityEvent[];
  readonly batchId?: string | undefined;
  readonly source?: string | undefined;
}

/** Durable sink. Returns, per item, true if it was recorded now and false if its batch id was seen before. */
export interface EventJournal {
  record(items: readonly JournalItem[]): Promise<boolean[]>;
}

export type EventHandler = (events: readonly SecurityEvent[]) => void | Promise<void>;

export interface EventBus {
  /** Fire and forget: delivered with the next batch; retried while the journal is unavailable. */
  emit(event: SecurityEvent): void;
  /** Resolves once the events are durably journaled; `duplicate` when the batch id was already recorded. */
  publish(
    events: readonly SecurityEvent[],
    opts?: { batchId?: string; source?: string },
  ): Promise<{ duplicate: boolean }>;
  subscribe(handler: EventHandler): () => void;
  setJournal(journal: EventJournal): void;
  /** Delivers everything queued so far. */
  flush(): Promise<void>;
  /** Flushes and stops accepting events. */
  close(): Promise<void>;
  stats(): { queued: number; dropped: number; delivered: number };
}

export interface EventBusOptions {
  journal?: EventJournal;
  logger?: Logger;
  maxBatchEvents?: number;
  maxDelayMs?: number;
  /** Fire-and-forget events kept while the journal is down; the oldest are dropped past this (and counted). */
  maxQueuedEvents?: number;
}

interface Pending extends JournalItem {
  settle?: { resolve(r: { duplicate: boolean }): void; reject(e: unknown): void };
}

export function createEventBus(opts: EventBusOptions = {}): EventBus {
  const maxBatch = opts.maxBatchEvents ?? 1000;
  const maxDelay = opts.maxDelayMs ?? 50;
  const maxQueued = opts.maxQueuedEvents ?? 100_000;
  let journal = opts.journal;
  const handlers = new Set<EventHandler>();
  let queue: Pending[] = [];
  let queuedEvents = 0;
  let dropped = 0;
  let delivered = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  // The first `inflight` queue items are being journaled: never dropped from under the journal.
  let inflight = 0;
  let retryDelay = 0;
  let closed = false;

  function schedule(): void {
    if (running) return; // the drain, when it ends, schedules what was queued meanwhile
    const full = !retryDelay && queuedEvents >= maxBatch;
    if (timer && !full) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(
      () => {
        timer = undefined;
        void drain();
      },
      retryDelay || (full ? 0 : maxDelay),
    );
  }

  function enqueue(item: Pending): void {
    queue.push(item);
    queuedEvents += item.events.length;
    while (queuedEvents > maxQueued) {
      const i = queue.findIndex((p, k) => k >= inflight && !p.settle);
      if (i < 0) break;
      const [old] = queue.splice(i, 1);
      queuedEvents -= old?.events.length ?? 0;
      dropped += old?.events.length ?? 0;
    }
    schedule();
  }

  // Group commit: after a batch, what queued meanwhile waits for the next tick (maxDelay) unless a
  // full batch is ready. Draining at once would journal a handful of events per transaction under
  // steady load, each a commit for the database to flush. `flush` takes everything.
  async function deliverAll(everything: boolean): Promise<void> {
    let first = true;
    while (queue.length > 0 && (first || everything || queuedEvents >= maxBatch)) {
      first = false;
      if (!(await deliverOne())) break;
    }
  }

  function drain(everything = false): Promise<void> {
    // `.finally` runs asynchronously, so `running` is always set before it is cleared.
    running ??= deliverAll(everything).finally(() => {
      running = undefined;
      if (queue.length > 0) schedule();
    });
    return running;
  }

  // Delivers one batch; false when the journal failed and delivery should back off.
  async function deliverOne(): Promise<boolean> {
    let take = 0;
    let n = 0;
    while (take < queue.length && (take === 0 || n + (queue[take]?.events.length ?? 0) <= maxBatch)) {
      n += queue[take]?.events.length ?? 0;
      take++;
    }
    const batch = queue.slice(0, take);
    let fresh: boolean[];
    inflight = take;
    try {
      fresh = journal ? await journal.record(batch) : batch.map(() => true);
    } catch (err) {
      inflight = 0;
      // Callers who await `publish` get the error (a remote gateway retries); emitted events stay queued.
      queue = queue.filter((p) => !(p.settle && batch.includes(p)));
      for (const p of batch) p.settle?.reject(err);
      queuedEvents = queue.reduce((s, p) => s + p.events.length, 0);
      retryDelay = Math.min(Math.max(retryDelay * 2, 100), 5000);
      opts.logger?.warn(
        { err: (err as Error).message, queued: queuedEvents },
        "event journal unavailable; will retry",
      );
      return false;
    }
    inflight = 0;
    retryDelay = 0;
    queue.splice(0, take);
    queuedEvents -= n;
    const events: SecurityEvent[] = [];
    batch.forEach((p, i) => {
      p.settle?.resolve({ duplicate: !fresh[i] });
      if (fresh[i]) events.push(...p.events);
    });
    delivered += events.length;
    if (events.length > 0) {
      for (const h of handlers) {
        try {
          await h(events);
        } catch (err) {
          opts.logger?.error({ err: (err as Error).message }, "event subscriber failed");
        }
      }
    }
    return true;
  }

  return {
    emit(event) {
      if (closed) {
        opts.logger?.warn({ type: event.type }, "event emitted after the bus closed; dropped");
        dropped++;
        return;
      }
      enqueue({ events: [event] });
    },
    publish(events, o = {}) {
      if (closed) return Promise.reject(new Error("event bus is closed"));
      return new Promise((resolve, reject) => {
        enqueue({ events, batchId: o.batchId, source: o.source, settle: { resolve, reject } });
      });
    },
    subscribe(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    setJournal(j) {
      journal = j;
    },
    async flush() {
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      retryDelay = 0;
      await running;
      await drain(true);
      if (queue.length > 0) throw new Error(`event journal unavailable: ${queuedEvents} events still queued`);
    },
    async close() {
      closed = true;
      await this.flush();
    },
    stats: () => ({ queued: queuedEvents, dropped, delivered }),
  };
}
