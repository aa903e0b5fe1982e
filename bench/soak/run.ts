// Soak: one `rampart gateway` process (WAF in block mode, a rate limit, security headers) held at
// 70% of its own measured peak for BENCH_SOAK_MINUTES (30), sampling heap, resident memory and
// open descriptors every minute from its metrics listener; nginx proxying the same upstream at
// the same rate is sampled the same way for BENCH_ANCHOR_MINUTES (3) as the anchor. Then the
// attacks: 1,000 slowloris connections and 20 clients each pushing a 50 MiB body at a 1 MiB
// limit, while ordinary requests go on; resident memory must stay bounded.
// Usage: node bench/soak/run.ts [--json]   needs wrk, hey and nginx (apt-get install wrk hey nginx-light)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../test/support/services.ts";
import { wrk } from "../load.ts";
import { need, Procs, rssBytes, waitServing } from "../sizing/procs.ts";
import { CLI, nginxConf, startUpstream } from "../sizing/throughput.ts";

const MINUTES = Number(process.env.BENCH_SOAK_MINUTES ?? 30);
const ANCHOR_MINUTES = Number(process.env.BENCH_ANCHOR_MINUTES ?? 3);
const json = process.argv.includes("--json");
const progress = (msg: string) => process.stderr.write(`  · ${msg}\n`);
const MiB = 1024 * 1024;

interface Sample {
  minute: number;
  heapBytes?: number;
  rssBytes: number;
  fds: number;
  rps: number;
  errors: number;
}

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/**
 * The gateway's heap in use right after a full garbage collection, asked of V8 through the
 * inspector (the soaked gateway listens for it on loopback). A heap sampled at a random moment
 * swings by tens of MiB with the collector's sawtooth; after a forced full collection only what
 * is still reachable is counted, which is what a leak grows.
 */
async function heapAfterGc(inspectPort: number): Promise<number> {
  const targets = (await fetch(`http://127.0.0.1:${inspectPort}/json/list`).then((r) => r.json())) as {
    webSocketDebuggerUrl: string;
  }[];
  const ws = new WebSocket(targets[0]?.webSocketDebuggerUrl ?? "");
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
  let next = 0;
  const call = (method: string) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = ++next;
      const onMessage = (e: MessageEvent) => {
        const reply = JSON.parse(String(e.data)) as { id?: number; result?: Record<string, unknown> };
        if (reply.id !== id) return;
        ws.removeEventListener("message", onMessage);
        resolve(reply.result ?? {});
      };
      ws.addEventListener("message", onMessage);
      ws.send(JSON.stringify({ id, method }));
    });
  try {
    await call("HeapProfiler.collectGarbage");
    return Number((await call("Runtime.getHeapUsage")).usedSize);
  } finally {
    ws.close();
  }
}

