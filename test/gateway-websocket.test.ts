// WebSocket through the gateway: the upgrade is admitted like any request (routes, IP rules, rate
// limits), then frames flow both ways until either side closes.
import { createServer, type IncomingMessage } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { WebSocketServer } from "ws";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";
import { listenLocal } from "./support/services.ts";

let gw: Gateway;
const upgrades: IncomingMessage["headers"][] = [];
const app = createServer((_req, res) => res.end("plain"));
const wss = new WebSocketServer({ server: app });
wss.on("connection", (ws, req) => {
  upgrades.push(req.headers);
  ws.on("message", (data) => ws.send(`echo:${String(data)}`));
});

beforeAll(async () => {
  const upstream = await listenLocal(app);
  gw = await startGateway({
    gateway: gatewayConfigSchema.parse({ port: 0, trustedProxies: ["127.0.0.1"] }),
    routes: [
      routeConfigSchema.parse({
        path: "/live",
        upstream,
        rateLimits: [{ name: "ws", limit: 2, windowSeconds: 60 }],
      }),
      routeConfigSchema.parse({ path: "/internal", upstream, ipRules: { allow: ["10.0.0.0/8"] } }),
    ],
  });
});
afterAll(async () => {
  await gw.close();
  wss.close();
  app.close();
});

function open(path: string): Promise<{ ws: WebSocket; error?: string }> {
  const ws = new WebSocket(`${gw.url.replace("http", "ws")}${path}`);
  return new Promise((resolve) => {
    ws.onopen = () => resolve({ ws });
    ws.onerror = () => resolve({ ws, error: "refused" });
  });
}

test("messages flow both ways, and the upstream learns the client", async () => {
  const { ws, error } = await open("/live/feed");
  expect(error).toBeUndefined();
  const reply = new Promise<string>((resolve) => {
    ws.onmessage = (e) => resolve(String(e.data));
  });
  ws.send("ping");
  expect(await reply).toBe("echo:ping");
  expect(upgrades.at(-1)?.["x-forwarded-for"]).toBe("127.0.0.1");
  expect(upgrades.at(-1)?.["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  const closed = new Promise<number>((resolve) => {
    ws.onclose = (e) => resolve(e.code);
  });
  ws.close(1000);
  expect(await closed).toBe(1000);
});

function rawUpgrade(path: string): Promise<string> {
  const { port } = new URL(gw.url);
  return new Promise((resolve) => {
    const s = connect(Number(port), "127.0.0.1", () =>
      s.write(
        `GET ${path} HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n`,
      ),
    );
    let out = "";
    s.on("data", (d) => (out += d));
    s.on("close", () => resolve(out));
  });
}

test("upgrades are refused by IP rules and rate limits like any request", async () => {
  expect((await open("/internal/x")).error).toBe("refused");
  expect(await rawUpgrade("/internal/x")).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
  // The first test used one of the two; one more is admitted, then the limit refuses.
  const second = await open("/live/feed");
  expect(second.error).toBeUndefined();
  second.ws.close();
  expect((await open("/live/feed")).error).toBe("refused");
  const limited = await rawUpgrade("/live/feed");
  expect(limited).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/);
  expect(limited).toMatch(/\r\nretry-after: \d+\r\n/);
  const raw = await fetch(`${gw.url}/live/feed`, {
    headers: { "x-forwarded-for": "198.51.100.1" },
  });
  expect(raw.status).toBe(200); // a plain request on the route still works for another client
});
