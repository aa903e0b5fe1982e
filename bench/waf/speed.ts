// Speed of Rampart's WAF on typical 1 KB requests (a browser's form POST: real headers, a session
// cookie, and field values taken from the dev set's benign real traffic): the engine's inspection
// time in-process, then requests per second through `rampart gateway` with the WAF at PL1 and off,
// beside nginx + ModSecurity + CRS at PL1 and a plain nginx proxy, by wrk in the same run.
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createBuiltInWaf, type InspectedRequest, type WafPolicy } from "../../src/network/waf/index.ts";
import { freePort } from "../../test/support/services.ts";
import { devSet, quantile } from "./dev-set.ts";
import { waitUp, wrk } from "../load.ts";
import { ensureModSecurity, startModSecurity, startRampart, UPSTREAM_MARK } from "./servers.ts";
import { sendAll, wireBytes } from "./wire.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

const BROWSER_HEADERS: Record<string, string> = {
  host: "app.example.com",
  "user-agent":
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
  "accept-language": "en-GB,en;q=0.9,de;q=0.8",
  "accept-encoding": "gzip, deflate, br",
  referer: "https://app.example.com/account/profile?tab=settings",
  origin: "https://app.example.com",
  cookie: "session=4f2a9c1e7b3d8a6f0e5c2b9d1a7f3e6c; theme=dark; consent=analytics%3D0%26ads%3D0",
  "content-type": "application/x-www-form-urlencoded",
};

/**
 * `count` form POSTs of about 1 KB each. Every request has field values of its own, taken in turn
 * from the benign real traffic, so that no value repeats within ~1,000 requests and remembering
 * values (the engine's cache) helps only with what real clients repeat: headers and field names.
 */
export function typicalRequests(count: number): InspectedRequest[] {
  const values = devSet()
    .filter((r) => r.source === "httpparams" && r.label === "benign")
    .map((r) => decodeURIComponent(r.uri.slice(r.uri.indexOf("=") + 1).replace(/\+/g, " ")))
    .filter((v) => v.length >= 8);
  const headBytes = Object.entries(BROWSER_HEADERS).reduce((n, [k, v]) => n + k.length + v.length + 4, 60);
  const out: InspectedRequest[] = [];
  let next = 0;
  for (let i = 0; i < count; i++) {
    const fields: string[] = [`csrf=${((i * 2654435761) >>> 0).toString(16).padStart(8, "0")}`];
    for (let k = 0; headBytes + fields.join("&").length < 1000; k++) {
      const v = encodeURIComponent(values[next++ % values.length] as string);
      fields.push(`field${k}=${v.slice(0, Math.max(1, 1000 - headBytes - fields.join("&").length - 9))}`);
    }
    const body = Buffer.from(fields.join("&"));
    out.push({
      method: "POST",
      path: "/account/profile?tab=settings",
      headers: { ...BROWSER_HEADERS, "content-length": String(body.length) },
      body,
    });
  }
  return out;
}

const asWire = (q: InspectedRequest): Buffer =>
  wireBytes({
    id: "",
    source: "",
    label: "benign",
    category: "",
    method: q.method,
    uri: q.path,
    headers: q.headers as Record<string, string>,
    body: q.body?.toString() ?? null,
  });

export interface SpeedReport {
  requestBytes: number;
  /** Typical requests that a system refused (false positives), left out of the load. */
  refusedTypical: Record<string, number>;
  inspection: Record<"PL1" | "PL2", { medianUs: number; p99Us: number }>;
  throughput: { target: string; rps: number; p50ms: number; p99ms: number }[];
}

