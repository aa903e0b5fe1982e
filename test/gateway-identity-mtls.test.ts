// Client certificates as identities at the gateway's TLS listener: a certificate the configured CA
// issued and config maps is a service account; an unmapped one, one from another CA, or none at
// all gets 401 on a route that accepts only certificates.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { rampartConfigSchema } from "../src/config/index.ts";
import type { Gateway } from "../src/network/gateway/proxy.ts";
import { type CertificateFiles, issueCertificate } from "./support/certificates.ts";
import { startEchoUpstream, startConfiguredGateway } from "./support/identity-gateway.ts";

const dir = mkdtempSync(join(tmpdir(), "rampart-mtls-"));
const ca = issueCertificate(dir, "ca", { cn: "Rampart test client CA" });
const otherCa = issueCertificate(dir, "other-ca", { cn: "Somebody else's CA" }); // signs the forged one
const server = issueCertificate(dir, "server", { cn: "localhost", san: ["DNS:localhost"], ca, leaf: true });
const spiffe = ["URI:spiffe://prod/billing"];
const billing = issueCertificate(dir, "billing", { cn: "billing", san: spiffe, ca, leaf: true });
const unmapped = issueCertificate(dir, "unmapped", { cn: "intern-laptop", ca, leaf: true });
const forged = issueCertificate(dir, "forged", { cn: "billing", san: spiffe, ca: otherCa, leaf: true });

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
        certificates: [{ hosts: ["localhost"], certFile: server.certFile, keyFile: server.keyFile }],
        clientCaFile: ca.certFile,
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
function get(path: string, client?: CertificateFiles): Promise<{ status: number; body: string }> {
  const url = new URL(path, gw.httpsUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(ca.certFile),
        servername: "localhost",
        ...(client ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {}),
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
