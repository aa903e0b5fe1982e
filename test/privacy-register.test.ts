// The processor and DPIA registers over HTTP and through `rampart privacy processors|dpias`:
// CRUD with permissions, YAML import with located errors, approval and the findings compliance
// checks read, on real PostgreSQL.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { registerPrivacyRegisterCommands } from "../src/cli/privacy-register.ts";
import { createPrivacyRegister, registerMigrations } from "../src/data/privacy/register/index.ts";
import { manualClock } from "../src/platform/clock.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { registerPrivacyRegisterRoutes } from "../src/server/privacy-register-routes.ts";
import {
  byToken,
  type Callers,
  callApi,
  parseBody,
  runPrivacyCli,
  serveRoutes,
} from "./support/privacy-routes.ts";
import { openTestStore, type TestStore } from "./support/stores.ts";

const callers: Callers = {
  "dpo-token": { actor: { kind: "user", id: "corp:dpo" }, permissions: ["privacy:read", "privacy:write"] },
  "auditor-token": { actor: { kind: "user", id: "corp:auditor" }, permissions: ["privacy:read"] },
};

const processorsYaml = `processors:
  - key: mailer
    name: Postmark
    service: transactional email
    categories: [user.contact.email]
    regions: [IN]
    dpa: { signedAt: 2026-01-10, reference: contracts/postmark-dpa.pdf }
    lastAssessedAt: 2026-01-10
  - key: crm
    name: Acme CRM
    service: customer records
    regions: [us-east-1]
`;

const dpiasYaml = `dpias:
  - key: kyc-2026
    title: Video KYC with face matching
    system: onboarding
    highRiskReasons: [biometric data at large scale]
    risks:
      - risk: face templates leak
        likelihood: medium
        severity: high
        measures: [templates encrypted with a KMS key]
    significantDataFiduciary: true
`;

