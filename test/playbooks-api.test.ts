// The playbook API on a real server (PGlite) as responders and auditors use it: the playbooks in
// force (shipped and configured), a dry run of credential-leak that resolves every step and revokes
// nothing, a real run of a configured playbook that blocks an address at the gateway and waits on a
// manual checklist until it is ticked, every run and tick in the audit log, and the refusals:
// unknown playbook, run or incident (404), bad inputs (400 with where), an auditor running (403).
import { join } from "node:path";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import type { RunRecord } from "../src/monitoring/playbooks/index.ts";
import { startTestServer, type TestServer } from "./support/api.ts";

let t: TestServer;
let admin: string;
let auditor: string;
let responder: string;

// A small playbook of our own: block the address given, then a person confirms.
const blockScanner = `id: block-scanner
title: Block a scanning address
description: Block the address for an hour, then confirm the scan stopped.
inputs:
  ip: "{{ detection.group.ip }}"
steps:
  - id: block-ip
    phase: contain
    title: Block the scanning address
    action: gateway.block_ip
    with:
      ip: "{{ inputs.ip }}"
      ttl: 1h
      reason: "scanner, incident {{ incident.id | default: none }}"
    deadline: 15m
  - id: confirm
    phase: contain
    title: Confirm the scan stopped
    manual: true
    checklist:
      - Watch the gateway log for 10 minutes
      - Record the block on the incident
`;

const call: TestServer["call"] = (...a) => t.call(...a);
const userKey = (subject: string) => t.apiKeyFor(subject);
const eventually = (check: () => Promise<void>) => vi.waitFor(check, { timeout: 5000, interval: 50 });

const step = (r: RunRecord, id: string) => r.steps.find((s) => s.step === id);

beforeAll(async () => {
  t = await startTestServer({
    name: "playbooks-api",
    files: { "playbooks/block-scanner.yaml": blockScanner },
    config: (work) => ({
      identity: { tokens: { secret: "playbooks-api-test-secret-0123456789abcdef" } },
      rbac: {
        // A responder may run playbooks and read incidents, nothing else.
        roles: { responder: { permissions: ["playbooks:read", "playbooks:run", "incidents:read"] } },
        bindings: [
          { role: "auditor", users: ["corp:audrey", "corp:leaky"] },
          { role: "responder", users: ["corp:rita"] },
        ],
      },
      playbooks: { dirs: [join(work, "playbooks")] },
    }),
  });
  admin = t.admin;
  auditor = (await userKey("corp:audrey")).key;
  responder = (await userKey("corp:rita")).key;
});

afterAll(async () => {
  await t?.stop();
});

test("an auditor lists the shipped and configured playbooks and reads one, but cannot run or tick", async () => {
  const list = await call("GET", "/api/v1/playbooks", auditor);
  expect(list.status).toBe(200);
  const playbooks = list.json.playbooks as Array<{ id: string; steps: Array<Record<string, unknown>> }>;
  expect(playbooks.map((p) => p.id)).toEqual(
    expect.arrayContaining([
      "credential-leak",
      "personal-data-breach",
      "unauthorised-internal-access",
      "waf-attack-surge",
      "block-scanner",
    ]),
  );
  const mine = playbooks.find((p) => p.id === "block-scanner");
  expect(mine).toMatchObject({
    title: "Block a scanning address",
    steps: [
      { id: "block-ip", phase: "contain", title: "Block the scanning address", action: "gateway.block_ip" },
      {
        id: "confirm",
        phase: "contain",
        manual: true,
        checklist: ["Watch the gateway log for 10 minutes", "Record the block on the incident"],
      },
    ],
  });
  const leak = playbooks.find((p) => p.id === "credential-leak");
  expect(leak).toMatchObject({
    trigger: { rules: ["credential-new-ip", "secret-in-code"], minPriority: "P2" },
  });

  const one = await call("GET", "/api/v1/playbooks/credential-leak", auditor);
  expect(one.status).toBe(200);
  expect(one.json).toMatchObject({ id: "credential-leak", inputs: { ip: "{{ detection.group.ip }}" } });
  expect((one.json.steps as unknown[]).length).toBeGreaterThan(10);

  const run = await call("POST", "/api/v1/playbooks/block-scanner/run", auditor, {
    inputs: { ip: "192.0.2.1" },
  });
  expect(run.status).toBe(403);
  expect(run.json.message).toBe("missing permission playbooks:run (your roles: auditor)");
  const blocks = await call("GET", "/api/v1/gateway/blocks", admin);
  expect(JSON.stringify(blocks.json)).not.toContain("192.0.2.1");

  const tick = await call("POST", "/api/v1/playbook-runs/anything/steps/confirm/check", auditor, {});
  expect(tick.status).toBe(403);
  expect((await call("GET", "/api/v1/playbook-runs", auditor)).status).toBe(200);
});

