// Syslog export: RFC 5424 messages, octet-counted (RFC 6587) over TCP or TLS (RFC 5425), or one
// per UDP datagram (RFC 5426). The formatter is written by hand: it is a line format, and every
// field that comes from an event is reduced to what its ABNF allows so no event can break framing.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { readFile } from "node:fs/promises";
import { isIP, type Socket, connect as tcpConnect } from "node:net";
import { hostname as osHostname } from "node:os";
import { connect as tlsConnect } from "node:tls";
import type { SecurityEvent, Severity } from "../../platform/events/index.ts";
import type { Sink } from "./exporter.ts";
import { eventJson, type SiemTlsConfig, syslogFacilities, type SyslogExporterConfig } from "./schema.ts";

/** Syslog severity of each event severity (RFC 5424 table 2). */
export const syslogSeverity: Record<Severity, number> = {
  critical: 2,
  high: 3,
  medium: 4,
  low: 5,
  info: 6,
};

export interface SyslogFormat {
  /** Facility code 0..23. */
  facility: number;
  hostname: string;
  enterpriseId: number;
  /** Leave `data` out of MSG (for datagrams that would be too large). */
  withoutData?: boolean;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const NIL = "-";

// PRINTUSASCII is %d33-126: anything else (space, controls, non-ASCII) becomes '_'.
function printable(s: string, max: number): string {
  const out = s.replace(/[^\x21-\x7e]/g, "_").slice(0, max);
  return out === "" ? NIL : out;
}

// PARAM-VALUE: '"', '\' and ']' escaped (RFC 5424 6.3.3). Control characters are legal UTF-8 but
// receivers that split on newlines or log to terminals mishandle them, and MSG carries the exact
// value anyway, so they become U+FFFD here.
function paramValue(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\\"\]]/g, (c) => `\\${c}`).replace(/[\x00-\x1f\x7f]/g, "\ufffd");
}

// TIMESTAMP: RFC 3339 with at most 6 fractional digits; the event time in UTC.
function timestamp(time: string): string {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(time);
  const ms = Date.parse(time);
  if (!m || Number.isNaN(ms)) return NIL;
  const whole = new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);
  const frac = (m[2] ?? "").slice(0, 6);
  // An offset other than Z only moves whole seconds, so the fraction carries over unchanged.
  return `${whole}${frac ? `.${frac}` : ""}Z`;
}

/** The RFC 5424 SYSLOG-MSG for an event: UTF-8, without framing. */
export function formatSyslog(e: SecurityEvent, f: SyslogFormat): Buffer {
  const pri = f.facility * 8 + syslogSeverity[e.severity];
  const header = [
    `<${pri}>1`,
    timestamp(e.time),
    printable(f.hostname, 255),
    "rampart",
    NIL,
    printable(e.type, 32),
  ].join(" ");
  const params: [string, string][] = [
    ["id", e.id],
    ["type", e.type],
    ["severity", e.severity],
    ["outcome", e.outcome],
    ["actor", `${e.actor.kind}:${e.actor.id}`],
  ];
  if (e.target) params.push(["target", `${e.target.kind}:${e.target.id}`]);
  if (e.source !== undefined) params.push(["source", e.source]);
  const sd = `[rampart@${f.enterpriseId}${params.map(([k, v]) => ` ${k}="${paramValue(v)}"`).join("")}]`;
  const msg = eventJson(f.withoutData ? { ...e, data: { omitted: "too large for a datagram" } } : e);
  return Buffer.concat([Buffer.from(`${header} ${sd} `, "utf8"), BOM, Buffer.from(msg, "utf8")]);
}

/** RFC 6587 octet counting: `MSG-LEN SP SYSLOG-MSG`. */
export function octetFrame(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, "ascii"), message]);
}

export interface StreamEndpoint {
  host: string;
  port: number;
  tls?: SiemTlsConfig | undefined;
  connectTimeoutMs?: number;
  /** A receiver that stops reading must not hold the queue forever. */
  writeTimeoutMs?: number;
}

