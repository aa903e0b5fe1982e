// Sends security events to the control plane (`POST /api/v1/events`) in batches. Every batch is
// written to a disk spool before it is sent and deleted only after a 2xx, so a control plane that
// is away, a response lost on the wire or a crash loses nothing that reached the spool; the batch
// id, fixed when the batch is cut, makes every resend idempotent on the server.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { Agent, type Dispatcher, request } from "undici";
import { type Clock, systemClock } from "../clock.ts";
import { Invalid } from "../errors.ts";
import {
  keepRejected,
  readSpoolFile,
  removeSpoolFile,
  scanSpool,
  type SpoolFile,
  spoolFileName,
  writeSpoolFile,
} from "./spool.ts";
import { newEvent, type SecurityEvent } from "./types.ts";

export interface EventForwarderOptions {
  /** The control plane's base URL; batches go to `<url>/api/v1/events`. */
  url: string;
  /** An ingest token from the server's `events.ingestTokens`; sent only in the Authorization header. */
  token: string;
  /** Where the token is configured, for the error when the server refuses it (`gateway.controlPlane.token`). */
  tokenSetting?: string;
  /** Where batches wait until the control plane acknowledges them; refused ones go to `rejected/` inside. */
  spoolDir: string;
  /** Past this many bytes in the spool the oldest batches are dropped, logged and counted. */
  spoolMaxBytes?: number;
  /** Names the sender in batches and prefixes batch ids. */
  source: string;
  batchMaxEvents?: number;
  batchMaxDelayMs?: number;
  /** Connect, response-head and body timeout of one delivery attempt. */
  requestTimeoutMs?: number;
  /** Backoff between attempts: doubles from the base up to the max, with jitter. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How long `close()` keeps trying to deliver before leaving the rest in the spool. */
  closeTimeoutMs?: number;
  /** HTTP client; default a keep-alive undici Agent owned (and closed) by the forwarder. */
  dispatcher?: Dispatcher;
  clock?: Clock;
  logger?: Logger;
}

export interface ForwarderStats {
  /** Batches not yet acknowledged (in the spool, or in memory when the disk refused them). */
  queuedBatches: number;
  spoolBytes: number;
  deliveredEvents: number;
  /** Batches the control plane refused for good, kept in `rejected/`. */
  rejectedBatches: number;
  /** Events lost: dropped from a full spool, or refused by the disk and never delivered. */
  droppedEvents: number;
}

export interface EventForwarder {
  /** Fire and forget: batched, spooled, delivered with retries. */
  emit(event: SecurityEvent): void;
  /** Cuts what is pending into a batch; resolves once every batch so far is on disk (or, if the disk refuses, in memory). */
  flush(): Promise<void>;
  /** Flushes, keeps delivering until `closeTimeoutMs`, and leaves the rest in the spool for the next start. */
  close(): Promise<void>;
  stats(): ForwarderStats;
}

interface Batch {
  readonly seq: number;
  readonly batchId: string;
  readonly events: number;
  /** The request body while the batch is only in memory. */
  body: string | undefined;
  file: SpoolFile | undefined;
  /** Settles once the spool write was tried. */
  persisted: Promise<void>;
  writing: boolean;
  /** Left the queue (delivered, refused or dropped). */
  gone: boolean;
}

type Attempt =
  | { kind: "delivered" }
  | { kind: "refused"; status: number; message: string }
  | { kind: "retry"; reason: string; retryAfterMs?: number; tokenRefused?: boolean }
  | { kind: "unreadable"; reason: string }
  /** Its file vanished: a process sharing the spool sent it, or someone removed it. */
  | { kind: "vanished" };

// Far below the server's 10 MiB body limit, so a batch is never refused for its size.
const MAX_BATCH_BYTES = 1024 * 1024;
// Batches the disk refused (ENOSPC) are kept in memory up to this, then dropped oldest first.
const MAX_MEMORY_BYTES = 16 * 1024 * 1024;
const MAX_RETRY_AFTER_MS = 60_000;

const describe = (err: unknown): string =>
  (err as Error).message || (err as { code?: string }).code || String(err);

// Logs name the control plane by origin only: a URL may carry credentials in its userinfo.
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

function serverMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof j.message === "string") return `${String(j.error ?? "error")}: ${j.message}`.slice(0, 300);
  } catch {
    // not JSON: the raw text says enough
  }
  return text.slice(0, 300);
}

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Opens the spool (sending what an earlier run left there first) and starts forwarding. */
export async function createEventForwarder(o: EventForwarderOptions): Promise<EventForwarder> {
  // Checked here, once: later, undici would refuse the header on every attempt, for ever.
  if (!/^[\x21-\x7e]+$/.test(o.token))
    throw new Invalid(
      "must be printable ASCII without spaces or line breaks",
      o.tokenSetting ?? "ingest token",
    );
  if (!/^https?:\/\//i.test(o.url) || !URL.canParse(o.url))
    throw new Invalid("expected the control plane's http(s) URL", "control plane URL");
  // The bearer token travels with every batch: in the clear only over loopback.
  const { protocol, hostname } = new URL(o.url);
  if (protocol === "http:" && !/^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i.test(hostname))
    throw new Invalid(
      "would send the ingest token unencrypted: use https:// (plain http is allowed only to loopback)",
      "control plane URL",
    );
  const endpoint = `${o.url.replace(/\/+$/, "")}/api/v1/events`;
  const dir = o.spoolDir;
  const maxEvents = o.batchMaxEvents ?? 500;
  const maxDelay = o.batchMaxDelayMs ?? 1000;
  const spoolMax = o.spoolMaxBytes ?? 100 * 1024 * 1024;
  const retryBase = o.retryBaseMs ?? 250;
  const retryMax = o.retryMaxMs ?? 5000;
  const timeout = o.requestTimeoutMs ?? 10_000;
  const clock = o.clock ?? systemClock;
  const log = o.logger?.child({ component: "event-forwarder", controlPlane: origin(o.url), spoolDir: dir });
  const idPrefix = o.source.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 64) || "rampart";
  const dispatcher =
    o.dispatcher ?? new Agent({ connect: { timeout }, headersTimeout: timeout, bodyTimeout: timeout });

  const scanned = await scanSpool(dir);
  if (scanned.removedTemp > 0)
    log?.warn({ files: scanned.removedTemp }, "removed half-written spool files left by a crash");
  const queue: Batch[] = scanned.files.map((file) => ({
    seq: file.seq,
    batchId: file.batchId,
    events: file.events,
    body: undefined,
    file,
    persisted: Promise.resolve(),
    writing: false,
    gone: false,
  }));
  let nextSeq = (scanned.files.at(-1)?.seq ?? 0) + 1;
  // Bytes on disk plus bytes being written, so concurrent writes cannot overshoot the bound.
  let spoolBytes = scanned.files.reduce((s, f) => s + f.bytes, 0);
  let memoryBytes = 0;
  let buffer: string[] = [];
  let bufferBytes = 0;
  let batchTimer: NodeJS.Timeout | undefined;
  const unreported = { events: 0, batches: 0 };
  let delivered = 0;
  let rejected = 0;
  let tokenWarnedAt = 0;
  let dropped = 0;
  let inflight: Batch | undefined;
  let abort: AbortController | undefined;
  let wake: (() => void) | undefined;
  let pumping: Promise<void> | undefined;
  let attempt = 0;
  let reachable = true;
  let spoolWritable = true;
  let closed = false;
  let closing = false;
  let stopped = false;
  // Set when a delivery failed during close(): no point trying the next batch.
  let gaveUp = false;
  let closePromise: Promise<void> | undefined;

  if (queue.length > 0)
    log?.info(
      { batches: queue.length, bytes: spoolBytes },
      "the event spool holds batches from an earlier run: sending them first",
    );

  function leave(b: Batch): void {
    b.gone = true;
    const i = queue.indexOf(b);
    if (i >= 0) queue.splice(i, 1);
    if (b.file) spoolBytes -= b.file.bytes;
    if (b.body !== undefined) memoryBytes -= b.body.length;
  }

  /** Loses a batch, loudly; resolves once its file is deleted. */
  function drop(b: Batch, why: string): Promise<void> {
    leave(b);
    dropped += b.events;
    unreported.events += b.events;
    unreported.batches++;
    log?.error(
      { batchId: b.batchId, events: b.events, droppedEvents: dropped, spoolBytes, spoolMaxBytes: spoolMax },
      `event batch dropped: ${why}`,
    );
    const file = b.file;
    if (!file) return Promise.resolve();
    return removeSpoolFile(dir, file).catch((err: unknown) =>
      log?.error({ err: describe(err), file: file.name }, "could not delete a dropped spool file"),
    );
  }

  // Oldest first, never the batch being sent: it may be acknowledged a moment later.
  function makeRoom(size: number): Promise<void>[] {
    const removals: Promise<void>[] = [];
    while (spoolBytes + size > spoolMax) {
      const victim = queue.find((b) => b.file && b !== inflight);
      if (!victim) break;
      removals.push(drop(victim, "the spool is full (spoolMaxBytes); its oldest batch was deleted"));
    }
    return removals;
  }

  function boundMemory(): void {
    while (memoryBytes > MAX_MEMORY_BYTES) {
      const victim = queue.find((b) => !b.file && !b.writing && b !== inflight);
      if (!victim) return;
      void drop(victim, "the spool cannot be written and the batches held in memory reached their limit");
    }
  }

  async function persist(b: Batch, body: string): Promise<void> {
    const size = Buffer.byteLength(body);
    const removals = makeRoom(size);
    spoolBytes += size;
    b.writing = true;
    try {
      // Free the space first: on a nearly full disk the new file needs it.
      await Promise.all(removals);
      b.file = await writeSpoolFile(dir, b.seq, b.batchId, b.events, body);
    } catch (err) {
      spoolBytes -= size;
      if (spoolWritable)
        log?.error(
          { err: describe(err) },
          "cannot write to the event spool: batches are kept in memory until it can be written (lost if the process stops)",
        );
      spoolWritable = false;
      boundMemory();
      return;
    } finally {
      b.writing = false;
    }
    if (!spoolWritable) log?.info("the event spool can be written again");
    spoolWritable = true;
    memoryBytes -= body.length;
    b.body = undefined;
  }

  // Losses are themselves audited: the next batch carries an event saying how many were dropped.
  function dropReport(): string {
    const e = newEvent(
      {
        type: "events.dropped",
        severity: "high",
        outcome: "error",
        actor: { kind: "service", id: idPrefix },
        data: { events: unreported.events, batches: unreported.batches, spoolDir: dir },
        source: o.source,
      },
      clock.now(),
    );
    unreported.events = 0;
    unreported.batches = 0;
    return JSON.stringify(e);
  }

  function cut(force = false): Batch | undefined {
    if (batchTimer) clearTimeout(batchTimer);
    batchTimer = undefined;
    if (unreported.events > 0 && (buffer.length > 0 || force)) buffer.push(dropReport());
    if (buffer.length === 0) return undefined;
    const batchId = `${idPrefix}-${randomUUID()}`;
    const body = `{"batchId":${JSON.stringify(batchId)},"source":${JSON.stringify(o.source.slice(0, 128))},"events":[${buffer.join(",")}]}`;
    const b: Batch = {
      seq: nextSeq++,
      batchId,
      events: buffer.length,
      body,
      file: undefined,
      persisted: Promise.resolve(),
      writing: false,
      gone: false,
    };
    buffer = [];
    bufferBytes = 0;
    queue.push(b);
    memoryBytes += body.length;
    b.persisted = persist(b, body);
    kick();
    return b;
  }

  async function attemptDelivery(b: Batch): Promise<Attempt> {
    let body = b.body;
    if (body === undefined && b.file) {
      try {
        body = await readSpoolFile(dir, b.file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "vanished" };
        return { kind: "unreadable", reason: describe(err) };
      }
    }
    abort = new AbortController();
    try {
      const res = await request(endpoint, {
        method: "POST",
        headers: { authorization: `Bearer ${o.token}`, "content-type": "application/json" },
        body,
        dispatcher,
        signal: abort.signal,
      });
      const text = await res.body.text().catch(() => "");
      const status = res.statusCode;
      if (status >= 200 && status < 300) return { kind: "delivered" };
      // 401/403 (a token rotated on one side first) and 404 (a proxy in front of the control plane
      // mid-deploy) are about the path, not this batch: keep it and retry. Any other 4xx but 408
      // and 429 says the batch itself will never be taken.
      if (status === 401 || status === 403 || status === 404)
        return {
          kind: "retry",
          reason: `HTTP ${status}: ${serverMessage(text)}`,
          ...(status === 404 ? {} : { tokenRefused: true }),
        };
      if (status >= 400 && status < 500 && status !== 408 && status !== 429)
        return { kind: "refused", status, message: serverMessage(text) };
      const after = retryAfterMs(res.headers["retry-after"]);
      return {
        kind: "retry",
        reason: `HTTP ${status}`,
        ...(after !== undefined ? { retryAfterMs: after } : {}),
      };
    } catch (err) {
      return { kind: "retry", reason: describe(err) };
    } finally {
      abort = undefined;
    }
  }

  async function acknowledge(b: Batch): Promise<void> {
    const file = b.file;
    leave(b);
    delivered += b.events;
    // A file that cannot be deleted is resent on the next start; the server answers it as a duplicate.
    if (file)
      await removeSpoolFile(dir, file).catch((err: unknown) =>
        log?.warn({ err: describe(err), file: file.name }, "could not delete a delivered spool file"),
      );
  }

  async function refuse(b: Batch, status: number, message: string): Promise<void> {
    const from = b.file ? { file: b.file } : { body: b.body ?? "" };
    leave(b);
    rejected++;
    let keptAt: string | undefined;
    try {
      keptAt = await keepRejected(dir, b.file?.name ?? spoolFileName(b.seq, b.events, b.batchId), from);
    } catch (err) {
      dropped += b.events;
      log?.error({ err: describe(err), batchId: b.batchId }, "could not keep a refused batch in rejected/");
    }
    log?.error(
      { status, response: message, batchId: b.batchId, events: b.events, keptAt },
      "the control plane refused the batch as invalid; it is kept in rejected/ and not retried",
    );
  }

  function backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      wake = done;
    });
  }

  // One batch at a time, oldest first: a backlog is drained in order before newer batches.
  async function pump(): Promise<void> {
    while (queue.length > 0 && !stopped) {
      const b = queue[0] as Batch;
      await b.persisted;
      if (b.gone || stopped) continue;
      inflight = b;
      const r = await attemptDelivery(b);
      inflight = undefined;
      if (r.kind === "delivered") {
        attempt = 0;
        if (!reachable) log?.info({ queued: queue.length - 1 }, "control plane reachable again");
        reachable = true;
        await acknowledge(b);
      } else if (r.kind === "refused") {
        attempt = 0;
        await refuse(b, r.status, r.message);
      } else if (r.kind === "vanished") {
        leave(b);
        log?.info({ batchId: b.batchId }, "spool file gone before it was sent (sent by a sibling process?)");
      } else if (r.kind === "unreadable") {
        await drop(b, `its spool file cannot be read (${r.reason})`);
      } else {
        if (r.tokenRefused) {
          // Said at most once a minute: the fix is on one side or the other, and it may take a while.
          const now = Date.now();
          if (now - tokenWarnedAt > 60_000) {
            tokenWarnedAt = now;
            log?.error(
              { reason: r.reason, queued: queue.length },
              `the control plane refuses the ingest token (check ${o.tokenSetting ?? "it"} against the server's events.ingestTokens); batches wait in the spool and are retried`,
            );
          }
        } else if (reachable)
          log?.warn(
            { reason: r.reason, queued: queue.length },
            "control plane unreachable: batches wait in the spool and are retried with backoff",
          );
        else log?.debug({ reason: r.reason, attempt }, "control plane still unreachable");
        reachable = false;
        if (closing) {
          gaveUp = true;
          return;
        }
        attempt++;
        const cap = Math.min(retryMax, retryBase * 2 ** Math.min(attempt - 1, 30));
        // Equal jitter: replicas that lost the control plane together do not return in step.
        const delay = cap / 2 + (Math.random() * cap) / 2;
        await backoff(Math.max(delay, Math.min(r.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS)));
      }
    }
  }

  function kick(): void {
    if (pumping || stopped) return;
    // `.finally` runs asynchronously, so `pumping` is set before it is cleared.
    pumping = pump().finally(() => {
      pumping = undefined;
      if (queue.length > 0 && !closing) kick();
    });
  }

  async function flush(force = false): Promise<void> {
    cut(force);
    await Promise.all(queue.map((b) => b.persisted));
  }

  kick();

  return {
    emit(event) {
      if (closed) {
        dropped++;
        log?.warn({ type: event.type }, "event emitted after the forwarder closed; dropped");
        return;
      }
      const text = JSON.stringify(event);
      buffer.push(text);
      bufferBytes += text.length + 1; // characters, near enough to bytes for a batch bound
      if (buffer.length >= maxEvents || bufferBytes >= MAX_BATCH_BYTES) cut();
      else if (!batchTimer) {
        batchTimer = setTimeout(() => cut(), maxDelay);
        batchTimer.unref();
      }
    },
    flush: () => flush(),
    close() {
      closePromise ??= (async () => {
        closed = true;
        await flush(true);
        // A last pass without backoff, bounded in time; what is left waits in the spool.
        closing = true;
        const deadline = setTimeout(() => {
          stopped = true;
          wake?.();
          abort?.abort();
        }, o.closeTimeoutMs ?? 5000);
        wake?.();
        while (queue.length > 0 && !stopped && !gaveUp) {
          kick();
          await pumping;
        }
        clearTimeout(deadline);
        stopped = true;
        await pumping;
        // Batches the disk refused get one last chance to reach it.
        for (const b of [...queue]) {
          if (b.file || b.body === undefined) continue;
          try {
            b.file = await writeSpoolFile(dir, b.seq, b.batchId, b.events, b.body);
            spoolBytes += b.file.bytes;
            memoryBytes -= b.body.length;
            b.body = undefined;
          } catch (err) {
            await drop(b, `the spool cannot be written at shutdown (${describe(err)})`);
          }
        }
        if (queue.length > 0)
          log?.warn(
            { batches: queue.length, events: queue.reduce((s, b) => s + b.events, 0) },
            "stopping before the control plane acknowledged every batch: they stay in the spool and are sent on the next start",
          );
        if (!o.dispatcher) await (dispatcher as Agent).close();
      })();
      return closePromise;
    },
    stats: () => ({
      queuedBatches: queue.length,
      spoolBytes,
      deliveredEvents: delivered,
      rejectedBatches: rejected,
      droppedEvents: dropped,
    }),
  };
}
