import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { newEvent, type SecurityEvent, severities } from "../../platform/events/index.ts";
import { parseRfc5424, splitOctetFrames } from "../../../test/support/siem-receivers.ts";
import { exportedEvent } from "./schema.ts";
import { formatSyslog, octetFrame, type SyslogFormat } from "./syslog.ts";

const format: SyslogFormat = { facility: 16, hostname: "rampart-1", enterpriseId: 32473 };
const at = new Date("2026-11-23T08:00:00.000Z");

// What a PARAM-VALUE becomes: UTF-8 cannot hold a lone surrogate, and controls are replaced.
// eslint-disable-next-line no-control-regex
const asParam = (s: string) => s.toWellFormed().replace(/[\x00-\x1f\x7f]/g, "\ufffd");

const hostile = fc.oneof(
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.constantFrom(
    "a]b",
    'quote"d',
    "back\\slash",
    "\\]",
    '"]"',
    "line\nbreak\r\n",
    "12 <34>1 - - - - -",
    "\ufeffbom",
    "\ud800",
    "é中文🔥",
    " ",
    "\u0000",
  ),
);

const eventArb: fc.Arbitrary<SecurityEvent> = fc
  .record({
    type: fc.oneof(
      fc.stringMatching(/^[a-z][a-z0-9_]{0,20}(\.[a-z][a-z0-9_]{0,20}){1,3}$/),
      hostile.filter((s) => s.length > 0),
    ),
    severity: fc.constantFrom(...severities),
    outcome: fc.constantFrom("success", "failure", "denied", "error", "unknown" as const),
    actorKind: fc.stringMatching(/^[a-z][a-z0-9_-]{0,31}$/),
    actorId: hostile.filter((s) => s.length > 0),
    target: fc.option(fc.record({ kind: fc.constant("route"), id: hostile.filter((s) => s.length > 0) }), {
      nil: undefined,
    }),
    source: fc.option(hostile, { nil: undefined }),
    data: fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(hostile, fc.integer(), fc.boolean())),
    time: fc.date({
      min: new Date("2000-01-01T00:00:00Z"),
      max: new Date("2099-12-31T23:59:59Z"),
      noInvalidDate: true,
    }),
  })
  .map((r) =>
    newEvent(
      {
        type: r.type,
        severity: r.severity,
        outcome: r.outcome,
        actor: { kind: r.actorKind, id: r.actorId },
        ...(r.target ? { target: r.target } : {}),
        ...(r.source !== undefined ? { source: r.source } : {}),
        data: r.data,
        sensitive: { password: "S3CRET-VALUE-never-sent", apiKey: "rk_live_never_sent" },
        time: r.time.toISOString(),
      },
      at,
    ),
  );

