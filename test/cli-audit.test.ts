// `rampart audit` as an operator and an auditor use it, with no server running: verify the log
// in a data directory, catch an edit made behind Rampart's back, export an offline bundle and
// check it with nothing but the verifier key, and prove that one entry is in a signed tree.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig } from "../src/config/index.ts";
import { newEvent, type SecurityEvent } from "../src/platform/events/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import { openStore } from "../src/platform/store/index.ts";
import { migrations, startRuntime } from "../src/server/runtime.ts";
import { type Run, rampart as runRampart } from "./support/cli.ts";

/** The real CLI, run in this suite's work directory. */
const rampart = (args: string[]) => runRampart(args, { cwd: work });

const silent = () => createLogger({ level: "silent" });

let work: string;
let dataDir: string;
let configFile: string;
let started: Date;
let events: SecurityEvent[];

/** A config file pointing at `dir`, as an operator would write one. */
function configFor(dir: string, name: string): string {
  const file = join(work, name);
  writeFileSync(file, `version: 1\ndatabase:\n  dataDir: ${JSON.stringify(dir)}\n`);
  return file;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "rampart-cli-audit-"));
  dataDir = join(work, "data");
  configFile = configFor(dataDir, "rampart.yaml");
  started = new Date(Date.now() - 60_000);

  const config = defaultConfig();
  const runtime = await startRuntime({
    // The log must hold exactly the seeded events: no compliance cycle adds its evidence.
    config: {
      ...config,
      database: { ...config.database, dataDir },
      compliance: { ...config.compliance, enabled: false },
    },
    logger: silent(),
  });
  events = Array.from({ length: 50 }, (_, i) =>
    newEvent({
      id: `cli-audit-event-${String(i).padStart(3, "0")}`,
      type: i % 5 === 0 ? "secret.read" : "waf.blocked",
      retention: i % 5 === 0 ? "audit" : "security",
      actor: { kind: "user", id: `user${i % 7}@example.com` },
      target: { kind: "route", id: `/api/${i % 3}` },
      outcome: i % 5 === 0 ? "success" : "denied",
      data: { i },
    }),
  );
  for (let b = 0; b < 5; b++) {
    const r = await runtime.bus.publish(events.slice(b * 10, b * 10 + 10), { batchId: `seed-batch-${b}` });
    expect(r.duplicate).toBe(false);
  }
  await runtime.close();
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** Changes the stored body of one entry directly in the embedded database, as an intruder with DB access would. */
async function tamper(dir: string, entryId: string, from: string, to: string) {
  const store = await openStore({ dataDir: dir, migrations });
  try {
    await sql.raw("alter table audit_entries disable trigger audit_entries_append_only").execute(store.db);
    const { rows } = await sql<{ log_id: string; seq: number }>`
      update audit_entries set body = replace(body, ${from}, ${to})
      where id = ${entryId} returning log_id, seq`.execute(store.db);
    await sql.raw("alter table audit_entries enable trigger audit_entries_append_only").execute(store.db);
    expect(rows).toHaveLength(1);
    return rows[0] as { log_id: string; seq: number };
  } finally {
    await store.close();
  }
}

