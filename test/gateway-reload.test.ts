// A running `rampart gateway` follows its config file: routes and limits change without a restart,
// a request in flight finishes, an invalid file changes nothing, SIGHUP reloads, and replicas on one
// file agree on its fingerprint. Real processes, a real upstream, a real Redis.
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, expect, inject, test } from "vitest";
import { killAllRampartProcesses, type RampartProcess, startRampart } from "./support/processes.ts";
import { freePort, listenLocal } from "./support/services.ts";

const work = mkdtempSync(join(tmpdir(), "rampart-gw-reload-"));
afterAll(() => {
  killAllRampartProcesses();
  rmSync(work, { recursive: true, force: true });
});

/** An upstream that names itself and the path; `/slow` answers after `slowMs`. */
async function upstream(name: string, slowMs = 1500) {
  const app = createServer((req, res) => {
    if (req.url === "/slow/") {
      setTimeout(() => res.end(`${name} slow done`), slowMs);
      return;
    }
    res.end(`${name} ${req.url}`);
  });
  const url = await listenLocal(app);
  return { url, close: () => app.close() };
}

/** Writes the file the way Kubernetes updates a mounted ConfigMap: a new file renamed over the old. */
function writeConfig(file: string, lines: string[]): void {
  const temp = `${file}.tmp`;
  writeFileSync(temp, `${lines.join("\n")}\n`);
  renameSync(temp, file);
}

interface LogLine {
  msg: string;
  routes?: number;
  fingerprint?: string;
  issues?: string[];
  settings?: string[];
  restartRequired?: string[];
}

function logLines(p: RampartProcess): LogLine[] {
  return p
    .stderr()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine);
}

const reloadsOf = (p: RampartProcess) => logLines(p).filter((l) => l.msg === "gateway config reloaded");

async function until<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  ms = 2000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await check();
    if (got !== undefined && got !== false) return got;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(25);
  }
}

async function startGateway(dir: string, port: number, extra: string[] = []): Promise<RampartProcess> {
  return startRampart(["gateway", "-c", "gateway.yaml", "--gateway-port", String(port), ...extra], {
    cwd: dir,
    ready: `http://127.0.0.1:${port}/`,
    env: { RAMPART_LOG_LEVEL: "info" },
    // Three processes start at once under --workers: give a loaded machine time.
    timeoutMs: 90_000,
  });
}

/** One test's gateway: its own directory and config file, started on a free port; `write` changes the file. */
async function gatewayOn(name: string, lines: string[], extra: string[] = []) {
  const dir = join(work, name);
  mkdirSync(dir);
  const file = join(dir, "gateway.yaml");
  writeConfig(file, lines);
  const port = await freePort();
  const gw = await startGateway(dir, port, extra);
  return { gw, base: `http://127.0.0.1:${port}`, write: (next: string[]) => writeConfig(file, next) };
}

/**
 * A route whose upstream URL comes from a file outside the config's directory (`${file:…}`), which
 * the file watch does not see; `point(url)` rewrites it.
 */
function referencedUpstream(name: string, url: string) {
  const refs = join(work, `${name}-refs`);
  mkdirSync(refs);
  const point = (to: string) => writeFileSync(join(refs, "upstream.txt"), `${to}\n`);
  point(url);
  return {
    lines: ["version: 1", "routes:", "  - path: /", `    upstream: \${file:../${name}-refs/upstream.txt}`],
    point,
  };
}

const get = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
};

