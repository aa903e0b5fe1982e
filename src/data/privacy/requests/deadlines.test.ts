import { describe, expect, it } from "vitest";
import { addMonths, daysLeft, reminderDue } from "./deadlines.ts";

const at = (s: string) => new Date(s);

describe("deadlines", () => {
  it("adds calendar months, clamping to the month's last day", () => {
    expect(addMonths(at("2026-01-31T10:00:00Z"), 1).toISOString()).toBe("2026-02-28T10:00:00.000Z");
    expect(addMonths(at("2028-01-31T10:00:00Z"), 1).toISOString()).toBe("2028-02-29T10:00:00.000Z");
    expect(addMonths(at("2026-03-15T00:00:00Z"), 1).toISOString()).toBe("2026-04-15T00:00:00.000Z");
    expect(addMonths(at("2026-11-30T00:00:00Z"), 3).toISOString()).toBe("2027-02-28T00:00:00.000Z");
  });

  it("counts days left rounding up", () => {
    expect(daysLeft(at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:01Z"))).toBe(2);
    expect(daysLeft(at("2026-01-03T00:00:00Z"), at("2026-01-02T00:00:00Z"))).toBe(0);
  });

  it("picks one reminder per threshold, the nearest when several were passed at once", () => {
    const due = at("2026-02-01T00:00:00Z");
    expect(reminderDue(at("2026-01-20T00:00:00Z"), due, [7, 1], [])).toBeUndefined();
    expect(reminderDue(at("2026-01-25T00:00:00Z"), due, [7, 1], [])).toEqual({
      label: "7d",
      days: 7,
      markSent: ["7d"],
    });
    expect(reminderDue(at("2026-01-26T00:00:00Z"), due, [7, 1], ["7d"])).toBeUndefined();
    expect(reminderDue(at("2026-01-31T06:00:00Z"), due, [7, 1], [])).toEqual({
      label: "1d",
      days: 1,
      markSent: ["7d", "1d"],
    });
    expect(reminderDue(at("2026-02-01T00:00:00Z"), due, [7, 1], [])).toBeUndefined();
  });
});
