// Hot reload of rampart.yaml on a running control plane: an invalid edit is refused (the server
// keeps serving with the config it had, and the refusal is in the audit log); a valid edit or a
// SIGHUP swaps the new config in and records that too.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ConfigError, type RampartConfig } from "../src/config/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import { type RunningServer, serverStatePath, startServer } from "../src/server/index.ts";

interface AuditEntry {
  id: string;
  type: string;
  severity: string;
  outcome: string;
  data: Record<string, unknown>;
  log: string;
  seq: number;
}

function logSink() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line.trim() !== "") lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger({ level: "info", destination: stream }) };
}

const WAIT = { timeout: 10_000, interval: 50 };

describe("config hot reload on a running server", () => {
  let dir: string;
  let dataDir: string;
  let configPath: string;
  let server: RunningServer;
  let sink: ReturnType<typeof logSink>;
  let sighupListenersBefore: number;

  const base = (extra = "") =>
    [
      "version: 1",
      "environment: dev",
      "server:",
      "  host: 127.0.0.1",
      "  port: 0",
      "database:",
      `  dataDir: ${JSON.stringify(dataDir)}`,
      "events:",
      "  batchMaxDelayMs: 10",
      extra,
    ].join("\n");

  // Events reach the log within batchMaxDelayMs (10 ms here); callers poll rather than flush, so
  // these tests do not depend on the flush path (which has its own test below).
  async function entries(type: string): Promise<AuditEntry[]> {
    const res = await fetch(`${server.url}/api/v1/audit/entries?type=${type}&limit=1000`, {
      headers: { authorization: `Bearer ${server.runtime.adminTokens[0]}` },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { entries: AuditEntry[] }).entries;
  }

  async function healthy(): Promise<void> {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rampart-reload-"));
    dataDir = join(dir, "data");
    configPath = join(dir, "rampart.yaml");
    writeFileSync(configPath, `${base()}\n`);
    sink = logSink();
    sighupListenersBefore = process.listenerCount("SIGHUP");
    server = await startServer({ configPath, logger: sink.logger });
  });

  afterAll(async () => {
    await server?.stop();
    delete process.env.RAMPART_TEST_RELOAD_ENVIRONMENT;
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts from the file", async () => {
    expect(server.runtime.config.environment).toBe("dev");
    expect(server.runtime.config.database.dataDir).toBe(dataDir);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await healthy();
  });

  const invalid: Array<{ what: string; text: () => string; first: string }> = [
    {
      what: "a YAML syntax error",
      text: () => base("audit:\n\tperiod: day\n"),
      first: "11:1 ",
    },
    {
      what: "a wrong type",
      text: () => base("audit:\n  checkpointIntervalSeconds: often\n"),
      first: "11:30 audit.checkpointIntervalSeconds",
    },
    {
      what: "an unknown key",
      text: () => base("audit:\n  perod: day\n"),
      first: "11:3 audit.perod",
    },
    {
      what: "a missing reference",
      text: () => base("hotState:\n  redisUrl: ${env:RAMPART_TEST_RELOAD_UNSET}\n"),
      first: "11:13 hotState.redisUrl",
    },
  ];

  for (const c of invalid) {
    it(`refuses ${c.what}: keeps serving with the old config and audits the refusal`, async () => {
      const before: RampartConfig = server.runtime.config;
      const rejectedBefore = (await entries("config.rejected")).length;
      const warningsBefore = sink.lines.filter((l) => l.msg?.toString().includes("rejected")).length;

      await writeFile(configPath, c.text());

      await vi.waitFor(async () => {
        expect((await entries("config.rejected")).length).toBeGreaterThan(rejectedBefore);
      }, WAIT);
      const rejected = await entries("config.rejected");
      // One edit, one refusal.
      expect(rejected).toHaveLength(rejectedBefore + 1);
      expect(rejected[0]).toMatchObject({
        type: "config.rejected",
        severity: "medium",
        outcome: "failure",
        data: { issues: 1 },
      });
      expect(String(rejected[0]?.data.first)).toMatch(
        new RegExp(`^${c.first.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`),
      );

      // The server still answers and still runs the config it had, untouched.
      await healthy();
      expect(server.runtime.config).toBe(before);
      expect(server.runtime.config.environment).toBe("dev");
      expect((await entries("config.reloaded")).length).toBe(0);

      // The operator's log says why.
      const warnings = sink.lines.filter((l) => l.msg?.toString().includes("rejected"));
      expect(warnings.length).toBe(warningsBefore + 1);
      expect(warnings.at(-1)?.level).toBe(40);
    });
  }

  it("a valid edit is applied without a restart and audited", async () => {
    const before = server.runtime.config;
    await writeFile(configPath, base().replace("environment: dev", "environment: sit"));

    await vi.waitFor(() => expect(server.runtime.config.environment).toBe("sit"), WAIT);
    // The old object is left whole for anyone still holding it; the new one is frozen.
    expect(before.environment).toBe("dev");
    expect(Object.isFrozen(server.runtime.config)).toBe(true);
    await healthy();

    await vi.waitFor(async () => expect(await entries("config.reloaded")).toHaveLength(1), WAIT);
    const reloaded = await entries("config.reloaded");
    expect(reloaded[0]).toMatchObject({
      type: "config.reloaded",
      outcome: "success",
      data: { environment: "sit" },
    });
    expect(sink.lines.some((l) => l.msg === "configuration reloaded")).toBe(true);
  });

  it("after a refusal, the next valid edit is still picked up", async () => {
    await writeFile(configPath, base("server2: {}\n"));
    await vi.waitFor(async () => {
      expect(String((await entries("config.rejected"))[0]?.data.first)).toMatch(/server2/);
    }, WAIT);
    expect(server.runtime.config.environment).toBe("sit");

    await writeFile(configPath, base().replace("environment: dev", "environment: uat"));
    await vi.waitFor(() => expect(server.runtime.config.environment).toBe("uat"), WAIT);
    await vi.waitFor(async () => {
      expect((await entries("config.reloaded")).map((e) => e.data.environment)).toEqual(["uat", "sit"]);
    }, WAIT);
  });

  it("SIGHUP reloads what the file refers to, though the file itself did not change", async () => {
    process.env.RAMPART_TEST_RELOAD_ENVIRONMENT = "sit";
    await writeFile(
      configPath,
      base().replace("environment: dev", "environment: ${env:RAMPART_TEST_RELOAD_ENVIRONMENT}"),
    );
    await vi.waitFor(() => expect(server.runtime.config.environment).toBe("sit"), WAIT);
    await vi.waitFor(async () => expect(await entries("config.reloaded")).toHaveLength(3), WAIT);

    // Only the environment changes: no file event will tell the watcher.
    process.env.RAMPART_TEST_RELOAD_ENVIRONMENT = "prod";
    await new Promise((r) => setTimeout(r, 300));
    expect(server.runtime.config.environment).toBe("sit");

    process.emit("SIGHUP");
    await vi.waitFor(() => expect(server.runtime.config.environment).toBe("prod"), WAIT);
    await vi.waitFor(async () => expect(await entries("config.reloaded")).toHaveLength(4), WAIT);
    expect((await entries("config.reloaded"))[0]?.data).toEqual({ environment: "prod", restartRequired: [] });
  });

  it("SIGHUP with a now-missing reference is refused like an invalid edit", async () => {
    const before = server.runtime.config;
    const rejectedBefore = (await entries("config.rejected")).length;
    delete process.env.RAMPART_TEST_RELOAD_ENVIRONMENT;
    process.emit("SIGHUP");
    await vi.waitFor(async () => {
      expect((await entries("config.rejected")).length).toBe(rejectedBefore + 1);
    }, WAIT);
    expect(String((await entries("config.rejected"))[0]?.data.first)).toMatch(/^2:14 environment$/);
    expect(server.runtime.config).toBe(before);
    await healthy();
  });

  it("the refusals and reloads are part of a log that verifies", async () => {
    const report = await server.runtime.audit.verify();
    expect(report.ok).toBe(true);
    expect(report.entries).toBeGreaterThan(0);
  });

  it("after an audit checkpoint is requested, later refusals are still audited", async () => {
    // `rampart audit checkpoint` against a running server does this; it flushes the event bus.
    const checkpoint = await fetch(`${server.url}/api/v1/audit/checkpoint`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.runtime.adminTokens[0]}` },
    });
    expect(checkpoint.status).toBe(200);
    const rejectedBefore = (await entries("config.rejected")).length;

    await writeFile(configPath, base("audit:\n  period: fortnight\n"));
    await vi.waitFor(() => {
      expect(sink.lines.filter((l) => l.msg?.toString().includes("rejected")).at(-1)?.issues).toEqual([
        expect.stringMatching(/^11:11 audit\.period: /),
      ]);
    }, WAIT);
    await vi.waitFor(async () => {
      expect(await entries("config.rejected")).toHaveLength(rejectedBefore + 1);
    }, WAIT);
    // And a flush now finds nothing left behind.
    await expect(server.runtime.bus.flush()).resolves.toBeUndefined();
  });

  it("an edit to a section built at start is applied to the config but flagged as needing a restart", async () => {
    const reloadsBefore = (await entries("config.reloaded")).length;
    await writeFile(configPath, base("audit:\n  checkpointIntervalSeconds: 30\n"));
    await vi.waitFor(async () => {
      expect(await entries("config.reloaded")).toHaveLength(reloadsBefore + 1);
    }, WAIT);
    expect((await entries("config.reloaded"))[0]?.data).toMatchObject({ restartRequired: ["audit"] });
    expect(sink.lines.some((l) => String(l.msg).includes("take effect after a restart"))).toBe(true);
  });

  it("stopping the server stops listening for SIGHUP and removes its state file", async () => {
    const state = serverStatePath(server.runtime.dataDir);
    await server.stop();
    expect(process.listenerCount("SIGHUP")).toBe(sighupListenersBefore);
    const { existsSync } = await import("node:fs");
    expect(existsSync(state)).toBe(false);
  });
});

describe("starting the server on an invalid config", () => {
  it("refuses to start and says where the problem is", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rampart-reload-bad-"));
    try {
      const configPath = join(dir, "rampart.yaml");
      const dataDir = join(dir, "data");
      writeFileSync(
        configPath,
        `version: 1\nserver:\n  port: 0\ndatabase:\n  dataDir: ${JSON.stringify(dataDir)}\nenvironment: qa\n`,
      );
      const { logger } = logSink();
      const error = await startServer({ configPath, logger }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues).toEqual([
        expect.objectContaining({ file: configPath, line: 6, column: 14, path: "environment" }),
      ]);
      expect(process.listenerCount("SIGHUP")).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a server that cannot take its port stops watching its config", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rampart-reload-busy-"));
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    const port = (busy.address() as AddressInfo).port;
    const listenersBefore = process.listenerCount("SIGHUP");
    try {
      const configPath = join(dir, "rampart.yaml");
      writeFileSync(
        configPath,
        `version: 1\nserver:\n  port: ${port}\ndatabase:\n  dataDir: ${JSON.stringify(join(dir, "data"))}\n`,
      );
      const { logger } = logSink();
      await expect(startServer({ configPath, logger })).rejects.toThrow(
        /^127\.0\.0\.1:\d+ is already in use; set server\.port or pass --port$/,
      );
      // Nothing of the failed start may stay behind: no SIGHUP handler reloading a dead server.
      expect(process.listenerCount("SIGHUP")).toBe(listenersBefore);
    } finally {
      busy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
