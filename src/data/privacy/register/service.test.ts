// The processor and DPIA registers on both storage backends with a manual clock: adding,
// replacing and removing, DPIA approval and review, and every kind of finding.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { backends, openTestStore, type TestStore } from "../../../../test/support/stores.ts";
import { manualClock } from "../../../platform/clock.ts";
import { Conflict, Invalid, NotFound } from "../../../platform/errors.ts";
import type { SecurityEvent } from "../../../platform/events/index.ts";
import {
  createPrivacyRegister,
  type DpiaInput,
  inHomeRegions,
  type PrivacyRegister,
  type ProcessorInput,
  registerMigrations,
} from "./index.ts";

const dpo = { kind: "user", id: "corp:dpo" };

const mailer: ProcessorInput = {
  key: "mailer",
  name: "Postmark",
  service: "transactional email",
  categories: ["user.contact.email"],
  purposes: ["essential.service.notifications"],
  regions: ["IN"],
  dpa: { signedAt: "2026-01-10", reference: "contracts/postmark-dpa.pdf" },
  lastAssessedAt: "2026-01-10",
};

const dpia: DpiaInput = {
  key: "kyc-2026",
  title: "Video KYC with face matching",
  system: "onboarding",
  purposes: ["essential.kyc"],
  highRiskReasons: ["biometric data at large scale"],
  risks: [
    {
      risk: "face templates leak",
      likelihood: "medium",
      severity: "high",
      measures: ["templates encrypted with a KMS key", "deleted after 30 days"],
    },
  ],
  significantDataFiduciary: true,
};

