// No secret value in logs, events, errors or the audit log: one run through every secrets operation
// a user can reach over HTTP (writes, reads, denials, bad input, conflicts, rollback, delete,
// revoke, rotation, backup and a refused restore), then a search for every value written or made
// by rotation in the server's log output, every answer that is not a value read, every audit
// entry, every row of every table, and every file the embedded database left on disk.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { sql } from "kysely";
import { afterAll, beforeAll, expect, test } from "vitest";
import { rampartConfigSchema } from "../src/config/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import { openStore } from "../src/platform/store/index.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";
import { migrations } from "../src/server/runtime.ts";

let work: string;
let server: RunningServer | undefined;
const logLines: string[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "rampart-secrets-leak-"));
});

afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

// Values a careless log line, event or error would carry verbatim.
const WRITTEN = {
  first: "canary-first-9f1c2e7a",
  second: "canary-second-4b8d0e3f",
  rejected: "canary-rejected-77aa21",
  conflict: "canary-conflict-5c6d7e",
  api: "canary-api-token-31e9",
};

/** Every file under `dir`, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

test("no secret value reaches logs, events, errors, the audit log, any table or any file on disk", async () => {
  const dataDir = join(work, "data");
  const config = rampartConfigSchema.parse({
    version: 1,
    server: { port: 0 },
    database: { dataDir },
    identity: {
      tokens: { secret: "secrets-leak-test-secret-0123456789abcdef" },
      serviceAccounts: [
        { name: "api", roles: [] },
        { name: "intruder", roles: [] },
      ],
    },
    secrets: {
      policies: [
        { name: "api", paths: ["/prod/api/*"], capabilities: ["read", "list"], serviceAccounts: ["api"] },
      ],
      rotation: [{ path: "/prod/api/token", everyDays: 30, target: { kind: "random", key: "token" } }],
    },
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  server = await startServer({ config, logger: createLogger({ level: "debug", destination: sink }) });
  const admin = server.runtime.adminTokens[0] as string;
  const answers: string[] = []; // every answer that is not a value read on purpose
  const call = async (method: string, path: string, token: string, body?: unknown, reveals = false) => {
    const res = await fetch(`${(server as RunningServer).url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!(reveals && res.ok)) answers.push(text);
    return { status: res.status, text };
  };
  const key = async (subject: string) =>
    JSON.parse(
      (await call("POST", "/api/v1/identity/api-keys", admin, { kind: "service", subject, ttlSeconds: 3600 }))
        .text,
    ).key as string;
  const api = await key("api");
  const intruder = await key("intruder");
  const db = "/api/v1/secrets/data/prod/api/db";

  expect((await call("PUT", db, admin, { data: { password: WRITTEN.first } })).status).toBe(200);
  expect((await call("PUT", db, admin, { data: { password: WRITTEN.second }, cas: 1 })).status).toBe(200);
  expect((await call("PUT", db, admin, { data: { password: WRITTEN.conflict }, cas: 1 })).status).toBe(409);
  expect((await call("PUT", db, admin, { data: { "bad key": WRITTEN.rejected } })).status).toBe(400);
  expect(
    (await call("PUT", "/api/v1/secrets/data/prod/api/x", api, { data: { t: WRITTEN.rejected } })).status,
  ).toBe(403);
  expect(JSON.parse((await call("GET", db, api, undefined, true)).text).data.password).toBe(WRITTEN.second);
  expect((await call("GET", db, intruder)).status).toBe(403);
  expect((await call("GET", `${db}?version=1`, admin, undefined, true)).status).toBe(200);
  expect((await call("GET", "/api/v1/secrets/metadata/prod/api/db", admin)).status).toBe(200);
  expect((await call("GET", "/api/v1/secrets/list/prod/", api)).status).toBe(200);
  expect((await call("POST", "/api/v1/secrets/rollback/prod/api/db", admin, { version: 1 })).status).toBe(
    200,
  );
  expect((await call("POST", "/api/v1/secrets/delete/prod/api/db", admin, {})).status).toBe(200);
  expect((await call("GET", db, api)).status).toBe(404);
  expect((await call("POST", "/api/v1/secrets/undelete/prod/api/db", admin, { versions: [3] })).status).toBe(
    200,
  );
  expect(
    (await call("POST", "/api/v1/secrets/revoke/prod/api/db", admin, { version: 2, reason: "drill" })).status,
  ).toBe(200);
  expect(
    (await call("PUT", "/api/v1/secrets/data/prod/api/token", admin, { data: { token: WRITTEN.api } }))
      .status,
  ).toBe(200);
  expect((await call("POST", "/api/v1/secrets/rotate/prod/api/token", admin, {})).status).toBe(200);
  const rotated = JSON.parse(
    (await call("GET", "/api/v1/secrets/data/prod/api/token", api, undefined, true)).text,
  ).data.token as string;
  expect(rotated).not.toBe(WRITTEN.api);
  const backup = await call("GET", "/api/v1/secrets/backup", admin, undefined, true);
  expect(backup.status).toBe(200);
  const tampered = backup.text.replace(
    /"ciphertext":"(.)/,
    (_m, c: string) => `"ciphertext":"${c === "A" ? "B" : "A"}`,
  );
  expect(
    (await call("POST", "/api/v1/secrets/restore", admin, { document: tampered })).status,
  ).toBeGreaterThanOrEqual(400);
  const since = new Date(Date.now() - 60_000).toISOString();
  expect((await call("GET", `/api/v1/secrets/readers/prod/api/db?since=${since}`, admin)).status).toBe(200);

  // The audit log as an auditor reads it, every page.
  await server.runtime.bus.flush();
  const entries: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await call(
      "GET",
      `/api/v1/audit/entries?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      admin,
    );
    expect(page.status).toBe(200);
    const parsed = JSON.parse(page.text) as { entries: unknown[]; next?: string };
    entries.push(...parsed.entries.map((e) => JSON.stringify(e)));
    cursor = parsed.next;
  } while (cursor);
  expect(entries.some((e) => e.includes('"secrets.read"'))).toBe(true);
  expect(entries.some((e) => e.includes('"secrets.rotated"'))).toBe(true);

  await server.stop();
  server = undefined;

  // Every row of every table, bytes read as Latin-1 so a plaintext byte string would show.
  const store = await openStore({ dataDir, migrations });
  const rows: string[] = [];
  try {
    const tables = await sql<{ table_name: string }>`
      select table_name from information_schema.tables where table_schema = 'public'`.execute(store.db);
    expect(tables.rows.map((t) => t.table_name)).toContain("secret_versions");
    for (const { table_name } of tables.rows) {
      const all = await sql<Record<string, unknown>>`select * from ${sql.table(table_name)}`.execute(
        store.db,
      );
      for (const r of all.rows)
        rows.push(
          JSON.stringify(
            Object.values(r).map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v)),
          ),
        );
    }
  } finally {
    await store.close();
  }
  const disk = files(dataDir).map((f) => readFileSync(f).toString("latin1"));

  const places: Record<string, string[]> = {
    logs: logLines,
    answers,
    "audit entries": entries,
    "database rows": rows,
    "files on disk": disk,
  };
  expect(logLines.length).toBeGreaterThan(0);
  for (const [where, texts] of Object.entries(places))
    for (const value of [...Object.values(WRITTEN), rotated])
      expect(
        texts.filter((t) => t.includes(value)).length,
        `${where} hold a secret value (${value.slice(0, 14)}…)`,
      ).toBe(0);
});
