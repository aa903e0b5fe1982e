// Kubernetes sync as External Secrets Operator sees it: the webhook endpoint over real HTTP and a
// real store (PGlite), per-namespace machine tokens (scope, rotation with a grace period,
// revocation), audited reads as `k8s:<namespace>`, and the manifests `secrets k8s render` writes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import {
  openSecrets,
  type Secrets,
  secretsConfigSchema,
  secretsMigrations,
} from "../src/appsec/secrets/index.ts";
import {
  createMachineTokens,
  kubernetesMigrations,
  type MachineTokens,
  RELOADER_MATCH,
  renderExternal,
  renderSecrets,
  withKubernetesPolicies,
} from "../src/appsec/secrets/kubernetes/index.ts";
import { manualClock } from "../src/platform/clock.ts";
import { RampartError, Unauthorized } from "../src/platform/errors.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { registerSecretsK8sRoutes } from "../src/server/secrets-k8s.ts";
import { openTestStore, type TestStore } from "./support/stores.ts";
import { callerOf } from "./support/secrets.ts";

const ADMIN_TOKEN = "k8s-test-admin-token";
const DB_PASSWORD = "pg-Pa55-k8s-e1f0c3";
const API_KEY = "key_live_93ab77d2";
const OTHER = "billing-only-5d2a";

const admin = callerOf("user", "corp:root", [], ["admin"]);

const config = withKubernetesPolicies(
  secretsConfigSchema.parse({
    kubernetes: {
      namespaces: [
        { namespace: "api", paths: ["/prod/api/*"] },
        { namespace: "billing", paths: ["/prod/billing/*"] },
      ],
    },
  }),
);

let ts: TestStore;
let dataDir: string;
let secrets: Secrets;
let tokens: MachineTokens;
let app: FastifyInstance;
let base: string;
const events: SecurityEvent[] = [];
const clock = manualClock("2026-11-23T10:00:00Z");
const bodies: string[] = [];

async function call(method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  bodies.push(text);
  return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
}

beforeAll(async () => {
  ts = await openTestStore("pglite", { ...secretsMigrations, ...kubernetesMigrations });
  dataDir = mkdtempSync(join(tmpdir(), "rampart-k8s-"));
  secrets = await openSecrets({
    store: ts.store,
    config: () => config,
    dataDir,
    clock,
    emit: (e) => events.push(e),
  });
  tokens = createMachineTokens({ store: ts.store, clock });
  await secrets.put(admin, "/prod/api/db", { password: DB_PASSWORD, user: "api" });
  await secrets.put(admin, "/prod/api/stripe", { key: API_KEY });
  await secrets.put(admin, "/prod/billing/db", { password: OTHER });

  // The control plane's error mapping (RampartError → status + JSON), as buildApp installs it.
  app = Fastify({ logger: false });
  app.setErrorHandler((err: Error, _req, reply) => {
    const status = err instanceof RampartError ? err.status : 500;
    return reply
      .status(status)
      .send({ error: err instanceof RampartError ? err.code : "internal", message: err.message });
  });
  registerSecretsK8sRoutes(app, {
    secrets,
    tokens,
    config: () => config,
    clock,
    emit: (e) => events.push(e),
    async authorize(req) {
      if (req.headers.authorization !== `Bearer ${ADMIN_TOKEN}`)
        throw new Unauthorized("admin token required");
      return { actor: { kind: "token", id: "admin" } };
    },
  });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
});

