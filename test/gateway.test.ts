// The gateway as a client and an upstream see it, over real sockets: routing, forwarding headers,
// trusted proxies, pools with passive health, body limits, timeouts, error pages and hostile input.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";

interface Seen {
  name: string;
  url: string;
  headers: IncomingMessage["headers"];
  bytes: number;
}

async function upstream(
  name: string,
  seen: Seen[],
  behave: (req: IncomingMessage, res: ServerResponse) => boolean = () => false,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on("data", (c: Buffer) => (bytes += c.length));
    req.on("end", () => {
      seen.push({ name, url: req.url ?? "", headers: req.headers, bytes });
      if (behave(req, res)) return;
      res.writeHead(200, {
        "content-type": "application/json",
        server: "secret-stack/1.2",
        "x-powered-by": "php",
      });
      res.end(JSON.stringify({ name, url: req.url, bytes }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function raw(url: string, request: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    // Written, not ended: a half-closed client gets no answer. The server closes after answering.
    const s = connect(Number(port), "127.0.0.1", () => s.write(request));
    s.setTimeout(3000, () => s.destroy());
    let out = "";
    s.on("data", (d) => (out += d.toString("latin1")));
    s.on("close", () => resolve(out));
    s.on("error", () => resolve(out));
  });
}

describe("gateway", () => {
  const seen: Seen[] = [];
  const servers: Server[] = [];
  let gw: Gateway;
  let deadUrl: string;

  beforeAll(async () => {
    const a = await upstream("a", seen);
    const b = await upstream("b", seen);
    const api = await upstream("api", seen, (req, res) => {
      if (req.url?.startsWith("/api/slow")) {
        setTimeout(() => res.end("late"), 3000);
        return true;
      }
      return false;
    });
    const admin = await upstream("admin", seen);
    const dead = await upstream("dead", seen);
    deadUrl = dead.url;
    await new Promise<void>((r) => dead.server.close(() => r()));
    servers.push(a.server, b.server, api.server, admin.server);
    const routes = [
      { path: "/", upstreams: [a.url, b.url] },
      { path: "/api", upstream: api.url },
      { host: "admin.example.com", path: "/api", upstream: admin.url },
      { path: "/flaky", upstreams: [deadUrl, a.url] },
      { path: "/gone", upstream: deadUrl },
    ].map((r) => routeConfigSchema.parse(r));
    gw = await startGateway({
      gateway: gatewayConfigSchema.parse({
        port: 0,
        trustedProxies: ["10.0.0.0/8"],
        maxBodyBytes: 64 * 1024,
        responseTimeoutMs: 500,
        retries: 1,
        ejectAfterFailures: 2,
        ejectSeconds: 60,
      }),
      routes,
    });
  });

  afterAll(async () => {
    await gw?.close();
    for (const s of servers) s.close();
  });

  test("routes by host and longest path prefix on segment boundaries", async () => {
    const name = async (path: string, host?: string) => {
      const res = await raw(
        gw.url,
        `GET ${path} HTTP/1.1\r\nhost: ${host ?? "shop.example.com"}\r\nconnection: close\r\n\r\n`,
      );
      return /"name":"(\w+)"/.exec(res)?.[1];
    };
    expect(await name("/api/orders")).toBe("api");
    expect(await name("/api")).toBe("api");
    expect(["a", "b"]).toContain(await name("/apix"));
    expect(await name("/api/orders", "ADMIN.example.com:443")).toBe("admin");
    expect(await name("/api?x=1")).toBe("api");
  });

  test("round robin spreads requests over a pool", async () => {
    const before = seen.length;
    for (let i = 0; i < 6; i++) await fetch(`${gw.url}/rr/${i}`);
    const names = seen.slice(before).map((s) => s.name);
    expect(names.filter((n) => n === "a")).toHaveLength(3);
    expect(names.filter((n) => n === "b")).toHaveLength(3);
  });

  test("the upstream learns the client; hop-by-hop headers and fingerprints stay behind", async () => {
    const before = seen.length;
    const res = await raw(
      gw.url,
      "GET /api/who HTTP/1.1\r\nhost: shop.example.com\r\nx-forwarded-for: 6.6.6.6\r\nconnection: close, x-private\r\nx-private: drop me\r\nx-keep: yes\r\nx-rampart-bot-score: 0\r\nx-forwarded-proto: https\r\n\r\n",
    );
    expect(res).toMatch(/^HTTP\/1\.1 200/);
    expect(res).not.toMatch(/^server:|^x-powered-by:|secret-stack/im);
    const requestId = /^x-request-id: (.+)\r$/m.exec(res)?.[1];
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const h = (seen[before] as Seen).headers;
    // A client that is not a trusted proxy cannot choose its own address.
    expect(h["x-forwarded-for"]).toBe("127.0.0.1");
    expect(h["x-forwarded-proto"]).toBe("http"); // its own claim of https is not believed
    expect(res).not.toMatch(/strict-transport-security/i);
    expect(h.forwarded).toBe('for=127.0.0.1;proto=http;host="shop.example.com"');
    expect(h["x-request-id"]).toBe(requestId);
    expect(h["x-keep"]).toBe("yes");
    expect(h["x-private"]).toBeUndefined();
    // What the gateway itself tells upstreams cannot come from the client.
    expect(h["x-rampart-bot-score"]).toBeUndefined();
  });

  test("a failing upstream is retried elsewhere for GET, then ejected", async () => {
    const before = seen.length;
    for (let i = 0; i < 4; i++) expect((await fetch(`${gw.url}/flaky/${i}`)).status).toBe(200);
    expect(seen.slice(before).every((s) => s.name === "a")).toBe(true);
    const res = await fetch(`${gw.url}/gone`, { headers: { accept: "application/json" } });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { status: number; requestId: string; message: string } };
    expect(body.error.status).toBe(502);
    expect(body.error.requestId).toBe(res.headers.get("x-request-id"));
    expect(JSON.stringify(body)).not.toContain(new URL(deadUrl).port);
    expect((await fetch(`${gw.url}/gone`)).status).toBe(502);
    // Two failures in a row eject it: the route has no healthy upstream left.
    const after = await fetch(`${gw.url}/gone`);
    expect(after.status).toBe(503);
    expect(after.headers.get("retry-after")).toBe("60");
  });

  test("a POST is streamed to one upstream and never retried", async () => {
    const before = seen.length;
    const body = Buffer.alloc(48 * 1024, 7);
    const res = await fetch(`${gw.url}/api/upload`, { method: "POST", body });
    expect(await res.json()).toMatchObject({ name: "api", bytes: body.length });
    expect(seen.length - before).toBe(1);
  });

  test("bodies over the limit get 413, declared or chunked", async () => {
    const big = Buffer.alloc(65 * 1024, 1);
    const declared = await fetch(`${gw.url}/api/upload`, { method: "POST", body: big });
    expect(declared.status).toBe(413);
    const chunked = await raw(
      gw.url,
      `POST /api/upload HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n${big.length.toString(16)}\r\n${big.toString("latin1")}\r\n0\r\n\r\n`,
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 413/);
  });

  test("a slow upstream gets 504; browsers get an HTML page with the request id", async () => {
    const res = await fetch(`${gw.url}/api/slow`, { headers: { accept: "text/html" } });
    expect(res.status).toBe(504);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain(res.headers.get("x-request-id") as string);
    expect(html).not.toMatch(/127\.0\.0\.1|Error:|at /);
  });

  test("requests with Expect: 100-continue are forwarded, and never count against the upstream", async () => {
    for (let i = 0; i < 4; i++) {
      const res = await raw(
        gw.url,
        "POST /api/expect HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi",
      );
      expect(res).toMatch(/HTTP\/1\.1 200 OK/);
    }
    expect((await fetch(`${gw.url}/api/after-expect`)).status).toBe(200);
  });

  test("smuggling and header floods are refused, and the gateway keeps serving", async () => {
    const smuggle = await raw(
      gw.url,
      "POST /api/x HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nhost: x\r\n\r\n",
    );
    expect(smuggle).toMatch(/^HTTP\/1\.1 400/);
    expect(smuggle).not.toContain("/admin");
    const badByte = await raw(gw.url, "GET /api/x HTTP/1.1\r\nhost: x\r\nx-evil: a\x00b\r\n\r\n");
    expect(badByte).toMatch(/^HTTP\/1\.1 400/);
    const flood = await raw(gw.url, `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(flood).toMatch(/^HTTP\/1\.1 431/);
    expect((await fetch(`${gw.url}/api/still-up`)).status).toBe(200);
  });
});

test("a request no route matches is a 404 that names no upstream", async () => {
  const gw = await startGateway({
    gateway: gatewayConfigSchema.parse({ port: 0 }),
    routes: [
      routeConfigSchema.parse({ host: "shop.example.com", path: "/api", upstream: "http://127.0.0.1:9" }),
    ],
  });
  try {
    const res = await fetch(`${gw.url}/api/x`, { headers: { accept: "application/json" } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({
      error: { status: 404, message: "no route for this host and path" },
    });
  } finally {
    await gw.close();
  }
});

describe("gateway behind a trusted proxy", () => {
  test("the client comes from X-Forwarded-For only through trusted hops", async () => {
    const seen: Seen[] = [];
    const up = await upstream("u", seen);
    const gw = await startGateway({
      gateway: gatewayConfigSchema.parse({ port: 0, trustedProxies: ["127.0.0.1", "10.0.0.0/8"] }),
      routes: [routeConfigSchema.parse({ upstream: up.url })],
    });
    try {
      await fetch(`${gw.url}/`, { headers: { "x-forwarded-for": "203.0.113.9, 10.1.2.3" } });
      await fetch(`${gw.url}/`, { headers: { "x-forwarded-for": "198.51.100.1, 203.0.113.9, 10.1.2.3" } });
      await fetch(`${gw.url}/`, { headers: { "x-forwarded-for": "not-an-ip, 10.1.2.3" } });
      expect(seen.map((s) => s.headers.forwarded?.split(";")[0])).toEqual([
        "for=203.0.113.9",
        "for=203.0.113.9",
        "for=10.1.2.3",
      ]);
      // The chain the trusted proxy sent is kept, with that proxy appended.
      expect(seen[0]?.headers["x-forwarded-for"]).toBe("203.0.113.9, 10.1.2.3, 127.0.0.1");
      // A trusted proxy that terminated TLS says so: the upstream hears https, the client gets HSTS.
      const viaTls = await fetch(`${gw.url}/`, { headers: { "x-forwarded-proto": "https" } });
      expect(viaTls.headers.get("strict-transport-security")).toMatch(/^max-age=31536000/);
      expect(seen[3]?.headers["x-forwarded-proto"]).toBe("https");
    } finally {
      await gw.close();
      up.server.close();
    }
  });
});

describe("gateway network controls", () => {
  const seen: Seen[] = [];
  let gw: Gateway;
  let up: { server: Server; url: string };

  beforeAll(async () => {
    up = await upstream("u", seen, (req, res) => {
      if (req.url === "/own-policy") {
        res.writeHead(200, { "referrer-policy": "no-referrer" });
        res.end("ok");
        return true;
      }
      return false;
    });
    gw = await startGateway({
      gateway: gatewayConfigSchema.parse({
        port: 0,
        trustedProxies: ["127.0.0.1"],
        ipRules: { deny: ["203.0.113.66", "2001:db8:bad::/48"] },
      }),
      routes: [
        { path: "/partners", upstream: up.url, ipRules: { allow: ["203.0.113.0/24", "2001:db8::/32"] } },
        { path: "/framed", upstream: up.url, securityHeaders: { frameAncestors: ["none"] } },
        {
          path: "/api",
          upstream: up.url,
          cors: { origins: ["https://app.example.com"], methods: ["GET", "PUT"], headers: ["content-type"] },
        },
        { path: "/", upstream: up.url },
      ].map((r) => routeConfigSchema.parse(r)),
    });
  });

  afterAll(async () => {
    await gw?.close();
    up?.server.close();
  });

  const from = (ip: string, path: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}${path}`, { headers: { "x-forwarded-for": ip, ...headers } });

  test("IP rules: a route's allow list admits only its ranges, and the global deny list wins", async () => {
    expect((await from("203.0.113.5", "/partners/x")).status).toBe(200);
    expect((await from("2001:db8::7", "/partners/x")).status).toBe(200);
    const outsider = await from("198.51.100.1", "/partners/x", { accept: "application/json" });
    expect(outsider.status).toBe(403);
    expect(await outsider.json()).toMatchObject({
      error: { message: "requests from your address are not allowed here" },
    });
    expect((await from("203.0.113.66", "/partners/x")).status).toBe(403);
    expect((await from("203.0.113.66", "/anything")).status).toBe(403);
    expect((await from("2001:db8:bad::1", "/partners/x")).status).toBe(403);
    expect((await from("198.51.100.1", "/anything")).status).toBe(200);
  });

  test("a route's controls cannot be sidestepped by spelling its path another way", async () => {
    const get = (path: string, ip: string) =>
      raw(gw.url, `GET ${path} HTTP/1.1\r\nhost: x\r\nx-forwarded-for: ${ip}\r\nconnection: close\r\n\r\n`);
    const status = async (path: string, ip = "198.51.100.1") => Number((await get(path, ip)).slice(9, 12));
    // The outsider is refused on /partners however the path is written, never sent to "/".
    expect(await status("/partners/x")).toBe(403);
    expect(await status("//partners/x")).toBe(403);
    expect(await status("/%70artners/x")).toBe(403);
    expect(await status("/PARTNERS/x")).toBe(403);
    expect(await status("/x/../partners/x")).toBe(400);
    expect(await status("/x/%2e%2e/partners/x")).toBe(400);
    expect(await status("/x\\..\\partners/x")).toBe(400);
    // A partner gets through, and the upstream sees the path the route was chosen by.
    const before = seen.length;
    expect(await status("//%70artners//x?q=1", "203.0.113.5")).toBe(200);
    expect(seen[before]?.url).toBe("/partners/x?q=1");
  });

  test("security headers are added where the app set none; the app's own choice wins; no HSTS over HTTP", async () => {
    const res = await fetch(`${gw.url}/page`);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toBe("frame-ancestors 'self'");
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(res.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
    expect(res.headers.get("permissions-policy")).toBe("camera=(), microphone=(), geolocation=()");
    expect(res.headers.get("strict-transport-security")).toBeNull();
    expect((await fetch(`${gw.url}/own-policy`)).headers.get("referrer-policy")).toBe("no-referrer");
    const framed = await fetch(`${gw.url}/framed`);
    expect(framed.headers.get("content-security-policy")).toBe("frame-ancestors 'none'");
    expect(framed.headers.get("x-frame-options")).toBe("DENY");
  });

  test("CORS: preflights are answered at the gateway from the route's rules", async () => {
    const before = seen.length;
    const preflight = (origin: string, method: string, headers?: string) =>
      fetch(`${gw.url}/api/items`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": method,
          ...(headers ? { "access-control-request-headers": headers } : {}),
        },
      });
    const ok = await preflight("https://app.example.com", "PUT", "Content-Type");
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(ok.headers.get("access-control-allow-methods")).toBe("GET, PUT");
    expect(ok.headers.get("access-control-allow-headers")).toBe("content-type");
    expect(ok.headers.get("access-control-max-age")).toBe("600");
    for (const refused of [
      await preflight("https://evil.example", "PUT"),
      await preflight("https://app.example.com", "DELETE"),
      await preflight("https://app.example.com", "GET", "x-secret"),
    ]) {
      expect(refused.status).toBe(403);
      expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    }
    expect(seen.length).toBe(before); // no preflight reached the upstream

    const actual = await fetch(`${gw.url}/api/items`, { headers: { origin: "https://app.example.com" } });
    expect(actual.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(actual.headers.get("vary")).toBe("Origin");
    const foreign = await fetch(`${gw.url}/api/items`, { headers: { origin: "https://evil.example" } });
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
    // A route without CORS rules leaves preflights to the app.
    await fetch(`${gw.url}/other`, {
      method: "OPTIONS",
      headers: { origin: "https://x.example", "access-control-request-method": "GET" },
    });
    expect(seen.at(-1)?.url).toBe("/other");
  });
});

test("a client that goes away stops the upstream request it was waiting for", async () => {
  let upstreamClosedAt = 0;
  const slow = createServer((req, res) => {
    req.socket.once("close", () => (upstreamClosedAt = Date.now()));
    setTimeout(() => res.end("late"), 3000).unref();
  });
  await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
  const gw = await startGateway({
    gateway: gatewayConfigSchema.parse({ port: 0 }),
    routes: [
      routeConfigSchema.parse({ upstream: `http://127.0.0.1:${(slow.address() as AddressInfo).port}` }),
    ],
  });
  try {
    const gone = Date.now();
    await fetch(`${gw.url}/report`, { signal: AbortSignal.timeout(200) }).catch(() => {});
    for (let i = 0; i < 40 && !upstreamClosedAt; i++) await new Promise((r) => setTimeout(r, 50));
    expect(upstreamClosedAt).toBeGreaterThan(0);
    expect(upstreamClosedAt - gone).toBeLessThan(1500);
  } finally {
    await gw.close();
    slow.closeAllConnections();
    slow.close();
  }
});
