// `rampart privacy anonymize` as the CLI runs it: the map from files, URLs from the environment,
// the JSON summary on stdout, and argument errors that say what was wrong.
import { mkdtempSync, rmSync } from "node:fs";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import pg from "pg";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import { registerPrivacyAnonymizeCommand } from "../src/cli/privacy-anonymize.ts";
import { freshDatabase } from "./support/pg.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const dbs: Array<{ url: string; drop(): Promise<void> }> = [];
let source: string;

async function run(
  args: string[],
): Promise<{ stdout: string; stderr: string; exitCode: number | undefined }> {
  const program = new Command().exitOverride();
  registerPrivacyAnonymizeCommand(program.command("privacy"));
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((s) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, "write").mockImplementation((s) => ((stderr += String(s)), true));
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(["privacy", "anonymize", ...args], { from: "user" });
  } catch (e) {
    stderr += (e as Error).message;
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  const exitCode = process.exitCode as number | undefined;
  process.exitCode = before;
  return { stdout, stderr, exitCode };
}

beforeAll(async () => {
  const db = await freshDatabase(inject("pgUrl"));
  dbs.push(db);
  source = db.url;
  const c = new pg.Client({ connectionString: source });
  await c.connect();
  await c.query(readFileSync(join(root, "examples/privacy/shop-postgres.sql"), "utf8"));
  await c.query(
    `insert into users (id, email, first_name) values (1, 'ana@example.com', 'Ana'), (2, 'raj@example.in', 'Raj')`,
  );
  await c.query(
    `insert into sessions (id, user_id, ip_address, expires_at) values ('s1', 1, '198.51.100.7', now()), ('s2', 2, '198.51.100.8', now())`,
  );
  await c.end();
});
afterAll(async () => {
  for (const db of dbs) await db.drop();
});

test("copies with the map from files and URLs from the environment, JSON summary on stdout", async () => {
  const target = await freshDatabase(inject("pgUrl"));
  dbs.push(target);
  process.env.H7_ANON_SOURCE = source;
  try {
    const r = await run([
      "--from",
      "env:H7_ANON_SOURCE",
      "--to",
      target.url,
      "--map",
      join(root, "examples/privacy"),
      "--create-schema",
      "--json",
    ]);
    expect(r.stderr).toBe("");
    const summary = JSON.parse(r.stdout) as {
      dataset: string;
      rows: number;
      tables: Array<{ table: string; rows: number; masked: Array<{ column: string }> }>;
    };
    expect(summary.dataset).toBe("shop");
    expect(summary.rows).toBe(4);
    expect(summary.tables.find((t) => t.table === "users")?.masked.map((m) => m.column)).toContain("email");
    const c = new pg.Client({ connectionString: target.url });
    await c.connect();
    const emails = (await c.query<{ email: string }>("select email from users order by id")).rows.map(
      (x) => x.email,
    );
    await c.end();
    expect(emails).toHaveLength(2);
    expect(emails).not.toContain("ana@example.com");
  } finally {
    delete process.env.H7_ANON_SOURCE;
  }
});

test("argument and map errors say what is wrong", async () => {
  const bad = await run([
    "--from",
    source,
    "--to",
    source,
    "--map",
    join(root, "examples/privacy"),
    "--unmapped",
    "maybe",
  ]);
  expect(bad.stderr).toMatch(/--unmapped: expected one of fail, copy, skip; got 'maybe'/);
  const missing = await run([
    "--from",
    "env:H7_NOT_SET",
    "--to",
    source,
    "--map",
    join(root, "examples/privacy"),
  ]);
  expect(missing.stderr).toMatch(/--from: environment variable H7_NOT_SET is not set/);
  const empty = mkdtempSync(join(tmpdir(), "h7-map-"));
  try {
    const noMap = await run(["--from", source, "--to", source, "--map", empty]);
    expect(noMap.exitCode).toBe(1);
    expect(noMap.stderr).toMatch(/no \*\.yaml or \*\.yml data map files found/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