/** Engine time per request, each request inspected once after a warm-up on others. */
function inspectionTimes(
  warmUp: InspectedRequest[],
  reqs: InspectedRequest[],
  paranoia: 1 | 2,
): { medianUs: number; p99Us: number } {
  const policy: WafPolicy = { mode: "block", paranoia, threshold: 5, exclusions: [] };
  // A fresh engine per warm-up round, so that the detectors run (and the JIT compiles them) rather
  // than the remembered results of the round before.
  for (let round = 0; round < 5; round++) {
    const cold = createBuiltInWaf();
    for (const q of warmUp) cold.inspect(q, policy);
  }
  const waf = createBuiltInWaf();
  for (const q of warmUp) waf.inspect(q, policy); // headers and field names seen, as in service
  const times: number[] = [];
  for (const q of reqs) {
    const t0 = performance.now();
    waf.inspect(q, policy);
    times.push((performance.now() - t0) * 1000);
  }
  times.sort((a, b) => a - b);
  return { medianUs: Number(quantile(times, 0.5)), p99Us: Number(quantile(times, 0.99)) };
}

const wrkScript = (reqs: InspectedRequest[]) =>
  `init = function(args)
  requests = {}
${reqs
  .map((q, i) => {
    const headers = Object.entries(q.headers)
      // wrk counts the body, and adds a Host unless given one spelt "Host"; it must be the app's.
      .filter(([k]) => k !== "content-length")
      .map(([k, v]) => `[${JSON.stringify(k === "host" ? "Host" : k)}] = ${JSON.stringify(v)}`)
      .join(", ");
    return `  requests[${i}] = wrk.format("POST", ${JSON.stringify(q.path)}, { ${headers} }, ${JSON.stringify(q.body?.toString() ?? "")})`;
  })
  .join("\n")}
  n = 0
end
request = function()
  n = (n + 1) % ${reqs.length}
  return requests[n]
end
`;

export const RAMPART_WAF = "Rampart gateway, WAF PL1";
export const RAMPART_OFF = "Rampart gateway, WAF off";
export const CRS = "nginx + ModSecurity + CRS PL1";
export const NGINX = "nginx plain proxy";

export async function measureSpeed(o: {
  dir: string;
  progress: (msg: string) => void;
}): Promise<SpeedReport> {
  const candidates = typicalRequests(1400);
  ensureModSecurity(o.progress);
  const procs: ChildProcess[] = [];
  try {
    const [upstreamPort, nginxPort, crsPort, wafPort, offPort] = await Promise.all(
      Array.from({ length: 5 }, freePort),
    );
    const upstreamConf = join(o.dir, "upstream.conf");
    writeFileSync(
      upstreamConf,
      `worker_processes 1;\npid ${o.dir}/upstream.pid;\nerror_log ${o.dir}/upstream.log;\nevents { worker_connections 4096; }\n` +
        // The upstream never closes a kept-alive connection first: a proxy does not retry a POST
        // that raced such a close, and the 502 would count against it.
        `http { access_log off; client_body_temp_path ${o.dir}; keepalive_requests 10000000; keepalive_timeout 600s;\n` +
        `  server { listen 127.0.0.1:${upstreamPort}; location / { add_header ${UPSTREAM_MARK} 1; return 200 "ok\\n"; } }\n` +
        `  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }\n` +
        `  server { listen 127.0.0.1:${nginxPort}; location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } }\n}\n`,
    );
    procs.push(spawn("nginx", ["-p", o.dir, "-c", upstreamConf, "-g", "daemon off;"], { stdio: "ignore" }));
    procs.push(
      startModSecurity({
        dir: o.dir,
        name: "crs-speed",
        port: crsPort!,
        upstreamPort: upstreamPort!,
        paranoia: 1,
        workers: 1,
      }),
      startRampart({ dir: o.dir, port: wafPort!, upstreamPort: upstreamPort!, paranoia: 1, workers: 1 }),
      startRampart({ dir: o.dir, port: offPort!, upstreamPort: upstreamPort!, paranoia: 0, workers: 1 }),
    );
    const targets: [string, number][] = [
      [NGINX, nginxPort!],
      [CRS, crsPort!],
      [RAMPART_OFF, offPort!],
      [RAMPART_WAF, wafPort!],
    ];
    for (const [, port] of targets) await waitUp(`http://127.0.0.1:${port}/`, { anyStatus: true });
    // Load only requests that both firewalls let through; the rest are false positives, counted.
    const refusedTypical: Record<string, number> = {};
    const wire = candidates.map(asWire);
    const passes = candidates.map(() => true);
    for (const [target, port] of targets.filter(([t]) => t === CRS || t === RAMPART_WAF)) {
      o.progress(`${target}: checking ${candidates.length} typical requests pass`);
      (await sendAll(port, wire, 8, () => {})).forEach((r, i) => {
        if (r.passed) return;
        passes[i] = false;
        refusedTypical[target] = (refusedTypical[target] ?? 0) + 1;
      });
    }
    const passing = candidates.filter((_, i) => passes[i]);
    const reqs = passing.slice(0, 1400);
    const requestBytes = Math.round(reqs.reduce((n, q) => n + asWire(q).length, 0) / reqs.length);
    o.progress(`engine inspection time, ${reqs.length - 400} typical requests of ~${requestBytes} bytes`);
    const inspection = {
      PL1: inspectionTimes(reqs.slice(0, 400), reqs.slice(400), 1),
      PL2: inspectionTimes(reqs.slice(0, 400), reqs.slice(400), 2),
    };
    const script = join(o.dir, "typical.lua");
    writeFileSync(script, wrkScript(reqs));
    const throughput: SpeedReport["throughput"] = [];
    for (const [target, port] of targets) {
      o.progress(`${target}: wrk ${SECONDS}s, ${CONNECTIONS} connections, typical 1 KB POSTs`);
      const url = `http://127.0.0.1:${port}/`;
      wrk(url, { seconds: SECONDS, connections: CONNECTIONS, script }); // warm-up, not recorded
      throughput.push({ target, ...wrk(url, { seconds: SECONDS, connections: CONNECTIONS, script }) });
    }
    return { requestBytes, refusedTypical, inspection, throughput };
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
  }
}

