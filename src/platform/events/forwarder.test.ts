// The event forwarder against a real HTTP server on loopback that plays the control plane: it can
// be stopped (connection refused), answer 503 or 401, or store a batch and drop the connection
// before answering. Files in the spool directory are checked as they are on disk.
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import { afterAll, afterEach, expect, test } from "vitest";
import { createEventForwarder, type EventForwarderOptions } from "./forwarder.ts";
import { newEvent, type SecurityEvent } from "./types.ts";

const token = "forwarder-test-token-0123456789abcdef0123";
const work = mkdtempSync(join(tmpdir(), "rampart-forwarder-"));
const logLines: string[] = [];
const logger = pino({ level: "debug" }, { write: (line: string) => void logLines.push(line) });
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => {
  // Whatever happened above, the token never reached a log line.
  expect(logLines.join("")).not.toContain(token);
  rmSync(work, { recursive: true, force: true });
});

type Mode = "ok" | "unavailable" | "unauthorized" | "lose-first-response";

/** A stand-in control plane: stores each batch id once, as the real one does. */
async function controlPlane() {
  const received: Array<{ batchId: string; events: SecurityEvent[]; authorization: string | undefined }> = [];
  const stored = new Map<string, SecurityEvent[]>();
  let mode: Mode = "ok";
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      const batch = JSON.parse(body) as { batchId: string; events: SecurityEvent[] };
      received.push({ ...batch, authorization: req.headers.authorization });
      const reply = (status: number, json: unknown) =>
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
      if (req.headers.authorization !== `Bearer ${token}`)
        return reply(401, { error: "unauthorized", message: "invalid bearer token" });
      if (mode === "unauthorized")
        return reply(401, { error: "unauthorized", message: "invalid bearer token" });
      if (mode === "unavailable") return reply(503, { error: "unavailable", message: "journal down" });
      const duplicate = stored.has(batch.batchId);
      if (!duplicate) stored.set(batch.batchId, batch.events);
      // Stored, but the answer never arrives: the sender cannot tell this from a failure.
      if (mode === "lose-first-response" && !duplicate) return req.socket.destroy();
      reply(duplicate ? 200 : 201, { batchId: batch.batchId, duplicate });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const cp = {
    url: `http://127.0.0.1:${port}`,
    received,
    stored,
    setMode: (m: Mode) => {
      mode = m;
    },
    storedEvents: () => [...stored.values()].flat(),
    /** Stops listening: connections are refused until `start()`. */
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
    start: () => new Promise<void>((r) => server.listen(port, "127.0.0.1", r)),
  };
  cleanups.push(() => (server.listening ? cp.stop() : undefined));
  return cp;
}

function spoolDir(): string {
  return mkdtempSync(join(work, "spool-"));
}

async function forwarder(o: Partial<EventForwarderOptions> & { url: string; spoolDir: string }) {
  const f = await createEventForwarder({
    token,
    source: "gw-test",
    batchMaxDelayMs: 10,
    retryBaseMs: 20,
    retryMaxMs: 100,
    closeTimeoutMs: 1000,
    logger,
    ...o,
  });
  cleanups.push(() => f.close());
  return f;
}

const ev = (n: number) =>
  newEvent({ type: "gateway.ip_denied", actor: { kind: "ip", id: `198.51.100.${n}` }, data: { count: n } });

const batchFiles = (dir: string) => readdirSync(dir).filter((n) => n.endsWith(".json"));

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test("batches reach the control plane with unique batch ids; close() sends what is still pending", async () => {
  const cp = await controlPlane();
  const dir = spoolDir();
  const f = await forwarder({ url: cp.url, spoolDir: dir, batchMaxEvents: 2, batchMaxDelayMs: 60_000 });
  const events = [1, 2, 3, 4, 5].map(ev);
  for (const e of events) f.emit(e);
  await until("two full batches", () => cp.stored.size === 2);
  await f.close(); // the fifth event waited for its batch timer: close sends it
  expect(cp.storedEvents().map((e) => e.id)).toEqual(events.map((e) => e.id));
  const ids = cp.received.map((r) => r.batchId);
  expect(new Set(ids).size).toBe(3);
  for (const id of ids) expect(id).toMatch(/^gw-test-[0-9a-f-]{36}$/);
  expect(cp.received.every((r) => r.authorization === `Bearer ${token}`)).toBe(true);
  expect(batchFiles(dir)).toEqual([]);
  expect(f.stats()).toMatchObject({ deliveredEvents: 5, queuedBatches: 0, droppedEvents: 0 });
});

