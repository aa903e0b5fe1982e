// The secrets API as operators and services use it: the life of a secret through HTTP, path
// policies per caller, a sealed store unsealed with Shamir shares, the incident-response hooks, and
// a backup restored into a fresh server. Real servers on PGlite; credentials are real API keys.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { initShamir } from "../src/appsec/secrets/index.ts";
import { type RampartConfig, rampartConfigSchema } from "../src/config/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";

type Json = Record<string, unknown> & { message?: string };

let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "rampart-secrets-api-"));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

function configFor(name: string, secrets: Record<string, unknown>): RampartConfig {
  return rampartConfigSchema.parse({
    version: 1,
    server: { port: 0 },
    database: { dataDir: join(work, name) },
    identity: {
      tokens: { secret: "secrets-api-test-secret-0123456789abcdef" },
      serviceAccounts: [
        { name: "api", roles: [] },
        { name: "billing", roles: [] },
      ],
    },
    secrets,
  });
}

const start = (config: RampartConfig) => startServer({ config, logger: createLogger({ level: "silent" }) });

function client(server: RunningServer) {
  return async (
    method: string,
    path: string,
    o: { token?: string | undefined; body?: unknown } = {},
  ): Promise<{ status: number; json: Json }> => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(o.body !== undefined ? { "content-type": "application/json" } : {}),
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
      },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
}

async function apiKey(server: RunningServer, kind: "user" | "service", subject: string): Promise<string> {
  const r = await client(server)("POST", "/api/v1/identity/api-keys", {
    token: server.runtime.adminTokens[0],
    body: { kind, subject, ttlSeconds: 3600 },
  });
  expect(r.status).toBe(201);
  return r.json.key as string;
}

