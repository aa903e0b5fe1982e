// `rampart access` and `rampart identity` as people use them against a running server: an admin
// hands out API keys, a developer asks for access, an approver decides, a leaver is revoked.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type RampartConfig, rampartConfigSchema } from "../src/config/index.ts";
import { hashClientSecret } from "../src/identity/service-auth/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";
import { rampart as runRampart } from "./support/cli.ts";

// Each command starts a Node process: on a busy machine a journey of several takes a while.
const JOURNEY_MS = 120_000;

const alice = "corp:alice";
const bob = "corp:bob";

let work: string;
let server: RunningServer;
let admin: string;

/** The real CLI against this suite's server, acting as `token`. */
const rampart = (args: string[], token = admin) =>
  runRampart([...args, "--server", server.url, "--token", token], { cwd: work });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "rampart-cli-identity-"));
  const config: RampartConfig = rampartConfigSchema.parse({
    version: 1,
    server: { port: 0 },
    database: { dataDir: join(work, "data") },
    routes: [{ id: "grafana", path: "/grafana", upstream: "http://127.0.0.1:9", environment: "prod" }],
    rbac: {
      bindings: [
        { role: "developer", users: [alice] },
        { role: "security-admin", users: [bob] },
      ],
    },
    jit: {
      roles: [
        {
          role: "operator",
          requesters: { users: [alice] },
          approvers: { users: [bob] },
          maxDurationMinutes: 240,
        },
      ],
    },
  });
  server = await startServer({ config, logger: createLogger({ level: "silent" }) });
  admin = server.runtime.adminTokens[0] as string;
});

afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

test(
  "keys for two people, a request, its approval, a revocation",
  async () => {
    const created = await rampart([
      "identity",
      "api-key",
      "create",
      "--user",
      alice,
      "--ttl",
      "1d",
      "--json",
    ]);
    expect(created.code).toBe(0);
    const aliceKey = (JSON.parse(created.stdout) as { key: string }).key;
    const plain = await rampart(["identity", "api-key", "create", "--user", bob, "--ttl", "1d"]);
    expect(plain.stdout).toContain("store this key now: it is not shown again");
    const bobKey = plain.stdout.split("\n")[0] as string;
    expect(bobKey).toMatch(/^rpk_/);

    const asked = await rampart(
      [
        "access",
        "request",
        "--role",
        "operator",
        "--route",
        "grafana",
        "--for",
        "2h",
        "--why",
        "INC-1 disk",
        "--json",
      ],
      aliceKey,
    );
    expect(asked.code).toBe(0);
    const request = JSON.parse(asked.stdout) as { id: string; status: string; durationMinutes: number };
    expect(request).toMatchObject({ status: "pending", durationMinutes: 120 });

    const pending = await rampart(["access", "list", "--pending"], bobKey);
    expect(pending.stdout).toContain(
      `${request.id}  pending   operator on route grafana  by ${alice}  0/1 approvals`,
    );

    // The admin token is not a person: it may not approve.
    const byAdmin = await rampart(["access", "approve", request.id]);
    expect(byAdmin.code).toBe(2);
    expect(byAdmin.stderr).toContain("approvals need a person's credential");

    const approved = await rampart(["access", "approve", request.id, "--comment", "go", "--json"], bobKey);
    expect(JSON.parse(approved.stdout)).toMatchObject({ id: request.id, status: "approved" });

    const revoked = await rampart(["identity", "revoke", alice, "--reason", "offboarded"]);
    expect(revoked.stdout).toBe(
      `revoked ${alice}: 0 session(s) ended, 1 grant(s) revoked, every token and key issued until now refused\n`,
    );
    const after = await rampart(["access", "list"], aliceKey);
    expect(after.code).toBe(2);
    expect(after.stderr).toContain("401");
  },
  JOURNEY_MS,
);

test(
  "bad input is refused before anything is sent, with exit code 2 and what to fix",
  async () => {
    const r = await rampart([
      "access",
      "request",
      "--role",
      "operator",
      "--route",
      "grafana",
      "--for",
      "soon",
      "--why",
      "x",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("rampart: --for: expected a duration such as 30m, 2h or 7d; got 'soon'\n");
    const both = await rampart([
      "access",
      "break-glass",
      "--role",
      "operator",
      "--route",
      "grafana",
      "--environment",
      "prod",
      "--why",
      "x",
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("exactly one of --route ID or --environment NAME");
  },
  JOURNEY_MS,
);

test("hash-secret prints the sha256 form of a secret read on stdin, offline", async () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const out = await new Promise<{ code: number; stdout: string }>((resolve) => {
    const child = execFile(
      join(root, "node_modules", ".bin", "node"),
      [join(root, "src", "cli", "main.ts"), "identity", "hash-secret"],
      { cwd: work, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" } },
      (error, stdout) => resolve({ code: error ? Number(error.code) : 0, stdout }),
    );
    child.stdin?.end("s3cret-value\n");
  });
  expect(out).toEqual({ code: 0, stdout: `${hashClientSecret("s3cret-value")}\n` });
});
