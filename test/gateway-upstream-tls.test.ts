// TLS from the gateway to its upstreams over real sockets: a private CA trusted only when the route
// names it, and mutual TLS with a client certificate for upstreams that require one.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";
import { issueCertificate } from "./support/certificates.ts";

const dir = mkdtempSync(join(tmpdir(), "rampart-upstream-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ca = issueCertificate(dir, "ca", { cn: "Rampart test CA" });
const upstreamCert = issueCertificate(dir, "upstream", {
  cn: "upstream.internal",
  san: ["DNS:upstream.internal"],
  ca,
  leaf: true,
});
const client = issueCertificate(dir, "client", { cn: "gateway-1", ca, leaf: true });
const stranger = issueCertificate(dir, "stranger", { cn: "someone-else", ca, leaf: true });

/** An HTTPS upstream that answers with the client certificate's CN it saw, if any. */
async function upstream(mutual: boolean): Promise<{ server: Server; url: string }> {
  const server = createServer(
    {
      cert: readFileSync(upstreamCert.certFile),
      key: readFileSync(upstreamCert.keyFile),
      ...(mutual ? { requestCert: true, rejectUnauthorized: true, ca: readFileSync(ca.certFile) } : {}),
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.end(`ok ${peer?.subject?.CN ?? "anonymous"}`);
    },
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe("gateway TLS to upstreams", () => {
  let gw: Gateway;
  let plain: { server: Server; url: string };
  let mutual: { server: Server; url: string };

  beforeAll(async () => {
    plain = await upstream(false);
    mutual = await upstream(true);
    const trust = { caFile: ca.certFile, serverName: "upstream.internal" };
    const route = (path: string, upstream: string, upstreamTls?: object) =>
      routeConfigSchema.parse({ path, upstream, ...(upstreamTls ? { upstreamTls } : {}) });
    gw = await startGateway({
      gateway: gatewayConfigSchema.parse({ port: 0, retries: 0 }),
      routes: [
        route("/trusted", plain.url, trust),
        route("/untrusted", plain.url),
        route("/mtls", mutual.url, { ...trust, ...client }),
        route("/no-client-cert", mutual.url, trust),
      ],
    });
  });

  afterAll(async () => {
    await gw?.close();
    plain?.server.close();
    mutual?.server.close();
  });

  const get = async (path: string) => {
    const res = await fetch(`${gw.url}${path}`);
    return { status: res.status, body: await res.text() };
  };

  test("an upstream with a private CA is reached when the route trusts that CA, and refused when not", async () => {
    expect(await get("/trusted")).toEqual({ status: 200, body: "ok anonymous" });
    expect((await get("/untrusted")).status).toBe(502);
  });

  test("an upstream that requires a client certificate gets the route's, and refuses a gateway without one", async () => {
    expect(await get("/mtls")).toEqual({ status: 200, body: "ok gateway-1" });
    expect((await get("/no-client-cert")).status).toBe(502);
  });

  test("config: upstreamTls needs an https upstream, and certFile and keyFile go together", () => {
    const plainRoute = routeConfigSchema.safeParse({ upstream: "http://x", upstreamTls: { caFile: "a" } });
    expect(plainRoute.error?.issues[0]?.message).toMatch(/applies to https:\/\/ upstreams/);
    const half = routeConfigSchema.safeParse({ upstream: "https://x", upstreamTls: { certFile: "c" } });
    expect(half.error?.issues[0]?.message).toBe("certFile and keyFile go together");
  });

  test("a client key that does not match its certificate fails the start and names the setting", async () => {
    await expect(
      startGateway({
        gateway: gatewayConfigSchema.parse({ port: 0 }),
        routes: [
          routeConfigSchema.parse({
            upstream: mutual.url,
            upstreamTls: { certFile: client.certFile, keyFile: stranger.keyFile },
          }),
        ],
      }),
    ).rejects.toThrow(/upstreamTls\.keyFile: does not match certFile/);
  });
});
