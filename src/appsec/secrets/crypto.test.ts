// Envelope encryption of a version: any altered byte, any other path, version or KEK version fails
// to open with an error that names the path and version and never the value.
import { createSecretKey, randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { openVersion, rewrapDek, SecretIntegrityError, sealVersion } from "./crypto.ts";

const kek = createSecretKey(randomBytes(32));
const data = { password: "hunter2-Very-Secret", user: "app" };
const sealed = sealVersion(kek, 1, "/prod/db/main", 3, data);

function failure(fn: () => unknown): SecretIntegrityError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SecretIntegrityError);
    expect((err as Error).message).not.toContain("hunter2");
    return err as SecretIntegrityError;
  }
  throw new Error("expected an integrity failure");
}

const flip = (b: Buffer, at: number, mask: number) => {
  const copy = Buffer.from(b);
  copy[at] = (copy[at] as number) ^ mask;
  return copy;
};

describe("version envelope", () => {
  test("opens under the same KEK, path and version", () => {
    expect(openVersion(kek, 1, "/prod/db/main", 3, sealed)).toEqual(data);
    expect(sealed.ciphertext.includes(Buffer.from("hunter2"))).toBe(false);
  });

  test("each seal uses a fresh data key and nonce", () => {
    const again = sealVersion(kek, 1, "/prod/db/main", 3, data);
    expect(again.ciphertext.equals(sealed.ciphertext)).toBe(false);
    expect(again.wrappedDek.equals(sealed.wrappedDek)).toBe(false);
  });

  test("any flipped byte of the ciphertext or the wrapped data key fails", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 255 }), (inDek, pos, mask) => {
        const target = inDek ? sealed.wrappedDek : sealed.ciphertext;
        const at = pos % target.length;
        const altered = inDek
          ? { ...sealed, wrappedDek: flip(sealed.wrappedDek, at, mask) }
          : { ...sealed, ciphertext: flip(sealed.ciphertext, at, mask) };
        const err = failure(() => openVersion(kek, 1, "/prod/db/main", 3, altered));
        expect(err.message).toContain("version 3 of /prod/db/main failed its integrity check");
        expect(err.code).toBe("integrity");
      }),
      { numRuns: 300 },
    );
  });

  test("truncated or extended bytes fail", () => {
    failure(() =>
      openVersion(kek, 1, "/prod/db/main", 3, { ...sealed, ciphertext: sealed.ciphertext.subarray(0, 20) }),
    );
    failure(() =>
      openVersion(kek, 1, "/prod/db/main", 3, {
        ...sealed,
        ciphertext: Buffer.concat([sealed.ciphertext, Buffer.of(0)]),
      }),
    );
    failure(() => openVersion(kek, 1, "/prod/db/main", 3, { ...sealed, wrappedDek: Buffer.alloc(0) }));
  });

  test("another path, version, KEK version or KEK fails (swapped AAD)", () => {
    expect(failure(() => openVersion(kek, 1, "/prod/db/other", 3, sealed)).message).toContain(
      "/prod/db/other",
    );
    expect(failure(() => openVersion(kek, 1, "/prod/db/main", 2, sealed)).message).toContain("version 2 of");
    failure(() => openVersion(kek, 2, "/prod/db/main", 3, sealed));
    failure(() => openVersion(createSecretKey(randomBytes(32)), 1, "/prod/db/main", 3, sealed));
    // The data key of one version with the ciphertext of another (both valid on their own).
    const other = sealVersion(kek, 1, "/prod/db/main", 3, { password: "other" });
    expect(
      failure(() => openVersion(kek, 1, "/prod/db/main", 3, { ...sealed, wrappedDek: other.wrappedDek }))
        .message,
    ).toContain("its ciphertext");
  });

  test("re-wrapping moves the data key to a new KEK and binds the new KEK version", () => {
    const next = createSecretKey(randomBytes(32));
    const wrapped = rewrapDek(
      { kek, version: 1 },
      { kek: next, version: 2 },
      "/prod/db/main",
      3,
      sealed.wrappedDek,
    );
    const moved = { ...sealed, wrappedDek: wrapped };
    expect(openVersion(next, 2, "/prod/db/main", 3, moved)).toEqual(data);
    failure(() => openVersion(next, 1, "/prod/db/main", 3, moved));
    failure(() => openVersion(kek, 1, "/prod/db/main", 3, moved));
  });
});