describe.each(backends)("privacy register on %s", (backend) => {
  let ts: TestStore;
  let clock: ReturnType<typeof manualClock>;
  let events: SecurityEvent[];
  let reg: PrivacyRegister;

  beforeAll(async () => {
    ts = await openTestStore(backend, registerMigrations);
  });
  afterAll(async () => {
    await ts?.cleanup();
  });
  beforeEach(async () => {
    await ts.store.db.deleteFrom("privacy_processors" as never).execute();
    await ts.store.db.deleteFrom("privacy_dpias" as never).execute();
    clock = manualClock("2026-03-01T00:00:00Z");
    events = [];
    reg = createPrivacyRegister({
      store: ts.store,
      clock,
      emit: (e) => events.push(e),
      config: { homeRegions: ["IN", "ap-south"] },
    });
  });

  test("processors: add, conflict, replace, read, remove, with events", async () => {
    const p = await reg.addProcessor(mailer, dpo);
    expect(p).toMatchObject({ key: "mailer", status: "active", outsideHomeRegions: [] });
    // The next review defaults to a year after the last assessment.
    expect(p.nextReviewAt).toBe("2027-01-10T00:00:00.000Z");
    await expect(reg.addProcessor(mailer, dpo)).rejects.toThrow(Conflict);

    const r = await reg.putProcessor(
      { ...mailer, regions: ["ap-south-1", "us-east-1"], transfer: { mechanism: "sccs" } },
      dpo,
    );
    expect(r.created).toBe(false);
    expect(r.processor.outsideHomeRegions).toEqual(["us-east-1"]);
    expect((await reg.getProcessor("mailer")).regions).toEqual(["ap-south-1", "us-east-1"]);
    expect((await reg.putProcessor({ ...mailer, key: "payments" }, dpo)).created).toBe(true);
    expect((await reg.listProcessors()).map((x) => x.key)).toEqual(["mailer", "payments"]);

    await reg.removeProcessor("payments", dpo);
    await expect(reg.getProcessor("payments")).rejects.toThrow(NotFound);
    await expect(reg.removeProcessor("payments", dpo)).rejects.toThrow(NotFound);
    expect(events.map((e) => [e.type, e.data.key, e.data.change])).toEqual([
      ["privacy.processor_changed", "mailer", "created"],
      ["privacy.processor_changed", "mailer", "updated"],
      ["privacy.processor_changed", "payments", "created"],
      ["privacy.processor_changed", "payments", "deleted"],
    ]);
    await expect(reg.addProcessor({ ...mailer, key: "findings" }, dpo)).rejects.toThrow(/reserved/);
    await expect(reg.addProcessor({ ...mailer, key: "x", regions: [] }, dpo)).rejects.toThrow(/regions/);
  });

  test("processor findings: no DPA, stale or missing assessment, overdue review, transfer without mechanism", async () => {
    await reg.addProcessor(mailer, dpo);
    await reg.addProcessor(
      {
        key: "crm",
        name: "Acme CRM",
        service: "customer records",
        regions: ["us-east-1"],
        lastAssessedAt: "2026-02-01",
      },
      dpo,
    );
    await reg.addProcessor(
      { ...mailer, key: "old", name: "Old vendor", status: "offboarded", dpa: undefined },
      dpo,
    );
    const codes = async (at?: Date) =>
      (await reg.findings(at)).filter((f) => f.kind === "processor").map((f) => `${f.key}:${f.code}`);
    expect(await codes()).toEqual(["crm:processor_without_dpa", "crm:transfer_without_mechanism"]);

    // Fourteen months on: both assessments are older than a year and both reviews are overdue.
    expect(await codes(new Date("2027-05-01T00:00:00Z"))).toEqual([
      "crm:processor_without_dpa",
      "crm:processor_assessment_stale",
      "crm:processor_review_overdue",
      "crm:transfer_without_mechanism",
      "mailer:processor_assessment_stale",
      "mailer:processor_review_overdue",
    ]);
    await reg.putProcessor(
      { key: "crm", name: "Acme CRM", service: "customer records", regions: ["us-east-1"] },
      dpo,
    );
    const never = (await reg.findings()).find(
      (f) => f.key === "crm" && f.code === "processor_assessment_stale",
    );
    expect(never?.message).toMatch(/never been assessed/);
    const transfer = (await reg.findings()).find((f) => f.code === "transfer_without_mechanism");
    expect(transfer).toMatchObject({ severity: "high", message: expect.stringContaining("us-east-1") });
  });

  test("DPIAs: draft, approval with an outcome, yearly review, back to draft when changed", async () => {
    const d = await reg.addDpia(dpia, dpo);
    expect(d).toMatchObject({ state: "draft", approvedAt: null, reviewDue: null });
    expect((await reg.findings()).map((f) => f.code)).toEqual(["dpia_not_approved"]);

    await expect(reg.approveDpia("kyc-2026", {}, dpo)).rejects.toThrow(/outcome/);
    const a = await reg.approveDpia("kyc-2026", { outcome: "proceed_with_measures" }, dpo);
    expect(a).toMatchObject({
      state: "approved",
      approvedBy: "user:corp:dpo",
      approvedAt: "2026-03-01T00:00:00.000Z",
      reviewDue: "2027-03-01T00:00:00.000Z",
      outcome: "proceed_with_measures",
    });
    expect(await reg.findings()).toEqual([]);

    clock.set("2027-03-02T00:00:00Z");
    expect((await reg.getDpia("kyc-2026")).state).toBe("review_due");
    expect(await reg.findings()).toEqual([
      expect.objectContaining({ code: "dpia_review_overdue", key: "kyc-2026", severity: "high" }),
    ]);

    // Replacing it unchanged keeps the approval; any change needs approving again.
    expect((await reg.putDpia({ ...dpia, outcome: "proceed_with_measures" }, dpo)).dpia.approvedBy).toBe(
      "user:corp:dpo",
    );
    const changed = await reg.putDpia({ ...dpia, highRiskReasons: ["biometrics", "children's data"] }, dpo);
    expect(changed.dpia).toMatchObject({ state: "draft", approvedBy: null });
    expect(events.map((e) => e.data.change)).toEqual(["created", "approved", "updated", "updated"]);
    expect(events.every((e) => e.type === "privacy.dpia_changed")).toBe(true);
  });

  test("a high-severity risk without measures blocks approval to proceed", async () => {
    await reg.addDpia(
      { ...dpia, key: "ads", risks: [{ risk: "re-identification", likelihood: "high", severity: "high" }] },
      dpo,
    );
    await expect(reg.approveDpia("ads", { outcome: "proceed" }, dpo)).rejects.toThrow(Invalid);
    expect((await reg.approveDpia("ads", { outcome: "consult_authority" }, dpo)).state).toBe("approved");
    await expect(reg.approveDpia("nope", { outcome: "proceed" }, dpo)).rejects.toThrow(NotFound);
  });

  test("home regions match exactly or as a prefix, ignoring case", () => {
    expect(inHomeRegions("ap-south-1", ["ap-south"])).toBe(true);
    expect(inHomeRegions("in", ["IN"])).toBe(true);
    expect(inHomeRegions("india", ["IN"])).toBe(false);
  });
});