describe("privacy register API and CLI", () => {
  let ts: TestStore;
  let app: FastifyInstance;
  let url: string;
  let work: string;
  const events: SecurityEvent[] = [];
  const clock = manualClock("2026-03-01T00:00:00Z");

  beforeAll(async () => {
    ts = await openTestStore("postgres", registerMigrations);
    const privacyRegister = createPrivacyRegister({
      store: ts.store,
      clock,
      emit: (e) => events.push(e),
      config: { homeRegions: ["IN"] },
    });
    ({ app, url } = await serveRoutes((a) =>
      registerPrivacyRegisterRoutes(a, { privacyRegister }, { authorize: byToken(callers), parseBody }),
    ));
    work = mkdtempSync(join(tmpdir(), "rampart-privacy-register-"));
  });
  afterAll(async () => {
    await app?.close();
    await ts?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Runs `rampart privacy ARGS` in this process against the test server; stdout, or the error. */
  const cli = (args: string[], token = "dpo-token") =>
    runPrivacyCli(registerPrivacyRegisterCommands, args, { url, token });
  const call = (method: string, path: string, token: string, body?: unknown) =>
    callApi(url, method, path, token, body);

  test("processors: import from YAML, list, show, findings; a broken file is located", async () => {
    writeFileSync(join(work, "processors.yaml"), processorsYaml);
    const imported = await cli(["processors", "import", join(work, "processors.yaml")]);
    expect(imported.error).toBeUndefined();
    expect(imported.out).toBe("imported 2 processor(s): mailer, crm");
    // Importing again replaces rather than failing.
    expect((await cli(["processors", "import", join(work, "processors.yaml")])).out).toMatch(/imported 2/);

    const list = JSON.parse((await cli(["processors", "list", "--json"])).out) as { key: string }[];
    expect(list.map((p) => p.key)).toEqual(["crm", "mailer"]);
    const show = await cli(["processors", "show", "crm"]);
    expect(show.out).toMatch(/outside home: us-east-1/);
    expect(show.out).toMatch(/DPA\s+none/);

    const findings = JSON.parse((await cli(["processors", "findings", "--json"])).out) as {
      code: string;
      key: string;
    }[];
    expect(findings.map((f) => `${f.key}:${f.code}`)).toEqual([
      "crm:processor_without_dpa",
      "crm:processor_assessment_stale",
      "crm:transfer_without_mechanism",
    ]);

    writeFileSync(join(work, "broken.yaml"), processorsYaml.replace("regions: [us-east-1]", "regions: []"));
    const broken = await cli(["processors", "import", join(work, "broken.yaml")]);
    expect(broken.error?.message).toMatch(
      /broken\.yaml:12:14 processors\[1\]\.regions: name at least one region/,
    );
  });

  test("processors add with flags, duplicate refused, read-only callers refused", async () => {
    const added = await cli([
      "processors",
      "add",
      "--key",
      "payments",
      "--name",
      "Razorpay",
      "--service",
      "payments",
      "--region",
      "IN",
      "--dpa-signed",
      "2026-02-01",
      "--dpa-ref",
      "contracts/razorpay.pdf",
      "--assessed",
      "2026-02-01",
    ]);
    expect(added.out).toMatch(/^added payments/);
    expect(
      (
        await cli([
          "processors",
          "add",
          "--key",
          "payments",
          "--name",
          "x",
          "--service",
          "y",
          "--region",
          "IN",
        ])
      ).error?.message,
    ).toMatch(/409/);
    expect((await cli(["processors", "remove", "payments"], "auditor-token")).error?.message).toMatch(/403/);
    expect((await call("GET", "/api/v1/privacy/processors/payments", "auditor-token")).json).toMatchObject({
      name: "Razorpay",
      nextReviewAt: "2027-02-01T00:00:00.000Z",
    });
    const mismatch = await call("PUT", "/api/v1/privacy/processors/payments", "dpo-token", {
      key: "other",
      name: "x",
      service: "y",
      regions: ["IN"],
    });
    expect(mismatch).toMatchObject({
      status: 400,
      json: { message: expect.stringMatching(/^key: must match/) },
    });
    expect((await call("DELETE", "/api/v1/privacy/processors/payments", "dpo-token")).status).toBe(200);
    expect((await call("GET", "/api/v1/privacy/processors/payments", "dpo-token")).status).toBe(404);
    expect(events.filter((e) => e.type === "privacy.processor_changed").map((e) => e.data.change)).toContain(
      "deleted",
    );
  });

  test("DPIAs: import, approve, review falls due a year later", async () => {
    writeFileSync(join(work, "dpias.yaml"), dpiasYaml);
    expect((await cli(["dpias", "import", join(work, "dpias.yaml")])).out).toBe(
      "imported 1 DPIA(s): kyc-2026 (draft)",
    );
    expect((await cli(["dpias", "findings"])).out).toMatch(/dpia_not_approved\s+dpia kyc-2026/);
    const approved = await cli(["dpias", "approve", "kyc-2026", "--outcome", "proceed_with_measures"]);
    expect(approved.out).toBe("approved kyc-2026 by user:corp:dpo; review due 2027-03-01");
    expect((await cli(["dpias", "findings"])).out).toBe("no findings");

    clock.set("2027-03-05T00:00:00Z");
    expect((await cli(["dpias", "show", "kyc-2026"])).out).toMatch(/^kyc-2026 {2}review_due/);
    const overdue = JSON.parse((await cli(["dpias", "findings", "--json"])).out) as {
      code: string;
      severity: string;
    }[];
    expect(overdue).toEqual([expect.objectContaining({ code: "dpia_review_overdue", severity: "high" })]);
    expect((await cli(["dpias", "list"])).out).toMatch(/kyc-2026\s+review_due/);
    expect(events.filter((e) => e.type === "privacy.dpia_changed").map((e) => e.data.change)).toEqual([
      "created",
      "approved",
    ]);
  });
});
