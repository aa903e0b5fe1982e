// `rampart privacy map|validate|ropa|bootstrap` as a user runs them: a real process, real files,
// exit codes and output; bootstrap against a real PostgreSQL. The commands are registered by
// registerPrivacyMapCommands on a `privacy` command exactly as src/cli/main.ts does with the others,
// with main.ts' error handling (config_invalid → exit 1, other errors → 2).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const node = join(root, "node_modules", ".bin", "node");
const shop = join(root, "examples", "privacy");
const fides = resolve(root, "../shared/eval/privacy/fides");

let dir: string;
let cli: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `rampart privacy ARGS` in `dir` with only PATH, HOME and `env` set. */
function privacy(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      node,
      [cli, "privacy", ...args],
      {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "rampart-privacy-map-cli-"));
  const commander = pathToFileURL(createRequire(import.meta.url).resolve("commander")).href;
  const register = pathToFileURL(join(root, "src", "cli", "privacy-map.ts")).href;
  cli = join(dir, "rampart-cli.ts");
  writeFileSync(
    cli,
    [
      `import { Command } from ${JSON.stringify(commander)};`,
      `import { registerPrivacyMapCommands } from ${JSON.stringify(register)};`,
      `const program = new Command("rampart");`,
      `registerPrivacyMapCommands(program.command("privacy"));`,
      `program.parseAsync().catch((err) => {`,
      "  process.stderr.write(`rampart: ${err.message}\\n`);",
      `  process.exitCode = err.code === "config_invalid" ? 1 : 2;`,
      `});`,
    ].join("\n"),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("map", () => {
  test("renders the shop as JSON, Markdown and Mermaid", async () => {
    const json = await privacy(["map", shop, "--format", "json"]);
    expect(json.code).toBe(0);
    const map = JSON.parse(json.stdout) as { datasets: { key: string }[] };
    expect(map.datasets.map((d) => d.key)).toEqual(["shop", "shop_cache", "activity", "support_search"]);

    const md = await privacy(["map", shop, "--title", "Acme data map"]);
    expect(md.stdout).toMatch(/^# Acme data map\n/);
    expect(md.stdout).toContain("#### `shop.users`");

    const out = join(dir, "map.mmd");
    const mermaid = await privacy(["map", shop, "--format", "mermaid", "--output", out]);
    expect(mermaid).toMatchObject({ code: 0, stdout: "" });
    expect(mermaid.stderr).toBe(`wrote ${out}\n`);
    expect(readFileSync(out, "utf8")).toMatch(/^flowchart LR\n/);
  });

  test("reads ./privacy when no path is given", async () => {
    const work = join(dir, "project");
    mkdirSync(join(work, "privacy"), { recursive: true });
    cpSync(join(shop, "shop.yaml"), join(work, "privacy", "shop.yaml"));
    const run = await new Promise<Run>((done) =>
      execFile(node, [cli, "privacy", "map", "--format", "json"], { cwd: work }, (error, stdout, stderr) =>
        done({ code: error ? 1 : 0, stdout, stderr }),
      ),
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toHaveProperty("systems");
  });

  test("a bad --format is refused", async () => {
    const run = await privacy(["map", shop, "--format", "pdf"]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("--format: expected one of markdown, mermaid, json; got 'pdf'");
  });
});

describe("validate", () => {
  test("a sound map: exit 0 and a summary", async () => {
    const run = await privacy(["validate", shop, "--store", "shop=postgres", "--store", "shop_cache=redis"]);
    expect(run).toMatchObject({
      code: 0,
      stdout: "data map ok: 4 datasets, 9 collections, 3 systems, 6 purposes, 4 retention policies\n",
    });
  });

  test("Fides' own example datasets validate together", async () => {
    const run = await privacy([
      "validate",
      join(fides, "postgres_example_test_dataset.yml"),
      join(fides, "mongo_example_test_dataset.yml"),
    ]);
    expect(run.stdout).toBe(
      "data map ok: 2 datasets, 20 collections, 0 systems, 0 purposes, 0 retention policies\n",
    );
    expect(run.code).toBe(0);
  });

  test("problems: exit 1, each as file:line:column path: message", async () => {
    const bad = join(dir, "bad");
    mkdirSync(bad, { recursive: true });
    writeFileSync(
      join(bad, "map.yaml"),
      [
        "system:",
        "  - fides_key: web",
        "    name: Web",
        "    datasets: [nope]",
        "dataset:",
        "  - fides_key: db",
        "    collections:",
        "      - name: users",
        "        fields:",
        "          - name: email",
        "            data_categories: [user.contact.emial]",
      ].join("\n"),
    );
    const run = await privacy(["validate", bad]);
    expect(run.code).toBe(1);
    const file = join(bad, "map.yaml");
    expect(run.stderr).toBe(
      [
        `${file}:4:16 system[0].datasets[0]: system 'web' names unknown dataset 'nope'`,
        `${file}:11:31 dataset[0].collections[0].fields[0].data_categories[0]: unknown data category 'user.contact.emial'`,
        "2 problems in the data map",
        "",
      ].join("\n"),
    );
    const json = await privacy(["validate", bad, "--json"]);
    expect(json.code).toBe(1);
    const body = JSON.parse(json.stdout) as { ok: boolean; problems: { line: number; message: string }[] };
    expect(body.ok).toBe(false);
    expect(body.problems.map((p) => p.line)).toEqual([4, 11]);
  });

  test("a wrong --store is refused with exit 2", async () => {
    const run = await privacy(["validate", shop, "--store", "shop=oracle"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "--store: expected dataset=postgres|mysql|redis|mongodb|elasticsearch; got 'shop=oracle'",
    );
  });
});

describe("ropa", () => {
  test("CSV with transfers judged against the home regions given", async () => {
    const run = await privacy([
      "ropa",
      shop,
      "--controller",
      "Acme Retail Pvt Ltd",
      "--format",
      "csv",
      "--home-region",
      "IN",
    ]);
    expect(run.code).toBe(0);
    const rows = run.stdout.trimEnd().split("\r\n");
    expect(rows).toHaveLength(7);
    expect(rows.find((r) => r.includes("Support desk"))).toContain("eu-west-1 (IE)");
    expect(rows.find((r) => r.includes("Product analytics"))).toContain("us-east-1 (US)");
  });

  test("Markdown by default, EU and India at home", async () => {
    const run = await privacy(["ropa", shop, "--controller", "Acme"]);
    expect(run.stdout).toContain("Home jurisdictions: EU, IN;");
    expect(run.stdout.match(/\| none \|/g)).toHaveLength(5);
  });

  test("the controller is required", async () => {
    const run = await privacy(["ropa", shop]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("--controller");
  });
});

describe("bootstrap", () => {
  const schema = `h1cli_${randomBytes(4).toString("hex")}`;
  let pgUrl: string;

  beforeAll(async () => {
    pgUrl = inject("pgUrl");
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query(
      `CREATE SCHEMA ${schema}; SET search_path TO ${schema};\n${readFileSync(join(shop, "shop-postgres.sql"), "utf8")}`,
    );
    await client.end();
  });
  afterAll(async () => {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  });

  test("drafts a dataset from PostgreSQL (URL from the environment) that then validates", async () => {
    const out = join(dir, "draft.yaml");
    const run = await privacy(
      ["bootstrap", "--from", "env:SHOP_DB", "--schema", schema, "--key", "shop", "-o", out],
      {
        SHOP_DB: pgUrl,
      },
    );
    expect(run.stderr).toBe(`wrote ${out}\n`);
    expect(run.code).toBe(0);
    const draft = readFileSync(out, "utf8");
    expect(draft).toContain("data_categories: [user.contact.email] # guessed: confirm");
    const check = await privacy(["validate", out, "--store", "shop=postgres"]);
    expect(check.stdout).toBe(
      "data map ok: 1 dataset, 6 collections, 0 systems, 0 purposes, 0 retention policies\n",
    );
  });

  test("an unset variable or an unreachable server is exit 2, and no password is printed", async () => {
    const unset = await privacy(["bootstrap", "--from", "env:NOPE"]);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toBe("rampart: --from: environment variable NOPE is not set\n");
    const down = await privacy(["bootstrap", "--from", "postgres://app:hunter2-pw@127.0.0.1:1/shop"]);
    expect(down.code).toBe(2);
    expect(down.stderr).toContain("cannot connect to PostgreSQL at postgres://***@127.0.0.1:1/shop");
    expect(down.stderr).not.toContain("hunter2-pw");
  });
});
