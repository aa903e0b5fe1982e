// OpenTelemetry logs over OTLP/HTTP (JSON encoding, POST {endpoint}/v1/logs). The OTel SDK builds
// the LogRecords and its exporter speaks the protocol (and retries 429/5xx within `timeoutMs`);
// queueing stays ours: the SDK's BatchLogRecordProcessor drops a batch whose export failed and
// drops past its queue without telling anyone, where export here keeps, retries and counts.
import { hostname as osHostname } from "node:os";
import type { AnyValue, Attributes, HrTime } from "@opentelemetry/api";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  LoggerProvider,
  type LogRecordProcessor,
  type ReadableLogRecord,
  type ReadWriteLogRecord,
} from "@opentelemetry/sdk-logs";
import type { SecurityEvent, Severity } from "../../platform/events/index.ts";
import type { Sink } from "./exporter.ts";
import type { OtlpExporterConfig } from "./schema.ts";

/** Severity number and text per the OpenTelemetry log data model's ranges. */
export const otelSeverity: Record<Severity, { number: number; text: string }> = {
  info: { number: 9, text: "INFO" },
  low: { number: 10, text: "INFO2" },
  medium: { number: 13, text: "WARN" },
  high: { number: 17, text: "ERROR" },
  critical: { number: 21, text: "FATAL" },
};

const MAX_DEPTH = 8;

/** `data` flattened to attributes under `prefix`: nested objects by dotted keys, other values as OTel allows. */
export function flattenData(data: Record<string, unknown>, prefix = "rampart.data"): Attributes {
  const out: Attributes = {};
  const walk = (value: unknown, key: string, depth: number) => {
    if (value === null || value === undefined) return;
    if (typeof value === "string" || typeof value === "boolean") out[key] = value;
    else if (typeof value === "number") out[key] = Number.isFinite(value) ? value : String(value);
    else if (typeof value === "bigint") out[key] = value.toString();
    else if (Array.isArray(value)) {
      // OTel attribute arrays are homogeneous primitives; anything else travels as JSON.
      const kinds = new Set(value.map((v) => typeof v));
      const homogeneous =
        kinds.size <= 1 && [...kinds].every((k) => k === "string" || k === "number" || k === "boolean");
      out[key] = homogeneous ? (value as string[]) : safeJson(value);
    } else if (typeof value === "object") {
      if (depth >= MAX_DEPTH) {
        out[key] = safeJson(value);
        return;
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>))
        walk(v, `${key}.${k}`, depth + 1);
    } else out[key] = String(value);
  };
  for (const [k, v] of Object.entries(data)) walk(v, `${prefix}.${k}`, 1);
  return out;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x)) ?? "null";
  } catch {
    return "[unserializable]";
  }
}

// Nanosecond-exact event time: Date keeps only milliseconds.
function hrTime(time: string): HrTime | undefined {
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) return undefined;
  const frac = /\.(\d+)(?:Z|[+-]\d\d:\d\d)$/i.exec(time)?.[1] ?? "";
  return [Math.floor(ms / 1000), Number(frac.slice(0, 9).padEnd(9, "0"))];
}

function summary(e: SecurityEvent): string {
  for (const k of ["summary", "message", "reason"]) {
    const v = e.data[k];
    if (typeof v === "string" && v !== "") return v;
  }
  const target = e.target ? ` on ${e.target.kind}:${e.target.id}` : "";
  return `${e.outcome} by ${e.actor.kind}:${e.actor.id}${target}`;
}

/** The OTel LogRecord fields for an event (`sensitive` never enters them). */
export function logRecordOf(e: SecurityEvent): {
  eventName: string;
  timestamp?: HrTime;
  severityNumber: number;
  severityText: string;
  body: AnyValue;
  attributes: Attributes;
} {
  const sev = otelSeverity[e.severity];
  const attributes: Attributes = {
    "rampart.event.id": e.id,
    "event.name": e.type,
    "rampart.severity": e.severity,
    "rampart.outcome": e.outcome,
    "rampart.retention": e.retention,
    "rampart.actor.kind": e.actor.kind,
    "rampart.actor.id": e.actor.id,
    ...(e.target ? { "rampart.target.kind": e.target.kind, "rampart.target.id": e.target.id } : {}),
    ...(e.source !== undefined ? { "rampart.source": e.source } : {}),
    ...flattenData(e.data),
  };
  const ts = hrTime(e.time);
  return {
    eventName: e.type,
    ...(ts ? { timestamp: ts } : {}),
    severityNumber: sev.number,
    severityText: sev.text,
    body: `${e.type}: ${summary(e)}`,
    attributes,
  };
}

/** An OTLP/HTTP sink for one exporter's settings. */
export function createOtlpSink(cfg: OtlpExporterConfig): Sink {
  // Records reach processors synchronously from `emit`; this one hands them to `send`.
  let captured: ReadableLogRecord[] = [];
  const capture: LogRecordProcessor = {
    onEmit: (r: ReadWriteLogRecord) => void captured.push(r as unknown as ReadableLogRecord),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({
      "service.name": "rampart",
      "service.instance.id": cfg.serviceInstanceId ?? osHostname(),
    }),
    // The SDK keeps 128 attributes by default; flattened data may carry more.
    logRecordLimits: { attributeCountLimit: 512, attributeValueLengthLimit: 65_536 },
    processors: [capture],
  });
  const logger = provider.getLogger("rampart.siem");
  const exporter = new OTLPLogExporter({
    url: `${cfg.endpoint.replace(/\/+$/, "")}/v1/logs`,
    headers: { ...cfg.headers },
    timeoutMillis: cfg.timeoutMs,
  });
  const where = new URL(cfg.endpoint).host; // never the headers: they hold credentials

  return {
    async send(events) {
      captured = [];
      for (const e of events) logger.emit(logRecordOf(e));
      const records = captured;
      captured = [];
      await new Promise<void>((resolve, reject) => {
        exporter.export(records, (result) => {
          if (result.code === 0) return resolve();
          const status = (result.error as { code?: unknown } | undefined)?.code;
          const err = new Error(
            `OTLP export to ${where} failed${typeof status === "number" ? `: HTTP ${status}` : ""}`,
          );
          // A 4xx other than 408/429 will fail the same way again: give the batch up rather than block the queue.
          const permanent =
            typeof status === "number" && status >= 400 && status < 500 && status !== 408 && status !== 429;
          reject(Object.assign(err, { permanent }));
        });
      });
    },
    async close() {
      await exporter.shutdown();
      await provider.shutdown();
    },
  };
}
