import { describe, expect, test } from "vitest";
import { Invalid } from "../../platform/errors.ts";
import {
  addDuration,
  describeDuration,
  isIsoDuration,
  parseIsoDuration,
  requireIsoDuration,
  subtractDuration,
} from "./duration.ts";

describe("ISO 8601 durations", () => {
  test("parse what retention uses and refuse the rest", () => {
    expect(parseIsoDuration("P3Y")).toMatchObject({ years: 3, days: 0 });
    expect(parseIsoDuration("PT48H")).toMatchObject({ hours: 48 });
    expect(parseIsoDuration("P1Y6M2W3DT4H5M6.5S")).toEqual({
      years: 1,
      months: 6,
      weeks: 2,
      days: 3,
      hours: 4,
      minutes: 5,
      seconds: 6.5,
    });
    expect(requireIsoDuration("P1Y6M2W3DT4H5M6S", "p")).toEqual({
      years: 1,
      months: 6,
      weeks: 2,
      days: 3,
      hours: 4,
      minutes: 5,
      seconds: 6,
    });
    for (const bad of ["P", "PT", "3Y", "P3", "p3y", "P-1D", "P1DT", "P1H", ""]) {
      expect(parseIsoDuration(bad), bad).toBeUndefined();
      expect(isIsoDuration(bad), bad).toBe(false);
    }
    expect(isIsoDuration("P7Y")).toBe(true);
    expect(isIsoDuration("P0D")).toBe(true);
  });

  test("the throwing form refuses what is not a positive duration, naming where", () => {
    for (const bad of ["3Y", "P", "PT", "P0D", "P1H", "P-1Y", ""])
      expect(() => requireIsoDuration(bad, "retention.x.period", { positive: true })).toThrow(Invalid);
    expect(() => requireIsoDuration("3 years", "retention.x.period")).toThrow(
      /^retention\.x\.period: expected/,
    );
    expect(() => requireIsoDuration("P0D", "retention.x.period", { positive: true })).toThrow(
      /^retention\.x\.period: a zero duration/,
    );
    expect(requireIsoDuration("P0D", "p")).toMatchObject({ days: 0 });
    expect(requireIsoDuration(" P3Y ", "p")).toMatchObject({ years: 3 });
  });

  test("add on the calendar, and read as words", () => {
    const d = parseIsoDuration("P3Y");
    if (!d) throw new Error("P3Y");
    expect(addDuration(new Date("2023-01-15T10:00:00Z"), d).toISOString()).toBe("2026-01-15T10:00:00.000Z");
    expect(addDuration(new Date("2026-01-15T10:00:00Z"), d, -1).toISOString()).toBe(
      "2023-01-15T10:00:00.000Z",
    );
    const notice = parseIsoDuration("PT48H");
    if (!notice) throw new Error("PT48H");
    expect(addDuration(new Date("2026-03-01T00:00:00Z"), notice).toISOString()).toBe(
      "2026-03-03T00:00:00.000Z",
    );
    expect(describeDuration(d)).toBe("3 years");
    expect(describeDuration(notice)).toBe("48 hours");
    expect(describeDuration(requireIsoDuration("P1Y6M", "p"))).toBe("1 year 6 months");
    expect(describeDuration(requireIsoDuration("P0D", "p"))).toBe("0 seconds");
  });

  test("years and months are calendar units; the day clamps to the month's end", () => {
    const at = new Date("2028-02-29T10:00:00Z");
    const p = (text: string) => requireIsoDuration(text, "p");
    expect(addDuration(at, p("P1Y"), -1).toISOString()).toBe("2027-02-28T10:00:00.000Z");
    expect(addDuration(at, p("P3Y"), 1).toISOString()).toBe("2031-02-28T10:00:00.000Z");
    expect(addDuration(new Date("2026-03-31T00:00:00Z"), p("P1M"), -1).toISOString()).toBe(
      "2026-02-28T00:00:00.000Z",
    );
    expect(addDuration(at, p("PT48H"), 1).toISOString()).toBe("2028-03-02T10:00:00.000Z");
    expect(addDuration(at, p("P1W"), 1).toISOString()).toBe("2028-03-07T10:00:00.000Z");
  });

  test("a string is parsed on the way; subtract goes back", () => {
    const at = new Date("2026-05-10T00:00:00Z");
    expect(addDuration(at, "P1Y6M").toISOString()).toBe("2027-11-10T00:00:00.000Z");
    expect(subtractDuration(at, "P7Y").toISOString()).toBe("2019-05-10T00:00:00.000Z");
    expect(subtractDuration(new Date("2028-02-29T00:00:00Z"), "P1Y").toISOString()).toBe(
      "2027-02-28T00:00:00.000Z",
    );
    expect(() => addDuration(at, "7 years")).toThrow(Invalid);
  });
});