test("a new route and a changed rate limit apply within 2 s, in the same process", async () => {
  const app = await upstream("app");
  const metricsPort = await freePort();
  const head = ["version: 1", `gateway: { metrics: { port: ${metricsPort} } }`, "routes:"];
  const limited = (limit: number) => [
    "  - path: /a",
    `    upstream: ${app.url}`,
    `    rateLimits: [{ name: per-ip, limit: ${limit}, windowSeconds: 60 }]`,
  ];
  const { gw, base, write } = await gatewayOn("a", [...head, ...limited(2)]);
  const pid = gw.child.pid;
  const fingerprintMetric = async () =>
    /rampart_gateway_config_info\{fingerprint="([0-9a-f]{12})"\} 1/.exec(
      await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
    )?.[1];
  try {
    const first = await fingerprintMetric();
    expect(first).toMatch(/^[0-9a-f]{12}$/);
    expect((await get(`${base}/a/x`)).status).toBe(200);
    expect((await get(`${base}/a/x`)).status).toBe(200);
    expect((await get(`${base}/a/x`)).status).toBe(429);
    expect((await get(`${base}/b/y`)).status).toBe(404);

    write([...head, ...limited(100), "  - path: /b", `    upstream: ${app.url}`]);
    const started = Date.now();
    await until("route /b served", async () => (await get(`${base}/b/y`)).status === 200 || undefined);
    await until(
      "the raised limit admits /a",
      async () => (await get(`${base}/a/x`)).status === 200 || undefined,
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await get(`${base}/b/y`)).toEqual({ status: 200, body: "app /b/y" });

    expect(gw.child.pid).toBe(pid);
    expect(gw.child.exitCode).toBeNull();
    const [reloaded] = reloadsOf(gw);
    expect(reloaded?.routes).toBe(2);
    expect(reloaded?.fingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect(reloaded?.fingerprint).not.toBe(first);
    expect(await fingerprintMetric()).toBe(reloaded?.fingerprint);
    expect(logLines(gw).filter((l) => l.msg === "rampart gateway listening")).toHaveLength(1);
  } finally {
    expect(await gw.stop()).toBe(0);
    app.close();
  }
}, 180_000);

test("a request in flight during a reload completes, though the reload removed its route", async () => {
  const app = await upstream("app");
  const { gw, base, write } = await gatewayOn("b", [
    "version: 1",
    "routes:",
    "  - path: /slow",
    `    upstream: ${app.url}`,
  ]);
  try {
    const slow = get(`${base}/slow/`);
    await sleep(200); // admitted and waiting on the upstream
    write(["version: 1", "routes:", "  - path: /fast", `    upstream: ${app.url}`]);
    await until("the reload", () => reloadsOf(gw)[0]);
    // The new config is in force while the old request is still waiting on its upstream.
    expect((await get(`${base}/fast/z`)).status).toBe(200);
    expect((await get(`${base}/slow/`)).status).toBe(404);
    expect(await slow).toEqual({ status: 200, body: "app slow done" });
  } finally {
    expect(await gw.stop()).toBe(0);
    app.close();
  }
}, 180_000);

test("an invalid file keeps the running routes and is reported once, with file:line:column", async () => {
  const app = await upstream("app");
  const { gw, base, write } = await gatewayOn("c", [
    "version: 1",
    "routes:",
    "  - path: /a",
    `    upstream: ${app.url}`,
  ]);
  const bad = ["version: 1", "routes:", "  - path: /b", "    upstream: not a url"];
  try {
    write(bad);
    const rejected = await until("the rejection", () =>
      logLines(gw).find((l) => l.msg === "new gateway config rejected; keeping the running one"),
    );
    expect(rejected.issues?.[0]).toMatch(/^gateway\.yaml:4:15 routes\[0\]\.upstream: /);
    // The same bad file written again is not reported again.
    write(bad);
    await sleep(500);
    expect(logLines(gw).filter((l) => l.msg === rejected.msg)).toHaveLength(1);
    expect(await get(`${base}/a/1`)).toEqual({ status: 200, body: "app /a/1" });
    expect((await get(`${base}/b/1`)).status).toBe(404);
    expect(reloadsOf(gw)).toHaveLength(0);
    // Fixed: applied.
    write(["version: 1", "routes:", "  - path: /b", `    upstream: ${app.url}`]);
    await until("the fixed file applied", async () => (await get(`${base}/b/1`)).status === 200 || undefined);
  } finally {
    expect(await gw.stop()).toBe(0);
    app.close();
  }
}, 180_000);

test("SIGHUP reloads what the file watch cannot see (a referenced file elsewhere)", async () => {
  const [one, two] = [await upstream("one"), await upstream("two")];
  const ref = referencedUpstream("d", one.url);
  const { gw, base } = await gatewayOn("d", ref.lines);
  try {
    expect((await get(`${base}/p`)).body).toBe("one /p");
    ref.point(two.url);
    await sleep(500);
    expect((await get(`${base}/p`)).body).toBe("one /p"); // not watched: nothing changed yet
    gw.child.kill("SIGHUP");
    await until("the SIGHUP reload", async () => (await get(`${base}/p`)).body === "two /p" || undefined);
    expect(reloadsOf(gw)).toHaveLength(1);
    expect(gw.child.exitCode).toBeNull();
  } finally {
    expect(await gw.stop()).toBe(0);
    one.close();
    two.close();
  }
}, 180_000);

test("two gateways on one file and one Redis both apply a change, with the same fingerprint", async () => {
  const dir = join(work, "e");
  mkdirSync(dir);
  const app = await upstream("app");
  const [p1, p2] = [await freePort(), await freePort()];
  const file = join(dir, "gateway.yaml");
  const head = ["version: 1", `hotState: { redisUrl: "${inject("redisUrl")}" }`, "routes:"];
  // The limit is counted in Redis: the two replicas share it.
  const route = (path: string, limit: number) => [
    `  - path: ${path}`,
    `    upstream: ${app.url}`,
    `    rateLimits: [{ name: shared, limit: ${limit}, windowSeconds: 60 }]`,
  ];
  const tag = `/r${Date.now()}`;
  writeConfig(file, [...head, ...route(`${tag}a`, 100)]);
  const [g1, g2] = await Promise.all([startGateway(dir, p1), startGateway(dir, p2)]);
  try {
    writeConfig(file, [...head, ...route(`${tag}a`, 100), ...route(`${tag}b`, 2)]);
    const [r1, r2] = await Promise.all([
      until("gateway 1 reloaded", () => reloadsOf(g1)[0]),
      until("gateway 2 reloaded", () => reloadsOf(g2)[0]),
    ]);
    expect(r1.fingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect(r1.fingerprint).toBe(r2.fingerprint);
    expect(r1.routes).toBe(2);
    // The new route's limit of 2 holds across both replicas.
    expect((await get(`http://127.0.0.1:${p1}${tag}b/1`)).status).toBe(200);
    expect((await get(`http://127.0.0.1:${p2}${tag}b/1`)).status).toBe(200);
    expect((await get(`http://127.0.0.1:${p1}${tag}b/1`)).status).toBe(429);
    expect((await get(`http://127.0.0.1:${p2}${tag}b/1`)).status).toBe(429);
  } finally {
    expect(await g1.stop()).toBe(0);
    expect(await g2.stop()).toBe(0);
    app.close();
  }
}, 180_000);

test("under --workers, SIGHUP to the primary reloads every worker", async () => {
  const [one, two] = [await upstream("one"), await upstream("two")];
  const ref = referencedUpstream("f", one.url);
  const { gw, base } = await gatewayOn("f", ref.lines, ["--workers", "2"]);
  await until(
    "both workers listening",
    () => logLines(gw).filter((l) => l.msg === "rampart gateway listening").length === 2 || undefined,
    60_000,
  );
  try {
    ref.point(two.url);
    gw.child.kill("SIGHUP");
    const reloads = await until("both workers reloaded", () => {
      const r = reloadsOf(gw);
      return r.length === 2 ? r : undefined;
    });
    expect(reloads[0]?.fingerprint).toBe(reloads[1]?.fingerprint);
    // Whichever worker answers, it answers from the new upstream.
    for (let i = 0; i < 6; i++) expect((await get(`${base}/w${i}`)).body).toBe(`two /w${i}`);
    expect(gw.child.exitCode).toBeNull();
  } finally {
    expect(await gw.stop()).toBe(0);
    one.close();
    two.close();
  }
}, 180_000);

test("rampart up: when its server reloads the file, the embedded gateway applies it", async () => {
  const dir = join(work, "up");
  mkdirSync(dir);
  const app = await upstream("app");
  const [port, gatewayPort] = [await freePort(), await freePort()];
  const file = join(dir, "gateway.yaml");
  const head = ["version: 1", `database: { dataDir: "${join(dir, "data")}" }`, "routes:"];
  writeConfig(file, [...head, "  - path: /one", `    upstream: ${app.url}`]);
  const up = await startRampart(
    ["up", "-c", "gateway.yaml", "--port", String(port), "--gateway-port", String(gatewayPort)],
    {
      cwd: dir,
      ready: `http://127.0.0.1:${gatewayPort}/`,
      env: { RAMPART_LOG_LEVEL: "info" },
      timeoutMs: 90_000,
    },
  );
  const base = `http://127.0.0.1:${gatewayPort}`;
  try {
    expect(await get(`${base}/one/a`)).toEqual({ status: 200, body: "app /one/a" });
    expect((await get(`${base}/two/a`)).status).toBe(404);
    writeConfig(file, [...head, "  - path: /two", `    upstream: ${app.url}`]);
    await until(
      "the gateway serving /two",
      async () => (await get(`${base}/two/a`)).status === 200 || undefined,
      5000,
    );
    expect((await get(`${base}/one/a`)).status).toBe(404);
    expect(reloadsOf(up)[0]?.routes).toBe(1);
  } finally {
    expect(await up.stop()).toBe(0);
    app.close();
  }
}, 180_000);