afterAll(async () => {
  await app?.close();
  await ts?.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

const issue = async (namespace: string, body: Record<string, unknown> = {}) => {
  const r = await call("POST", `/api/v1/secrets/kubernetes/tokens/${namespace}`, ADMIN_TOKEN, body);
  expect(r.status).toBe(201);
  return r.json.token as string;
};

describe("the External Secrets Operator webhook endpoint", () => {
  let apiToken: string;
  let billingToken: string;

  beforeAll(async () => {
    apiToken = await issue("api");
    billingToken = await issue("billing");
  });

  test("the namespace's token reads its secret as {data, version}, for jsonPath $.data.<key>", async () => {
    const r = await call("GET", "/api/v1/secrets/k8s/api/prod/api/db", apiToken);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ data: { password: DB_PASSWORD, user: "api" }, version: 1 });
    // ESO's url template may render the key with its leading slash, and an empty ?version=.
    const templated = await call("GET", "/api/v1/secrets/k8s/api//prod/api/stripe?version=", apiToken);
    expect(templated.json).toEqual({ data: { key: API_KEY }, version: 1 });
  });

  test("?version= reads an older version", async () => {
    await secrets.put(admin, "/prod/api/stripe", { key: "rotated-key-2" });
    expect((await call("GET", "/api/v1/secrets/k8s/api/prod/api/stripe", apiToken)).json.version).toBe(2);
    const old = await call("GET", "/api/v1/secrets/k8s/api/prod/api/stripe?version=1", apiToken);
    expect(old.json).toEqual({ data: { key: API_KEY }, version: 1 });
  });

  test("reads are audited as service k8s:<namespace>, with no value in the event", async () => {
    const reads = events.filter((e) => e.type === "secrets.read" && e.actor.id === "k8s:api");
    expect(reads.length).toBeGreaterThan(0);
    expect(reads[0]?.actor.kind).toBe("service");
  });

  test("a wrong or missing token is 401; another namespace's token is 401 here", async () => {
    expect((await call("GET", "/api/v1/secrets/k8s/api/prod/api/db", "rk8s_not-a-real-token")).status).toBe(
      401,
    );
    expect((await call("GET", "/api/v1/secrets/k8s/api/prod/api/db")).status).toBe(401);
    expect((await call("GET", "/api/v1/secrets/k8s/api/prod/api/db", billingToken)).status).toBe(401);
    expect(
      events.filter((e) => e.type === "secrets.k8s_token_refused" && e.target?.id === "api"),
    ).toHaveLength(3);
  });

  test("a path outside the namespace's globs is 403, naming the namespace and path", async () => {
    const r = await call("GET", "/api/v1/secrets/k8s/api/prod/billing/db", apiToken);
    expect(r.status).toBe(403);
    expect(r.json.message).toBe("namespace api may not read /prod/billing/db");
    expect((await call("GET", "/api/v1/secrets/k8s/billing/prod/billing/db", billingToken)).status).toBe(200);
  });

  test("a deleted, destroyed or missing secret is 404 with a JSON error", async () => {
    await secrets.put(admin, "/prod/api/temp", { v: "short-lived-1" });
    expect((await call("GET", "/api/v1/secrets/k8s/api/prod/api/temp", apiToken)).status).toBe(200);
    await secrets.delete(admin, "/prod/api/temp");
    const deleted = await call("GET", "/api/v1/secrets/k8s/api/prod/api/temp", apiToken);
    expect(deleted.status).toBe(404);
    expect(deleted.json.error).toBe("not_found");
    await secrets.destroy(admin, "/prod/api/temp", [1]);
    expect((await call("GET", "/api/v1/secrets/k8s/api/prod/api/temp?version=1", apiToken)).status).toBe(404);
    expect((await call("GET", "/api/v1/secrets/k8s/api/prod/api/nothing", apiToken)).status).toBe(404);
  });

  test("issuing a second token without rotating is refused; unknown namespaces get none", async () => {
    expect((await call("POST", "/api/v1/secrets/kubernetes/tokens/api", ADMIN_TOKEN, {})).status).toBe(409);
    expect((await call("POST", "/api/v1/secrets/kubernetes/tokens/web", ADMIN_TOKEN, {})).status).toBe(400);
    expect((await call("POST", "/api/v1/secrets/kubernetes/tokens/api", undefined, {})).status).toBe(401);
  });

  test("a rotated token: both work during the grace period, the old one fails after", async () => {
    const r = await call("POST", "/api/v1/secrets/kubernetes/tokens/billing", ADMIN_TOKEN, {
      rotate: true,
      graceSeconds: 600,
    });
    expect(r.status).toBe(201);
    const fresh = r.json.token as string;
    expect(r.json.previousExpiresAt).toBe("2026-11-23T10:10:00.000Z");
    const read = (t: string) => call("GET", "/api/v1/secrets/k8s/billing/prod/billing/db", t);
    expect((await read(billingToken)).status).toBe(200);
    expect((await read(fresh)).status).toBe(200);
    clock.advance(601_000);
    expect((await read(billingToken)).status).toBe(401);
    expect((await read(fresh)).status).toBe(200);
    expect(events.some((e) => e.type === "secrets.k8s_token_rotated")).toBe(true);
    billingToken = fresh;
  });

  test("revoking ends every token of the namespace at once", async () => {
    const r = await call("DELETE", "/api/v1/secrets/kubernetes/tokens/billing", ADMIN_TOKEN);
    expect(r.json).toEqual({ namespace: "billing", revoked: 1 });
    expect((await call("GET", "/api/v1/secrets/k8s/billing/prod/billing/db", billingToken)).status).toBe(401);
    // A new token can be issued after a revocation.
    const again = await issue("billing");
    expect((await call("GET", "/api/v1/secrets/k8s/billing/prod/billing/db", again)).status).toBe(200);
  });

  test("tokens are stored hashed, and no value or token reaches events or error bodies", async () => {
    const rows = await ts.store.db
      .withTables<{ secret_k8s_tokens: { token_hash: Buffer } }>()
      .selectFrom("secret_k8s_tokens")
      .select("token_hash")
      .execute();
    expect(rows.every((row) => Buffer.from(row.token_hash).length === 32)).toBe(true);
    const errorBodies = bodies.filter((b) => b.includes('"error"'));
    expect(errorBodies.length).toBeGreaterThan(5);
    const text = JSON.stringify(events) + errorBodies.join("\n");
    for (const secret of [DB_PASSWORD, API_KEY, OTHER, apiToken]) expect(text).not.toContain(secret);
  });
});

