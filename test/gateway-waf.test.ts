// The WAF in the gateway: a route in block mode refuses an injection (query or JSON body) with a
// 403 that names nothing but the request id; detect mode passes it and reports it; a scoped
// exclusion tunes a false positive away; every match is a counted event naming rule and target.
import { createServer, type IncomingMessage } from "node:http";
import { connect } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, expect, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { listenLocal } from "./support/services.ts";

const reached: string[] = [];
const bodyBytes: number[] = [];
const events: SecurityEvent[] = [];
let app: ReturnType<typeof createServer>;
let gw: Gateway;

beforeAll(async () => {
  app = createServer((req: IncomingMessage, res) => {
    reached.push(req.url ?? "");
    let n = 0;
    req.on("data", (c: Buffer) => (n += c.length));
    req.on("end", () => {
      bodyBytes.push(n);
      res.end("ok");
    });
  });
  const upstream = await listenLocal(app);
  gw = await startGateway({
    gateway: gatewayConfigSchema.parse({ port: 0, trustedProxies: ["127.0.0.1"] }),
    routes: [
      { path: "/shop", upstream, waf: {} },
      { path: "/forum", upstream, waf: { exclusions: [{ tags: ["attack-sqli"], targets: ["ARGS:post"] }] } },
      { path: "/beta", upstream, waf: { mode: "detect" } },
      {
        path: "/api",
        upstream,
        waf: { parameters: [{ targets: ["ARGS:id"], kind: "integer", onMismatch: "block" }] },
      },
      { path: "/", upstream },
    ].map((r) => routeConfigSchema.parse(r)),
    emit: (e) => events.push(e),
  });
});
afterAll(async () => {
  await gw.close();
  app.close();
});

const from = (path: string, init: RequestInit = {}) =>
  fetch(`${gw.url}${path}`, {
    ...init,
    headers: { accept: "application/json", "x-forwarded-for": "203.0.113.80", ...init.headers },
  });
const injection = encodeURIComponent("1' OR '1'='1");

test("block mode refuses an injection in the query with a 403 that says nothing about why", async () => {
  const before = reached.length;
  const res = await from(`/shop/item?id=${injection}`);
  expect(res.status).toBe(403);
  const body = (await res.json()) as { error: { message: string; requestId: string } };
  expect(body.error.message).toBe("the request was refused by the web application firewall");
  expect(body.error.requestId).toMatch(/^[0-9a-f-]{36}$/);
  expect(JSON.stringify(body)).not.toMatch(/sqli|OR|score/);
  expect(reached.length).toBe(before); // the upstream never saw it
  expect((await from("/shop/item?id=42&name=O%27Brien")).status).toBe(200);
});

test("block mode looks inside JSON bodies", async () => {
  const post = (name: string) =>
    from("/shop/profile", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: { name } }),
    });
  expect((await post("x' UNION SELECT password FROM users--")).status).toBe(403);
  expect((await post("Tom & Jerry -- the movie")).status).toBe(200);
});

test("an exclusion scoped to one parameter lets it through there, not elsewhere", async () => {
  expect((await from(`/forum/reply?post=${injection}`)).status).toBe(200);
  expect((await from(`/forum/reply?title=${injection}`)).status).toBe(403);
});

test("a parameter allowlist refuses what does not fit and still inspects the rest", async () => {
  expect((await from("/api/order?id=1234&note=hello")).status).toBe(200);
  expect((await from("/api/order?id=12ab")).status).toBe(403);
  expect((await from(`/api/order?id=7&note=${injection}`)).status).toBe(403);
});

test("detect mode forwards the request and reports what matched", async () => {
  const before = reached.length;
  expect((await from(`/beta/x?id=${injection}`)).status).toBe(200);
  expect(reached.length).toBe(before + 1);
  expect((await from(`/x?id=${injection}`)).status).toBe(200); // no WAF on this route
});

test("a chunked body is inspected, and padding cannot push a payload past the inspected part", async () => {
  const chunked = (parts: string[]) =>
    from("/shop/comment", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new ReadableStream({
        start(c) {
          for (const p of parts) c.enqueue(new TextEncoder().encode(p));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
  expect((await chunked(["text=hello&id=", injection])).status).toBe(403);
  const padding = "a".repeat(300 * 1024);
  expect((await chunked([`text=${padding}`, `&id=${injection}`])).status).toBe(403);
  expect((await chunked([`text=${padding}${injection}`])).status).toBe(403);
  expect((await chunked(["text=", padding, "&id=42"])).status).toBe(200);
});

test("a gzip-compressed body is inspected as the application will read it, and forwarded as sent", async () => {
  const post = (text: string) =>
    from("/shop/comment", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "content-encoding": "gzip" },
      body: gzipSync(text),
    });
  expect((await post(`text=hello&id=${injection}`)).status).toBe(403);
  const sent = gzipSync("text=hello+there");
  expect((await post("text=hello+there")).status).toBe(200);
  expect(bodyBytes.at(-1)).toBe(sent.length);
});

test("a body larger than the inspected part reaches the upstream whole", async () => {
  const big = `text=${"b".repeat(3 * 1024 * 1024)}`;
  const res = await from("/shop/upload", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: big,
  });
  expect(res.status).toBe(200);
  expect(bodyBytes.at(-1)).toBe(big.length);
});

test("a WebSocket upgrade is judged by its head before anything is relayed", async () => {
  const { port } = new URL(gw.url);
  const answer = await new Promise<string>((resolve) => {
    const s = connect(Number(port), "127.0.0.1", () =>
      s.write(
        `GET /shop/live?id=${injection} HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\n` +
          "sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      ),
    );
    let out = "";
    s.on("data", (d) => (out += d.toString()));
    s.on("close", () => resolve(out));
    s.on("error", () => resolve(out));
  });
  expect(answer).toMatch(/^HTTP\/1\.1 403/);
  expect(answer).toContain("the request was refused by the web application firewall");
});

test("matches become counted events naming rules, targets and score; the value only as sensitive, for the audit HMAC", async () => {
  await gw.close(); // flushes the counted decisions
  const waf = events.filter((e) => e.type.startsWith("gateway.waf_"));
  const blocked = waf.find((e) => e.type === "gateway.waf_blocked" && e.target?.id === "*/shop");
  expect(blocked?.data.detail).toMatch(/^sqli-tautology@ARGS:id(,[a-z-]+@ARGS:id)* score=\d+$/);
  const detected = waf.find((e) => e.type === "gateway.waf_detected");
  expect(detected).toMatchObject({ outcome: "success", target: { id: "*/beta" } });
  // The matched value goes only where the audit log keeps it as a keyed HMAC.
  for (const e of waf) expect(JSON.stringify({ ...e, sensitive: undefined })).not.toContain("1'='1");
  expect(blocked?.sensitive).toEqual({ value: "1' OR '1'='1" });
});
