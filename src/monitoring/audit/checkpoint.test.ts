import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Invalid } from "../../platform/errors.ts";
import { createCheckpointSigner, parseCheckpoint, parseVerifierKey, verifyCheckpoint } from "./checkpoint.ts";
import { leafHash, MerkleTree } from "./merkle.ts";

// Real signed tree heads of the Go checksum database (sum.golang.org), a production C2SP-checkpoint log, and its
// published verifier key (as pinned in the Go toolchain and in transparency-dev/witness configs).
const SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
const SUMDB_CHECKPOINTS = [
  {
    size: 31700353,
    root: "qINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=",
    note:
      "go.sum database tree\n31700353\nqINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=\n\n" +
      "\u2014 sum.golang.org Az3grnmrIUEDFqHzAElIQCPNoRFRAAdFo47fooyWKMHb89k11GJh5zHIfNCOBmwn/C3YI8oW9/C8DJ87F61QqspBYwM=\n",
  },
  {
    size: 65209736,
    root: "5+uGFjx6xBZG8ip1+wi77v+grwbhhukIrxEUS8PXvRo=",
    note:
      "go.sum database tree\n65209736\n5+uGFjx6xBZG8ip1+wi77v+grwbhhukIrxEUS8PXvRo=\n\n" +
      "\u2014 sum.golang.org Az3grnbssgK7ubgFX36gVETtNv0U23qxyAhAMai2QUfeGa3nB/akvkMdlUErfcZz7l/R3cVtYspg3dxXABkGZZKdsQ8=\n",
  },
];

