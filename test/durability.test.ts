// SIGKILL during a burst of appends: every acknowledged event survives the restart and the log verifies.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, inject, test } from "vitest";
import { defaultConfig, type RampartConfig } from "../src/config/index.ts";
import { newEvent, type SecurityEvent } from "../src/platform/events/index.ts";
import { openAuditOffline } from "../src/server/runtime.ts";
import { freshDatabase } from "./support/pg.ts";
import { freePort } from "./support/services.ts";
import { backends } from "./support/stores.ts";

const token = "durability-token-0123456789abcdef0123456789";
const main = join(import.meta.dirname, "..", "src", "cli", "main.ts");

async function startServerProcess(configFile: string, url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [main, "server", "--config", configFile], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return child;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill("SIGKILL");
  throw new Error(`server did not start: ${stderr}`);
}

describe.each(backends)("durability on %s", (backend) => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  test("SIGKILL mid-burst loses no acknowledged event", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rampart-durability-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const db = backend === "postgres" ? await freshDatabase(inject("pgUrl")) : undefined;
    if (db) cleanups.push(() => db.drop());
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const configFile = join(dir, "rampart.yaml");
    writeFileSync(
      configFile,
      [
        "version: 1",
        `server: { port: ${port} }`,
        `database: { dataDir: "${join(dir, "data")}"${db ? `, url: "${db.url}"` : ""} }`,
        `events: { ingestTokens: [{ name: gw, token: "${token}" }], batchMaxDelayMs: 5 }`,
        "audit: { checkpointIntervalSeconds: 1 }",
        "",
      ].join("\n"),
    );
    let server = await startServerProcess(configFile, url);
    cleanups.push(() => {
      server.kill("SIGKILL");
    });

    // Four concurrent senders post batches until the server dies; acknowledged batches are remembered.
    const acked: SecurityEvent[] = [];
    let sent = 0;
    const sender = async (w: number) => {
      for (let b = 0; b < 10_000; b++) {
        const events = Array.from({ length: 20 }, (_, i) =>
          newEvent({
            type: "auth.login",
            actor: { kind: "user", id: `u${i}@example.com` },
            data: { w, b, i },
          }),
        );
        sent++;
        try {
          const res = await fetch(`${url}/api/v1/events`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ batchId: `w${w}-b${b}-${Date.now()}`, events }),
          });
          if (res.status === 201) acked.push(...events);
        } catch {
          return; // connection refused or reset: the server is gone
        }
      }
    };
    const senders = [0, 1, 2, 3].map(sender);
    while (acked.length < 2000) await sleep(20);
    server.kill("SIGKILL");
    await Promise.all(senders);
    expect(sent * 20).toBeGreaterThan(acked.length); // some requests were in flight when it died

    // Restart: the server recovers and signs what was acknowledged but unsigned.
    server = await startServerProcess(configFile, url);
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));

    const config: RampartConfig = {
      ...defaultConfig(),
      database: { dataDir: join(dir, "data"), ...(db ? { url: db.url } : {}) },
    };
    const { audit, store, close } = await openAuditOffline(config);
    cleanups.push(close);
    const report = await audit.verify();
    expect(report.problem).toBeUndefined();
    expect(report.ok).toBe(true);
    const ids = new Set<string>();
    let after = "";
    for (;;) {
      const rows = await store.db
        .withTables<{ audit_entries: { id: string } }>()
        .selectFrom("audit_entries")
        .select("id")
        .where("id", ">", after)
        .orderBy("id")
        .limit(10_000)
        .execute();
      if (rows.length === 0) break;
      for (const r of rows) ids.add(r.id);
      after = rows.at(-1)?.id as string;
    }
    const missing = acked.filter((e) => !ids.has(e.id));
    expect(missing).toHaveLength(0);
  }, 120_000);
});
