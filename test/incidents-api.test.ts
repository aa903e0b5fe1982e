// The incident API as responders and auditors use it on a real server (PGlite): open, acknowledge,
// contain, recover, review, close; refused moves are 409 with what is allowed; an auditor reads but
// cannot change; events a gateway sends about an incident land on its timeline; every change is in
// the audit log; the report gives MTTA and MTTR.
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { newEvent } from "../src/platform/events/index.ts";
import { startTestServer, type TestServer } from "./support/api.ts";

const ingestToken = "incidents-api-ingest-token-0123456789abcdef";
let t: TestServer;
let admin: string;
let auditor: string;
let developer: string;
let responder: string;

const call: TestServer["call"] = (...a) => t.call(...a);
const eventually = (check: () => Promise<void>) => vi.waitFor(check, { timeout: 5000, interval: 50 });

beforeAll(async () => {
  t = await startTestServer({
    name: "incidents-api",
    config: {
      identity: { tokens: { secret: "incidents-api-test-secret-0123456789abcdef" } },
      events: { ingestTokens: [{ name: "gw-1", token: ingestToken }] },
      rbac: {
        bindings: [
          { role: "auditor", users: ["corp:audrey"] },
          { role: "developer", users: ["corp:dev"] },
          { role: "security-admin", users: ["corp:rita"] },
        ],
      },
    },
  });
  admin = t.admin;
  auditor = (await t.apiKeyFor("corp:audrey")).key;
  developer = (await t.apiKeyFor("corp:dev")).key;
  responder = (await t.apiKeyFor("corp:rita")).key;
});

afterAll(async () => {
  await t?.stop();
});

test("a P1 through its life cycle, with review, evidence, notes and a report", async () => {
  const opened = await call("POST", "/api/v1/incidents", responder, {
    title: "CI key used from a new IP",
    priority: "P1",
    commander: "corp:rita",
  });
  expect(opened.status).toBe(201);
  const id = opened.json.id as string;
  expect(id).toMatch(/^INC-\d{4}-0001$/);
  expect(opened.json).toMatchObject({ state: "detected", priority: "P1", commander: "corp:rita" });

  const skip = await call("POST", `/api/v1/incidents/${id}/transition`, responder, { to: "closed" });
  expect(skip.status).toBe(409);
  expect(skip.json.message).toContain("allowed next: triaged, contained, eradicated, recovered");

  expect((await call("POST", `/api/v1/incidents/${id}/ack`, responder)).json).toMatchObject({
    state: "triaged",
  });
  for (const to of ["contained", "eradicated", "recovered"]) {
    const r = await call("POST", `/api/v1/incidents/${id}/transition`, responder, { to, note: `now ${to}` });
    expect(r.status).toBe(200);
    expect(r.json.state).toBe(to);
  }
  const note = await call("POST", `/api/v1/incidents/${id}/notes`, responder, {
    text: "owner confirmed the leak",
  });
  expect(note.status).toBe(201);
  const evidence = await call("POST", `/api/v1/incidents/${id}/evidence`, responder, {
    kind: "audit_bundle",
    ref: "bundles/2026-01-01.tar",
    sha256: "ab".repeat(32),
    description: "audit export of the first hour",
  });
  expect(evidence.status).toBe(201);
  const badEvidence = await call("POST", `/api/v1/incidents/${id}/evidence`, responder, {
    kind: "file",
    ref: "x",
    sha256: "nope",
    description: "y",
  });
  expect(badEvidence).toMatchObject({ status: 400, json: { message: "sha256: expected 64 hex digits" } });

  const early = await call("POST", `/api/v1/incidents/${id}/transition`, responder, { to: "closed" });
  expect(early.status).toBe(409);
  expect(early.json.message).toMatch(/needs a post-incident review/);
  const reviewed = await call("POST", `/api/v1/incidents/${id}/review`, responder, {
    summary: "Key printed by a CI debug step",
    rootCause: "debug logging of the environment",
    lessons: ["mask secrets in CI"],
    actionItems: [{ title: "enable masking", owner: "corp:rita" }],
  });
  expect(reviewed.status).toBe(200);
  const closed = await call("POST", `/api/v1/incidents/${id}/transition`, responder, { to: "closed" });
  expect(closed.json).toMatchObject({ state: "closed", nextStates: ["triaged"] });

  const got = await call("GET", `/api/v1/incidents/${id}`, auditor);
  expect(got.status).toBe(200);
  const kinds = (got.json.timeline as Array<{ kind: string }>).map((t) => t.kind);
  expect(kinds).toEqual([
    "state",
    "commander",
    "state",
    "state",
    "state",
    "state",
    "note",
    "evidence",
    "review",
    "state",
  ]);

  const report = await call("GET", "/api/v1/incidents/report?since=30d", auditor);
  expect(report.status).toBe(200);
  expect(report.json.priorities).toMatchObject({
    P1: { opened: 1, closed: 1, openNow: 0, mtta: { count: 1 }, mttr: { count: 1 } },
  });
  expect((await call("GET", "/api/v1/incidents/report?since=yesterday", auditor)).status).toBe(400);

  // Every change is in the audit log, with the person who made it.
  await eventually(async () => {
    const audit = await call("GET", `/api/v1/audit/entries?target=incident:${id}&limit=100`, admin);
    const types = (audit.json.entries as Array<{ type: string }>).map((e) => e.type).sort();
    expect(types).toEqual(
      [
        "incident.opened",
        "incident.state_changed",
        "incident.state_changed",
        "incident.state_changed",
        "incident.state_changed",
        "incident.note_added",
        "incident.evidence_linked",
        "incident.reviewed",
        "incident.closed",
      ].sort(),
    );
  });
});

