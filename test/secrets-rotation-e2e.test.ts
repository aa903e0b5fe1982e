// Rotation end to end on a PostgreSQL that checks passwords (SCRAM over TCP): the new credential
// connects, the previous one through the grace period only, a wrong one never; and an application
// under the real `rampart secrets run --watch` reconnects as the other user after a rotation asked
// for through the API, while the credential it left is refused once retired.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  openSecrets,
  rotationCaller,
  secretsConfigSchema,
  secretsMigrations,
} from "../src/appsec/secrets/index.ts";
import { createRotationScheduler, rotationMigrations } from "../src/appsec/secrets/rotation/index.ts";
import { rampartConfigSchema } from "../src/config/index.ts";
import { manualClock } from "../src/platform/clock.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";
import { type RestartableService, startPostgres } from "./support/services.ts";
import { openTestStore, type TestStore } from "./support/stores.ts";
import { callerOf } from "./support/secrets.ts";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const suffix = () => randomBytes(4).toString("hex");
const ADMIN_PASSWORD = `pg-admin-${suffix()}`;
const root = fileURLToPath(new URL("..", import.meta.url));

const alice = callerOf("user", "corp:alice");

let postgres: RestartableService;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "rampart-rotation-e2e-"));
  postgres = await startPostgres({ passwords: ADMIN_PASSWORD });
});

