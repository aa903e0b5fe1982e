// The event spine as its users see it: batches reach the journal before subscribers, callers of
// `publish` learn when their events are durable, and an outage of the journal loses nothing it
// does not count.
import { afterEach, describe, expect, it, vi } from "vitest";
import { createEventBus, type EventBus, type EventJournal, type JournalItem } from "./bus.ts";
import { newEvent, type SecurityEvent } from "./types.ts";

function event(n: number): SecurityEvent {
  return newEvent({
    id: `event-${String(n).padStart(5, "0")}`,
    type: "test.happened",
    actor: { kind: "system", id: "test" },
    data: { n },
  });
}

const nums = (events: readonly SecurityEvent[]) => events.map((e) => e.data.n as number);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A journal that remembers every call, refuses repeated batch ids, and can be switched off. */
function recordingJournal() {
  const calls: JournalItem[][] = [];
  const seen = new Set<string>();
  const recorded: SecurityEvent[] = [];
  let down: Error | undefined;
  let gate: Deferred<void> | undefined;
  const journal: EventJournal = {
    async record(items) {
      calls.push([...items]);
      if (gate) await gate.promise;
      if (down) throw down;
      return items.map((item) => {
        if (item.batchId !== undefined) {
          if (seen.has(item.batchId)) return false;
          seen.add(item.batchId);
        }
        recorded.push(...item.events);
        return true;
      });
    },
  };
  return {
    journal,
    calls,
    recorded,
    /** Events per call, in call order. */
    sizes: () => calls.map((items) => items.reduce((n, item) => n + item.events.length, 0)),
    fail(message = "database unavailable") {
      down = new Error(message);
    },
    recover() {
      down = undefined;
    },
    /** Holds every journal call until the returned function is called. */
    hold() {
      const d = deferred<void>();
      gate = d;
      return () => {
        gate = undefined;
        d.resolve();
      };
    },
  };
}

function subscriberLog(bus: EventBus) {
  const batches: SecurityEvent[][] = [];
  bus.subscribe((events) => {
    batches.push([...events]);
  });
  return { batches, events: () => batches.flat() };
}

/** Settles `promise` into a value we can look at without awaiting it. */
function track<T>(promise: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
    },
    (error: unknown) => {
      state.settled = true;
      state.error = error;
    },
  );
  return state;
}

let bus: EventBus | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await bus?.close().catch(() => {});
  bus = undefined;
});

describe("batching", () => {
  it("hands many emitted events to the journal in a few batches, none larger than maxBatchEvents", async () => {
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxBatchEvents: 1000, maxDelayMs: 20 });
    const sub = subscriberLog(bus);
    for (const n of range(0, 2500)) bus.emit(event(n));

    await vi.waitFor(() => expect(sub.events()).toHaveLength(2500), { timeout: 5000 });
    expect(j.sizes()).toEqual([1000, 1000, 500]);
    expect(nums(sub.events())).toEqual(range(0, 2500));
    expect(nums(j.recorded)).toEqual(range(0, 2500));
    expect(bus.stats()).toEqual({ queued: 0, dropped: 0, delivered: 2500 });
  });

  it("keeps published batches whole and still respects maxBatchEvents between them", async () => {
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxBatchEvents: 10, maxDelayMs: 5 });
    const publishes = [0, 1, 2, 3, 4].map((b) => bus?.publish(range(b * 4, b * 4 + 4).map(event)));
    await Promise.all(publishes);
    // Five batches of 4 events: at most two fit under the bound of 10 per journal call.
    expect(j.sizes()).toEqual([8, 8, 4]);
    for (const items of j.calls) for (const item of items) expect(item.events).toHaveLength(4);
  });

  it("delivers a lone event once maxDelayMs has passed, not before", async () => {
    vi.useFakeTimers();
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxBatchEvents: 100, maxDelayMs: 200 });
    const sub = subscriberLog(bus);
    bus.emit(event(1));

    await vi.advanceTimersByTimeAsync(150);
    expect(j.calls).toHaveLength(0);
    expect(sub.events()).toHaveLength(0);
    expect(bus.stats().queued).toBe(1);

    await vi.advanceTimersByTimeAsync(50);
    expect(j.calls).toHaveLength(1);
    expect(nums(sub.events())).toEqual([1]);
    expect(bus.stats()).toMatchObject({ queued: 0, delivered: 1 });
  });

  it("events emitted within one delay window travel together", async () => {
    vi.useFakeTimers();
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxBatchEvents: 100, maxDelayMs: 100 });
    bus.emit(event(1));
    await vi.advanceTimersByTimeAsync(40);
    bus.emit(event(2));
    await vi.advanceTimersByTimeAsync(40);
    bus.emit(event(3));
    await vi.advanceTimersByTimeAsync(20);
    expect(j.sizes()).toEqual([3]);
  });

  it("sends a full batch without waiting out maxDelayMs", async () => {
    // The config documents batchMaxEvents as "flush when it holds this many events... or when its
    // oldest event has waited batchMaxDelayMs": a full batch must not sit out the delay.
    vi.useFakeTimers();
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxBatchEvents: 10, maxDelayMs: 60_000 });
    for (const n of range(0, 10)) bus.emit(event(n));

    await vi.advanceTimersByTimeAsync(10);
    expect(j.sizes()).toEqual([10]);
  });
});

