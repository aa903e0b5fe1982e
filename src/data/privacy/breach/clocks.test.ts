import { describe, expect, test } from "vitest";
import { clockMetBy, clockState, reminderTimes, shortDuration } from "./clocks.ts";

const aware = new Date("2026-03-01T00:00:00Z");
const at = (h: number) => new Date(aware.getTime() + h * 3_600_000);

describe("breach clocks", () => {
  test("reminders at a share of the window and before the deadline, in time order", () => {
    expect(reminderTimes(aware, at(72), ["1h", "50%"]).map((r) => [r.offset, r.at.toISOString()])).toEqual([
      ["50%", "2026-03-02T12:00:00.000Z"],
      ["1h", "2026-03-03T23:00:00.000Z"],
    ]);
    // A reminder that would fall before awareness is dropped.
    expect(reminderTimes(aware, at(0.5), ["1h", "50%"]).map((r) => r.offset)).toEqual(["50%"]);
  });

  test("states: open, met on time, missed late or unmet, waived when stopped", () => {
    expect(clockState({ dueAt: at(6), metAt: null }, at(5), false)).toBe("open");
    expect(clockState({ dueAt: at(6), metAt: at(5) }, at(9), false)).toBe("met");
    expect(clockState({ dueAt: at(6), metAt: at(7) }, at(9), false)).toBe("missed");
    expect(clockState({ dueAt: at(6), metAt: null }, at(7), false)).toBe("missed");
    expect(clockState({ dueAt: at(6), metAt: null }, at(7), true)).toBe("waived");
  });

  test("which notification meets which clock", () => {
    expect(clockMetBy("gdpr", "authority")).toBe("gdpr.authority");
    expect(clockMetBy("gdpr", "subjects")).toBeUndefined();
    expect(clockMetBy("dpdp", "authority")).toBe("dpdp.board_intimation");
    expect(clockMetBy("dpdp", "authority_report")).toBe("dpdp.board_report");
    expect(clockMetBy("cert_in", "authority")).toBe("cert_in.report");
  });

  test("short durations", () => {
    expect(shortDuration(41 * 3_600_000 + 12 * 60_000)).toBe("41h 12m");
    expect(shortDuration(12 * 60_000)).toBe("12m");
    expect(shortDuration(80 * 3_600_000)).toBe("3d 8h");
  });
});