// Key pair from golang.org/x/mod/sumdb/note note_test.go (the signed-note reference implementation):
// signer key "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz" (0x01 ‖ Ed25519 seed).
const PETER_SEED = Buffer.from("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "base64").subarray(1);
const PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";

function ed25519FromSeed(seed: Buffer): KeyObject {
  // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
}

const ROOT = leafHash(Buffer.from("root"));
const ORIGIN = "rampart.example/audit/security/2026-01";

function newSigner(name = ORIGIN) {
  return createCheckpointSigner({ name, privateKey: generateKeyPairSync("ed25519").privateKey });
}

function expectInvalid(fn: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(Invalid);
  expect((thrown as Error).message).toMatch(message);
}

describe("known answers", () => {
  it("verifies real sum.golang.org checkpoints", () => {
    for (const { size, root, note } of SUMDB_CHECKPOINTS) {
      const cp = verifyCheckpoint(note, SUMDB_VKEY);
      expect(cp).toEqual({
        origin: "go.sum database tree",
        size,
        root: Buffer.from(root, "base64"),
        extensions: [],
      });
    }
  });

  it("rejects a sum.golang.org checkpoint with its size changed", () => {
    const note = (SUMDB_CHECKPOINTS[0] as { note: string }).note.replace("31700353", "31700354");
    expectInvalid(
      () => verifyCheckpoint(note, SUMDB_VKEY),
      /signature by sum\.golang\.org\+033de0ae does not verify/,
    );
  });

  it("derives the same verifier key and key ID as Go's x/mod/sumdb/note", () => {
    const signer = createCheckpointSigner({ name: "PeterNeumann", privateKey: ed25519FromSeed(PETER_SEED) });
    expect(signer.verifierKey).toBe(PETER_VKEY);
    expect(signer.keyId).toBe(0xc74f20a3);
    expect(parseVerifierKey(PETER_VKEY)).toMatchObject({ name: "PeterNeumann", keyId: 0xc74f20a3 });
    expect(parseVerifierKey(ENOCH_VKEY)).toMatchObject({ name: "EnochRoot", keyId: 0xaf0cfe78 });
    const note = signer.sign({ origin: "example.com/log", size: 5, root: ROOT });
    expect(verifyCheckpoint(note, PETER_VKEY).size).toBe(5);
    // Ed25519 is deterministic: the same key signs the same checkpoint to the same bytes.
    expect(signer.sign({ origin: "example.com/log", size: 5, root: ROOT })).toBe(note);
  });

  it("rejects manglings of a verifier key (as x/mod/sumdb/note does)", () => {
    for (let i = 0; i < PETER_VKEY.length; i++) {
      const code = PETER_VKEY.charCodeAt(i);
      const changed = PETER_VKEY.slice(0, i) + String.fromCharCode(code + 1) + PETER_VKEY.slice(i + 1);
      expect(() => parseVerifierKey(changed), changed).toThrow(Invalid);
    }
    for (let i = 0; i <= PETER_VKEY.length; i++) {
      for (let j = i + 1; j <= PETER_VKEY.length; j++) {
        if (i === 0 && j === PETER_VKEY.length) continue;
        expect(() => parseVerifierKey(PETER_VKEY.slice(i, j))).toThrow(Invalid);
      }
    }
    const shortKey = Buffer.concat([Buffer.of(1), Buffer.alloc(31, 7)]).toString("base64");
    expectInvalid(
      () => parseVerifierKey(`PeterNeumann+c74f20a3+${shortKey}`),
      /an Ed25519 key is 32 bytes, got 31/,
    );
    // From x/mod/sumdb/note: a 40-byte key (non-canonical base64 padding here, so refused even earlier).
    expect(() =>
      parseVerifierKey("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="),
    ).toThrow(Invalid);
    expectInvalid(
      () => parseVerifierKey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
      /unsupported signature type 0x65/,
    );
    expectInvalid(
      () => parseVerifierKey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
      /key ID c74f20a4 does not match/,
    );
  });
});

describe("sign and verify", () => {
  it("round-trips a checkpoint with extensions", () => {
    const signer = newSigner();
    const note = signer.sign({
      origin: ORIGIN,
      size: 42,
      root: ROOT,
      extensions: ["time 2026-01-01T00:00:00.000Z"],
    });
    expect(note).toBe(
      `${ORIGIN}\n42\n${ROOT.toString("base64")}\ntime 2026-01-01T00:00:00.000Z\n\n\u2014 ${ORIGIN} ${note.split(" ").at(-1)}`,
    );
    expect(signer.verifierKey.startsWith(`${ORIGIN}+`)).toBe(true);
    const cp = verifyCheckpoint(note, signer.verifierKey);
    expect(cp).toEqual({
      origin: ORIGIN,
      size: 42,
      root: ROOT,
      extensions: ["time 2026-01-01T00:00:00.000Z"],
    });
    const parsed = parseCheckpoint(note);
    expect(parsed.body).toBe(`${ORIGIN}\n42\n${ROOT.toString("base64")}\ntime 2026-01-01T00:00:00.000Z\n`);
    expect(parsed.signatures).toHaveLength(1);
    expect(parsed.signatures[0]).toMatchObject({ name: ORIGIN, keyId: signer.keyId });
    expect(parsed.signatures[0]?.signature).toHaveLength(64);
  });

  it("signs tree heads from MerkleTree, including the empty tree", () => {
    const signer = newSigner();
    const tree = new MerkleTree();
    for (let n = 0; n < 5; n++) {
      const cp = verifyCheckpoint(
        signer.sign({ origin: ORIGIN, size: tree.size, root: tree.root() }),
        signer.verifierKey,
      );
      expect(cp.size).toBe(n);
      expect(cp.root).toEqual(tree.root());
      tree.append(leafHash(Buffer.from(`entry ${n}`)));
    }
  });

  it("fails when any single byte of the body or the signature changes", () => {
    const signer = newSigner();
    const note = signer.sign({ origin: ORIGIN, size: 123456, root: ROOT, extensions: ["ext"] });
    const bytes = Buffer.from(note, "utf8");
    let rejected = 0;
    for (let i = 0; i < bytes.length - 1; i++) {
      for (const delta of [1, 0x20]) {
        const copy = Buffer.from(bytes);
        copy[i] = (copy[i] as number) ^ delta;
        const changed = copy.toString("utf8");
        if (changed === note) continue;
        expect(() => verifyCheckpoint(changed, signer.verifierKey), `byte ${i} ^ ${delta}`).toThrow(Error);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(bytes.length);
  });

  it("fails with the wrong key, and with a different key under the same name", () => {
    const signer = newSigner();
    const note = signer.sign({ origin: ORIGIN, size: 1, root: ROOT });
    expectInvalid(
      () => verifyCheckpoint(note, newSigner("other.example/log").verifierKey),
      /no signature by other\.example\/log\+/,
    );
    const impostor = newSigner(ORIGIN);
    expectInvalid(() => verifyCheckpoint(note, impostor.verifierKey), /no signature by/);
    // An impostor signature carrying the real key's name and ID is checked, and fails.
    const forged = impostor.sign({ origin: ORIGIN, size: 1, root: ROOT }).split("\n\u2014 ")[1] as string;
    const sig = Buffer.from((forged.split(" ")[1] as string).trim(), "base64");
    sig.writeUInt32BE(signer.keyId, 0);
    const tampered = `${note.split("\n\n")[0]}\n\n\u2014 ${ORIGIN} ${sig.toString("base64")}\n`;
    expectInvalid(() => verifyCheckpoint(tampered, signer.verifierKey), /does not verify/);
  });

  it("ignores other signers (witness cosignatures) but rejects a bad signature by the trusted key", () => {
    const log = newSigner();
    const witness = newSigner("witness.example/w1");
    const note = log.sign({ origin: ORIGIN, size: 7, root: ROOT });
    const witnessLine = witness.sign({ origin: ORIGIN, size: 7, root: ROOT }).split("\n\n")[1] as string;
    const cosigned = note + witnessLine;
    expect(verifyCheckpoint(cosigned, log.verifierKey).size).toBe(7);
    expect(verifyCheckpoint(cosigned, witness.verifierKey).size).toBe(7);
    const garbage = `\u2014 ${ORIGIN} ${Buffer.concat([Buffer.alloc(4), Buffer.alloc(64, 1)]).toString("base64")}\n`;
    expect(verifyCheckpoint(note + garbage, log.verifierKey).size).toBe(7);
    const badByTrusted = Buffer.concat([Buffer.alloc(4), Buffer.alloc(64, 1)]);
    badByTrusted.writeUInt32BE(log.keyId, 0);
    expectInvalid(
      () => verifyCheckpoint(`${note}\u2014 ${ORIGIN} ${badByTrusted.toString("base64")}\n`, log.verifierKey),
      /does not verify/,
    );
  });

  it("refuses to sign what it could not write back", () => {
    const signer = newSigner();
    expectInvalid(
      () => signer.sign({ origin: "", size: 1, root: ROOT }),
      /checkpoint origin: must be a non-empty line/,
    );
    expectInvalid(() => signer.sign({ origin: "a\nb", size: 1, root: ROOT }), /origin/);
    expectInvalid(() => signer.sign({ origin: ORIGIN, size: -1, root: ROOT }), /checkpoint size/);
    expectInvalid(() => signer.sign({ origin: ORIGIN, size: 1.5, root: ROOT }), /checkpoint size/);
    expectInvalid(
      () => signer.sign({ origin: ORIGIN, size: 1, root: ROOT.subarray(1) }),
      /checkpoint root: must be 32 bytes/,
    );
    expectInvalid(
      () => signer.sign({ origin: ORIGIN, size: 1, root: ROOT, extensions: [""] }),
      /extension 0/,
    );
    expectInvalid(
      () => signer.sign({ origin: ORIGIN, size: 1, root: ROOT, extensions: ["a", "b\n"] }),
      /extension 1/,
    );
    expectInvalid(
      () =>
        createCheckpointSigner({ name: "has space", privateKey: generateKeyPairSync("ed25519").privateKey }),
      /key name must be non-empty, without spaces/,
    );
    expectInvalid(
      () => createCheckpointSigner({ name: "a+b", privateKey: generateKeyPairSync("ed25519").privateKey }),
      /key name/,
    );
    expectInvalid(
      () => createCheckpointSigner({ name: "x", privateKey: generateKeyPairSync("ed25519").publicKey }),
      /Ed25519 private KeyObject/,
    );
    expectInvalid(
      () =>
        createCheckpointSigner({
          name: "x",
          privateKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey,
        }),
      /Ed25519 private KeyObject/,
    );
  });
});

describe("parseCheckpoint rejects malformed notes clearly", () => {
  const signer = newSigner("log.example");
  const good = signer.sign({ origin: "log.example", size: 10, root: ROOT });
  const [body, sigLine] = good.split("\n\n") as [string, string];
  const root64 = ROOT.toString("base64");

  const cases: [string, string, RegExp][] = [
    ["no trailing newline", good.slice(0, -1), /checkpoint: must end with a newline/],
    ["no blank line", `${body}\n${sigLine}`, /no blank line separates/],
    ["no signatures", `${body}\n\n`, /no signature lines/],
    ["two lines only", `log.example\n10\n\n${sigLine}`, /at least 3 lines: origin, tree size, root hash/],
    [
      "empty origin",
      `\n10\n${root64}\n\n${sigLine}`,
      /checkpoint line 1: lines of the checkpoint text must not be empty/,
    ],
    ["empty extension", `${body}\n\next\n\n${sigLine}`, /checkpoint line 4: .*must not be empty/],
    [
      "leading zero",
      `log.example\n010\n${root64}\n\n${sigLine}`,
      /checkpoint line 2: tree size must be a decimal/,
    ],
    ["negative size", `log.example\n-1\n${root64}\n\n${sigLine}`, /line 2: tree size/],
    ["size with sign", `log.example\n+1\n${root64}\n\n${sigLine}`, /line 2: tree size/],
    ["huge size", `log.example\n9007199254740993\n${root64}\n\n${sigLine}`, /line 2: tree size is too large/],
    [
      "root not base64",
      `log.example\n10\n${root64.replace("=", "!")}\n\n${sigLine}`,
      /line 3: malformed base64/,
    ],
    [
      "root unpadded",
      `log.example\n10\n${root64.replace("=", "")}\n\n${sigLine}`,
      /line 3: malformed base64/,
    ],
    ["root url-safe", `log.example\n10\n${"-".repeat(43)}=\n\n${sigLine}`, /line 3: malformed base64/],
    [
      "root too short",
      `log.example\n10\n${ROOT.subarray(1).toString("base64")}\n\n${sigLine}`,
      /line 3: root hash must be 32 bytes, got 31/,
    ],
    [
      "hyphen not em dash",
      `${body}\n\n- ${sigLine.slice(2)}`,
      /checkpoint line 5: a signature line must start with/,
    ],
    ["unexpected line", `${good}Unexpected line.\n`, /checkpoint line 6: a signature line must start/],
    [
      "no signature after name",
      `${body}\n\n\u2014 log.example\n`,
      /line 5: expected a key name, a space and a base64 signature/,
    ],
    ["space in name", `${body}\n\n\u2014 Bad Name ${sigLine.split(" ")[2]}`, /line 5: key name must be/],
    ["plus in name", `${body}\n\n\u2014 a+b ${sigLine.split(" ")[2]}`, /line 5: key name must be/],
    ["empty name", `${body}\n\n\u2014  ${sigLine.split(" ")[2]}`, /line 5: key name must be/],
    ["short signature", `${body}\n\n\u2014 log.example AAAA\n`, /line 5: a signature holds a 4-byte key ID/],
    [
      "control character",
      `log.ex\u0001ample\n10\n${root64}\n\n${sigLine}`,
      /checkpoint line 1: control character 0x01/,
    ],
    ["carriage return", `${body}\r\n\n${sigLine}`, /checkpoint line 3: control character 0x0d/],
    ["lone surrogate", `log.\ud800example\n10\n${root64}\n\n${sigLine}`, /not valid Unicode/],
    ["too many signatures", `${body}\n\n${sigLine.repeat(101)}`, /more than 100 signatures/],
  ];

  it.each(cases)("%s", (_desc, text, message) => {
    expectInvalid(() => parseCheckpoint(text), message);
    expect(() => verifyCheckpoint(text, signer.verifierKey)).toThrow(Invalid);
  });

  it("accepts up to 100 signatures and a repeated valid signature", () => {
    const many = `${body}\n\n${sigLine.repeat(100)}`;
    expect(parseCheckpoint(many).signatures).toHaveLength(100);
    expect(verifyCheckpoint(many, signer.verifierKey).size).toBe(10);
  });

  it("rejects non-strings without crashing", () => {
    expectInvalid(() => parseCheckpoint(undefined as unknown as string), /checkpoint: must be a string/);
    expectInvalid(() => parseCheckpoint(Buffer.from(good) as unknown as string), /must be a string/);
    expectInvalid(() => verifyCheckpoint(good, 42 as unknown as string), /verifier key: must be a string/);
  });
});

describe("parseCheckpoint on arbitrary input", () => {
  const signer = newSigner("fuzz.example");
  const good = signer.sign({ origin: "fuzz.example", size: 3, root: ROOT, extensions: ["x"] });

  const onlyInvalid = (text: string): void => {
    try {
      parseCheckpoint(text);
    } catch (err) {
      expect(err).toBeInstanceOf(Invalid);
    }
    try {
      verifyCheckpoint(text, signer.verifierKey);
    } catch (err) {
      expect(err).toBeInstanceOf(Invalid);
    }
  };

  it("property: random strings either parse or throw Invalid", () => {
    const alphabet = fc.constantFrom(
      "\n",
      "\n\n",
      "\u2014 ",
      "\u2014",
      " ",
      "+",
      "=",
      "0",
      "1",
      "A",
      "a",
      "/",
      "\r",
      "\u0000",
      "\ud800",
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 300 }),
          fc.string({ unit: alphabet, maxLength: 60 }),
          fc.array(fc.string({ maxLength: 50 }), { maxLength: 8 }).map((lines) => `${lines.join("\n")}\n`),
        ),
        onlyInvalid,
      ),
      { numRuns: 2000 },
    );
  });

  it("property: mutations of a valid checkpoint either verify unchanged or throw Invalid", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: good.length }),
        fc.nat({ max: 10 }),
        fc.string({ unit: "binary", maxLength: 4 }),
        (at, cut, insert) => {
          const text = good.slice(0, at) + insert + good.slice(Math.min(good.length, at + cut));
          let cp: ReturnType<typeof verifyCheckpoint> | undefined;
          try {
            cp = verifyCheckpoint(text, signer.verifierKey);
          } catch (err) {
            expect(err).toBeInstanceOf(Invalid);
            return;
          }
          // Anything that still verifies must say exactly what was signed.
          expect(cp).toEqual({ origin: "fuzz.example", size: 3, root: ROOT, extensions: ["x"] });
        },
      ),
      { numRuns: 2000 },
    );
  });
});