describe("publish", () => {
  it("resolves only after the journal has recorded the events, and before subscribers matter", async () => {
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxDelayMs: 1 });
    const release = j.hold();
    const result = track(bus.publish([event(1), event(2)], { batchId: "batch-0001", source: "gw-1" }));

    await vi.waitFor(() => expect(j.calls).toHaveLength(1));
    // The journal has been called but has not answered: the caller must still be waiting.
    await new Promise((r) => setTimeout(r, 30));
    expect(result.settled).toBe(false);
    expect(j.recorded).toHaveLength(0);

    release();
    await vi.waitFor(() => expect(result.settled).toBe(true));
    expect(result.error).toBeUndefined();
    expect(result.value).toEqual({ duplicate: false });
    expect(nums(j.recorded)).toEqual([1, 2]);
    expect(j.calls[0]?.[0]).toMatchObject({ batchId: "batch-0001", source: "gw-1" });
  });

  it("reports a repeated batch id as a duplicate and does not deliver it again", async () => {
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxDelayMs: 1 });
    const sub = subscriberLog(bus);

    expect(await bus.publish([event(1), event(2)], { batchId: "batch-0001" })).toEqual({ duplicate: false });
    // A gateway retries after a lost response: same id, same events.
    expect(await bus.publish([event(1), event(2)], { batchId: "batch-0001" })).toEqual({ duplicate: true });
    expect(await bus.publish([event(3)], { batchId: "batch-0002" })).toEqual({ duplicate: false });

    expect(nums(sub.events())).toEqual([1, 2, 3]);
    expect(bus.stats().delivered).toBe(3);
  });

  it("a duplicate in the same journal call as fresh events only holds back itself", async () => {
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxDelayMs: 20 });
    const sub = subscriberLog(bus);
    await bus.publish([event(1)], { batchId: "batch-0001" });

    const again = bus.publish([event(1)], { batchId: "batch-0001" });
    bus.emit(event(2));
    const fresh = bus.publish([event(3)], { batchId: "batch-0003" });
    expect(await again).toEqual({ duplicate: true });
    expect(await fresh).toEqual({ duplicate: false });
    await bus.flush();
    expect(j.calls).toHaveLength(2);
    expect(nums(sub.events())).toEqual([1, 2, 3]);
  });
});

