// ACME at the gateway against a real CA: Debian's pebble on loopback, with pebble-challtestsrv as
// its DNS (every name resolves to 127.0.0.1), validating over real sockets. Covers issuance by
// HTTP-01 and TLS-ALPN-01, reuse of the stored certificate after a restart, renewal inside the
// window, and a CA that is gone (logged, retried later, the old certificate kept in service).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { get as httpsGet, request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";
import { type Clock, manualClock, systemClock } from "../src/platform/clock.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import { issueCertificate } from "./support/certificates.ts";
import { freePort } from "./support/services.ts";

const dir = mkdtempSync(join(tmpdir(), "rampart-acme-"));
const DAY_MS = 86_400_000;

interface Pebble {
  directoryUrl: string;
  /** pebble's HTTPS certificate, trusted through `acme.caFile`. */
  caFile: string;
  /** The root pebble issues under, from its management API. */
  root: string;
  stop(): void;
}

/** Starts challtestsrv (DNS only) and pebble; pebble validates on `httpPort` and `tlsPort`. */
async function startPebble(httpPort: number, tlsPort: number): Promise<Pebble> {
  const [dnsPort, dirPort, mgmtPort, ctsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const { certFile: caFile, keyFile } = issueCertificate(dir, "pebble", {
    cn: "pebble",
    san: ["IP:127.0.0.1"],
  });
  const config = join(dir, "pebble.json");
  const pebbleConfig = {
    pebble: {
      listenAddress: `127.0.0.1:${dirPort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: caFile,
      privateKey: keyFile,
      httpPort,
      tlsPort,
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
      certificateValidityPeriod: 90 * 86_400,
    },
  };
  writeFileSync(config, JSON.stringify(pebbleConfig));
  const procs: ChildProcess[] = [
    spawn(
      "pebble-challtestsrv",
      ["-dns01", `127.0.0.1:${dnsPort}`, "-http01", "", "-https01", "", "-tlsalpn01", ""].concat([
        "-management",
        `127.0.0.1:${ctsPort}`,
        "-defaultIPv6",
        "",
      ]),
      { stdio: "ignore" },
    ),
    spawn("pebble", ["-config", config, "-dnsserver", `127.0.0.1:${dnsPort}`], {
      // No random validation delays, and a fresh authorization for every order.
      env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_AUTHZREUSE: "0" },
      stdio: "ignore",
    }),
  ];
  const stop = () => procs.forEach((p) => p.kill());
  const ca = readFileSync(caFile);
  const fetchText = (url: string) =>
    new Promise<string>((resolve, reject) =>
      httpsGet(url, { ca }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () =>
          res.statusCode === 200 ? resolve(body) : reject(new Error(`${res.statusCode}`)),
        );
      }).on("error", reject),
    );
  for (let i = 0; ; i++) {
    try {
      await fetchText(`https://127.0.0.1:${dirPort}/dir`);
      break;
    } catch (err) {
      if (i > 100) {
        stop();
        throw new Error(`pebble did not start: ${(err as Error).message}`, { cause: err });
      }
      await sleep(100);
    }
  }
  const root = await fetchText(`https://127.0.0.1:${mgmtPort}/roots/0`);
  return { directoryUrl: `https://127.0.0.1:${dirPort}/dir`, caFile, root, stop };
}

interface Served {
  status: number;
  body: string;
  fingerprint: string;
  names: string;
  issuer: string;
}

/** An HTTPS request by SNI name that trusts only `ca` (pebble's root: the gateway must send the chain). */
function getOverTls(url: string, servername: string, ca: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/`, { servername, ca, headers: { host: servername }, agent: false }, (res) => {
      const cert = (res.socket as TLSSocket).getPeerCertificate();
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          fingerprint: cert.fingerprint256,
          names: cert.subjectaltname ?? "",
          issuer: String(cert.issuer.CN ?? ""),
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

/** Log lines as objects, to check what an operator would read. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger({ destination, level: "info" }) };
}

describe("gateway ACME against pebble", () => {
  let pebble: Pebble;
  let app: Server;
  let httpPort: number;
  let tlsPort: number;
  const stateHttp = join(dir, "state-http01");
  const stateAlpn = join(dir, "state-alpn");
  /** The certificate served for shop.rampart.test by the first gateway. */
  let firstShop: Served;

  beforeAll(async () => {
    [httpPort, tlsPort] = [await freePort(), await freePort()];
    pebble = await startPebble(httpPort, tlsPort);
    app = createServer((_req, res) => res.end("hello from the app"));
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  });

  afterAll(() => {
    pebble?.stop();
    app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A gateway on the ports pebble validates against; one at a time, as they share them. */
  async function gateway(o: {
    stateDir: string;
    hosts: (string | string[])[];
    challenge?: "http-01" | "tls-alpn-01";
    directoryUrl?: string;
    clock?: Clock;
    logger?: ReturnType<typeof createLogger>;
  }): Promise<{ gw: Gateway; events: SecurityEvent[] }> {
    const events: SecurityEvent[] = [];
    const gw = await startGateway({
      gateway: gatewayConfigSchema.parse({
        port: httpPort,
        tls: {
          port: tlsPort,
          acme: {
            directoryUrl: o.directoryUrl ?? pebble.directoryUrl,
            email: "ops@rampart.test",
            hosts: o.hosts,
            challenge: o.challenge ?? "http-01",
            stateDir: o.stateDir,
            caFile: pebble.caFile,
          },
        },
      }),
      routes: [
        routeConfigSchema.parse({ upstream: `http://127.0.0.1:${(app.address() as AddressInfo).port}` }),
      ],
      emit: (e) => events.push(e),
      clock: o.clock ?? systemClock,
      ...(o.logger ? { logger: o.logger } : {}),
    });
    return { gw, events };
  }

  const issued = (events: SecurityEvent[]) => events.filter((e) => e.type === "gateway.certificate_issued");

  test("HTTP-01: certificates are issued at start and served by SNI with pebble's chain", async () => {
    const { gw, events } = await gateway({
      stateDir: stateHttp,
      hosts: ["shop.rampart.test", ["api.rampart.test", "www.rampart.test"]],
    });
    try {
      await gw.acme?.renewDue(); // joins the orders start() placed
      expect(issued(events).map((e) => e.data.hosts)).toEqual(
        expect.arrayContaining([["shop.rampart.test"], ["api.rampart.test", "www.rampart.test"]]),
      );
      firstShop = await getOverTls(gw.httpsUrl as string, "shop.rampart.test", pebble.root);
      expect(firstShop).toMatchObject({
        status: 200,
        body: "hello from the app",
        names: "DNS:shop.rampart.test",
      });
      expect(firstShop.issuer).toMatch(/^Pebble Intermediate CA/);
      const www = await getOverTls(gw.httpsUrl as string, "www.rampart.test", pebble.root);
      expect(www.names).toBe("DNS:api.rampart.test, DNS:www.rampart.test");
      expect(gw.certificates().map((c) => [c.source, c.daysLeft])).toEqual([
        ["acme", 89],
        ["acme", 89],
      ]);
      // Other plain-HTTP requests are still redirected.
      const plain = await new Promise<IncomingMessage>((resolve, reject) =>
        httpRequest(
          `${gw.url}/.well-known/acme-challenge/unknown`,
          { headers: { host: "shop.rampart.test" } },
          resolve,
        )
          .on("error", reject)
          .end(),
      );
      expect(plain.statusCode).toBe(308);
    } finally {
      await gw.close();
    }
    // Keys are private to the gateway's user, and no temporary file is left behind.
    const files = readdirSync(stateHttp).sort();
    expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(files.filter((f) => f.endsWith(".pem"))).toHaveLength(2);
    for (const f of files.filter((f) => f.endsWith(".pem") || f.endsWith(".key")))
      expect(statSync(join(stateHttp, f)).mode & 0o777).toBe(0o600);
  });

  test("a restart serves the stored certificates at once and places no new order", async () => {
    const { gw, events } = await gateway({
      stateDir: stateHttp,
      hosts: ["shop.rampart.test", ["api.rampart.test", "www.rampart.test"]],
    });
    try {
      const served = await getOverTls(gw.httpsUrl as string, "shop.rampart.test", pebble.root);
      expect(served.fingerprint).toBe(firstShop.fingerprint);
      await gw.acme?.renewDue();
      expect(issued(events)).toEqual([]);
    } finally {
      await gw.close();
    }
  });

  test("a certificate inside the renewal window is renewed and the new one served", async () => {
    // 70 of 90 days on: inside the 30-day window.
    const clock = manualClock(new Date(Date.now() + 70 * DAY_MS));
    const { gw, events } = await gateway({ stateDir: stateHttp, hosts: ["shop.rampart.test"], clock });
    try {
      await gw.acme?.renewDue();
      expect(issued(events).map((e) => e.data)).toEqual([
        expect.objectContaining({ hosts: ["shop.rampart.test"], renewal: true }),
      ]);
      const served = await getOverTls(gw.httpsUrl as string, "shop.rampart.test", pebble.root);
      expect(served.fingerprint).not.toBe(firstShop.fingerprint);
    } finally {
      await gw.close();
    }
  });

  test("TLS-ALPN-01: the validation handshake gets the challenge certificate, clients the issued one", async () => {
    const { gw, events } = await gateway({
      stateDir: stateAlpn,
      hosts: ["alpn.rampart.test"],
      challenge: "tls-alpn-01",
    });
    try {
      await gw.acme?.renewDue();
      expect(issued(events)).toHaveLength(1);
      const served = await getOverTls(gw.httpsUrl as string, "alpn.rampart.test", pebble.root);
      expect(served).toMatchObject({ status: 200, names: "DNS:alpn.rampart.test" });
    } finally {
      await gw.close();
    }
  });

  test("with the CA gone, the failure is logged without secrets and the stored certificate stays in service", async () => {
    pebble.stop();
    const { lines, logger } = capturedLogger();
    const clock = manualClock(new Date(Date.now() + 70 * DAY_MS));
    const { gw, events } = await gateway({
      stateDir: stateAlpn,
      hosts: ["alpn.rampart.test"],
      clock,
      logger,
    });
    try {
      await gw.acme?.renewDue();
      const failed = lines.find((l) => l.msg === "ACME order failed; keeping what is in service");
      expect(failed).toMatchObject({
        hosts: ["alpn.rampart.test"],
        directoryUrl: pebble.directoryUrl,
        failures: 1,
        retryAt: new Date(clock.now().getTime() + 5 * 60_000).toISOString(),
      });
      expect(String(failed?.err)).toMatch(/ECONNREFUSED/);
      expect(String(failed?.serving)).toMatch(/^the current certificate, valid until /);
      expect(events.find((e) => e.type === "gateway.certificate_order_failed")).toMatchObject({
        outcome: "failure",
        target: { kind: "certificate", id: "alpn.rampart.test" },
      });
      // Backoff: asking again at once places no order.
      await gw.acme?.renewDue();
      expect(lines.filter((l) => l.msg === "ACME order failed; keeping what is in service")).toHaveLength(1);
      const served = await getOverTls(gw.httpsUrl as string, "alpn.rampart.test", pebble.root);
      expect(served.status).toBe(200);
      expect(JSON.stringify(lines) + JSON.stringify(events)).not.toMatch(/PRIVATE KEY/);
    } finally {
      await gw.close();
    }
  });
});

describe("gateway ACME config", () => {
  test("TLS needs certificates or acme, and acme names are plain host names", () => {
    const none = gatewayConfigSchema.safeParse({ tls: {} });
    expect(none.error?.issues[0]).toMatchObject({
      path: ["tls", "certificates"],
      message: "give at least one certificate, or acme: to get certificates automatically",
    });
    const acme = (hosts: unknown) =>
      gatewayConfigSchema.safeParse({ tls: { acme: { directoryUrl: "https://ca.example/dir", hosts } } });
    expect(acme(["shop.example.com", ["a.example.com", "b.example.com"]]).success).toBe(true);
    expect(acme(["*.example.com"]).error?.issues[0]?.message).toMatch(
      /wildcard names need the DNS-01 challenge/,
    );
    expect(acme(["shop.example.com", ["SHOP.example.com"]]).error?.issues[0]?.message).toBe(
      "SHOP.example.com is listed twice",
    );
    expect(
      gatewayConfigSchema.safeParse({
        tls: { acme: { directoryUrl: "http://ca.example/dir", hosts: ["a.example"] } },
      }).error?.issues[0]?.message,
    ).toBe("expected the CA's https:// directory URL");
  });
});
