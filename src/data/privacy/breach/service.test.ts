// The breach register on both storage backends with a manual clock: clocks per regime from the
// moment of awareness, reminders once each, missed deadlines, notifications meeting clocks,
// idempotent opening from an incident, and drafts built from the record's facts.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { backends, openTestStore, type TestStore } from "../../../../test/support/stores.ts";
import { manualClock } from "../../../platform/clock.ts";
import { Conflict, Invalid } from "../../../platform/errors.ts";
import type { SecurityEvent } from "../../../platform/events/index.ts";
import {
  type BreachConfig,
  breachConfigSchema,
  breachMigrations,
  type BreachRegister,
  createBreachRegister,
} from "./index.ts";

const HOUR = 3_600_000;
const dpo = { kind: "user", id: "corp:dpo" };

const facts = {
  title: "Customer export left in a public bucket",
  description: "A nightly export of customer records was written to a bucket readable by anyone.",
  dataCategories: ["user.contact.email", "user.name"],
  subjectCategories: ["customer"],
  approxSubjects: 1200,
  approxRecords: 1500,
  regions: ["IN", "EU"],
  consequences: "Phishing aimed at the customers named in the export.",
  measures: "The bucket was made private and its access logs reviewed.",
};

describe.each(backends)("breach register on %s", (backend) => {
  let ts: TestStore;
  let clock: ReturnType<typeof manualClock>;
  let events: SecurityEvent[];
  let config: BreachConfig;
  let register: BreachRegister;
  const types = () => events.map((e) => e.type);
  const ofType = (t: string) => events.filter((e) => e.type === t);

  beforeAll(async () => {
    ts = await openTestStore(backend, breachMigrations);
  });
  afterAll(async () => {
    await ts?.cleanup();
  });
  beforeEach(async () => {
    const db = ts.store.db.withTables<Record<string, object>>();
    for (const t of [
      "privacy_breach_reminders",
      "privacy_breach_notifications",
      "privacy_breach_clocks",
      "privacy_breaches",
      "privacy_breach_sequences",
    ])
      await db.deleteFrom(t).execute();
    clock = manualClock("2026-03-01T09:00:00Z");
    events = [];
    config = breachConfigSchema.parse({ controller: { name: "Shop Ltd", contact: "privacy@shop.example" } });
    register = createBreachRegister({
      store: ts.store,
      clock,
      emit: (e) => events.push(e),
      config: () => config,
    });
  });

  test("clocks start at aware_at: GDPR 72 h, DPDP 24 h target and 72 h report, CERT-In 6 h", async () => {
    const b = await register.open({ ...facts, awareAt: "2026-03-01T08:00:00Z" }, dpo);
    expect(b.id).toBe("BR-2026-0001");
    expect(b.status).toBe("detected");
    expect(b.regimes).toEqual(["gdpr", "dpdp", "cert_in"]);
    expect(b.clocks.map((c) => [c.key, c.dueAt, c.state])).toEqual([
      ["gdpr.authority", "2026-03-04T08:00:00.000Z", "open"],
      ["dpdp.board_intimation", "2026-03-02T08:00:00.000Z", "open"],
      ["dpdp.principals", "2026-03-02T08:00:00.000Z", "open"],
      ["dpdp.board_report", "2026-03-04T08:00:00.000Z", "open"],
      ["cert_in.report", "2026-03-01T14:00:00.000Z", "open"],
    ]);
    const opened = ofType("privacy.breach_opened")[0];
    expect(opened?.target).toEqual({ kind: "privacy_breach", id: b.id });
    // No personal or free text in the event: ids, regimes and deadlines only.
    expect(JSON.stringify(opened?.data)).not.toContain("bucket");
    expect(JSON.stringify(opened?.data)).not.toContain("Phishing");
  });

  test("configurable hours and regimes", async () => {
    config = breachConfigSchema.parse({ regimes: ["gdpr"], hours: { gdprAuthority: 48 } });
    const b = await register.open({ title: "t", description: "d" }, dpo);
    expect(b.clocks.map((c) => [c.key, c.hours, c.dueAt])).toEqual([
      ["gdpr.authority", 48, "2026-03-03T09:00:00.000Z"],
    ]);
  });

  test("CERT-In 6 h: a reminder at 50% and 1 h before, each once, then missed once", async () => {
    await register.open({ ...facts, regimes: ["cert_in"] }, dpo);
    expect(await register.tick()).toEqual({ near: 0, missed: 0 });
    clock.advance(3 * HOUR);
    expect(await register.tick()).toEqual({ near: 1, missed: 0 });
    expect(await register.tick()).toEqual({ near: 0, missed: 0 });
    clock.advance(2 * HOUR + 1);
    expect(await register.tick()).toEqual({ near: 1, missed: 0 });
    clock.advance(30 * 60_000);
    expect(await register.tick()).toEqual({ near: 0, missed: 0 });
    clock.advance(HOUR);
    expect(await register.tick()).toEqual({ near: 0, missed: 1 });
    expect(await register.tick()).toEqual({ near: 0, missed: 0 });
    const near = ofType("privacy.breach_deadline_near");
    expect(near.map((e) => e.data["reminder"])).toEqual(["50%", "1h"]);
    expect(near[0]?.data).toMatchObject({
      regime: "cert_in",
      clock: "cert_in.report",
      dueAt: "2026-03-01T15:00:00.000Z",
    });
    const missed = ofType("privacy.breach_deadline_missed");
    expect(missed).toHaveLength(1);
    expect(missed[0]?.severity).toBe("high");
    expect((await register.list())[0]?.clocks[0]?.state).toBe("missed");
  });

  test("GDPR 72 h met by recording the authority notification; status moves forward", async () => {
    const b = await register.open({ ...facts, regimes: ["gdpr"] }, dpo);
    clock.advance(36 * HOUR);
    expect(await register.tick()).toEqual({ near: 1, missed: 0 });
    clock.advance(4 * HOUR);
    const sent = new Date(clock.now().getTime() - HOUR);
    const after = await register.recordNotification(b.id, "gdpr", "authority", sent, "SA-2026-77", dpo);
    expect(after.status).toBe("notified_authority");
    expect(after.clocks[0]).toMatchObject({ state: "met", metAt: sent.toISOString() });
    expect(after.notifications).toMatchObject([
      { regime: "gdpr", recipient: "authority", reference: "SA-2026-77" },
    ]);
    // Met clocks ring no more.
    clock.advance(40 * HOUR);
    expect(await register.tick()).toEqual({ near: 0, missed: 0 });
    expect(ofType("privacy.breach_notified")[0]?.data).toMatchObject({
      breach: b.id,
      regime: "gdpr",
      clock: "gdpr.authority",
      onTime: true,
    });
  });

  test("a late notification leaves the clock missed; a regime the breach is not under is refused", async () => {
    const b = await register.open({ ...facts, regimes: ["gdpr"] }, dpo);
    clock.advance(80 * HOUR);
    const after = await register.recordNotification(b.id, "gdpr", "authority", clock.now(), undefined, dpo);
    expect(after.clocks[0]?.state).toBe("missed");
    await expect(register.recordNotification(b.id, "dpdp", "subjects", clock.now())).rejects.toThrow(Invalid);
  });

  test("not reportable needs a reason and stops the clocks; moves outside the life cycle are refused", async () => {
    const b = await register.open({ ...facts, regimes: ["gdpr"] }, dpo);
    await expect(register.update(b.id, { status: "not_reportable" }, dpo)).rejects.toThrow(/reason/);
    await expect(register.update(b.id, { status: "notified_subjects" }, dpo)).resolves.toBeDefined();
    await expect(register.update(b.id, { status: "assessed" }, dpo)).rejects.toThrow(Conflict);

    const c = await register.open({ ...facts, regimes: ["gdpr"] }, dpo);
    const nr = await register.update(
      c.id,
      { status: "not_reportable", reason: "Encrypted laptop, key not exposed: unlikely to result in a risk" },
      dpo,
    );
    expect(nr.statusReason).toMatch(/unlikely/);
    clock.advance(100 * HOUR);
    // The first breach told its subjects but never the authority: its clock is missed; the second's is waived.
    expect(await register.tick()).toEqual({ near: 0, missed: 1 });
    expect(ofType("privacy.breach_deadline_missed").map((e) => e.data["breach"])).toEqual([b.id]);
    expect((await register.get(c.id)).clocks[0]?.state).toBe("waived");
    expect(ofType("privacy.breach_updated").at(-1)?.data).toMatchObject({
      changed: ["status"],
      from: "detected",
    });
  });

  test("moving aware_at moves the deadlines; adding a regime adds its clocks", async () => {
    const b = await register.open({ ...facts, regimes: ["gdpr"] }, dpo);
    const moved = await register.update(
      b.id,
      { awareAt: "2026-03-01T00:00:00Z", regimes: ["gdpr", "cert_in"] },
      dpo,
    );
    expect(moved.clocks.map((c) => [c.key, c.dueAt])).toEqual([
      ["gdpr.authority", "2026-03-04T00:00:00.000Z"],
      ["cert_in.report", "2026-03-01T06:00:00.000Z"],
    ]);
    await expect(register.update(b.id, { awareAt: "2027-01-01T00:00:00Z" }, dpo)).rejects.toThrow(/future/);
  });

  test("openFromIncident is idempotent per incident", async () => {
    const first = await register.openFromIncident({
      incidentId: "INC-2026-0007",
      awareAt: "2026-03-01T08:30:00Z",
      regimes: ["gdpr", "cert_in"],
      title: "Possible exfiltration",
    });
    const again = await register.openFromIncident({
      incidentId: "INC-2026-0007",
      awareAt: "2026-03-01T08:45:00Z",
      title: "Possible exfiltration",
    });
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ created: false, breach: { id: first.breach.id } });
    expect(first.breach.clocks.map((c) => c.dueAt)).toEqual([
      "2026-03-04T08:30:00.000Z",
      "2026-03-01T14:30:00.000Z",
    ]);
    expect(await register.list()).toHaveLength(1);
    expect(types().filter((t) => t === "privacy.breach_opened")).toHaveLength(1);
  });

  test("drafts carry the record's facts, escape its HTML and list what is missing", async () => {
    const b = await register.open(
      { ...facts, description: 'Export <script>alert("x")</script> & more', systems: ["exports-s3"] },
      dpo,
    );
    const drafts = await register.drafts(b.id);
    expect(drafts.map((d) => d.kind)).toEqual([
      "gdpr_authority",
      "dpdp_board_intimation",
      "dpdp_board_report",
      "dpdp_principals",
      "cert_in_report",
    ]);
    for (const d of drafts) {
      expect(d.body).not.toMatch(/<script|<\/script>/);
      expect(d.body).toContain("&lt;script&gt;");
      expect(d.body).toContain(b.id);
    }
    const gdpr = drafts[0]?.body ?? "";
    expect(gdpr).toContain("about 1,200");
    expect(gdpr).toContain("user.contact.email");
    expect(gdpr).toContain("Phishing aimed at the customers");
    expect(gdpr).toContain("The bucket was made private");
    expect(gdpr).toContain("privacy@shop.example");
    const principals = drafts.find((d) => d.kind === "dpdp_principals");
    expect(principals?.body).toContain("What you can do");
    const certIn = drafts.find((d) => d.kind === "cert_in_report");
    expect(certIn?.body).toContain("exports-s3");
    expect(certIn?.missing).toContain("type of incident");
    expect(drafts[0]?.missing).toEqual([]);
  });
});
