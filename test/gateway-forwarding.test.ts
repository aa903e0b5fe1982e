// A standalone `rampart gateway` forwards its decisions to a real `rampart server`, and keeps them in
// its disk spool while the server is down: both run as processes, as an operator runs them.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, expect, test } from "vitest";
import { rampart } from "./support/cli.ts";
import { freePort, listenLocal } from "./support/services.ts";

const bin = fileURLToPath(new URL("../bin/rampart.js", import.meta.url));
const ingestToken = "gw-forwarding-ingest-0123456789abcdef0123";
const adminToken = "gw-forwarding-admin-0123456789abcdef01234";
const work = mkdtempSync(join(tmpdir(), "rampart-gw-forward-"));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  stderr: () => string;
  /** SIGTERM, then the exit code. */
  stop: () => Promise<number | null>;
}

async function start(args: string[], ready: string, env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: work,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.add(child);
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once("exit", r));
  void exited.then(() => children.delete(child));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`rampart ${args[0]} exited: ${stderr}`);
    if (await fetch(ready).catch(() => undefined)) break;
    if (i > 300) throw new Error(`rampart ${args[0]} did not start: ${stderr}`);
    await sleep(100);
  }
  return {
    child,
    stderr: () => stderr,
    stop: () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

test("denials reach the server's audit log; while it is down they wait in the spool, then arrive", async () => {
  const app = createServer((_req, res) => res.end("ok"));
  const upstream = await listenLocal(app);
  const [serverPort, gatewayPort] = [await freePort(), await freePort()];
  const api = `http://127.0.0.1:${serverPort}`;
  const spool = join(work, "spool");
  writeFileSync(
    join(work, "server.yaml"),
    [
      "version: 1",
      `server: { port: ${serverPort} }`,
      `database: { dataDir: "${join(work, "data")}" }`,
      `events: { ingestTokens: [{ name: edge-1, token: "${ingestToken}" }], batchMaxDelayMs: 5 }`,
      "",
    ].join("\n"),
  );
  // The URL comes from --control-plane, the token from the environment through a reference.
  writeFileSync(
    join(work, "gateway.yaml"),
    [
      "version: 1",
      "gateway:",
      `  port: ${gatewayPort}`,
      "  trustedProxies: [127.0.0.1]",
      "  eventIntervalSeconds: 1",
      "  controlPlane:",
      "    token: ${env:RAMPART_INGEST_TOKEN}",
      `    spoolDir: ${spool}`,
      "    batchMaxDelayMs: 20",
      "routes:",
      "  - path: /admin",
      `    upstream: ${upstream}`,
      "    ipRules: { deny: [203.0.113.0/24] }",
      "",
    ].join("\n"),
  );
  const serverEnv = { RAMPART_ADMIN_TOKEN: adminToken, RAMPART_LOG_LEVEL: "warn" };
  const startServer = () => start(["server", "-c", "server.yaml"], `${api}/healthz`, serverEnv);
  let server = await startServer();
  const gateway = await start(
    ["gateway", "-c", "gateway.yaml", "--control-plane", api],
    `http://127.0.0.1:${gatewayPort}/`,
    { RAMPART_INGEST_TOKEN: ingestToken },
  );

  const deny = async (ip: string, times: number) => {
    for (let i = 0; i < times; i++) {
      const res = await fetch(`http://127.0.0.1:${gatewayPort}/admin`, {
        headers: { "x-forwarded-for": ip },
      });
      expect(res.status).toBe(403);
    }
  };
  type Entry = { actor: string; source: string; data: { count: number } };
  const denialsOf = async (ip: string): Promise<Entry[]> => {
    const res = await fetch(`${api}/api/v1/audit/entries?type=gateway.ip_denied&limit=1000`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    const { entries } = (await res.json()) as { entries: Entry[] };
    return entries.filter((e) => e.actor === `ip:${ip}`);
  };
  const counted = async (ip: string) => (await denialsOf(ip)).reduce((n, e) => n + e.data.count, 0);
  const until = async (what: string, check: () => boolean | Promise<boolean>) => {
    for (let i = 0; !(await check()); i++) {
      if (i > 200) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  };
  const batchFiles = () => readdirSync(spool).filter((n) => n.endsWith(".json"));

  try {
    await deny("203.0.113.7", 3);
    await until("the first denials in the audit log", async () => (await counted("203.0.113.7")) === 3);
    // The server names the source by the token the gateway authenticated with.
    expect((await denialsOf("203.0.113.7"))[0]?.source).toBe("edge-1");

    expect(await server.stop()).toBe(0);
    await deny("203.0.113.8", 2);
    await until("a batch in the spool", () => batchFiles().length > 0);

    server = await startServer();
    await until("the spooled denials in the audit log", async () => (await counted("203.0.113.8")) === 2);
    await until("the spool emptied", () => batchFiles().length === 0);
    expect(await counted("203.0.113.7")).toBe(3); // nothing sent twice
  } finally {
    expect(await gateway.stop()).toBe(0);
    await server.stop();
    app.close();
  }
  expect(gateway.stderr()).toContain("control plane unreachable");
  expect(gateway.stderr()).not.toContain(ingestToken);
}, 120_000);

test("--control-plane needs the ingest token in the config file, and a URL", async () => {
  writeFileSync(join(work, "no-token.yaml"), "version: 1\nroutes:\n  - upstream: http://127.0.0.1:9\n");
  const noToken = await rampart(
    ["gateway", "-c", "no-token.yaml", "--control-plane", "http://127.0.0.1:7600"],
    {
      cwd: work,
    },
  );
  expect(noToken.code).toBe(2);
  expect(noToken.stderr).toContain(
    "--control-plane: needs an ingest token: add gateway.controlPlane.token to no-token.yaml",
  );
  const noUrl = await rampart(["gateway", "-c", "no-token.yaml", "--control-plane", "127.0.0.1:7600"], {
    cwd: work,
  });
  expect(noUrl.code).not.toBe(0);
  expect(noUrl.stderr).toContain("expected the control plane's http(s) URL");
});
