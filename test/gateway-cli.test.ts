// `rampart gateway -c FILE` as an operator runs it: routes from the file, a clear error for a busy
// port, a clean stop on SIGTERM.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, inject, test } from "vitest";
import { createBlockList } from "../src/network/gateway/blocks.ts";
import { systemClock } from "../src/platform/clock.ts";
import { createRedisHotState } from "../src/platform/hotstate/index.ts";
import { rampart } from "./support/cli.ts";
import { freePort } from "./support/services.ts";

const bin = fileURLToPath(new URL("../bin/rampart.js", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "rampart-gw-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `rampart gateway -c CONFIG --workers 2`, with what it logs so far and its exit code. */
function startWorkers(config: string) {
  const child = spawn(process.execPath, [bin, "gateway", "-c", config, "--workers", "2"], {
    cwd: work,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let text = "";
  child.stderr.on("data", (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { child, log: () => text, exited };
}

test("rampart gateway serves the file's routes, refuses a busy port clearly, and stops on SIGTERM", async () => {
  const app = createServer((req, res) => res.end(`app saw ${req.url}`));
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  const port = await freePort();
  const config = join(work, "rampart.yaml");
  writeFileSync(
    config,
    `version: 1\ngateway:\n  port: ${port}\nroutes:\n  - path: /shop\n    upstream: http://127.0.0.1:${(app.address() as AddressInfo).port}\n`,
  );
  const child = spawn(process.execPath, [bin, "gateway", "-c", config], { cwd: work, stdio: "ignore" });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    let res: Response | undefined;
    for (let i = 0; i < 100 && !res; i++) {
      res = await fetch(`http://127.0.0.1:${port}/shop/cart`).catch(() => undefined);
      if (!res) await new Promise((r) => setTimeout(r, 100));
    }
    expect(await res?.text()).toBe("app saw /shop/cart");
    expect((await fetch(`http://127.0.0.1:${port}/elsewhere`)).status).toBe(404);

    const busy = await rampart(["gateway", "-c", config], { cwd: work });
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toContain(
      `127.0.0.1:${port} is already in use; set gateway.port or pass --gateway-port`,
    );
  } finally {
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    app.close();
  }
}, 60_000);

test("two gateway processes on one Redis share a client's rate limit and dynamic blocks", async () => {
  const app = createServer((_req, res) => res.end("ok"));
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  const path = `/shared-${Date.now()}`; // the route name is part of the key: a fresh budget
  const config = join(work, "shared.yaml");
  writeFileSync(
    config,
    [
      "version: 1",
      "hotState:",
      `  redisUrl: ${inject("redisUrl")}`,
      "gateway:",
      "  trustedProxies: [127.0.0.1]",
      "routes:",
      `  - path: ${path}`,
      `    upstream: http://127.0.0.1:${(app.address() as AddressInfo).port}`,
      "    rateLimits:",
      "      - { name: per-ip, limit: 3, windowSeconds: 60 }",
      "",
    ].join("\n"),
  );
  const ports = [await freePort(), await freePort()];
  const children = ports.map((p) =>
    spawn(process.execPath, [bin, "gateway", "-c", config, "--gateway-port", String(p)], {
      cwd: work,
      stdio: "ignore",
    }),
  );
  const exits = children.map((c) => new Promise<number | null>((resolve) => c.once("exit", resolve)));
  try {
    const up = async (port: number) => {
      for (let i = 0; i < 100; i++) {
        if (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await Promise.all(ports.map(up));
    const codes: number[] = [];
    for (const port of [ports[0], ports[1], ports[0], ports[1]])
      codes.push((await fetch(`http://127.0.0.1:${port}${path}`)).status);
    expect(codes).toEqual([200, 200, 200, 429]);

    // A block set in Redis (as the control plane does) reaches both processes.
    const hot = createRedisHotState({ url: inject("redisUrl") });
    const blocks = createBlockList(hot, { clock: systemClock });
    const client = { "x-forwarded-for": "192.0.2.44" };
    await blocks.add({ target: "192.0.2.44", ttlSeconds: 60, reason: "test", by: "test" });
    try {
      for (const port of ports)
        await expect
          .poll(async () => (await fetch(`http://127.0.0.1:${port}${path}`, { headers: client })).status)
          .toBe(403);
    } finally {
      await blocks.remove("192.0.2.44");
      await hot.close();
    }
  } finally {
    for (const c of children) c.kill("SIGTERM");
    expect(await Promise.all(exits)).toEqual([0, 0]);
    app.close();
  }
}, 60_000);

test("--workers 2 runs two gateway processes on one port, replaces one that dies, and stops both", async () => {
  const app = createServer((_req, res) => res.end("ok"));
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  const port = await freePort();
  const config = join(work, "workers.yaml");
  writeFileSync(
    config,
    `version: 1\ngateway:\n  port: ${port}\nroutes:\n  - path: /\n    upstream: http://127.0.0.1:${(app.address() as AddressInfo).port}\n`,
  );
  const { child, log, exited } = startWorkers(config);
  const workerPids = () => {
    try {
      return execFileSync("ps", ["-o", "pid=", "--ppid", String(child.pid)], { encoding: "utf8" })
        .split("\n")
        .map((l) => Number(l.trim()))
        .filter((n) => n > 0);
    } catch {
      return []; // ps exits 1 when no process matches
    }
  };
  try {
    // The primary says so once every worker listens.
    await expect.poll(log, { timeout: 20_000 }).toContain("rampart gateway workers listening");
    expect(workerPids()).toHaveLength(2);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    const [first] = workerPids();
    process.kill(first as number, "SIGKILL");
    await expect.poll(() => workerPids().filter((p) => p !== first).length, { timeout: 20_000 }).toBe(2);
    for (let i = 0; i < 10; i++) expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
  } finally {
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    app.close();
  }
  expect(workerPids()).toEqual([]);
}, 60_000);

test("--workers refuses a count it cannot use, and per-process rate limits without Redis", async () => {
  const config = join(work, "limits.yaml");
  writeFileSync(
    config,
    "version: 1\nroutes:\n  - path: /\n    upstream: http://127.0.0.1:9\n    rateLimits: [{ name: per-ip, limit: 5, windowSeconds: 60 }]\n",
  );
  const zero = await rampart(["gateway", "-c", config, "--workers", "0"], { cwd: work });
  expect(zero.code).not.toBe(0);
  expect(zero.stderr).toContain('--workers: expected a number of processes from 1 to 256, or "auto"; got 0');
  const limits = await rampart(["gateway", "-c", config, "--workers", "2"], { cwd: work });
  expect(limits.code).not.toBe(0);
  expect(limits.stderr).toContain("rate limits would count per process; set hotState.redisUrl");
});

/** A config file routing /shop to `app` (started here), with a proxy port and a metrics port. */
async function shopWithMetrics(name: string, app: Server) {
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  const [port, metricsPort] = [await freePort(), await freePort()];
  const config = join(work, name);
  writeFileSync(
    config,
    [
      "version: 1",
      "gateway:",
      `  port: ${port}`,
      `  metrics: { port: ${metricsPort} }`,
      "routes:",
      "  - path: /shop",
      `    upstream: http://127.0.0.1:${(app.address() as AddressInfo).port}`,
      "",
    ].join("\n"),
  );
  return { config, port, metricsPort };
}

test("gateway.metrics serves Prometheus metrics apart from the proxy port, summed over --workers", async () => {
  const app = createServer((_req, res) => res.end("ok"));
  const { config, port, metricsPort } = await shopWithMetrics("metrics.yaml", app);
  const { child, log, exited } = startWorkers(config);
  try {
    await expect.poll(log, { timeout: 20_000 }).toContain("gateway metrics");
    for (let i = 0; i < 12; i++) expect((await fetch(`http://127.0.0.1:${port}/shop/${i}`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404); // not on the proxy port
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    // Whichever worker answered each request, the primary reports the sum over both.
    expect(text).toMatch(/rampart_gateway_requests_total\{route="\*\/shop",code="2xx"\} 12\n/);
    expect(text).toContain("rampart_gateway_request_seconds_bucket");
    expect((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status).toBe(404);
    // The primary is ready while its workers serve.
    expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(200);
  } finally {
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    app.close();
  }
}, 60_000);

test("the metrics listener answers probes: /healthz, and /readyz turns 503 while a stop drains requests", async () => {
  // The upstream answers /slow after 4 s: a request in flight when the stop begins.
  const app = createServer((req, res) => {
    if (req.url === "/shop/slow") setTimeout(() => res.end("slow done"), 4000);
    else res.end("ok");
  });
  const { config, port, metricsPort } = await shopWithMetrics("probes.yaml", app);
  const child = spawn(process.execPath, [bin, "gateway", "-c", config], { cwd: work, stdio: "ignore" });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const probe = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}${path}`);
    return `${res.status} ${(await res.text()).trim()}`;
  };
  try {
    await expect.poll(() => probe("/readyz").catch(() => ""), { timeout: 20_000 }).toBe("200 ready");
    expect(await probe("/healthz")).toBe("200 ok");
    const slow = fetch(`http://127.0.0.1:${port}/shop/slow`).then(
      async (r) => `${r.status} ${await r.text()}`,
    );
    await new Promise((r) => setTimeout(r, 300)); // admitted, waiting on the upstream
    child.kill("SIGTERM");
    // Draining: a load balancer's readiness check now takes the replica out of rotation.
    await expect.poll(() => probe("/readyz"), { timeout: 3000 }).toBe("503 not ready");
    expect(await slow).toBe("200 slow done");
    expect(await exited).toBe(0);
  } finally {
    child.kill("SIGKILL");
    app.close();
  }
}, 60_000);
