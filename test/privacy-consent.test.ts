// The consent API as apps use it, over real PostgreSQL (and PGlite for concurrency): withdrawal
// blocks the very next processing check, on this server and on a second one sharing the database;
// 50 concurrent decisions on one subject leave the current state equal to the ledger's last entry
// and the chain intact; permissions and errors at the HTTP boundary.
import { createHmac } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import {
  type ConsentLedger,
  consentMigrations,
  createConsentLedger,
} from "../src/data/privacy/consent/index.ts";
import { systemClock } from "../src/platform/clock.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { openStore, type Store } from "../src/platform/store/index.ts";
import { registerPrivacyConsentRoutes } from "../src/server/privacy-consent-routes.ts";
import { freshDatabase } from "./support/pg.ts";
import { byToken, type Callers, callApi, parseBody, serveRoutes } from "./support/privacy-routes.ts";
import { backends, openTestStore, type TestStore } from "./support/stores.ts";

const subjectKey = (id: string) => createHmac("sha256", "consent-int-key").update(id).digest("hex");
const notice = { id: "notice-2026-03", hash: "b".repeat(64) };

// Bearer tokens of this test's callers and the permissions their roles grant.
const callers: Callers = {
  "app-token": {
    actor: { kind: "api_key", id: "rpk_shop" },
    permissions: ["privacy:consent-write", "privacy:consent-check"],
  },
  "checker-token": { actor: { kind: "api_key", id: "rpk_mailer" }, permissions: ["privacy:consent-check"] },
  "dpo-token": { actor: { kind: "user", id: "corp:dpo" }, permissions: ["privacy:read"] },
};

/** A control plane with only the consent routes, its API authorised by the tokens above. */
const consentServer = (consent: ConsentLedger) =>
  serveRoutes((app) =>
    registerPrivacyConsentRoutes(app, consent, { authorize: byToken(callers), parseBody }),
  );
const call = callApi;

const check = async (url: string, subject: string, purpose: string) =>
  (
    await call(
      url,
      "GET",
      `/api/v1/privacy/consents/check?${new URLSearchParams({ subject, purpose })}`,
      "checker-token",
    )
  ).json;