describe("rendered manifests", () => {
  test("Secrets parse as YAML, carry the Reloader annotation and base64 values", () => {
    const [m] = renderSecrets([{ path: "/prod/api/db", version: 3, data: { password: DB_PASSWORD } }], "api");
    expect(m?.file).toBe("secret-api-db.yaml");
    const doc = parseYaml(m?.yaml ?? "") as {
      kind: string;
      metadata: { name: string; namespace: string; annotations: Record<string, string> };
      data: Record<string, string>;
    };
    expect(doc.kind).toBe("Secret");
    expect(doc.metadata).toMatchObject({ name: "api-db", namespace: "api" });
    expect(doc.metadata.annotations[RELOADER_MATCH]).toBe("true");
    expect(doc.metadata.annotations["rampart.dev/version"]).toBe("3");
    expect(Buffer.from(doc.data.password ?? "", "base64").toString()).toBe(DB_PASSWORD);
  });

  test("--external: a webhook SecretStore with the bearer token and an ExternalSecret per secret", () => {
    const out = renderExternal([{ path: "/prod/api/db" }, { path: "/prod/api/stripe" }], {
      namespace: "api",
      serverUrl: "https://rampart.example.com/",
    });
    const docs = parseAllDocuments(out.map((m) => m.yaml).join("---\n")).map(
      (d) => d.toJS() as { kind: string } & Record<string, unknown>,
    );
    expect(docs.map((d) => d.kind)).toEqual(["SecretStore", "ExternalSecret", "ExternalSecret"]);
    const webhook = (docs[0] as unknown as { spec: { provider: { webhook: Record<string, unknown> } } }).spec
      .provider.webhook;
    expect(webhook.url).toBe(
      "https://rampart.example.com/api/v1/secrets/k8s/api{{ .remoteRef.key }}?version={{ .remoteRef.version }}",
    );
    expect(webhook.headers).toEqual({ Authorization: "Bearer {{ .auth.token }}" });
    expect(webhook.result).toEqual({ jsonPath: "$.data" });
    const ext = docs[1] as unknown as {
      spec: {
        dataFrom: unknown;
        target: { name: string; template: { metadata: { annotations: Record<string, string> } } };
      };
    };
    expect(ext.spec.dataFrom).toEqual([{ extract: { key: "/prod/api/db" } }]);
    expect(ext.spec.target.name).toBe("api-db");
    expect(ext.spec.target.template.metadata.annotations[RELOADER_MATCH]).toBe("true");
  });
});
