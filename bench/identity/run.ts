// Identity benchmark: what the gateway's identity step costs. In one run, wrk against `rampart
// gateway` as a plain proxy (the anchor) and on a route with `auth` and a 20-rule policy, reached
// with an SSO session signed in through the gateway from a real OpenID provider, a service
// account's access token and an API key; then route-policy evaluation in ns/op. See bench/README.md.
// Usage: node bench/identity/run.ts [--json]
// env: BENCH_SECONDS (default 8), BENCH_REPEATS (3), BENCH_CONNECTIONS (50),
//      BENCH_PROFILE=dir (CPU profiles of the gateways of (a) and (b): where (b) spends more per request),
//      BENCH_BREAKDOWN=1 (also (b) without identity headers, and with a 1-rule policy)
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createApiKeys,
  createRevocations,
  createServiceAccounts,
  hashClientSecret,
} from "../../src/identity/service-auth/index.ts";
import { systemClock } from "../../src/platform/clock.ts";
import { createRedisHotState } from "../../src/platform/hotstate/index.ts";
import { startTestIdp, type TestIdp } from "../../test/support/oidc-provider.ts";
import { freePort, type RunningService, startRedis } from "../../test/support/services.ts";
import { type Load, waitUp, wrk } from "../load.ts";
import { busyPerRequest, type ExtraCpu, extraCpu, type ProfiledRun } from "./profile.ts";
import { POLICY } from "./twenty-rules.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const BREAKDOWN = process.env.BENCH_BREAKDOWN === "1";
const PROFILE_DIR = process.env.BENCH_PROFILE ? resolve(process.env.BENCH_PROFILE) : undefined;
const json = process.argv.includes("--json");
const progress = (msg: string) => process.stderr.write(`  · ${msg}\n`);
const TARGET_COST = 0.1;

// Bench-only credentials for loopback processes that live as long as the run.
const CLIENT_SECRET = "bench-oidc-client-secret-0123456789abcdef";
const SERVICE_SECRET = "bench-service-secret-0123456789abcdef";
const TOKEN_SECRET = "bench-identity-secret-0123456789abcdef-0123";
const SERVICE_ACCOUNTS = [
  {
    name: "billing-worker",
    scopes: ["invoices"],
    secretHashes: [hashClientSecret(SERVICE_SECRET)],
  },
];

// Every request checks all four denies; the user's path is allowed only by the last rule.
const USER_PATH = "/audit/log"; // allowed by the last rule, for user "alice" in group "auditors"
const SERVICE_PATH = "/api/v1/invoices/9"; // allowed by the 11th rule, for "billing-worker"
// The upstream echoes the identity it was given, so the bench can check it before the load.
const SAW_USER = "x-bench-saw-user";

function has(bin: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** The X-Rampart-User the upstream must receive (none for the plain proxy). */
  user?: string;
  gateway: ChildProcess;
}

interface Result extends Load {
  target: string;
  /** req/s of every round, lowest first. */
  rounds: number[];
  /** 1 − req/s ÷ the plain proxy's req/s. */
  cost?: number;
  /** The gateway process's CPU time (user + system) per request, median of the rounds. */
  cpuUsPerRequest?: number;
  /** CPU per request ÷ the plain proxy's − 1. */
  cpuCost?: number;
}

/** An upstream answering 200 to anything: nginx when installed, else a node:http child process. */
function startUpstream(dir: string, port: number): { proc: ChildProcess; kind: string } {
  if (has("nginx")) {
    const conf = join(dir, "upstream.conf");
    writeFileSync(
      conf,
      `worker_processes 1;
pid ${dir}/upstream.pid;
error_log ${dir}/upstream.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:${port};
    location / { add_header ${SAW_USER} "[$http_x_rampart_user]" always; return 200 "ok\\n"; }
  }
}
`,
    );
    return {
      proc: spawn("nginx", ["-p", dir, "-c", conf, "-g", "daemon off;"], { stdio: "ignore" }),
      kind: "nginx",
    };
  }
  const code = `require("node:http").createServer((q, s) => {
  const u = q.headers["x-rampart-user"];
  s.writeHead(200, { "content-type": "text/plain", "${SAW_USER}": "[" + (u ?? "") + "]" });
  s.end("ok\\n");
}).listen(${port}, "127.0.0.1");`;
  return {
    proc: spawn(process.execPath, ["-e", code], { stdio: "ignore" }),
    kind: "node:http (nginx not installed)",
  };
}

