// SIEM export against local receivers that follow the real inputs' contracts: syslog over TCP and
// TLS (RFC 5425/6587, parsed strictly by RFC 5424), JSON lines over TCP, OTLP/HTTP logs (JSON).
import { createSocket } from "node:dgram";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newEvent, type SecurityEvent, type Severity } from "../src/platform/events/index.ts";
import {
  createSiemExport,
  type SiemConfig,
  siemConfigSchema,
  type SiemExport,
} from "../src/monitoring/siem/index.ts";
import { issueCertificate } from "./support/certificates.ts";
import { freePort } from "./support/services.ts";
import {
  parseRfc5424,
  startJsonLinesReceiver,
  startOtlpReceiver,
  startSyslogReceiver,
  type SyslogReceiver,
} from "./support/siem-receivers.ts";

const logger = pino({ level: "silent" });
const SECRET = "hunter2-S3CRET-value";
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rampart-siem-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function event(i: number, o: { type?: string; severity?: Severity } = {}): SecurityEvent {
  return newEvent(
    {
      type: o.type ?? "gateway.waf_blocked",
      severity: o.severity ?? "high",
      outcome: "denied",
      actor: { kind: "ip", id: `203.0.113.${i % 250}` },
      target: { kind: "route", id: "billing" },
      source: "gw-1",
      data: { seq: i, rule: { id: 942100, tags: ["sqli", "owasp"] }, path: '/x?q="]\n' },
      sensitive: { token: SECRET },
      time: `2026-11-23T08:00:${String(i % 60).padStart(2, "0")}.123456Z`,
    },
    new Date(),
  );
}

