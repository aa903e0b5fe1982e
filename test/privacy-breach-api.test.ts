// The breach register's API and `rampart privacy breach|retention` commands over HTTP, on a
// Fastify app with the real routes and register over PGlite. Until the server wires the routes in,
// callers are told apart by a fixed token → permissions table standing in for RBAC.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { registerPrivacyBreachCommands } from "../src/cli/privacy-breach.ts";
import { registerPrivacyRetentionCommands } from "../src/cli/privacy-retention.ts";
import {
  breachConfigSchema,
  breachMigrations,
  createBreachRegister,
} from "../src/data/privacy/breach/index.ts";
import { createRetention, retentionMigrations } from "../src/data/privacy/retention/index.ts";
import type { DsrEngine } from "../src/data/privacy/dsr/types.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { openStore, type Store } from "../src/platform/store/index.ts";
import { registerPrivacyBreachRoutes } from "../src/server/privacy-breach-routes.ts";
import {
  byToken,
  type Callers,
  callApi,
  parseBody,
  runPrivacyCli,
  serveRoutes,
} from "./support/privacy-routes.ts";

const callers: Callers = {
  "tok-officer": {
    actor: { kind: "user", id: "corp:tok-officer" },
    permissions: ["privacy:read", "privacy:write"],
  },
  "tok-reader": { actor: { kind: "user", id: "corp:tok-reader" }, permissions: ["privacy:read"] },
};

