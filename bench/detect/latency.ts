// Event-to-webhook latency through the whole control plane: an event arrives on the ingest API as
// a gateway sends it, is journaled in the audit log, meets a detection rule, is queued in the
// alert outbox and posted to a signed webhook. The anchor is the first leg alone, measured on the
// same events: the time for the ingest call to answer once the batch is durably journaled.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { rampartConfigSchema } from "../../src/config/index.ts";
import { newEvent } from "../../src/platform/events/index.ts";
import { createLogger } from "../../src/platform/logging.ts";
import { startServer } from "../../src/server/index.ts";

export interface Latency {
  samples: number;
  /** Milliseconds from sending the event to the webhook receiving its alert. */
  webhook: { p50: number; p95: number; max: number };
  /** Milliseconds for the ingest call alone (journaled in the audit log). */
  journaled: { p50: number; p95: number; max: number };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
};
const summary = (xs: number[]) => ({ p50: quantile(xs, 0.5), p95: quantile(xs, 0.95), max: Math.max(...xs) });

/** Sends `samples` events one at a time (`gapMs` apart) and times each to its webhook. */
export async function webhookLatency(o: {
  samples: number;
  gapMs?: number;
  progress?: (msg: string) => void;
}): Promise<Latency> {
  const dir = mkdtempSync(join(tmpdir(), "rampart-bench-latency-"));
  const arrived = new Map<string, number>();
  const hook = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const at = performance.now();
      const seq = (JSON.parse(body) as { details?: { seq?: string } }).details?.seq;
      if (seq) arrived.set(seq, at);
      res.end("{}");
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  const ingest = randomBytes(24).toString("hex");
  const config = rampartConfigSchema.parse({
    version: 1,
    server: { port: 0 },
    database: { dataDir: join(dir, "data") },
    events: { ingestTokens: [{ name: "edge-bench", token: ingest }] },
    // Each event is its own group, so none is suppressed; P1 below openAt P0: alert only.
    detect: {
      rules: [
        {
          id: "bench-ping",
          title: "Benchmark ping",
          priority: "P1",
          match: { type: "bench.ping" },
          groupBy: { seq: "data.seq" },
          condition: { kind: "each" },
          summary: "ping {{group.seq}}",
        },
      ],
    },
    incidents: { openAt: "P0" },
    alerts: {
      channels: [{ name: "hook", type: "webhook", url: hookUrl, secret: randomBytes(24).toString("hex") }],
      routes: [{ channels: ["hook"] }],
    },
    playbooks: { dirs: [], builtins: false },
  });
  const server = await startServer({ config, logger: createLogger({ level: "silent" }) });
  try {
    const webhook: number[] = [];
    const journaled: number[] = [];
    for (let i = 0; i < o.samples; i++) {
      const seq = `s${i}`;
      const event = newEvent({
        type: "bench.ping",
        actor: { kind: "ip", id: "198.51.100.9" },
        data: { seq },
      });
      const t0 = performance.now();
      const res = await fetch(`${server.url}/api/v1/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${ingest}`, "content-type": "application/json" },
        body: JSON.stringify({ batchId: `bench-${seq}-${randomBytes(4).toString("hex")}`, events: [event] }),
      });
      await res.body?.cancel();
      if (res.status !== 201) throw new Error(`ingest answered ${res.status}`);
      journaled.push(performance.now() - t0);
      const deadline = t0 + 10_000;
      while (!arrived.has(seq) && performance.now() < deadline) await sleep(2);
      const at = arrived.get(seq);
      if (at === undefined) throw new Error(`no alert for ${seq} within 10 s`);
      webhook.push(at - t0);
      if ((i + 1) % 20 === 0) o.progress?.(`latency: ${i + 1}/${o.samples}`);
      await sleep(o.gapMs ?? 50);
    }
    return { samples: o.samples, webhook: summary(webhook), journaled: summary(journaled) };
  } finally {
    await server.stop();
    hook.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
