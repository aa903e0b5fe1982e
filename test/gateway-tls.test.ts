// TLS at the gateway over real sockets: the certificate chosen by SNI, the minimum version, the
// redirect from HTTP, HSTS, hot reload of certificate files, expiry reporting, hostile handshakes.
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer, request } from "node:https";
import { type AddressInfo, connect as tcpConnect } from "node:net";
import { X509Certificate } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createServer as createTlsServer,
  connect as tlsConnect,
  type PeerCertificate,
  type TLSSocket,
} from "node:tls";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";
import { divertHandshakes, loadCertificates } from "../src/network/gateway/tls.ts";
import { manualClock } from "../src/platform/clock.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { issueCertificate } from "./support/certificates.ts";

const dir = mkdtempSync(join(tmpdir(), "rampart-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed P-256 certificate for `host`, valid `days` days; returns the file paths. */
const certificate = (name: string, host: string, days: number) =>
  issueCertificate(dir, name, { cn: host, san: [`DNS:${host}`], days });

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

  test("TLS 1.2 offers forward-secret AEAD suites only; CBC and static-RSA suites are refused", async () => {
    const { port } = new URL(gw.httpsUrl as string);
    const handshake = (ciphers: string) =>
      new Promise<string>((resolve) => {
        const s = tlsConnect({
          port: Number(port),
          host: "127.0.0.1",
          servername: "shop.example.com",
          maxVersion: "TLSv1.2",
          ciphers,
          ca: ca(),
        });
        s.on("secureConnect", () => {
          resolve(s.getCipher().name);
          s.end();
        });
        s.on("error", () => resolve("refused"));
      });
    expect(await handshake("ECDHE-ECDSA-AES128-GCM-SHA256")).toBe("ECDHE-ECDSA-AES128-GCM-SHA256");
    expect(await handshake("ECDHE-ECDSA-CHACHA20-POLY1305")).toBe("ECDHE-ECDSA-CHACHA20-POLY1305");
    expect(await handshake("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA")).toBe("refused");
    expect(await handshake("AES128-GCM-SHA256")).toBe("refused");
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

describe("certificate expiry reporting", () => {
  test("a certificate inside 30 days becomes an event and every certificate a gauge of seconds left", async () => {
    const soon = certificate("soon", "soon.example.com", 10);
    const later = certificate("later", "later.example.com", 365);
    const events: SecurityEvent[] = [];
    const registry = new Registry();
    const gw = await startGateway({
      gateway: gatewayConfigSchema.parse({
        port: 0,
        tls: {
          port: 0,
          certificates: [
            { hosts: ["later.example.com"], ...later },
            { hosts: ["soon.example.com"], ...soon },
          ],
        },
      }),
      routes: [],
      emit: (e) => events.push(e),
      registry,
      source: "gw-test",
    });
    try {
      const expiring = events.filter((e) => e.type === "gateway.certificate_expiring");
      expect(expiring).toHaveLength(1);
      expect(expiring[0]).toMatchObject({
        severity: "medium",
        source: "gw-test",
        target: { kind: "certificate", id: "soon.example.com" },
        data: { hosts: ["soon.example.com"], daysLeft: 9, source: "file" },
      });
      const gauge = await registry.getSingleMetric("rampart_gateway_certificate_expiry_seconds")?.get();
      const seconds = Object.fromEntries(gauge?.values.map((v) => [v.labels.hosts, v.value]) ?? []);
      expect(seconds["soon.example.com"]).toBeGreaterThan(10 * 86_400 - 600);
      expect(seconds["soon.example.com"]).toBeLessThanOrEqual(10 * 86_400);
      expect(seconds["later.example.com"]).toBeGreaterThan(364 * 86_400);
    } finally {
      await gw.close();
    }
  });

  test("the same certificate is reported once a day, again the next day, and never with its key", () => {
    const soon = certificate("soon-daily", "daily.example.com", 5);
    const clock = manualClock(new Date());
    const events: SecurityEvent[] = [];
    const store = loadCertificates([], { minVersion: "TLSv1.2", clock, emit: (e) => events.push(e) });
    try {
      const pem = { cert: readFileSync(soon.certFile), key: readFileSync(soon.keyFile) };
      expect(store.put(["daily.example.com"], pem)).toMatchObject({ daysLeft: 4, source: "acme" });
      store.put(["daily.example.com"], pem); // e.g. reloaded: same certificate, same day
      expect(events).toHaveLength(1);
      expect(events[0]?.severity).toBe("high"); // under a week
      clock.advance(86_400_000);
      store.put(["daily.example.com"], pem);
      expect(events.map((e) => e.data.daysLeft)).toEqual([4, 3]);
      expect(JSON.stringify(events)).not.toContain("PRIVATE KEY");
    } finally {
      store.close();
    }
  });
});

describe("diverting handshakes by ClientHello", () => {
  test("a hello offering only the wanted protocol goes to the other server, any other to the usual one", async () => {
    const usual = certificate("usual", "usual.example.com", 30);
    const special = certificate("special", "usual.example.com", 30);
    const pem = (c: { certFile: string; keyFile: string }) => ({
      cert: readFileSync(c.certFile),
      key: readFileSync(c.keyFile),
    });
    const server = createHttpsServer(pem(usual), (_req, res) => res.end("usual"));
    const other = createTlsServer({ ...pem(special), ALPNProtocols: ["x-check/1"] });
    divertHandshakes(
      server,
      other,
      () => true,
      (hello) => hello.alpn.join() === "x-check/1" && hello.servername === "usual.example.com",
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    const handshake = (ALPNProtocols: string[], maxVersion: "TLSv1.2" | "TLSv1.3") =>
      new Promise<string>((resolve, reject) => {
        const s = tlsConnect({
          port,
          host: "127.0.0.1",
          servername: "usual.example.com",
          ALPNProtocols,
          maxVersion,
          ca: [readFileSync(usual.certFile), readFileSync(special.certFile)],
        });
        s.on("secureConnect", () => {
          const which =
            s.getPeerCertificate().fingerprint256 === new X509Certificate(pem(special).cert).fingerprint256;
          s.end();
          resolve(`${which ? "other" : "usual"} ${s.alpnProtocol || "-"}`);
        });
        s.on("error", reject);
      });
    try {
      for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
        expect(await handshake(["x-check/1"], version)).toBe("other x-check/1");
        expect(await handshake(["x-check/1", "http/1.1"], version)).toBe("usual http/1.1");
      }
      // An ordinary HTTPS request through the peeking listener is answered as usual.
      const answer = await get(`https://127.0.0.1:${port}`, "usual.example.com", [
        readFileSync(usual.certFile),
      ]);
      expect(answer.body).toBe("usual");
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});
