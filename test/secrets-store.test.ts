// The secrets store on both backends with a file root key and a manual clock: versions and
// check-and-set, the life of a version, key rotation, tampering in the database, audit events that
// never carry a value, and backup/restore.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import {
  openSecrets,
  rotationCaller,
  type Secrets,
  type SecretsConfig,
  secretsConfigSchema,
  secretsMigrations,
} from "../src/appsec/secrets/index.ts";
import { manualClock } from "../src/platform/clock.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { callerOf } from "./support/secrets.ts";
import { backends, openTestStore, type TestStore } from "./support/stores.ts";

const admin = callerOf("user", "corp:root", [], ["admin"]);
const alice = callerOf("user", "corp:alice", ["platform"]);
const api = callerOf("service", "api");
const mallory = callerOf("user", "corp:mallory");

const config: SecretsConfig = secretsConfigSchema.parse({
  maxVersions: 5,
  policies: [
    {
      name: "platform",
      paths: ["/prod/**"],
      capabilities: ["read", "list", "create", "update", "delete"],
      groups: ["platform"],
    },
    { name: "api reads its own", paths: ["/prod/api/*"], capabilities: ["read"], serviceAccounts: ["api"] },
  ],
});

// Values chosen so that finding one in any serialized event, error or listing is unambiguous.
const DB_PASSWORD = "s3cr3t-Pa55w0rd-4f9a2c";
const TOKEN = "tok_live_7d1e0b6c9a8f";