test("a dry run of credential-leak resolves every step's parameters and revokes nothing", async () => {
  const leaked = await userKey("corp:leaky");
  const dry = await call("POST", "/api/v1/playbooks/credential-leak/run", admin, {
    dryRun: true,
    inputs: { credential: leaked.id, ip: "203.0.113.9", subject: "corp:leaky" },
  });
  expect(dry.status).toBe(201);
  const r = dry.json as unknown as RunRecord;
  expect(r.status).toBe("dry_run");
  expect(r.triggeredBy).toMatchObject({ kind: "token", id: "admin" });
  expect(step(r, "revoke-key")).toMatchObject({ status: "pending", result: { with: { id: leaked.id } } });
  expect(step(r, "block-ip")).toMatchObject({
    status: "pending",
    result: {
      with: {
        ip: "203.0.113.9",
        ttl: 86_400,
        reason: `credential leak: ${leaked.id} used from this address`,
      },
    },
  });
  expect(step(r, "revoke-subject")?.result).toMatchObject({ with: { subject: "corp:leaky" } });
  // No database secret named: that step's condition is empty, so it is skipped, not failed.
  expect(step(r, "rotate-db")?.status).toBe("skipped");
  expect(step(r, "triage")?.status).toBe("waiting_manual");
  expect(r.steps.some((s) => s.status === "failed" || s.status === "done")).toBe(false);

  // Nothing happened: the key still works, the address is not blocked.
  expect((await call("GET", "/api/v1/playbooks", leaked.key)).status).toBe(200);
  const blocks = await call("GET", "/api/v1/gateway/blocks", admin);
  expect(JSON.stringify(blocks.json)).not.toContain("203.0.113.9");

  // A dry run's checklist is not for ticking.
  const tick = await call("POST", `/api/v1/playbook-runs/${r.id}/steps/triage/check`, admin, {});
  expect(tick.status).toBe(409);

  const again = await call("GET", `/api/v1/playbook-runs/${r.id}`, auditor);
  expect(again.status).toBe(200);
  expect(again.json).toMatchObject({ id: r.id, playbook: "credential-leak", status: "dry_run" });
});

test("a responder runs a playbook for an incident: the address is blocked, the checklist closes the run, all audited", async () => {
  const opened = await call("POST", "/api/v1/incidents", admin, {
    title: "Scanner on the edge",
    priority: "P2",
  });
  expect(opened.status).toBe(201);
  const incident = opened.json.id as string;

  const started = await call("POST", "/api/v1/playbooks/block-scanner/run", responder, {
    incident,
    inputs: { ip: "198.51.100.23" },
  });
  expect(started.status, JSON.stringify(started.json)).toBe(201);
  const run = started.json as unknown as RunRecord;
  expect(run).toMatchObject({ playbook: "block-scanner", incident, status: "waiting" });
  expect(run.triggeredBy).toMatchObject({ kind: "user", id: "corp:rita" });
  expect(step(run, "block-ip")).toMatchObject({ status: "done", overdue: false });
  expect(step(run, "confirm")?.status).toBe("waiting_manual");

  // The gateway's block list has the address, with the incident in the reason.
  const blocks = await call("GET", "/api/v1/gateway/blocks", admin);
  const block = (blocks.json.blocks as Array<{ target: string; reason: string }>).find(
    (b) => b.target === "198.51.100.23",
  );
  expect(block?.reason).toBe(`scanner, incident ${incident}`);

  const forIncident = await call("GET", `/api/v1/playbook-runs?incident=${incident}`, auditor);
  expect((forIncident.json.runs as RunRecord[]).map((r) => r.id)).toEqual([run.id]);
  const latest = await call("GET", "/api/v1/playbook-runs?limit=1", auditor);
  expect((latest.json.runs as RunRecord[]).map((r) => r.id)).toEqual([run.id]);

  // One item, then the rest: the run completes when its last manual step is done.
  const first = await call("POST", `/api/v1/playbook-runs/${run.id}/steps/confirm/check`, responder, {
    item: 0,
  });
  expect(first.status).toBe(200);
  const afterFirst = first.json as unknown as RunRecord;
  expect(afterFirst.status).toBe("waiting");
  expect(step(afterFirst, "confirm")?.checklist).toMatchObject([
    { checked: true, by: "user:corp:rita" },
    { checked: false },
  ]);
  const rest = await call("POST", `/api/v1/playbook-runs/${run.id}/steps/confirm/check`, responder);
  expect(rest.status).toBe(200);
  expect(rest.json).toMatchObject({ status: "completed" });
  expect(step(rest.json as unknown as RunRecord, "confirm")?.status).toBe("checked");

  // The run, the block it made and each tick are in the audit log.
  await eventually(async () => {
    const started = await call(
      "GET",
      `/api/v1/audit/entries?type=playbook.started&target=incident:${incident}`,
      admin,
    );
    expect(started.json.entries).toMatchObject([{ data: { run: run.id } }]);
    const executed = await call(
      "GET",
      "/api/v1/audit/entries?type=playbook.step_executed&target=ip:198.51.100.23",
      admin,
    );
    expect(executed.json.entries).toMatchObject([{ actor: "playbook:block-scanner" }]);
    const ticks = await call(
      "GET",
      `/api/v1/audit/entries?type=playbook.step_checked&actor=user:corp:rita`,
      admin,
    );
    expect(ticks.json.entries).toHaveLength(2);
    const done = await call(
      "GET",
      `/api/v1/audit/entries?type=playbook.completed&target=incident:${incident}`,
      admin,
    );
    expect(done.json.entries).toHaveLength(1);
    // The incident lists the run.
    const inc = await call("GET", `/api/v1/incidents/${incident}`, auditor);
    expect(inc.json.playbookRuns).toEqual([run.id]);
  });
});