/** `rampart gateway --workers 1` from a written config; its output goes to a log file beside it. */
function startRampart(dir: string, name: string, config: object, nodeArgs: string[] = []): ChildProcess {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, JSON.stringify(config, null, 2)); // JSON is YAML
  const log = openSync(join(dir, `${name}.log`), "w");
  const bin = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
  const proc = spawn(process.execPath, [...nodeArgs, bin, "gateway", "-c", file, "--workers", "1"], {
    stdio: ["ignore", log, log],
    env: { ...process.env, LOG_LEVEL: "error" },
  });
  closeSync(log);
  return proc;
}

const BROWSER = { accept: "text/html,application/xhtml+xml", "user-agent": "Mozilla/5.0 bench" };
const cookiePair = (setCookie: string) => setCookie.split(";", 1)[0] as string;

/** Signs `sub` in through the gateway the way a browser does; returns the session cookie pair. */
async function signIn(idp: TestIdp, gateway: string, sub: string): Promise<string> {
  const start = await fetch(`${gateway}${USER_PATH}`, { headers: BROWSER, redirect: "manual" });
  const login = start.headers.getSetCookie()[0];
  if (start.status !== 302 || !login) throw new Error(`sign-in did not start: ${start.status}`);
  const callback = await idp.signIn(start.headers.get("location") as string, sub);
  const done = await fetch(callback, { headers: { cookie: cookiePair(login) }, redirect: "manual" });
  const session = done.headers.getSetCookie().find((c) => c.startsWith("rampart_session="));
  if (done.status !== 303 || !session) throw new Error(`sign-in did not finish: ${done.status}`);
  return cookiePair(session);
}

/** A client-credentials access token from the gateway's token endpoint. */
async function accessToken(gateway: string): Promise<string> {
  const res = await fetch(`${gateway}/.rampart/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`billing-worker:${SERVICE_SECRET}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials",
  });
  if (!res.ok) throw new Error(`token endpoint: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** An API key for the service account, written to the Redis the gateway reads, as the control plane does. */
async function apiKey(redisUrl: string): Promise<string> {
  const hotState = createRedisHotState({ url: redisUrl });
  try {
    const emit = () => {};
    const keys = createApiKeys({
      hotState,
      clock: systemClock,
      emit,
      accounts: createServiceAccounts(SERVICE_ACCOUNTS),
      revocations: createRevocations({ hotState, clock: systemClock, emit }),
    });
    const { key } = await keys.create(
      { kind: "service", subject: "billing-worker", scopes: ["invoices"], ttlSeconds: 3600 },
      { kind: "system", id: "bench" },
    );
    return key;
  } finally {
    await hotState.close();
  }
}

/** Fails unless the request is let through and the upstream is told who is asking. */
async function check(t: Target): Promise<void> {
  const res = await fetch(t.url, { headers: t.headers, redirect: "manual" });
  await res.arrayBuffer();
  const saw = res.headers.get(SAW_USER);
  if (res.status !== 200 || saw !== `[${t.user ?? ""}]`)
    throw new Error(
      `${t.name}: expected 200 with upstream user ${t.user ?? "(none)"}, got ${res.status}, ${saw ?? "(none)"}`,
    );
}

function luaHeaders(dir: string, i: number, headers: Record<string, string>): string | undefined {
  const entries = Object.entries(headers);
  if (entries.length === 0) return undefined;
  const file = join(dir, `headers-${i}.lua`);
  writeFileSync(
    file,
    entries.map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}\n`).join(""),
  );
  return file;
}

