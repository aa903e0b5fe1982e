// Requests per second per core: one `rampart gateway` process pinned to core 0 with a realistic
// route (WAF in block mode, a rate limit in Redis set high enough never to refuse, the default
// security headers), and the same with the WAF off, beside nginx as a plain proxy with one worker
// on the same core. The upstream (an nginx of its own), Redis and wrk share core 1. Every target
// gets the same browser-like GET with a query string, so the WAF has arguments and headers to read.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../test/support/services.ts";
import { type Load, wrk } from "../load.ts";
import { cpuSeconds, hasTaskset, need, type Procs, rssBytes, waitServing } from "./procs.ts";

export interface Target {
  name: string;
  rps: number;
  p50ms: number;
  p99ms: number;
  /** CPU time of the measured process per request, µs (the upstream direct has none). */
  cpuMicros?: number;
  /** Resident memory of the measured process after the load, bytes. */
  rssBytes?: number;
}

export interface Throughput {
  pinned: boolean;
  seconds: number;
  rounds: number;
  connections: number;
  targets: Target[];
}

export const UPSTREAM = "upstream direct (nginx return 200)";
export const NGINX = "nginx proxy, 1 worker";
export const WAF_ON = "Rampart: WAF block, Redis rate limit, headers";
export const WAF_OFF = "Rampart: the same, WAF off";

// One Rampart GET as a browser sends it: a path and query the WAF parses, and the usual headers.
const REQUEST_LUA = `wrk.method = "GET"
wrk.path = "/shop/products?category=outdoor&q=blue+hiking+boots&sort=price_asc&page=2"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
wrk.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
wrk.headers["Accept-Language"] = "en-GB,en;q=0.9"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br"
wrk.headers["Referer"] = "https://shop.example.com/shop/products?category=outdoor"
wrk.headers["Cookie"] = "cart=8f2c1d9e4b7a; theme=dark; consent=analytics%3D0%26ads%3D0"
`;

export const nginxConf = (dir: string, name: string, upstreamPort: number, server: string): string =>
  `worker_processes 1;
master_process off;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir};
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }
${server}
}
`;

/** Starts the upstream nginx (on the caller's core) and returns its port. */
export async function startUpstream(procs: Procs, dir: string): Promise<number> {
  need("nginx", "nginx-light");
  const port = await freePort();
  const file = join(dir, "upstream.conf");
  writeFileSync(
    file,
    nginxConf(
      dir,
      "upstream",
      port,
      `  server { listen 127.0.0.1:${port}; location / { return 200 "ok\\n"; } }`,
    ),
  );
  const p = procs.start(undefined, "nginx", ["-p", dir, "-c", file, "-g", "daemon off;"]);
  await waitServing(`http://127.0.0.1:${port}/`, p);
  return port;
}

export const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export async function throughput(o: {
  procs: Procs;
  dir: string;
  upstreamPort: number;
  redisUrl: string;
  seconds: number;
  rounds: number;
  connections: number;
  progress: (msg: string) => void;
}): Promise<Throughput> {
  need("wrk", "wrk");
  const { procs, dir } = o;
  const upstream = `http://127.0.0.1:${o.upstreamPort}`;
  const [nginxPort, onPort, offPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const nginxFile = join(dir, "proxy.conf");
  writeFileSync(
    nginxFile,
    nginxConf(
      dir,
      "proxy",
      o.upstreamPort,
      `  server {\n    listen 127.0.0.1:${nginxPort};\n    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }\n  }`,
    ),
  );
  const nginx = procs.start(0, "nginx", ["-p", dir, "-c", nginxFile, "-g", "daemon off;"]);
  const gateway = (port: number, waf: boolean) => {
    const file = join(dir, `gateway-${port}.yaml`);
    writeFileSync(
      file,
      [
        "version: 1",
        `hotState: { redisUrl: "${o.redisUrl}" }`,
        "gateway:",
        `  port: ${port}`,
        "routes:",
        "  - path: /",
        `    upstream: ${upstream}`,
        `    waf: { mode: ${waf ? "block" : "off"} }`,
        "    rateLimits: [{ name: per-ip, limit: 100000000, windowSeconds: 60 }]",
        "    securityHeaders: {}",
        "",
      ].join("\n"),
    );
    return procs.start(0, process.execPath, [CLI, "gateway", "-c", file, "--workers", "1"], {
      ...process.env,
      LOG_LEVEL: "error",
    });
  };
  const on = gateway(onPort, true);
  const off = gateway(offPort, false);
  const script = join(dir, "request.lua");
  writeFileSync(script, REQUEST_LUA);
  const targets: [string, number, number | undefined][] = [
    [UPSTREAM, o.upstreamPort, undefined],
    [NGINX, nginxPort, nginx.pid],
    [WAF_ON, onPort, on.pid],
    [WAF_OFF, offPort, off.pid],
  ];
  await waitServing(`http://127.0.0.1:${nginxPort}/`, nginx);
  await waitServing(`http://127.0.0.1:${onPort}/`, on);
  await waitServing(`http://127.0.0.1:${offPort}/`, off);
  const load = { seconds: o.seconds, connections: o.connections, script };
  // Untimed warm-up of each (JIT, connection pools), then rounds that take turns target by target.
  for (const [name, port] of targets) {
    o.progress(`req/s: warm-up ${name}`);
    wrk(`http://127.0.0.1:${port}/`, { ...load, seconds: Math.min(3, o.seconds) });
  }
  const runs = new Map<string, (Load & { cpuMicros?: number })[]>();
  for (let round = 1; round <= o.rounds; round++) {
    for (const [name, port, pid] of targets) {
      o.progress(`req/s: round ${round}/${o.rounds} ${name}, wrk ${o.seconds}s ×${o.connections}`);
      const cpu0 = pid === undefined ? 0 : cpuSeconds(pid);
      const t0 = performance.now();
      const r = wrk(`http://127.0.0.1:${port}/`, load);
      const requests = r.rps * ((performance.now() - t0) / 1000);
      const cpuMicros = pid === undefined ? undefined : ((cpuSeconds(pid) - cpu0) * 1e6) / requests;
      runs.set(name, [
        ...(runs.get(name) ?? []),
        { ...r, ...(cpuMicros === undefined ? {} : { cpuMicros }) },
      ]);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return {
    pinned: hasTaskset,
    seconds: o.seconds,
    rounds: o.rounds,
    connections: o.connections,
    targets: targets.map(([name, , pid]) => {
      const rs = runs.get(name) ?? [];
      // The round with the median req/s stands for the target, latencies included.
      const mid = [...rs].sort((a, b) => a.rps - b.rps)[Math.floor(rs.length / 2)] as Load & {
        cpuMicros?: number;
      };
      const cpus = rs.flatMap((r) => (r.cpuMicros === undefined ? [] : [r.cpuMicros]));
      return {
        name,
        rps: mid.rps,
        p50ms: mid.p50ms,
        p99ms: mid.p99ms,
        ...(cpus.length ? { cpuMicros: median(cpus) } : {}),
        ...(pid === undefined ? {} : { rssBytes: rssBytes(pid) }),
      };
    }),
  };
}
