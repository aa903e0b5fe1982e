// SIEM export: a bus subscriber that copies every event to each configured exporter. Export is
// best-effort by design: the audit log in the database is the durable record. Each exporter keeps a
// bounded in-memory queue while its receiver is away, retries with backoff and resends what was
// not written; past the bound the oldest events are dropped and counted, never the bus blocked.
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "../../platform/logging.ts";
import { type SecurityEvent, type Severity, severities } from "../../platform/events/index.ts";
import { createJsonlSink } from "./jsonl.ts";
import { createOtlpSink } from "./otlp.ts";
import type { SiemConfig, SiemExporterConfig } from "./schema.ts";
import { createSyslogSink } from "./syslog.ts";

/** Where one exporter writes. */
export interface Sink {
  /** Delivers the events in order or rejects; a rejected batch is retried unless the error says `permanent`. */
  send(events: readonly SecurityEvent[]): Promise<void>;
  close(): Promise<void>;
}

export interface SiemExporterStats {
  name: string;
  type: SiemExporterConfig["type"];
  queued: number;
  exported: number;
  dropped: number;
  /** False from a failed delivery until the next one succeeds. */
  healthy: boolean;
  lastError?: string;
}

export interface SiemExport {
  /** Bus subscriber: queues the events; never throws, never waits for a receiver. */
  handle(events: readonly SecurityEvent[]): void;
  /** Tries now to deliver everything queued; resolves when each queue is empty or its delivery failed. */
  flush(): Promise<void>;
  /** Flushes (one try), then closes every connection; later events are ignored. */
  close(): Promise<void>;
  stats(): SiemExporterStats[];
}

export interface SiemExportOptions {
  /** Read on every call: a changed object (config reload) adds, replaces or removes exporters. */
  config: () => SiemConfig;
  logger: Logger;
  registry?: Registry;
  /** Backoff between failed deliveries: doubles from `minMs` up to `maxMs`. */
  retry?: { minMs?: number; maxMs?: number };
  connectTimeoutMs?: number;
  writeTimeoutMs?: number;
}

const rank = (s: Severity) => severities.indexOf(s);

