// JSON lines export for log shippers: one event per `\n`-terminated line, over TCP/TLS (Fluent Bit
// `in_tcp` with format json, Vector's `socket` source with newline_delimited framing) or appended to
// a size-rotated file for an agent that tails it. JSON escapes every control character, so a value
// cannot end a line early.
import { type FileHandle, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { SecurityEvent } from "../../platform/events/index.ts";
import type { Sink } from "./exporter.ts";
import { eventJson, type JsonlExporterConfig } from "./schema.ts";
import { openStreamTransport } from "./syslog.ts";

/** One line: the event without `sensitive`, then `\n`. */
export function jsonLine(e: SecurityEvent): string {
  return `${eventJson(e)}\n`;
}

/** A JSON-lines sink for one exporter's settings. */
export function createJsonlSink(
  cfg: JsonlExporterConfig,
  opts: { connectTimeoutMs?: number; writeTimeoutMs?: number } = {},
): Sink {
  if (cfg.transport === "file") return fileSink(cfg.path, Math.floor(cfg.maxSizeMb * 1024 * 1024), cfg.keep);
  const transport = openStreamTransport({
    host: cfg.host,
    port: cfg.port,
    tls: cfg.transport === "tls" ? cfg.tls : undefined,
    ...opts,
  });
  return {
    send: (events) => transport.write(Buffer.from(events.map(jsonLine).join(""), "utf8")),
    close: () => transport.close(),
  };
}

/**
 * Appends lines to `path`; before a write would take it past `maxBytes` the file is rotated like
 * logrotate's numbering: `path` → `path.1` → … → `path.keep`, the oldest removed. A single line
 * larger than `maxBytes` still gets a file of its own rather than being lost.
 */
export function fileSink(path: string, maxBytes: number, keep: number): Sink {
  let handle: FileHandle | undefined;
  let size = 0;

  async function ensureOpen(): Promise<FileHandle> {
    if (handle) return handle;
    await mkdir(dirname(path), { recursive: true });
    const h = await open(path, "a", 0o640);
    size = (await h.stat()).size;
    handle = h;
    return h;
  }

  async function rotate(): Promise<void> {
    await handle?.close();
    handle = undefined;
    if (keep === 0) {
      await rm(path, { force: true });
    } else {
      await rm(`${path}.${keep}`, { force: true });
      for (let i = keep - 1; i >= 1; i--) {
        if (await exists(`${path}.${i}`)) await rename(`${path}.${i}`, `${path}.${i + 1}`);
      }
      if (await exists(path)) await rename(path, `${path}.1`);
    }
  }

  async function append(chunk: Buffer[], bytes: number): Promise<void> {
    if (bytes === 0) return;
    const h = await ensureOpen();
    await h.writev(chunk);
    size += bytes;
  }

  return {
    async send(events) {
      await ensureOpen();
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      for (const e of events) {
        const line = Buffer.from(jsonLine(e), "utf8");
        if (size + chunkBytes + line.length > maxBytes && size + chunkBytes > 0) {
          await append(chunk, chunkBytes);
          chunk = [];
          chunkBytes = 0;
          await rotate();
          await ensureOpen();
        }
        chunk.push(line);
        chunkBytes += line.length;
      }
      await append(chunk, chunkBytes);
    },
    async close() {
      await handle?.close();
      handle = undefined;
    },
  };
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
