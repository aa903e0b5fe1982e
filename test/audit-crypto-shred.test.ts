// Crypto-shredding in the audit log, on both backends: personal details are stored only sealed
// under their person's own key, itself stored wrapped under the audit key file; read back in clear
// while it exists, and read as erased after the person is erased, while every entry, proof and
// checkpoint signed before the erasure still verifies.
import { createDecipheriv } from "node:crypto";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import {
  type AuditKeys,
  type AuditLog,
  type AuditTables,
  auditMigrations,
  createAuditLog,
  loadOrCreateAuditKeys,
  queryEntries,
  subjectRef,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
} from "../src/monitoring/audit/index.ts";
import { unwrapDataKey } from "../src/monitoring/audit/data-keys.ts";
import { openPersonal, sealPersonal } from "../src/monitoring/audit/personal.ts";
import { manualClock } from "../src/platform/clock.ts";
import { newEvent, type SecurityEvent, securityEventSchema } from "../src/platform/events/index.ts";
import { backends, openTestStore, type TestStore } from "./support/stores.ts";

const retention = { security: 365, audit: 2555, application: 90 };
const at = (ms: number) => new Date(Date.UTC(2026, 10, 26, 10, 0, 0, ms));

const ALICE = { email: "alice@example.com", name: "Alice Liddell" };
const BOB = { email: "bob@example.org", phone: "+44 20 7946 0958" };

