// `rampart secrets run` against a real control plane (PGlite): the child's environment, clashing
// keys, exit codes, `--watch` restarting the child when a secret gets a new version and riding out
// an API that fails for a while, and `${secret:…}` config references resolved through the API.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { apiSecretsReader, runWithSecrets, scopeOf, type SecretsReader } from "../src/cli/secrets-run.ts";
import { serverApi } from "../src/cli/server-api.ts";
import { parseConfig, type RampartConfig, rampartConfigSchema } from "../src/config/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import { parseAllDocuments } from "yaml";
import { rampart } from "./support/cli.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";

const DB_PASSWORD = "run-Pa55w0rd-8e2d1f";
const NEW_PASSWORD = "run-Rotated-4b7c90";
const STRIPE = "sk_live_run_51ac0e";

let work: string;
let server: RunningServer;
let config: RampartConfig;
let reader: SecretsReader;
const logs: string[] = [];

// The child: writes the variables it was started with (and its pid) to a file, then waits or exits.
const childScript = `
const fs = require("node:fs");
const out = process.argv[2];
const pick = ["DB_PASSWORD", "DB_USER", "STRIPE_KEY", "PLAIN"];
const env = Object.fromEntries(pick.filter((k) => k in process.env).map((k) => [k, process.env[k]]));
fs.appendFileSync(out, JSON.stringify({ pid: process.pid, env }) + "\\n");
if (process.argv[3] === "exit") process.exit(Number(process.argv[4]));
process.on("SIGTERM", () => process.exit(0));
setInterval(() => {}, 1000);
`;

const starts = (file: string): { pid: number; env: Record<string, string> }[] => {
  try {
    return readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { pid: number; env: Record<string, string> });
  } catch {
    return [];
  }
};

async function until(check: () => boolean, what: string, ms = 10_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

let put: (path: string, data: Record<string, string>) => Promise<void>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "rampart-secrets-run-"));
  writeFileSync(join(work, "child.cjs"), childScript);
  config = rampartConfigSchema.parse({
    version: 1,
    server: { port: 0 },
    database: { dataDir: join(work, "data") },
    identity: { tokens: { secret: "secrets-run-test-secret-0123456789abcdef" } },
    secrets: {
      root: { provider: "file", file: join(work, "root.key") },
      kubernetes: { namespaces: [{ namespace: "api", paths: ["/prod/api/*"] }] },
    },
  });
  server = await startServer({ config, logger: createLogger({ level: "silent" }) });
  // The CLI's own client: the URL given, the admin token from the data directory.
  const api = serverApi(config, server.url);
  if (!api) throw new Error("no API");
  reader = apiSecretsReader(api.call);
  put = async (path, data) => {
    await api.call("PUT", `/api/v1/secrets/data${path}`, { data });
  };
  await put("/prod/api/db", { DB_PASSWORD, DB_USER: "api" });
  await put("/prod/api/stripe", { STRIPE_KEY: STRIPE });
  await put("/prod/web/db", { DB_PASSWORD: "web-other-pass" });
  await put("/staging/clash/a", { SHARED: "one" });
  await put("/staging/clash/b", { SHARED: "two" });
  await put("/staging/bad/name", { "not.an.env": "x" });
});

afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

const child = (out: string, ...extra: string[]) => ({
  command: process.execPath,
  args: [join(work, "child.cjs"), out, ...extra],
  baseEnv: { PATH: process.env.PATH ?? "", PLAIN: "inherited" },
  reader,
  log: (line: string) => logs.push(line),
});