/** Runs bench/identity/policy.ts and keeps its lines and figures. */
function policyBench(): { lines: string[]; compiledNs: number; anchorNs: number; agree: boolean } {
  let out: string;
  try {
    out = execFileSync(process.execPath, [fileURLToPath(new URL("policy.ts", import.meta.url))], {
      encoding: "utf8",
    });
  } catch (err) {
    // It exits 1 when the compiled policy and its anchor disagree: that is a result to print.
    out = String((err as { stdout?: string }).stdout ?? "");
    if (!out.includes("ns/op")) throw err;
  }
  const ns = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+) ns/op`).exec(out)?.[1]);
  return {
    lines: out.trimEnd().split("\n"),
    compiledNs: ns("compiled evaluate"),
    anchorNs: ns("anchor \\(interpreter\\)"),
    agree: /compiled and interpreter agree/.test(out),
  };
}

// Clock ticks per second, for /proc/<pid>/stat.
const TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" })) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) a process has used, in ms; undefined where /proc is missing (not Linux). */
function cpuMs(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
  } catch {
    return undefined;
  }
}

function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    const timer = setTimeout(r, 5000);
    p.once("exit", () => {
      clearTimeout(timer);
      r();
    });
  });
}

async function main(): Promise<void> {
  if (!has("wrk")) throw new Error("wrk is not installed: apt-get install wrk");
  const dir = mkdtempSync(join(tmpdir(), "rampart-bench-identity-"));
  const procs: ChildProcess[] = [];
  let idp: TestIdp | undefined;
  let redis: RunningService | undefined;
  try {
    const [upstreamPort, ...gatewayPorts] = await Promise.all(Array.from({ length: 8 }, freePort));
    const upstream = startUpstream(dir, upstreamPort as number);
    procs.push(upstream.proc);
    try {
      redis = await startRedis();
    } catch (err) {
      progress(`no Redis, so no rows (d) and (e): ${(err as Error).message}`);
    }
    // One gateway process per configuration; `route` is what a protected route adds to the plain one.
    const guarded = { auth: { provider: "corp" }, policy: POLICY };
    const specs: { name: string; route?: object; redisUrl?: string }[] = [
      { name: "plain" },
      { name: "session", route: guarded },
      { name: "token", route: guarded },
      ...(redis ? [{ name: "redis", route: guarded, redisUrl: redis.url }] : []),
      ...(BREAKDOWN
        ? [
            { name: "no-headers", route: { ...guarded, auth: { provider: "corp", identityHeaders: false } } },
            {
              name: "one-rule",
              route: { auth: { provider: "corp" }, policy: { rules: [{ allow: { groups: ["auditors"] } }] } },
            },
          ]
        : []),
    ];
    const port = (name: string) => gatewayPorts[specs.findIndex((s) => s.name === name)];
    const origin = (name: string) => `http://127.0.0.1:${port(name)}`;
    progress("starting the OpenID provider");
    idp = await startTestIdp({
      clients: [
        {
          client_id: "rampart",
          client_secret: CLIENT_SECRET,
          redirect_uris: specs.filter((s) => s.route).map((s) => `${origin(s.name)}/.rampart/sso/callback`),
          grant_types: ["authorization_code", "refresh_token"],
          response_types: ["code"],
          token_endpoint_auth_method: "client_secret_basic",
        },
      ],
      users: [{ sub: "alice", email: "alice@example.com", email_verified: true, groups: ["auditors"] }],
      // The bench's event loop (and this provider with it) is blocked while wrk runs: no token may
      // need refreshing during the run.
      accessTokenTtlS: 3600,
    });
    const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
    const identity = {
      providers: [
        {
          id: "corp",
          issuer: idp.issuer,
          clientId: "rampart",
          clientSecret: CLIENT_SECRET,
          scopes: ["openid", "email", "profile", "groups"],
        },
      ],
      tokens: { secret: TOKEN_SECRET },
      serviceAccounts: SERVICE_ACCOUNTS,
    };
    if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
    const gateways = new Map<string, ChildProcess>();
    for (const s of specs) {
      const config = {
        version: 1,
        ...(s.redisUrl ? { hotState: { redisUrl: s.redisUrl } } : {}),
        gateway: { port: port(s.name) },
        ...(s.route ? { identity } : {}),
        routes: [{ path: "/", upstream: upstreamUrl, ...s.route }],
      };
      const profiled = PROFILE_DIR && (s.name === "plain" || s.name === "session");
      const args = profiled ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [];
      gateways.set(s.name, startRampart(dir, s.name, config, args));
    }
    procs.push(...gateways.values());
    await waitUp(`${upstreamUrl}/`);
    for (const s of specs)
      await waitUp(`${origin(s.name)}/`, { anyStatus: true }).catch((err: unknown) => {
        throw new Error(
          `${(err as Error).message}: ${readFileSync(join(dir, `${s.name}.log`), "utf8").slice(-2000)}`,
        );
      });
    const gateway = (name: string) => gateways.get(name) as ChildProcess;

    progress("signing in through the gateway, fetching an access token");
    const session = async (name: string) => ({ cookie: await signIn(idp as TestIdp, origin(name), "alice") });
    const targets: Target[] = [
      {
        name: "(a) plain proxy, route without auth",
        url: `${origin("plain")}${USER_PATH}`,
        headers: {},
        gateway: gateway("plain"),
      },
      {
        name: "(b) SSO session + 20-rule policy",
        url: `${origin("session")}${USER_PATH}`,
        headers: await session("session"),
        user: "corp:alice",
        gateway: gateway("session"),
      },
      {
        name: "(c) service access token + policy",
        url: `${origin("token")}${SERVICE_PATH}`,
        headers: { authorization: `Bearer ${await accessToken(origin("token"))}` },
        user: "billing-worker",
        gateway: gateway("token"),
      },
    ];
    if (redis)
      targets.push(
        {
          name: "(d) API key + policy, Redis",
          url: `${origin("redis")}${SERVICE_PATH}`,
          headers: { authorization: `Bearer ${await apiKey(redis.url)}` },
          user: "billing-worker",
          gateway: gateway("redis"),
        },
        {
          name: "(e) SSO session + policy, Redis",
          url: `${origin("redis")}${USER_PATH}`,
          headers: await session("redis"),
          user: "corp:alice",
          gateway: gateway("redis"),
        },
      );
    if (BREAKDOWN)
      targets.push(
        {
          name: "(b1) = (b) without identity headers",
          url: `${origin("no-headers")}${USER_PATH}`,
          headers: await session("no-headers"),
          gateway: gateway("no-headers"),
        },
        {
          name: "(b2) = (b) with a 1-rule policy",
          url: `${origin("one-rule")}${USER_PATH}`,
          headers: await session("one-rule"),
          user: "corp:alice",
          gateway: gateway("one-rule"),
        },
      );
    for (const t of targets) await check(t);

    // Rounds take turns target by target, so a neighbour's load on the machine falls on every
    // target alike; each target's figures are those of its median round by req/s.
    const scripts = targets.map((t, i) => luaHeaders(dir, i, t.headers));
    const load = (i: number) => ({ seconds: SECONDS, connections: CONNECTIONS, script: scripts[i] });
    const served = targets.map(() => 0); // requests per target, for the profiles
    for (const [i, t] of targets.entries()) {
      progress(`warm-up GET ${t.name}: wrk ${SECONDS}s, ${CONNECTIONS} connections`);
      served[i] = wrk(t.url, load(i)).rps * SECONDS;
    }
    const rounds: { load: Load; cpuUs: number | undefined }[][] = targets.map(() => []);
    for (let r = 1; r <= REPEATS; r++)
      for (const [i, t] of targets.entries()) {
        progress(`round ${r}/${REPEATS} GET ${t.name}: wrk ${SECONDS}s, ${CONNECTIONS} connections`);
        const before = cpuMs(t.gateway.pid);
        const l = wrk(t.url, load(i));
        const after = cpuMs(t.gateway.pid);
        const cpuUs =
          before === undefined || after === undefined
            ? undefined
            : ((after - before) * 1000) / (l.rps * SECONDS);
        rounds[i]?.push({ load: l, cpuUs });
        served[i] = (served[i] ?? 0) + l.rps * SECONDS;
      }
    const median = <T>(xs: T[]) => xs[Math.floor(xs.length / 2)] as T;
    const results: Result[] = targets.map((t, i) => {
      const runs = rounds[i] ?? [];
      const byRps = runs.map((r) => r.load).sort((a, b) => a.rps - b.rps);
      const cpu = runs.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs])).sort((a, b) => a - b);
      return {
        target: t.name,
        ...median(byRps),
        rounds: byRps.map((l) => l.rps),
        ...(cpu.length === runs.length ? { cpuUsPerRequest: median(cpu) } : {}),
      };
    });
    const plain = results[0] as Result;
    for (const r of results.slice(1)) {
      r.cost = 1 - r.rps / plain.rps;
      if (r.cpuUsPerRequest !== undefined && plain.cpuUsPerRequest !== undefined)
        r.cpuCost = r.cpuUsPerRequest / plain.cpuUsPerRequest - 1;
    }

    progress("route policy evaluation (bench/identity/policy.ts)");
    const policy = policyBench();

    let profile: Profile | undefined;
    if (PROFILE_DIR) {
      const stopped = async (proc: ChildProcess, requests: number): Promise<ProfiledRun> => {
        proc.kill("SIGTERM");
        await exited(proc); // the profile is written on exit
        const file = readdirSync(PROFILE_DIR).find((f) => f.includes(`.${proc.pid}.`));
        if (!file) throw new Error(`no CPU profile of process ${proc.pid} in ${PROFILE_DIR}`);
        return { file: join(PROFILE_DIR, file), requests };
      };
      const anchor = await stopped(gateway("plain"), served[0] ?? 0);
      const guardedRun = await stopped(gateway("session"), served[1] ?? 0);
      profile = {
        plainUs: busyPerRequest(anchor),
        sessionUs: busyPerRequest(guardedRun),
        files: extraCpu(guardedRun, anchor, { by: "file", top: 12 }),
        functions: extraCpu(guardedRun, anchor, { top: 25 }),
      };
    }
    report(results, policy, upstream.kind, profile);
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    await Promise.all(procs.map(exited));
    await idp?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Profile {
  /** Busy CPU µs per request in the profiles of (a) and (b). */
  plainUs: number;
  sessionUs: number;
  files: ExtraCpu[];
  functions: ExtraCpu[];
}