test("503 and a refused connection leave batches in the spool; they are sent oldest first once it answers", async () => {
  const cp = await controlPlane();
  const dir = spoolDir();
  const f = await forwarder({ url: cp.url, spoolDir: dir });
  cp.setMode("unavailable");
  const events = [1, 2, 3].map(ev);
  f.emit(events[0] as SecurityEvent);
  await f.flush();
  await until("a 503", () => cp.received.length > 0);
  await cp.stop();
  for (const e of events.slice(1)) {
    f.emit(e);
    await f.flush();
  }
  // One file per batch, in order, each the exact request body.
  const files = batchFiles(dir);
  expect(files).toHaveLength(3);
  const onDisk = files.map(
    (n) => JSON.parse(readFileSync(join(dir, n), "utf8")) as { events: SecurityEvent[] },
  );
  expect(onDisk.map((b) => b.events[0]?.id)).toEqual(events.map((e) => e.id));
  expect(f.stats().queuedBatches).toBe(3);

  cp.setMode("ok");
  await cp.start();
  await until("the spool drained", () => cp.stored.size === 3 && batchFiles(dir).length === 0);
  expect(cp.storedEvents().map((e) => e.id)).toEqual(events.map((e) => e.id));
  expect(f.stats()).toMatchObject({ deliveredEvents: 3, queuedBatches: 0, spoolBytes: 0 });
  expect(logLines.join("")).toContain("control plane unreachable");
});

test("a batch whose response was lost is resent with the same id and stored once", async () => {
  const cp = await controlPlane();
  cp.setMode("lose-first-response");
  const dir = spoolDir();
  const f = await forwarder({ url: cp.url, spoolDir: dir });
  for (const n of [1, 2, 3]) f.emit(ev(n));
  await f.flush();
  await until("the resend acknowledged", () => f.stats().deliveredEvents === 3);
  expect(cp.received).toHaveLength(2);
  expect(cp.received[1]?.batchId).toBe(cp.received[0]?.batchId);
  expect(cp.storedEvents()).toHaveLength(3);
  expect(batchFiles(dir)).toEqual([]);
});

test("401: the batch waits in the spool, said once without the token, and goes once the token is taken", async () => {
  const cp = await controlPlane();
  cp.setMode("unauthorized");
  const dir = spoolDir();
  const f = await forwarder({ url: cp.url, spoolDir: dir });
  const logged = logLines.length;
  f.emit(ev(1));
  await f.flush();
  await until("retried after the refusal", () => cp.received.length >= 3);
  expect(batchFiles(dir)).toHaveLength(1); // kept, not moved aside
  expect(existsSync(join(dir, "rejected"))).toBe(false);
  const log = logLines.slice(logged).join("");
  expect(log.split("refuses the ingest token").length - 1).toBe(1); // once, not per attempt
  expect(log).toContain("invalid bearer token");
  // The token is fixed on the server: the waiting batch goes, once.
  cp.setMode("ok");
  await until("delivered", () => cp.storedEvents().length === 1);
  await until("spool empty", () => batchFiles(dir).length === 0);
  expect(f.stats()).toMatchObject({ queuedBatches: 0, droppedEvents: 0, rejectedBatches: 0 });
});

test("a full spool drops its oldest batch with a log, and the loss reaches the control plane as an event", async () => {
  const cp = await controlPlane();
  await cp.stop();
  const dir = spoolDir();
  // Room for two one-event batches (about 320 bytes each), not three. The backoff is long enough
  // that no attempt is in flight while the third is written: a batch being sent is never dropped.
  const f = await forwarder({
    url: cp.url,
    spoolDir: dir,
    spoolMaxBytes: 800,
    retryBaseMs: 1000,
    retryMaxMs: 1000,
  });
  const events = [1, 2, 3].map(ev);
  for (const e of events) {
    f.emit(e);
    await f.flush();
  }
  expect(batchFiles(dir)).toHaveLength(2);
  expect(f.stats().droppedEvents).toBe(1);
  expect(logLines.join("")).toContain("event batch dropped: the spool is full");

  await cp.start();
  await until("the spool drained", () => cp.stored.size === 2);
  const last = ev(4);
  f.emit(last);
  await f.flush();
  await until("the last batch", () => cp.stored.size === 3);
  const got = cp.storedEvents();
  expect(got.map((e) => e.id)).toEqual([events[1]?.id, events[2]?.id, last.id, expect.any(String)]);
  expect(got[3]).toMatchObject({ type: "events.dropped", severity: "high", data: { events: 1, batches: 1 } });
});

