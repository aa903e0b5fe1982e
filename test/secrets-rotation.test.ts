// Secret rotation end to end: the scheduler over the real secrets store, renewing credentials on
// real PostgreSQL, MariaDB and Redis servers; the old credential works through the grace period
// and is refused after it; failures leave the old credential and the secret as they were.
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import type { Kysely } from "kysely";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from "vitest";
import {
  openSecrets,
  type Secrets,
  type SecretsConfig,
  rotationCaller,
  secretsConfigSchema,
  secretsMigrations,
} from "../src/appsec/secrets/index.ts";
import {
  createRotationScheduler,
  type RotationScheduler,
  rotationMigrations,
  type RotationTables,
} from "../src/appsec/secrets/rotation/index.ts";
import { manualClock } from "../src/platform/clock.ts";
import { Forbidden, Unavailable } from "../src/platform/errors.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import { startMariadb } from "./support/mariadb.ts";
import { callerOf } from "./support/secrets.ts";
import { type RunningService, freePort } from "./support/services.ts";
import { backends, openTestStore, type TestStore } from "./support/stores.ts";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const suffix = () => randomBytes(4).toString("hex");
const migrations = { ...secretsMigrations, ...rotationMigrations };

const alice = callerOf("user", "corp:alice");
const bob = callerOf("user", "corp:bob");

interface Harness {
  secrets: Secrets;
  scheduler: RotationScheduler;
  /** Another server's scheduler over the same store and secrets. */
  otherServer(): RotationScheduler;
  /** The rotation tables, as any server sees them. */
  db(): Kysely<RotationTables>;
  clock: ReturnType<typeof manualClock>;
  events: SecurityEvent[];
  logs: string[];
  config: { current: SecretsConfig };
  /** Closes the scheduler and the secrets store and opens both again on the same database. */
  restart(): Promise<void>;
}

const opened: TestStore[] = [];
const harnesses: Harness[] = [];

async function harness(
  rotation: unknown[],
  backend: (typeof backends)[number] = "postgres",
): Promise<Harness> {
  const ts = await openTestStore(backend, migrations);
  opened.push(ts);
  const config = {
    current: secretsConfigSchema.parse({
      policies: [
        { name: "ops", paths: ["/prod/**"], capabilities: ["read", "list", "rotate"], users: ["corp:alice"] },
      ],
      rotation,
    }),
  };
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
  const open = async (store: TestStore["store"]) => {
    const secrets = await openSecrets({
      store,
      config: () => config.current,
      dataDir: ts.location.dataDir,
      clock,
      emit: (e) => events.push(e),
    });
    const scheduler = createRotationScheduler({
      secrets,
      config: () => config.current,
      store,
      clock,
      emit: (e) => events.push(e),
      logger,
    });
    const otherServer = () =>
      createRotationScheduler({
        secrets,
        config: () => config.current,
        store,
        clock,
        emit: () => {},
        logger,
      });
    return { secrets, scheduler, otherServer };
  };
  const h: Harness = {
    ...(await open(ts.store)),
    clock,
    events,
    logs,
    config,
    db: () => ts.store.db.withTables<RotationTables>(),
    async restart() {
      await h.scheduler.close();
      await h.secrets.close();
      Object.assign(h, await open(await ts.reopen()));
    },
  };
  harnesses.push(h);
  return h;
}

/** Every event and log line, which must never hold any of `values`. */
function expectNoLeak(h: Harness, values: Array<string | undefined>): void {
  const text = JSON.stringify(h.events) + h.logs.join("");
  for (const v of values) if (v) expect(text).not.toContain(v);
}

afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    await h.scheduler.close();
    await h.secrets.close();
  }
  for (const ts of opened.splice(0)) await ts.cleanup();
});

async function pgLogin(username: string, password: string): Promise<string> {
  const url = new URL(inject("pgUrl"));
  url.username = username;
  url.password = password;
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  try {
    return (await c.query("select current_user as who")).rows[0].who;
  } finally {
    await c.end();
  }
}

async function pgAdmin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: inject("pgUrl") });
  await c.connect();
  await c.query(sql);
  await c.end();
}

