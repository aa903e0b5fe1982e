// What the gateway decided reaches the event spine (one event per client, route and decision per
// interval, with a count) and Prometheus.
import { createServer } from "node:http";
import { Registry } from "prom-client";
import { expect, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { startGateway } from "../src/network/gateway/proxy.ts";
import { listenLocal } from "./support/services.ts";
import { type SecurityEvent, securityEventSchema } from "../src/platform/events/index.ts";

test("refusals become counted events and metrics; a flood is one event per client and route", async () => {
  const app = createServer((_req, res) => res.end("ok"));
  const upstream = await listenLocal(app);
  const events: SecurityEvent[] = [];
  const registry = new Registry();
  const gw = await startGateway({
    gateway: gatewayConfigSchema.parse({ port: 0, trustedProxies: ["127.0.0.1"] }),
    routes: [
      { path: "/admin", upstream, ipRules: { allow: ["10.0.0.0/8"] } },
      { path: "/login", upstream, rateLimits: [{ name: "per-ip", limit: 1, windowSeconds: 60 }] },
      { path: "/down", upstream: "http://127.0.0.1:9" },
    ].map((r) => routeConfigSchema.parse(r)),
    emit: (e) => events.push(e),
    registry,
    source: "gw-test",
  });
  const from = (ip: string, path: string) =>
    fetch(`${gw.url}${path}`, { headers: { "x-forwarded-for": ip } });
  try {
    for (let i = 0; i < 5; i++) expect((await from("198.51.100.7", "/admin")).status).toBe(403);
    expect((await from("198.51.100.8", "/admin")).status).toBe(403);
    for (let i = 0; i < 3; i++) await from("198.51.100.7", "/login");
    expect((await from("198.51.100.7", "/down")).status).toBe(502);
    const text = await registry.metrics();
    expect(text).toContain('rampart_gateway_decisions_total{route="*/admin",decision="ip_denied"} 6');
    expect(text).toContain('rampart_gateway_decisions_total{route="*/login",decision="rate_limited"} 2');
    expect(text).toContain('rampart_gateway_requests_total{route="*/login",code="2xx"} 1');
    expect(text).toMatch(/rampart_gateway_request_seconds_count\{route="\*\/admin"\} 6/);
    expect(text).toContain('rampart_gateway_upstream_healthy{route="*/login",upstream="' + upstream + '"} 1');
  } finally {
    await gw.close(); // sends what was counted
    app.close();
  }
  for (const e of events) securityEventSchema.parse(e);
  const summary = events.map((e) => [e.type, e.actor.id, e.target?.id, e.data.count, e.source]);
  expect(summary).toEqual(
    expect.arrayContaining([
      ["gateway.ip_denied", "198.51.100.7", "*/admin", 5, "gw-test"],
      ["gateway.ip_denied", "198.51.100.8", "*/admin", 1, "gw-test"],
      ["gateway.rate_limited", "198.51.100.7", "*/login", 2, "gw-test"],
      ["gateway.upstream_error", "198.51.100.7", "*/down", 1, "gw-test"],
    ]),
  );
  expect(events).toHaveLength(4);
  expect(events.find((e) => e.type === "gateway.rate_limited")?.data.detail).toBe("per-ip");
});
