// `${secret:…}` references in the server's and gateway's own rampart.yaml: the server opens its
// store from the bootstrap sections, then resolves the rest through it (audited as system:config);
// hot reloads resolve the same way; a standalone gateway reads through the control plane's API.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../src/config/index.ts";
import { hashClientSecret } from "../src/identity/service-auth/accounts.ts";
import { startGateway } from "../src/network/gateway/proxy.ts";
import { createLogger } from "../src/platform/logging.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";
import { rampart } from "./support/cli.ts";
import { freePort } from "./support/services.ts";

const bin = fileURLToPath(new URL("../bin/rampart.js", import.meta.url));
const CLIENT_SECRET = "svc-client-secret-0123456789abcdefghijklmnop";
const WAIT = { timeout: 10_000, interval: 50 };

function logSink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger({ level: "info", destination: stream }) };
}

async function app(name: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => res.end(`${name} saw ${req.url}`));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe("${secret:…} references in rampart.yaml", () => {
  const dir = mkdtempSync(join(tmpdir(), "rampart-secret-refs-"));
  const dataDir = join(dir, "data");
  const configPath = join(dir, "rampart.yaml");
  let a: Awaited<ReturnType<typeof app>>;
  let b: Awaited<ReturnType<typeof app>>;
  let server: RunningServer | undefined;
  const sink = logSink();

  const config = (o: { routes?: string[]; hashes?: string; ingest?: string; database?: string[] } = {}) =>
    [
      "version: 1",
      "environment: dev",
      "server: { host: 127.0.0.1, port: 0 }",
      "database:",
      `  dataDir: ${JSON.stringify(dataDir)}`,
      ...(o.database ?? []),
      "events:",
      "  batchMaxDelayMs: 10",
      ...(o.ingest ? ["  ingestTokens:", `    - { name: edge, token: ${JSON.stringify(o.ingest)} }`] : []),
      "identity:",
      "  serviceAccounts:",
      "    - name: edge-gateway",
      `      secretHashes: ${o.hashes ?? "[]"}`,
      "secrets:",
      "  policies:",
      "    - { name: edge, paths: [/dev/app/*], capabilities: [read], serviceAccounts: [edge-gateway] }",
      ...(o.routes ? ["routes:", ...o.routes] : []),
      "",
    ].join("\n");
  const withRefs = (key: string, extra: { ingest?: string } = {}) =>
    config({
      routes: ["  - path: /", `    upstream: \${secret:/dev/app/upstream#${key}}`],
      hashes: "['${secret:/dev/app/service#hash}']",
      ...extra,
    });

  const api = async (method: string, path: string, body?: unknown) => {
    if (!server) throw new Error("no server");
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${server.runtime.adminTokens[0]}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const entries = async (type: string) =>
    (await api("GET", `/api/v1/audit/entries?type=${type}&limit=1000`)).body.entries as Array<
      Record<string, unknown>
    >;
  const startFrom = (text: string) => {
    writeFileSync(configPath, text);
    return startServer({ configPath, logger: sink.logger });
  };

  beforeAll(async () => {
    [a, b] = await Promise.all([app("a"), app("b")]);
    // The secrets are written through the API of a server whose file has no references yet.
    server = await startFrom(config());
    expect(
      (await api("PUT", "/api/v1/secrets/data/dev/app/upstream", { data: { url: a.url, alt: b.url } }))
        .status,
    ).toBe(200);
    expect(
      (
        await api("PUT", "/api/v1/secrets/data/dev/app/service", {
          data: { hash: hashClientSecret(CLIENT_SECRET) },
        })
      ).status,
    ).toBe(200);
    await server.stop();
    server = undefined;
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    a?.server.close();
    b?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a server starts from a file whose routes and identity use them, and the values are in force", async () => {
    server = await startFrom(withRefs("url"));
    const config = server.runtime.config;
    // As `rampart up` does: the gateway is built from the resolved config.
    const gateway = await startGateway({
      gateway: { ...config.gateway, port: 0 },
      routes: config.routes,
      hot: server.runtime.hot,
      identity: { identity: config.identity, rbac: config.rbac },
    });
    try {
      expect(await (await fetch(`${gateway.url}/orders`)).text()).toBe("a saw /orders");
      const issued = await fetch(`${gateway.url}/.rampart/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `grant_type=client_credentials&client_id=edge-gateway&client_secret=${CLIENT_SECRET}`,
      });
      expect(issued.status).toBe(200);
    } finally {
      await gateway.close();
    }
    // Each read is audited as the system caller `config`.
    await expect
      .poll(async () => (await entries("secrets.read")).map((e) => JSON.stringify(e.actor)), WAIT)
      .toEqual(expect.arrayContaining([expect.stringContaining("config")]));
  }, 30_000);

  it("hot reload resolves through the store; a reload it cannot resolve keeps the running config", async () => {
    if (!server) throw new Error("no server");
    const rt = server.runtime;
    writeFileSync(configPath, withRefs("alt"));
    await expect.poll(() => rt.config.routes[0]?.upstream, WAIT).toBe(b.url);

    writeFileSync(
      configPath,
      config({ routes: ["  - path: /", "    upstream: ${secret:/dev/app/missing}"] }),
    );
    await expect.poll(async () => (await entries("config.rejected")).length, WAIT).toBe(1);
    expect(rt.config.routes[0]?.upstream).toBe(b.url);
    const log = sink.lines.join("");
    expect(log).toContain("cannot resolve ${secret:/dev/app/missing}");
    expect(log).not.toContain(hashClientSecret(CLIENT_SECRET));
  }, 30_000);

  it("a gateway process resolves through the control plane's API with its credential", async () => {
    if (!server) throw new Error("no server");
    const key = await api("POST", "/api/v1/identity/api-keys", {
      kind: "service",
      subject: "edge-gateway",
      ttlSeconds: 3600,
    });
    expect(key.status).toBe(201);
    const token = key.body.key as string;
    // The same credential sends the gateway's events.
    writeFileSync(configPath, withRefs("url", { ingest: token }));
    await expect.poll(() => server?.runtime.config.events.ingestTokens.length, WAIT).toBe(1);

    const port = await freePort();
    const gatewayConfig = join(dir, "gateway.yaml");
    const gatewayFile = (controlPlane: boolean) =>
      [
        "version: 1",
        "gateway:",
        `  port: ${port}`,
        ...(controlPlane
          ? [
              "  controlPlane:",
              `    url: ${server?.url}`,
              `    token: ${JSON.stringify(token)}`,
              `    spoolDir: ${JSON.stringify(join(dir, "spool"))}`,
            ]
          : []),
        "routes:",
        "  - path: /",
        "    upstream: ${secret:/dev/app/upstream#alt}",
        "",
      ].join("\n");

    writeFileSync(gatewayConfig, gatewayFile(false));
    const refused = await rampart(["gateway", "-c", gatewayConfig], { cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `${gatewayConfig}:6:15 routes[0].upstream: \${secret:…} needs a control plane to read it from`,
    );

    writeFileSync(gatewayConfig, gatewayFile(true));
    const child = spawn(process.execPath, [bin, "gateway", "-c", gatewayConfig], {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      await expect
        .poll(async () => (await fetch(`http://127.0.0.1:${port}/x`).catch(() => undefined))?.text(), {
          timeout: 20_000,
          interval: 100,
        })
        .toBe("b saw /x");
    } finally {
      child.kill("SIGTERM");
      expect(await exited, stderr).toBe(0);
    }
    expect(stderr).not.toContain(b.url);
    await expect
      .poll(async () => (await entries("secrets.read")).map((e) => JSON.stringify(e.actor)), WAIT)
      .toEqual(expect.arrayContaining([expect.stringContaining("edge-gateway")]));
  }, 40_000);

  it("a reference in a bootstrap section, or to a missing secret, stops the start with a located error", async () => {
    await server?.stop();
    server = undefined;
    const database = await startFrom(config({ database: ["  url: ${secret:/dev/db/url}"] })).catch(
      (err: unknown) => err,
    );
    expect(database).toBeInstanceOf(ConfigError);
    expect((database as ConfigError).message).toBe(
      `${configPath}:6:8 database.url: database cannot use \${secret:…}: the secrets store needs this section to open`,
    );

    const missing = await startFrom(
      config({ routes: ["  - path: /", "    upstream: ${secret:/dev/app/missing}"], hashes: "[]" }),
    ).catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(ConfigError);
    const message = (missing as ConfigError).message;
    expect(message).toMatch(
      new RegExp(
        `^${configPath.replaceAll(".", "\\.")}:\\d+:\\d+ routes\\[0\\]\\.upstream: cannot resolve \\$\\{secret:/dev/app/missing\\}: `,
      ),
    );
    expect(message).not.toContain(a.url);
    // Nothing kept running: the same data directory starts again.
    server = await startFrom(withRefs("url"));
    expect(server.runtime.config.routes[0]?.upstream).toBe(a.url);
  }, 40_000);
});