describe("PostgreSQL", () => {
  const role = `api_${suffix()}`;
  const weak = `weak_${suffix()}`;
  beforeAll(async () => {
    await pgAdmin(`create role ${role} nologin`);
    await pgAdmin(`create role ${weak} login`);
  });
  afterAll(async () => {
    for (const r of [`${role}_a`, `${role}_b`, role, weak]) await pgAdmin(`drop role if exists ${r}`);
  });

  test("the new password connects, the old one works through grace and is refused after it", async () => {
    const h = await harness([
      {
        path: "/prod/api/db",
        everyDays: 30,
        graceMinutes: 60,
        target: { kind: "postgres", adminUrl: inject("pgUrl"), role },
      },
    ]);
    const first = await h.scheduler.runDue();
    expect(first.rotated).toEqual([{ path: "/prod/api/db", ok: true, version: 1 }]);
    const v1 = (await h.secrets.get(alice, "/prod/api/db")).data;
    expect(await pgLogin(v1.username!, v1.password!)).toBe(`${role}_a`);

    const v2info = await h.scheduler.rotateNow(alice, "/prod/api/db");
    expect(v2info.version).toBe(2);
    const v2 = (await h.secrets.get(alice, "/prod/api/db")).data;
    expect(v2.username).toBe(`${role}_b`);
    expect(await pgLogin(v2.username!, v2.password!)).toBe(`${role}_b`);
    h.clock.advance(59 * MINUTE);
    expect((await h.scheduler.runDue()).retired).toEqual([]);
    expect(await pgLogin(v1.username!, v1.password!)).toBe(`${role}_a`);

    h.clock.advance(2 * MINUTE);
    const after = await h.scheduler.runDue();
    expect(after).toEqual({ rotated: [], retired: [{ path: "/prod/api/db", ok: true, version: 1 }] });
    await expect(pgLogin(v1.username!, v1.password!)).rejects.toThrow(/not permitted to log in/);
    expect(await pgLogin(v2.username!, v2.password!)).toBe(`${role}_b`);

    const meta = await h.secrets.metadata(rotationCaller, "/prod/api/db");
    expect(meta).toMatchObject({
      rotator: "postgres",
      rotationPeriodDays: 30,
      lastRotation: { ok: true, version: 2 },
    });
    expect(h.events.map((e) => e.type)).toEqual(
      expect.arrayContaining(["secrets.rotated", "secrets.rotation_retired"]),
    );
    expectNoLeak(h, [v1.password, v2.password]);

    // Due again only after everyDays.
    h.clock.advance(30 * DAY);
    expect((await h.scheduler.runDue()).rotated).toEqual([{ path: "/prod/api/db", ok: true, version: 3 }]);
  });

  test("an admin without the right to alter roles: old credential kept, secret unchanged, alert raised", async () => {
    const good = {
      path: "/prod/api/pg",
      everyDays: 30,
      graceMinutes: 0,
      target: { kind: "postgres", adminUrl: inject("pgUrl"), role },
    };
    const h = await harness([good]);
    await h.scheduler.runDue();
    const v1 = (await h.secrets.get(alice, "/prod/api/pg")).data;
    const weakUrl = new URL(inject("pgUrl"));
    weakUrl.username = weak;
    weakUrl.password = "weak-admin-password";
    h.config.current = secretsConfigSchema.parse({
      ...h.config.current,
      rotation: [{ ...good, target: { ...good.target, adminUrl: weakUrl.toString() } }],
    });
    const err = await h.scheduler.rotateNow(alice, "/prod/api/pg").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Unavailable);
    expect((err as Error).message).toMatch(/rotation of \/prod\/api\/pg failed: .*permission denied/);
    expect((await h.secrets.metadata(alice, "/prod/api/pg")).currentVersion).toBe(1);
    expect(await pgLogin(v1.username!, v1.password!)).toBe(`${role}_a`);
    const failed = h.events.find((e) => e.type === "secrets.rotation_failed");
    expect(failed).toMatchObject({
      severity: "high",
      outcome: "failure",
      target: { kind: "secret", id: "/prod/api/pg" },
    });
    expect((await h.secrets.metadata(alice, "/prod/api/pg")).lastRotation).toMatchObject({ ok: false });
    expectNoLeak(h, [v1.password, "weak-admin-password"]);
    expect((err as Error).message).not.toContain("weak-admin-password");
  });
});

