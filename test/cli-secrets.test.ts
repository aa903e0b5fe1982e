// `rampart secrets` as operators use it against a running server: write (values from stdin and a
// file), read, list, history, rollback, delete, a lost update refused, and unsealing a Shamir store
// with shares read from stdin, never from the command line.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { initShamir } from "../src/appsec/secrets/index.ts";
import { type RampartConfig, rampartConfigSchema } from "../src/config/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import { type RunningServer, startServer } from "../src/server/index.ts";

// Each command starts a Node process: on a busy machine a journey of several takes a while.
const JOURNEY_MS = 180_000;
const root = fileURLToPath(new URL("..", import.meta.url));

let work: string;
let server: RunningServer;
let sealed: RunningServer;

/** The real CLI with `input` on its stdin, against `target`, acting as its admin token. */
function rampart(
  args: string[],
  o: { input?: string; target?: RunningServer } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const target = o.target ?? server;
  return new Promise((done) => {
    const child = execFile(
      join(root, "node_modules", ".bin", "node"),
      [
        join(root, "src", "cli", "main.ts"),
        ...args,
        "--server",
        target.url,
        "--token",
        target.runtime.adminTokens[0] as string,
      ],
      { cwd: work, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" }, timeout: 60_000 },
      (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
    child.stdin?.end(o.input ?? "");
  });
}

function configFor(name: string, secrets: Record<string, unknown>): RampartConfig {
  return rampartConfigSchema.parse({
    version: 1,
    server: { port: 0 },
    database: { dataDir: join(work, name) },
    secrets,
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "rampart-cli-secrets-"));
  const logger = createLogger({ level: "silent" });
  [server, sealed] = await Promise.all([
    startServer({ config: configFor("main", {}), logger }),
    startServer({
      config: configFor("sealed", { root: { provider: "shamir", shares: 3, threshold: 2 } }),
      logger,
    }),
  ]);
});

afterAll(async () => {
  await Promise.all([server?.stop(), sealed?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

test(
  "put, get, list, history, rollback and delete, as text and as JSON",
  async () => {
    const p = "/prod/api/db";
    const first = await rampart(["secrets", "put", p, "user=app", "password=-"], { input: "from-stdin-1\n" });
    expect(first).toMatchObject({ code: 0, stdout: `wrote ${p} version 1 (2 key(s))\n` });

    writeFileSync(join(work, "next.json"), JSON.stringify({ user: "app", password: "from-file-2" }));
    const second = await rampart(["secrets", "put", p, "--from-file", "next.json", "--cas", "1", "--json"]);
    expect(JSON.parse(second.stdout)).toMatchObject({
      version: 2,
      state: "active",
      createdBy: "token:admin",
    });

    const lost = await rampart(["secrets", "put", p, "password=lost", "--cas", "1"]);
    expect(lost.code).toBe(2);
    expect(lost.stderr).toContain(`PUT /api/v1/secrets/data${p}: 409`);

    const json = await rampart(["secrets", "get", p, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      path: p,
      version: 2,
      data: { user: "app", password: "from-file-2" },
    });
    expect((await rampart(["secrets", "get", p, "--key", "password", "--version", "1"])).stdout).toBe(
      "from-stdin-1\n",
    );
    const text = await rampart(["secrets", "get", p]);
    expect(text.stdout).toMatch(new RegExp(`^# ${p} version 2 \\(.+\\)\nuser=app\npassword=from-file-2\n$`));

    expect((await rampart(["secrets", "list", "/prod"])).stdout).toBe(`${p}\n`);
    expect(JSON.parse((await rampart(["secrets", "list", "--json"])).stdout)).toEqual({ paths: [p] });

    const rolled = await rampart(["secrets", "rollback", p, "1", "--json"]);
    expect(JSON.parse(rolled.stdout)).toMatchObject({ version: 3, rolledBackFrom: 1 });

    const deleted = await rampart(["secrets", "delete", p, "--versions", "3"]);
    expect(deleted.stdout).toBe(`deleted version(s) 3 of ${p}\n`);

    const history = (await rampart(["secrets", "history", p])).stdout.split("\n");
    expect(history[0]).toBe(`${p}: current version 3, keeps 10`);
    expect(history[1]).toMatch(/^VERSION {2}STATE {4}CREATED +BY +NOTE$/);
    expect(history[2]).toMatch(/^3 {8}deleted {2}\S+ {2}token:admin {2}rollback of 1$/);
    expect(history[3]).toMatch(/^2 {8}active {3}\S+ {2}token:admin$/);
    expect(history.join("\n")).not.toContain("from-");
    const meta = JSON.parse((await rampart(["secrets", "history", p, "--json"])).stdout) as {
      versions: { version: number; state: string }[];
    };
    expect(meta.versions.map((v) => `${v.version}:${v.state}`)).toEqual([
      "3:deleted",
      "2:active",
      "1:active",
    ]);

    // The newest version is deleted: no silent fall back to version 2, which stays readable by number.
    const gone = await rampart(["secrets", "get", p, "--key", "password"]);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain(`the newest version (3) of ${p} is deleted`);
    expect((await rampart(["secrets", "get", p, "--key", "password", "--version", "2"])).stdout).toBe(
      "from-file-2\n",
    );
    const missing = await rampart(["secrets", "get", "/prod/api/nothing"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("404 no secret at /prod/api/nothing");
  },
  JOURNEY_MS,
);

test(
  "unseal reads its shares from stdin and the store opens at the threshold",
  async () => {
    const { shares } = await initShamir(sealed.runtime.store, { shares: 3, threshold: 2 });
    const before = await rampart(["secrets", "status"], { target: sealed });
    expect(before.stdout).toContain("sealed");
    expect(before.stdout).toContain("unseal it with `rampart secrets unseal`");

    const one = await rampart(["secrets", "unseal"], { target: sealed, input: `${shares[0]}\n` });
    expect(one).toMatchObject({ code: 0, stdout: "still sealed: 1 of 2 shares submitted\n" });
    const none = await rampart(["secrets", "unseal"], { target: sealed, input: "" });
    expect(none.stderr).toContain("unseal: no share on stdin");

    const two = await rampart(["secrets", "unseal", "--json"], { target: sealed, input: `${shares[2]}\n` });
    expect(JSON.parse(two.stdout)).toMatchObject({ sealed: false, provider: "shamir" });
    const after = await rampart(["secrets", "status"], { target: sealed });
    expect(after.stdout).toBe("unsealed\nroot key: shamir\nkey-encryption key: version 1\n");
  },
  JOURNEY_MS,
);
