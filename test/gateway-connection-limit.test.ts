// gateway.maxConnections: a flood of idle connections fills the gateway's budget and no more; the
// next connection is closed at once, and ordinary requests are served again as soon as room frees.
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, expect, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";
import { listenLocal } from "./support/services.ts";

let app: Server;
let gw: Gateway;
const logs: string[] = [];
beforeAll(async () => {
  app = createServer((_req, res) => res.end("ok"));
  const upstream = await listenLocal(app);
  gw = await startGateway({
    gateway: gatewayConfigSchema.parse({ port: 0, maxConnections: 20, clientHeaderTimeoutMs: 30_000 }),
    routes: [routeConfigSchema.parse({ upstream })],
    logger: pino({ level: "warn" }, { write: (line: string) => void logs.push(line) }),
  });
});
afterAll(async () => {
  await gw?.close();
  app?.close();
});

const open = (port: number) =>
  new Promise<Socket>((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
/** Whether the gateway closes this connection (without a byte) within `ms`. */
const closedWithin = (s: Socket, ms: number) =>
  new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once("close", () => {
      clearTimeout(t);
      resolve(true);
    });
  });

test("past maxConnections a new connection is closed at once; freed room serves again", async () => {
  const port = Number(new URL(gw.url).port);
  // Twenty idle connections that never send a request: the whole budget.
  const idle = await Promise.all(Array.from({ length: 20 }, () => open(port)));
  await new Promise((r) => setTimeout(r, 100));
  const extra = await open(port);
  expect(await closedWithin(extra, 1000)).toBe(true);
  for (const s of idle.slice(0, 3)) expect(s.destroyed).toBe(false);
  expect(logs.join("")).toContain("gateway.maxConnections reached");

  for (const s of idle) s.destroy();
  let res: Response | undefined;
  for (let i = 0; i < 20 && res?.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
    res = await fetch(`${gw.url}/`).catch(() => undefined);
  }
  expect(await res?.text()).toBe("ok");
});