describe("MariaDB", () => {
  let server: RunningService;
  const user = `api_${suffix()}`;
  const basePassword = `base-${suffix()}`;
  const conn = (o: { user: string; password: string }) => {
    const url = new URL(server.url);
    return mysql.createConnection({ host: url.hostname, port: Number(url.port), connectTimeout: 5000, ...o });
  };
  const login = async (username: string, password: string) => {
    const c = await conn({ user: username, password });
    const [rows] = await c.query("SELECT CURRENT_USER() AS who");
    await c.end();
    return (rows as Array<{ who: string }>)[0]!.who;
  };
  beforeAll(async () => {
    server = await startMariadb();
    const url = new URL(server.url);
    const c = await conn({
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    });
    await c.query("CREATE USER ?@'%' IDENTIFIED BY ?", [user, basePassword]);
    await c.query("GRANT SELECT ON mysql.* TO ?@'%'", [user]);
    await c.end();
  });
  afterAll(async () => {
    const url = new URL(server.url);
    const c = await conn({
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    });
    for (const u of [user, `${user}_a`, `${user}_b`]) await c.query("DROP USER IF EXISTS ?@'%'", [u]);
    await c.end();
    await server.stop();
  });

  test("alternating users: new one connects, old one works through grace, then is refused", async () => {
    const h = await harness([
      {
        path: "/prod/orders/db",
        everyDays: 7,
        graceMinutes: 30,
        target: { kind: "mysql", adminUrl: server.url, user },
      },
    ]);
    // The secret starts as the hand-made credential of the base user.
    await h.secrets.put(rotationCaller, "/prod/orders/db", { username: user, password: basePassword });
    const report = await h.scheduler.runDue();
    expect(report.rotated).toEqual([{ path: "/prod/orders/db", ok: true, version: 2 }]);
    const v2 = (await h.secrets.get(alice, "/prod/orders/db")).data;
    expect(await login(v2.username!, v2.password!)).toBe(`${user}_a@%`);
    expect(await login(user, basePassword)).toBe(`${user}@%`);

    h.clock.advance(31 * MINUTE);
    expect((await h.scheduler.runDue()).retired).toEqual([{ path: "/prod/orders/db", ok: true, version: 1 }]);
    await expect(login(user, basePassword)).rejects.toThrow(/locked|Access denied/);
    expect(await login(v2.username!, v2.password!)).toBe(`${user}_a@%`);
    expectNoLeak(h, [basePassword, v2.password, new URL(server.url).password]);
  });
});

