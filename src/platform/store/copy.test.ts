// The binary COPY decoder: every row comes back as sent however the stream is cut into chunks, and
// a damaged stream fails with a clear Unavailable error, never with anything else.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { Unavailable } from "../errors.ts";
import { type CopyRow, createCopyDecoder, decodeCopyRows } from "./copy.ts";

type Field = Uint8Array | null;

// The format as PostgreSQL writes it (sql-copy.html, "Binary Format").
function encodeRow(fields: Field[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(2)];
  (parts[0] as Buffer).writeInt16BE(fields.length);
  for (const f of fields) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(f === null ? -1 : f.length);
    parts.push(len);
    if (f) parts.push(Buffer.from(f));
  }
  return Buffer.concat(parts);
}

function encodeStream(rows: Field[][], extension = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(19);
  head.write("PGCOPY\n\xff\r\n\0", "latin1");
  head.writeUInt32BE(extension.length, 15);
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  return Buffer.concat([head, extension, ...rows.map(encodeRow), trailer]);
}

function fieldsOf(r: CopyRow): Field[] {
  return Array.from({ length: r.length }, (_, i) =>
    r.isNull(i) ? null : Uint8Array.from(r.bytes(i) as Buffer),
  );
}

function decodeIn(stream: Buffer, cuts: number[]): Field[][] {
  const rows: Field[][] = [];
  const decoder = createCopyDecoder((r) => rows.push(fieldsOf(r)));
  let at = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < stream.length)].sort((a, b) => a - b)) {
    decoder.push(stream.subarray(at, cut));
    at = cut;
  }
  decoder.push(stream.subarray(at));
  decoder.end();
  expect(decoder.rows).toBe(rows.length);
  return rows;
}

const field = fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null, freq: 5 });
const rows = fc.array(fc.array(field, { maxLength: 6 }), { maxLength: 12 });

describe("binary COPY decoder", () => {
  test("property: rows come back as sent, however the stream is cut", () => {
    fc.assert(
      fc.property(
        rows,
        fc.array(fc.nat(2000), { maxLength: 20 }),
        fc.uint8Array({ maxLength: 8 }),
        (rs, cuts, ext) => {
          const stream = encodeStream(rs, Buffer.from(ext));
          expect(decodeIn(stream, cuts)).toEqual(rs);
        },
      ),
    );
  });

  test("reads text, 64-bit integers and NULLs in place", () => {
    const int8 = Buffer.alloc(8);
    int8.writeBigInt64BE(9_007_199_254_740_991n);
    const negative = Buffer.alloc(8);
    negative.writeBigInt64BE(-5n);
    const seen: unknown[] = [];
    const decoder = createCopyDecoder((r) =>
      seen.push([r.int64(0), r.text(1), r.isNull(2), r.text(2), r.int64(3), r.int64(1)]),
    );
    decoder.push(encodeStream([[int8, Buffer.from("grüße"), null, negative]]));
    decoder.end();
    expect(seen).toEqual([[9_007_199_254_740_991, "grüße", true, null, -5, null]]);
  });

  test("raw rows forwarded elsewhere decode the same", () => {
    const sent: Field[][] = [
      [Buffer.from("a"), null],
      [Buffer.from("bc"), Buffer.from("d")],
    ];
    const raw: Buffer[] = [];
    const decoder = createCopyDecoder((r) => raw.push(Buffer.from(r.raw())));
    decoder.push(encodeStream(sent));
    decoder.end();
    const back: Field[][] = [];
    expect(decodeCopyRows(Buffer.concat(raw), (r) => back.push(fieldsOf(r)))).toBe(2);
    expect(back).toEqual(sent.map((r) => r.map((f) => (f ? Uint8Array.from(f) : null))));
    expect(() => decodeCopyRows(Buffer.concat(raw).subarray(0, 7), () => {})).toThrow(/ends inside a row/);
  });

  test.each([
    [
      "a missing signature",
      Buffer.from("NOTCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0\xff\xff", "latin1"),
      /missing PGCOPY signature/,
    ],
    ["a stream cut inside a row", encodeStream([[Buffer.from("abc")]]).subarray(0, 25), /ends inside a row/],
    ["a stream cut in the header", encodeStream([]).subarray(0, 10), /ends in the header/],
    ["data after the trailer", Buffer.concat([encodeStream([]), Buffer.from([0])]), /after the trailer/],
    [
      "a negative field length",
      Buffer.concat([encodeStream([]).subarray(0, 19), Buffer.from([0, 1, 0xff, 0xff, 0xff, 0xf0])]),
      /field length -16 at byte 21/,
    ],
  ])("%s is a clear error", (_, stream, message) => {
    const run = () => {
      const decoder = createCopyDecoder(() => {});
      decoder.push(stream);
      decoder.end();
    };
    expect(run).toThrow(Unavailable);
    expect(run).toThrow(message);
  });

  test("fuzz: any bytes either decode or fail with Unavailable", () => {
    const valid = encodeStream([[Buffer.from("seq"), null, Buffer.from("body")], [Buffer.alloc(8)]]);
    fc.assert(
      fc.property(
        fc.nat(valid.length - 1),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 64 }),
        (at, byte, junk) => {
          for (const stream of [
            Buffer.from(valid).fill(byte, at, at + 1),
            Buffer.concat([valid.subarray(0, at), junk]),
          ]) {
            try {
              decodeIn(stream, [at]);
            } catch (err) {
              expect(err).toBeInstanceOf(Unavailable);
            }
          }
        },
      ),
    );
  });
});