test("an auditor reads but cannot change; a developer cannot read", async () => {
  const opened = await call("POST", "/api/v1/incidents", admin, {
    title: "WAF surge on /login",
    priority: "P2",
  });
  const id = opened.json.id as string;
  expect((await call("GET", "/api/v1/incidents?open=true", auditor)).json.incidents).toEqual(
    expect.arrayContaining([expect.objectContaining({ id })]),
  );
  for (const [path, body] of [
    ["/api/v1/incidents", { title: "x", priority: "P3" }],
    [`/api/v1/incidents/${id}/transition`, { to: "triaged" }],
    [`/api/v1/incidents/${id}/assign`, { commander: "corp:audrey" }],
    [`/api/v1/incidents/${id}/notes`, { text: "x" }],
    [`/api/v1/incidents/${id}/priority`, { priority: "P0", reason: "x" }],
  ] as const) {
    const r = await call("POST", path, auditor, body);
    expect(r.status, path).toBe(403);
    expect(r.json.message).toContain("incidents:write");
  }
  expect((await call("GET", "/api/v1/incidents", developer)).status).toBe(403);
  expect((await call("GET", `/api/v1/incidents/${id}`, developer)).status).toBe(403);
  expect((await call("GET", "/api/v1/incidents/INC-1999-0001", auditor)).status).toBe(404);
  const bad = await call("POST", "/api/v1/incidents", admin, { title: "x", priority: "P9" });
  expect(bad.status).toBe(400);
  expect(bad.json.message).toMatch(/^priority:/);

  const raised = await call("POST", `/api/v1/incidents/${id}/priority`, admin, {
    priority: "P1",
    reason: "login service down",
  });
  expect(raised.json).toMatchObject({ priority: "P1" });
  expect((await call("GET", "/api/v1/incidents?priority=P1&open=true", auditor)).json.incidents).toEqual(
    expect.arrayContaining([expect.objectContaining({ id })]),
  );
});

test("events a gateway sends about an incident land on its timeline", async () => {
  const id = (await call("POST", "/api/v1/incidents", admin, { title: "Bot wave", priority: "P3" })).json
    .id as string;
  const res = await fetch(`${t.url}/api/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${ingestToken}`, "content-type": "application/json" },
    body: JSON.stringify({
      batchId: `incident-test-${id}`,
      events: [
        newEvent({
          type: "gateway.ip_blocked",
          actor: { kind: "ip", id: "198.51.100.23" },
          outcome: "denied",
          data: { incident: id },
        }),
      ],
    }),
  });
  expect(res.status).toBe(201);
  await eventually(async () => {
    const got = await call("GET", `/api/v1/incidents/${id}`, admin);
    expect((got.json.timeline as Array<{ kind: string; text: string }>).at(-1)).toMatchObject({
      kind: "event",
      text: "gateway.ip_blocked (denied) from gw-1",
    });
  });
});
