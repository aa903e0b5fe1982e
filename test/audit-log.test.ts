// The audit log on both backends: appends, queries, privacy, proofs, periods, expiry and tampering.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import {
  type AuditLog,
  type AuditTables,
  auditMigrations,
  createAuditLog,
  loadOrCreateAuditKeys,
  queryEntries,
  verifyBundle,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
} from "../src/monitoring/audit/index.ts";
import { manualClock } from "../src/platform/clock.ts";
import { newEvent, type SecurityEvent } from "../src/platform/events/index.ts";
import { backends, openTestStore, type TestStore } from "./support/stores.ts";

const retention = { security: 365, audit: 2555, application: 90 };

function event(i: number, over: Partial<SecurityEvent> = {}): SecurityEvent {
  return newEvent(
    {
      type: i % 3 === 0 ? "waf.blocked" : "auth.login",
      actor: { kind: "user", id: `user${i % 5}@example.com` },
      target: { kind: "route", id: `/api/${i % 4}` },
      data: { i },
      ...over,
    },
    new Date(Date.UTC(2026, 10, 22, 10, 0, 0, i)),
  );
}

describe.each(backends)("audit log on %s", (backend) => {
  let ts: TestStore;
  let audit: AuditLog;
  const clock = manualClock("2026-11-22T10:00:00Z");
  let keyFile: string;

  const make = (store = ts.store) =>
    createAuditLog({
      store,
      keys: loadOrCreateAuditKeys(keyFile),
      clock,
      retentionDays: retention,
      period: "month",
      checkpointIntervalMs: 0,
    });
  const db = () => ts.store.db.withTables<AuditTables>();
  const tamper = async (statement: string) => {
    await sql.raw("alter table audit_entries disable trigger audit_entries_append_only").execute(ts.store.db);
    await sql.raw(statement).execute(ts.store.db);
    await sql.raw("alter table audit_entries enable trigger audit_entries_append_only").execute(ts.store.db);
  };
  const append = async (n: number, from = 0) => {
    const events = Array.from({ length: n }, (_, k) => event(from + k));
    await audit.record([{ events }]);
    return events;
  };

  beforeEach(async () => {
    clock.set("2026-11-22T10:00:00Z");
    ts = await openTestStore(backend, auditMigrations);
    keyFile = join(ts.location.dataDir, "keys", "audit.json");
    audit = make();
    await audit.start();
  });
  afterEach(async () => {
    await audit.close();
    await ts.cleanup();
  });

  test("appended events verify, and a checkpoint signs the tree", async () => {
    await append(50);
    const [cp] = await audit.checkpoint();
    expect(cp?.size).toBe(51); // the log's opening entry + 50
    const report = await audit.verify();
    expect(report.ok).toBe(true);
    expect(report.entries).toBe(51);
    const head = verifyCheckpoint(cp?.note as string, audit.verifierKey);
    expect(head.root.toString("hex")).toBe(cp?.root);
  });

  test("a retried batch id is stored once", async () => {
    const events = [event(1), event(2)];
    expect(await audit.record([{ events, batchId: "batch-0001" }])).toEqual([true]);
    expect(
      await audit.record([
        { events, batchId: "batch-0001" },
        { events, batchId: "batch-0001" },
      ]),
    ).toEqual([false, false]);
    const n = await db()
      .selectFrom("audit_entries")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(3);
  });

  test("people and secrets never reach the stored entries", async () => {
    await audit.record([
      {
        events: [
          event(1, {
            actor: { kind: "user", id: "alice@example.com" },
            sensitive: { apiKey: "sk_live_SUPERSECRET" },
          }),
        ],
      },
    ]);
    const rows = await db().selectFrom("audit_entries").selectAll().execute();
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain("alice@example.com");
    expect(dump).not.toContain("SUPERSECRET");
    const body = JSON.parse(rows[1]?.body as string);
    expect(body.actor).toMatch(/^user:sk_[0-9a-f]{24}$/);
    expect(body.hashed.apiKey).toBe(audit.hashValue("sk_live_SUPERSECRET"));
    // Erasing the person breaks the link, not the log.
    expect(await audit.subjectKey("alice@example.com")).toBe(body.actor.slice(5));
    expect(await audit.eraseSubject("alice@example.com")).toBe(true);
    expect(await audit.subjectKey("alice@example.com")).toBeUndefined();
    expect((await audit.verify()).ok).toBe(true);
  });

  test("queries filter by time, type, actor and target, newest first, with pagination", async () => {
    await append(30);
    const resolve = async (ref: string) =>
      ref.startsWith("user:") ? `user:${await audit.subjectKey(ref.slice(5))}` : ref;
    const blocked = await queryEntries(db(), { type: "waf.blocked", limit: 4 }, resolve);
    expect(blocked.entries).toHaveLength(4);
    expect(blocked.entries.every((e) => e.type === "waf.blocked")).toBe(true);
    expect(blocked.entries[0]?.data.i).toBe(27);
    const rest = await queryEntries(db(), { type: "waf.blocked", limit: 100, cursor: blocked.next }, resolve);
    expect(rest.entries.map((e) => e.data.i)).toEqual([15, 12, 9, 6, 3, 0]);
    expect(rest.next).toBeUndefined();
    const byActor = await queryEntries(db(), { actor: "user:user2@example.com" }, resolve);
    expect(byActor.entries.map((e) => e.data.i)).toEqual([27, 22, 17, 12, 7, 2]);
    const byTarget = await queryEntries(
      db(),
      { target: "route:/api/1", from: "2026-11-22T10:00:00.010Z" },
      resolve,
    );
    expect(byTarget.entries.map((e) => e.data.i)).toEqual([29, 25, 21, 17, 13]);
    await expect(queryEntries(db(), { from: "yesterday" }, resolve)).rejects.toThrow(
      /from: expected an ISO 8601 time/,
    );
  });

  test("inclusion and consistency proofs verify against signed checkpoints", async () => {
    const events = await append(20);
    const first = await audit.checkpoint();
    await append(13, 20);
    await audit.checkpoint();
    const p = await audit.inclusionProof((events[7] as SecurityEvent).id);
    const head = verifyCheckpoint(p.checkpoint, audit.verifierKey);
    expect(p.treeSize).toBe(34);
    expect(
      verifyInclusion(
        Buffer.from(p.leafHash, "hex"),
        p.seq,
        p.treeSize,
        p.proof.map((h) => Buffer.from(h, "hex")),
        head.root,
      ),
    ).toBe(true);
    const c = await audit.consistencyProof(p.log, first[0]?.size as number, p.treeSize);
    expect(c.fromRoot).toBe(first[0]?.root);
    expect(
      verifyConsistency(
        c.fromSize,
        c.toSize,
        Buffer.from(c.fromRoot, "hex"),
        Buffer.from(c.toRoot, "hex"),
        c.proof.map((h) => Buffer.from(h, "hex")),
      ),
    ).toBe(true);
  });

  test("the database refuses updates and deletes of entries", async () => {
    await append(3);
    await expect(
      sql.raw("update audit_entries set type = 'x' where seq = 1").execute(ts.store.db),
    ).rejects.toThrow(/append-only/);
    await expect(sql.raw("delete from audit_entries where seq = 1").execute(ts.store.db)).rejects.toThrow(
      /append-only/,
    );
  });

  describe("tampering directly in the database is detected and named", () => {
    beforeEach(async () => {
      await append(40);
      await audit.checkpoint();
      await append(10, 40); // an unsigned tail: the MACs still protect it
    });

    test("a modified entry", async () => {
      await tamper(`update audit_entries set body = replace(body, '"i":17', '"i":99') where seq = 18`);
      const r = await audit.verify();
      expect(r.ok).toBe(false);
      expect(r.problem).toMatchObject({ seq: 18, kind: "modified" });
      expect(r.problem?.entryId).toBeTruthy();
    });

    test("a modified indexed column", async () => {
      await tamper(`update audit_entries set actor = 'user:someone-else' where seq = 5`);
      expect((await audit.verify()).problem).toMatchObject({ seq: 5, kind: "modified" });
    });

    test("a modified entry in the unsigned tail", async () => {
      await tamper(`update audit_entries set body = replace(body, '"i":45', '"i":46') where seq = 46`);
      expect((await audit.verify()).problem).toMatchObject({ seq: 46, kind: "modified" });
    });

    test("a deleted entry", async () => {
      await tamper("delete from audit_entries where seq = 23");
      expect((await audit.verify()).problem).toMatchObject({ seq: 23, kind: "deleted" });
    });

    test("a deleted entry with the rest renumbered", async () => {
      await tamper("delete from audit_entries where seq = 23");
      await tamper("update audit_entries set seq = seq - 1 where seq > 23");
      expect((await audit.verify()).problem).toMatchObject({ seq: 23, kind: "deleted" });
    });

    test("deleted entries at the end of a signed log", async () => {
      await tamper("delete from audit_entries where seq >= 35");
      expect((await audit.verify()).problem).toMatchObject({ seq: 35, kind: "deleted" });
    });

    test("two entries swapped", async () => {
      await tamper("update audit_entries set seq = -1 where seq = 30");
      await tamper("update audit_entries set seq = 30 where seq = 31");
      await tamper("update audit_entries set seq = 31 where seq = -1");
      expect((await audit.verify()).problem).toMatchObject({ seq: 30, kind: "reordered" });
    });

    test("an inserted entry", async () => {
      await tamper("update audit_entries set seq = seq + 1000 where seq >= 12");
      await tamper("update audit_entries set seq = seq - 999 where seq >= 1012");
      await tamper(
        `insert into audit_entries (log_id, seq, id, time, type, actor, target, body, leaf_hash, mac)
         select log_id, 12, 'forged', time, type, actor, target, replace(body, '"i":11', '"i":999'), leaf_hash, mac
         from audit_entries where seq = 13`,
      );
      expect((await audit.verify()).problem).toMatchObject({ seq: 12, kind: "inserted" });
    });
  });

  test("periods: a new month opens a new log chained to the last, expiry drops whole periods", async () => {
    const a = createAuditLog({
      store: ts.store,
      keys: loadOrCreateAuditKeys(keyFile),
      clock,
      retentionDays: { ...retention, application: 30 },
      period: "month",
      checkpointIntervalMs: 0,
    });
    await a.start();
    await a.record([{ events: [event(1, { retention: "application" }), event(2)] }]);
    clock.set("2026-12-03T00:00:00Z");
    await a.record([{ events: [event(3, { retention: "application" })] }]);
    const logs = await a.logs();
    expect(logs.map((l) => `${l.log}:${l.state}`)).toEqual([
      "application/2026-11:closed",
      "application/2026-12:open",
      "security/2026-11:open",
    ]);
    const opening = await db()
      .selectFrom("audit_entries")
      .select("body")
      .where("log_id", "=", "application/2026-12")
      .where("seq", "=", 0)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(opening.body).data.previous).toMatchObject({ log: "application/2026-11", size: 2 });
    clock.set("2027-01-05T00:00:00Z");
    expect(await a.expire()).toEqual(["application/2026-11"]);
    const after = await a.verify();
    expect(after.ok).toBe(true);
    expect(after.logs.find((l) => l.log === "application/2026-11")?.state).toBe("expired");
    // Removing a whole period that has not expired is seen through the chain.
    await a.record([{ events: [event(4, { retention: "application" })] }]);
    await tamper("delete from audit_entries where log_id = 'application/2026-12'");
    await sql.raw("delete from audit_checkpoints where log_id = 'application/2026-12'").execute(ts.store.db);
    await sql.raw("delete from audit_logs where log_id = 'application/2026-12'").execute(ts.store.db);
    expect((await a.verify()).problem).toMatchObject({ log: "application/2027-01", seq: 0, kind: "deleted" });
    await a.close();
  });

  test("a quiet log closes when its period ends and expires on time", async () => {
    const a = createAuditLog({
      store: ts.store,
      keys: loadOrCreateAuditKeys(keyFile),
      clock,
      retentionDays: { ...retention, application: 30 },
      period: "month",
      checkpointIntervalMs: 0,
    });
    await a.start();
    await a.record([{ events: [event(1, { retention: "application" })] }]);
    clock.set("2027-01-15T00:00:00Z");
    expect(await a.expire()).toEqual(["application/2026-11"]);
    expect((await a.logs()).find((l) => l.log === "application/2026-11")?.state).toBe("expired");
    // The next event opens a new log chained to the expired one's final root.
    await a.record([{ events: [event(2, { retention: "application" })] }]);
    const report = await a.verify();
    expect(report.ok).toBe(true);
    expect(report.logs.map((l) => `${l.log}:${l.state}`)).toContain("application/2027-01:open");
    await a.close();
  });

  test("a security retention under 365 days is refused", () => {
    expect(() =>
      createAuditLog({
        store: ts.store,
        keys: loadOrCreateAuditKeys(keyFile),
        clock,
        retentionDays: { ...retention, security: 30 },
        period: "month",
        checkpointIntervalMs: 0,
      }),
    ).toThrow(/security retention must be at least 365 days/);
  });

  test("a restart rebuilds the tree and signs what was acknowledged but unsigned", async () => {
    await append(25);
    await audit.checkpoint();
    await append(5, 25);
    // A second instance on the same store stands in for the process that restarts after a crash.
    const again = make();
    await again.start();
    const cps = await again.logs();
    expect(cps[0]?.size).toBe(31);
    expect((await again.verify()).ok).toBe(true);
  });

  test("an export bundle verifies offline, and one changed byte fails it", async () => {
    await append(40);
    await audit.checkpoint();
    const dir = mkdtempSync(join(tmpdir(), "rampart-bundle-"));
    const m = await audit.exportBundle({
      from: new Date("2026-11-22T10:00:00.010Z"),
      to: new Date("2026-11-22T10:00:00.030Z"),
      dir,
    });
    expect(m.entries).toBe(20);
    expect(verifyBundle(dir, audit.verifierKey)).toMatchObject({ ok: true, entries: 20, logs: 1 });
    const file = join(dir, "entries.jsonl");
    const original = readFileSync(file);
    const changed = Buffer.from(original);
    changed[200] = (changed[200] as number) ^ 0x01;
    writeFileSync(file, changed);
    expect(verifyBundle(dir, audit.verifierKey)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/entries.jsonl does not match/),
    });
    writeFileSync(file, original);
    expect(verifyBundle(dir, "rampart-audit+00000000+AQ==").ok).toBe(false);
  });
});

