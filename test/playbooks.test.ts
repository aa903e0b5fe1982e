// Playbooks acting on a real control plane (PGlite, memory hot state): the credential-leak playbook
// revokes the leaked key, blocks the address, ends the holder's access, rotates every secret they
// could read, and snapshots evidence — each step in the audit log with the playbook as actor and
// the rule that triggered it. A dry run changes nothing; a failing step stops or continues.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { rampartConfigSchema } from "../src/config/index.ts";
import { type AuditTables, queryEntries, subjectRef, verifyBundle } from "../src/monitoring/audit/index.ts";
import type { Detection } from "../src/monitoring/detect/types.ts";
import {
  createPlaybooks,
  loadPlaybooks,
  parsePlaybook,
  type Playbook,
  type PlaybookActions,
} from "../src/monitoring/playbooks/index.ts";
import { createBlockList } from "../src/network/gateway/blocks.ts";
import { createLockdowns } from "../src/network/gateway/lockdown.ts";
import type { EventRef } from "../src/platform/events/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import {
  type BreachClock,
  createPlaybookActions,
  type IncidentHooks,
  playbookCaller,
} from "../src/server/playbook-actions.ts";
import { type Runtime, startRuntime } from "../src/server/runtime.ts";
import { callerOf } from "./support/secrets.ts";

const alice = "corp:alice";
const rule: EventRef = { kind: "rule", id: "credential-new-ip" };
const admin = playbookCaller({ kind: "token", id: "admin" });

let work: string;
let rt: Runtime;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "rampart-playbooks-"));
  const config = rampartConfigSchema.parse({
    version: 1,
    database: { dataDir: join(work, "data") },
    routes: [{ id: "grafana", path: "/grafana", upstream: "http://127.0.0.1:9", environment: "prod" }],
    secrets: {
      policies: [{ name: "api-team", paths: ["/prod/api/**"], capabilities: ["read"], users: [alice] }],
      rotation: [
        { path: "/prod/api/token", everyDays: 30, target: { kind: "random" } },
        { path: "/prod/api/webhook", everyDays: 30, target: { kind: "random" } },
        { path: "/prod/billing/db", everyDays: 30, target: { kind: "random" } },
        { path: "/prod/other/key", everyDays: 30, target: { kind: "random" } },
      ],
    },
  });
  rt = await startRuntime({ config, logger: createLogger({ level: "silent" }) });
  const secrets = rt.secrets;
  if (!secrets) throw new Error(rt.secretsProblem);
  for (const path of [
    "/prod/api/token",
    "/prod/api/webhook",
    "/prod/api/plain",
    "/prod/billing/db",
    "/prod/other/key",
  ])
    await secrets.put(admin, path, { value: `initial-${path}` });
  // Alice read the token (the secrets read log), and may read all of /prod/api/ (the policies).
  await secrets.get(callerOf("user", alice), "/prod/api/token");
}, 60_000);