describe("Redis", () => {
  const redisCall = async (url: string, ...args: string[]) => {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on("error", () => {});
    try {
      await r.connect();
      return await r.call(args[0]!, ...args.slice(1));
    } finally {
      r.disconnect();
    }
  };
  const auth = (u: string, p: string) => redisCall(inject("redisUrl"), "AUTH", u, p);

  for (const backend of backends) {
    test(`a pending retirement survives a restart of the scheduler (${backend})`, async () => {
      const user = `cache_${suffix()}`;
      await redisCall(inject("redisUrl"), "ACL", "SETUSER", user, "on", ">first-password", "~*", "+@all");
      try {
        const h = await harness(
          [
            {
              path: "/prod/cache/redis",
              everyDays: 1,
              graceMinutes: 10,
              target: { kind: "redis", adminUrl: inject("redisUrl"), user },
            },
          ],
          backend,
        );
        await h.secrets.put(rotationCaller, "/prod/cache/redis", {
          username: user,
          password: "first-password",
        });
        expect((await h.scheduler.runDue()).rotated[0]).toMatchObject({ ok: true, version: 2 });
        const v2 = (await h.secrets.get(alice, "/prod/cache/redis")).data;
        expect(await auth(user, v2.password!)).toBe("OK");
        expect(await auth(user, "first-password")).toBe("OK");

        await h.restart();
        h.clock.advance(11 * MINUTE);
        expect((await h.scheduler.runDue()).retired).toEqual([
          { path: "/prod/cache/redis", ok: true, version: 1 },
        ]);
        await expect(auth(user, "first-password")).rejects.toThrow(/WRONGPASS/);
        expect(await auth(user, v2.password!)).toBe("OK");
        expectNoLeak(h, ["first-password", v2.password]);
      } finally {
        await redisCall(inject("redisUrl"), "ACL", "DELUSER", user);
      }
    });
  }

  test("an unreachable server fails the rotation and leaves the secret as it was", async () => {
    const port = await freePort();
    const h = await harness([
      {
        path: "/prod/cache/down",
        everyDays: 1,
        target: { kind: "redis", adminUrl: `redis://:admin-pass-xyz@127.0.0.1:${port}`, user: "app" },
      },
    ]);
    await h.secrets.put(rotationCaller, "/prod/cache/down", {
      username: "app",
      password: "still-valid-pass",
    });
    const report = await h.scheduler.runDue();
    expect(report.rotated).toEqual([
      { path: "/prod/cache/down", ok: false, error: expect.stringMatching(/ECONNREFUSED|connect/i) },
    ]);
    expect((await h.secrets.get(alice, "/prod/cache/down")).data).toEqual({
      username: "app",
      password: "still-valid-pass",
    });
    expect(h.events.filter((e) => e.type === "secrets.rotation_failed")).toHaveLength(1);
    expectNoLeak(h, ["still-valid-pass", "admin-pass-xyz"]);
    // A failure is retried after the back-off, not on every sweep.
    expect((await h.scheduler.runDue()).rotated).toEqual([]);
    h.clock.advance(16 * MINUTE);
    expect((await h.scheduler.runDue()).rotated).toHaveLength(1);
  });
});

describe("random tokens", () => {
  test("rotate on schedule, single-flight per path, and only for callers allowed to rotate", async () => {
    const h = await harness([
      {
        path: "/prod/api/token",
        everyDays: 1,
        target: { kind: "random", key: "token", bytes: 32, prefix: "rk_" },
      },
    ]);
    expect((await h.scheduler.runDue()).rotated).toEqual([{ path: "/prod/api/token", ok: true, version: 1 }]);
    const t1 = (await h.secrets.get(alice, "/prod/api/token")).data.token;
    expect(t1).toMatch(/^rk_[A-Za-z0-9_-]{43}$/);

    const [a, b] = await Promise.all([
      h.scheduler.rotateNow(alice, "/prod/api/token"),
      h.scheduler.rotateNow(alice, "/prod/api/token"),
    ]);
    expect(a).toEqual({ path: "/prod/api/token", ok: true, version: 2 });
    expect(b).toEqual(a);
    expect((await h.secrets.metadata(alice, "/prod/api/token")).currentVersion).toBe(2);
    expect(h.events.filter((e) => e.type === "secrets.rotated")).toHaveLength(2);

    // Another server holds the path's lease: this one reports it and writes nothing; once that
    // lease has lapsed (its holder crashed), this one takes it over.
    await h
      .db()
      .insertInto("secret_rotation_leases")
      .values({
        path: "/prod/api/token",
        holder: "other-server",
        until: new Date(h.clock.now().getTime() + 60_000),
      })
      .execute();
    await expect(h.otherServer().rotateNow(alice, "/prod/api/token")).rejects.toThrow(
      /another server is rotating/,
    );
    expect((await h.secrets.metadata(alice, "/prod/api/token")).currentVersion).toBe(2);
    h.clock.advance(60_001);
    expect(await h.otherServer().rotateNow(alice, "/prod/api/token")).toMatchObject({ ok: true, version: 3 });

    await expect(h.scheduler.rotateNow(bob, "/prod/api/token")).rejects.toBeInstanceOf(Forbidden);
    await expect(h.scheduler.rotateNow(alice, "/prod/api/none")).rejects.toThrow(/no rotation schedule/);
    expectNoLeak(h, [t1, (await h.secrets.get(alice, "/prod/api/token")).data.token]);
  });
});
