// The consent statistics the console's privacy page draws, over the real consent ledger on PGlite
// and PostgreSQL: per purpose the live consents, the withdrawals and the consents past their expiry,
// as the ledger's current state (a subject's later decision replaces the earlier one); counts only,
// never a subject; privacy:read required; a stray query parameter is a clear 400; and a server
// without the store behind the statistics says so (503).
import { createHmac } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type ConsentLedger,
  consentMigrations,
  createConsentLedger,
} from "../src/data/privacy/consent/index.ts";
import { manualClock } from "../src/platform/clock.ts";
import { registerPrivacyConsentRoutes } from "../src/server/privacy-consent-routes.ts";
import { byToken, type Callers, callApi, parseBody, serveRoutes } from "./support/privacy-routes.ts";
import { backends, openTestStore, type TestStore } from "./support/stores.ts";

const subjectKey = (id: string) => createHmac("sha256", "console-stats-key").update(id).digest("hex");
const notice = { id: "notice-2026-11", hash: "c".repeat(64) };
const callers: Callers = {
  "dpo-token": { actor: { kind: "user", id: "corp:dpo" }, permissions: ["privacy:read"] },
  "app-token": { actor: { kind: "api_key", id: "rpk_shop" }, permissions: ["privacy:consent-write"] },
};
const kit = { authorize: byToken(callers), parseBody };

describe.each(backends)("consent statistics on %s", (backend) => {
  let ts: TestStore;
  let ledger: ConsentLedger;
  let server: { app: FastifyInstance; url: string };
  const clock = manualClock("2026-11-20T09:00:00Z");
  const by = { kind: "api_key", id: "rpk_shop" };

  const give = (subject: string, purpose: string, expiresAt?: string) =>
    ledger.record(
      {
        subject,
        purpose,
        state: "given",
        notice,
        channel: "web",
        jurisdiction: "gdpr",
        ...(expiresAt ? { expiresAt } : {}),
      },
      by,
    );
  const withdraw = (subject: string, purpose: string) =>
    ledger.record({ subject, purpose, state: "withdrawn", channel: "app" }, by);

  beforeAll(async () => {
    ts = await openTestStore(backend, consentMigrations);
    ledger = createConsentLedger({ store: ts.store, clock, emit: () => {}, subjectKey });
    server = await serveRoutes((app) => registerPrivacyConsentRoutes(app, ledger, kit));
  }, 60_000);
  afterAll(async () => {
    await server?.app.close();
    await ts?.cleanup();
  });

  test("an empty ledger has no purposes and no subjects", async () => {
    const r = await callApi(server.url, "GET", "/api/v1/privacy/consent-stats", "dpo-token");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ at: "2026-11-20T09:00:00.000Z", subjects: 0, purposes: [] });
  });

  test("counts the current state per purpose: granted, withdrawn, expired", async () => {
    await give("ana@example.com", "marketing.email");
    await give("bo@example.com", "marketing.email");
    await give("cy@example.com", "marketing.email", "2026-11-20T10:00:00Z");
    await give("ana@example.com", "analytics.reporting");
    await give("bo@example.com", "analytics.reporting");
    await withdraw("bo@example.com", "analytics.reporting");
    // Given again after a withdrawal: counted once, as granted.
    await withdraw("ana@example.com", "marketing.email");
    await give("ana@example.com", "marketing.email");

    const before = await callApi(server.url, "GET", "/api/v1/privacy/consent-stats", "dpo-token");
    expect(before.status).toBe(200);
    expect(before.json).toEqual({
      at: "2026-11-20T09:00:00.000Z",
      subjects: 3,
      purposes: [
        { purpose: "analytics.reporting", given: 1, withdrawn: 1, expired: 0 },
        { purpose: "marketing.email", given: 3, withdrawn: 0, expired: 0 },
      ],
    });

    // Two hours on, Cy's consent has lapsed: no longer counted as granted.
    clock.advance(2 * 3_600_000);
    const after = await callApi(server.url, "GET", "/api/v1/privacy/consent-stats", "dpo-token");
    expect(after.json.purposes).toEqual([
      { purpose: "analytics.reporting", given: 1, withdrawn: 1, expired: 0 },
      { purpose: "marketing.email", given: 2, withdrawn: 0, expired: 1 },
    ]);
    // Counts only: no subject, not even its keyed hash.
    const text = JSON.stringify(after.json);
    expect(text).not.toContain("example.com");
    expect(text).not.toContain(subjectKey("ana@example.com"));
  });

  test("needs privacy:read and takes no parameters", async () => {
    const denied = await callApi(server.url, "GET", "/api/v1/privacy/consent-stats", "app-token");
    expect(denied.status).toBe(403);
    expect(denied.json.message).toContain("privacy:read");
    const stray = await callApi(server.url, "GET", "/api/v1/privacy/consent-stats?subject=ana", "dpo-token");
    expect(stray.status).toBe(400);
    expect(stray.json.message).toMatch(/subject|unrecognized/i);
  });
});
