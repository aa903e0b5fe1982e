// TLS at the gateway over real sockets: the certificate chosen by SNI, the minimum version, the
// redirect from HTTP, HSTS, hot reload of certificate files, expiry reporting, hostile handshakes.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { request } from "node:https";
import { type AddressInfo, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";

const dir = mkdtempSync(join(tmpdir(), "rampart-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed P-256 certificate for `host`, valid `days` days; returns the file paths. */
function certificate(name: string, host: string, days: number): { certFile: string; keyFile: string } {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      String(days),
    ].concat([
      "-subj",
      `/CN=${host}`,
      "-addext",
      `subjectAltName=DNS:${host}`,
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ]),
    { stdio: "ignore" },
  );
  return { certFile, keyFile };
}

interface Answer {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
  cert: PeerCertificate;
}

function get(url: string, servername: string, ca: Buffer[], path = "/"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      { servername, ca, headers: { host: servername }, agent: false },
      (res) => {
        let body = "";
        const cert = (res.socket as TLSSocket).getPeerCertificate();
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cert }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("gateway TLS", () => {
  let gw: Gateway;
  let app: Server;
  let seen: IncomingMessage["headers"] | undefined;
  const shop = certificate("shop", "shop.example.com", 365);
  const internal = certificate("internal", "*.internal.example.com", 10);
  const ca = () => [readFileSync(shop.certFile), readFileSync(internal.certFile)];

  beforeAll(async () => {
    app = createServer((req, res) => {
      seen = req.headers;
      res.end("hello over tls");
    });
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    gw = await startGateway({
      gateway: gatewayConfigSchema.parse({
        port: 0,
        tls: {
          port: 0,
          certificates: [
            { hosts: ["shop.example.com"], ...shop },
            { hosts: ["*.internal.example.com"], ...internal },
          ],
        },
      }),
      routes: [
        routeConfigSchema.parse({ upstream: `http://127.0.0.1:${(app.address() as AddressInfo).port}` }),
      ],
    });
  });

  afterAll(async () => {
    await gw?.close();
    app?.close();
  });

  test("serves each host its own certificate, with HSTS, and tells the upstream it was HTTPS", async () => {
    const a = await get(gw.httpsUrl as string, "shop.example.com", ca());
    expect(a.status).toBe(200);
    expect(a.body).toBe("hello over tls");
    expect(a.cert.subject.CN).toBe("shop.example.com");
    expect(a.headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
    expect(seen?.["x-forwarded-proto"]).toBe("https");
    const b = await get(gw.httpsUrl as string, "grafana.internal.example.com", ca());
    expect(b.cert.subject.CN).toBe("*.internal.example.com");
  });

  test("plain HTTP is redirected to HTTPS with the method kept", async () => {
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      httpRequest(`${gw.url}/cart?id=7`, { method: "PUT", headers: { host: "shop.example.com:80" } }, resolve)
        .on("error", reject)
        .end(),
    );
    expect(res.statusCode).toBe(308);
    const tlsPort = new URL(gw.httpsUrl as string).port;
    expect(res.headers.location).toBe(`https://shop.example.com:${tlsPort}/cart?id=7`);
  });

  test("reports certificates close to expiry", () => {
    const status = gw.certificates();
    expect(status.map((s) => s.daysLeft >= 364)).toEqual([true, false]);
    expect(status[1]?.daysLeft).toBeLessThan(30);
  });

  test("an old protocol version and a garbage handshake are refused, and TLS keeps working", async () => {
    const { port } = new URL(gw.httpsUrl as string);
    const old = await new Promise<string>((resolve) => {
      const s = tlsConnect({
        port: Number(port),
        host: "127.0.0.1",
        servername: "shop.example.com",
        maxVersion: "TLSv1.1",
        ca: ca(),
      });
      s.on("secureConnect", () => resolve("connected"));
      s.on("error", (err) => resolve((err as NodeJS.ErrnoException).code ?? "error"));
    });
    expect(old).not.toBe("connected");
    const garbage = await new Promise<string>((resolve) => {
      const s = tcpConnect(Number(port), "127.0.0.1", () => s.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
      let out = "";
      s.on("data", (d) => (out += d));
      s.on("close", () => resolve(out));
      s.on("error", () => resolve(out));
    });
    expect(garbage).not.toContain("hello over tls");
    expect((await get(gw.httpsUrl as string, "shop.example.com", ca())).status).toBe(200);
  });

  test("a replaced certificate file is served to new connections without a restart", async () => {
    const before = (await get(gw.httpsUrl as string, "shop.example.com", ca())).cert.fingerprint256;
    const next = certificate("shop-next", "shop.example.com", 90);
    const trusted = [...ca(), readFileSync(next.certFile)];
    // Atomic replacement, as cert-manager or certbot do it.
    renameSync(next.keyFile, shop.keyFile);
    renameSync(next.certFile, shop.certFile);
    let after = before;
    for (let i = 0; i < 40 && after === before; i++) {
      await new Promise((r) => setTimeout(r, 150));
      after = (await get(gw.httpsUrl as string, "shop.example.com", trusted)).cert.fingerprint256;
    }
    expect(after).not.toBe(before);
    expect(gw.certificates()[0]?.daysLeft).toBeLessThan(91);
  });

  test("a certificate whose key does not match is refused at start", async () => {
    const other = certificate("other", "other.example.com", 30);
    writeFileSync(join(dir, "mismatch.key"), readFileSync(other.keyFile));
    await expect(
      startGateway({
        gateway: gatewayConfigSchema.parse({
          port: 0,
          tls: {
            port: 0,
            certificates: [{ hosts: ["x"], certFile: shop.certFile, keyFile: join(dir, "mismatch.key") }],
          },
        }),
        routes: [],
      }),
    ).rejects.toThrow(/key values mismatch|KEY_VALUES_MISMATCH/i);
  });
});

describe("gateway TLS 1.3 only", () => {
  test("a TLS 1.2 client is refused", async () => {
    const dir13 = certificate("tls13", "secure.example.com", 30);
    const gw = await startGateway({
      gateway: gatewayConfigSchema.parse({
        port: 0,
        tls: { port: 0, minVersion: "TLSv1.3", certificates: [{ hosts: ["secure.example.com"], ...dir13 }] },
      }),
      routes: [],
    });
    try {
      const { port } = new URL(gw.httpsUrl as string);
      const attempt = (maxVersion: "TLSv1.2" | "TLSv1.3") =>
        new Promise<string>((resolve) => {
          const s = tlsConnect({
            port: Number(port),
            host: "127.0.0.1",
            servername: "secure.example.com",
            maxVersion,
            ca: [readFileSync(dir13.certFile)],
          });
          s.on("secureConnect", () => {
            resolve(s.getProtocol() ?? "");
            s.end();
          });
          s.on("error", () => resolve("refused"));
        });
      expect(await attempt("TLSv1.2")).toBe("refused");
      expect(await attempt("TLSv1.3")).toBe("TLSv1.3");
    } finally {
      await gw.close();
    }
  });
});
