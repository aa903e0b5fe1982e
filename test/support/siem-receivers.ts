// Local receivers that follow what real SIEM inputs accept: an RFC 5425/6587 syslog receiver
// (octet-counted frames over TCP or TLS) with a strict RFC 5424 parser written from the ABNF,
// independent of Rampart's formatter; a newline-delimited JSON receiver (Fluent Bit in_tcp,
// Vector socket); an OTLP/HTTP logs receiver decoding the OTLP JSON encoding.
import { createServer as createHttpServer, type IncomingHttpHeaders } from "node:http";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { createServer as createTlsServer } from "node:tls";
import type { AddressInfo } from "node:net";

export interface ParsedSyslog {
  pri: number;
  facility: number;
  severity: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  /** SD-ID → PARAM-NAME → unescaped value; null for a NILVALUE STRUCTURED-DATA. */
  sd: Record<string, Record<string, string>> | null;
  bom: boolean;
  msg: string;
}

const SP = 0x20;
// ignoreBOM: a BOM inside a value is data; the one before MSG is stripped by the parser itself.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Parses one SYSLOG-MSG strictly by RFC 5424's ABNF; throws on the first violation. */
export function parseRfc5424(buf: Buffer): ParsedSyslog {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`RFC 5424 violation at octet ${i}: ${what}`);
  };
  const expect = (byte: number, what: string) => {
    if (buf[i] !== byte) fail(`expected ${what}`);
    i++;
  };
  // A token of PRINTUSASCII (%d33-126) up to the next SP, 1..max octets.
  const token = (max: number, what: string): string => {
    const start = i;
    while (i < buf.length && buf[i] !== SP) {
      const c = buf[i] as number;
      if (c < 33 || c > 126) fail(`${what}: octet ${c} is not PRINTUSASCII`);
      i++;
    }
    const n = i - start;
    if (n < 1 || n > max) fail(`${what}: ${n} octets (1..${max})`);
    return buf.toString("ascii", start, i);
  };

  expect(0x3c, "'<'");
  const priStart = i;
  while (i < buf.length && buf[i] !== 0x3e) {
    if ((buf[i] as number) < 0x30 || (buf[i] as number) > 0x39) fail("PRIVAL digit");
    i++;
  }
  const priText = buf.toString("ascii", priStart, i);
  if (priText.length < 1 || priText.length > 3 || (priText.length > 1 && priText.startsWith("0")))
    fail("PRIVAL of 1..3 digits");
  const pri = Number(priText);
  if (pri > 191) fail("PRIVAL > 191");
  expect(0x3e, "'>'");
  const versionText = token(3, "VERSION");
  if (!/^[1-9][0-9]{0,2}$/.test(versionText)) fail("VERSION");
  expect(SP, "SP after VERSION");
  const timestamp = token(64, "TIMESTAMP");
  if (
    timestamp !== "-" &&
    !/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/.test(
      timestamp,
    )
  )
    fail(`TIMESTAMP ${timestamp}`);
  expect(SP, "SP after TIMESTAMP");
  const hostname = token(255, "HOSTNAME");
  expect(SP, "SP after HOSTNAME");
  const appName = token(48, "APP-NAME");
  expect(SP, "SP after APP-NAME");
  const procId = token(128, "PROCID");
  expect(SP, "SP after PROCID");
  const msgId = token(32, "MSGID");
  expect(SP, "SP after MSGID");

  // SD-NAME: 1..32 PRINTUSASCII except '=', SP, ']', '"'.
  const sdName = (what: string): string => {
    const start = i;
    while (i < buf.length) {
      const c = buf[i] as number;
      if (c === 0x3d || c === SP || c === 0x5d || c === 0x22) break;
      if (c < 33 || c > 126) fail(`${what}: octet ${c}`);
      i++;
    }
    const n = i - start;
    if (n < 1 || n > 32) fail(`${what}: ${n} octets (1..32)`);
    return buf.toString("ascii", start, i);
  };

  let sd: ParsedSyslog["sd"] = null;
  if (buf[i] === 0x2d) {
    i++;
  } else {
    sd = {};
    if (buf[i] !== 0x5b) fail("STRUCTURED-DATA: '[' or '-'");
    while (buf[i] === 0x5b) {
      i++;
      const id = sdName("SD-ID");
      if (id in sd) fail(`SD-ID ${id} repeated`);
      const params: Record<string, string> = {};
      while (buf[i] === SP) {
        i++;
        const name = sdName("PARAM-NAME");
        expect(0x3d, "'='");
        expect(0x22, "'\"'");
        const bytes: number[] = [];
        for (;;) {
          if (i >= buf.length) fail("unterminated PARAM-VALUE");
          const c = buf[i] as number;
          if (c === 0x22) break;
          if (c === 0x5d) fail("unescaped ']' in PARAM-VALUE");
          if (c === 0x5c) {
            const next = buf[i + 1];
            if (next === 0x22 || next === 0x5c || next === 0x5d) {
              bytes.push(next);
              i += 2;
              continue;
            }
          }
          bytes.push(c);
          i++;
        }
        i++;
        try {
          params[name] = utf8.decode(Uint8Array.from(bytes));
        } catch {
          fail(`PARAM-VALUE ${name} is not UTF-8`);
        }
      }
      expect(0x5d, "']'");
      sd[id] = params;
    }
  }
  let bom = false;
  let msg = "";
  if (i < buf.length) {
    expect(SP, "SP before MSG");
    bom = buf[i] === 0xef && buf[i + 1] === 0xbb && buf[i + 2] === 0xbf;
    const body = buf.subarray(bom ? i + 3 : i);
    if (bom) {
      try {
        msg = utf8.decode(body);
      } catch {
        fail("MSG-UTF8 is not UTF-8");
      }
    } else msg = body.toString("latin1");
  }
  return {
    pri,
    facility: Math.floor(pri / 8),
    severity: pri % 8,
    version: Number(versionText),
    timestamp,
    hostname,
    appName,
    procId,
    msgId,
    sd,
    bom,
    msg,
  };
}

