// Hostile clients against a real gateway: slow heads and bodies (slowloris), many connections doing
// it at once, floods of small headers, and a client that never reads. Each gets the documented
// answer, and ordinary requests keep being served meanwhile.
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";
import { listenLocal } from "./support/services.ts";

const big = Buffer.alloc(8 * 1024 * 1024, "x");
let app: Server;
let gw: Gateway;
let port: number;

beforeAll(async () => {
  app = createServer((req, res) => {
    if (req.url === "/big") return res.end(big);
    req.resume();
    req.on("end", () => res.end("ok"));
  });
  gw = await startGateway({
    gateway: gatewayConfigSchema.parse({
      port: 0,
      clientHeaderTimeoutMs: 600,
      clientRequestTimeoutMs: 1200,
    }),
    routes: [routeConfigSchema.parse({ upstream: await listenLocal(app) })],
  });
  port = Number(new URL(gw.url).port);
});
afterAll(async () => {
  await gw.close();
  app.close();
});

/** Opens a connection and writes `parts` one at a time, `gapMs` apart; resolves with what came back. */
function trickle(parts: string[], gapMs: number): Promise<{ answer: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const s: Socket = connect(port, "127.0.0.1");
    let answer = "";
    let i = 0;
    const timer = setInterval(() => {
      if (i < parts.length && s.writable) s.write(parts[i++] as string);
    }, gapMs);
    s.on("data", (d) => (answer += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => {
      clearInterval(timer);
      resolve({ answer, ms: Date.now() - started });
    });
    s.setTimeout(10_000, () => s.destroy());
  });
}

const headByteByByte = "GET / HTTP/1.1\r\nhost: x\r\nx-slow: " + "a".repeat(200) + "\r\n\r\n";

describe("slow clients", () => {
  test("a head sent a byte at a time gets 408 and its connection is closed", async () => {
    const { answer, ms } = await trickle(headByteByByte.split(""), 50);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeLessThan(3000);
  });

  test("a body that trickles past the request timeout gets 408", async () => {
    const head = "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n";
    const { answer, ms } = await trickle([head, ...Array(100).fill("a")], 50);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeLessThan(4000);
  });

  test("two hundred slowloris connections at once do not stop ordinary requests", async () => {
    const attackers = Array.from({ length: 200 }, () => trickle(headByteByByte.split(""), 100));
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${gw.url}/ok-${i}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("ok");
    }
    const done = await Promise.all(attackers);
    expect(done.every((d) => /^HTTP\/1\.1 408/.test(d.answer) || d.answer === "")).toBe(true);
  }, 20_000);
});

describe("floods", () => {
  test("thousands of small headers are refused as too large", async () => {
    const headers = Array.from({ length: 5000 }, (_, i) => `x-${i}: v\r\n`).join("");
    const { answer } = await trickle([`GET / HTTP/1.1\r\nhost: x\r\n${headers}\r\n`], 1);
    expect(answer).toMatch(/^HTTP\/1\.1 431/);
    expect((await fetch(`${gw.url}/after-flood`)).status).toBe(200);
  });

  test("a client that never reads a large response does not stall other clients", async () => {
    // Asks for 8 MB and reads nothing: the gateway must pause that upstream, not buffer or block.
    const stalled = connect(port, "127.0.0.1", () => stalled.write("GET /big HTTP/1.1\r\nhost: x\r\n\r\n"));
    stalled.pause();
    stalled.on("error", () => {});
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 10; i++) expect((await fetch(`${gw.url}/while-stalled`)).status).toBe(200);
    stalled.destroy();
  });
});
