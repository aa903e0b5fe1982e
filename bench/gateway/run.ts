// Gateway benchmark: req/s and latency through Rampart beside nginx, measured by wrk in the same run
// on loopback: the upstream alone, nginx as a plain proxy, Rampart as a plain proxy, and Rampart
// with every network control on; GET and a 1 KB POST. See bench/README.md.
// Usage: node bench/gateway/run.ts [--json]   env: BENCH_SECONDS (default 8), BENCH_CONNECTIONS (50)
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../test/support/services.ts";
import { waitUp, wrk } from "../load.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const json = process.argv.includes("--json");
const progress = (msg: string) => process.stderr.write(`  · ${msg}\n`);
const TARGETS = { plainVsNginx: 0.5, controlsCost: 0.15, addedP99Ms: 2 };

function need(bin: string, pkg: string): void {
  try {
    execFileSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" });
  } catch {
    throw new Error(`${bin} is not installed: apt-get install ${pkg}`);
  }
}

interface Result {
  target: string;
  method: "GET" | "POST 1KB";
  rps: number;
  p50ms: number;
  p99ms: number;
}

// hey at a fixed rate: `workers` connections, each sending `rate / workers` requests per second.
function fixedRate(url: string, rate: number): { rps: number; p50ms: number; p99ms: number } {
  const workers = 20;
  const out = execFileSync(
    "hey",
    ["-z", `${SECONDS}s`, "-c", String(workers), "-q", String(Math.max(1, Math.round(rate / workers))), url],
    { encoding: "utf8" },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const pct = (p: string) => Number(new RegExp(`^\\s+${p}% in ([\\d.]+) secs`, "m").exec(out)?.[1]) * 1000;
  return { rps, p50ms: pct("50"), p99ms: pct("99") };
}

const nginxConf = (dir: string, name: string, workers: number, upstreamPort: number, servers: string) =>
  `worker_processes ${workers};
pid ${dir}/${name}.pid;
error_log ${dir}/${name}.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir};
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }
${servers}
}
`;

const PLAIN = "Rampart plain proxy";
const CONTROLS = "Rampart, every network control on";
const NGINX = "nginx plain proxy";
const NGINX2 = "nginx plain proxy, 2 workers";
const BARE = "bare node:http + undici proxy";
const PLAIN2 = "Rampart plain proxy, --workers 2";

async function main(): Promise<void> {
  need("wrk", "wrk");
  need("hey", "hey");
  need("nginx", "nginx-light");
  const dir = mkdtempSync(join(tmpdir(), "rampart-bench-gw-"));
  const procs: ChildProcess[] = [];
  try {
    const [upstreamPort, nginxPort, nginx2Port, plainPort, controlsPort, plain2Port, barePort] =
      await Promise.all(Array.from({ length: 7 }, freePort));
    const proxy = (port: number) =>
      `  server {\n    listen 127.0.0.1:${port};\n    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }\n  }`;
    // The upstream is an nginx process of its own; the anchors are nginx proxies in other processes
    // (one worker beside one Rampart process, two beside --workers 2), with keep-alive to it.
    const confs: [string, number, string][] = [
      ["upstream", 1, `  server { listen 127.0.0.1:${upstreamPort}; location / { return 200 "ok\\n"; } }`],
      ["proxy-1", 1, proxy(nginxPort as number)],
      ["proxy-2", 2, proxy(nginx2Port as number)],
    ];
    for (const [name, workers, servers] of confs) {
      const file = join(dir, `${name}.conf`);
      writeFileSync(file, nginxConf(dir, name, workers, upstreamPort as number, servers));
      procs.push(spawn("nginx", ["-p", dir, "-c", file, "-g", "daemon off;"], { stdio: "ignore" }));
    }
    const upstream = `http://127.0.0.1:${upstreamPort}`;
    const gatewayConfig = (port: number, controls: boolean) =>
      [
        "version: 1",
        "gateway:",
        `  port: ${port}`,
        ...(controls
          ? ["  trustedProxies: [10.0.0.0/8]", "  ipRules: { deny: [203.0.113.0/24, '2001:db8::/32'] }"]
          : []),
        "routes:",
        "  - path: /",
        `    upstream: ${upstream}`,
        ...(controls
          ? [
              "    ipRules: { allow: [127.0.0.0/8, 10.0.0.0/8] }",
              "    geo: { deny: [KP], unknownCountries: allow }",
              "    rateLimits: [{ name: per-ip, limit: 100000000, windowSeconds: 60 }]",
              "    cors: { origins: [https://app.example.com] }",
            ]
          : [
              "    securityHeaders: { contentTypeOptions: false, frameAncestors: [], permissionsPolicy: '', hstsMaxAge: 0 }",
            ]),
        "",
      ].join("\n");
    const bin = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
    for (const [port, controls, workers] of [
      [plainPort, false, 1],
      [controlsPort, true, 1],
      [plain2Port, false, 2],
    ] as const) {
      const file = join(dir, `gateway-${port}.yaml`);
      writeFileSync(file, gatewayConfig(port as number, controls));
      procs.push(
        spawn(process.execPath, [bin, "gateway", "-c", file, "--workers", String(workers)], {
          stdio: "ignore",
          env: { ...process.env, LOG_LEVEL: "error" },
        }),
      );
    }
    procs.push(
      spawn(
        process.execPath,
        [fileURLToPath(new URL("bare-proxy.ts", import.meta.url)), String(barePort), upstream],
        { stdio: "ignore" },
      ),
    );
    const targets = [
      ["upstream direct", upstream],
      [NGINX, `http://127.0.0.1:${nginxPort}`],
      [BARE, `http://127.0.0.1:${barePort}`],
      [PLAIN, `http://127.0.0.1:${plainPort}`],
      [CONTROLS, `http://127.0.0.1:${controlsPort}`],
      [NGINX2, `http://127.0.0.1:${nginx2Port}`],
      [PLAIN2, `http://127.0.0.1:${plain2Port}`],
    ] as const;
    for (const [, url] of targets) await waitUp(`${url}/`);
    const postScript = join(dir, "post.lua");
    writeFileSync(
      postScript,
      `wrk.method = "POST"\nwrk.body = string.rep("a", 1024)\nwrk.headers["Content-Type"] = "text/plain"\n`,
    );

    const results: Result[] = [];
    for (const method of ["GET", "POST 1KB"] as const) {
      for (const [target, url] of targets) {
        progress(`${method} ${target}: wrk ${SECONDS}s, ${CONNECTIONS} connections`);
        const load = {
          seconds: SECONDS,
          connections: CONNECTIONS,
          ...(method === "GET" ? {} : { script: postScript }),
        };
        wrk(`${url}/`, load); // warm-up, not recorded
        results.push({ target, method, ...wrk(`${url}/`, load) });
      }
    }
    // Latency at a fixed rate, half of what one Rampart process peaked at: what a client sees
    // under ordinary load, which a closed-loop tool like wrk cannot show.
    const rate = Math.round(
      (results.find((r) => r.target === PLAIN && r.method === "GET") as Result).rps / 2,
    );
    const atHalf: Result[] = [];
    for (const [target, url] of targets.filter(
      ([t]) => t === "upstream direct" || t === NGINX || t === BARE || t === PLAIN || t === CONTROLS,
    )) {
      progress(`GET ${target}: hey at ${rate} req/s for ${SECONDS}s`);
      atHalf.push({ target, method: "GET", ...fixedRate(`${url}/`, rate) });
    }
    report(results, atHalf, rate);
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  }
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

function report(results: Result[], atHalf: Result[], rate: number): void {
  const get = (target: string, method: Result["method"]) =>
    results.find((r) => r.target === target && r.method === method) as Result;
  const half = (target: string) => atHalf.find((r) => r.target === target) as Result;
  const checks = (["GET", "POST 1KB"] as const).flatMap((m) => {
    const plainRatio = get(PLAIN, m).rps / get(NGINX, m).rps;
    const workersRatio = get(PLAIN2, m).rps / get(NGINX2, m).rps;
    const cost = 1 - get(CONTROLS, m).rps / get(PLAIN, m).rps;
    return [
      {
        method: m,
        check: "Rampart plain ÷ nginx plain (req/s)",
        value: plainRatio,
        unit: "%",
        target: `>= ${TARGETS.plainVsNginx * 100}%`,
        pass: plainRatio >= TARGETS.plainVsNginx,
      },
      {
        method: m,
        check: "the same, 2 processes each",
        value: workersRatio,
        unit: "%",
        target: `>= ${TARGETS.plainVsNginx * 100}%`,
        pass: workersRatio >= TARGETS.plainVsNginx,
      },
      {
        method: m,
        check: "cost of every control vs Rampart plain",
        value: cost,
        unit: "%",
        target: `<= ${TARGETS.controlsCost * 100}%`,
        pass: cost <= TARGETS.controlsCost,
      },
    ];
  });
  const direct = half("upstream direct").p99ms;
  const nginxAdds = (half(NGINX).p99ms - direct).toFixed(1);
  for (const target of [PLAIN, CONTROLS]) {
    const added = half(target).p99ms - direct;
    checks.push({
      method: "GET",
      check: `p99 added, ${target === PLAIN ? "plain" : "all controls"} (nginx adds ${nginxAdds} ms)`,
      value: added,
      unit: "ms",
      target: `<= ${TARGETS.addedP99Ms} ms`,
      pass: added <= TARGETS.addedP99Ms,
    });
  }
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ seconds: SECONDS, connections: CONNECTIONS, results, halfLoad: { rate, results: atHalf }, checks }, null, 2)}\n`,
    );
    return;
  }
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const row = (r: Result) =>
    `${r.method.padEnd(9)}${r.target.padEnd(36)}${Math.round(r.rps).toLocaleString("en").padStart(10)}${r.p50ms.toFixed(2).padStart(9)}${r.p99ms.toFixed(2).padStart(9)}`;
  const lines = [
    `Rampart gateway benchmark — ${process.version}, ${cpu}, ${cpus().length} cores; wrk -t1 -c${CONNECTIONS} -d${SECONDS}s on loopback`,
    "",
    `${"method".padEnd(9)}${"target".padEnd(36)}${"req/s".padStart(10)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}`,
    ...results.map(row),
    "",
    `At a fixed ${rate.toLocaleString("en")} req/s (half of Rampart plain's GET peak; hey, 20 connections):`,
    ...atHalf.map(row),
    "",
    ...checks.map(
      (c) =>
        `${c.method.padEnd(9)}${c.check.padEnd(44)}${(c.unit === "%" ? c.value * 100 : c.value).toFixed(c.unit === "%" ? 1 : 2).padStart(7)}${c.unit.padEnd(3)} target ${c.target}  ${c.pass ? "PASS" : "MISS"}`,
    ),
    "",
    `For reference, Rampart plain is ${pct(get(PLAIN, "GET").rps / get(BARE, "GET").rps)} (GET) and ${pct(get(PLAIN, "POST 1KB").rps / get(BARE, "POST 1KB").rps)} (POST) of a bare node:http + undici proxy's req/s.`,
    "",
    `SUMMARY: ${checks.filter((c) => c.pass).length}/${checks.length} targets met`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/gateway: ${(err as Error).message}\n`);
  process.exit(1);
});