afterAll(async () => {
  await rt?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

function runnerWith(actions: PlaybookActions, playbooks: Playbook[] = loadPlaybooks({ dirs: [] })) {
  return createPlaybooks({
    store: rt.store,
    clock: rt.clock,
    emit: (e) => rt.bus.emit(e),
    logger: rt.logger,
    actions,
    load: () => playbooks,
  });
}

function detectionFor(credential: string, ip: string): Detection {
  return {
    id: `d-${credential}`,
    rule: "credential-new-ip",
    title: "API key used from a new address",
    priority: "P1",
    fingerprint: `credential-new-ip:${credential}`,
    group: { credential, subject: alice, ip, actor: `user:${alice}` },
    count: 1,
    firstAt: new Date().toISOString(),
    lastAt: new Date().toISOString(),
    firedAt: new Date().toISOString(),
    events: [],
    entities: [{ kind: "api_key", id: credential }],
    summary: `API key ${credential} used from new address ${ip}`,
  };
}

async function newKey() {
  return rt.identity.apiKeys.create(
    { kind: "user", subject: alice, scopes: ["api"], ttlSeconds: 86_400 },
    { kind: "token", id: "admin" },
  );
}

const versionOf = async (path: string) => (await rt.secrets!.metadata(admin, path)).currentVersion;

async function auditEntries(q: { actor?: string; type?: string }) {
  await rt.bus.flush();
  const { entries } = await queryEntries(rt.store.db.withTables<AuditTables>(), { ...q, limit: 1000 }, (r) =>
    subjectRef(r, rt.audit.subjectKey),
  );
  return entries;
}

test("a dry run resolves every step and changes nothing", async () => {
  const { key, apiKey } = await newKey();
  const runner = runnerWith(createPlaybookActions(rt));
  const run = await runner.run(
    "credential-leak",
    {
      incident: { id: "inc-dry", priority: "P1" },
      detection: detectionFor(apiKey.id, "192.0.2.10"),
      inputs: { db_secret: "/prod/billing/db" },
      dryRun: true,
    },
    rule,
  );
  expect(run.status).toBe("dry_run");
  expect(run.steps.filter((s) => s.status === "failed")).toEqual([]);
  expect(run.steps.find((s) => s.step === "rotate-db")?.result).toEqual({
    with: { path: "/prod/billing/db", retirePrevious: true },
  });
  expect(await rt.identity.apiKeys.verifyApiKey(key)).toMatchObject({ subject: alice });
  expect(await createBlockList(rt.hot, { clock: rt.clock }).list()).toEqual([]);
  expect(await versionOf("/prod/billing/db")).toBe(1);
});

describe("the credential-leak playbook, for real", () => {
  const breach: Array<{ id: string; clocks: BreachClock[] }> = [];
  const notes: string[] = [];
  const sent: string[] = [];
  const moves: string[] = [];
  const hooks: IncidentHooks = {
    // Stand-ins for the incidents and alerts services the server wires in.
    recordBreachClocks: (id, clocks) => Promise.resolve(void breach.push({ id, clocks })),
    incidentNote: (_id, text) => Promise.resolve(void notes.push(text)),
    notify: (text) => Promise.resolve(void sent.push(text)),
    incidentTransition: (_id, to) => Promise.resolve(void moves.push(to)),
  };

  test("contains, eradicates and audits every step with the playbook and its trigger", async () => {
    const leaked = await newKey();
    const other = await newKey();
    const runner = runnerWith(createPlaybookActions(rt, hooks));
    const run = await runner.run(
      "credential-leak",
      {
        incident: { id: "inc-1", priority: "P1" },
        detection: detectionFor(leaked.apiKey.id, "203.0.113.7"),
        inputs: { db_secret: "/prod/billing/db" },
      },
      rule,
    );
    const status = Object.fromEntries(run.steps.map((s) => [s.step, s.status]));
    expect(status).toEqual({
      "start-breach-clocks": "done",
      "note-start": "done",
      triage: "waiting_manual",
      "revoke-key": "done",
      "block-ip": "done",
      "revoke-subject": "done",
      "snapshot-evidence": "done",
      notify: "done",
      "mark-contained": "done",
      "confirm-stopped": "waiting_manual",
      scope: "waiting_manual",
      "rotate-readable": "done",
      "rotate-db": "done",
      "mark-eradicated": "done",
      "remove-persistence": "waiting_manual",
      recover: "waiting_manual",
      lessons: "waiting_manual",
    });
    expect(run.status).toBe("waiting");

    // The key is dead, and so is every other credential of its holder.
    expect(await rt.identity.apiKeys.verifyApiKey(leaked.key)).toBeUndefined();
    expect(await rt.identity.apiKeys.verifyApiKey(other.key)).toBeUndefined();
    expect((await rt.identity.apiKeys.get(leaked.apiKey.id))?.revokedBy).toBe("credential-leak");
    // Every gateway sharing the hot state now refuses the address.
    expect(await createBlockList(rt.hot, { clock: rt.clock }).list()).toEqual([
      expect.objectContaining({ target: "203.0.113.7", by: "playbook:credential-leak" }),
    ]);
    // Rotated: what she read, what the policies let her read (if it has a schedule), the named DB secret.
    expect(run.steps.find((s) => s.step === "rotate-readable")?.result).toEqual({
      subject: alice,
      readFromLog: ["/prod/api/token"],
      grantedByPolicy: ["/prod/api/plain", "/prod/api/token", "/prod/api/webhook"],
      rotated: [
        { path: "/prod/api/token", version: 2 },
        { path: "/prod/api/webhook", version: 2 },
      ],
      failed: [],
      withoutSchedule: ["/prod/api/plain"],
    });
    expect(await versionOf("/prod/billing/db")).toBe(2);
    expect(await versionOf("/prod/other/key")).toBe(1);
    expect(await versionOf("/prod/api/plain")).toBe(1);
    // The breach clocks were recorded on the incident with their deadlines.
    expect(breach).toHaveLength(1);
    const [clock] = breach;
    const certIn = clock?.clocks.find((c) => c.kind === "cert-in-6h");
    expect(Date.parse(certIn!.dueAt) - Date.parse(certIn!.startedAt)).toBe(6 * 3_600_000);
    expect(clock?.clocks.map((c) => c.kind)).toEqual(["dpdp-72h", "gdpr-72h", "cert-in-6h"]);
    expect(sent[0]).toContain(`key ${leaked.apiKey.id} revoked`);
    expect(notes[0]).toContain("treated as compromised");
    expect(moves).toEqual(["contained", "eradicated"]);

    // Evidence: a write-once file whose hash is returned, backed by a verifiable audit bundle.
    const evidence = run.steps.find((s) => s.step === "snapshot-evidence")?.result as {
      file: string;
      sha256: string;
      entries: number;
      bundle: { dir: string };
    };
    expect(evidence.file).toBe(join(rt.dataDir, "evidence", "inc-1", `${run.id}-snapshot-evidence.json`));
    const text = readFileSync(evidence.file);
    expect(createHash("sha256").update(text).digest("hex")).toBe(evidence.sha256);
    const doc = JSON.parse(text.toString()) as { entries: Array<{ type: string }>; run: string };
    expect(doc.run).toBe(run.id);
    expect(doc.entries.some((e) => e.type === "secrets.read")).toBe(true);
    expect(
      verifyBundle(join(rt.dataDir, "evidence", "inc-1", evidence.bundle.dir), rt.audit.verifierKey),
    ).toMatchObject({
      ok: true,
    });

    // The audit log proves each step: the playbook acted, the rule triggered it.
    const byPlaybook = await auditEntries({ actor: "playbook:credential-leak" });
    const steps = byPlaybook.filter((e) => e.type === "playbook.step_executed" && e.data.run === run.id);
    expect(steps.map((e) => e.data.step).sort()).toEqual(
      [
        "start-breach-clocks",
        "note-start",
        "revoke-key",
        "block-ip",
        "revoke-subject",
        "snapshot-evidence",
        "notify",
        "mark-contained",
        "rotate-readable",
        "rotate-db",
        "mark-eradicated",
      ].sort(),
    );
    for (const e of steps)
      expect(e.data).toMatchObject({
        incident: "inc-1",
        triggeredBy: "rule:credential-new-ip",
        dryRun: false,
      });
    expect(steps.find((e) => e.data.step === "block-ip")?.target).toBe("ip:203.0.113.7");
    expect(steps.find((e) => e.data.step === "revoke-key")?.target).toBe(`api_key:${leaked.apiKey.id}`);
    const types = new Set(byPlaybook.map((e) => e.type));
    for (const t of [
      "playbook.started",
      "identity.api_key_revoked",
      "gateway.block_added",
      "secrets.rotation_requested",
      "secrets.access_reviewed",
      "evidence.snapshot_taken",
    ])
      expect(types, t).toContain(t);

    // People tick the checklists; the run completes.
    let now = run;
    for (const s of run.steps.filter((x) => x.manual))
      now = await runner.check(run.id, s.step, "all", { kind: "user", id: "corp:bob" });
    expect(now.status).toBe("completed");
    const done = await auditEntries({ type: "playbook.completed" });
    expect(done.find((e) => e.data.run === run.id)?.data).toMatchObject({ status: "completed" });
  });

  test("incident actions without their service fail their step clearly, and the run goes on", async () => {
    const runner = runnerWith(createPlaybookActions(rt));
    const run = await runner.run("personal-data-breach", { incident: { id: "inc-2", priority: "P1" } }, rule);
    expect(run.steps.find((s) => s.step === "start-breach-clocks")).toMatchObject({
      status: "failed",
      error:
        "incident.start_breach_clocks is not available: the server has no recordBreachClocks service wired",
    });
    // start-breach-clocks stops on error (the default): nothing after it ran.
    expect(run.status).toBe("failed");
    expect(run.steps.slice(1).every((s) => s.status === "pending")).toBe(true);
    const failed = (await auditEntries({ type: "playbook.step_failed" })).find((e) => e.data.run === run.id);
    expect(failed).toMatchObject({ outcome: "failure", actor: "playbook:personal-data-breach" });
  });
});

test("a failing step stops the run, or lets it continue, as the step says", async () => {
  const playbook = parsePlaybook(
    `id: failing
title: Failing steps
steps:
  - id: missing-key
    phase: contain
    title: Revoke a key that does not exist
    action: identity.revoke_api_key
    with: { id: zzzzzzzz }
    onError: continue
  - id: block-first
    phase: contain
    title: Block one
    action: gateway.block_ip
    with: { ip: 198.51.100.1, ttl: 1h, reason: test }
  - id: bad-address
    phase: contain
    title: Block a bad address
    action: gateway.block_ip
    with: { ip: "{{ inputs.ip }}", reason: test }
  - id: block-second
    phase: contain
    title: Never reached
    action: gateway.block_ip
    with: { ip: 198.51.100.2, reason: test }
`,
    "failing.yaml",
  );
  const runner = runnerWith(createPlaybookActions(rt), [playbook]);
  const run = await runner.run("failing", { inputs: { ip: "999.1.1.1" } }, { kind: "user", id: "corp:bob" });
  expect(run.steps.map((s) => [s.step, s.status, s.error])).toEqual([
    ["missing-key", "failed", "no API key zzzzzzzz"],
    ["block-first", "done", undefined],
    ["bad-address", "failed", expect.stringMatching(/^target: expected an IP address or CIDR range/)],
    ["block-second", "pending", undefined],
  ]);
  expect(run.status).toBe("failed");
  const targets = (await createBlockList(rt.hot, { clock: rt.clock }).list()).map((b) => b.target);
  expect(targets).toContain("198.51.100.1");
  expect(targets).not.toContain("198.51.100.2");
  const failed = (await auditEntries({ actor: "playbook:failing", type: "playbook.step_failed" })).map(
    (e) => [e.data.step, e.data.triggeredBy],
  );
  // A person is named only as the actor of playbook.started (which the audit log keys by subject), never in data.
  expect(failed.sort()).toEqual([
    ["bad-address", "user"],
    ["missing-key", "user"],
  ]);
  const started = await auditEntries({ actor: "user:corp:bob", type: "playbook.started" });
  expect(started.map((e) => e.data.run)).toContain(run.id);
  expect(JSON.stringify(await auditEntries({ type: "playbook.step_failed" }))).not.toContain("corp:bob");
});

test("a WAF surge: the top address and a country blocked, the route locked down, as the inputs say", async () => {
  const runner = runnerWith(createPlaybookActions(rt, { notify: () => Promise.resolve() }));
  const surge = {
    incident: { id: "inc-waf", priority: "P2" as const },
    inputs: { ip: "192.0.2.99", route: "grafana", country: "ru", lockdown: "yes" },
  };
  const run = await runner.run("waf-attack-surge", surge, { kind: "rule", id: "waf-block-surge" });
  expect(run.steps.filter((s) => !s.manual).map((s) => [s.step, s.status, s.error])).toEqual([
    ["block-top-ip", "done", undefined],
    ["block-country", "done", undefined],
    ["lockdown-route", "done", undefined],
    ["notify", "done", undefined],
  ]);
  const targets = (await createBlockList(rt.hot, { clock: rt.clock }).list()).map((b) => b.target);
  expect(targets).toEqual(expect.arrayContaining(["192.0.2.99", "country:RU"]));
  expect(await createLockdowns(rt.hot, { clock: rt.clock }).list()).toEqual([
    expect.objectContaining({ route: "grafana", by: "playbook:waf-attack-surge" }),
  ]);
  const audited = await auditEntries({ actor: "playbook:waf-attack-surge" });
  expect(audited.map((e) => `${e.type} ${e.target}`)).toEqual(
    expect.arrayContaining([
      "gateway.block_added ip:192.0.2.99",
      "gateway.block_added country:RU",
      "gateway.lockdown_added route:grafana",
    ]),
  );
  // A route that is not in the config is refused rather than "locked down" to no effect.
  const typo = await runner.run(
    "waf-attack-surge",
    { inputs: { route: "grafana-typo", lockdown: "yes" } },
    { kind: "token", id: "admin" },
  );
  expect(typo.steps.find((s) => s.step === "lockdown-route")).toMatchObject({
    status: "failed",
    error: "no route 'grafana-typo' in the config in force",
  });
});
