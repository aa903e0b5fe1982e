// Each rotator against its real server: the new credential connects, the old one keeps working
// until it is retired, and then the server refuses it.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { startMariadb } from "../../../../test/support/mariadb.ts";
import type { RunningService } from "../../../../test/support/services.ts";
import { grantFor, mysqlRotator } from "./mysql.ts";
import { postgresRotator } from "./postgres.ts";
import { randomTokenRotator } from "./random.ts";
import { redisRotator } from "./redis.ts";

const suffix = () => randomBytes(4).toString("hex");

describe("postgres rotator", () => {
  const role = `app_${suffix()}`;
  const admin = () => new pg.Client({ connectionString: inject("pgUrl") });
  const asUser = async (username: string, password: string) => {
    const url = new URL(inject("pgUrl"));
    url.username = username;
    url.password = password;
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    try {
      return (await c.query(`select current_user as who, count(*)::int as n from ${role}_data`)).rows[0];
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    const c = admin();
    await c.connect();
    await c.query(`create role ${role} nologin`);
    await c.query(`create table ${role}_data (x int)`);
    await c.query(`grant select on ${role}_data to ${role}`);
    await c.end();
  });
  afterAll(async () => {
    const c = admin();
    await c.connect();
    await c.query(`drop table if exists ${role}_data`);
    for (const r of [`${role}_a`, `${role}_b`, role]) await c.query(`drop role if exists ${r}`);
    await c.end();
  });

  test("alternates users with the role's grants; the retired user can no longer log in", async () => {
    const rotator = postgresRotator({ adminUrl: inject("pgUrl"), role });
    const first = await rotator.rotate(undefined);
    expect(first.username).toBe(`${role}_a`);
    expect(first.url).toContain(`${role}_a:${first.password}@`);
    expect(await asUser(first.username!, first.password!)).toEqual({ who: `${role}_a`, n: 0 });

    const second = await rotator.rotate(first);
    expect(second.username).toBe(`${role}_b`);
    expect(second.password).not.toBe(first.password);
    // Grace period: both credentials work.
    expect((await asUser(second.username!, second.password!)).who).toBe(`${role}_b`);
    expect((await asUser(first.username!, first.password!)).who).toBe(`${role}_a`);

    await rotator.retire(first, second);
    await expect(asUser(first.username!, first.password!)).rejects.toThrow(/not permitted to log in/);
    expect((await asUser(second.username!, second.password!)).who).toBe(`${role}_b`);

    // The password travels as a SCRAM verifier: the server holds no clear text.
    const c = admin();
    await c.connect();
    const { rows } = await c.query("select rolpassword from pg_authid where rolname = $1", [`${role}_b`]);
    await c.end();
    expect(rows[0].rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
  });

  test("retiring the credential in use, or a login it does not manage, is refused or skipped", async () => {
    const rotator = postgresRotator({ adminUrl: inject("pgUrl"), role });
    const current = await rotator.rotate({ username: `${role}_b` });
    await rotator.retire(current, current); // same user: nothing happens
    expect((await asUser(current.username!, current.password!)).who).toBe(current.username);
    await expect(rotator.retire({ username: "rampart" }, current)).rejects.toThrow(
      /refusing to retire rampart/,
    );
  });
});

describe("mysql rotator (MariaDB)", () => {
  let server: RunningService;
  const user = `app_${suffix()}`;
  const db = `db_${suffix()}`;
  const basePassword = `base-${suffix()}`;
  let adminUrl: string;
  const connectAs = async (username: string, password: string) => {
    const url = new URL(adminUrl);
    const c = await mysql.createConnection({
      host: url.hostname,
      port: Number(url.port),
      user: username,
      password,
      connectTimeout: 5000,
    });
    try {
      const [rows] = await c.query(`SELECT CURRENT_USER() AS who, COUNT(*) AS n FROM ${db}.t`);
      return (rows as Array<{ who: string; n: number }>)[0];
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    server = await startMariadb();
    adminUrl = server.url;
    const url = new URL(adminUrl);
    const c = await mysql.createConnection({
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    });
    await c.query(`CREATE DATABASE ${db}`);
    await c.query(`CREATE TABLE ${db}.t (x INT)`);
    await c.query("CREATE USER ?@'%' IDENTIFIED BY ?", [user, basePassword]);
    await c.query(`GRANT SELECT ON ${db}.* TO ?@'%'`, [user]);
    await c.end();
  });
  afterAll(async () => {
    const url = new URL(adminUrl);
    const c = await mysql.createConnection({
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    });
    await c.query(`DROP DATABASE IF EXISTS ${db}`);
    for (const u of [user, `${user}_a`, `${user}_b`]) await c.query("DROP USER IF EXISTS ?@'%'", [u]);
    await c.end();
    await server.stop();
  });

  test("copies the grants to the new user; the old credential works until retired, then is refused", async () => {
    const rotator = mysqlRotator({ adminUrl, user, host: "%" });
    const base = { username: user, password: basePassword };
    const first = await rotator.rotate(base);
    expect(first.username).toBe(`${user}_a`);
    expect(await connectAs(first.username!, first.password!)).toMatchObject({ who: `${user}_a@%` });
    expect(await connectAs(user, basePassword)).toMatchObject({ who: `${user}@%` });
    await expect(connectAs(first.username!, "wrong-password")).rejects.toThrow(/Access denied/);

    const second = await rotator.rotate(first);
    expect(second.username).toBe(`${user}_b`);
    expect(await connectAs(second.username!, second.password!)).toMatchObject({ who: `${user}_b@%` });
    expect(await connectAs(first.username!, first.password!)).toMatchObject({ who: `${user}_a@%` });

    await rotator.retire(first, second);
    await expect(connectAs(first.username!, first.password!)).rejects.toThrow(/locked|Access denied/);
    expect(await connectAs(second.username!, second.password!)).toMatchObject({ who: `${user}_b@%` });

    // The next rotation unlocks the alternate user with a new password.
    const third = await rotator.rotate(second);
    expect(third.username).toBe(`${user}_a`);
    expect(await connectAs(third.username!, third.password!)).toMatchObject({ who: `${user}_a@%` });
  });

  test("SHOW GRANTS lines are rewritten for the new grantee without the password hash", () => {
    const from = { user: "app", host: "%" };
    expect(
      grantFor("GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*ABC'", from, "'app_a'@'%'"),
    ).toBe("GRANT USAGE ON *.* TO 'app_a'@'%'");
    expect(grantFor("GRANT SELECT ON `db`.* TO 'app'@'%' WITH GRANT OPTION", from, "'app_b'@'%'")).toBe(
      "GRANT SELECT ON `db`.* TO 'app_b'@'%' WITH GRANT OPTION",
    );
    expect(grantFor("SET DEFAULT ROLE `r` FOR `app`@`%`", from, "'app_a'@'%'")).toBeUndefined();
  });
});

describe("redis rotator", () => {
  const user = `app_${suffix()}`;
  const auth = async (username: string, password: string) => {
    const r = new Redis(inject("redisUrl"), {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    r.on("error", () => {});
    try {
      await r.connect();
      return await r.call("AUTH", username, password);
    } finally {
      r.disconnect();
    }
  };

  beforeAll(async () => {
    const r = new Redis(inject("redisUrl"));
    await r.call("ACL", "SETUSER", user, "on", ">original-pass", "~*", "+@all");
    r.disconnect();
  });
  afterAll(async () => {
    const r = new Redis(inject("redisUrl"));
    await r.call("ACL", "DELUSER", user);
    r.disconnect();
  });

  test("adds the new password beside the old one, then removes the old one", async () => {
    const rotator = redisRotator({ adminUrl: inject("redisUrl"), user });
    const old = { username: user, password: "original-pass" };
    const next = await rotator.rotate(old);
    expect(next.url).toBe(`${inject("redisUrl").replace("redis://", `redis://${user}:${next.password}@`)}`);
    expect(await auth(user, next.password!)).toBe("OK");
    expect(await auth(user, "original-pass")).toBe("OK");
    await rotator.retire(old, next);
    await expect(auth(user, "original-pass")).rejects.toThrow(/WRONGPASS/);
    expect(await auth(user, next.password!)).toBe("OK");
    await rotator.discard(next);
    await expect(auth(user, next.password!)).rejects.toThrow(/WRONGPASS/);
  });

  test("a user that does not exist is an error, not a new user", async () => {
    const rotator = redisRotator({ adminUrl: inject("redisUrl"), user: `missing_${suffix()}` });
    await expect(rotator.rotate(undefined)).rejects.toThrow(/does not exist/);
  });
});

test("random tokens: prefix plus base64url of the configured bytes, other keys kept", async () => {
  const rotator = randomTokenRotator({ key: "token", bytes: 32, prefix: "rk_" });
  const a = await rotator.rotate({ note: "kept", token: "old" });
  const b = await rotator.rotate(a);
  expect(a.note).toBe("kept");
  expect(a.token).toMatch(/^rk_[A-Za-z0-9_-]{43}$/);
  expect(b.token).not.toBe(a.token);
});
