import { describe, expect, it } from "vitest";
import { asTime, safeLocation, scrub, secretsOf, storeError, valueAt, withoutQuoted } from "./shared.ts";

describe("connector helpers", () => {
  it("strip credentials from locations and messages", () => {
    expect(safeLocation("postgres://app:hunter2@db.internal:5432/crm?sslmode=require")).toBe(
      "postgres://db.internal:5432/crm",
    );
    const secrets = secretsOf("redis://:hunter2%40x@r:6379", {
      apiKey: "abcd1234",
      connectTimeoutMs: "5000",
    });
    expect(secrets).toContain("hunter2@x");
    expect(secrets).not.toContain("5000");
    expect(scrub("auth hunter2@x failed at redis://u:x@r and key abcd1234", secrets)).toBe(
      "auth *** failed at redis://***@r and key ***",
    );
  });

  it("withholds quoted values from statement errors", () => {
    expect(withoutQuoted('invalid input syntax for type integer: "ana@example.com"')).toBe(
      'invalid input syntax for type integer: "…"',
    );
    const err = Object.assign(new Error("Incorrect integer value: 'ana@x' for column `id`"), {
      code: "ER_X",
    });
    const out = storeError({ type: "mysql", url: "mysql://u:pw@h/db", secrets: ["pw"] }, err);
    expect(out.message).toBe(
      'mysql store at mysql://h/db failed [ER_X]: Incorrect integer value: "…" for column "…"',
    );
  });

  it("reads nested values and timestamps", () => {
    expect(valueAt({ a: [{ b: 1 }, { b: [2, 3] }] }, "a.b")).toEqual([1, 2, 3]);
    expect(asTime("2020-01-01T00:00:00Z")?.toISOString()).toBe("2020-01-01T00:00:00.000Z");
    expect(asTime(1_577_836_800)?.toISOString()).toBe("2020-01-01T00:00:00.000Z");
    expect(asTime(1_577_836_800_000)?.toISOString()).toBe("2020-01-01T00:00:00.000Z");
    expect(asTime("nope")).toBeUndefined();
  });
});
