// COPY … TO STDOUT on a pooled node-postgres client, as a Submittable: pg's own protocol parser hands
// over each CopyData message (one row) and we pass it on synchronously, with no stream in between.
// pg-copy-streams does the same through a Readable that re-slices and re-joins every row: measured
// here at ~4.8 µs of CPU per row, against ~1.7 µs this way.
import type pg from "pg";
import { Unavailable } from "../errors.ts";

interface CopyMessage {
  chunk: Buffer;
}

/** Runs `statement` (a COPY … TO STDOUT) and calls `onData` with each piece, valid only during the call. */
export async function copyOutPostgres(
  pool: pg.Pool,
  statement: string,
  onData: (chunk: Buffer) => void,
): Promise<void> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw new Unavailable(`cannot reach the database: ${(err as Error).message}`, { cause: err });
  }
  let failed: unknown;
  let broken = false;
  try {
    await new Promise<void>((resolve, reject) => {
      const copy = {
        submit(connection: { query(text: string): void }) {
          connection.query(statement);
        },
        handleCopyData(msg: CopyMessage) {
          if (failed !== undefined) return; // drain the rest; the connection stays in step
          try {
            onData(msg.chunk);
          } catch (err) {
            failed = err;
          }
        },
        handleCommandComplete() {},
        handleReadyForQuery() {
          if (failed === undefined) resolve();
          else reject(failed);
        },
        handleError(err: Error) {
          broken = true;
          reject(err);
        },
      };
      client.query(copy as unknown as pg.Submittable);
    });
  } finally {
    client.release(broken);
  }
}