export interface StreamTransport {
  /** Writes the bytes, connecting first if needed; rejects if the connection fails or is gone. */
  write(bytes: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** A TCP or TLS connection opened on first write and again after it breaks. */
export function openStreamTransport(ep: StreamEndpoint): StreamTransport {
  let socket: Socket | undefined;
  let closed = false;
  const where = `${ep.host}:${ep.port}`;

  async function connect(): Promise<Socket> {
    const tls = ep.tls;
    const options = tls
      ? {
          host: ep.host,
          port: ep.port,
          ...(isIP(ep.host) === 0 || tls.servername ? { servername: tls.servername ?? ep.host } : {}),
          ...(tls.caFile ? { ca: await readFile(tls.caFile) } : {}),
          ...(tls.certFile ? { cert: await readFile(tls.certFile) } : {}),
          ...(tls.keyFile ? { key: await readFile(tls.keyFile) } : {}),
          rejectUnauthorized: tls.rejectUnauthorized,
          minVersion: "TLSv1.2" as const,
        }
      : { host: ep.host, port: ep.port };
    return new Promise<Socket>((resolve, reject) => {
      const s = tls ? tlsConnect(options) : tcpConnect(options);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`cannot connect to ${where}: timed out`));
      }, ep.connectTimeoutMs ?? 5000);
      s.once(tls ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        s.removeAllListeners("error");
        s.on("error", () => s.destroy());
        s.on("close", () => {
          if (socket === s) socket = undefined;
        });
        // Receivers do not answer; whatever they send is read and discarded so the peer never blocks.
        s.on("data", () => {});
        s.setKeepAlive(true, 30_000);
        resolve(s);
      });
      s.once("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        s.destroy();
        reject(new Error(`cannot connect to ${where}: ${err.message}${err.code ? ` (${err.code})` : ""}`));
      });
    });
  }

  return {
    async write(bytes) {
      if (closed) throw new Error(`siem transport to ${where} is closed`);
      if (!socket || socket.destroyed || !socket.writable) socket = await connect();
      const s = socket;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          s.destroy();
          reject(new Error(`write to ${where} timed out`));
        }, ep.writeTimeoutMs ?? 30_000);
        s.write(bytes, (err) => {
          clearTimeout(timer);
          if (err) {
            s.destroy();
            reject(
              new Error(`write to ${where} failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`),
            );
          } else resolve();
        });
      });
    },
    async close() {
      closed = true;
      const s = socket;
      socket = undefined;
      if (!s || s.destroyed) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          s.destroy();
          resolve();
        }, 2000);
        s.end(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      s.destroy();
    },
  };
}

/** A syslog sink for one exporter's settings. */
export function createSyslogSink(
  cfg: SyslogExporterConfig,
  opts: { connectTimeoutMs?: number; writeTimeoutMs?: number } = {},
): Sink {
  const format: SyslogFormat = {
    facility: syslogFacilities[cfg.facility],
    hostname: cfg.hostname ?? osHostname(),
    enterpriseId: cfg.enterpriseId,
  };
  if (cfg.transport === "udp") return udpSink(cfg, format);
  const transport = openStreamTransport({
    host: cfg.host,
    port: cfg.port,
    tls: cfg.transport === "tls" ? (cfg.tls ?? { rejectUnauthorized: true }) : undefined,
    ...opts,
  });
  return {
    send: (events) => transport.write(Buffer.concat(events.map((e) => octetFrame(formatSyslog(e, format))))),
    close: () => transport.close(),
  };
}

function udpSink(cfg: SyslogExporterConfig, format: SyslogFormat): Sink {
  let socket: UdpSocket | undefined;
  const open = () => {
    if (socket) return socket;
    const s = createSocket(isIP(cfg.host) === 6 ? "udp6" : "udp4");
    s.on("error", () => {
      s.close();
      if (socket === s) socket = undefined;
    });
    s.unref();
    socket = s;
    return s;
  };
  const sendOne = (s: UdpSocket, bytes: Buffer) =>
    new Promise<void>((resolve, reject) =>
      s.send(bytes, cfg.port, cfg.host, (err) =>
        err
          ? reject(new Error(`syslog datagram to ${cfg.host}:${cfg.port} failed: ${err.message}`))
          : resolve(),
      ),
    );
  return {
    async send(events) {
      const s = open();
      for (const e of events) {
        let bytes = formatSyslog(e, format);
        if (bytes.length > cfg.maxDatagramBytes) bytes = formatSyslog(e, { ...format, withoutData: true });
        // RFC 5426 3.2: a receiver may truncate; we cut at the limit rather than have the datagram refused.
        await sendOne(s, bytes.subarray(0, cfg.maxDatagramBytes));
      }
    },
    async close() {
      const s = socket;
      socket = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
