import { describe, expect, it } from "vitest";
import { newEvent } from "../../platform/events/index.ts";
import { flattenData, logRecordOf } from "./otlp.ts";

describe("OTLP log records", () => {
  it("flatten nested data under rampart.data.*, keeping OTel-valid values", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(
      flattenData({
        a: { b: { c: 1 } },
        tags: ["x", "y"],
        mixed: [1, "two"],
        objs: [{ k: 1 }],
        big: 10n,
        none: null,
        nan: Number.NaN,
        cycle,
      }),
    ).toEqual({
      "rampart.data.a.b.c": 1,
      "rampart.data.tags": ["x", "y"],
      "rampart.data.mixed": '[1,"two"]',
      "rampart.data.objs": '[{"k":1}]',
      "rampart.data.big": "10",
      "rampart.data.nan": "NaN",
      "rampart.data.cycle.self.self.self.self.self.self.self": "[unserializable]",
    });
  });

  it("carry the event time to the nanosecond and never the sensitive values", () => {
    const e = newEvent({
      type: "secrets.read",
      severity: "medium",
      actor: { kind: "service", id: "billing" },
      time: "2026-11-23T08:00:00.123456789Z",
      data: { summary: "read /prod/db/password" },
      sensitive: { value: "pa55word" },
    });
    const r = logRecordOf(e);
    expect(r.timestamp).toEqual([Date.parse("2026-11-23T08:00:00Z") / 1000, 123_456_789]);
    expect(r).toMatchObject({ severityNumber: 13, severityText: "WARN", eventName: "secrets.read" });
    expect(r.body).toBe("secrets.read: read /prod/db/password");
    expect(JSON.stringify(r)).not.toContain("pa55word");
  });
});