/** Splits RFC 6587 octet-counted frames; returns the frames and the unconsumed rest. Throws on bad framing. */
export function splitOctetFrames(buf: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let i = 0;
  for (;;) {
    const sp = buf.indexOf(SP, i);
    if (sp < 0) {
      if (buf.length - i > 10) throw new Error("MSG-LEN too long");
      break;
    }
    const lenText = buf.toString("ascii", i, sp);
    if (!/^[1-9][0-9]{0,9}$/.test(lenText)) throw new Error(`bad MSG-LEN ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    if (buf.length < sp + 1 + len) break;
    frames.push(buf.subarray(sp + 1, sp + 1 + len));
    i = sp + 1 + len;
  }
  return { frames, rest: buf.subarray(i) };
}

interface Collecting {
  waitFor(n: number, timeoutMs?: number): Promise<void>;
}

function collector(count: () => number, what: string, errors: string[]): Collecting {
  return {
    async waitFor(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (count() < n) {
        if (Date.now() > deadline)
          throw new Error(
            `${what}: ${count()} of ${n} arrived in ${timeoutMs} ms; errors: ${errors.join("; ")}`,
          );
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

async function listen(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

function tracked(server: Server, secure: boolean, onSocket: (s: Socket) => void) {
  const sockets = new Set<Socket>();
  server.on(secure ? "secureConnection" : "connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    onSocket(s);
  });
  return {
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ReceiverTls {
  certFile: string;
  keyFile: string;
}

export interface SyslogReceiver extends Collecting {
  port: number;
  messages: ParsedSyslog[];
  /** Raw frames, as received. */
  frames: Buffer[];
  /** Framing or parse violations (a conforming sender causes none). */
  errors: string[];
  /** TLS handshakes the receiver saw fail. */
  tlsErrors: string[];
  close(): Promise<void>;
}

/** A syslog receiver over TCP, or TLS when `tls` is given; `port` 0 picks one. */
export async function startSyslogReceiver(
  o: { tls?: ReceiverTls; port?: number } = {},
): Promise<SyslogReceiver> {
  const messages: ParsedSyslog[] = [];
  const frames: Buffer[] = [];
  const errors: string[] = [];
  const tlsErrors: string[] = [];
  const server = o.tls
    ? createTlsServer({ cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile) })
    : createTcpServer();
  if (o.tls) server.on("tlsClientError", (err: Error) => tlsErrors.push(err.message));
  const t = tracked(server, o.tls !== undefined, (s) => {
    let pending = Buffer.alloc(0);
    s.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      try {
        const { frames: got, rest } = splitOctetFrames(pending);
        pending = Buffer.from(rest);
        for (const f of got) {
          frames.push(Buffer.from(f));
          try {
            messages.push(parseRfc5424(f));
          } catch (err) {
            errors.push((err as Error).message);
          }
        }
      } catch (err) {
        errors.push((err as Error).message);
        s.destroy();
      }
    });
  });
  const port = await listen(server, o.port ?? 0);
  return {
    port,
    messages,
    frames,
    errors,
    tlsErrors,
    ...collector(() => messages.length, "syslog", errors),
    ...t,
  };
}

export interface JsonLinesReceiver extends Collecting {
  port: number;
  lines: unknown[];
  errors: string[];
  close(): Promise<void>;
}

/** Newline-delimited JSON over TCP, as Fluent Bit's in_tcp (format json) and Vector's socket source read it. */
export async function startJsonLinesReceiver(o: { port?: number } = {}): Promise<JsonLinesReceiver> {
  const lines: unknown[] = [];
  const errors: string[] = [];
  const server = createTcpServer();
  const t = tracked(server, false, (s) => {
    let pending = "";
    s.setEncoding("utf8");
    s.on("data", (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        try {
          lines.push(JSON.parse(line));
        } catch {
          errors.push(`not JSON: ${line.slice(0, 80)}`);
        }
      }
    });
  });
  const port = await listen(server, o.port ?? 0);
  return { port, lines, errors, ...collector(() => lines.length, "json lines", errors), ...t };
}

export interface OtlpLogRecord {
  resource: Record<string, unknown>;
  scope: string;
  timeUnixNano: string;
  observedTimeUnixNano?: string;
  severityNumber: number;
  severityText: string;
  eventName?: string;
  body: unknown;
  attributes: Record<string, unknown>;
}

export interface OtlpReceiver extends Collecting {
  url: string;
  port: number;
  records: OtlpLogRecord[];
  requests: { path: string; headers: IncomingHttpHeaders; contentType: string }[];
  errors: string[];
  /** The next responses' status and headers (e.g. 503, or 429 with Retry-After); default 200. */
  respond: { status: number; headers?: Record<string, string> };
  close(): Promise<void>;
}

// OTLP JSON AnyValue → plain value (intValue travels as a decimal string).
function anyValue(v: Record<string, unknown> | undefined): unknown {
  if (!v) return undefined;
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("bytesValue" in v) return v.bytesValue;
  if ("arrayValue" in v)
    return ((v.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map((x) => anyValue(x));
  if ("kvlistValue" in v) return attributes((v.kvlistValue as { values?: KeyValue[] }).values);
  return undefined;
}
interface KeyValue {
  key: string;
  value?: Record<string, unknown>;
}
function attributes(kvs: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((kvs ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
}

/** An OTLP/HTTP receiver for logs on `/v1/logs`, JSON encoding. */
export async function startOtlpReceiver(o: { port?: number } = {}): Promise<OtlpReceiver> {
  const records: OtlpLogRecord[] = [];
  const requests: OtlpReceiver["requests"] = [];
  const errors: string[] = [];
  const state: { respond: OtlpReceiver["respond"] } = { respond: { status: 200 } };
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const contentType = req.headers["content-type"] ?? "";
      requests.push({ path: req.url ?? "", headers: req.headers, contentType });
      const { status, headers } = state.respond;
      if (req.method !== "POST" || req.url !== "/v1/logs") {
        res.writeHead(404).end();
        return;
      }
      if (status !== 200) {
        res.writeHead(status, { "content-type": "application/json", ...headers }).end("{}");
        return;
      }
      if (!contentType.startsWith("application/json")) {
        errors.push(`content-type ${contentType}`);
        res.writeHead(415).end();
        return;
      }
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          resourceLogs?: {
            resource?: { attributes?: KeyValue[] };
            scopeLogs?: { scope?: { name?: string }; logRecords?: Record<string, unknown>[] }[];
          }[];
        };
        for (const rl of body.resourceLogs ?? []) {
          const resource = attributes(rl.resource?.attributes);
          for (const sl of rl.scopeLogs ?? []) {
            for (const r of sl.logRecords ?? []) {
              records.push({
                resource,
                scope: sl.scope?.name ?? "",
                timeUnixNano: String(r.timeUnixNano),
                ...(r.observedTimeUnixNano ? { observedTimeUnixNano: String(r.observedTimeUnixNano) } : {}),
                severityNumber: Number(r.severityNumber),
                severityText: String(r.severityText),
                ...(r.eventName ? { eventName: String(r.eventName) } : {}),
                body: anyValue(r.body as Record<string, unknown>),
                attributes: attributes(r.attributes as KeyValue[]),
              });
            }
          }
        }
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      } catch (err) {
        errors.push(`bad body: ${(err as Error).message}`);
        res.writeHead(400).end();
      }
    });
  });
  const port = await listen(server as unknown as Server, o.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    records,
    requests,
    errors,
    get respond() {
      return state.respond;
    },
    set respond(v) {
      state.respond = v;
    },
    ...collector(() => records.length, "otlp", errors),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
