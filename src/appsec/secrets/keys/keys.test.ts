// Local root key providers: the generated key file and its permissions, the environment variable,
// and Shamir unseal (wrong, foreign, repeated and too few shares refused; the right ones unseal).
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { openTestStore, type TestStore } from "../../../../test/support/stores.ts";
import { manualClock } from "../../../platform/clock.ts";
import type { SecurityEvent } from "../../../platform/events/index.ts";
import { openSecrets, type Secrets, secretsConfigSchema, secretsMigrations } from "../index.ts";
import { envRootKey } from "./env.ts";
import { fileRootKey } from "./file.ts";
import { initShamir } from "./shamir.ts";
import { callerOf } from "../../../../test/support/secrets.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "rampart-keys-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const kek = Buffer.alloc(32, 7);

describe("file root key", () => {
  test("is created 0600 at first use and wraps the same way after a reload", async () => {
    const file = join(dir, "keys", "secrets-root.key");
    const first = fileRootKey(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file)).toHaveLength(32);
    const wrapped = await first.wrap(kek, "rampart:kek:1");
    expect(await fileRootKey(file).unwrap(wrapped, "rampart:kek:1")).toEqual(kek);
    await expect(first.unwrap(wrapped, "rampart:kek:2")).rejects.toThrow(
      "cannot unwrap a key for rampart:kek:2",
    );
  });

  test("a file group or others can read is refused with the chmod fix", () => {
    const file = join(dir, "root.key");
    writeFileSync(file, Buffer.alloc(32, 1), { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(() => fileRootKey(file)).toThrow(`run \`chmod 600 ${file}\``);
    chmodSync(file, 0o600);
    expect(fileRootKey(file).ready()).toBe(true);
  });

  test("a file of the wrong length is refused", () => {
    const file = join(dir, "short.key");
    writeFileSync(file, Buffer.alloc(16), { mode: 0o600 });
    expect(() => fileRootKey(file)).toThrow("holds 16 bytes, expected 32");
  });
});

describe("environment root key", () => {
  const value = Buffer.alloc(32, 9).toString("base64");
  test("reads base64 of 32 bytes", async () => {
    const root = envRootKey("ROOT", { ROOT: value });
    expect(await root.unwrap(await root.wrap(kek, "c"), "c")).toEqual(kek);
  });

  test.each([
    [{}, "environment variable ROOT is not set"],
    [{ ROOT: "not base64!!" }, "environment variable ROOT is not base64"],
    [{ ROOT: Buffer.alloc(16, 3).toString("base64") }, "decodes to 16 bytes, expected 32"],
  ])("refuses %j with a clear error that never shows the value", (env, message) => {
    let error: Error | undefined;
    try {
      envRootKey("ROOT", env);
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).toContain(message);
    expect(error).toMatchObject({ where: "secrets.root.variable" });
    for (const v of Object.values(env)) expect(error?.message).not.toContain(v);
  });
});

describe("shamir unseal", () => {
  let ts: TestStore;
  let events: SecurityEvent[];
  const operator = { kind: "user", id: "corp:ops" };
  const admin = callerOf("user", "corp:ops", [], ["admin"]);
  const config = secretsConfigSchema.parse({ root: { provider: "shamir", shares: 5, threshold: 3 } });
  const open = (store = ts.store) =>
    openSecrets({
      store,
      config: () => config,
      dataDir: dir,
      clock: manualClock(),
      emit: (e) => events.push(e),
    });

  beforeEach(async () => {
    ts = await openTestStore("pglite", secretsMigrations);
    events = [];
  });
  afterEach(() => ts.cleanup());

  test("sealed until three right shares arrive; wrong, foreign and repeated shares are refused", async () => {
    const secrets: Secrets = await open();
    expect(secrets.status()).toEqual({
      sealed: true,
      provider: "shamir",
      kekVersion: 0,
      unseal: { submitted: 0, threshold: 0 },
    });
    await expect(secrets.unseal("rss1.00000000.AAAA", operator)).rejects.toThrow(
      "run `rampart secrets init`",
    );

    const { shares } = await initShamir(ts.store, { shares: 5, threshold: 3 });
    expect(shares).toHaveLength(5);
    await expect(initShamir(ts.store, { shares: 5, threshold: 3 })).rejects.toThrow("already initialised");
    await expect(secrets.get(admin, "/prod/a/b")).rejects.toMatchObject({ code: "unavailable" });

    // Too few: still sealed, progress shown.
    const [s0, s1, s2, s3] = shares as [string, string, string, string];
    expect((await secrets.unseal(s0, operator)).unseal).toEqual({ submitted: 1, threshold: 3 });
    await expect(secrets.unseal(s0, operator)).rejects.toThrow("already submitted");
    expect((await secrets.unseal(s1, operator)).unseal).toEqual({ submitted: 2, threshold: 3 });
    await expect(secrets.put(admin, "/prod/a/b", { k: "v" })).rejects.toThrow("sealed");

    // A share with one altered byte combines into the wrong key: refused, progress reset.
    const raw = Buffer.from(s2.split(".")[2] as string, "base64url");
    raw[0] = (raw[0] as number) ^ 0xff;
    const altered = `rss1.${s2.split(".")[1]}.${raw.toString("base64url")}`;
    await expect(secrets.unseal(altered, operator)).rejects.toThrow(
      "share: the submitted shares do not combine into this store's root key; unseal progress reset",
    );
    expect(secrets.status()).toMatchObject({ sealed: true, unseal: { submitted: 0, threshold: 3 } });

    // A share of another split (another store's init).
    const other = await openTestStore("pglite", secretsMigrations);
    try {
      const foreign = (await initShamir(other.store, { shares: 3, threshold: 2 })).shares[0] as string;
      await secrets.unseal(s0, operator);
      await expect(secrets.unseal(foreign, operator)).rejects.toThrow("belongs to another split");
      expect(secrets.status().unseal).toEqual({ submitted: 0, threshold: 3 });
    } finally {
      await other.cleanup();
    }
    await expect(secrets.unseal("garbage", operator)).rejects.toThrow("not an unseal share");

    for (const s of [s3, s0]) expect((await secrets.unseal(s, operator)).sealed).toBe(true);
    expect(await secrets.unseal(s1, operator)).toMatchObject({
      sealed: false,
      provider: "shamir",
      kekVersion: 1,
    });
    await secrets.put(admin, "/prod/a/b", { k: "v" });

    // Another process unseals with any other three shares and reads the same data.
    const second = await open(await ts.reopen());
    for (const s of [shares[4] as string, s2, s3]) await second.unseal(s, operator);
    expect((await second.get(admin, "/prod/a/b")).data).toEqual({ k: "v" });

    const types = events.map((e) => e.type);
    expect(types.filter((t) => t === "secrets.unseal_failed")).toHaveLength(5);
    expect(types.filter((t) => t === "secrets.unsealed")).toHaveLength(2);
    const serialized = JSON.stringify(events);
    for (const s of shares) expect(serialized).not.toContain(s.split(".")[2]);
  });

  test("a cloud provider must be passed in by the server", async () => {
    const cloud = secretsConfigSchema.parse({
      root: { provider: "aws-kms", keyId: "alias/x", region: "eu-west-1" },
    });
    await expect(
      openSecrets({
        store: ts.store,
        config: () => cloud,
        dataDir: dir,
        clock: manualClock(),
        emit: () => {},
      }),
    ).rejects.toThrow("secrets.root: the aws-kms root key provider is wired by the server");
  });
});
