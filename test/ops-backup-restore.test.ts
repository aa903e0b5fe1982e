// The backup and restore procedure of docs/operations.md, performed as an operator would: real
// `rampart server` processes on real PostgreSQL, `pg_dump -Fc` and `pg_restore`, key files copied
// apart from the database. Also what the migrator does when servers start together, and when an
// older Rampart meets a schema a newer one migrated.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, expect, inject, test } from "vitest";
import { openStore } from "../src/platform/store/index.ts";
import { migrations } from "../src/server/runtime.ts";
import { rampart } from "./support/cli.ts";
import { freshDatabase } from "./support/pg.ts";
import {
  runPostgresTool,
  type ServerProcess,
  serverProcesses,
  serverStartRefused,
  startServerProcess,
} from "./support/server-process.ts";
import { freePort } from "./support/services.ts";

const work = mkdtempSync(join(tmpdir(), "rampart-ops-backup-"));
const adminToken = `ops-backup-admin-${randomBytes(16).toString("hex")}`;
const env = { RAMPART_ADMIN_TOKEN: adminToken, RAMPART_LOG_LEVEL: "warn" };
const drops: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const c of serverProcesses) c.kill("SIGKILL");
  for (const drop of drops) await drop().catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

async function database(): Promise<string> {
  const db = await freshDatabase(inject("pgUrl"));
  drops.push(db.drop);
  return db.url;
}

/** Writes `<name>.yaml` for a server on `url` whose key files live in `<name>/keys`. */
function serverConfig(name: string, url: string, port: number): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(
    file,
    [
      "version: 1",
      `server: { port: ${port} }`,
      `database: { url: "${url}", dataDir: "${join(work, name)}" }`,
      "events: { batchMaxDelayMs: 5 }",
      "audit: { checkpointIntervalSeconds: 1 }",
      "",
    ].join("\n"),
  );
  return file;
}

const keyFiles = ["secrets-root.key", "audit.json"] as const;

/** The operator's copy of the key material: the two files of `<dataDir>/keys`, 0600. */
function copyKeys(from: string, to: string, only: readonly string[] = keyFiles): void {
  mkdirSync(join(work, to, "keys"), { recursive: true, mode: 0o700 });
  for (const f of only) {
    copyFileSync(join(work, from, "keys", f), join(work, to, "keys", f));
    chmodSync(join(work, to, "keys", f), 0o600);
  }
}