describe("a store with a file root key and path policies", () => {
  const policies = [
    {
      name: "api-reads-its-own",
      paths: ["/prod/api/*"],
      capabilities: ["read", "list"],
      serviceAccounts: ["api"],
    },
    { name: "alice-reads-prod", paths: ["/prod/**"], capabilities: ["read"], users: ["corp:alice"] },
    {
      name: "no-tokens-for-alice",
      effect: "deny",
      paths: ["/prod/*/token"],
      capabilities: ["read"],
      users: ["corp:alice"],
    },
  ];
  const rootFile = () => join(work, "root.key");
  let server: RunningServer;
  let call: ReturnType<typeof client>;
  let admin: string;
  let apiSvc: string;
  let billingSvc: string;
  let alice: string;

  beforeAll(async () => {
    server = await start(configFor("main", { root: { provider: "file", file: rootFile() }, policies }));
    call = client(server);
    admin = server.runtime.adminTokens[0] as string;
    apiSvc = await apiKey(server, "service", "api");
    billingSvc = await apiKey(server, "service", "billing");
    alice = await apiKey(server, "user", "corp:alice");
  });

  afterAll(async () => {
    await server?.stop();
  });

  const data = (path: string, token = admin) => call("GET", `/api/v1/secrets/data${path}`, { token });
  const put = (path: string, body: unknown, token = admin) =>
    call("PUT", `/api/v1/secrets/data${path}`, { token, body });
  const post = (op: string, path: string, body: unknown = {}, token = admin) =>
    call("POST", `/api/v1/secrets/${op}${path}`, { token, body });

  test("the life of a secret: versions, check-and-set, delete, undelete, rollback, destroy, revoke", async () => {
    const p = "/prod/api/db";
    const v1 = await put(p, { data: { password: "first-pass-1" }, cas: 0 });
    expect(v1.status).toBe(200);
    expect(v1.json).toMatchObject({ version: 1, state: "active", createdBy: "token:admin" });
    expect((await put(p, { data: { password: "second-pass-2" }, cas: 1 })).json).toMatchObject({
      version: 2,
    });

    const stale = await put(p, { data: { password: "lost-update" }, cas: 1 });
    expect(stale.status).toBe(409);

    expect((await data(p)).json).toMatchObject({ path: p, version: 2, data: { password: "second-pass-2" } });
    expect((await call("GET", `/api/v1/secrets/data${p}?version=1`, { token: admin })).json).toMatchObject({
      version: 1,
      data: { password: "first-pass-1" },
    });

    // A deleted newest version reads as gone (as in Vault): no silent fall back to version 1.
    expect((await post("delete", p)).json).toEqual({ path: p, deleted: "newest" });
    const gone = await data(p);
    expect(gone.status).toBe(404);
    expect(gone.json.message).toBe(
      `the newest version (2) of ${p} is deleted: undelete it, roll back or write a new version`,
    );
    expect((await call("GET", `/api/v1/secrets/data${p}?version=1`, { token: admin })).status).toBe(200);
    expect((await post("delete", p, { versions: [1] })).status).toBe(200);

    expect((await post("undelete", p, { versions: [1, 2] })).status).toBe(200);
    expect((await data(p)).json).toMatchObject({ version: 2 });

    const rolled = await post("rollback", p, { version: 1 });
    expect(rolled.json).toMatchObject({ version: 3, rolledBackFrom: 1 });
    expect((await data(p)).json).toMatchObject({ version: 3, data: { password: "first-pass-1" } });

    expect((await post("destroy", p, { versions: [1] })).status).toBe(200);
    expect((await call("GET", `/api/v1/secrets/data${p}?version=1`, { token: admin })).status).toBe(404);

    expect((await post("revoke", p, { version: 3, reason: "INC-7 leaked in a build log" })).status).toBe(200);
    expect((await call("GET", `/api/v1/secrets/data${p}?version=3`, { token: admin })).status).toBe(404);
    const revoked = await data(p);
    expect(revoked.status).toBe(404);
    expect(revoked.json.message).toBe(
      `the newest version (3) of ${p} is revoked: roll back or write a new version`,
    );
    expect((await post("rollback", p, { version: 2 })).json).toMatchObject({ version: 4 });
    expect((await data(p)).json).toMatchObject({ version: 4, data: { password: "second-pass-2" } });

    const meta = await call("GET", `/api/v1/secrets/metadata${p}`, { token: admin });
    expect(meta.json.currentVersion).toBe(4);
    const states = (meta.json.versions as { version: number; state: string }[]).map(
      (v) => `${v.version}:${v.state}`,
    );
    expect(states).toEqual(["4:active", "3:revoked", "2:active", "1:destroyed"]);
    expect(JSON.stringify(meta.json)).not.toContain("pass");

    const patched = await call("PATCH", `/api/v1/secrets/metadata${p}`, {
      token: admin,
      body: { owner: "team-api", maxVersions: 5 },
    });
    expect(patched.json).toMatchObject({ owner: "team-api", maxVersions: 5 });
  });

  test("bad paths and bodies are refused with where they went wrong", async () => {
    // An encoded slash reaches the route as one parameter: the path check still sees the dots.
    const dots = await data("/prod/api%2F..%2Fbilling/db");
    expect(dots.status).toBe(400);
    expect(dots.json.message).toContain("expected /{environment}/{service}/{name}");
    expect((await data("/prod/..secret/db")).status).toBe(400);
    expect((await data("/prod/api")).status).toBe(400);
    expect((await data("/prod//db")).status).toBe(400);
    const notString = await put("/prod/api/x", { data: { n: 1 } });
    expect(notString.status).toBe(400);
    expect(notString.json.message).toContain("data.n");
    expect(
      (await call("GET", "/api/v1/secrets/data/prod/api/db?version=zero", { token: admin })).status,
    ).toBe(400);
  });

  test("path policies decide per caller; admin operations need their RBAC action", async () => {
    await put("/prod/api/token", { data: { value: "tok-api-1" } });
    await put("/prod/billing/db", { data: { password: "billing-pass" } });
    await put("/dev/api/db", { data: { password: "dev-pass" } });

    expect((await data("/prod/api/token", apiSvc)).json).toMatchObject({ data: { value: "tok-api-1" } });
    const other = await data("/prod/billing/db", apiSvc);
    expect(other.status).toBe(403);
    expect(other.json.message).toBe("no secrets policy grants 'read' on /prod/billing/db");
    expect((await data("/prod/api/token", billingSvc)).status).toBe(403);
    expect((await put("/prod/api/token", { data: { value: "mine" } }, apiSvc)).status).toBe(403);
    expect((await call("GET", "/api/v1/secrets/data/prod/api/token")).status).toBe(401);

    // A deny wins over an allow: alice reads prod, but no token.
    expect((await data("/prod/billing/db", alice)).status).toBe(200);
    expect((await data("/prod/api/token", alice)).status).toBe(403);

    expect((await call("GET", "/api/v1/secrets/list/prod/", { token: apiSvc })).json).toEqual({
      paths: ["/prod/api/db", "/prod/api/token"],
    });
    expect((await call("GET", "/api/v1/secrets/list/", { token: admin })).json).toEqual({
      paths: ["/dev/api/db", "/prod/api/db", "/prod/api/token", "/prod/billing/db"],
    });

    const backup = await call("GET", "/api/v1/secrets/backup", { token: apiSvc });
    expect(backup.status).toBe(403);
    expect(backup.json.message).toContain("missing permission secrets:backup");
    expect((await call("POST", "/api/v1/secrets/keys/rotate", { token: billingSvc })).status).toBe(403);
  });

  test("readers since T lists exactly who read the secret after T", async () => {
    const p = "/prod/api/reader-test";
    await put(p, { data: { value: "read-me" } });
    await data(p, apiSvc); // before T: not counted
    await server.runtime.bus.flush();
    await new Promise((r) => setTimeout(r, 5));
    const since = new Date().toISOString();
    await data(p, apiSvc);
    await data(p, apiSvc);
    await data(p, alice);
    await data(p, billingSvc); // denied: not a reader
    await call("GET", `/api/v1/secrets/metadata${p}`, { token: admin }); // metadata is not a read

    const r = await call("GET", `/api/v1/secrets/readers${p}?since=${encodeURIComponent(since)}`, {
      token: admin,
    });
    expect(r.status).toBe(200);
    const readers = (r.json.readers as { actor: string; reads: number; versions: number[] }[]).map(
      ({ actor, reads, versions }) => ({ actor, reads, versions }),
    );
    expect(readers).toEqual([
      { actor: "service:api", reads: 2, versions: [1] },
      { actor: "user:corp:alice", reads: 1, versions: [1] },
    ]);
    expect((await call("GET", `/api/v1/secrets/readers${p}?since=${since}`, { token: apiSvc })).status).toBe(
      403,
    );
    expect((await call("GET", `/api/v1/secrets/readers${p}`, { token: admin })).status).toBe(400);
  });

  test("readable lists exactly the paths the policies let a principal read", async () => {
    await put("/prod/api/token", { data: { value: "tok-api-2" } });
    const readable = async (q: string) =>
      (await call("GET", `/api/v1/secrets/readable?${q}`, { token: admin })).json.paths as string[];
    const api = await readable("kind=service&subject=api");
    expect(api.filter((p) => p !== "/prod/api/reader-test")).toEqual(["/prod/api/db", "/prod/api/token"]);
    const a = await readable("kind=user&subject=corp:alice");
    expect(a.filter((p) => p !== "/prod/api/reader-test")).toEqual(["/prod/api/db", "/prod/billing/db"]);
    expect(await readable("kind=user&subject=corp:mallory&groups=devs")).toEqual([]);
    expect(await readable("kind=user&subject=corp:root&roles=admin")).toContain("/dev/api/db");
    expect(
      (await call("GET", "/api/v1/secrets/readable?kind=robot&subject=x", { token: admin })).status,
    ).toBe(400);
  });

  test("a backup restores into a fresh server with the same root key; a tampered one is refused", async () => {
    const b = await call("GET", "/api/v1/secrets/backup", { token: admin });
    expect(b.status).toBe(200);
    const document = b.json.document as string;
    for (const value of ["second-pass-2", "tok-api-2", "billing-pass"]) expect(document).not.toContain(value);

    const fresh = await start(configFor("fresh", { root: { provider: "file", file: rootFile() } }));
    try {
      const f = client(fresh);
      const token = fresh.runtime.adminTokens[0];
      const lines = document.split("\n");
      const i = lines.findIndex((l) => l.includes('"t":"version"'));
      const record = JSON.parse(lines[i] as string) as { ciphertext: string };
      const flipped = Buffer.from(record.ciphertext, "base64");
      flipped[flipped.length - 1] = (flipped.at(-1) as number) ^ 1;
      lines[i] = JSON.stringify({ ...record, ciphertext: flipped.toString("base64") });
      const tampered = await f("POST", "/api/v1/secrets/restore", {
        token,
        body: { document: lines.join("\n") },
      });
      expect(tampered.status).toBe(400);
      expect(tampered.json.message).toContain("digest does not match");
      expect((await f("GET", "/api/v1/secrets/list/", { token })).json).toEqual({ paths: [] });

      const restored = await f("POST", "/api/v1/secrets/restore", { token, body: { document } });
      expect(restored.status).toBe(200);
      expect(restored.json).toMatchObject({ secrets: 5 });
      expect((await f("GET", "/api/v1/secrets/data/prod/billing/db", { token })).json).toMatchObject({
        data: { password: "billing-pass" },
      });
      const again = await f("POST", "/api/v1/secrets/restore", { token, body: { document } });
      expect(again.status).toBe(409);
    } finally {
      await fresh.stop();
    }
  });

  test("key rotation keeps every version readable", async () => {
    const before = (await call("GET", "/api/v1/secrets/status", { token: apiSvc })).json;
    expect(before).toMatchObject({ open: true, sealed: false, provider: "file" });
    const r = await call("POST", "/api/v1/secrets/keys/rotate", { token: admin });
    expect(r.json).toEqual({ kekVersion: (before.kekVersion as number) + 1, rewrap: "started" });
    expect((await data("/prod/billing/db")).json).toMatchObject({ data: { password: "billing-pass" } });
    expect((await data("/prod/api/db")).json).toMatchObject({ version: 4 });
  });
});