describe("two servers sharing one PostgreSQL", () => {
  let db: { url: string; drop(): Promise<void> };
  let stores: Store[] = [];
  let servers: { app: FastifyInstance; url: string }[] = [];
  let ledgers: ConsentLedger[] = [];
  const events: SecurityEvent[] = [];

  beforeAll(async () => {
    db = await freshDatabase(inject("pgUrl"));
    stores = [
      await openStore({ url: db.url, migrations: consentMigrations }),
      await openStore({ url: db.url, migrations: consentMigrations }),
    ];
    ledgers = stores.map((store) =>
      createConsentLedger({ store, clock: systemClock, emit: (e) => events.push(e), subjectKey }),
    );
    servers = await Promise.all(ledgers.map(consentServer));
  });
  afterAll(async () => {
    for (const s of servers) await s.app.close();
    for (const s of stores) await s.close();
    await db?.drop();
  });

  test("withdrawal blocks processing checks immediately", async () => {
    const [a, b] = servers.map((s) => s.url) as [string, string];
    const subject = "asha@example.in";
    const given = await call(a, "POST", "/api/v1/privacy/consents", "app-token", {
      subject,
      purpose: "marketing.email",
      state: "given",
      notice,
      channel: "web",
      jurisdiction: "dpdp",
      evidence: { form: "signup" },
    });
    expect(given.status).toBe(201);
    expect(await check(a, subject, "marketing.email")).toMatchObject({ allowed: true, reason: "given" });
    expect(await check(b, subject, "marketing.email")).toMatchObject({
      allowed: true,
      noticeVersion: notice,
    });

    // Withdrawn through the second server, in the same shape as it was given.
    const withdrawn = await call(b, "POST", "/api/v1/privacy/consents", "app-token", {
      subject,
      purpose: "marketing.email",
      state: "withdrawn",
      channel: "app",
    });
    expect(withdrawn.status).toBe(201);
    expect(await check(a, subject, "marketing.email")).toMatchObject({ allowed: false, reason: "withdrawn" });
    expect(await check(b, subject, "marketing.email")).toMatchObject({ allowed: false, reason: "withdrawn" });

    // And back the other way: a grant on A is visible to B's very next check.
    await ledgers[0]?.record(
      { subject, purpose: "marketing.email", state: "given", notice, channel: "web", jurisdiction: "dpdp" },
      { kind: "api_key", id: "rpk_shop" },
    );
    expect(await check(b, subject, "marketing.email")).toMatchObject({ allowed: true });
    await ledgers[1]?.withdrawAll(subject, { kind: "user", id: "corp:dpo" });
    expect(await check(a, subject, "marketing.email")).toMatchObject({ allowed: false });
  });

  test("the API: permissions, current state, proof, and refusals that say where", async () => {
    const [a, b] = servers.map((s) => s.url) as [string, string];
    const subject = "ravi+kid@example.in";
    const base = {
      subject,
      purpose: "learning.progress",
      state: "given",
      notice,
      channel: "app",
      jurisdiction: "dpdp",
    };

    const noPermission = await call(a, "POST", "/api/v1/privacy/consents", "checker-token", base);
    expect(noPermission.status).toBe(403);
    const child = await call(a, "POST", "/api/v1/privacy/consents", "app-token", { ...base, child: true });
    expect(child).toMatchObject({
      status: 400,
      json: { error: "invalid", message: expect.stringMatching(/^parental: /) },
    });
    const ok = await call(a, "POST", "/api/v1/privacy/consents", "app-token", {
      ...base,
      child: true,
      parental: {
        guardianRef: "g-17",
        method: "digilocker_token",
        verifiedAt: "2026-03-01",
        verifiedBy: "kyc-desk",
      },
      subjectRef: "crm-77",
    });
    expect(ok.status).toBe(201);
    const ads = await call(a, "POST", "/api/v1/privacy/consents", "app-token", {
      ...base,
      purpose: "marketing.advertising",
    });
    expect(ads).toMatchObject({
      status: 400,
      json: { message: expect.stringMatching(/refused for children/) },
    });
    const bad = await call(a, "POST", "/api/v1/privacy/consents", "app-token", {
      ...base,
      channel: "carrier_pigeon",
    });
    expect(bad).toMatchObject({ status: 400, json: { message: expect.stringMatching(/^channel: /) } });

    const current = await call(
      b,
      "GET",
      `/api/v1/privacy/consents/${encodeURIComponent(subject)}`,
      "dpo-token",
    );
    expect(current.json).toMatchObject({
      subjectRef: "crm-77",
      child: true,
      parentalConsentOnFile: true,
      consents: [{ purpose: "learning.progress", allowed: true, state: "given" }],
    });
    expect(
      (await call(b, "GET", `/api/v1/privacy/consents/${encodeURIComponent(subject)}`, "app-token")).status,
    ).toBe(403);

    const proof = await call(
      b,
      "GET",
      `/api/v1/privacy/consents/${encodeURIComponent(subject)}/proof`,
      "dpo-token",
    );
    expect(proof.json).toMatchObject({
      format: "rampart.consent-proof/1",
      verification: { ok: true, entries: 1 },
    });
    expect(JSON.stringify(proof.json)).not.toContain(subject);
    expect((await call(b, "GET", "/api/v1/privacy/consents/nobody/proof", "dpo-token")).status).toBe(404);

    const noCheck = await call(a, "GET", `/api/v1/privacy/consents/check?subject=x&purpose=y`, "dpo-token");
    expect(noCheck.status).toBe(403);
    const unknown = await check(a, "never-seen@example.in", "marketing.email");
    expect(unknown).toMatchObject({ allowed: false, reason: "no_record" });
    for (const e of events) expect(JSON.stringify(e.data)).not.toMatch(/@example\.in/);
  });

  test("checks stay fast: 200 sequential checks over HTTP", async () => {
    const url = servers[0]?.url as string;
    const started = performance.now();
    for (let i = 0; i < 200; i++) await check(url, "asha@example.in", "marketing.email");
    const perCheck = (performance.now() - started) / 200;
    // A generous bound for a shared 2-core machine; the check is one indexed read.
    expect(perCheck).toBeLessThan(25);
  });
});

describe.each(backends)("concurrent decisions on %s", (backend) => {
  let ts: TestStore;
  let second: Store;
  // Opening the store (and PGlite's start) stays out of the test's own time limit.
  beforeAll(async () => {
    ts = await openTestStore(backend, consentMigrations);
    // On PostgreSQL the writes come through two stores (two servers' pools) at once.
    second = backend === "postgres" ? await ts.reopen() : ts.store;
  });
  afterAll(async () => {
    await ts?.cleanup();
  });

  test("50 parallel grants and withdrawals on one subject end consistent with the ledger's last entry", async () => {
    const ledgers = [ts.store, second].map((store) =>
      createConsentLedger({ store, clock: systemClock, emit: () => {}, subjectKey }),
    );
    const subject = `busy-${backend}@example.in`;
    const purposes = ["marketing.email", "analytics"];
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (ledgers[i % 2] as ConsentLedger).record(
          {
            subject,
            purpose: purposes[i % 3 === 0 ? 1 : 0] as string,
            state: Math.random() < 0.5 ? "given" : "withdrawn",
            notice,
            channel: "api",
            jurisdiction: "gdpr",
          },
          { kind: "api_key", id: `rpk_${i}` },
        ),
      ),
    );
    const proof = await ledgers[0]?.proof(subject);
    expect(proof?.verification).toMatchObject({ ok: true, entries: 50 });
    expect(proof?.entries.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const current = await ledgers[1]?.current(subject);
    for (const purpose of purposes) {
      const last = proof?.entries.filter((e) => e.purpose === purpose).at(-1);
      const now = current?.consents.find((c) => c.purpose === purpose);
      expect(now).toMatchObject({ state: last?.state, seq: last?.seq });
      expect((await ledgers[0]?.check(subject, purpose))?.allowed).toBe(last?.state === "given");
    }
  });
});
