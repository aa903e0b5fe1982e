// Decodes PostgreSQL's binary COPY format (`COPY (…) TO STDOUT (FORMAT binary)`) into rows of raw
// field bytes without copying them. The format is three length-prefixed layers: a fixed header, then
// per row a 16-bit field count and per field a 32-bit length (-1 for NULL) and the bytes, then -1.
// https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
// pg-copy-streams-binary decodes the same format through a BufferList and object-mode streams, with
// allocations per field; `rampart audit verify` reads every row, so this one reads fields in place.
import { Unavailable } from "../errors.ts";

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
const HEADER_FIXED = SIGNATURE.length + 8; // signature, flags, extension length

/**
 * One decoded row, read in place in the received chunk. The decoder reuses this object for the next
 * row, and `bytes`/`raw` are views into the chunk: valid as long as the chunk is, which for
 * `Store.copyOut` is the callback. Copy what you keep.
 */
export interface CopyRow {
  readonly length: number;
  isNull(i: number): boolean;
  bytes(i: number): Buffer | null;
  text(i: number): string | null;
  /** A 64-bit integer field (int8; timestamptz as microseconds since 2000), exact below 2^53. */
  int64(i: number): number | null;
  /** The whole row as encoded, for `decodeCopyRows` elsewhere (another thread). */
  raw(): Buffer;
}

function createRow(): CopyRow & { buf: Buffer; from: number; to: number; starts: number[]; ends: number[] } {
  const row = {
    buf: Buffer.alloc(0),
    from: 0,
    to: 0,
    starts: [] as number[],
    ends: [] as number[],
    raw: () => row.buf.subarray(row.from, row.to),
    get length() {
      return row.starts.length;
    },
    isNull: (i: number) => (row.starts[i] ?? -1) < 0,
    bytes: (i: number) => (row.isNull(i) ? null : row.buf.subarray(row.starts[i], row.ends[i])),
    text: (i: number) => (row.isNull(i) ? null : row.buf.toString("utf8", row.starts[i], row.ends[i])),
    int64(i: number): number | null {
      const s = row.starts[i] ?? -1;
      if (s < 0 || (row.ends[i] as number) - s !== 8) return null;
      return row.buf.readInt32BE(s) * 2 ** 32 + row.buf.readUInt32BE(s + 4);
    },
  };
  return row;
}

export interface CopyDecoder {
  /** Feeds the next chunk; calls `onRow` for each complete row in it. */
  push(chunk: Uint8Array): void;
  /** Checks that the stream ended exactly at its trailer. */
  end(): void;
  readonly rows: number;
}

function malformed(what: string, at: number): Unavailable {
  return new Unavailable(`the database sent a malformed binary COPY stream: ${what} at byte ${at}`);
}

/** Decodes rows forwarded with `CopyRow.raw()`: whole rows back to back, no header or trailer. */
export function decodeCopyRows(buf: Uint8Array, onRow: (row: CopyRow) => void): number {
  const decoder = createCopyDecoder(onRow, { rowsOnly: true });
  decoder.push(buf);
  decoder.end();
  return decoder.rows;
}

export function createCopyDecoder(
  onRow: (row: CopyRow) => void,
  opts: { rowsOnly?: boolean } = {},
): CopyDecoder {
  const rowsOnly = opts.rowsOnly === true;
  let pending: Buffer = Buffer.alloc(0);
  let offset = 0; // bytes of the stream consumed before `pending`
  let headerDone = rowsOnly;
  let finished = false;
  let rows = 0;
  const row = createRow();
  const { starts, ends } = row;

  function readHeader(buf: Buffer): number {
    if (buf.length < HEADER_FIXED) return 0;
    if (!buf.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw malformed("missing PGCOPY signature", 0);
    if (buf.readUInt32BE(SIGNATURE.length) & 0x10000) throw malformed("rows carry OIDs", SIGNATURE.length);
    const extension = buf.readUInt32BE(SIGNATURE.length + 4);
    if (buf.length < HEADER_FIXED + extension) return 0;
    headerDone = true;
    return HEADER_FIXED + extension;
  }

  // Decodes whole rows from `buf` starting at `p`; returns where the first incomplete row starts.
  function readRows(buf: Buffer, p: number): number {
    while (!finished && p + 2 <= buf.length) {
      const count = buf.readInt16BE(p);
      if (count === -1 && !rowsOnly) {
        finished = true;
        return p + 2;
      }
      if (count < 0) throw malformed(`field count ${count}`, offset + p);
      let q = p + 2;
      starts.length = count;
      ends.length = count;
      for (let i = 0; i < count; i++) {
        if (q + 4 > buf.length) return p;
        const len = buf.readInt32BE(q);
        q += 4;
        if (len === -1) {
          starts[i] = -1;
          ends[i] = -1;
          continue;
        }
        if (len < 0) throw malformed(`field length ${len}`, offset + q - 4);
        if (q + len > buf.length) return p;
        starts[i] = q;
        ends[i] = q + len;
        q += len;
      }
      rows++;
      row.buf = buf;
      row.from = p;
      row.to = q;
      onRow(row);
      p = q;
    }
    return p;
  }

  return {
    push(chunk) {
      if (chunk.length === 0) return;
      const incoming = Buffer.isBuffer(chunk)
        ? chunk
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
      if (finished) throw malformed("data after the trailer", offset + pending.length);
      // Only the tail of an unfinished row is copied; a chunk that starts on a row boundary is read in place.
      const buf = pending.length === 0 ? incoming : Buffer.concat([pending, incoming]);
      let p = 0;
      if (!headerDone) {
        p = readHeader(buf);
        if (!headerDone) {
          pending = buf;
          return;
        }
      }
      p = readRows(buf, p);
      if (finished && p < buf.length) throw malformed("data after the trailer", offset + p);
      offset += p;
      pending = buf.subarray(p);
    },
    end() {
      if (rowsOnly && pending.length === 0) return;
      if (!finished)
        throw malformed(
          headerDone ? "stream ends inside a row" : "stream ends in the header",
          offset + pending.length,
        );
    },
    get rows() {
      return rows;
    },
  };
}
