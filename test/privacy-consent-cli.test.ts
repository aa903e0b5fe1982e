// `rampart privacy consent` against a control plane with the consent routes: give, check (exit 1
// when not allowed), withdraw, show, export the proof and verify it offline, tampered or not.
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { registerPrivacyConsentCommands } from "../src/cli/privacy-consent.ts";
import { consentMigrations, createConsentLedger } from "../src/data/privacy/consent/index.ts";
import { systemClock } from "../src/platform/clock.ts";
import { Forbidden } from "../src/platform/errors.ts";
import { registerPrivacyConsentRoutes } from "../src/server/privacy-consent-routes.ts";
import { parseBody, runPrivacyCli, serveRoutes } from "./support/privacy-routes.ts";
import { openTestStore, type TestStore } from "./support/stores.ts";

describe("rampart privacy consent", () => {
  let ts: TestStore;
  let app: FastifyInstance;
  let url: string;
  let work: string;

  beforeAll(async () => {
    ts = await openTestStore("pglite", consentMigrations);
    const consent = createConsentLedger({
      store: ts.store,
      clock: systemClock,
      emit: () => {},
      subjectKey: (id) => createHmac("sha256", "cli-key").update(id).digest("hex"),
    });
    const authorize = async (req: FastifyRequest, action: string) => {
      if (req.headers.authorization !== "Bearer officer") throw new Forbidden(`missing permission ${action}`);
      return { actor: { kind: "user", id: "corp:dpo" }, identity: {} as never };
    };
    ({ app, url } = await serveRoutes((a) =>
      registerPrivacyConsentRoutes(a, consent, { authorize, parseBody }),
    ));
    work = mkdtempSync(join(tmpdir(), "rampart-consent-cli-"));
  });
  afterAll(async () => {
    await app?.close();
    await ts?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const cli = (args: string[]) =>
    runPrivacyCli(registerPrivacyConsentCommands, ["consent", ...args], { url, token: "officer" });

  test("give, check, withdraw, show, proof and offline verification", async () => {
    writeFileSync(join(work, "notice.txt"), "We email offers. Withdraw any time.");
    const given = await cli([
      "give",
      "meera@example.in",
      "marketing.email",
      "--notice-id",
      "v3",
      "--notice-file",
      join(work, "notice.txt"),
      "--jurisdiction",
      "dpdp",
      "--channel",
      "paper",
      "--evidence",
      '{"scan":"forms/2026/0042.pdf"}',
    ]);
    expect(given.error).toBeUndefined();
    expect(given.out).toMatch(/#1\s+.*given\s+marketing\.email\s+notice v3\s+via paper/);

    expect(await cli(["check", "meera@example.in", "marketing.email"])).toMatchObject({
      out: expect.stringMatching(/^allowed: given \(notice v3/),
      exitCode: 0,
    });
    expect(await cli(["check", "meera@example.in", "analytics"])).toMatchObject({
      out: "NOT allowed: no_record",
      exitCode: 1,
    });

    expect(
      (await cli(["withdraw", "meera@example.in", "marketing.email", "--channel", "email"])).out,
    ).toMatch(/#2\s+.*withdrawn/);
    expect((await cli(["check", "meera@example.in", "marketing.email"])).exitCode).toBe(1);
    expect((await cli(["show", "meera@example.in"])).out).toMatch(/marketing\.email\s+withdrawn\s+withdrawn/);
    expect(
      (await cli(["give", "meera@example.in", "analytics", "--jurisdiction", "dpdp"])).error?.message,
    ).toMatch(/400 notice: consent needs the notice shown/);

    const file = join(work, "proof.json");
    expect((await cli(["proof", "meera@example.in", "--out", file])).out).toMatch(/chain intact: 2 entries/);
    expect(await cli(["verify", file])).toMatchObject({
      out: expect.stringMatching(/chain intact/),
      exitCode: 0,
    });

    const proof = JSON.parse(readFileSync(file, "utf8")) as { entries: { channel: string }[] };
    (proof.entries[0] as { channel: string }).channel = "web";
    writeFileSync(file, JSON.stringify(proof));
    expect(await cli(["verify", file])).toMatchObject({
      out: expect.stringMatching(/CHAIN BROKEN at entry 1: entry 1 was altered/),
      exitCode: 1,
    });
  });
});