const kilo = (x: number | undefined) => `${((x ?? 0) / 1000).toFixed(1)}k`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function report(
  results: Result[],
  policy: ReturnType<typeof policyBench>,
  upstream: string,
  profile: Profile | undefined,
): void {
  const checks = results
    .filter((r) => r.cost !== undefined)
    .map((r) => ({ target: r.target, cost: r.cost as number, pass: (r.cost as number) <= TARGET_COST }));
  if (json) {
    const out = {
      seconds: SECONDS,
      repeats: REPEATS,
      connections: CONNECTIONS,
      upstream,
      loadAverage1m: loadavg()[0],
      results,
      targetCost: TARGET_COST,
      checks,
      policy: { compiledNsPerOp: policy.compiledNs, anchorNsPerOp: policy.anchorNs, agree: policy.agree },
      ...(profile ? { profile } : {}),
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const row = (r: Result) =>
    [
      r.target.padEnd(40),
      Math.round(r.rps).toLocaleString("en").padStart(9),
      r.p50ms.toFixed(2).padStart(9),
      r.p99ms.toFixed(2).padStart(9),
      `${kilo(r.rounds[0])}–${kilo(r.rounds.at(-1))}`.padStart(15),
      (r.cost === undefined ? "anchor" : `${pct(r.cost)} ${r.cost <= TARGET_COST ? "✅" : "❌"}`).padStart(
        11,
      ),
      (r.cpuUsPerRequest?.toFixed(1) ?? "–").padStart(9),
      (r.cpuCost === undefined ? (r.cost === undefined ? "anchor" : "–") : `+${pct(r.cpuCost)}`).padStart(9),
    ].join("");
  const lines = [
    `Rampart identity benchmark — ${process.version}, ${cpu}, ${cpus().length} cores, load average ${(loadavg()[0] ?? 0).toFixed(2)}; wrk -t1 -c${CONNECTIONS} -d${SECONDS}s GET on loopback, median of ${REPEATS} interleaved rounds; upstream ${upstream}; gateway --workers 1`,
    "",
    [
      "target".padEnd(40),
      "req/s".padStart(9),
      "p50 ms".padStart(9),
      "p99 ms".padStart(9),
      "rounds req/s".padStart(15),
      "cost".padStart(11),
      "CPU µs".padStart(9),
      "CPU".padStart(9),
    ].join(""),
    ...results.map(row),
    "",
    `cost = 1 − req/s ÷ the plain proxy's, target <= ${TARGET_COST * 100}%. CPU µs = the gateway process's CPU time per request`,
    "(user + system, from /proc), and CPU = its excess over the plain proxy's: it moves less than req/s when",
    "other processes share the cores. Rows (d), (e): the gateway's hot state in Redis, as with several replicas.",
    "",
    ...policy.lines,
    ...(profile
      ? [
          "",
          `CPU profiles (startup included): ${profile.plainUs.toFixed(1)} µs per request in (a), ${profile.sessionUs.toFixed(1)} in (b).`,
          "Where (b) spends more per request than (a), self time, by file then by function (µs):",
          ...profile.files.map((f) => `  ${f.us.toFixed(2).padStart(7)}  ${f.where}`),
          "",
          ...profile.functions.map((f) => `  ${f.us.toFixed(2).padStart(7)}  ${f.where}`),
        ]
      : []),
    "",
    `SUMMARY: ${checks.filter((c) => c.pass).length}/${checks.length} identity rows within ${TARGET_COST * 100}% of the plain proxy; policy ${policy.compiledNs} ns/op (anchor ${policy.anchorNs} ns/op)${policy.agree ? "" : ", policy DISAGREES with its anchor"}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/identity: ${(err as Error).message}\n`);
  process.exit(1);
});