describe.each(backends)("crypto-shredding on %s", (backend) => {
  let ts: TestStore;
  let audit: AuditLog;
  let keys: AuditKeys;
  const clock = manualClock("2026-11-26T10:00:00Z");

  const db = () => ts.store.db.withTables<AuditTables>();
  const resolve = (ref: string) => subjectRef(ref, (id) => audit.subjectKey(id));
  const read = async (q: { target?: string; actor?: string; type?: string }, log: AuditLog = audit) => {
    const { entries } = await queryEntries(db(), { ...q, limit: 1000 }, resolve);
    await log.revealPersonal(entries);
    return entries;
  };
  const personalOf = async (id: string, log: AuditLog = audit) =>
    (await read({}, log)).find((e) => e.id === id)?.personal;
  const storedKeyOf = async (identifier: string) =>
    db()
      .selectFrom("audit_subjects")
      .select(["subject_key", "data_key"])
      .where("identifier", "=", identifier)
      .executeTakeFirstOrThrow();
  // Another log over the same database, e.g. a server given another key file or an offline tool.
  const openLog = (keyFile: string) =>
    createAuditLog({
      store: ts.store,
      keys: loadOrCreateAuditKeys(keyFile),
      clock,
      retentionDays: retention,
      period: "month",
      checkpointIntervalMs: 0,
    });

  // An admin changes Alice's profile (target = Alice); Bob logs in (actor = Bob, target a route).
  const profileChange = (i: number): SecurityEvent =>
    newEvent(
      {
        type: "identity.profile_changed",
        actor: { kind: "user", id: "admin@example.com" },
        target: { kind: "user", id: ALICE.email },
        data: { i },
        personal: ALICE,
      },
      at(i),
    );
  const bobLogin = (i: number): SecurityEvent =>
    newEvent(
      {
        type: "auth.login",
        actor: { kind: "user", id: BOB.email },
        target: { kind: "route", id: "/login" },
        data: { i },
        personal: BOB,
      },
      at(i),
    );

  beforeEach(async () => {
    clock.set("2026-11-26T10:00:00Z");
    ts = await openTestStore(backend, auditMigrations);
    keys = loadOrCreateAuditKeys(join(ts.location.dataDir, "keys", "audit.json"));
    audit = createAuditLog({
      store: ts.store,
      keys,
      clock,
      retentionDays: retention,
      period: "month",
      checkpointIntervalMs: 0,
    });
    await audit.start();
  });
  afterEach(async () => {
    await audit.close();
    await ts.cleanup();
  });

  test("personal details are stored sealed and read back in clear while the person's key exists", async () => {
    const events = [profileChange(1), bobLogin(2), profileChange(3)];
    await audit.record([{ events }]);
    const stored = await db().selectFrom("audit_entries").select(["id", "body"]).execute();
    const everything = stored.map((r) => r.body).join("\n");
    for (const v of [...Object.values(ALICE), ...Object.values(BOB)]) expect(everything).not.toContain(v);
    const sealed = JSON.parse(stored.find((r) => r.id === events[0]?.id)?.body as string) as {
      personal: Record<string, string>;
    };
    expect(Object.keys(sealed.personal).sort()).toEqual(["email", "name"]);
    expect(sealed.personal.email).toMatch(/^aes-256-gcm:[A-Za-z0-9_-]+$/);

    const aliceEntries = await read({ target: `user:${ALICE.email}` });
    expect(aliceEntries).toHaveLength(2);
    for (const e of aliceEntries) expect(e.personal).toEqual(ALICE);
    // Bob is the actor and the target is a route: his own key seals his details.
    expect((await read({ actor: `user:${BOB.email}` }))[0]?.personal).toEqual(BOB);
    // Without the right to see them, callers get the field names only.
    const plain = (await queryEntries(db(), { limit: 1000 }, resolve)).entries;
    expect(plain.find((e) => e.personal)?.personal).toEqual({ email: "[sealed]", name: "[sealed]" });
    // Two people, two different keys, each stored wrapped (nonce, key, tag).
    const alice = await storedKeyOf(ALICE.email);
    const bob = await storedKeyOf(BOB.email);
    const keyOf = (r: { subject_key: string; data_key: Uint8Array | null }) =>
      unwrapDataKey(keys.dataKeyWrapKey, r.subject_key, r.data_key as Uint8Array) as Buffer;
    expect(alice.data_key).toHaveLength(60);
    expect(bob.data_key).toHaveLength(60);
    expect(keyOf(alice)).toHaveLength(32);
    expect(keyOf(alice).equals(keyOf(bob))).toBe(false);
    expect((await audit.verify()).ok).toBe(true);
  });

  test("erasing a person shreds their details: entries stay, verify passes, old checkpoints still verify", async () => {
    const before = [profileChange(1), bobLogin(2), profileChange(3)];
    await audit.record([{ events: before }]);
    const [cp] = await audit.checkpoint();
    expect(cp).toBeDefined();
    const signedBefore = verifyCheckpoint(cp?.note as string, audit.verifierKey);
    const proofBefore = await audit.inclusionProof(before[0]?.id as string);
    const countBefore = Number(
      (
        await db()
          .selectFrom("audit_entries")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirst()
      )?.n,
    );

    expect(await audit.eraseSubject(ALICE.email)).toBe(true);
    expect(await audit.subjectKey(ALICE.email)).toBeUndefined();
    const left = await db().selectFrom("audit_subjects").select("identifier").execute();
    expect(left.map((r) => r.identifier).sort()).toEqual(["admin@example.com", BOB.email]);

    // The entries stay, byte for byte, and still verify.
    const countAfter = Number(
      (
        await db()
          .selectFrom("audit_entries")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirst()
      )?.n,
    );
    expect(countAfter).toBe(countBefore);
    const report = await audit.verify();
    expect(report.ok).toBe(true);
    // Alice's details read as erased; Bob's are untouched.
    expect(await personalOf(before[0]?.id as string)).toEqual({ email: "[erased]", name: "[erased]" });
    expect(await personalOf(before[2]?.id as string)).toEqual({ email: "[erased]", name: "[erased]" });
    expect(await personalOf(before[1]?.id as string)).toEqual(BOB);

    // More entries after the erasure; the checkpoint signed before it still verifies, its
    // inclusion proof still holds, and the log grew consistently from it.
    await audit.record([{ events: [bobLogin(4)] }]);
    await audit.checkpoint();
    expect(verifyCheckpoint(cp?.note as string, audit.verifierKey).root.equals(signedBefore.root)).toBe(true);
    expect(
      verifyInclusion(
        Buffer.from(proofBefore.leafHash, "hex"),
        proofBefore.seq,
        proofBefore.treeSize,
        proofBefore.proof.map((h) => Buffer.from(h, "hex")),
        signedBefore.root,
      ),
    ).toBe(true);
    const again = await audit.inclusionProof(before[0]?.id as string);
    expect(again.leafHash).toBe(proofBefore.leafHash);
    const c = await audit.consistencyProof(cp?.log as string, cp?.size as number);
    expect(c.toSize).toBeGreaterThan(cp?.size as number);
    expect(
      verifyConsistency(
        c.fromSize,
        c.toSize,
        signedBefore.root,
        Buffer.from(c.toRoot, "hex"),
        c.proof.map((h) => Buffer.from(h, "hex")),
      ),
    ).toBe(true);
    expect((await audit.verify()).ok).toBe(true);

    // Alice coming back is a new person to the log: a new key, readable again; the old stay erased.
    const back = profileChange(5);
    await audit.record([{ events: [back] }]);
    expect(await personalOf(back.id)).toEqual(ALICE);
    expect(await personalOf(before[0]?.id as string)).toEqual({ email: "[erased]", name: "[erased]" });
  });

  test("a person mapped before data keys existed gets one when personal details first arrive", async () => {
    await audit.record([
      {
        events: [newEvent({ type: "auth.login", actor: { kind: "user", id: ALICE.email } }, at(1))],
      },
    ]);
    await sql`update audit_subjects set data_key = null`.execute(ts.store.db);
    const e = profileChange(2);
    await audit.record([{ events: [e] }]);
    expect(await personalOf(e.id)).toEqual(ALICE);
    const row = await db()
      .selectFrom("audit_subjects")
      .select("data_key")
      .where("identifier", "=", ALICE.email)
      .executeTakeFirstOrThrow();
    expect(row.data_key).toHaveLength(60);
  });

  test("details of an event that names no person are not stored at all", async () => {
    const e = newEvent(
      {
        type: "waf.blocked",
        actor: { kind: "ip", id: "203.0.113.9" },
        target: { kind: "route", id: "/signup" },
        personal: { email: "carol@example.net" },
      },
      at(1),
    );
    await audit.record([{ events: [e] }]);
    const body = await db()
      .selectFrom("audit_entries")
      .select("body")
      .where("id", "=", e.id)
      .executeTakeFirst();
    expect(body?.body).not.toContain("carol@example.net");
    expect(await personalOf(e.id)).toEqual({ email: "[erased]" });
  });

  test("a sealed value copied into another person's entry or field does not open", async () => {
    const events = [profileChange(1), bobLogin(2)];
    await audit.record([{ events }]);
    const alice = await storedKeyOf(ALICE.email);
    const dataKey = unwrapDataKey(keys.dataKeyWrapKey, alice.subject_key, alice.data_key as Uint8Array);
    const sealed = sealPersonal(dataKey as Buffer, alice.subject_key, { email: ALICE.email });
    expect(openPersonal(dataKey, alice.subject_key, sealed)).toEqual({ email: ALICE.email });
    // Another subject key (AAD) or another field name: unreadable, never the clear value.
    expect(openPersonal(dataKey, "sk_other", sealed)).toEqual({ email: "[unreadable]" });
    expect(openPersonal(dataKey, alice.subject_key, { name: sealed.email as string })).toEqual({
      name: "[unreadable]",
    });
    // A wrapped key moved onto another person's row does not open there (the subject key is its AAD).
    const bob = await storedKeyOf(BOB.email);
    expect(unwrapDataKey(keys.dataKeyWrapKey, bob.subject_key, alice.data_key as Uint8Array)).toBeUndefined();
  });

  test("a database dump holds no usable data key: the stored bytes open nothing without the key file", async () => {
    const e = profileChange(1);
    await audit.record([{ events: [e] }]);
    const row = await storedKeyOf(ALICE.email);
    const stored = Buffer.from(row.data_key as Uint8Array);
    const body = await db()
      .selectFrom("audit_entries")
      .select("body")
      .where("id", "=", e.id)
      .executeTakeFirstOrThrow();
    const sealed = (JSON.parse(body.body) as { personal: Record<string, string> }).personal;
    // The real key is not among the stored bytes, and no 32-byte window of them (nor the whole) opens a value.
    const real = unwrapDataKey(keys.dataKeyWrapKey, row.subject_key, stored) as Buffer;
    expect(openPersonal(real, row.subject_key, sealed)).toEqual(ALICE);
    expect(stored.includes(real)).toBe(false);
    expect(openPersonal(stored, row.subject_key, sealed)).toEqual({
      email: "[unreadable]",
      name: "[unreadable]",
    });
    const token = Buffer.from((sealed.email as string).slice("aes-256-gcm:".length), "base64url");
    for (let i = 0; i + 32 <= stored.length; i++) {
      const decipher = createDecipheriv("aes-256-gcm", stored.subarray(i, i + 32), token.subarray(0, 12));
      decipher.setAAD(Buffer.from(`rampart audit personal v1\u0000${row.subject_key}\u0000email`, "utf8"));
      decipher.setAuthTag(token.subarray(token.length - 16));
      decipher.update(token.subarray(12, token.length - 16));
      expect(() => decipher.final(), `window at ${i}`).toThrow();
    }
    // With the key file the log reveals them.
    expect(await personalOf(e.id)).toEqual(ALICE);
  });

  test("a log opened with another key file cannot reveal: details stay sealed, never garbage", async () => {
    const e = profileChange(1);
    await audit.record([{ events: [e] }]);
    const other = openLog(join(ts.location.dataDir, "keys", "other.json"));
    await other.start({ readOnly: true });
    try {
      expect(await personalOf(e.id, other)).toEqual({ email: "[sealed]", name: "[sealed]" });
      // The right key file still opens them.
      expect(await personalOf(e.id)).toEqual(ALICE);
    } finally {
      await other.close();
    }
  });

  test("a data key stored unwrapped by an older version is wrapped when the log next starts", async () => {
    const e = profileChange(1);
    await audit.record([{ events: [e] }]);
    await audit.close();
    const row = await storedKeyOf(ALICE.email);
    const raw = unwrapDataKey(keys.dataKeyWrapKey, row.subject_key, row.data_key as Uint8Array) as Buffer;
    // The state an older version left: 32 raw bytes.
    await sql`update audit_subjects set data_key = ${raw} where subject_key = ${row.subject_key}`.execute(
      ts.store.db,
    );
    const keyFile = join(ts.location.dataDir, "keys", "audit.json");

    // Read-only tools wrap nothing but still read the legacy key.
    const reader = openLog(keyFile);
    await reader.start({ readOnly: true });
    expect(await personalOf(e.id, reader)).toEqual(ALICE);
    await reader.close();
    expect(Buffer.from((await storedKeyOf(ALICE.email)).data_key as Uint8Array).equals(raw)).toBe(true);

    // A log given another key file refuses to wrap (the keys would be locked away under it).
    const stranger = openLog(join(ts.location.dataDir, "keys", "other.json"));
    await stranger.start();
    await stranger.close();
    expect(Buffer.from((await storedKeyOf(ALICE.email)).data_key as Uint8Array).equals(raw)).toBe(true);

    // The log with its own key file wraps it at start; the same key, now 60 bytes.
    audit = openLog(keyFile);
    await audit.start();
    const after = await storedKeyOf(ALICE.email);
    expect(after.data_key).toHaveLength(60);
    expect(Buffer.from(after.data_key as Uint8Array).includes(raw)).toBe(false);
    expect(unwrapDataKey(keys.dataKeyWrapKey, after.subject_key, after.data_key as Uint8Array)).toEqual(raw);
    expect(await personalOf(e.id)).toEqual(ALICE);
    const later = profileChange(2);
    await audit.record([{ events: [later] }]);
    expect(await personalOf(later.id)).toEqual(ALICE);
    expect((await audit.verify()).ok).toBe(true);
  });

  test("the table accepts only unwrapped (32-byte) or wrapped (60-byte) data keys", async () => {
    await audit.record([{ events: [profileChange(1)] }]);
    await expect(
      sql`update audit_subjects set data_key = ${Buffer.alloc(17)}`.execute(ts.store.db),
    ).rejects.toThrow(/audit_subjects_data_key_format/);
  });
});

describe("the event schema bounds personal details", () => {
  const base = newEvent({ type: "auth.login", actor: { kind: "user", id: "a@example.com" } });
  test("accepts small records of named fields and refuses odd names, long values and too many fields", () => {
    expect(securityEventSchema.safeParse({ ...base, personal: { email: "a@example.com" } }).success).toBe(
      true,
    );
    expect(securityEventSchema.safeParse({ ...base, personal: { "E-mail": "x" } }).success).toBe(false);
    expect(securityEventSchema.safeParse({ ...base, personal: { email: "x".repeat(2049) } }).success).toBe(
      false,
    );
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`f${i}`, "x"]));
    expect(securityEventSchema.safeParse({ ...base, personal: many }).success).toBe(false);
  });
});
