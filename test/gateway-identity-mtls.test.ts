// Client certificates as identities at the gateway's TLS listener: a certificate the configured CA
// issued and config maps is a service account; an unmapped one, one from another CA, or none at
// all gets 401 on a route that accepts only certificates.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { rampartConfigSchema } from "../src/config/index.ts";
import type { Gateway } from "../src/network/gateway/proxy.ts";
import { startEchoUpstream, startConfiguredGateway } from "./support/identity-gateway.ts";

const dir = mkdtempSync(join(tmpdir(), "rampart-mtls-"));
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"];
const LEAF = ["-addext", "basicConstraints=critical,CA:FALSE"];

/** A P-256 certificate signed by `ca` (or self-signed when `ca` is absent); returns its PEM files. */
function issue(name: string, cn: string, ca?: string, extra: string[] = []) {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const signer = ca ? ["-CA", join(dir, `${ca}.crt`), "-CAkey", join(dir, `${ca}.key`)] : [];
  execFileSync(
    "openssl",
    ["req", "-x509", ...EC, ...signer, "-subj", `/CN=${cn}`, ...extra, "-keyout", key, "-out", cert],
    {
      stdio: "ignore",
    },
  );
  return { cert, key };
}

const ca = issue("ca", "Rampart test client CA");
issue("other-ca", "Somebody else's CA"); // signs the forged certificate below
const server = issue("server", "localhost", "ca", ["-addext", "subjectAltName=DNS:localhost", ...LEAF]);
const billing = issue("billing", "billing", "ca", [
  "-addext",
  "subjectAltName=URI:spiffe://prod/billing",
  ...LEAF,
]);
const unmapped = issue("unmapped", "intern-laptop", "ca", LEAF);
const forged = issue("forged", "billing", "other-ca", [
  "-addext",
  "subjectAltName=URI:spiffe://prod/billing",
  ...LEAF,
]);

let gw: Gateway;
let echo: Awaited<ReturnType<typeof startEchoUpstream>>;

beforeAll(async () => {
  echo = await startEchoUpstream();
  const config = rampartConfigSchema.parse({
    version: 1,
    gateway: {
      port: 0,
      tls: {
        port: 0,
        certificates: [{ hosts: ["localhost"], certFile: server.cert, keyFile: server.key }],
        clientCaFile: ca.cert,
        redirectHttp: false,
      },
    },
    identity: {
      serviceAccounts: [{ name: "billing", roles: ["invoices-writer"] }],
      clientCertificates: [{ san: "URI:spiffe://prod/billing", service: "billing" }],
    },
    routes: [
      {
        path: "/api",
        upstream: echo.url,
        auth: { accept: ["client-certificate"] },
        policy: { rules: [{ allow: { serviceAccounts: ["billing"] } }] },
      },
    ],
  });
  gw = await startConfiguredGateway(config);
});

afterAll(async () => {
  await gw?.close();
  echo?.server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** GET over HTTPS with an optional client certificate; the status and the upstream's echo. */
function get(
  path: string,
  client?: { cert: string; key: string },
): Promise<{ status: number; body: string }> {
  const url = new URL(path, gw.httpsUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(ca.cert),
        servername: "localhost",
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

test("a certificate the CA issued and config maps is the service account it names", async () => {
  const res = await get("/api/invoices", billing);
  expect(res.status).toBe(200);
  const seen = JSON.parse(res.body) as { headers: Record<string, string> };
  expect(seen.headers["x-rampart-user"]).toBe("billing");
});

test("no certificate, an unmapped one, or one from another CA gets 401", async () => {
  expect((await get("/api/invoices")).status).toBe(401);
  expect((await get("/api/invoices", unmapped)).status).toBe(401);
  // Same subject and SAN as the real one, but another CA signed it.
  expect((await get("/api/invoices", forged)).status).toBe(401);
});