/** Matches `gateway.*` (any characters after `gateway.`), `*`, or an exact type. */
export function typeMatcher(patterns: readonly string[] | undefined): (type: string) => boolean {
  if (!patterns) return () => true;
  const res = patterns.map(
    (p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`),
  );
  return (type) => res.some((r) => r.test(type));
}

// A FIFO whose head advances by index: 50k events shifted one at a time would be quadratic.
interface EventQueue {
  items: SecurityEvent[];
  head: number;
}
const qlen = (q: EventQueue) => q.items.length - q.head;
function qtake(q: EventQueue, n: number): SecurityEvent[] {
  const out = q.items.slice(q.head, q.head + n);
  q.head += out.length;
  if (q.head > 1024 && q.head * 2 > q.items.length) {
    q.items = q.items.slice(q.head);
    q.head = 0;
  }
  return out;
}
function qdropOldest(q: EventQueue, n: number): number {
  const k = Math.min(n, qlen(q));
  q.head += k;
  if (q.head * 2 > q.items.length) {
    q.items = q.items.slice(q.head);
    q.head = 0;
  }
  return k;
}

interface ExporterState {
  readonly cfg: SiemExporterConfig;
  readonly key: string;
  readonly sink: Sink;
  readonly accepts: (e: SecurityEvent) => boolean;
  queue: EventQueue;
  inflight: number;
  exported: number;
  dropped: number;
  healthy: boolean;
  lastError?: string;
  backoffMs: number;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  closed: boolean;
}

/** Creates the SIEM export; subscribe `handle` to the event bus. */
export function createSiemExport(opts: SiemExportOptions): SiemExport {
  const minMs = opts.retry?.minMs ?? 500;
  const maxMs = opts.retry?.maxMs ?? 30_000;
  const log = opts.logger.child({ module: "siem" });
  let exporters = new Map<string, ExporterState>();
  let seen: SiemConfig | undefined;
  let closed = false;
  const metrics = opts.registry ? createSiemMetrics(opts.registry, () => [...exporters.values()]) : undefined;

  function makeSink(cfg: SiemExporterConfig): Sink {
    const t = { connectTimeoutMs: opts.connectTimeoutMs, writeTimeoutMs: opts.writeTimeoutMs };
    const timeouts = Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined));
    if (cfg.type === "syslog") return createSyslogSink(cfg, timeouts);
    if (cfg.type === "jsonl") return createJsonlSink(cfg, timeouts);
    return createOtlpSink(cfg);
  }

  function start(cfg: SiemExporterConfig, key: string, carried?: ExporterState): ExporterState {
    const matches = typeMatcher(cfg.types);
    const min = cfg.minSeverity ? rank(cfg.minSeverity) : 0;
    return {
      cfg,
      key,
      sink: makeSink(cfg),
      accepts: (e) => rank(e.severity) >= min && matches(e.type),
      queue: carried ? carried.queue : { items: [], head: 0 },
      inflight: 0,
      exported: carried?.exported ?? 0,
      dropped: carried?.dropped ?? 0,
      healthy: true,
      backoffMs: 0,
      closed: false,
    };
  }

  function stop(x: ExporterState): void {
    x.closed = true;
    if (x.timer) clearTimeout(x.timer);
    x.timer = undefined;
    x.sink.close().catch(() => {});
  }

  // Applies a reloaded config: unchanged exporters keep running, changed ones restart with their queue.
  function sync(): void {
    if (closed) return;
    let cfg: SiemConfig;
    try {
      cfg = opts.config();
    } catch (err) {
      log.warn({ err: String(err) }, "siem config unavailable; keeping the exporters running");
      return;
    }
    if (cfg === seen) return;
    seen = cfg;
    const next = new Map<string, ExporterState>();
    for (const c of cfg.exporters) {
      const key = JSON.stringify(c);
      const old = exporters.get(c.name);
      if (old && old.key === key) {
        next.set(c.name, old);
        continue;
      }
      try {
        const x = start(c, key, old);
        if (old) stop(old);
        next.set(c.name, x);
        if (qlen(x.queue) > 0) schedule(x);
      } catch (err) {
        // A sink that cannot even be built (bad URL) must not take the others down.
        log.error({ exporter: c.name, err: errorText(err) }, "siem exporter not started");
        if (old) next.set(c.name, old);
      }
    }
    for (const [name, x] of exporters) if (!next.has(name)) stop(x);
    exporters = next;
  }

  function schedule(x: ExporterState, delayMs = 0): void {
    if (x.closed || x.running || x.timer) return;
    x.timer = setTimeout(() => {
      x.timer = undefined;
      void drain(x);
    }, delayMs);
  }

  function drain(x: ExporterState): Promise<void> {
    x.running ??= pump(x).finally(() => {
      x.running = undefined;
      if (qlen(x.queue) > 0 && x.healthy) schedule(x);
    });
    return x.running;
  }

  // Sends batches until the queue is empty or a send fails (then retries after a backoff).
  async function pump(x: ExporterState): Promise<void> {
    while (!x.closed && qlen(x.queue) > 0) {
      const batch = qtake(x.queue, x.cfg.batchEvents);
      x.inflight = batch.length;
      try {
        await x.sink.send(batch);
        x.exported += batch.length;
        metrics?.exported.inc({ exporter: x.cfg.name }, batch.length);
        if (!x.healthy)
          log.info({ exporter: x.cfg.name }, "siem receiver reachable again; resending queued events");
        x.healthy = true;
        x.lastError = undefined;
        x.backoffMs = 0;
      } catch (err) {
        const text = errorText(err);
        if ((err as { permanent?: unknown }).permanent === true) {
          countDropped(x, batch.length);
          log.error(
            { exporter: x.cfg.name, err: text, events: batch.length },
            "siem receiver refused a batch; dropped",
          );
          continue;
        }
        // Back to the front, in order; the bound then drops the oldest.
        x.queue.items = batch.concat(x.queue.items.slice(x.queue.head));
        x.queue.head = 0;
        x.inflight = 0;
        enforceBound(x);
        if (x.healthy)
          log.warn({ exporter: x.cfg.name, err: text }, "siem receiver unreachable; queueing events");
        x.healthy = false;
        x.lastError = text;
        x.backoffMs = x.backoffMs ? Math.min(x.backoffMs * 2, maxMs) : minMs;
        const wait = x.backoffMs;
        // Scheduled once this pump has ended (running is cleared in `drain`).
        setImmediate(() => schedule(x, wait));
        return;
      } finally {
        x.inflight = 0;
      }
    }
  }

  function countDropped(x: ExporterState, n: number): void {
    if (n <= 0) return;
    x.dropped += n;
    metrics?.dropped.inc({ exporter: x.cfg.name }, n);
  }

  function enforceBound(x: ExporterState): void {
    const over = qlen(x.queue) + x.inflight - x.cfg.queueEvents;
    if (over > 0) countDropped(x, qdropOldest(x.queue, over));
  }

  async function flush(): Promise<void> {
    sync();
    await Promise.all(
      [...exporters.values()].map(async (x) => {
        if (x.running) await x.running;
        if (qlen(x.queue) === 0 || x.closed) return;
        if (x.timer) clearTimeout(x.timer);
        x.timer = undefined;
        await drain(x);
      }),
    );
  }

  return {
    handle(events) {
      try {
        if (closed) return;
        sync();
        for (const x of exporters.values()) {
          let added = 0;
          for (const e of events) {
            if (x.accepts(e)) {
              x.queue.items.push(e);
              added++;
            }
          }
          if (added === 0) continue;
          enforceBound(x);
          if (x.healthy) schedule(x);
        }
      } catch (err) {
        log.error({ err: errorText(err) }, "siem export failed to queue events");
      }
    },
    flush,
    async close() {
      if (closed) return;
      await flush();
      closed = true;
      for (const x of exporters.values()) {
        x.closed = true;
        if (x.timer) clearTimeout(x.timer);
        x.timer = undefined;
        if (x.running) await x.running;
        await x.sink.close().catch(() => {});
      }
    },
    stats() {
      sync();
      return [...exporters.values()].map((x) => ({
        name: x.cfg.name,
        type: x.cfg.type,
        queued: qlen(x.queue) + x.inflight,
        exported: x.exported,
        dropped: x.dropped,
        healthy: x.healthy,
        ...(x.lastError ? { lastError: x.lastError } : {}),
      }));
    },
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function createSiemMetrics(registry: Registry, states: () => ExporterState[]) {
  const existing = <T>(name: string) => registry.getSingleMetric(name) as T | undefined;
  const exported =
    existing<Counter<"exporter">>("rampart_siem_exported_total") ??
    new Counter({
      name: "rampart_siem_exported_total",
      help: "Events delivered to a SIEM receiver, by exporter.",
      labelNames: ["exporter"],
      registers: [registry],
    });
  const dropped =
    existing<Counter<"exporter">>("rampart_siem_dropped_total") ??
    new Counter({
      name: "rampart_siem_dropped_total",
      help: "Events dropped by a SIEM exporter (queue full while the receiver was away, or refused), by exporter.",
      labelNames: ["exporter"],
      registers: [registry],
    });
  if (!existing("rampart_siem_queue_events")) {
    new Gauge({
      name: "rampart_siem_queue_events",
      help: "Events waiting for a SIEM receiver, by exporter.",
      labelNames: ["exporter"],
      registers: [registry],
      collect() {
        this.reset();
        for (const x of states()) this.set({ exporter: x.cfg.name }, qlen(x.queue) + x.inflight);
      },
    });
  }
  return { exported, dropped };
}