function exportTo(exporters: unknown[], extra: { registry?: Registry } = {}): SiemExport {
  const config = siemConfigSchema.parse({ exporters });
  return createSiemExport({
    config: () => config,
    logger,
    retry: { minMs: 50, maxMs: 200 },
    connectTimeoutMs: 1000,
    ...extra,
  });
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function metric(registry: Registry, name: string, exporter: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return Number(m?.values.find((v) => v.labels.exporter === exporter)?.value ?? 0);
}

describe("syslog", () => {
  it("delivers RFC 5424 messages over TCP that parse into the event's fields, without sensitive values", async () => {
    const rx = await startSyslogReceiver();
    const siem = exportTo([
      {
        name: "soc",
        type: "syslog",
        transport: "tcp",
        host: "127.0.0.1",
        port: rx.port,
        hostname: "rampart-a",
      },
    ]);
    try {
      const events = [event(1), event(2, { severity: "critical" }), event(3, { severity: "info" })];
      siem.handle(events);
      await rx.waitFor(3);
      expect(rx.errors).toEqual([]);
      const [first] = rx.messages;
      expect(first).toMatchObject({
        facility: 16,
        severity: 3,
        version: 1,
        timestamp: "2026-11-23T08:00:01.123456Z",
        hostname: "rampart-a",
        appName: "rampart",
        procId: "-",
        msgId: "gateway.waf_blocked",
        bom: true,
        sd: {
          "rampart@32473": {
            id: events[0]?.id,
            type: "gateway.waf_blocked",
            severity: "high",
            outcome: "denied",
            actor: "ip:203.0.113.1",
            target: "route:billing",
            source: "gw-1",
          },
        },
      });
      expect(rx.messages.map((m) => m.severity)).toEqual([3, 2, 6]);
      const body = JSON.parse(first?.msg ?? "") as Record<string, unknown>;
      expect(body).toMatchObject({ id: events[0]?.id, data: { seq: 1, path: '/x?q="]\n' } });
      expect(body).not.toHaveProperty("sensitive");
      expect(Buffer.concat(rx.frames).includes(SECRET)).toBe(false);
      await siem.flush();
      expect(siem.stats()).toEqual([
        { name: "soc", type: "syslog", queued: 0, exported: 3, dropped: 0, healthy: true },
      ]);
    } finally {
      await siem.close();
      await rx.close();
    }
  });

  it("over TLS: trusts the configured CA, and refuses a receiver whose certificate it does not", async () => {
    const ca = issueCertificate(dir, "siem-ca", { cn: "SIEM test CA" });
    const good = issueCertificate(dir, "siem-good", {
      cn: "siem.local",
      san: ["DNS:localhost", "IP:127.0.0.1"],
      ca,
      leaf: true,
    });
    const rogue = issueCertificate(dir, "siem-rogue", {
      cn: "rogue",
      san: ["DNS:localhost", "IP:127.0.0.1"],
      leaf: true,
    });
    const rx = await startSyslogReceiver({ tls: good });
    const bad = await startSyslogReceiver({ tls: rogue });
    const tls = { caFile: ca.certFile };
    const siem = exportTo([
      {
        name: "soc-tls",
        type: "syslog",
        transport: "tls",
        host: "localhost",
        port: rx.port,
        tls,
        enterpriseId: 4242,
      },
      { name: "rogue", type: "syslog", transport: "tls", host: "localhost", port: bad.port, tls },
    ]);
    try {
      siem.handle([event(7)]);
      await rx.waitFor(1);
      expect(rx.messages[0]?.sd?.["rampart@4242"]?.actor).toBe("ip:203.0.113.7");
      await until(() => siem.stats().find((s) => s.name === "rogue")?.healthy === false, "rogue refused");
      const rogueStats = siem.stats().find((s) => s.name === "rogue");
      expect(rogueStats).toMatchObject({ exported: 0, queued: 1 });
      expect(rogueStats?.lastError).toMatch(/certificate/i);
      expect(bad.messages).toEqual([]);
    } finally {
      await siem.close();
      await rx.close();
      await bad.close();
    }
  });

  it("queues while the receiver is down and resends when it is back", async () => {
    const port = await freePort();
    const registry = new Registry();
    const siem = exportTo([{ name: "soc", type: "syslog", transport: "tcp", host: "127.0.0.1", port }], {
      registry,
    });
    let rx: SyslogReceiver | undefined;
    try {
      siem.handle([event(1), event(2)]);
      await until(() => siem.stats()[0]?.healthy === false, "the failure to be noticed");
      siem.handle([event(3)]);
      expect(siem.stats()[0]).toMatchObject({ queued: 3, exported: 0, dropped: 0 });
      expect(await metric(registry, "rampart_siem_queue_events", "soc")).toBe(3);
      rx = await startSyslogReceiver({ port });
      await rx.waitFor(3);
      expect(rx.messages.map((m) => (JSON.parse(m.msg) as { data: { seq: number } }).data.seq)).toEqual([
        1, 2, 3,
      ]);
      await until(() => siem.stats()[0]?.healthy === true, "recovery");
      expect(await metric(registry, "rampart_siem_exported_total", "soc")).toBe(3);
    } finally {
      await siem.close();
      await rx?.close();
    }
  });

  it("reconnects when an established receiver goes away and comes back", async () => {
    let rx = await startSyslogReceiver();
    const port = rx.port;
    const siem = exportTo([{ name: "soc", type: "syslog", transport: "tcp", host: "127.0.0.1", port }]);
    try {
      siem.handle([event(1)]);
      await rx.waitFor(1);
      await rx.close();
      // The sender learns of the close from the peer's FIN; what it writes after that is queued, not lost.
      await new Promise((r) => setTimeout(r, 100));
      siem.handle([event(2), event(3)]);
      await until(() => siem.stats()[0]?.healthy === false, "the failure to be noticed");
      rx = await startSyslogReceiver({ port });
      await rx.waitFor(2);
      expect(rx.messages.map((m) => (JSON.parse(m.msg) as { data: { seq: number } }).data.seq)).toEqual([
        2, 3,
      ]);
    } finally {
      await siem.close();
      await rx.close();
    }
  });

  it("keeps only the newest events up to the bound while the receiver is away, and counts the rest", async () => {
    const port = await freePort();
    const registry = new Registry();
    const siem = exportTo(
      [
        {
          name: "soc",
          type: "syslog",
          transport: "tcp",
          host: "127.0.0.1",
          port,
          queueEvents: 10,
          batchEvents: 4,
        },
      ],
      { registry },
    );
    let rx: SyslogReceiver | undefined;
    try {
      siem.handle([event(0)]);
      await until(() => siem.stats()[0]?.healthy === false, "the failure to be noticed");
      for (let i = 1; i < 25; i++) siem.handle([event(i)]);
      expect(siem.stats()[0]).toMatchObject({ queued: 10, dropped: 15 });
      expect(await metric(registry, "rampart_siem_dropped_total", "soc")).toBe(15);
      rx = await startSyslogReceiver({ port });
      await rx.waitFor(10);
      await siem.flush();
      expect(rx.messages.map((m) => (JSON.parse(m.msg) as { data: { seq: number } }).data.seq)).toEqual([
        15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
      ]);
      expect(siem.stats()[0]).toMatchObject({ queued: 0, exported: 10, dropped: 15 });
    } finally {
      await siem.close();
      await rx?.close();
    }
  });

  it("over UDP: one message per datagram; one too large travels without its data", async () => {
    const rx = createSocket("udp4");
    const got: Buffer[] = [];
    rx.on("message", (m) => got.push(m));
    await new Promise<void>((resolve) => rx.bind(0, "127.0.0.1", () => resolve()));
    const siem = exportTo([
      {
        name: "udp",
        type: "syslog",
        transport: "udp",
        host: "127.0.0.1",
        port: rx.address().port,
        maxDatagramBytes: 2048,
      },
    ]);
    try {
      const big = newEvent(
        { type: "secrets.read", actor: { kind: "user", id: "u" }, data: { blob: "x".repeat(5000) } },
        new Date(),
      );
      siem.handle([event(1), big]);
      await until(() => got.length === 2, "two datagrams");
      const [small, large] = got.map((b) => parseRfc5424(b));
      expect(JSON.parse(small?.msg ?? "")).toMatchObject({ data: { seq: 1 } });
      expect(JSON.parse(large?.msg ?? "")).toMatchObject({
        id: big.id,
        data: { omitted: "too large for a datagram" },
      });
      expect(got[1]?.length).toBeLessThanOrEqual(2048);
    } finally {
      await siem.close();
      rx.close();
    }
  });

  it("sends only the configured types at or above the minimum severity", async () => {
    const rx = await startSyslogReceiver();
    const siem = exportTo([
      {
        name: "soc",
        type: "syslog",
        transport: "tcp",
        host: "127.0.0.1",
        port: rx.port,
        types: ["gateway.*", "secrets.read"],
        minSeverity: "medium",
      },
    ]);
    try {
      siem.handle([
        event(1, { type: "gateway.waf_blocked", severity: "high" }),
        event(2, { type: "gateway.waf_blocked", severity: "low" }),
        event(3, { type: "secrets.read", severity: "medium" }),
        event(4, { type: "secrets.rotated", severity: "critical" }),
        event(5, { type: "identity.login_failed", severity: "critical" }),
        event(6, { type: "gateway.route.lockdown", severity: "critical" }),
      ]);
      await siem.flush();
      await rx.waitFor(3);
      expect(rx.messages.map((m) => m.msgId)).toEqual([
        "gateway.waf_blocked",
        "secrets.read",
        "gateway.route.lockdown",
      ]);
    } finally {
      await siem.close();
      await rx.close();
    }
  });
});

describe("JSON lines", () => {
  it("streams one JSON object per line over TCP, the event without sensitive", async () => {
    const rx = await startJsonLinesReceiver();
    const siem = exportTo([
      { name: "vector", type: "jsonl", transport: "tcp", host: "127.0.0.1", port: rx.port },
    ]);
    try {
      const events = Array.from({ length: 1200 }, (_, i) => event(i));
      siem.handle(events);
      await rx.waitFor(1200);
      expect(rx.errors).toEqual([]);
      const { sensitive: _s, ...expected } = events[0] as SecurityEvent;
      expect(rx.lines[0]).toEqual(expected);
      expect(JSON.stringify(rx.lines)).not.toContain(SECRET);
      expect(rx.lines.map((l) => (l as { data: { seq: number } }).data.seq)).toEqual(events.map((_, i) => i));
    } finally {
      await siem.close();
      await rx.close();
    }
  });

  it("appends to a file and rotates it at the size limit, keeping K files", async () => {
    const path = join(dir, "tail", "events.jsonl");
    // 4 KiB per file; each line is ~600 bytes.
    const siem = exportTo([
      { name: "tail", type: "jsonl", transport: "file", path, maxSizeMb: 4 / 1024, keep: 2, batchEvents: 7 },
    ]);
    try {
      for (let i = 0; i < 60; i++) siem.handle([event(i)]);
      await siem.flush();
      const files = (await readdir(join(dir, "tail"))).sort();
      expect(files).toEqual(["events.jsonl", "events.jsonl.1", "events.jsonl.2"]);
      const seqs: number[][] = [];
      for (const f of ["events.jsonl.2", "events.jsonl.1", "events.jsonl"]) {
        const text = await readFile(join(dir, "tail", f), "utf8");
        expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
        expect(text.endsWith("\n")).toBe(true);
        expect(text).not.toContain(SECRET);
        seqs.push(
          text
            .trimEnd()
            .split("\n")
            .map((l) => (JSON.parse(l) as { data: { seq: number } }).data.seq),
        );
      }
      const all = seqs.flat();
      // Consecutive and ending with the last event: older files were rotated away whole.
      expect(all.at(-1)).toBe(59);
      expect(all).toEqual(Array.from({ length: all.length }, (_, k) => 60 - all.length + k));
      expect(siem.stats()[0]).toMatchObject({ exported: 60, dropped: 0 });
    } finally {
      await siem.close();
    }
  });
});

describe("OpenTelemetry logs (OTLP/HTTP)", () => {
  it("posts LogRecords with mapped severity, attributes and resource; headers reach the collector", async () => {
    const rx = await startOtlpReceiver();
    const siem = exportTo([
      {
        name: "otel",
        type: "otlp",
        endpoint: rx.url,
        headers: { authorization: "Bearer otlp-token-123" },
        serviceInstanceId: "rampart-eu-1",
      },
    ]);
    try {
      const severities: Severity[] = ["info", "low", "medium", "high", "critical"];
      const events = severities.map((s, i) => event(i, { severity: s }));
      siem.handle(events);
      await rx.waitFor(5);
      expect(rx.errors).toEqual([]);
      expect(rx.requests[0]).toMatchObject({ path: "/v1/logs", contentType: "application/json" });
      expect(rx.requests[0]?.headers.authorization).toBe("Bearer otlp-token-123");
      expect(rx.records.map((r) => [r.severityNumber, r.severityText])).toEqual([
        [9, "INFO"],
        [10, "INFO2"],
        [13, "WARN"],
        [17, "ERROR"],
        [21, "FATAL"],
      ]);
      const r = rx.records[1];
      expect(r?.resource).toMatchObject({ "service.name": "rampart", "service.instance.id": "rampart-eu-1" });
      expect(r?.timeUnixNano).toBe(
        String(BigInt(Date.parse("2026-11-23T08:00:01Z")) * 1_000_000n + 123_456_000n),
      );
      expect(r?.body).toBe("gateway.waf_blocked: denied by ip:203.0.113.1 on route:billing");
      expect(r?.attributes).toEqual({
        "rampart.event.id": events[1]?.id,
        "event.name": "gateway.waf_blocked",
        "rampart.severity": "low",
        "rampart.outcome": "denied",
        "rampart.retention": "security",
        "rampart.actor.kind": "ip",
        "rampart.actor.id": "203.0.113.1",
        "rampart.target.kind": "route",
        "rampart.target.id": "billing",
        "rampart.source": "gw-1",
        "rampart.data.seq": 1,
        "rampart.data.rule.id": 942100,
        "rampart.data.rule.tags": ["sqli", "owasp"],
        "rampart.data.path": '/x?q="]\n',
      });
      expect(JSON.stringify(rx.records)).not.toContain(SECRET);
    } finally {
      await siem.close();
      await rx.close();
    }
  });

  it("retries a 503 and resends after the collector recovers; a 400 batch is dropped and counted", async () => {
    const rx = await startOtlpReceiver();
    rx.respond = { status: 503 };
    const registry = new Registry();
    const siem = exportTo([{ name: "otel", type: "otlp", endpoint: rx.url, timeoutMs: 300 }], { registry });
    try {
      siem.handle([event(1), event(2)]);
      await until(() => siem.stats()[0]?.healthy === false, "the 503 to be noticed");
      expect(siem.stats()[0]).toMatchObject({ queued: 2, exported: 0 });
      expect(siem.stats()[0]?.lastError).toMatch(/HTTP 503|failed/);
      rx.respond = { status: 200 };
      await rx.waitFor(2);
      await until(() => siem.stats()[0]?.exported === 2, "export");
      rx.respond = { status: 400 };
      siem.handle([event(3)]);
      await until(() => siem.stats()[0]?.dropped === 1, "the refused batch to be dropped");
      expect(siem.stats()[0]).toMatchObject({ queued: 0, exported: 2, dropped: 1 });
      expect(await metric(registry, "rampart_siem_dropped_total", "otel")).toBe(1);
    } finally {
      await siem.close();
      await rx.close();
    }
  });
});

describe("OTLP throttling", () => {
  it("honours a 429 Retry-After within the export timeout", async () => {
    const rx = await startOtlpReceiver();
    rx.respond = { status: 429, headers: { "retry-after": "1" } };
    const siem = exportTo([{ name: "otel", type: "otlp", endpoint: rx.url, timeoutMs: 5000 }]);
    try {
      siem.handle([event(1)]);
      await until(() => rx.requests.length === 1, "the first request");
      const first = Date.now();
      rx.respond = { status: 200 };
      await rx.waitFor(1);
      expect(Date.now() - first).toBeGreaterThanOrEqual(800);
      expect(rx.requests).toHaveLength(2);
      await until(() => siem.stats()[0]?.exported === 1, "the export to complete");
      expect(siem.stats()[0]).toMatchObject({ exported: 1, healthy: true, dropped: 0 });
    } finally {
      await siem.close();
      await rx.close();
    }
  });
});

describe("configuration", () => {
  it("rejects what it cannot use, with the place it is wrong", () => {
    const issues = (v: unknown) =>
      siemConfigSchema.safeParse(v).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(
      issues({ exporters: [{ name: "x", type: "syslog", transport: "tcp", host: "h", port: 0 }] })?.[0],
    ).toMatch(/^exporters.0.port/);
    expect(issues({ exporters: [{ name: "x", type: "otlp", endpoint: "ftp://c" }] })?.[0]).toMatch(
      /^exporters.0/,
    );
    expect(
      issues({
        exporters: [
          { name: "a", type: "jsonl", transport: "file", path: "/tmp/a" },
          { name: "a", type: "jsonl", transport: "file", path: "/tmp/b" },
        ],
      }),
    ).toEqual(["exporters: exporter names must be unique"]);
    expect(
      issues({
        exporters: [{ name: "x", type: "syslog", transport: "tcp", host: "h", port: 1, facility: "local9" }],
      })?.[0],
    ).toMatch(/facility/);
  });

  it("a reloaded config adds and removes exporters while events flow", async () => {
    const a = await startJsonLinesReceiver();
    const b = await startJsonLinesReceiver();
    const parse = (ports: number[]): SiemConfig =>
      siemConfigSchema.parse({
        exporters: ports.map((port, i) => ({
          name: `x${i}-${port}`,
          type: "jsonl",
          transport: "tcp",
          host: "127.0.0.1",
          port,
        })),
      });
    let current = parse([a.port]);
    const siem = createSiemExport({ config: () => current, logger, retry: { minMs: 50, maxMs: 200 } });
    try {
      siem.handle([event(1)]);
      await a.waitFor(1);
      current = parse([b.port]);
      siem.handle([event(2)]);
      await b.waitFor(1);
      await siem.flush();
      expect(a.lines).toHaveLength(1);
      expect(siem.stats().map((s) => s.name)).toEqual([`x0-${b.port}`]);
    } finally {
      await siem.close();
      await a.close();
      await b.close();
    }
  });
});