test("a restart drains the spool an earlier run left, and removes half-written files", async () => {
  const cp = await controlPlane();
  await cp.stop();
  const dir = spoolDir();
  const first = await forwarder({ url: cp.url, spoolDir: dir, closeTimeoutMs: 200 });
  const events = [1, 2].map(ev);
  for (const e of events) first.emit(e);
  await first.close(); // unreachable: nothing acknowledged is lost, it stays on disk
  expect(batchFiles(dir)).toHaveLength(1);
  const crashed = join(dir, ".tmp-000000000099-1-gw-test-crashed.json");
  writeFileSync(crashed, '{"batchId":"gw-te');
  utimesSync(crashed, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));

  await cp.start();
  const second = await forwarder({ url: cp.url, spoolDir: dir });
  await until("the earlier batch", () => cp.stored.size === 1 && batchFiles(dir).length === 0);
  expect(cp.storedEvents().map((e) => e.id)).toEqual(events.map((e) => e.id));
  expect(readdirSync(dir)).toEqual([]);
  expect(second.stats().deliveredEvents).toBe(2);
});

test("a spool that cannot be written keeps batches in memory, and counts them lost only if they never leave", async () => {
  const cp = await controlPlane();
  const dir = spoolDir();
  const f = await forwarder({ url: cp.url, spoolDir: dir, closeTimeoutMs: 200 });
  // What ENOSPC looks like to the forwarder: every write fails. (A file where the directory was.)
  rmSync(dir, { recursive: true });
  writeFileSync(dir, "");
  const logged = logLines.length;
  f.emit(ev(1));
  await f.flush();
  await until("delivered from memory", () => cp.stored.size === 1);
  expect(f.stats().droppedEvents).toBe(0);

  await cp.stop();
  f.emit(ev(2));
  await f.close();
  expect(f.stats().droppedEvents).toBe(1);
  const log = logLines.slice(logged).join("");
  expect(log).toContain("cannot write to the event spool");
  expect(log).toContain("the spool cannot be written at shutdown");
  expect(existsSync(dir)).toBe(true);
});

test("two processes sharing a spool directory (gateway workers) send an earlier run's batches, losing none", async () => {
  const cp = await controlPlane();
  await cp.stop();
  const dir = spoolDir();
  const earlier = await forwarder({ url: cp.url, spoolDir: dir, batchMaxEvents: 1, closeTimeoutMs: 100 });
  const events = [1, 2, 3, 4].map(ev);
  for (const e of events) earlier.emit(e);
  await earlier.close();
  expect(batchFiles(dir)).toHaveLength(4);

  await cp.start();
  const logged = logLines.length;
  const workers = await Promise.all([1, 2].map(() => forwarder({ url: cp.url, spoolDir: dir })));
  await until("the spool drained", () => cp.stored.size === 4 && batchFiles(dir).length === 0);
  // Either may send a batch; the server stores each batch id once, and nothing counts as lost.
  expect(new Set(cp.storedEvents().map((e) => e.id))).toEqual(new Set(events.map((e) => e.id)));
  expect(workers.map((w) => w.stats().droppedEvents)).toEqual([0, 0]);
  expect(logLines.slice(logged).join("")).not.toContain("dropped");
});

test("a token no HTTP header can carry is refused at start, without showing it", async () => {
  const bad = `${token}\n`;
  const opening = createEventForwarder({
    url: "http://127.0.0.1:9",
    token: bad,
    spoolDir: spoolDir(),
    source: "x",
  });
  await expect(opening).rejects.toThrow(
    "ingest token: must be printable ASCII without spaces or line breaks",
  );
  await expect(opening).rejects.not.toThrow(token);
});

test("a plain-http control plane is refused unless it is on loopback: the token would travel in the clear", async () => {
  const dir = spoolDir();
  await expect(forwarder({ url: "http://rampart.example.com", spoolDir: dir })).rejects.toThrow(
    "control plane URL: would send the ingest token unencrypted: use https://",
  );
  const local = await forwarder({ url: "http://127.0.0.1:9", spoolDir: dir });
  await local.close();
});
