// SIEM export: every event on the spine, to syslog (RFC 5424 over TCP/TLS/UDP), JSON lines
// (TCP/TLS or a rotated file) and OpenTelemetry logs (OTLP/HTTP). Best-effort: the audit log is the
// durable record.
export {
  createSiemExport,
  type SiemExport,
  type SiemExporterStats,
  type SiemExportOptions,
  type Sink,
  typeMatcher,
} from "./exporter.ts";
export { createJsonlSink, fileSink, jsonLine } from "./jsonl.ts";
export { createOtlpSink, flattenData, logRecordOf, otelSeverity } from "./otlp.ts";
export {
  eventJson,
  type ExportedEvent,
  exportedEvent,
  type JsonlExporterConfig,
  type OtlpExporterConfig,
  type SiemConfig,
  siemConfigSchema,
  type SiemExporterConfig,
  siemExporterSchema,
  type SiemTlsConfig,
  type SyslogExporterConfig,
  type SyslogFacility,
  syslogFacilities,
} from "./schema.ts";
export {
  createSyslogSink,
  formatSyslog,
  octetFrame,
  openStreamTransport,
  type StreamEndpoint,
  type StreamTransport,
  type SyslogFormat,
  syslogSeverity,
} from "./syslog.ts";
