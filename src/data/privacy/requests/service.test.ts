import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Backend, backends, openTestStore, type TestStore } from "../../../../test/support/stores.ts";
import { manualClock } from "../../../platform/clock.ts";
import type { SecurityEvent } from "../../../platform/events/index.ts";
import { type PrivacyRequestsConfig, privacyRequestsConfigSchema } from "./config.ts";
import { requestMigrations } from "./schema.ts";
import { createPrivacyRequests, type PrivacyRequests } from "./service.ts";
import { codeIn, type RecordingEngine, recordingEngine, recordingMailer } from "./testing.ts";

const DAY = 86_400_000;

describe.each(backends)("privacy requests on %s", (backend: Backend) => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await openTestStore(backend, requestMigrations);
  });
  afterAll(async () => {
    await ts.cleanup();
  });

  function setup(over: Record<string, unknown> = {}, start = "2026-01-31T10:00:00Z") {
    const clock = manualClock(start);
    const events: SecurityEvent[] = [];
    const engine: RecordingEngine = recordingEngine();
    const mailer = recordingMailer();
    let config: PrivacyRequestsConfig = privacyRequestsConfigSchema.parse({
      publicUrl: "https://privacy.example",
      operatorEmail: "dpo@example.com",
      ...over,
    });
    const svc: PrivacyRequests = createPrivacyRequests({
      store: ts.store,
      clock,
      emit: (e) => events.push(e),
      engine,
      mailer,
      config: () => config,
    });
    const to = (email: string) => mailer.sent.filter((m) => m.to === email);
    const lastCode = (email: string) =>
      codeIn(
        (
          to(email)
            .filter((m) => m.subject.includes("code"))
            .at(-1) ?? { text: "" }
        ).text,
      );
    return {
      clock,
      events,
      engine,
      mailer,
      svc,
      to,
      lastCode,
      types: () => events.map((e) => e.type),
      setConfig: (c: Record<string, unknown>) => {
        config = privacyRequestsConfigSchema.parse(c);
      },
    };
  }

  const officer = { kind: "user", id: "corp:dpo" };

  it("verifies an access request by emailed code, runs it without approval and mails the link", async () => {
    const t = setup();
    const r = await t.svc.submit({ kind: "access", email: "Ana@Example.com" });
    expect(r).toMatchObject({ state: "verifying", next: "enter_code", dueAt: "2026-02-28T10:00:00.000Z" });
    expect(r.statusToken.length).toBeGreaterThanOrEqual(40);
    const code = t.lastCode("ana@example.com");
    expect(code).toMatch(/^\d{6}$/);
    expect(t.engine.runs).toHaveLength(0);

    const wrong = code === "000000" ? "111111" : "000000";
    await expect(t.svc.verifyCode(r.id, wrong)).rejects.toThrow(/not right; 4 attempt\(s\) left/);
    const v = await t.svc.verifyCode(r.id, code);
    expect(v.state).toBe("verified");
    await t.svc.idle();
    expect(t.engine.runs).toEqual([{ id: r.id, kind: "access", identities: { email: "ana@example.com" } }]);

    const done = await t.svc.get(r.id);
    expect(done).toMatchObject({
      state: "completed",
      verification: "email_code",
      receipt: { keyId: "test-key", collections: 1 },
    });
    expect(done.history.map((h) => h.action)).toEqual([
      "received",
      "code_sent",
      "wrong_code",
      "verified",
      "completed",
    ]);
    const mail = t.to("ana@example.com").at(-1);
    expect(mail?.subject).toContain("is complete");
    const link = /https:\/\/privacy\.example\/privacy\/requests\/(dsr_\w+)\/download\?token=(\S+)/.exec(
      mail?.text ?? "",
    );
    expect(link?.[1]).toBe(r.id);
    const file = await t.svc.download(r.id, link?.[2] as string);
    expect(file.contentType).toContain("text/html");
    await expect(t.svc.download(r.id, r.statusToken)).rejects.toThrow(/token does not match/);
    expect(await t.svc.status(r.id, r.statusToken)).toMatchObject({ state: "completed", next: "download" });

    expect(t.types()).toEqual([
      "privacy.request_received",
      "privacy.request_verified",
      "privacy.request_completed",
    ]);
    // Operators hear by events; the requester's address never goes into one.
    expect(JSON.stringify(t.events)).not.toContain("ana@");
    expect(t.events[0]?.target).toEqual({ kind: "privacy_request", id: r.id });
  });

  it("locks the code after five wrong tries, and a resend is limited in number and pace", async () => {
    const t = setup();
    const r = await t.svc.submit({ kind: "erasure", email: "bo@example.com" });
    const code = t.lastCode("bo@example.com");
    const wrong = code === "999999" ? "999998" : "999999";
    for (let i = 4; i >= 1; i--)
      await expect(t.svc.verifyCode(r.id, wrong)).rejects.toThrow(`${i} attempt(s) left`);
    await expect(t.svc.verifyCode(r.id, wrong)).rejects.toThrow(/no attempts left/);
    await expect(t.svc.verifyCode(r.id, code)).rejects.toThrow(/locked/);
    expect(t.types()).toContain("privacy.request_verification_locked");

    t.clock.advance(30_000);
    await expect(t.svc.resendCode(r.id, r.statusToken)).rejects.toThrow(/again in 30 s/);
    await expect(t.svc.resendCode(r.id, "x".repeat(43))).rejects.toThrow(/token does not match/);
    t.clock.advance(30_000);
    await t.svc.resendCode(r.id, r.statusToken);
    const second = t.lastCode("bo@example.com");
    t.clock.advance(16 * 60_000);
    await expect(t.svc.verifyCode(r.id, second)).rejects.toThrow(/expired/);
    await t.svc.resendCode(r.id, r.statusToken);
    await expect(t.svc.resendCode(r.id, r.statusToken)).rejects.toThrow(/no more codes/);
    expect((await t.svc.verifyCode(r.id, t.lastCode("bo@example.com"))).state).toBe("verified");

    // Erasure waits for a person; the engine has not been called.
    await t.svc.idle();
    expect(t.engine.runs).toHaveLength(0);
    expect(t.to("dpo@example.com").at(-1)?.text).toContain("waiting for approval");
    await t.svc.approve(r.id, officer, { note: "checked" });
    await t.svc.idle();
    expect(t.engine.runs.map((x) => x.kind)).toEqual(["erasure"]);
    expect((await t.svc.get(r.id)).state).toBe("completed");
    await expect(t.svc.exportOf(r.id, "json")).rejects.toThrow(/no export/);
  });

  it("never lets an unverified request reach the engine", async () => {
    const t = setup({ approval: { erasure: false } });
    const r = await t.svc.submit({ kind: "erasure", email: "cy@example.com" });
    await expect(t.svc.approve(r.id, officer)).rejects.toThrow(/not proved who they are/);
    expect((await t.svc.tick()).started).toBe(0);
    await t.svc.idle();
    expect(t.engine.runs).toHaveLength(0);
    // Never verified: cancelled after a week.
    t.clock.advance(8 * DAY);
    expect((await t.svc.tick()).expired).toBeGreaterThanOrEqual(1);
    expect((await t.svc.get(r.id)).state).toBe("cancelled");
  });

  it("accepts a signed app token as verification and refuses a wrong audience or issuer", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const pem = await exportSPKI(publicKey);
    const t = setup({
      appTokens: [
        {
          name: "shop",
          issuer: "https://shop.example",
          audience: "rampart-privacy",
          publicKey: pem,
          subjectIdentity: "user_id",
        },
      ],
    });
    const sign = (aud = "rampart-privacy", iss = "https://shop.example") =>
      new SignJWT({ email: "Dee@Example.com" })
        .setProtectedHeader({ alg: "ES256" })
        .setIssuer(iss)
        .setAudience(aud)
        .setSubject("u-42")
        .setIssuedAt(t.clock.now())
        .setExpirationTime(new Date(t.clock.now().getTime() + 300_000))
        .sign(privateKey);
    await expect(t.svc.submit({ kind: "access", appToken: await sign("other") })).rejects.toThrow(
      /refused \(ERR_JWT_CLAIM_VALIDATION_FAILED\)/,
    );
    await expect(
      t.svc.submit({ kind: "access", appToken: await sign(undefined, "https://evil.example") }),
    ).rejects.toThrow(/not a configured app/);
    await expect(
      t.svc.submit({ kind: "access", appToken: await sign(), email: "someone@else.example" }),
    ).rejects.toThrow(/differs/);
    const r = await t.svc.submit({ kind: "portability", appToken: await sign() });
    expect(r.state).toBe("verified");
    await t.svc.idle();
    expect(t.engine.runs).toEqual([
      { id: r.id, kind: "access", identities: { email: "dee@example.com", user_id: "u-42" } },
    ]);
    const done = await t.svc.get(r.id);
    expect(done).toMatchObject({ state: "completed", verification: "app_token", app: "shop" });
    expect(t.mailer.sent.some((m) => m.subject.includes("code"))).toBe(false);
    expect((await t.svc.exportOf(r.id, "json")).contentType).toContain("json");
  });

  it("reminds before the deadline once each, flags overdue once, and extends once with the reason mailed", async () => {
    const t = setup({ deadlines: { remindDays: [7, 1] } }, "2026-03-01T00:00:00Z");
    const r = await t.svc.submit({ kind: "erasure", email: "ed@example.com" });
    await t.svc.verifyCode(r.id, t.lastCode("ed@example.com"));
    expect(r.dueAt).toBe("2026-04-01T00:00:00.000Z");
    const due = Date.parse(r.dueAt);
    const dueSoon = () =>
      t.events.filter((e) => e.type === "privacy.request_due_soon" && e.target?.id === r.id);

    t.clock.set(new Date(due - 8 * DAY));
    await t.svc.tick();
    expect(dueSoon()).toHaveLength(0);
    t.clock.set(new Date(due - 7 * DAY + 1000));
    await t.svc.tick();
    await t.svc.tick();
    expect(dueSoon().map((e) => e.data.daysLeft)).toEqual([7]);
    t.clock.set(new Date(due - 12 * 3600_000));
    await t.svc.tick();
    await t.svc.tick();
    expect(dueSoon().map((e) => e.data.daysLeft)).toEqual([7, 1]);
    expect((await t.svc.list({ due: "soon" })).map((x) => x.id)).toContain(r.id);

    t.clock.set(new Date(due + 1000));
    await t.svc.tick();
    await t.svc.tick();
    const overdue = t.events.filter((e) => e.type === "privacy.request_overdue" && e.target?.id === r.id);
    expect(overdue).toHaveLength(1);
    expect(overdue[0]?.severity).toBe("high");
    expect((await t.svc.list({ due: "overdue" })).map((x) => x.id)).toContain(r.id);

    const ext = await t.svc.extend(r.id, officer, "many systems to search");
    expect(ext).toMatchObject({ dueAt: "2026-06-01T00:00:00.000Z", extended: true, overdue: false });
    expect(t.to("ed@example.com").at(-1)?.text).toContain("many systems to search");
    await expect(t.svc.extend(r.id, officer, "again")).rejects.toThrow(/already extended/);
    // Reminders start over for the new date.
    t.clock.set(new Date(Date.parse(ext.dueAt) - 7 * DAY + 1000));
    await t.svc.tick();
    expect(dueSoon()).toHaveLength(3);
    expect(JSON.stringify(t.events)).not.toContain("ed@");
  });

  it("gives a grievance its own deadline and closes it by a person", async () => {
    const t = setup({ deadlines: { grievanceDays: 30 } }, "2026-05-01T00:00:00Z");
    const r = await t.svc.submit({
      kind: "grievance",
      email: "fa@example.com",
      details: "my erasure was ignored",
      relatesTo: "dsr_0123456789abcdef01234567",
    });
    expect(r.dueAt).toBe("2026-05-31T00:00:00.000Z");
    expect(t.types()).toEqual(["privacy.grievance_received"]);
    await t.svc.verifyCode(r.id, t.lastCode("fa@example.com"));
    const g = await t.svc.get(r.id);
    expect(g).toMatchObject({ state: "processing", relatesTo: "dsr_0123456789abcdef01234567" });
    await expect(t.svc.approve(r.id, officer)).rejects.toThrow(/complete it instead/);
    await expect(t.svc.extend(r.id, officer, "x")).rejects.toThrow(/cannot be extended/);
    const c = await t.svc.complete(r.id, officer, { resolution: "We erased the account on 2 May." });
    expect(c.state).toBe("completed");
    expect(t.to("fa@example.com").at(-1)?.text).toContain("We erased the account on 2 May.");
    expect(t.engine.runs).toHaveLength(0);
  });

  it("routes a nominee's request to a person always, and runs it for the principal", async () => {
    const t = setup({ approval: { erasure: false, nominee: false } });
    const r = await t.svc.submit({
      kind: "nominee",
      email: "nominee@example.com",
      action: "erasure",
      nominee: {
        name: "Gita",
        ground: "deceased",
        relation: "daughter",
        evidenceRef: "death certificate DC-7 (post)",
      },
      principal: { email: "principal@example.com" },
    });
    await t.svc.verifyCode(r.id, t.lastCode("nominee@example.com"));
    await t.svc.tick();
    await t.svc.idle();
    expect(t.engine.runs).toHaveLength(0);
    const listed = await t.svc.get(r.id);
    expect(listed).toMatchObject({
      state: "verified",
      approvalRequired: true,
      principalEmail: "principal@example.com",
    });
    await t.svc.approve(r.id, officer);
    await t.svc.idle();
    expect(t.engine.runs).toEqual([
      { id: r.id, kind: "erasure", identities: { email: "principal@example.com" } },
    ]);
    expect(t.to("principal@example.com")).toHaveLength(0);
  });

  it("needs corrections to approve a rectification and passes them to the engine", async () => {
    const t = setup();
    const r = await t.svc.submit({
      kind: "rectification",
      email: "ha@example.com",
      details: "my surname is Rao",
    });
    await t.svc.verifyCode(r.id, t.lastCode("ha@example.com"));
    await expect(t.svc.approve(r.id, officer)).rejects.toThrow(/needs corrections/);
    await t.svc.approve(r.id, officer, { corrections: [{ field: "shop.customers.surname", value: "Rao" }] });
    await t.svc.idle();
    expect(t.engine.runs[0]).toMatchObject({
      kind: "rectification",
      corrections: [{ field: "shop.customers.surname", value: "Rao" }],
    });
  });

  it("retries a failed run after a pause, and rejects with the reason mailed", async () => {
    const t = setup();
    t.engine.failNext(1, "store unreachable: shop.customers");
    const r = await t.svc.submit({ kind: "access", email: "io@example.com" });
    await t.svc.verifyCode(r.id, t.lastCode("io@example.com"));
    await t.svc.idle();
    const failed = await t.svc.get(r.id);
    expect(failed).toMatchObject({
      state: "failed",
      attempts: 1,
      lastError: "store unreachable: shop.customers",
    });
    expect(t.events.find((e) => e.type === "privacy.request_failed")?.data).toMatchObject({ retrying: true });
    expect((await t.svc.tick()).started).toBe(0); // the pause is not over
    t.clock.advance(61_000);
    expect((await t.svc.tick()).started).toBe(1);
    await t.svc.idle();
    expect((await t.svc.get(r.id)).state).toBe("completed");
    expect(t.engine.runs).toHaveLength(2);

    const other = await t.svc.submit({
      kind: "objection",
      email: "jo@example.com",
      details: "stop marketing",
    });
    await t.svc.verifyCode(other.id, t.lastCode("jo@example.com"));
    await t.svc.reject(other.id, officer, "we could not match the account");
    expect(t.to("jo@example.com").at(-1)?.text).toContain("we could not match the account");
    await expect(t.svc.reject(other.id, officer, "again")).rejects.toThrow(/already rejected/);
    expect(t.types()).toContain("privacy.request_rejected");
  });

  it("records a request an operator received and checked, still waiting for approval", async () => {
    const t = setup();
    const r = await t.svc.record(
      { kind: "erasure", email: "Lu@Example.com", details: "by letter" },
      officer,
      "passport copy matched the account",
    );
    expect(r).toMatchObject({
      state: "verified",
      verification: "operator",
      email: "lu@example.com",
      approvalRequired: true,
    });
    expect(t.mailer.sent.some((m) => m.subject.includes("code"))).toBe(false);
    expect(t.to("lu@example.com").at(-1)?.subject).toContain("we received your request");
    const verified = t.events.find((e) => e.type === "privacy.request_verified");
    expect(verified?.actor).toEqual(officer);
    expect(verified?.data.method).toBe("operator");
    expect((await t.svc.get(r.id)).history.map((h) => [h.actor, h.action])).toEqual([
      ["user:corp:dpo", "received"],
      ["user:corp:dpo", "verified"],
    ]);
    await t.svc.idle();
    expect(t.engine.runs).toHaveLength(0);
  });

  it("lets the requester withdraw and keeps the code send uncounted when mail fails", async () => {
    const t = setup();
    t.mailer.failNext = 1;
    const r = await t.svc.submit({ kind: "access", email: "ka@example.com" });
    expect(r.next).toBe("resend_code");
    await t.svc.resendCode(r.id, r.statusToken);
    expect((await t.svc.status(r.id, r.statusToken)).next).toBe("enter_code");
    expect((await t.svc.cancel(r.id, r.statusToken)).state).toBe("cancelled");
    await expect(t.svc.status("dsr_000000000000000000000000", r.statusToken)).rejects.toThrow(
      /no such request/,
    );
    expect((await t.svc.list({ state: "cancelled" })).map((x) => x.id)).toContain(r.id);
  });
});