describe("journal outage", () => {
  it("rejects publish, keeps emitted events queued, and delivers them in order once the journal is back", async () => {
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxDelayMs: 5 });
    const sub = subscriberLog(bus);
    j.fail();

    bus.emit(event(1));
    bus.emit(event(2));
    const published = bus.publish([event(100)], { batchId: "batch-0100" });
    await expect(published).rejects.toThrow("database unavailable");

    bus.emit(event(3));
    // A few retries happen while it is down; nothing reaches the subscribers.
    await vi.waitFor(() => expect(j.calls.length).toBeGreaterThanOrEqual(2), { timeout: 3000 });
    expect(sub.events()).toHaveLength(0);
    expect(bus.stats()).toMatchObject({ queued: 3, dropped: 0, delivered: 0 });
    await expect(bus.flush()).rejects.toThrow(/3 events still queued/);

    j.recover();
    // No flush: the bus retries by itself.
    await vi.waitFor(() => expect(sub.events()).toHaveLength(3), { timeout: 10_000 });
    expect(nums(sub.events())).toEqual([1, 2, 3]);
    expect(nums(j.recorded)).toEqual([1, 2, 3]);
    expect(bus.stats()).toEqual({ queued: 0, dropped: 0, delivered: 3 });
  });

  it("a caller may retry a rejected publish and it is recorded once", async () => {
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxDelayMs: 1 });
    const sub = subscriberLog(bus);
    j.fail();
    await expect(bus.publish([event(1)], { batchId: "batch-0001" })).rejects.toThrow();
    j.recover();
    expect(await bus.publish([event(1)], { batchId: "batch-0001" })).toEqual({ duplicate: false });
    expect(nums(sub.events())).toEqual([1]);
  });

  it("past maxQueuedEvents drops the oldest emitted events, counts them, and keeps published ones", async () => {
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxDelayMs: 5, maxQueuedEvents: 5 });
    const sub = subscriberLog(bus);
    j.fail();
    const published = track(bus.publish([event(100)]));
    await vi.waitFor(() => expect(published.settled).toBe(true));
    expect(published.error).toBeInstanceOf(Error);

    for (const n of range(1, 9)) bus.emit(event(n));
    expect(bus.stats()).toMatchObject({ queued: 5, dropped: 3 });

    j.recover();
    await vi.waitFor(() => expect(sub.events()).toHaveLength(5), { timeout: 10_000 });
    expect(nums(sub.events())).toEqual([4, 5, 6, 7, 8]);
    expect(bus.stats()).toEqual({ queued: 0, dropped: 3, delivered: 5 });
  });

  it("never drops an awaited publish to make room; emitted events go instead", async () => {
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxDelayMs: 5, maxQueuedEvents: 3 });
    const sub = subscriberLog(bus);
    j.fail();
    bus.emit(event(1));
    bus.emit(event(2));
    // Wait until the first delivery attempt failed, so the publish is queued behind a retry.
    await vi.waitFor(() => expect(j.calls.length).toBeGreaterThanOrEqual(1));
    const published = bus.publish([event(10), event(11)]);
    expect(bus.stats()).toMatchObject({ queued: 3, dropped: 1 });
    j.recover();
    expect(await published).toEqual({ duplicate: false });
    await bus.flush();
    expect(nums(sub.events())).toEqual([2, 10, 11]);
  });

  it("a publish made while a batch is being journaled settles even if the queue overflows", async () => {
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxDelayMs: 1, maxQueuedEvents: 2 });
    const sub = subscriberLog(bus);
    const release = j.hold();
    bus.emit(event(1));
    bus.emit(event(2));
    await vi.waitFor(() => expect(j.calls).toHaveLength(1));

    // Events 1 and 2 are in the journal call now; the publish pushes the queue over its bound.
    const published = track(bus.publish([event(3)], { batchId: "batch-0003" }));
    release();
    await bus.flush();

    expect(published).toMatchObject({ settled: true, value: { duplicate: false } });
    expect(nums(j.recorded)).toContain(3);
    expect(nums(sub.events())).toContain(3);
    // What was delivered plus what was counted as dropped accounts for every event.
    expect(sub.events().length + bus.stats().dropped).toBe(3);
  });
});

