import { describe, expect, it } from "vitest";
import { createMasker, newMaskingSecret } from "./masking.ts";

describe("masking", () => {
  const secret = newMaskingSecret();
  const m = createMasker(secret);

  it("masks a value the same way twice within one request, and differently in another", () => {
    const a = m.mask("ana@example.com", { strategy: "hmac" });
    expect(a).toBe(m.mask("ana@example.com", { strategy: "hmac" }));
    expect(a).not.toContain("ana");
    expect(createMasker(newMaskingSecret()).mask("ana@example.com", { strategy: "hmac" })).not.toBe(a);
    expect(m.mask("ana@example.com", { strategy: "hash" })).toBe(
      m.mask("ana@example.com", { strategy: "hash" }),
    );
  });

  it("keeps integers integers and cuts strings to the column length", () => {
    const n = m.mask(42, { strategy: "hmac" }, { dataType: "integer" });
    expect(Number.isSafeInteger(n)).toBe(true);
    expect(m.mask(42, { strategy: "hmac" }, { dataType: "integer" })).toBe(n);
    expect(String(m.mask("Ana Lima", { strategy: "hmac" }, { length: 10 }))).toHaveLength(10);
  });

  it("tokenises reversibly with AES-GCM, deterministically, and refuses a tampered token", () => {
    const t = String(m.mask("+91 98765 43210", { strategy: "aes_encrypt" }));
    expect(t).toBe(m.mask("+91 98765 43210", { strategy: "aes_encrypt" }));
    expect(m.detokenise(t)).toBe("+91 98765 43210");
    const bad = t.slice(0, -2) + (t.endsWith("A") ? "BB" : "AA");
    expect(() => m.detokenise(bad)).toThrow(/does not open/);
    expect(() => createMasker(newMaskingSecret()).detokenise(t)).toThrow(/does not open/);
  });

  it("nulls, rewrites, randomises, keeps nulls and masks array elements", () => {
    expect(m.mask("x", { strategy: "null_rewrite" })).toBeNull();
    expect(m.mask("x", { strategy: "string_rewrite" })).toBe("REDACTED");
    expect(m.mask("x", { strategy: "string_rewrite", configuration: { rewrite_value: "MASKED" } })).toBe(
      "MASKED",
    );
    expect(
      String(m.mask("x", { strategy: "random_string_rewrite", configuration: { length: 12 } })),
    ).toHaveLength(12);
    expect(m.mask(null, { strategy: "hmac" })).toBeNull();
    const arr = m.mask(["a", "b"], { strategy: "string_rewrite" });
    expect(arr).toEqual(["REDACTED", "REDACTED"]);
    expect(m.mask({ a: 1 }, { strategy: "hmac" })).toBeNull();
  });
});
