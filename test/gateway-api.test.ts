// The edge's read API against a real server: gateway decision events seeded through the event bus
// land in the audit log, and the API counts them per decision per hour, ranks the refused clients,
// counts countries and lists the latest; WAF detections become the tuner's proposed exclusion as
// YAML; the routes answer summarises policies without a route's secrets; roles without the action
// are refused.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse } from "yaml";
import { newEvent, type SecurityEvent } from "../src/platform/events/index.ts";
import { startTestServer, type TestServer } from "./support/api.ts";

let t: TestServer;
let developer: string;
let privacy: string;
/** The top of the current hour: seeded events sit in whole hours before it. */
let hour: number;

const UPSTREAM_PASSWORD = "upstream-pa55word-do-not-show";
const UPSTREAM_TOKEN = "query-token-do-not-show";

const decision = (
  type: string,
  client: string,
  route: string,
  count: number,
  hoursAgo: number,
  detail?: string,
): SecurityEvent =>
  newEvent({
    type: `gateway.${type}`,
    time: new Date(hour - hoursAgo * 3_600_000 + 60_000).toISOString(),
    severity: "medium",
    outcome: type === "waf_detected" ? "success" : "denied",
    actor: { kind: "ip", id: client },
    target: { kind: "route", id: route },
    data: { count, ...(detail ? { detail } : {}) },
  });