/** One minute of hey at `rate` req/s: achieved req/s and non-2xx or failed requests. */
function minuteAt(url: string, rate: number): { rps: number; errors: number } {
  const workers = 20;
  const out = execFileSync(
    "hey",
    ["-z", "60s", "-c", String(workers), "-q", String(Math.max(1, Math.round(rate / workers))), url],
    { encoding: "utf8", maxBuffer: 16 * MiB },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  // "[503]  12 responses" per status; after "Error distribution:", "[7]  Get …: reset" per error.
  const [statuses = "", failures = ""] = out.split("Error distribution:");
  const other =
    [...statuses.matchAll(/\[(\d+)\]\s+(\d+) responses/g)]
      .filter(([, code]) => code !== "200")
      .reduce((n, [, , count]) => n + Number(count), 0) +
    [...failures.matchAll(/^\s+\[(\d+)\]/gm)].reduce((n, [, count]) => n + Number(count), 0);
  return { rps, errors: other };
}

/** Growth of the lowest heap (or RSS) seen in the last third over the lowest in the first third after warm-up. */
function growth(samples: Sample[], pick: (s: Sample) => number | undefined): number | undefined {
  const values = samples.slice(1).map(pick);
  if (values.length < 3 || values.some((v) => v === undefined)) return undefined;
  const third = Math.max(1, Math.floor(values.length / 3));
  const first = Math.min(...(values.slice(0, third) as number[]));
  const last = Math.min(...(values.slice(-third) as number[]));
  return (last - first) / first;
}

async function attacks(
  base: string,
  pid: number,
): Promise<{ rssBefore: number; rssPeak: number; served: number; failed: number }> {
  const url = new URL(base);
  const rssBefore = rssBytes(pid);
  let rssPeak = rssBefore;
  const sockets: Socket[] = [];
  // Slowloris: a request head sent a byte every second, never finished.
  for (let i = 0; i < 1000; i++) {
    const s = connect(Number(url.port), url.hostname);
    s.on("error", () => {});
    s.write("GET / HTTP/1.1\r\nHost: x\r\n");
    sockets.push(s);
  }
  const drip = setInterval(() => {
    for (const s of sockets) if (!s.destroyed) s.write("X-a: b\r\n");
  }, 1000);
  // Large bodies: 50 MiB each against the 1 MiB limit, as fast as the gateway takes them.
  const chunk = Buffer.alloc(MiB, 97);
  const big = Array.from({ length: 20 }, async () => {
    const body = new ReadableStream({
      pull(c) {
        c.enqueue(chunk);
      },
    });
    const stop = AbortSignal.timeout(20_000);
    return fetch(`${base}/upload`, { method: "POST", body, duplex: "half", signal: stop } as RequestInit)
      .then((r) => r.status)
      .catch(() => 0);
  });
  let served = 0;
  let failed = 0;
  const started = Date.now();
  while (Date.now() - started < 20_000) {
    const ok = await fetch(`${base}/shop?q=boots`, { signal: AbortSignal.timeout(5000) })
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) served++;
    else failed++;
    rssPeak = Math.max(rssPeak, rssBytes(pid));
    await new Promise((r) => setTimeout(r, 100));
  }
  clearInterval(drip);
  for (const s of sockets) s.destroy();
  await Promise.all(big);
  return { rssBefore, rssPeak, served, failed };
}

