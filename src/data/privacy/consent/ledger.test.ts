// The consent ledger on both storage backends with a manual clock: default deny, giving and
// withdrawing, notices, children's parental consent and refused purposes, expiry, the proof chain
// and its tamper evidence, the append-only trigger, retention and what events carry.
import { createHash, createHmac } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { backends, openTestStore, type TestStore } from "../../../../test/support/stores.ts";
import { manualClock } from "../../../platform/clock.ts";
import { Invalid, NotFound } from "../../../platform/errors.ts";
import type { SecurityEvent } from "../../../platform/events/index.ts";
import {
  type ConsentLedger,
  consentConfigSchema,
  consentMigrations,
  createConsentLedger,
  verifyConsentProof,
} from "./index.ts";

const officer = { kind: "user", id: "corp:dpo" };
const app = { kind: "api_key", id: "rpk_shop" };
const notice = { id: "privacy-notice-v3", hash: "a".repeat(64) };
const subjectKey = (id: string) => createHmac("sha256", "test-consent-key").update(id).digest("hex");
const parental = {
  guardianRef: "guardian-81",
  method: "digilocker_token" as const,
  verifiedAt: "2026-01-01T00:00:00Z",
  verifiedBy: "corp:verifier",
};
const DAY = 86_400_000;

describe.each(backends)("consent ledger on %s", (backend) => {
  let ts: TestStore;
  let clock: ReturnType<typeof manualClock>;
  let events: SecurityEvent[];
  let ledger: ConsentLedger;
  let n = 0;
  let subject: string;

  beforeAll(async () => {
    ts = await openTestStore(backend, consentMigrations);
  });
  afterAll(async () => {
    await ts?.cleanup();
  });
  beforeEach(() => {
    clock = manualClock("2026-03-01T10:00:00Z");
    events = [];
    ledger = createConsentLedger({ store: ts.store, clock, emit: (e) => events.push(e), subjectKey });
    subject = `customer-${backend}-${++n}@example.com`;
  });

  const give = (purpose: string, extra: Record<string, unknown> = {}) =>
    ledger.record(
      { subject, purpose, state: "given", notice, channel: "web", jurisdiction: "dpdp", ...extra },
      app,
    );

  test("no record means no processing", async () => {
    expect(await ledger.check(subject, "marketing.email")).toEqual({
      allowed: false,
      state: null,
      noticeVersion: null,
      since: null,
      expiresAt: null,
      reason: "no_record",
    });
  });

  test("given then withdrawn with the same call; the check follows at once", async () => {
    await give("marketing.email");
    const ok = await ledger.check(subject, "marketing.email");
    expect(ok).toMatchObject({ allowed: true, state: "given", reason: "given", noticeVersion: notice });
    expect(ok.since).toBe("2026-03-01T10:00:00.000Z");
    expect((await ledger.check(subject, "analytics")).allowed).toBe(false);

    clock.advance(60_000);
    // The withdrawal needs no notice or jurisdiction: it takes them from the consent it ends.
    const w = await ledger.record(
      { subject, purpose: "marketing.email", state: "withdrawn", channel: "email" },
      app,
    );
    expect(w).toMatchObject({ seq: 2, state: "withdrawn", notice, jurisdiction: "dpdp" });
    expect(await ledger.check(subject, "marketing.email")).toMatchObject({
      allowed: false,
      state: "withdrawn",
      reason: "withdrawn",
      since: "2026-03-01T10:01:00.000Z",
    });
  });

  test("a notice's text is hashed and not kept; giving consent needs a notice and a jurisdiction", async () => {
    const text = "We send offers by email. Withdraw any time at /privacy.";
    const e = await give("marketing.email", { notice: { id: "v4", text } });
    expect(e.notice).toEqual({ id: "v4", hash: createHash("sha256").update(text).digest("hex") });
    expect(JSON.stringify(await ledger.proof(subject))).not.toContain("Withdraw any time");
    await expect(
      ledger.record(
        { subject, purpose: "analytics", state: "given", channel: "web", jurisdiction: "gdpr" },
        app,
      ),
    ).rejects.toThrow(/notice: consent needs the notice shown/);
    await expect(
      ledger.record({ subject, purpose: "analytics", state: "given", channel: "web", notice }, app),
    ).rejects.toThrow(/jurisdiction/);
    await expect(give("Marketing Email")).rejects.toThrow(/purpose: expected a purpose key/);
  });

  test("the subject is stored only as its HMAC, and the app's reference comes back in proofs", async () => {
    await give("marketing.email", { subjectRef: "crm-4411" });
    const rows = await sql<{ subject_hash: string }>`select subject_hash from consent_ledger`.execute(
      ts.store.db,
    );
    const all = JSON.stringify(rows.rows);
    expect(all).not.toContain(subject);
    expect(all).toContain(subjectKey(subject));
    const proof = await ledger.proof(subject);
    expect(proof.subjectRef).toBe("crm-4411");
    expect(proof.subjectHash).toBe(subjectKey(subject));
    await expect(give("analytics", { subjectRef: "jane@example.com" })).rejects.toThrow(/subjectRef/);
  });

  test("a child's consent needs verifiable parental consent; until then the check says no", async () => {
    await expect(give("learning.progress", { child: true })).rejects.toThrow(Invalid);
    await expect(give("learning.progress", { child: true })).rejects.toThrow(/verifiable parental consent/);

    // Consent given before the subject was known to be a child stops counting once they are.
    await give("learning.progress");
    expect((await ledger.check(subject, "learning.progress")).allowed).toBe(true);
    await ledger.record(
      {
        subject,
        purpose: "newsletter",
        state: "withdrawn",
        channel: "app",
        jurisdiction: "dpdp",
        child: true,
      },
      app,
    );
    expect(await ledger.check(subject, "learning.progress")).toMatchObject({
      allowed: false,
      state: "given",
      reason: "child_without_parental_consent",
    });
    expect(
      (await ledger.current(subject)).consents.find((c) => c.purpose === "learning.progress"),
    ).toMatchObject({
      allowed: false,
      reason: "child_without_parental_consent",
    });

    // The guardian's verified consent, once on file, covers the child's later grants too.
    await give("learning.progress", { parental });
    expect((await ledger.check(subject, "learning.progress")).allowed).toBe(true);
    await give("learning.reminders");
    expect((await ledger.check(subject, "learning.reminders")).allowed).toBe(true);
    const s = await ledger.current(subject);
    expect(s).toMatchObject({ child: true, parentalConsentOnFile: true });
  });

  test("tracking, behavioural monitoring and targeted advertising are refused for children", async () => {
    await give("marketing.advertising.profiling");
    await expect(give("marketing.advertising", { child: true, parental })).rejects.toThrow(
      /refused for children/,
    );
    await expect(give("tracking", { child: true, parental })).rejects.toThrow(/refused for children/);
    await give("learning.progress", { child: true, parental });
    // An adult's earlier consent to profiling stops counting once the subject is known to be a child.
    expect(await ledger.check(subject, "marketing.advertising.profiling")).toMatchObject({
      allowed: false,
      reason: "refused_for_children",
    });
  });

  test("consent lapses at its expiry", async () => {
    await give("research.survey", { expiresAt: "2026-03-02T10:00:00Z" });
    expect((await ledger.check(subject, "research.survey")).allowed).toBe(true);
    clock.advance(DAY);
    expect(await ledger.check(subject, "research.survey")).toMatchObject({
      allowed: false,
      reason: "expired",
    });
    await expect(give("research.survey", { expiresAt: "2026-01-01T00:00:00Z" })).rejects.toThrow(/expiresAt/);
  });

  test("withdrawAll ends every consent given, and nothing else", async () => {
    await give("marketing.email");
    await give("analytics");
    await ledger.record(
      { subject, purpose: "newsletter", state: "withdrawn", channel: "web", jurisdiction: "gdpr" },
      app,
    );
    const w = await ledger.withdrawAll(subject, officer, { channel: "paper" });
    expect(w.map((e) => e.purpose)).toEqual(["analytics", "marketing.email"]);
    for (const p of ["marketing.email", "analytics", "newsletter"])
      expect((await ledger.check(subject, p)).allowed).toBe(false);
    expect(await ledger.withdrawAll(subject, officer)).toEqual([]);
  });

  test("the proof chains every entry and shows any edit, removal or reordering", async () => {
    await give("marketing.email");
    clock.advance(1000);
    await give("analytics", { evidence: { form: "signup-2", ip_country: "IN" } });
    clock.advance(1000);
    await ledger.record({ subject, purpose: "marketing.email", state: "withdrawn", channel: "email" }, app);
    const proof = await ledger.proof(subject);
    expect(proof.verification).toEqual({ ok: true, entries: 3, head: proof.entries[2]?.hash });
    expect(proof.entries.map((e) => [e.seq, e.purpose, e.state])).toEqual([
      [1, "marketing.email", "given"],
      [2, "analytics", "given"],
      [3, "marketing.email", "withdrawn"],
    ]);
    expect(proof.entries[1]?.prevHash).toBe(proof.entries[0]?.hash);
    const copy = () => JSON.parse(JSON.stringify(proof)) as typeof proof;

    const edited = copy();
    (edited.entries[0] as { state: string }).state = "withdrawn";
    expect(verifyConsentProof(edited)).toMatchObject({ ok: false, brokenAt: 1, reason: /altered/ });

    const removed = copy();
    removed.entries.splice(1, 1);
    expect(verifyConsentProof(removed)).toMatchObject({ ok: false, brokenAt: 3 });

    const truncated = copy();
    truncated.entries.pop();
    expect(verifyConsentProof(truncated)).toMatchObject({ ok: false, reason: /head/ });

    await expect(ledger.proof("nobody@example.com")).rejects.toThrow(NotFound);
  });

  test("ledger entries cannot be updated or deleted", async () => {
    await give("marketing.email");
    await expect(sql`update consent_ledger set state = 'withdrawn'`.execute(ts.store.db)).rejects.toThrow(
      /append-only/,
    );
    await expect(sql`delete from consent_ledger`.execute(ts.store.db)).rejects.toThrow(/append-only/);
  });

  test("retention keeps consent records at least seven years", async () => {
    expect(() => consentConfigSchema.parse({ retention: "P5Y" })).toThrow(/at least 7 years/);
    expect(consentConfigSchema.parse({}).retention).toBe("P7Y");
    await give("marketing.email");
    await ledger.record({ subject, purpose: "marketing.email", state: "withdrawn", channel: "web" }, app);
    const live = `live-${subject}`;
    await ledger.record(
      { subject: live, purpose: "orders", state: "given", notice, channel: "web", jurisdiction: "dpdp" },
      app,
    );

    clock.advance(6 * 365 * DAY);
    await ledger.purgeExpired();
    expect((await ledger.proof(subject)).entries).toHaveLength(2);

    clock.advance(2 * 365 * DAY);
    const purged = await ledger.purgeExpired();
    expect(purged.subjects).toBeGreaterThanOrEqual(1);
    await expect(ledger.proof(subject)).rejects.toThrow(NotFound);
    // Consent still in force is never purged: it is what allows processing today.
    expect((await ledger.check(live, "orders")).allowed).toBe(true);
  });

  test("events name the purpose, notice and channel, and never the person", async () => {
    await give("marketing.email", { evidence: { email: subject } });
    await ledger.record({ subject, purpose: "marketing.email", state: "withdrawn", channel: "app" }, app);
    expect(events.map((e) => e.type)).toEqual(["privacy.consent_given", "privacy.consent_withdrawn"]);
    expect(events[0]).toMatchObject({
      actor: app,
      target: { kind: "subject", id: subject },
      data: { purpose: "marketing.email", noticeVersion: notice.id, channel: "web", jurisdiction: "dpdp" },
    });
    for (const e of events) expect(JSON.stringify(e.data)).not.toContain(subject);
  });
});
