// `rampart up` as a new user runs it: no config, embedded storage, a demo app, a clean stop.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, test } from "vitest";
import { rampart } from "./support/cli.ts";
import { freePort } from "./support/services.ts";

const bin = fileURLToPath(new URL("../bin/rampart.js", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "rampart-up-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

test("rampart up starts a working demo and stops cleanly with a final checkpoint", async () => {
  const port = await freePort();
  const gatewayPort = await freePort();
  const child = spawn(
    process.execPath,
    [bin, "up", "--port", String(port), "--gateway-port", String(gatewayPort)],
    {
      cwd: work,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  while (!stdout.includes("Stop with Ctrl-C") && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));

  expect(stdout).toContain(`control plane   http://127.0.0.1:${port}`);
  expect(stdout).toMatch(
    /Try:\n {3}1\. curl -i .*\/api\/orders .*\n {3}2\. curl .*\/healthz\n {3}3\. curl -H "Authorization: Bearer/,
  );
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  expect(await health.json()).toEqual({ status: "ok" });
  const sample = stdout.match(/sample app {6}(http:\/\/\S+)/)?.[1];
  expect(sample).toBeTruthy();
  expect((await fetch(`${sample}/api/orders`)).status).toBe(200);
  // The sample app sits behind the gateway, which adds what the app left out.
  expect(stdout).toContain(`edge gateway    http://127.0.0.1:${gatewayPort}  (1 route)`);
  const viaGateway = await fetch(`http://127.0.0.1:${gatewayPort}/api/orders`);
  expect(viaGateway.status).toBe(200);
  expect(await viaGateway.text()).toBe(await (await fetch(`${sample}/api/orders`)).text());
  expect(viaGateway.headers.get("x-content-type-options")).toBe("nosniff");
  expect(viaGateway.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);

  // While it runs, the CLI goes through the server (the embedded database admits one process).
  const live = await rampart(["audit", "verify"], { cwd: work });
  expect(live.code).toBe(0);
  expect(live.stdout).toMatch(/OK: \d+ entries in \d+ logs verified .*\(server http:\/\/127\.0\.0\.1:\d+\)/);

  // The demo's fifth suggestion: block yourself at the gateway, then lift it.
  expect(stdout).toContain("5. npx rampart blocks add 127.0.0.1 --for 2m --reason demo");
  const blocked = await rampart(["blocks", "add", "127.0.0.1", "--for", "2m", "--reason", "demo"], {
    cwd: work,
  });
  expect(blocked.stdout).toMatch(/^blocked/);
  await expect.poll(async () => (await fetch(`http://127.0.0.1:${gatewayPort}/api/orders`)).status).toBe(403);
  expect((await rampart(["blocks", "remove", "127.0.0.1"], { cwd: work })).stdout).toMatch(/^lifted/);
  await expect.poll(async () => (await fetch(`http://127.0.0.1:${gatewayPort}/api/orders`)).status).toBe(200);

  child.kill("SIGTERM");
  expect(await exited).toBe(0);

  // After the stop: the stop itself is logged, and every entry is under a signed checkpoint.
  const logs = await rampart(["audit", "logs", "--json"], { cwd: work });
  const status = JSON.parse(logs.stdout) as { logs: Array<{ log: string; size: number }> };
  const verify = await rampart(["audit", "verify", "--json"], { cwd: work });
  const report = JSON.parse(verify.stdout) as {
    ok: boolean;
    logs: Array<{ log: string; entries: number; checkpoints: number }>;
  };
  expect(report.ok).toBe(true);
  const audit = report.logs.find((l) => l.log.startsWith("audit/"));
  expect(audit?.entries).toBe(status.logs.find((l) => l.log === audit?.log)?.size);
  const proof = await rampart(["audit", "proof", "--log", audit?.log as string, "--from", "1", "--json"], {
    cwd: work,
  });
  expect(proof.code).toBe(0);
  expect(JSON.parse(proof.stdout)).toMatchObject({ fromSize: 1, toSize: audit?.entries, verified: true });
  const offline = await rampart(["audit", "verify"], { cwd: work });
  expect(offline.stdout).toMatch(/\(data directory .*\.rampart\)/);
  const stopped = await rampart(["audit", "search", "--type", "server.stopped", "--json"], { cwd: work });
  expect((JSON.parse(stopped.stdout) as { entries: unknown[] }).entries).toHaveLength(1);
  const human = await rampart(["audit", "search", "--type", "server.started"], { cwd: work });
  expect(human.stdout).toMatch(/server\.started +success +system:rampart +\(audit\/\S+ #\d+\)\n1 entries/);
  const bad = await rampart(["audit", "search", "--limit", "5000"], { cwd: work });
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toContain("limit: expected an integer from 1 to 1000");
}, 90_000);