async function main(): Promise<void> {
  need("wrk", "wrk");
  need("hey", "hey");
  need("nginx", "nginx-light");
  const dir = mkdtempSync(join(tmpdir(), "rampart-soak-"));
  const procs = new Procs();
  const stop = async () => {
    await procs.stopAll();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  try {
    const upstreamPort = await startUpstream(procs, dir);
    const [gwPort, metricsPort, nginxPort, inspectPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const config = join(dir, "gateway.yaml");
    writeFileSync(
      config,
      JSON.stringify({
        version: 1,
        gateway: { port: gwPort, maxBodyBytes: MiB, metrics: { host: "127.0.0.1", port: metricsPort } },
        routes: [
          {
            path: "/",
            upstream: `http://127.0.0.1:${upstreamPort}`,
            waf: { mode: "block" },
            rateLimits: [{ name: "per-ip", limit: 10_000_000, windowSeconds: 60 }],
          },
        ],
      }),
    );
    const gw = procs.start(
      0,
      process.execPath,
      [`--inspect=127.0.0.1:${inspectPort}`, CLI, "gateway", "-c", config],
      {
        ...process.env,
        RAMPART_LOG_LEVEL: "warn",
      },
    );
    const base = `http://127.0.0.1:${gwPort}`;
    await waitServing(`${base}/`, gw);
    writeFileSync(
      join(dir, "nginx.conf"),
      nginxConf(
        dir,
        "proxy",
        upstreamPort,
        `  server { listen 127.0.0.1:${nginxPort}; location / { proxy_pass http://127.0.0.1:${upstreamPort}; } }`,
      ),
    );
    const nginx = procs.start(0, "nginx", ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"]);
    await waitServing(`http://127.0.0.1:${nginxPort}/`, nginx);

    progress("measuring the gateway's peak (wrk, 15 s)");
    const peak = wrk(`${base}/shop?q=boots`, { seconds: 15, connections: 50 }).rps;
    const rate = Math.round(peak * 0.7);
    progress(`peak ${Math.round(peak)} req/s; soaking at ${rate} req/s for ${MINUTES} min`);

    const soak = async (url: string, pid: number, minutes: number, inspect?: number): Promise<Sample[]> => {
      const samples: Sample[] = [];
      for (let m = 1; m <= minutes; m++) {
        const load = minuteAt(url, rate);
        samples.push({
          minute: m,
          ...(inspect ? { heapBytes: await heapAfterGc(inspect) } : {}),
          rssBytes: rssBytes(pid),
          fds: fds(pid),
          ...load,
        });
        const last = samples.at(-1) as Sample;
        progress(
          `minute ${m}/${minutes}: ${Math.round(last.rps)} req/s, heap ${last.heapBytes ? (last.heapBytes / MiB).toFixed(1) : "-"} MiB, rss ${(last.rssBytes / MiB).toFixed(1)} MiB, fds ${last.fds}`,
        );
      }
      return samples;
    };
    const gwSamples = await soak(`${base}/shop?q=boots`, gw.pid as number, MINUTES, inspectPort);
    progress(`anchor: nginx at ${rate} req/s for ${ANCHOR_MINUTES} min`);
    const nginxSamples = await soak(
      `http://127.0.0.1:${nginxPort}/shop?q=boots`,
      nginx.pid as number,
      ANCHOR_MINUTES,
    );
    progress("attacks: 1,000 slowloris connections and 20 × 50 MiB bodies for 20 s");
    const attack = await attacks(base, gw.pid as number);

    const heapGrowth = growth(gwSamples, (s) => s.heapBytes);
    const rssGrowth = growth(gwSamples, (s) => s.rssBytes);
    const nginxRssGrowth = growth(nginxSamples, (s) => s.rssBytes);
    const fdDrift = (gwSamples.at(-1)?.fds ?? 0) - (gwSamples[0]?.fds ?? 0);
    const result = {
      minutes: MINUTES,
      peakRps: Math.round(peak),
      rate,
      heapGrowth,
      rssGrowth,
      fdDrift,
      errors: gwSamples.reduce((n, s) => n + s.errors, 0),
      anchor: {
        minutes: ANCHOR_MINUTES,
        rssGrowth: nginxRssGrowth,
        fdDrift: (nginxSamples.at(-1)?.fds ?? 0) - (nginxSamples[0]?.fds ?? 0),
      },
      attack,
      samples: gwSamples,
    };
    if (json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    const mib = (v: number | undefined) => (v === undefined ? "?" : (v / MiB).toFixed(0));
    const pct = (v: number | undefined) =>
      v === undefined ? "n/a (too few minutes)" : `${(v * 100).toFixed(1)}%`;
    console.log(`# Gateway soak: ${MINUTES} min at ${rate} req/s (70% of a measured peak of ${Math.round(peak)})

| figure | Rampart gateway | anchor: nginx, same rate, ${ANCHOR_MINUTES} min | target |
| --- | --- | --- | --- |
| heap after a full GC: growth, lowest of the last third over the first, after a warm-up minute | ${pct(heapGrowth)} | — | < 5% ${heapGrowth !== undefined && heapGrowth < 0.05 ? "PASS" : "MISS"} |
| resident memory growth | ${pct(rssGrowth)} | ${pct(nginxRssGrowth)} | — |
| resident memory: minute 1, minute ${MINUTES}, then idle for the anchor's ${ANCHOR_MINUTES} min | ${mib(gwSamples[0]?.rssBytes)} → ${mib(gwSamples.at(-1)?.rssBytes)} → ${mib(attack.rssBefore)} MiB | — | returns when idle |
| open descriptors, last minute − first | ${fdDrift} | ${result.anchor.fdDrift} | no leak: ≈ 0 ${Math.abs(fdDrift) <= 5 ? "PASS" : "MISS"} |
| failed or non-200 requests | ${result.errors} | — | 0 |

Under attack (1,000 slowloris connections and 20 × 50 MiB bodies at a 1 MiB limit, 20 s): resident
memory ${(attack.rssBefore / MiB).toFixed(0)} → at most ${(attack.rssPeak / MiB).toFixed(0)} MiB; ordinary requests served ${attack.served}, failed ${attack.failed}.

SUMMARY: heap ${pct(heapGrowth)}, descriptors ${fdDrift >= 0 ? "+" : ""}${fdDrift}, attack peak ${(attack.rssPeak / MiB).toFixed(0)} MiB`);
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`soak: ${(err as Error).message}\n`);
  process.exit(1);
});