beforeAll(async () => {
  t = await startTestServer({
    name: "gateway-api",
    config: {
      rbac: {
        bindings: [
          { role: "developer", users: ["corp:dev"] },
          { role: "privacy-officer", users: ["corp:dpo"] },
        ],
      },
      routes: [
        {
          id: "shop",
          path: "/",
          upstream: `http://svc:${UPSTREAM_PASSWORD}@127.0.0.1:9/base?token=${UPSTREAM_TOKEN}`,
          waf: { mode: "detect", exclusions: [{ rules: ["xss-script-tag"], targets: ["ARGS:bio"] }] },
          rateLimits: [{ name: "per-ip", limit: 100, windowSeconds: 60 }],
          geo: { deny: ["RU"] },
          ipRules: { deny: ["198.51.100.0/24"] },
          bots: { action: "challenge" },
        },
        {
          host: "admin.example.com",
          path: "/",
          upstreams: ["http://127.0.0.1:9", "http://127.0.0.1:10"],
          environment: "prod",
          auth: { accept: ["api-key"] },
          policy: { rules: [{ allow: { roles: ["admin"] } }] },
        },
      ],
    },
  });
  developer = (await t.apiKeyFor("corp:dev")).key;
  privacy = (await t.apiKeyFor("corp:dpo")).key;
  hour = Math.floor(t.server.runtime.clock.now().getTime() / 3_600_000) * 3_600_000;
  const sqli = "sqli-tautology@ARGS:q score=5";
  const events = [
    decision("rate_limited", "203.0.113.9", "shop", 40, 2),
    decision("rate_limited", "203.0.113.9", "shop", 25, 1),
    decision("rate_limited", "203.0.113.20", "shop", 3, 1),
    decision("geo_denied", "192.0.2.77", "shop", 4, 1, "RU"),
    decision("country_blocked", "192.0.2.78", "shop", 2, 0, "country:CN"),
    decision("ip_denied", "198.51.100.5", "shop", 7, 0),
    decision("auth_required", "192.0.2.200", "admin.example.com/", 9, 0),
    // Four clients search for SQL (a false positive); the tuner proposes excluding it.
    ...[1, 2, 3, 4].map((i) => decision("waf_detected", `203.0.113.${i}`, "shop", 2, 1, sqli)),
    // Already excluded in the config: not proposed again.
    ...[5, 6, 7].map((i) =>
      decision("waf_detected", `203.0.113.${i}`, "shop", 2, 1, "xss-script-tag@ARGS:bio score=5"),
    ),
    // Not a decision: an operator's block is not counted with them.
    newEvent({
      type: "gateway.block_added",
      actor: { kind: "user", id: "ops" },
      target: { kind: "ip", id: "203.0.113.9" },
    }),
  ];
  const bus = t.server.runtime.bus;
  expect((await bus.publish(events, { batchId: "gateway-api-seed-1" })).duplicate).toBe(false);
  await bus.flush();
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

describe("GET /api/v1/gateway/decisions", () => {
  test("counts per decision per hour, top refused clients, countries and the latest", async () => {
    const r = await t.call("GET", "/api/v1/gateway/decisions?since=3h&bucket=1h", t.admin);
    expect(r.status).toBe(200);
    const body = r.json as unknown as {
      bucketSeconds: number;
      truncated: boolean;
      totals: Record<string, number>;
      buckets: { start: string; counts: Record<string, number> }[];
      topClients: { address: string; count: number; lastSeen: string; decisions: Record<string, number> }[];
      countries: { country: string; count: number }[];
      latest: { decision: string; route: string; client: string; count: number }[];
    };
    expect(body.bucketSeconds).toBe(3600);
    expect(body.truncated).toBe(false);
    expect(body.totals).toEqual({
      rate_limited: 68,
      geo_denied: 4,
      country_blocked: 2,
      ip_denied: 7,
      auth_required: 9,
      waf_detected: 14,
    });
    const at = (hoursAgo: number) =>
      body.buckets.find((b) => b.start === new Date(hour - hoursAgo * 3_600_000).toISOString())?.counts;
    expect(at(2)).toEqual({ rate_limited: 40 });
    expect(at(1)).toEqual({ rate_limited: 28, geo_denied: 4, waf_detected: 14 });
    expect(at(0)).toEqual({ country_blocked: 2, ip_denied: 7, auth_required: 9 });

    // Refusals only: detections and sign-in prompts do not make a client "blocked".
    expect(body.topClients[0]).toEqual({
      address: "203.0.113.9",
      count: 65,
      lastSeen: new Date(hour - 3_600_000 + 60_000).toISOString(),
      decisions: { rate_limited: 65 },
    });
    expect(body.topClients.map((c) => c.address)).toEqual([
      "203.0.113.9",
      "198.51.100.5",
      "192.0.2.77",
      "203.0.113.20",
      "192.0.2.78",
    ]);
    expect(body.countries).toEqual([
      { country: "RU", count: 4 },
      { country: "CN", count: 2 },
    ]);
    expect(body.latest).toHaveLength(14);
    expect(
      body.latest
        .slice(0, 3)
        .map((l) => l.decision)
        .sort(),
    ).toEqual(["auth_required", "country_blocked", "ip_denied"]);

    // One route only.
    const admin = await t.call(
      "GET",
      `/api/v1/gateway/decisions?since=3h&route=${encodeURIComponent("admin.example.com/")}`,
      t.admin,
    );
    expect(admin.json.totals).toEqual({ auth_required: 9 });
  });

  test("a bad window or bucket is a 400 naming the parameter", async () => {
    for (const [query, where] of [
      ["since=yesterday", "since"],
      ["since=90d", "since"],
      ["bucket=10s", "bucket"],
      ["since=30d&bucket=1h", "bucket"],
      ["colour=red", "query"],
    ] as const) {
      const r = await t.call("GET", `/api/v1/gateway/decisions?${query}`, t.admin);
      expect(r.status, query).toBe(400);
      expect(r.json.message, query).toContain(where === "query" ? "colour" : where);
    }
  });

  test("a role without gateway:blocks:read is refused", async () => {
    const r = await t.call("GET", "/api/v1/gateway/decisions", developer);
    expect(r.status).toBe(403);
    expect(r.json.message).toContain("gateway:blocks:read");
    expect((await t.call("GET", "/api/v1/gateway/waf/proposals", developer)).status).toBe(403);
  });
});

describe("GET /api/v1/gateway/waf/proposals", () => {
  test("rule hits per route and the exclusion tune proposes, as YAML to paste", async () => {
    const r = await t.call("GET", "/api/v1/gateway/waf/proposals?since=1d", t.admin);
    expect(r.status).toBe(200);
    const body = r.json as unknown as {
      events: number;
      requests: number;
      routes: {
        route: string;
        proposed: { rule: string; target: string; requests: number; clients: number }[];
        notProposed: { rule: string; reason: string }[];
        yaml: string | null;
      }[];
    };
    expect(body.events).toBe(7);
    expect(body.requests).toBe(14);
    const shop = body.routes.find((x) => x.route === "shop");
    expect(shop?.proposed).toEqual([
      expect.objectContaining({ rule: "sqli-tautology", target: "ARGS:q", requests: 8, clients: 4 }),
    ]);
    expect(shop?.notProposed).toEqual([
      expect.objectContaining({ rule: "xss-script-tag", reason: "already excluded in the config" }),
    ]);
    expect((parse(shop?.yaml ?? "") as { exclusions: unknown }).exclusions).toEqual([
      { rules: ["sqli-tautology"], targets: ["ARGS:q"] },
    ]);
    expect(shop?.yaml).toContain("# 8 requests from 4 clients");
  });
});

describe("GET /api/v1/gateway/routes", () => {
  test("each route's policies in brief, with no credential of its upstream", async () => {
    const r = await t.call("GET", "/api/v1/gateway/routes", developer);
    expect(r.status).toBe(200);
    const text = JSON.stringify(r.json);
    expect(text).not.toContain(UPSTREAM_PASSWORD);
    expect(text).not.toContain(UPSTREAM_TOKEN);
    expect(text).not.toContain("svc:");
    const [shop, admin] = r.json.routes as Record<string, unknown>[];
    expect(shop).toMatchObject({
      id: "shop",
      host: null,
      path: "/",
      upstreams: ["http://127.0.0.1:9"],
      waf: { mode: "detect", paranoia: 1, exclusions: 1 },
      rateLimits: [{ name: "per-ip", limit: 100, windowSeconds: 60, by: ["ip"], shadow: false }],
      geo: { allow: [], deny: ["RU"] },
      ipRules: { allow: 0, deny: 1 },
      bots: { action: "challenge" },
      auth: null,
    });
    expect(admin).toMatchObject({
      id: "admin.example.com/",
      host: "admin.example.com",
      upstreams: ["http://127.0.0.1:9", "http://127.0.0.1:10"],
      environment: "prod",
      auth: { provider: null, required: true, accept: ["api-key"] },
      policy: { rules: 1, shadow: false },
    });
  });

  test("a role without gateway:routes:read is refused", async () => {
    const r = await t.call("GET", "/api/v1/gateway/routes", privacy);
    expect(r.status).toBe(403);
    expect(r.json.message).toContain("gateway:routes:read");
  });
});
