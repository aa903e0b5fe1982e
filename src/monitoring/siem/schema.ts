// The `siem:` section of rampart.yaml, and the form in which an event leaves Rampart for a SIEM.
import { z } from "zod";
import { type SecurityEvent, severities } from "../../platform/events/index.ts";

// References resolve to strings, so a string of digits counts as a number: `port: ${env:PORT}`.
const digitsToNumber = (value: unknown) =>
  typeof value === "string" && /^[0-9]{1,15}(\.[0-9]{1,6})?$/.test(value) ? Number(value) : value;
const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(digitsToNumber, z.number().int().min(min).max(max));
const port = () => integer(1, 65_535);

/** Syslog facilities by name (RFC 5424 table 1). */
export const syslogFacilities = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  audit: 13,
  alert: 14,
  clock: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type SyslogFacility = keyof typeof syslogFacilities;

const facilityNames = Object.keys(syslogFacilities) as [SyslogFacility, ...SyslogFacility[]];

export const siemTlsSchema = z.strictObject({
  /** PEM bundle of the CA(s) that signed the receiver's certificate; absent: the system's CAs. */
  caFile: z.string().min(1).optional(),
  /** Client certificate and key, for receivers that require mutual TLS. */
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
  /** Refuse a receiver whose certificate does not verify (the default; turn off only in a lab). */
  rejectUnauthorized: z.boolean().default(true),
  /** Name to verify in the receiver's certificate when it differs from `host`. */
  servername: z.string().min(1).optional(),
});

const typePattern = z
  .string()
  .regex(
    /^(\*|[a-z][a-z0-9_]*(\.([a-z][a-z0-9_]*|\*))*)$/,
    "expected an event type or a pattern such as 'gateway.*'",
  );

// Settings every exporter shares: what it sends and how much it keeps while the receiver is away.
const common = {
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "expected a lower-case name such as 'soc-syslog'"),
  /** Event types to send (`*` matches any characters); absent: every type. */
  types: z.array(typePattern).min(1).optional(),
  /** Least severity to send; absent: every event. */
  minSeverity: z.enum(severities).optional(),
  /** Events kept in memory while the receiver is unreachable; the oldest are dropped (and counted) past it. */
  queueEvents: integer(1, 10_000_000).default(50_000),
  /** Events per write or request. */
  batchEvents: integer(1, 100_000).default(500),
};

const streamTarget = {
  host: z.string().min(1),
  port: port(),
};

export const syslogExporterSchema = z
  .strictObject({
    ...common,
    type: z.literal("syslog"),
    /** tcp and tls use RFC 6587 octet counting (RFC 5425 for tls); udp sends one message per datagram (RFC 5426). */
    transport: z.enum(["tcp", "tls", "udp"]),
    ...streamTarget,
    tls: siemTlsSchema.optional(),
    facility: z.enum(facilityNames).default("local0"),
    /** The private enterprise number in the SD-ID `rampart@<n>`; 32473 is the documentation number of RFC 5612. */
    enterpriseId: integer(1, 4_294_967_295).default(32473),
    /** HOSTNAME field; absent: this machine's host name. */
    hostname: z.string().min(1).max(255).optional(),
    /** Largest UDP datagram: a bigger message is sent without its `data`. */
    maxDatagramBytes: integer(480, 65_507).default(8192),
  })
  .refine((e) => e.transport === "tls" || e.tls === undefined, {
    message: "tls settings need transport: tls",
    path: ["tls"],
  });

export const jsonlExporterSchema = z.discriminatedUnion("transport", [
  z.strictObject({
    ...common,
    type: z.literal("jsonl"),
    /** Fluent Bit `in_tcp` (format json) or Vector `socket` (newline_delimited). */
    transport: z.literal("tcp"),
    ...streamTarget,
  }),
  z.strictObject({
    ...common,
    type: z.literal("jsonl"),
    transport: z.literal("tls"),
    ...streamTarget,
    tls: siemTlsSchema.default({ rejectUnauthorized: true }),
  }),
  z.strictObject({
    ...common,
    type: z.literal("jsonl"),
    /** Appended to a file that an agent tails. */
    transport: z.literal("file"),
    path: z.string().min(1),
    /** Rotate when the file would grow past this many MiB (fractions allowed). */
    maxSizeMb: z.preprocess(digitsToNumber, z.number().positive().max(1_000_000)).default(100),
    /** Rotated files kept beside the live one (`events.jsonl.1` … `.keep`). */
    keep: integer(0, 1000).default(5),
  }),
]);

export const otlpExporterSchema = z.strictObject({
  ...common,
  type: z.literal("otlp"),
  /** The collector's base URL; logs are POSTed to `{endpoint}/v1/logs`. */
  endpoint: z.string().refine((v) => {
    if (!URL.canParse(v)) return false;
    const u = new URL(v);
    return (u.protocol === "http:" || u.protocol === "https:") && u.host !== "" && u.search === "";
  }, "expected an http(s) URL without a query"),
  /** Request headers, e.g. authorization: write `${secret:…}`; they are never logged. */
  headers: z
    .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "expected an HTTP header name"), z.string())
    .default({}),
  /** service.instance.id of the resource; absent: this machine's host name. */
  serviceInstanceId: z.string().min(1).optional(),
  /** Time one export may take, the library's own retries of 429/5xx included. */
  timeoutMs: integer(100, 600_000).default(10_000),
});

export const siemExporterSchema = z.discriminatedUnion("type", [
  syslogExporterSchema,
  jsonlExporterSchema,
  otlpExporterSchema,
]);

export const siemConfigSchema = z
  .strictObject({
    exporters: z.array(siemExporterSchema).default([]),
  })
  .refine((c) => new Set(c.exporters.map((e) => e.name)).size === c.exporters.length, {
    message: "exporter names must be unique",
    path: ["exporters"],
  });

export type SiemConfig = z.infer<typeof siemConfigSchema>;
export type SiemExporterConfig = z.infer<typeof siemExporterSchema>;
export type SyslogExporterConfig = z.infer<typeof syslogExporterSchema>;
export type JsonlExporterConfig = z.infer<typeof jsonlExporterSchema>;
export type OtlpExporterConfig = z.infer<typeof otlpExporterSchema>;
export type SiemTlsConfig = z.infer<typeof siemTlsSchema>;

/**
 * An event as it leaves Rampart: `sensitive` and `personal` are dropped whole, keys and values
 * alike (a SIEM keeps copies that an erasure could never reach).
 */
export type ExportedEvent = Omit<SecurityEvent, "sensitive" | "personal">;

/** The event without `sensitive` and `personal`. */
export function exportedEvent(e: SecurityEvent): ExportedEvent {
  const { sensitive: _sensitive, personal: _personal, ...rest } = e;
  return rest;
}

/**
 * JSON of the exported event. Never throws: a `data` that JSON cannot hold (a cycle) is replaced,
 * since one unserialisable event must not block every event queued behind it.
 */
export function eventJson(e: SecurityEvent): string {
  const out = exportedEvent(e);
  try {
    return JSON.stringify(out, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  } catch {
    return JSON.stringify({ ...out, data: { unserializable: true } });
  }
}
