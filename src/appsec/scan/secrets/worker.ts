// Worker thread for scanFiles: scans the batches of files it is sent, replies with findings.
import { parentPort, workerData } from "node:worker_threads";
import { createAllowlist, type SecretsAllowlistFile } from "./allowlist.ts";
import { scanFile, type WorkerJob, type WorkerReply } from "./scanner.ts";

const data = workerData as { allowlist?: SecretsAllowlistFile; maxBytes: number };
const allowlist = data.allowlist ? createAllowlist(data.allowlist) : undefined;

parentPort!.on("message", (job: WorkerJob) => {
  const reply: WorkerReply = {
    results: job.batch.map(({ index, file, name }) => ({
      index,
      ...scanFile(file, name, allowlist, data.maxBytes),
    })),
  };
  parentPort!.postMessage(reply);
});