export function printSpeed(r: SpeedReport): void {
  console.log(`\nWAF speed on typical requests (~${r.requestBytes} bytes: a browser form POST)\n`);
  console.log(`  typical requests refused, left out of the load: ${JSON.stringify(r.refusedTypical)}`);
  for (const pl of ["PL1", "PL2"] as const)
    console.log(
      `  engine inspection ${pl}: median ${r.inspection[pl].medianUs.toFixed(1)} µs, p99 ${r.inspection[pl].p99Us.toFixed(1)} µs`,
    );
  console.log(
    `\n| ${"target".padEnd(32)} | ${"req/s".padStart(8)} | ${"p50".padStart(8)} | ${"p99".padStart(8)} |`,
  );
  console.log(`|${"-".repeat(34)}|${"-".repeat(10)}|${"-".repeat(10)}|${"-".repeat(10)}|`);
  for (const t of r.throughput)
    console.log(
      `| ${t.target.padEnd(32)} | ${t.rps.toFixed(0).padStart(8)} | ${`${t.p50ms.toFixed(2)}ms`.padStart(8)} | ${`${t.p99ms.toFixed(2)}ms`.padStart(8)} |`,
    );
}

export function speedChecks(r: SpeedReport): [string, boolean][] {
  const rps = (t: string) => r.throughput.find((x) => x.target === t)?.rps ?? Number.NaN;
  const vsCrs = rps(RAMPART_WAF) / rps(CRS);
  const vsOff = rps(RAMPART_WAF) / rps(RAMPART_OFF);
  return [
    [
      `inspection median ${r.inspection.PL1.medianUs.toFixed(1)} µs at PL1 (target < 50 µs)`,
      r.inspection.PL1.medianUs < 50,
    ],
    [
      `inspection p99 ${r.inspection.PL1.p99Us.toFixed(1)} µs at PL1 (target < 1000 µs)`,
      r.inspection.PL1.p99Us < 1000,
    ],
    [`gateway with WAF PL1 = ${vsCrs.toFixed(1)}x nginx + CRS PL1 (target >= 10x)`, vsCrs >= 10],
    [
      `gateway with WAF PL1 = ${(100 * vsOff).toFixed(0)}% of the gateway with the WAF off (target >= 85%)`,
      vsOff >= 0.85,
    ],
  ];
}
