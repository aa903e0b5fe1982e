// The pool of row-checking worker threads behind `rampart audit verify`: batches go round-robin, and
// each worker answers its batches in order, so results can be applied in position order.
import type { KeyObject } from "node:crypto";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { Unavailable } from "../../platform/errors.ts";
import type { CheckedRows, FromRowChecker, RowBatch, ToRowChecker } from "./row-check-worker.ts";

export interface RowCheckers {
  /** Checks a batch; its bytes are moved to the worker, so the caller must not reuse them. */
  check(batch: RowBatch): Promise<CheckedRows>;
  close(): Promise<void>;
}

/** One worker per core, up to four: the main thread reads and builds the tree alongside. */
export function startRowCheckers(
  macKey: KeyObject,
  count = Math.min(4, availableParallelism()),
): RowCheckers {
  const workers = Array.from({ length: Math.max(1, count) }, () => {
    const worker = new Worker(new URL("./row-check-worker.ts", import.meta.url));
    // An idle pool must not keep the process alive; a busy one must, or a pending verify could end with it.
    worker.unref();
    const waiting: { resolve(r: CheckedRows): void; reject(e: Error): void }[] = [];
    const failAll = (err: Error) => {
      for (const w of waiting.splice(0)) w.reject(err);
      worker.unref();
    };
    worker.on("message", (m: FromRowChecker) => {
      const w = waiting.shift();
      if (waiting.length === 0) worker.unref();
      if (m.kind === "checked") w?.resolve(m.rows);
      else w?.reject(new Unavailable(`audit verification failed: ${m.message}`));
    });
    worker.on("error", failAll);
    worker.on("exit", (code) =>
      failAll(new Unavailable(`an audit verification thread exited (code ${code})`)),
    );
    worker.postMessage({ kind: "key", macKey } satisfies ToRowChecker);
    return { worker, waiting };
  });
  let next = 0;
  return {
    check(batch) {
      const w = workers[next++ % workers.length] as (typeof workers)[number];
      return new Promise((resolve, reject) => {
        if (w.waiting.push({ resolve, reject }) === 1) w.worker.ref();
        w.worker.postMessage({ kind: "rows", ...batch } satisfies ToRowChecker, [
          batch.bytes.buffer as ArrayBuffer,
        ]);
      });
    },
    async close() {
      await Promise.all(
        workers.map(async ({ worker }) => {
          worker.removeAllListeners("exit");
          await worker.terminate();
        }),
      );
    },
  };
}