async function api<T>(
  server: ServerProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${adminToken}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

interface SecretRead {
  version: number;
  data: Record<string, string>;
  message?: string;
}
interface VerifyReport {
  ok: boolean;
  entries: number;
  problem?: { message: string };
}

async function putSecret(server: ServerProcess, path: string, data: Record<string, string>) {
  const res = await api<{ version: number }>(server, "PUT", `/api/v1/secrets/data${path}`, { data });
  expect(res.status).toBe(200);
  return res.body.version;
}

const verifierKey = async (server: ServerProcess) =>
  (await api<{ verifierKey: string }>(server, "GET", "/api/v1/audit/logs")).body.verifierKey;

/** `pg_dump -Fc` of `from`, restored with `pg_restore` into a fresh database; returns its URL. */
async function dumpAndRestore(from: string, name: string): Promise<{ url: string; dump: string }> {
  const dump = join(work, `${name}.dump`);
  await runPostgresTool("pg_dump", ["-Fc", "--file", dump, "--dbname", from]);
  const url = await database();
  await runPostgresTool("pg_restore", ["--no-owner", "--exit-on-error", "--dbname", url, dump]);
  return { url, dump };
}

test("pg_dump plus the key files restores secrets and an audit log that verifies under the same key", async () => {
  const dbA = await database();
  const portA = await freePort();
  const a = await startServerProcess({ cwd: work, config: serverConfig("a", dbA, portA), port: portA, env });
  const first = `first-${randomBytes(8).toString("hex")}`;
  const second = `second-${randomBytes(8).toString("hex")}`;
  expect(await putSecret(a, "/prod/api/db", { user: "api", password: first })).toBe(1);
  expect(await putSecret(a, "/prod/api/db", { user: "api", password: second })).toBe(2);
  expect((await api<SecretRead>(a, "GET", "/api/v1/secrets/data/prod/api/db")).body.data.password).toBe(
    second,
  );
  const keyA = await verifierKey(a);
  const beforeBackup = await api<VerifyReport>(a, "POST", "/api/v1/audit/verify");
  expect(beforeBackup.body.ok).toBe(true);
  // SIGTERM: the queue is flushed and a final checkpoint signed before the dump.
  expect(await a.stop()).toBe(0);

  const { url: dbB } = await dumpAndRestore(dbA, "a");
  copyKeys("a", "b");
  const portB = await freePort();
  const configB = serverConfig("b", dbB, portB);
  let b = await startServerProcess({ cwd: work, config: configB, port: portB, env });
  try {
    // Same values, same history.
    const now = await api<SecretRead>(b, "GET", "/api/v1/secrets/data/prod/api/db");
    expect(now.status).toBe(200);
    expect(now.body).toMatchObject({ version: 2, data: { user: "api", password: second } });
    const old = await api<SecretRead>(b, "GET", "/api/v1/secrets/data/prod/api/db?version=1");
    expect(old.body.data.password).toBe(first);
    // The audit log verifies, under the verifier key the original deployment published.
    expect(await verifierKey(b)).toBe(keyA);
    const verified = await api<VerifyReport>(b, "POST", "/api/v1/audit/verify");
    expect(verified.body).toMatchObject({ ok: true });
    expect(verified.body.entries).toBeGreaterThan(beforeBackup.body.entries);
    // New writes work on the restored deployment.
    const third = `third-${randomBytes(8).toString("hex")}`;
    expect(await putSecret(b, "/prod/api/db", { user: "api", password: third })).toBe(3);
    expect(await putSecret(b, "/prod/api/other", { token: third })).toBe(1);
    expect((await api<SecretRead>(b, "GET", "/api/v1/secrets/data/prod/api/db")).body.data.password).toBe(
      third,
    );
  } finally {
    expect(await b.stop()).toBe(0);
  }

  // The CLI, straight against the restored database: the whole log, then an export checked
  // offline with nothing but the key pinned before the backup.
  const cliVerify = await rampart(["audit", "verify", "-c", configB], { cwd: work });
  expect(cliVerify.stderr).toBe("");
  expect(cliVerify.code).toBe(0);
  expect(cliVerify.stdout).toMatch(/^OK: \d+ entries in \d+ logs verified/m);
  const bundle = join(work, "bundle-b");
  const day = 86_400_000;
  const exported = await rampart(
    [
      "audit",
      "export",
      "-c",
      configB,
      "--from",
      new Date(Date.now() - day).toISOString(),
      "--to",
      new Date(Date.now() + day).toISOString(),
      "--out",
      bundle,
    ],
    { cwd: work },
  );
  expect(exported.code, exported.stderr).toBe(0);
  const offline = await rampart(["audit", "verify", "--bundle", bundle, "--key", keyA], { cwd: work });
  expect(offline.code, offline.stdout).toBe(0);
  expect(offline.stdout).toContain("OK");

  // The database without its root key: the server runs, secrets answer 503 naming the cause, and
  // no value leaks into the answer.
  mkdirSync(join(work, "wrong", "keys"), { recursive: true, mode: 0o700 });
  writeFileSync(join(work, "wrong", "keys", "secrets-root.key"), randomBytes(32), { mode: 0o600 });
  copyKeys("a", "wrong", ["audit.json"]);
  const portW = await freePort();
  const wrong = await startServerProcess({
    cwd: work,
    config: serverConfig("wrong", dbB, portW),
    port: portW,
    env,
  });
  try {
    const refused = await api<SecretRead>(wrong, "GET", "/api/v1/secrets/data/prod/api/db");
    expect(refused.status).toBe(503);
    expect(refused.body.message).toMatch(/wrapped by another root key/);
    expect(JSON.stringify(refused.body)).not.toContain("third-");
    const put = await api<SecretRead>(wrong, "PUT", "/api/v1/secrets/data/prod/api/db", {
      data: { password: "must-not-land" },
    });
    expect(put.status).toBe(503);
    // The audit key was right: the log still verifies on this server.
    expect((await api<VerifyReport>(wrong, "POST", "/api/v1/audit/verify")).body.ok).toBe(true);
  } finally {
    expect(await wrong.stop()).toBe(0);
  }

  // Nothing was damaged: with the right key the newest value still reads.
  b = await startServerProcess({ cwd: work, config: configB, port: portB, env });
  try {
    const after = await api<SecretRead>(b, "GET", "/api/v1/secrets/data/prod/api/db");
    expect(after.body.version).toBe(3);
    expect(after.body.data.password).toMatch(/^third-/);
    expect((await api<VerifyReport>(b, "POST", "/api/v1/audit/verify")).body.ok).toBe(true);
  } finally {
    expect(await b.stop()).toBe(0);
  }

  // The database without its audit key file: refused at start, naming what to restore.
  copyKeys("a", "no-audit-key", ["secrets-root.key"]);
  const refused = await serverStartRefused({
    cwd: work,
    config: serverConfig("no-audit-key", dbB, await freePort()),
    env,
  });
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain("restore the key file from backup");
}, 180_000);

test("a dump taken while writes continue is one snapshot: it restores consistent and verifies", async () => {
  const dbA = await database();
  const port = await freePort();
  const a = await startServerProcess({ cwd: work, config: serverConfig("busy", dbA, port), port, env });
  // Version n of the counter holds n, so a restored store can be checked against itself. `writes`
  // counts the acknowledged ones: a write still in flight may or may not be in the dump.
  let writes = 0;
  let stop = false;
  let dbC: string | undefined;
  const writer = (async () => {
    while (!stop) {
      const n = writes + 1;
      expect(await putSecret(a, "/prod/app/counter", { n: String(n) })).toBe(n);
      writes = n;
    }
  })();
  try {
    while (writes < 10) await new Promise((r) => setTimeout(r, 20));
    dbC = (await dumpAndRestore(dbA, "busy")).url;
    const atDump = writes;
    while (writes < atDump + 10) await new Promise((r) => setTimeout(r, 20));
  } finally {
    stop = true;
    await writer;
    expect(await a.stop()).toBe(0);
  }

  if (!dbC) throw new Error("no dump was taken");
  // Offline, no server on the restored copy: every MAC, sequence and checkpoint holds.
  copyKeys("busy", "busy-restored");
  const portC = await freePort();
  const configC = serverConfig("busy-restored", dbC, portC);
  const cli = await rampart(["audit", "verify", "-c", configC], { cwd: work });
  expect(cli.code, cli.stdout).toBe(0);
  expect(cli.stdout).toMatch(/^OK: /m);

  const c = await startServerProcess({ cwd: work, config: configC, port: portC, env });
  try {
    const read = await api<SecretRead>(c, "GET", "/api/v1/secrets/data/prod/app/counter");
    expect(read.status).toBe(200);
    expect(read.body.version).toBeGreaterThanOrEqual(10);
    expect(read.body.version).toBeLessThan(writes);
    expect(read.body.data.n).toBe(String(read.body.version));
    // The restored copy carries on from where the snapshot stood.
    expect(await putSecret(c, "/prod/app/counter", { n: "next" })).toBe(read.body.version + 1);
    expect((await api<VerifyReport>(c, "POST", "/api/v1/audit/verify")).body.ok).toBe(true);
  } finally {
    expect(await c.stop()).toBe(0);
  }
}, 180_000);

test("three servers opening an empty database at once run every migration exactly once", async () => {
  const url = await database();
  const stores = await Promise.all([1, 2, 3].map(() => openStore({ url, migrations, poolSize: 2 })));
  try {
    const { rows } = await sql<{ name: string; times: number }>`
      select name, count(*)::int as times from rampart_migrations group by name order by name`.execute(
      stores[0]!.db,
    );
    expect(rows.map((r) => r.name).sort()).toEqual(Object.keys(migrations).sort());
    expect(rows.every((r) => r.times === 1)).toBe(true);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
}, 120_000);

test("two server processes starting at once on an empty database both come up, migrated once", async () => {
  const url = await database();
  // The same key material on both, as a Kubernetes Secret would hand it to each replica.
  const { privateKey } = generateKeyPairSync("ed25519");
  const auditKeys = JSON.stringify({
    version: 1,
    signingKey: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    secret: randomBytes(32).toString("base64"),
  });
  const rootKey = randomBytes(32);
  for (const name of ["twin-1", "twin-2"]) {
    mkdirSync(join(work, name, "keys"), { recursive: true, mode: 0o700 });
    writeFileSync(join(work, name, "keys", "audit.json"), auditKeys, { mode: 0o600 });
    writeFileSync(join(work, name, "keys", "secrets-root.key"), rootKey, { mode: 0o600 });
  }
  const ports = [await freePort(), await freePort()];
  const twins = await Promise.all(
    ["twin-1", "twin-2"].map((name, i) =>
      startServerProcess({ cwd: work, config: serverConfig(name, url, ports[i]!), port: ports[i]!, env }),
    ),
  );
  try {
    // A secret written through one reads back through the other: one keyring, made once.
    const value = randomBytes(8).toString("hex");
    expect(await putSecret(twins[0]!, "/prod/twins/shared", { value })).toBe(1);
    const read = await api<SecretRead>(twins[1]!, "GET", "/api/v1/secrets/data/prod/twins/shared");
    expect(read.body.data.value).toBe(value);
  } finally {
    expect(await Promise.all(twins.map((t) => t.stop()))).toEqual([0, 0]);
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; times: number }>(
      "select name, count(*)::int as times from rampart_migrations group by name order by name",
    );
    expect(rows.map((r) => r.name).sort()).toEqual(Object.keys(migrations).sort());
    expect(rows.every((r) => r.times === 1)).toBe(true);
  } finally {
    await client.end();
  }
}, 120_000);

test("an older Rampart refuses to start on a schema a newer one migrated, and changes nothing", async () => {
  const url = await database();
  const store = await openStore({ url, migrations });
  await store.close();
  // What a newer release leaves behind: a migration this binary does not have.
  const newer = "2099-12-31-01-from-a-newer-release";
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("insert into rampart_migrations (name, timestamp) values ($1, $2)", [
      newer,
      new Date().toISOString(),
    ]);
    const before = (await client.query("select count(*)::int as n from rampart_migrations")).rows[0].n;
    const refused = await serverStartRefused({
      cwd: work,
      config: serverConfig("older", url, await freePort()),
      env,
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("the database was migrated by a newer Rampart release");
    expect(refused.stderr).toContain(`previously executed migration ${newer} is missing`);
    const after = (await client.query("select count(*)::int as n from rampart_migrations")).rows[0].n;
    expect(after).toBe(before);
    // Nothing of the application ran: no audit entry was written.
    const entries = (await client.query("select count(*)::int as n from audit_entries")).rows[0].n;
    expect(entries).toBe(0);
  } finally {
    await client.end();
  }
}, 60_000);
