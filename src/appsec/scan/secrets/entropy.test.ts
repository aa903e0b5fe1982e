import { describe, expect, it } from "vitest";
import { isPlaceholder } from "./entropy.ts";

describe("isPlaceholder", () => {
  it("flags what people write in place of a secret", () => {
    for (const value of [
      "AKIAIOSFODNN7EXAMPLE",
      "<your-account-key>",
      "${DB_PASSWORD}",
      "{{ .Values.token }}",
      "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
      "test-api-key-1234",
      "my_fake_key_9f8e7d",
      "mock.token.value",
      "xxxx-xxxx-xxxx",
      "AKIAXXXXXXXXXXXXXXXX",
      "0000abcd9f8e",
      "changeme-please",
    ])
      expect(isPlaceholder(value), value).toBe(true);
  });

  it("does not drop a random key in which a short word appears by chance", () => {
    // A real Azure storage key that happens to spell "TeSt" in the middle is still a key.
    expect(isPlaceholder("kR3vQ9wLm2Zp7Xc1Bn5Hy8q8TeStXzJd4Fg6Vt0Ws3Ea9Ku2Oi7Pl5Mn1Qb8Rc==")).toBe(false);
    for (const word of ["fake", "MOCK", "your", "xxxx", "aaaa", "0000", "1111"])
      expect(isPlaceholder(`Zq81Hd${word}Jw92Lm`), word).toBe(false);
  });
});