describe("privacy breach API and CLI", () => {
  let dir: string;
  let store: Store;
  let app: FastifyInstance;
  let url: string;
  const events: SecurityEvent[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rampart-privacy-breach-"));
    store = await openStore({ dataDir: dir, migrations: { ...breachMigrations, ...retentionMigrations } });
    const clock = { now: () => new Date() };
    const breaches = createBreachRegister({
      store,
      clock,
      emit: (e) => events.push(e),
      config: () =>
        breachConfigSchema.parse({ controller: { name: "Shop Ltd", contact: "dpo@shop.example" } }),
    });
    const retention = createRetention({
      store,
      clock,
      emit: (e) => events.push(e),
      map: () => ({
        systems: [],
        purposes: [],
        datasets: [],
        retention: [
          {
            key: "held",
            categories: [],
            purposes: [],
            period: "P3Y",
            trigger: "last_activity",
            timestampField: "shop.users.last_active_at",
            identityField: "shop.users.email",
            action: "delete",
            legalHold: true,
          },
        ],
      }),
      connectorFor: () => {
        throw new Error("no store is read under legal hold");
      },
      engine: {} as DsrEngine,
    });
    ({ app, url } = await serveRoutes((a) =>
      registerPrivacyBreachRoutes(
        a,
        { breaches, retention, clock },
        { authorize: byToken(callers, "unauthorized"), parseBody },
      ),
    ));
  });
  afterAll(async () => {
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (method: string, path: string, token: string, body?: unknown) =>
    callApi(url, method, path, token, body);

  /** Runs `rampart privacy ARGS` in-process against the app; returns what it printed. */
  const cli = async (args: string[], token = "tok-officer") => {
    const run = await runPrivacyCli(
      (privacy) => {
        registerPrivacyBreachCommands(privacy);
        registerPrivacyRetentionCommands(privacy);
      },
      args,
      { url, token },
    );
    if (run.error) throw run.error;
    return run.out;
  };

  test("open, read, notify and draft over HTTP with privacy:read / privacy:write", async () => {
    const body = {
      title: "Support inbox exposed",
      description: "A support mailbox was reachable without sign-in for two days.",
      regimes: ["gdpr", "cert_in"],
      dataCategories: ["user.contact.email"],
      approxSubjects: 300,
    };
    expect((await call("POST", "/api/v1/privacy/breaches", "tok-reader", body)).status).toBe(403);
    expect((await call("POST", "/api/v1/privacy/breaches", "nobody", body)).status).toBe(401);
    const bad = await call("POST", "/api/v1/privacy/breaches", "tok-officer", { ...body, regimes: ["ccpa"] });
    expect(bad.status).toBe(400);
    const opened = await call("POST", "/api/v1/privacy/breaches", "tok-officer", body);
    expect(opened.status).toBe(201);
    const id = opened.json["id"] as string;
    expect(opened.json["clocks"]).toHaveLength(2);

    const got = await call("GET", `/api/v1/privacy/breaches/${id}`, "tok-reader");
    expect(got.json).toMatchObject({ id, status: "detected", regimes: ["gdpr", "cert_in"] });
    expect((await call("GET", "/api/v1/privacy/breaches/BR-1999-0001", "tok-reader")).status).toBe(404);

    const moved = await call("PATCH", `/api/v1/privacy/breaches/${id}`, "tok-officer", { status: "closed" });
    expect(moved.status).toBe(409);
    expect(moved.json.message).toMatch(/allowed: assessed/);

    const notified = await call("POST", `/api/v1/privacy/breaches/${id}/notifications`, "tok-officer", {
      regime: "cert_in",
      recipient: "authority",
      reference: "CERTIN-123",
    });
    expect(notified.status).toBe(201);
    expect(notified.json).toMatchObject({ status: "notified_authority" });
    expect(
      (notified.json["clocks"] as { key: string; state: string }[]).find((c) => c.key === "cert_in.report")
        ?.state,
    ).toBe("met");
    const drafts = await call(
      "GET",
      `/api/v1/privacy/breaches/${id}/drafts?kind=gdpr_authority`,
      "tok-reader",
    );
    expect((drafts.json["drafts"] as { body: string }[])[0]?.body).toContain("about 300");
    const listed = await call("GET", "/api/v1/privacy/breaches?open=true", "tok-reader");
    expect((listed.json["breaches"] as { id: string }[]).map((b) => b.id)).toContain(id);
    expect(events.find((e) => e.type === "privacy.breach_notified")?.actor).toEqual({
      kind: "user",
      id: "corp:tok-officer",
    });
  });

  test("the CLI opens a breach and shows its clocks with progress bars", async () => {
    const opened = await cli([
      "breach",
      "open",
      "--title",
      "Lost laptop",
      "--description",
      "An unencrypted laptop with an HR export was stolen.",
      "--regime",
      "gdpr,dpdp",
      "--data",
      "user.name,user.contact",
      "--people",
      "40",
    ]);
    const id = /opened (BR-\d{4}-\d{4})/.exec(opened)?.[1] as string;
    expect(id).toBeDefined();
    expect(opened).toMatch(/GDPR authority:\s+due in 7[12]h \d+m \(72h from aware\) \[-{20}\]/);
    expect(opened).toMatch(
      /DPDP principals:\s+due in 2[34]h \d+m \(24h from aware, target for 'without delay'\)/,
    );

    const shown = JSON.parse(await cli(["breach", "show", id, "--json"])) as {
      id: string;
      approxSubjects: number;
    };
    expect(shown).toMatchObject({ id, approxSubjects: 40 });

    const notified = await cli(["breach", "notify", id, "--regime", "dpdp", "--to", "subjects"]);
    expect(notified).toMatch(/DPDP principals:\s+met /);
    const draft = await cli(["breach", "draft", id, "--kind", "dpdp_principals"]);
    expect(draft).toContain("What you can do");
    expect(draft).toContain("dpo@shop.example");
    // Once people were told, it is reportable; it can only close.
    await expect(cli(["breach", "move", id, "not_reportable", "--reason", "x"])).rejects.toThrow(
      /allowed: closed/,
    );
    await expect(cli(["breach", "move", id, "closed"])).resolves.toContain(`${id} is closed`);
    expect(await cli(["breach", "list"])).toContain(id);
  });

  test("the CLI runs retention through the API, dry or not", async () => {
    const dry = await cli(["retention", "run", "--dry-run"]);
    expect(dry).toContain("retention dry run (nothing changed)");
    expect(dry).toContain("held: skipped: legal_hold");
    const report = JSON.parse(await cli(["retention", "run", "--json"])) as { dryRun: boolean };
    expect(report.dryRun).toBe(false);
    await expect(cli(["retention", "run"], "tok-reader")).rejects.toThrow(/403/);
  });
});