afterAll(async () => {
  await postgres?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Logs in over TCP (a real SCRAM check) and returns current_user. */
async function login(username: string, password: string): Promise<string> {
  const url = new URL(postgres.url);
  url.username = encodeURIComponent(username);
  url.password = encodeURIComponent(password);
  const c = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
  c.on("error", () => {});
  await c.connect();
  try {
    return (await c.query<{ who: string }>("select current_user as who")).rows[0]!.who;
  } finally {
    await c.end();
  }
}

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: postgres.url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

// PostgreSQL's answer to a bad password (or a login whose password was replaced): invalid_password.
const refused = { code: "28P01", message: expect.stringMatching(/password authentication failed/) };

describe("PostgreSQL with password authentication", () => {
  const role = `api_${suffix()}`;
  let ts: TestStore | undefined;

  beforeAll(() => admin(`create role ${role} nologin`));
  afterAll(async () => {
    await ts?.cleanup();
    for (const r of [`${role}_a`, `${role}_b`, role]) await admin(`drop role if exists ${r}`);
  });

  test("the new password connects, the old one through grace only, a wrong one never", async () => {
    ts = await openTestStore("postgres", { ...secretsMigrations, ...rotationMigrations });
    const config = secretsConfigSchema.parse({
      policies: [
        { name: "ops", paths: ["/prod/**"], capabilities: ["read", "rotate"], users: ["corp:alice"] },
      ],
      rotation: [
        {
          path: "/prod/api/db",
          everyDays: 30,
          graceMinutes: 60,
          target: { kind: "postgres", adminUrl: postgres.url, role },
        },
      ],
    });
    const clock = manualClock("2026-03-01T00:00:00Z");
    const events: SecurityEvent[] = [];
    const logs: string[] = [];
    const logger = createLogger({
      level: "debug",
      destination: new Writable({
        write(chunk, _enc, done) {
          logs.push(String(chunk));
          done();
        },
      }),
    });
    const secrets = await openSecrets({
      store: ts.store,
      config: () => config,
      dataDir: ts.location.dataDir,
      clock,
      emit: (e) => events.push(e),
    });
    const scheduler = createRotationScheduler({
      secrets,
      config: () => config,
      store: ts.store,
      clock,
      emit: (e) => events.push(e),
      logger,
    });
    try {
      // The server checks passwords at all: the admin's wrong password and an unknown role are refused.
      await expect(login("rampart", "not-the-admin-password")).rejects.toMatchObject(refused);
      expect(await login("rampart", ADMIN_PASSWORD)).toBe("rampart");

      expect((await scheduler.runDue()).rotated).toEqual([{ path: "/prod/api/db", ok: true, version: 1 }]);
      const v1 = (await secrets.get(alice, "/prod/api/db")).data;
      expect(v1.username).toBe(`${role}_a`);
      expect(await login(v1.username!, v1.password!)).toBe(`${role}_a`);
      await expect(login(v1.username!, `${v1.password}x`)).rejects.toMatchObject(refused);
      // The secret's URL is what consumers use: it carries the new credential to the same server.
      const viaUrl = new pg.Client({ connectionString: v1.url! });
      await viaUrl.connect();
      expect((await viaUrl.query("select current_user as who")).rows[0].who).toBe(`${role}_a`);
      await viaUrl.end();

      expect(await scheduler.rotateNow(alice, "/prod/api/db")).toEqual({
        path: "/prod/api/db",
        ok: true,
        version: 2,
      });
      const v2 = (await secrets.get(alice, "/prod/api/db")).data;
      expect(v2.username).toBe(`${role}_b`);
      expect(v2.password).not.toBe(v1.password);
      expect(await login(v2.username!, v2.password!)).toBe(`${role}_b`);
      // The passwords are per user: neither works for the other one.
      await expect(login(v2.username!, v1.password!)).rejects.toMatchObject(refused);
      await expect(login(v1.username!, v2.password!)).rejects.toMatchObject(refused);

      // Within grace the previous credential still connects.
      clock.advance(59 * MINUTE);
      expect((await scheduler.runDue()).retired).toEqual([]);
      expect(await login(v1.username!, v1.password!)).toBe(`${role}_a`);

      // After grace the server refuses it with an authentication error; the new one keeps working.
      clock.advance(2 * MINUTE);
      expect((await scheduler.runDue()).retired).toEqual([{ path: "/prod/api/db", ok: true, version: 1 }]);
      await expect(login(v1.username!, v1.password!)).rejects.toMatchObject(refused);
      expect(await login(v2.username!, v2.password!)).toBe(`${role}_b`);

      // The next rotation takes the retired user back with a fresh password only.
      clock.advance(30 * DAY);
      expect((await scheduler.runDue()).rotated).toEqual([{ path: "/prod/api/db", ok: true, version: 3 }]);
      const v3 = (await secrets.get(alice, "/prod/api/db")).data;
      expect(v3.username).toBe(`${role}_a`);
      expect(await login(v3.username!, v3.password!)).toBe(`${role}_a`);
      await expect(login(v1.username!, v1.password!)).rejects.toMatchObject(refused);
      expect(await login(v2.username!, v2.password!)).toBe(`${role}_b`);

      const text = JSON.stringify(events) + logs.join("");
      for (const v of [v1.password, v2.password, v3.password, ADMIN_PASSWORD]) expect(text).not.toContain(v);
    } finally {
      await scheduler.close();
      await secrets.close();
    }
  });
});

// The application: connects with the credential from its environment, records "<pid> <user>",
// re-queries every 200 ms and exits non-zero when a query fails. It never prints a value.
const appScript = `
const fs = require("node:fs");
const pg = require(process.argv[3]);
const out = process.argv[2];
let stopping = false;
const client = new pg.Client({ connectionString: process.env.url, connectionTimeoutMillis: 3000 });
client.on("error", () => { if (!stopping) process.exit(3); });
process.on("SIGTERM", () => {
  stopping = true;
  client.end().finally(() => process.exit(0));
});
(async () => {
  try {
    await client.connect();
    const who = (await client.query("select current_user as who")).rows[0].who;
    fs.appendFileSync(out, process.pid + " " + who + "\\n");
    while (!stopping) {
      await new Promise((r) => setTimeout(r, 200));
      if (!stopping) await client.query("select current_user");
    }
  } catch (err) {
    if (stopping) return;
    process.stderr.write("app: database query failed (" + (err.code || "error") + ")\\n");
    process.exit(2);
  }
})();
`;

describe("an application under `secrets run --watch`", () => {
  const role = `app_${suffix()}`;
  let server: RunningServer | undefined;
  let cli: ChildProcess | undefined;
  let out: string;
  let output = "";

  const starts = (): Array<{ pid: number; user: string }> => {
    try {
      return readFileSync(out, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => {
          const [pid, user] = l.split(" ");
          return { pid: Number(pid), user: user ?? "" };
        });
    } catch {
      return [];
    }
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (check()) return;
      await sleep(50);
    }
    throw new Error(`timed out waiting for ${what}; secrets run said:\n${output}`);
  }

  beforeAll(async () => {
    await admin(`create role ${role} nologin`);
    out = join(work, "app.log");
    writeFileSync(join(work, "app.cjs"), appScript);
    const config = rampartConfigSchema.parse({
      version: 1,
      server: { port: 0 },
      database: { dataDir: join(work, "data") },
      identity: { tokens: { secret: "rotation-e2e-test-secret-0123456789abcdef" } },
      secrets: {
        root: { provider: "file", file: join(work, "root.key") },
        // Grace 0: the server's clock is the real one, so the previous credential stays valid until
        // the next sweep (which the test runs); the grace period itself is the test above.
        rotation: [
          {
            path: "/prod/app/db",
            everyDays: 30,
            graceMinutes: 0,
            target: { kind: "postgres", adminUrl: postgres.url, role },
          },
        ],
      },
    });
    server = await startServer({ config, logger: createLogger({ level: "silent" }) });
  });

  afterAll(async () => {
    if (cli && cli.exitCode === null && cli.signalCode === null) cli.kill("SIGKILL");
    for (const { pid } of out ? starts() : []) if (alive(pid)) process.kill(pid, "SIGKILL");
    await server?.stop();
    for (const r of [`${role}_a`, `${role}_b`, role]) await admin(`drop role if exists ${r}`);
  });

  test("a rotation through the API restarts it; the new one connects as the other user", async () => {
    const s = server!;
    const token = s.runtime.adminTokens[0] as string;
    const rotate = async () => {
      const res = await fetch(`${s.url}/api/v1/secrets/rotate/prod/app/db`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as { version: number };
    };
    const version = async (v: number) =>
      (await s.runtime.secrets!.get(rotationCaller, "/prod/app/db", { version: v })).data;

    expect(await rotate()).toMatchObject({ ok: true, version: 1 });
    const v1 = await version(1);

    cli = spawn(
      join(root, "node_modules", ".bin", "node"),
      [
        join(root, "src", "cli", "main.ts"),
        "secrets",
        "run",
        "--watch",
        "--interval",
        "1s",
        "--env",
        "prod",
        "--path",
        "/prod/app",
        "--server",
        s.url,
        "--",
        process.execPath,
        join(work, "app.cjs"),
        out,
        createRequire(import.meta.url).resolve("pg"),
      ],
      {
        cwd: work,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", RAMPART_TOKEN: token },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    cli.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    cli.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => cli!.once("exit", (code) => r(code)));

    await until(() => starts().length === 1, "the application's first connection");
    const [first] = starts();
    expect(first!.user).toBe(`${role}_a`);

    expect(await rotate()).toMatchObject({ ok: true, version: 2 });
    const v2 = await version(2);
    expect(v2.username).toBe(`${role}_b`);
    await until(() => starts().length === 2, "the application's restart");
    const second = starts()[1]!;
    expect(second.user).toBe(`${role}_b`);
    expect(second.pid).not.toBe(first!.pid);
    await until(() => !alive(first!.pid), "the old application to end", 5000);
    expect(output).toContain("/prod/app/db@2");

    // Until the sweep retires it the previous credential connects; after it, the server refuses it.
    expect(await login(v1.username!, v1.password!)).toBe(`${role}_a`);
    expect((await s.runtime.secretsRotation!.runDue()).retired).toEqual([
      { path: "/prod/app/db", ok: true, version: 1 },
    ]);
    await expect(login(v1.username!, v1.password!)).rejects.toMatchObject(refused);
    expect(await login(v2.username!, v2.password!)).toBe(`${role}_b`);

    // The new application keeps querying (it exits on a failed query) and nothing restarted it again.
    await sleep(1500);
    expect(alive(second.pid)).toBe(true);
    expect(cli.exitCode).toBeNull();
    expect(starts()).toHaveLength(2);

    // SIGTERM reaches the application through `secrets run`, which ends with its code.
    cli.kill("SIGTERM");
    const code = await Promise.race([exited, sleep(10_000).then(() => "timeout")]);
    expect(code).toBe(0);
    expect(alive(second.pid)).toBe(false);

    expect(output).toContain("starting");
    for (const v of [v1.password, v2.password, v1.url, v2.url, ADMIN_PASSWORD]) {
      expect(output).not.toContain(v);
    }
  });
});