describe("rampart audit verify", () => {
  it("an untouched log verifies: exit 0 and OK", async () => {
    const r = await rampart(["audit", "verify", "--config", configFile]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // 50 events, the two logs' opening entries, server.started and server.stopped.
    expect(r.stdout).toMatch(/^OK: 54 entries in 2 logs verified in [\d.]+ s \(data directory .+\)$/m);
    expect(r.stdout).toMatch(/^ {2}audit\/\S+ +\d+ entries +\d+ checkpoints +ok$/m);
    expect(r.stdout).toMatch(/^ {2}security\/\S+ +41 entries +\d+ checkpoints +ok$/m);
  });

  it("--json reports the same as data", async () => {
    const r = await rampart(["audit", "verify", "--config", configFile, "--json"]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; entries: number; logs: Array<{ log: string }> };
    expect(report.ok).toBe(true);
    expect(report.entries).toBe(54);
    expect(report.logs.map((l) => l.log.split("/")[0]).sort()).toEqual(["audit", "security"]);
  });

  describe("after a row was edited in the database", () => {
    let tamperedDir: string;
    let tamperedConfig: string;
    let where: { log_id: string; seq: number };
    const victim = "cli-audit-event-017";

    beforeAll(async () => {
      tamperedDir = join(work, "tampered");
      cpSync(dataDir, tamperedDir, { recursive: true });
      tamperedConfig = configFor(tamperedDir, "tampered.yaml");
      // Turn a denied request into an allowed one after the fact.
      where = await tamper(tamperedDir, victim, '"outcome":"denied"', '"outcome":"success"');
    });

    it("exits 1 and names the entry (log, seq, id) and that it was modified", async () => {
      const r = await rampart(["audit", "verify", "--config", tamperedConfig]);
      expect(r.code).toBe(1);
      const failed = r.stdout.split("\n").find((l) => l.startsWith("FAILED:"));
      expect(failed).toBe(
        `FAILED: ${where.log_id} entry ${where.seq} (id ${victim}) modified: entry ${where.seq} was modified: its content no longer matches its MAC`,
      );
      expect(r.stdout).toMatch(new RegExp(`^ {2}${where.log_id} .*FAILED at entry ${where.seq}:`, "m"));
      expect(r.stdout).not.toMatch(/^OK/m);
    });

    it("--json exits 1 too and carries the problem", async () => {
      const r = await rampart(["audit", "verify", "--config", tamperedConfig, "--json"]);
      const report = JSON.parse(r.stdout) as { ok: boolean; problem?: Record<string, unknown> };
      expect(report.ok).toBe(false);
      expect(report.problem).toMatchObject({
        log: where.log_id,
        seq: where.seq,
        entryId: victim,
        kind: "modified",
      });
      // Scripts and CI jobs read the exit code, not the text.
      expect(r.code).toBe(1);
    });

    it("an inclusion proof of the edited entry does not come out as verified", async () => {
      // The proof must be about the entry as stored now, not about a hash kept beside it.
      const r = await rampart(["audit", "proof", "--config", tamperedConfig, "--entry", victim, "--json"]);
      expect(r.code).not.toBe(0);
      expect(r.stdout).not.toMatch(/"verified": true/);
    });

    it("the untouched copy still verifies", async () => {
      const r = await rampart(["audit", "verify", "--config", configFile, "--log", where.log_id]);
      expect(r.code).toBe(0);
    });
  });
});

describe("rampart audit export and verify --bundle", () => {
  let bundle: string;
  let verifierKey: string;
  let exported: Run;

  beforeAll(async () => {
    bundle = join(work, "bundle");
    exported = await rampart([
      "audit",
      "export",
      "--config",
      configFile,
      "--from",
      started.toISOString(),
      "--to",
      new Date(Date.now() + 60_000).toISOString(),
      "--out",
      bundle,
    ]);
    // The key an auditor obtains out of band: here, from the deployment's own `audit logs`.
    const logs = await rampart(["audit", "logs", "--config", configFile, "--json"]);
    expect(logs.code).toBe(0);
    verifierKey = (JSON.parse(logs.stdout) as { verifierKey: string }).verifierKey;
  });

  it("exports every entry of the range and says how to verify it", () => {
    expect(exported.stderr).toBe("");
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain(`exported 54 entries to ${bundle}`);
    expect(exported.stdout).toContain(`rampart audit verify --bundle ${bundle} --key '${verifierKey}'`);
    const lines = readFileSync(join(bundle, "entries.jsonl"), "utf8").trim().split("\n");
    expect(lines).toHaveLength(54);
    // Each line is a signed entry, byte for byte.
    const ids = lines.map((l) => (JSON.parse(l) as { id: string }).id);
    for (const e of events) expect(ids).toContain(e.id);
  });

  it("the bundle verifies offline against the pinned key: exit 0", async () => {
    const r = await rampart(["audit", "verify", "--bundle", bundle, "--key", verifierKey]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(
      `bundle ${bundle}: OK — 54 entries in 2 logs match their signed checkpoints`,
    );

    const json = await rampart(["audit", "verify", "--bundle", bundle, "--key", verifierKey, "--json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, entries: 54, logs: 2, keyPinned: true });
  });

  it("without --key it still checks, but warns that the key came from the bundle", async () => {
    const r = await rampart(["audit", "verify", "--bundle", bundle]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("warning: the key was taken from the bundle itself");
  });

  it("one flipped byte in entries.jsonl fails it: exit 1", async () => {
    const copy = join(work, "bundle-flipped");
    cpSync(bundle, copy, { recursive: true });
    const file = join(copy, "entries.jsonl");
    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from("waf.blocked")) + 4;
    bytes[at] = (bytes[at] as number) ^ 0x01;
    writeFileSync(file, bytes);

    const r = await rampart(["audit", "verify", "--bundle", copy, "--key", verifierKey]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`bundle ${copy}: FAILED`);
    expect(r.stdout).toContain("entries.jsonl");

    const json = await rampart(["audit", "verify", "--bundle", copy, "--key", verifierKey, "--json"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, keyPinned: true });
  });

  it("an edited entry with a recomputed manifest hash fails on the manifest signature", async () => {
    const copy = join(work, "bundle-rehashed");
    cpSync(bundle, copy, { recursive: true });
    const file = join(copy, "entries.jsonl");
    const text = readFileSync(file, "utf8").replace("denied", "success");
    writeFileSync(file, text);
    const manifestFile = join(copy, "manifest.json");
    const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as { files: Record<string, string> };
    const { createHash } = await import("node:crypto");
    manifest.files["entries.jsonl"] = createHash("sha256").update(text).digest("hex");
    writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);

    const r = await rampart(["audit", "verify", "--bundle", copy, "--key", verifierKey]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("manifest.sig is not a valid signature");
  });
});

describe("rampart audit proof", () => {
  it("proves an entry is in the signed tree: verified", async () => {
    const id = "cli-audit-event-023";
    const r = await rampart(["audit", "proof", "--config", configFile, "--entry", id]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^entry ${id} is leaf \\d+ of security/\\S+; included in the signed tree of size 41: verified$`,
        "m",
      ),
    );
    expect(r.stdout).not.toContain("NOT VERIFIED");
  });

  it("--json carries the proof and verified: true", async () => {
    const id = "cli-audit-event-005";
    const r = await rampart(["audit", "proof", "--config", configFile, "--entry", id, "--json"]);
    expect(r.code).toBe(0);
    const proof = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(proof).toMatchObject({ entryId: id, verified: true });
    expect(String(proof.log)).toMatch(/^audit\//);
    expect(Array.isArray(proof.proof)).toBe(true);
    expect(String(proof.checkpoint)).toContain("rampart-audit/audit/");
  });

  it("an unknown entry is an error, not a proof", async () => {
    const r = await rampart(["audit", "proof", "--config", configFile, "--entry", "no-such-entry-0000"]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toContain("verified");
    expect(r.stderr).toMatch(/^rampart: /);
  });
});