describe.each(backends)("secrets store on %s", (backend) => {
  let ts: TestStore;
  let dataDir: string;
  let secrets: Secrets;
  let events: SecurityEvent[];
  let clock: ReturnType<typeof manualClock>;
  const errors: string[] = [];

  const open = (store = ts.store, dir = dataDir) =>
    openSecrets({ store, config: () => config, dataDir: dir, clock, emit: (e) => events.push(e) });

  // Runs `fn` and records any error message, so the final check can grep them all.
  const failure = async (fn: () => Promise<unknown>): Promise<Error> => {
    try {
      await fn();
    } catch (err) {
      errors.push((err as Error).message);
      return err as Error;
    }
    throw new Error("expected a failure");
  };

  // One database per backend; each test starts from empty tables and KEK 1 (opening a database
  // per test would dominate the run time).
  beforeAll(async () => {
    ts = await openTestStore(backend, secretsMigrations);
    dataDir = mkdtempSync(join(tmpdir(), "rampart-secrets-"));
  });

  afterAll(async () => {
    await ts.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    const db = ts.store.db;
    await sql`delete from secret_versions`.execute(db);
    await sql`delete from secret_paths`.execute(db);
    await sql`delete from secret_keks where version > 1`.execute(db);
    clock = manualClock("2026-11-23T10:00:00Z");
    events = [];
    secrets = await open();
  });

  afterEach(async () => {
    // No value ever reaches an event or an error message.
    const seen = JSON.stringify(events) + errors.join("\n");
    expect(seen).not.toContain(DB_PASSWORD);
    expect(seen).not.toContain(TOKEN);
    errors.length = 0;
    await secrets.close();
  });

  test("versions with check-and-set: reads give the newest, or the version asked for", async () => {
    const v1 = await secrets.put(alice, "/prod/db/main", { password: DB_PASSWORD, user: "app" }, { cas: 0 });
    expect(v1).toMatchObject({ version: 1, state: "active", createdBy: "user:corp:alice", kekVersion: 1 });
    const v2 = await secrets.put(alice, "/prod/db/main", { password: "second" }, { cas: 1 });
    expect(v2.version).toBe(2);
    expect(await secrets.get(alice, "/prod/db/main")).toMatchObject({
      version: 2,
      data: { password: "second" },
    });
    expect((await secrets.get(alice, "/prod/db/main", { version: 1 })).data).toEqual({
      password: DB_PASSWORD,
      user: "app",
    });

    const stale = await failure(() => secrets.put(alice, "/prod/db/main", { password: "x" }, { cas: 1 }));
    expect(stale).toMatchObject({ code: "conflict" });
    expect(stale.message).toContain("expected version 1, current is 2");
    expect(
      await failure(() => secrets.put(alice, "/prod/db/main", { password: "x" }, { cas: 0 })),
    ).toMatchObject({
      code: "conflict",
    });
    expect(await failure(() => secrets.get(alice, "/prod/db/main", { version: 9 }))).toMatchObject({
      code: "not_found",
    });
  });

  test("two writers with the same cas: exactly one wins", async () => {
    await secrets.put(alice, "/prod/api/key", { value: "v1" });
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        secrets.put(alice, "/prod/api/key", { value: `w${i}` }, { cas: 1 }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results)
      if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "conflict" });
    const fresh = await Promise.allSettled(
      Array.from({ length: 4 }, (_, i) =>
        secrets.put(alice, "/prod/api/new", { value: `n${i}` }, { cas: 0 }),
      ),
    );
    expect(fresh.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect((await secrets.metadata(alice, "/prod/api/new")).currentVersion).toBe(1);
  });

  test("bad paths, keys and sizes are refused with where they went wrong", async () => {
    expect(await failure(() => secrets.put(alice, "/prod/db", { a: "b" }))).toMatchObject({
      code: "invalid",
      where: "path",
    });
    expect(await failure(() => secrets.put(alice, "/prod/../x", { a: "b" }))).toMatchObject({
      where: "path",
    });
    expect(await failure(() => secrets.put(alice, "/prod/db/x", { "bad key": "b" }))).toMatchObject({
      where: "data",
    });
    const big = await failure(() => secrets.put(alice, "/prod/db/x", { blob: "x".repeat(70_000) }));
    expect(big).toMatchObject({ where: "data.blob" });
    expect(await failure(() => secrets.put(alice, "/prod/db/x", {}))).toMatchObject({ where: "data" });
  });

  test("a read never returns a value older than the last write that finished before it began", async () => {
    const p = "/prod/api/race";
    await secrets.put(alice, p, { v: "0" });
    let finished = 0;
    const writer = (async () => {
      for (let i = 1; i <= 25; i++) {
        await secrets.put(alice, p, { v: String(i) });
        finished = i;
      }
    })();
    const reader = async () => {
      let reads = 0;
      while (finished < 25 || reads === 0) {
        const floor = finished;
        expect(Number((await secrets.get(alice, p)).data.v)).toBeGreaterThanOrEqual(floor);
        reads++;
      }
    };
    await Promise.all([writer, reader(), reader(), reader()]);
    expect((await secrets.get(alice, p)).data).toEqual({ v: "25" });
    // What a remembered read could hide: a revoke and a delete take effect on the very next read.
    await secrets.revoke(admin, p, 26, "test"); // v "25" is version 26
    expect((await failure(() => secrets.get(alice, p))).message).toContain("is revoked");
    await secrets.put(alice, p, { v: "26" });
    expect((await secrets.get(alice, p)).data).toEqual({ v: "26" });
    await secrets.delete(alice, p);
    expect((await failure(() => secrets.get(alice, p))).message).toContain("is deleted");
  });

  test("soft delete hides a version until undeleted; destroy and revoke remove its ciphertext for good", async () => {
    for (const v of ["one", "two", "three"]) await secrets.put(alice, "/prod/api/token", { value: v });
    await secrets.delete(alice, "/prod/api/token");
    // The newest version reads as gone; older ones are still there by number.
    expect((await failure(() => secrets.get(alice, "/prod/api/token"))).message).toBe(
      "the newest version (3) of /prod/api/token is deleted: undelete it, roll back or write a new version",
    );
    expect(await secrets.get(alice, "/prod/api/token", { version: 2 })).toMatchObject({
      data: { value: "two" },
    });
    expect((await failure(() => secrets.get(alice, "/prod/api/token", { version: 3 }))).message).toBe(
      "version 3 of /prod/api/token is deleted",
    );
    await secrets.undelete(alice, "/prod/api/token", [3]);
    expect((await secrets.get(alice, "/prod/api/token")).version).toBe(3);

    await secrets.destroy(alice, "/prod/api/token", [1]);
    expect((await failure(() => secrets.get(alice, "/prod/api/token", { version: 1 }))).message).toContain(
      "destroyed",
    );
    expect(await failure(() => secrets.undelete(alice, "/prod/api/token", [1]))).toMatchObject({
      code: "conflict",
    });

    await secrets.put(alice, "/prod/api/token", { value: TOKEN });
    await secrets.revoke(admin, "/prod/api/token", 4, "leaked in a CI log");
    const revoked = await failure(() => secrets.get(alice, "/prod/api/token", { version: 4 }));
    expect(revoked.message).toBe("version 4 of /prod/api/token is revoked");
    // A revoked newest version is not replaced by an older value behind the consumer's back.
    expect((await failure(() => secrets.get(alice, "/prod/api/token"))).message).toContain("is revoked");
    const event = events.find((e) => e.type === "secrets.revoked");
    expect(event).toMatchObject({ severity: "high", data: { versions: [4], reason: "leaked in a CI log" } });

    const meta = await secrets.metadata(alice, "/prod/api/token");
    expect(meta.versions.map((v) => [v.version, v.state, v.kekVersion])).toEqual([
      [4, "revoked", 0],
      [3, "active", 1],
      [2, "active", 1],
      [1, "destroyed", 0],
    ]);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from secret_versions
      where path = '/prod/api/token' and ciphertext is not null`.execute(ts.store.db);
    expect(rows[0]?.n).toBe(2);
    expect(await failure(() => secrets.delete(alice, "/prod/api/token", [7]))).toMatchObject({
      code: "not_found",
    });
  });

  test("rollback writes the old value as a new version", async () => {
    await secrets.put(alice, "/prod/db/main", { password: DB_PASSWORD });
    await secrets.put(alice, "/prod/db/main", { password: "broken" });
    const back = await secrets.rollback(alice, "/prod/db/main", 1);
    expect(back).toMatchObject({ version: 3, rolledBackFrom: 1 });
    expect(await secrets.get(alice, "/prod/db/main")).toMatchObject({
      version: 3,
      data: { password: DB_PASSWORD },
    });
    expect((await secrets.metadata(alice, "/prod/db/main")).versions.map((v) => v.version)).toEqual([
      3, 2, 1,
    ]);
  });

  test("maxVersions drops the oldest; metadata changes apply; expiry makes reads fail", async () => {
    for (let i = 1; i <= 7; i++) await secrets.put(alice, "/prod/api/key", { value: `v${i}` });
    let meta = await secrets.metadata(alice, "/prod/api/key");
    expect(meta.maxVersions).toBe(5);
    expect(meta.versions.map((v) => v.version)).toEqual([7, 6, 5, 4, 3]);
    expect(await failure(() => secrets.get(alice, "/prod/api/key", { version: 2 }))).toMatchObject({
      code: "not_found",
    });

    meta = await secrets.setMetadata(alice, "/prod/api/key", {
      owner: "team-api",
      rotationPeriodDays: 30,
      maxVersions: 2,
      rotator: "random",
      expiresAt: "2026-11-24T10:00:00Z",
    });
    expect(meta).toMatchObject({
      owner: "team-api",
      rotationPeriodDays: 30,
      maxVersions: 2,
      rotator: "random",
    });
    expect(meta.versions.map((v) => v.version)).toEqual([7, 6]);
    expect(
      await failure(() => secrets.setMetadata(alice, "/prod/api/key", { maxVersions: 0 })),
    ).toMatchObject({
      code: "invalid",
      where: "metadata.maxVersions",
    });

    expect((await secrets.get(alice, "/prod/api/key")).data.value).toBe("v7");
    clock.advance(24 * 3600_000);
    const expired = await failure(() => secrets.get(alice, "/prod/api/key"));
    expect(expired).toMatchObject({ code: "not_found" });
    expect(expired.message).toBe("/prod/api/key expired at 2026-11-24T10:00:00.000Z");
    await secrets.setMetadata(alice, "/prod/api/key", { expiresAt: null });
    expect((await secrets.get(alice, "/prod/api/key")).data.value).toBe("v7");
  });

  test("policies gate every call; list and readableBy show only what may be seen", async () => {
    await secrets.put(alice, "/prod/api/key", { value: TOKEN });
    await secrets.put(alice, "/prod/db/main", { password: DB_PASSWORD });
    await secrets.put(admin, "/dev/api/key", { value: "dev" });

    expect((await secrets.get(api, "/prod/api/key")).data.value).toBe(TOKEN);
    const denied = await failure(() => secrets.get(api, "/prod/db/main"));
    expect(denied).toMatchObject({ code: "forbidden" });
    expect(denied.message).toBe("no secrets policy grants 'read' on /prod/db/main");
    expect(await failure(() => secrets.put(api, "/prod/api/key", { value: "x" }))).toMatchObject({
      code: "forbidden",
    });
    expect(await failure(() => secrets.put(alice, "/dev/api/other", { value: "x" }))).toMatchObject({
      code: "forbidden",
    });
    expect(await failure(() => secrets.get(mallory, "/prod/api/key"))).toMatchObject({ code: "forbidden" });
    expect(await failure(() => secrets.rollback(api, "/prod/api/key", 1))).toMatchObject({
      code: "forbidden",
    });

    expect(await secrets.list(alice, "/prod/")).toEqual(["/prod/api/key", "/prod/db/main"]);
    expect(await secrets.list(alice, "/")).toEqual(["/prod/api/key", "/prod/db/main"]);
    expect(await secrets.list(admin, "/")).toEqual(["/dev/api/key", "/prod/api/key", "/prod/db/main"]);
    expect(await secrets.list(api, "/prod/")).toEqual([]);
    expect(await secrets.readableBy(admin, api.identity)).toEqual(["/prod/api/key"]);
    expect(await secrets.readableBy(admin, mallory.identity)).toEqual([]);
    expect(await secrets.readableBy(alice, admin.identity)).toEqual(["/prod/api/key", "/prod/db/main"]);

    const denials = events.filter((e) => e.type === "secrets.denied");
    expect(denials).toHaveLength(5);
    expect(denials[0]).toMatchObject({ outcome: "denied", target: { kind: "secret", id: "/prod/db/main" } });
  });

  test("every operation emits an audit event whose values are HMACs an auditor can recompute", async () => {
    await secrets.put(alice, "/prod/db/main", { password: DB_PASSWORD });
    await secrets.get(api, "/prod/db/main").catch(() => {});
    await secrets.get(alice, "/prod/db/main");
    await secrets.list(alice, "/prod/");
    await secrets.metadata(alice, "/prod/db/main");
    await secrets.setMetadata(alice, "/prod/db/main", { owner: "dba" });
    await secrets.put(alice, "/prod/db/main", { password: "v2" });
    await secrets.delete(alice, "/prod/db/main", [2]);
    await secrets.undelete(alice, "/prod/db/main", [2]);
    await secrets.rollback(alice, "/prod/db/main", 1);
    await secrets.destroy(alice, "/prod/db/main", [2]);
    await secrets.revoke(alice, "/prod/db/main", 1, "incident 42");
    await secrets.recordRotation("/prod/db/main", { ok: false, error: "connection refused" });
    await secrets.rotateKek(admin.actor);
    await secrets.rewrap();
    expect(events.map((e) => e.type)).toEqual([
      "secrets.written",
      "secrets.denied",
      "secrets.read",
      "secrets.listed",
      "secrets.metadata_read",
      "secrets.metadata_changed",
      "secrets.written",
      "secrets.deleted",
      "secrets.undeleted",
      "secrets.rolled_back",
      "secrets.destroyed",
      "secrets.revoked",
      "secrets.rotation_failed",
      "secrets.kek_rotated",
      "secrets.rewrapped",
    ]);
    expect(events.every((e) => e.retention === "audit")).toBe(true);
    const read = events.find((e) => e.type === "secrets.read");
    expect(read).toMatchObject({
      actor: { kind: "user", id: "corp:alice" },
      target: { kind: "secret", id: "/prod/db/main" },
      data: { version: 1, keys: ["password"], values: { password: secrets.auditHash(DB_PASSWORD) } },
    });
    expect(secrets.auditHash(DB_PASSWORD)).toMatch(/^hmac-sha256:[A-Za-z0-9_-]{43}$/);
    expect(secrets.auditHash(DB_PASSWORD)).not.toBe(secrets.auditHash("other"));
    expect(events.find((e) => e.type === "secrets.rotation_failed")).toMatchObject({
      severity: "high",
      outcome: "failure",
      actor: rotationCaller.actor,
    });
    expect((await secrets.metadata(alice, "/prod/db/main")).lastRotation).toMatchObject({
      ok: false,
      error: "connection refused",
    });
  });

  test("KEK rotation and an interrupted re-wrap keep every version readable", async () => {
    const written: Array<[string, number, string]> = [];
    const write = async (path: string, value: string) => {
      written.push([path, (await secrets.put(alice, path, { value })).version, value]);
    };
    for (let i = 0; i < 4; i++) await write(`/prod/svc${i}/key`, `a${i}`);
    expect((await secrets.rotateKek(admin.actor)).version).toBe(2);
    for (let i = 0; i < 4; i++) await write(`/prod/svc${i}/key`, `b${i}`);
    clock.advance(24 * 3600_000);
    expect((await secrets.rotateKek(admin.actor)).version).toBe(3);
    await write("/prod/svc0/key", "c0");
    const readAll = async () => {
      for (const [path, version, value] of written) {
        expect((await secrets.get(alice, path, { version })).data.value).toBe(value);
      }
    };
    await readAll();

    // A re-wrap that dies after three rows (the database refuses the fourth update): everything
    // still reads, and a second run finishes the job.
    const db = ts.store.db;
    await sql`create sequence rewrap_budget`.execute(db);
    await sql
      .raw(
        `create function rewrap_stop() returns trigger language plpgsql as $$
      begin if nextval('rewrap_budget') > 3 then raise exception 'simulated crash'; end if; return new; end $$`,
      )
      .execute(db);
    await sql`create trigger rewrap_stop before update on secret_versions for each row execute function rewrap_stop()`.execute(
      db,
    );
    expect((await failure(() => secrets.rewrap({ batch: 2 }))).message).toContain("simulated crash");
    await sql`drop trigger rewrap_stop on secret_versions`.execute(db);
    await sql`drop function rewrap_stop`.execute(db);
    await sql`drop sequence rewrap_budget`.execute(db);
    const mixed = await sql<{
      kek: number;
      n: number;
    }>`select kek_version as kek, count(*)::int as n from secret_versions
      group by kek_version order by kek_version`.execute(db);
    expect(mixed.rows).toEqual([
      { kek: 1, n: 1 },
      { kek: 2, n: 4 },
      { kek: 3, n: 4 },
    ]);
    await readAll();
    expect(await secrets.rewrap({ batch: 2 })).toBe(5);
    await readAll();
    expect(await secrets.rewrap()).toBe(0);
    const after = await sql<{
      n: number;
    }>`select count(*)::int as n from secret_versions where kek_version <> 3`.execute(db);
    expect(after.rows[0]?.n).toBe(0);

    // A fresh keyring (as a new process loads it) reads everything under the same root key file.
    const reopened = await open();
    for (const [path, version, value] of written) {
      expect((await reopened.get(alice, path, { version })).data.value).toBe(value);
    }
    expect(reopened.status()).toEqual({
      sealed: false,
      provider: "file",
      kekVersion: 3,
      kekCreatedAt: "2026-11-24T10:00:00.000Z",
    });
  });

  test("a server that did not rotate the KEK adopts the newest one at its next re-wrap", async () => {
    const other = await open(); // a second server on the same database
    try {
      await secrets.put(alice, "/prod/api/a", { v: "1" });
      expect((await secrets.rotateKek(admin.actor)).version).toBe(2);
      expect(other.status().kekVersion).toBe(1);
      expect((await other.put(alice, "/prod/api/b", { v: "1" })).kekVersion).toBe(1);
      await other.rewrap();
      expect(other.status().kekVersion).toBe(2);
      expect((await other.put(alice, "/prod/api/c", { v: "1" })).kekVersion).toBe(2);
      const kekOf = async (path: string) => (await other.metadata(alice, path)).versions[0]?.kekVersion;
      expect([await kekOf("/prod/api/a"), await kekOf("/prod/api/b")]).toEqual([2, 2]);
      expect((await secrets.get(alice, "/prod/api/b")).data).toEqual({ v: "1" });
    } finally {
      await other.close();
    }
  });

  test("ciphertext moved to another path or version, or altered in the database, fails with a clear error", async () => {
    await secrets.put(alice, "/prod/db/main", { password: DB_PASSWORD });
    await secrets.put(alice, "/prod/db/main", { password: "second" });
    await secrets.put(alice, "/prod/db/other", { password: "other" });
    const db = ts.store.db;
    // Version 1's sealed value and key copied onto version 2 of the same path.
    await sql`update secret_versions t set wrapped_dek = s.wrapped_dek, ciphertext = s.ciphertext
      from secret_versions s where s.path = t.path and s.version = 1 and t.path = '/prod/db/main' and t.version = 2`.execute(
      db,
    );
    const swapped = await failure(() => secrets.get(alice, "/prod/db/main"));
    expect(swapped).toMatchObject({ code: "integrity" });
    expect(swapped.message).toContain("version 2 of /prod/db/main failed its integrity check");
    // Version 1 of /prod/db/main copied onto /prod/db/other.
    await sql`update secret_versions t set wrapped_dek = s.wrapped_dek, ciphertext = s.ciphertext
      from secret_versions s where s.path = '/prod/db/main' and s.version = 1 and t.path = '/prod/db/other'`.execute(
      db,
    );
    expect((await failure(() => secrets.get(alice, "/prod/db/other"))).message).toContain(
      "version 1 of /prod/db/other failed its integrity check",
    );
    // A version relabelled as wrapped by another KEK.
    await secrets.rotateKek(admin.actor);
    await sql`update secret_versions set kek_version = 2 where path = '/prod/db/main' and version = 1`.execute(
      db,
    );
    expect(await failure(() => secrets.get(alice, "/prod/db/main", { version: 1 }))).toMatchObject({
      code: "integrity",
    });
    // One flipped bit in the ciphertext.
    await sql`update secret_versions set kek_version = 1,
      ciphertext = set_byte(ciphertext, 20, get_byte(ciphertext, 20) # 1) where path = '/prod/db/main' and version = 1`.execute(
      db,
    );
    const flipped = await failure(() => secrets.get(alice, "/prod/db/main", { version: 1 }));
    expect(flipped.message).toContain(
      "version 1 of /prod/db/main failed its integrity check: its ciphertext",
    );
    const alarms = events.filter((e) => e.type === "secrets.integrity_failed");
    expect(alarms).toHaveLength(4);
    expect(alarms[0]).toMatchObject({ severity: "critical", data: { version: 2 } });
  });

  test("backup and restore round trip into an empty store; a tampered backup leaves the target empty", async () => {
    await secrets.put(alice, "/prod/db/main", { password: DB_PASSWORD });
    await secrets.put(alice, "/prod/db/main", { password: "second" });
    await secrets.put(alice, "/prod/api/key", { value: TOKEN });
    await secrets.setMetadata(alice, "/prod/api/key", { owner: "team-api" });
    await secrets.delete(alice, "/prod/db/main", [2]);
    await secrets.rotateKek(admin.actor);
    await secrets.put(alice, "/prod/api/key", { value: "rotated" });
    await secrets.destroy(alice, "/prod/api/key", [1]);
    const doc = await secrets.backup(admin.actor);
    expect(doc).not.toContain(DB_PASSWORD);
    expect(doc).not.toContain(Buffer.from(DB_PASSWORD).toString("base64"));
    expect(doc.split("\n")[0]).toContain('"format":"rampart-secrets-backup"');

    // The target shares the root key file (same dataDir) but has its own fresh database.
    const target = await openTestStore(backend, secretsMigrations);
    try {
      const restored = await open(target.store);
      const empty = async () => expect(await restored.list(admin, "/")).toEqual([]);

      const lines = doc.trimEnd().split("\n");
      const tampered = [
        // One character of a ciphertext changed.
        doc.replace(/"ciphertext":"(.)/, (_m, c: string) => `"ciphertext":"${c === "A" ? "B" : "A"}`),
        // A line dropped.
        [...lines.slice(0, 3), ...lines.slice(4)].join("\n"),
        // Content changed and the digest recomputed: the HMAC still refuses it.
        (() => {
          const body = `${lines.slice(0, -1).join("\n").replace('"owner":"team-api"', '"owner":"mallory"')}\n`;
          const sha = createHash("sha256").update(body).digest("hex");
          return `${body}${JSON.stringify({ t: "end", sha256: sha, hmac: JSON.parse(lines.at(-1) as string).hmac })}\n`;
        })(),
        "",
      ];
      const messages = [];
      for (const bad of tampered) {
        const err = await failure(() => restored.restore(bad, admin.actor));
        expect(err).toMatchObject({ code: "invalid", where: "backup" });
        messages.push(err.message);
        await empty();
      }
      expect(messages[0]).toContain("digest does not match");
      expect(messages[2]).toContain("HMAC does not match");

      expect(await restored.restore(doc, admin.actor)).toEqual({ secrets: 2, versions: 4 });
      expect((await restored.get(alice, "/prod/db/main", { version: 1 })).data.password).toBe(DB_PASSWORD);
      expect((await restored.get(alice, "/prod/api/key")).data.value).toBe("rotated");
      const meta = await restored.metadata(alice, "/prod/db/main");
      expect(meta.versions.map((v) => v.state)).toEqual(["deleted", "active"]);
      expect((await restored.metadata(alice, "/prod/api/key")).owner).toBe("team-api");
      expect(restored.status().kekVersion).toBe(2);
      // Audit hashes match across the restore, so old audit entries stay searchable.
      expect(restored.auditHash(DB_PASSWORD)).toBe(secrets.auditHash(DB_PASSWORD));
      expect(await failure(() => restored.restore(doc, admin.actor))).toMatchObject({ code: "conflict" });
    } finally {
      await target.cleanup();
    }
  });
});