describe("RFC 5424 formatter", () => {
  it("formats the documented fields", () => {
    const e = newEvent(
      {
        type: "gateway.waf_blocked",
        severity: "high",
        outcome: "denied",
        actor: { kind: "ip", id: "203.0.113.9" },
        target: { kind: "route", id: "billing" },
        source: "gw-1",
        data: { rule: 942100, note: 'say "hi" ]' },
        time: "2026-11-23T08:00:00.123Z",
        id: "evt-0001-abcd",
      },
      at,
    );
    const text = formatSyslog(e, format).toString("utf8");
    expect(text).toBe(
      '<131>1 2026-11-23T08:00:00.123Z rampart-1 rampart - gateway.waf_blocked [rampart@32473 id="evt-0001-abcd" ' +
        'type="gateway.waf_blocked" severity="high" outcome="denied" actor="ip:203.0.113.9" target="route:billing" source="gw-1"] ' +
        `\ufeff${JSON.stringify(exportedEvent(e))}`,
    );
    const p = parseRfc5424(formatSyslog(e, format));
    expect(p).toMatchObject({
      facility: 16,
      severity: 3,
      appName: "rampart",
      procId: "-",
      msgId: "gateway.waf_blocked",
    });
  });

  it("maps event severities to syslog severities", () => {
    const expected = { critical: 2, high: 3, medium: 4, low: 5, info: 6 };
    for (const s of severities) {
      const e = newEvent({ type: "a.b", severity: s, actor: { kind: "user", id: "u" } }, at);
      expect(parseRfc5424(formatSyslog(e, { ...format, facility: 10 }))).toMatchObject({
        facility: 10,
        severity: expected[s],
        pri: 80 + expected[s],
      });
    }
  });

  it("writes the event time in UTC with at most six fractional digits", () => {
    const e = newEvent(
      { type: "a.b", actor: { kind: "user", id: "u" }, time: "2026-01-02T03:04:05.123456789+05:30" },
      at,
    );
    expect(parseRfc5424(formatSyslog(e, format)).timestamp).toBe("2026-01-01T21:34:05.123456Z");
    const whole = newEvent(
      { type: "a.b", actor: { kind: "user", id: "u" }, time: "2026-01-02T03:04:05Z" },
      at,
    );
    expect(parseRfc5424(formatSyslog(whole, format)).timestamp).toBe("2026-01-02T03:04:05Z");
  });

  it("truncates a long type to a 32-character MSGID and keeps it whole in the SD", () => {
    const type = `a.${"b".repeat(60)}`;
    const p = parseRfc5424(formatSyslog(newEvent({ type, actor: { kind: "user", id: "u" } }, at), format));
    expect(p.msgId).toBe(type.slice(0, 32));
    expect(p.sd?.["rampart@32473"]?.type).toBe(type);
  });

  it("property: every message parses back strictly, with the event's fields and without sensitive values", () => {
    fc.assert(
      fc.property(
        eventArb,
        fc.constantFrom(0, 4, 10, 16, 23),
        fc.integer({ min: 1, max: 4_294_967_295 }),
        (e, facility, pen) => {
          const bytes = formatSyslog(e, { facility, hostname: "host é 1", enterpriseId: pen });
          const p = parseRfc5424(bytes);
          expect(p.facility).toBe(facility);
          expect(p.version).toBe(1);
          expect(p.hostname).toBe("host___1");
          expect(p.msgId).toMatch(/^[\x21-\x7e]{1,32}$/);
          expect(Date.parse(p.timestamp)).toBe(Date.parse(e.time));
          const sd = p.sd?.[`rampart@${pen}`];
          expect(sd).toEqual({
            id: asParam(e.id),
            type: asParam(e.type),
            severity: e.severity,
            outcome: e.outcome,
            actor: asParam(`${e.actor.kind}:${e.actor.id}`),
            ...(e.target ? { target: asParam(`${e.target.kind}:${e.target.id}`) } : {}),
            ...(e.source !== undefined ? { source: asParam(e.source) } : {}),
          });
          expect(p.bom).toBe(true);
          expect(JSON.parse(p.msg)).toEqual(JSON.parse(JSON.stringify(exportedEvent(e))));
          const text = bytes.toString("utf8");
          expect(text).not.toContain("S3CRET-VALUE");
          expect(text).not.toContain("rk_live");
          expect(text).not.toContain("sensitive");
          // One message, one line: nothing in it can end a record for a newline-splitting receiver.
          expect(bytes.includes(0x0a)).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("property: octet-counted frames split back into the same messages at any chunk boundary", () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (events, cuts) => {
          const messages = events.map((e) => formatSyslog(e, format));
          const stream = Buffer.concat(messages.map(octetFrame));
          const points = [...new Set(cuts.map((c) => c % stream.length))].sort((a, b) => a - b);
          let pending = Buffer.alloc(0);
          const got: Buffer[] = [];
          let from = 0;
          for (const to of [...points, stream.length]) {
            pending = Buffer.concat([pending, stream.subarray(from, to)]);
            from = to;
            const r = splitOctetFrames(pending);
            got.push(...r.frames.map((f) => Buffer.from(f)));
            pending = Buffer.from(r.rest);
          }
          expect(pending.length).toBe(0);
          expect(got).toEqual(messages);
          for (const m of got) parseRfc5424(m);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("a 64 KiB hostile value travels whole inside one frame", () => {
    const big = `]"\\\n${"x".repeat(32 * 1024)}中🔥`.repeat(2);
    const e = newEvent({ type: "secrets.read", actor: { kind: "user", id: big }, data: { blob: big } }, at);
    const frame = octetFrame(formatSyslog(e, format));
    const { frames, rest } = splitOctetFrames(frame);
    expect(rest.length).toBe(0);
    const p = parseRfc5424(frames[0] as Buffer);
    expect(p.sd?.["rampart@32473"]?.actor).toBe(asParam(`user:${big}`));
    expect((JSON.parse(p.msg) as { data: { blob: string } }).data.blob).toBe(big);
  });

  it("the strict parser refuses what RFC 5424 forbids", () => {
    const bad = [
      "<192>1 - h a - m -",
      "<01>1 - h a - m -",
      "<13>1 2026-13-01T00:00:00Z h a - m -",
      "<13>1 2026-01-01T00:00:00.1234567Z h a - m -",
      "<13>1 - h a - m [x y]",
      '<13>1 - h a - m [x y="a]b"]',
      '<13>1 - h a - m [x@1 a="b"',
      `<13>1 - h a - ${"m".repeat(33)} -`,
      "<13>1 - h\u00e9 a - m -",
    ];
    for (const b of bad) expect(() => parseRfc5424(Buffer.from(b, "utf8")), b).toThrow(/RFC 5424/);
    expect(parseRfc5424(Buffer.from('<13>1 - h a - m [x@1 a="b\\]c\\"d\\\\e\\n"] hi'))).toMatchObject({
      sd: { "x@1": { a: 'b]c"d\\e\\n' } },
      msg: "hi",
    });
  });
});