describe("secrets run", () => {
  test("the child sees every key under the prefix as a variable, and its exit code is ours", async () => {
    const out = join(work, "once.jsonl");
    const code = await runWithSecrets({ ...child(out, "exit", "3"), scope: scopeOf("prod", "/prod/api") });
    expect(code).toBe(3);
    expect(starts(out)[0]?.env).toEqual({
      DB_PASSWORD,
      DB_USER: "api",
      STRIPE_KEY: STRIPE,
      PLAIN: "inherited",
    });
  });

  test("one secret path gives only its keys; exit 0 is 0", async () => {
    const out = join(work, "one.jsonl");
    expect(await runWithSecrets({ ...child(out, "exit", "0"), scope: scopeOf("prod", "/prod/web/db") })).toBe(
      0,
    );
    expect(starts(out)[0]?.env).toEqual({ DB_PASSWORD: "web-other-pass", PLAIN: "inherited" });
  });

  test("two secrets giving the same key are refused, naming both paths; nothing starts", async () => {
    const out = join(work, "clash.jsonl");
    await expect(
      runWithSecrets({ ...child(out), scope: scopeOf("staging", "/staging/clash") }),
    ).rejects.toThrow("/staging/clash/a and /staging/clash/b both define SHARED: rename one of the keys");
    await expect(
      runWithSecrets({ ...child(out), scope: scopeOf("staging", "/staging/bad") }),
    ).rejects.toThrow('/staging/bad/name: key "not.an.env" is not a valid environment variable name');
    expect(starts(out)).toEqual([]);
  });

  test("--env must agree with the path's environment", () => {
    expect(() => scopeOf("prod", "/staging/api")).toThrow(
      "--path /staging/api is in environment 'staging', but --env says 'prod'",
    );
    expect(() => scopeOf("prod", "prod/api")).toThrow("--path: expected /environment[/service[/name]]");
  });

  test("--watch restarts the child with the new value, and rides out API failures", async () => {
    const out = join(work, "watch.jsonl");
    let failing = false;
    const flaky: SecretsReader = {
      list: (p) => (failing ? Promise.reject(new Error("GET /api/v1/secrets/list: 503")) : reader.list(p)),
      get: (p) => reader.get(p),
      currentVersion: (p) => (failing ? Promise.reject(new Error("503")) : reader.currentVersion(p)),
    };
    const stop = new AbortController();
    const running = runWithSecrets({
      ...child(out),
      scope: scopeOf("prod", "/prod/api"),
      reader: flaky,
      watch: true,
      intervalMs: 100,
      stopTimeoutMs: 2000,
      signal: stop.signal,
    });
    await until(() => starts(out).length === 1, "the first start");

    // The API away for a few polls: the child keeps running, no restart.
    failing = true;
    await until(() => logs.some((l) => l.includes("cannot check secrets")), "a failed poll");
    await sleep(300);
    failing = false;
    await sleep(300);
    expect(starts(out)).toHaveLength(1);

    await put("/prod/api/db", { DB_PASSWORD: NEW_PASSWORD, DB_USER: "api" });
    await until(() => starts(out).length === 2, "a restart");
    const [first, second] = starts(out);
    expect(second?.env.DB_PASSWORD).toBe(NEW_PASSWORD);
    expect(second?.pid).not.toBe(first?.pid);
    // The first child was stopped before the second started.
    expect(() => process.kill(first?.pid ?? 0, 0)).toThrow();
    expect(logs.some((l) => l.includes("/prod/api/db@2"))).toBe(true);

    stop.abort();
    expect(await running).toBe(0);
    expect(starts(out)).toHaveLength(2);
  });

  test("${secret:…} references in a config resolve through the API", async () => {
    const cfg = await parseConfig(
      "version: 1\nserver:\n  host: ${secret:/prod/api/stripe}\n",
      "rampart.yaml",
      {},
      {
        secrets: async (path) => (await reader.get(path)).data,
      },
    );
    expect(cfg.server.host).toBe(STRIPE);
  });

  test("the real command: `rampart secrets run … -- node child` exits with the child's code", async () => {
    const out = join(work, "cli.jsonl");
    const env = { RAMPART_TOKEN: server.runtime.adminTokens[0] as string };
    const r = await rampart(
      [
        "secrets",
        "run",
        "--env",
        "prod",
        "--path",
        "/prod/api",
        "--server",
        server.url,
        "--",
        process.execPath,
        join(work, "child.cjs"),
        out,
        "exit",
        "7",
      ],
      { cwd: work, env },
    );
    expect(r.code).toBe(7);
    expect(starts(out)[0]?.env.STRIPE_KEY).toBe(STRIPE);
    const wrong = await rampart(
      ["secrets", "run", "--env", "staging", "--path", "/prod/api", "--server", server.url, "--", "true"],
      {
        cwd: work,
        env,
      },
    );
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("--path /prod/api is in environment 'prod', but --env says 'staging'");
    for (const v of [DB_PASSWORD, NEW_PASSWORD, STRIPE])
      expect(r.stderr + r.stdout + wrong.stderr).not.toContain(v);
  });

  test("`rampart secrets k8s render` writes Secret manifests with the Reloader annotation", async () => {
    const env = { RAMPART_TOKEN: server.runtime.adminTokens[0] as string };
    const r = await rampart(
      [
        "secrets",
        "k8s",
        "render",
        "--env",
        "prod",
        "--path",
        "/prod/api",
        "--namespace",
        "api",
        "--server",
        server.url,
      ],
      { cwd: work, env },
    );
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.stdout).map(
      (d) =>
        d.toJS() as {
          kind: string;
          metadata: { name: string; annotations: Record<string, string> };
          data: Record<string, string>;
        },
    );
    expect(docs.map((d) => d.metadata.name)).toEqual(["api-db", "api-stripe"]);
    expect(
      docs.every(
        (d) => d.kind === "Secret" && d.metadata.annotations["reloader.stakater.com/match"] === "true",
      ),
    ).toBe(true);
    expect(Buffer.from(docs[1]?.data.STRIPE_KEY ?? "", "base64").toString()).toBe(STRIPE);
  });

  test("`rampart secrets k8s token` issues a token the server's ESO endpoint accepts", async () => {
    const env = { RAMPART_TOKEN: server.runtime.adminTokens[0] as string };
    const r = await rampart(["secrets", "k8s", "token", "--namespace", "api", "--server", server.url], {
      cwd: work,
      env,
    });
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    const read = (path: string) =>
      fetch(`${server.url}/api/v1/secrets/k8s/api${path}`, { headers: { authorization: `Bearer ${token}` } });
    const res = await read("/prod/api/stripe");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { STRIPE_KEY: STRIPE }, version: 1 });
    expect((await read("/prod/web/db")).status).toBe(403);
  });

  test("no value appears in what secrets run logged", () => {
    const text = logs.join("\n");
    expect(text).toContain("starting");
    for (const v of [DB_PASSWORD, NEW_PASSWORD, STRIPE]) expect(text).not.toContain(v);
  });
});