describe("offline bundle verification under hostile input", () => {
  test("any single-byte change to any bundle file fails verification without throwing", async () => {
    const fc = await import("fast-check");
    const ts = await openTestStore("pglite", auditMigrations);
    try {
      const clock = manualClock("2026-11-22T10:00:00Z");
      const audit = createAuditLog({
        store: ts.store,
        keys: loadOrCreateAuditKeys(join(ts.location.dataDir, "keys", "audit.json")),
        clock,
        retentionDays: retention,
        period: "month",
        checkpointIntervalMs: 0,
      });
      await audit.start();
      await audit.record([{ events: Array.from({ length: 30 }, (_, i) => event(i)) }]);
      await audit.checkpoint();
      const dir = mkdtempSync(join(tmpdir(), "rampart-bundle-fuzz-"));
      await audit.exportBundle({
        from: new Date("2026-11-22T00:00:00Z"),
        to: new Date("2026-11-23T00:00:00Z"),
        dir,
      });
      expect(verifyBundle(dir, audit.verifierKey).ok).toBe(true);
      const files = ["entries.jsonl", "logs.json", "manifest.json", "manifest.sig"];
      const originals = new Map(files.map((f) => [f, readFileSync(join(dir, f))]));
      fc.assert(
        fc.property(
          fc.constantFrom(...files),
          fc.nat(),
          fc.integer({ min: 1, max: 255 }),
          (file, pos, xor) => {
            const original = originals.get(file) as Buffer;
            const changed = Buffer.from(original);
            const at = pos % changed.length;
            changed[at] = (changed[at] as number) ^ xor;
            writeFileSync(join(dir, file), changed);
            try {
              const r = verifyBundle(dir, audit.verifierKey);
              // Only a change that leaves the decoded signature bytes as they were (whitespace, unused
              // base64 bits) may still pass.
              const sig = (b: Buffer) => Buffer.from(b.toString("latin1").trim(), "base64");
              return !r.ok || (file === "manifest.sig" && sig(changed).equals(sig(original)));
            } finally {
              writeFileSync(join(dir, file), original);
            }
          },
        ),
        { numRuns: 300 },
      );
      await audit.close();
    } finally {
      await ts.cleanup();
    }
  });
});