describe("a store sealed under Shamir shares", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await start(configFor("sealed", { root: { provider: "shamir", shares: 3, threshold: 2 } }));
  });

  afterAll(async () => {
    await server?.stop();
  });

  test("answers 503 with the unseal hint until enough shares arrive, then serves", async () => {
    const call = client(server);
    const token = server.runtime.adminTokens[0];
    const { shares } = await initShamir(server.runtime.store, { shares: 3, threshold: 2 });

    expect((await call("GET", "/api/v1/secrets/status", { token })).json).toMatchObject({
      sealed: true,
      provider: "shamir",
      unseal: { submitted: 0 },
    });
    const sealed = await call("PUT", "/api/v1/secrets/data/prod/api/db", {
      token,
      body: { data: { a: "b" } },
    });
    expect(sealed.status).toBe(503);
    expect(sealed.json.message).toContain("rampart secrets unseal");

    const first = await call("POST", "/api/v1/secrets/unseal", { token, body: { share: shares[0] } });
    expect(first.json).toMatchObject({ sealed: true, unseal: { submitted: 1, threshold: 2 } });
    const garbled = `${(shares[1] as string).slice(0, -4)}AAAA`;
    const wrong = await call("POST", "/api/v1/secrets/unseal", { token, body: { share: garbled } });
    expect(wrong.status).toBe(400);
    expect(wrong.json.message).toContain("unseal progress reset");
    expect(JSON.stringify(wrong.json)).not.toContain(garbled);

    await call("POST", "/api/v1/secrets/unseal", { token, body: { share: shares[2] } });
    const done = await call("POST", "/api/v1/secrets/unseal", { token, body: { share: shares[1] } });
    expect(done.json).toMatchObject({ sealed: false, provider: "shamir" });

    expect(
      (await call("PUT", "/api/v1/secrets/data/prod/api/db", { token, body: { data: { a: "b" } } })).status,
    ).toBe(200);
    expect((await call("GET", "/api/v1/secrets/data/prod/api/db", { token })).json).toMatchObject({
      data: { a: "b" },
    });
  });
});