test("unknown playbooks, runs, steps and incidents are 404; malformed requests are 400 saying where", async () => {
  const missing = await call("POST", "/api/v1/playbooks/no-such-playbook/run", admin, {});
  expect(missing.status).toBe(404);
  expect(missing.json.message).toContain("no-such-playbook");
  expect((await call("GET", "/api/v1/playbooks/no-such-playbook", admin)).status).toBe(404);
  expect(
    (await call("GET", "/api/v1/playbook-runs/00000000-0000-0000-0000-000000000000", admin)).status,
  ).toBe(404);

  const noIncident = await call("POST", "/api/v1/playbooks/block-scanner/run", admin, {
    incident: "INC-1999-0042",
    inputs: { ip: "192.0.2.77" },
  });
  expect(noIncident.status).toBe(404);

  const badKey = await call("POST", "/api/v1/playbooks/block-scanner/run", admin, {
    inputs: { "no spaces": "x" },
  });
  expect(badKey.status).toBe(400);
  expect(badKey.json.message).toContain("inputs.no spaces");
  const notText = await call("POST", "/api/v1/playbooks/block-scanner/run", admin, { inputs: { ip: 7 } });
  expect(notText.status).toBe(400);
  expect(notText.json.message).toContain("inputs.ip");
  const extra = await call("POST", "/api/v1/playbooks/block-scanner/run", admin, { dryrun: true });
  expect(extra.status).toBe(400);

  // An address that is not one fails its step in a dry run, naming the parameter; nothing is blocked.
  const dry = await call("POST", "/api/v1/playbooks/block-scanner/run", admin, {
    dryRun: true,
    inputs: { ip: "not-an-address" },
  });
  expect(dry.status).toBe(201);
  expect(step(dry.json as unknown as RunRecord, "block-ip")).toMatchObject({ status: "failed" });
  expect(step(dry.json as unknown as RunRecord, "block-ip")?.error).toContain("steps.block-ip.with.ip");

  // Ticking: a step that is not manual, one that does not exist, an item out of range.
  const real = await call("POST", "/api/v1/playbooks/block-scanner/run", admin, {
    inputs: { ip: "192.0.2.88" },
  });
  const id = (real.json as unknown as RunRecord).id;
  expect((await call("POST", `/api/v1/playbook-runs/${id}/steps/block-ip/check`, admin, {})).status).toBe(
    400,
  );
  expect((await call("POST", `/api/v1/playbook-runs/${id}/steps/nope/check`, admin, {})).status).toBe(404);
  const range = await call("POST", `/api/v1/playbook-runs/${id}/steps/confirm/check`, admin, { item: 5 });
  expect(range.status).toBe(400);
  expect(range.json.message).toContain("item");
  expect(
    (await call("POST", `/api/v1/playbook-runs/${id}/steps/confirm/check`, admin, { item: -1 })).status,
  ).toBe(400);
  expect((await call("GET", "/api/v1/playbook-runs?limit=0", admin)).status).toBe(400);
});