describe("subscribers", () => {
  it("a subscriber that throws does not keep the others from receiving events", async () => {
    const j = recordingJournal();
    const warnings: unknown[] = [];
    const logger = { error: (o: unknown) => warnings.push(o), warn: () => {} };
    bus = createEventBus({
      journal: j.journal,
      maxDelayMs: 1,
      logger: logger as unknown as NonNullable<Parameters<typeof createEventBus>[0]>["logger"],
    });
    const before = subscriberLog(bus);
    bus.subscribe(() => {
      throw new Error("metrics exploded");
    });
    bus.subscribe(async () => {
      await Promise.resolve();
      throw new Error("detector exploded");
    });
    const after = subscriberLog(bus);

    bus.emit(event(1));
    await bus.flush();
    bus.emit(event(2));
    await bus.flush();

    expect(nums(before.events())).toEqual([1, 2]);
    expect(nums(after.events())).toEqual([1, 2]);
    expect(bus.stats()).toEqual({ queued: 0, dropped: 0, delivered: 2 });
    expect(warnings).toHaveLength(4);
  });

  it("a failing subscriber does not fail the publish that carried the events", async () => {
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxDelayMs: 1 });
    bus.subscribe(() => {
      throw new Error("boom");
    });
    await expect(bus.publish([event(1)])).resolves.toEqual({ duplicate: false });
  });

  it("unsubscribed handlers receive nothing more", async () => {
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxDelayMs: 1 });
    const seen: number[] = [];
    const off = bus.subscribe((events) => {
      seen.push(...nums(events));
    });
    bus.emit(event(1));
    await bus.flush();
    off();
    bus.emit(event(2));
    await bus.flush();
    expect(seen).toEqual([1]);
  });
});

describe("flush and close", () => {
  it("close() journals and delivers everything queued before it resolves", async () => {
    const j = recordingJournal();
    const b = createEventBus({ journal: j.journal, maxDelayMs: 60_000 });
    const sub = subscriberLog(b);
    for (const n of range(0, 5)) b.emit(event(n));
    expect(j.calls).toHaveLength(0);

    await b.close();
    expect(nums(j.recorded)).toEqual(range(0, 5));
    expect(nums(sub.events())).toEqual(range(0, 5));
    expect(b.stats()).toEqual({ queued: 0, dropped: 0, delivered: 5 });

    // After close: emitted events are counted as dropped, published ones are refused.
    b.emit(event(9));
    expect(b.stats().dropped).toBe(1);
    await expect(b.publish([event(10)])).rejects.toThrow(/closed/);
    await new Promise((r) => setTimeout(r, 20));
    expect(j.recorded).toHaveLength(5);
  });

  it("flushing an idle bus does not stop later events from being delivered", async () => {
    // The server flushes on every audit checkpoint and export request, often with nothing queued.
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxDelayMs: 5 });
    const sub = subscriberLog(bus);
    await bus.flush();

    bus.emit(event(1));
    await vi.waitFor(() => expect(nums(sub.events())).toEqual([1]), { timeout: 2000 });
    const published = track(bus.publish([event(2)]));
    await vi.waitFor(() => expect(published).toMatchObject({ settled: true, value: { duplicate: false } }), {
      timeout: 2000,
    });
    await bus.flush();
    expect(nums(j.recorded)).toEqual([1, 2]);
  });

  it("flush() waits for a batch already on its way to the journal", async () => {
    const j = recordingJournal();
    bus = createEventBus({ journal: j.journal, maxDelayMs: 1 });
    const release = j.hold();
    bus.emit(event(1));
    await vi.waitFor(() => expect(j.calls).toHaveLength(1));
    bus.emit(event(2));
    const flushed = track(bus.flush());
    await new Promise((r) => setTimeout(r, 20));
    expect(flushed.settled).toBe(false);
    release();
    await vi.waitFor(() => expect(flushed.settled).toBe(true));
    expect(flushed.error).toBeUndefined();
    expect(nums(j.recorded)).toEqual([1, 2]);
  });

  it("close() during an outage reports the events it could not journal", async () => {
    const j = recordingJournal();
    const b = createEventBus({ journal: j.journal, maxDelayMs: 60_000 });
    j.fail();
    b.emit(event(1));
    await expect(b.close()).rejects.toThrow(/1 events still queued/);
    // Nothing was lost: once the journal is back the queued event still reaches it.
    j.recover();
    await vi.waitFor(() => expect(nums(j.recorded)).toEqual([1]), { timeout: 5000 });
  });

  it("without a journal, events go straight to subscribers", async () => {
    bus = createEventBus({ maxDelayMs: 1 });
    const sub = subscriberLog(bus);
    expect(await bus.publish([event(1)], { batchId: "batch-0001" })).toEqual({ duplicate: false });
    bus.setJournal(recordingJournal().journal);
    bus.emit(event(2));
    await bus.flush();
    expect(nums(sub.events())).toEqual([1, 2]);
  });
});
