// Reloading a running gateway many times leaks nothing: each retired pipeline closes its upstream
// pools (the upstream sees its connections end), its decision recorder's timer, its identity step
// and its rate-limit fallback, and the Prometheus metrics are registered once.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Registry } from "prom-client";
import { expect, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../../config/index.ts";
import { identityConfigSchema } from "../../identity/index.ts";
import { startGateway } from "./proxy.ts";

/** Intervals set and not yet cleared (the gateway's unref'd timers keep no loop alive, so count them). */
function trackIntervals(): { live: () => number; restore: () => void } {
  const live = new Set<unknown>();
  const set = globalThis.setInterval;
  const clear = globalThis.clearInterval;
  globalThis.setInterval = ((...args: Parameters<typeof set>) => {
    const t = set(...args);
    live.add(t);
    return t;
  }) as typeof set;
  globalThis.clearInterval = ((t: Parameters<typeof clear>[0]) => {
    live.delete(t);
    clear(t);
  }) as typeof clear;
  return {
    live: () => live.size,
    restore: () => {
      globalThis.setInterval = set;
      globalThis.clearInterval = clear;
    },
  };
}

test("100 reloads that rebuild every part leave pools, sockets and timers at their baseline", async () => {
  // Idle connections stay open on the upstream's side: only the gateway closing its pools ends them.
  const upstream = createServer({ keepAliveTimeout: 120_000 }, (req, res) => res.end(`up ${req.url}`));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const connections = () => new Promise<number>((r) => upstream.getConnections((_e, n) => r(n)));

  // Every reload changes what each shared part is keyed on, so each one is built anew and the
  // previous one must be closed.
  const config = (i: number) => ({
    gateway: gatewayConfigSchema.parse({
      port: 0,
      eventIntervalSeconds: 10 + (i % 2),
      bots: { cookieSecret: `${i % 2}`.repeat(32) },
    }),
    routes: [
      routeConfigSchema.parse({
        path: "/a",
        upstream: origin,
        rateLimits: [{ name: "per-ip", limit: 1000 + i, windowSeconds: 60 }],
        bots: { action: "allow" },
      }),
      routeConfigSchema.parse({ path: `/r${i % 3}`, upstream: origin }),
    ],
    identity: {
      identity: identityConfigSchema.parse({
        serviceAccounts: [{ name: "svc-reload" }],
        sessions: { idleTimeoutMinutes: 30 + (i % 2) },
      }),
      rbac: {},
    },
  });
  const first = config(0);
  const registry = new Registry();
  const intervals = trackIntervals();
  const gateway = await startGateway({ ...first, registry });
  try {
    const hit = async (path: string) => {
      const res = await fetch(`${gateway.url}${path}`, { headers: { "user-agent": "Mozilla/5.0 (X11)" } });
      return { status: res.status, body: await res.text() };
    };
    expect(await hit("/a/0")).toEqual({ status: 200, body: "up /a/0" });
    expect((await hit("/r0/x")).status).toBe(200);
    await sleep(50);
    const baseIntervals = intervals.live();
    const baseConnections = await connections();
    expect(baseIntervals).toBeGreaterThan(0);
    expect(baseConnections).toBe(2); // one per route's pool

    for (let i = 1; i <= 100; i++) {
      const result = await gateway.reload(config(i));
      expect(result).toEqual({ routes: 2, restartRequired: [] });
      // A request through each new pipeline opens a pooled connection to the upstream.
      expect(await hit(`/a/${i}`)).toEqual({ status: 200, body: `up /a/${i}` });
      expect((await hit(`/r${i % 3}/x`)).status).toBe(200);
    }
    // Only the pipeline in force keeps connections open; every retired pool has ended its own.
    await expect.poll(connections, { timeout: 2000 }).toBeLessThanOrEqual(baseConnections);
    await expect.poll(intervals.live, { timeout: 2000 }).toBeLessThanOrEqual(baseIntervals);
    // One set of metric families, whatever the number of reloads.
    const text = await registry.metrics();
    expect(text.match(/^# TYPE rampart_gateway_requests_total counter$/gm)).toHaveLength(1);
    expect(text).toContain('rampart_gateway_requests_total{route="*/a",code="2xx"} 101');
  } finally {
    await gateway.close();
    intervals.restore();
    upstream.close();
  }
  expect(intervals.live()).toBe(0);
}, 60_000);

test("listener settings keep their start-up values and are named; a config that cannot be built changes nothing", async () => {
  const upstream = createServer((req, res) => res.end(`up ${req.url}`));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const gateway = await startGateway({
    gateway: gatewayConfigSchema.parse({ port: 0 }),
    routes: [routeConfigSchema.parse({ path: "/a", upstream: origin })],
  });
  try {
    const changed = await gateway.reload({
      gateway: gatewayConfigSchema.parse({ port: 1, maxHeaderBytes: 4096, maxBodyBytes: 10 }),
      routes: [routeConfigSchema.parse({ path: "/a", upstream: origin })],
    });
    expect(changed.restartRequired).toEqual(["gateway.port", "gateway.maxHeaderBytes"]);
    // The rest applied: the smaller body limit holds on the same listener.
    const big = await fetch(`${gateway.url}/a/x`, { method: "POST", body: "x".repeat(100) });
    expect(big.status).toBe(413);

    await expect(
      gateway.reload({
        routes: [
          routeConfigSchema.parse({
            path: "/b",
            upstream: origin.replace("http:", "https:"),
            upstreamTls: { caFile: "missing-ca.pem" },
          }),
        ],
      }),
    ).rejects.toThrow(/missing-ca\.pem/);
    expect((await fetch(`${gateway.url}/a/y`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/b/y`)).status).toBe(404);
  } finally {
    await gateway.close();
    upstream.close();
  }
});
