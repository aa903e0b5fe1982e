// The read routes the console's Secrets and Gates pages need, on a real server: which keys changed
// between two versions of a secret (from the audit log's keyed digests: no value leaves the server
// and no read is audited), and open scan findings with their SLA, overdue first.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ScanTables } from "../src/appsec/scan/evidence.ts";
import { startTestServer, type TestServer } from "./support/api.ts";
import { gateResults } from "./support/gate-results.ts";

const DAY_MS = 86_400_000;

let t: TestServer;
let auditor: string;
let developer: string;
let stranger: string;

beforeAll(async () => {
  t = await startTestServer({
    name: "console-data-api",
    config: (work) => ({
      identity: { tokens: { secret: "console-data-api-secret-0123456789abcdef" } },
      events: { batchMaxDelayMs: 10 },
      rbac: {
        bindings: [
          { role: "auditor", users: ["corp:aud"] },
          { role: "developer", users: ["corp:dev"] },
        ],
      },
      secrets: { root: { provider: "file", file: join(work, "root.key") } },
    }),
  });
  auditor = (await t.apiKeyFor("corp:aud")).key;
  developer = (await t.apiKeyFor("corp:dev")).key;
  stranger = (await t.apiKeyFor("corp:nobody")).key;
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

describe("GET /api/v1/secrets/diff/*", () => {
  const p = "/prod/billing/db";
  const values = ["alpha-pass-1", "bravo-pass-2", "db1.internal", "db2.internal", "svc-billing"];

  beforeAll(async () => {
    for (const data of [
      { password: "alpha-pass-1", user: "svc-billing" },
      { password: "bravo-pass-2", user: "svc-billing", host: "db1.internal" },
      { password: "bravo-pass-2", host: "db2.internal" },
    ]) {
      const r = await t.call("PUT", `/api/v1/secrets/data${p}`, t.admin, { data });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
    }
  });

  const diff = (from: number, to: number, token = t.admin) =>
    t.call("GET", `/api/v1/secrets/diff${p}?from=${from}&to=${to}`, token);

  test("names keys added, removed, changed and unchanged, and no value", async () => {
    const r = await diff(1, 3);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json).toEqual({
      path: p,
      from: 1,
      to: 3,
      keys: [
        { key: "host", change: "added" },
        { key: "password", change: "changed" },
        { key: "user", change: "removed" },
      ],
    });
    const text = JSON.stringify((await diff(2, 3)).json);
    expect(JSON.parse(text).keys).toEqual([
      { key: "host", change: "changed" },
      { key: "password", change: "unchanged" },
      { key: "user", change: "removed" },
    ]);
    for (const v of values) expect(text).not.toContain(v);
  });

  test("a rolled-back version compares equal to the version it came from", async () => {
    const back = await t.call("POST", `/api/v1/secrets/rollback${p}`, t.admin, { version: 1 });
    expect(back.status, JSON.stringify(back.json)).toBe(200);
    const v = back.json.version as number;
    const r = await diff(1, v);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.keys).toEqual([
      { key: "password", change: "unchanged" },
      { key: "user", change: "unchanged" },
    ]);
  });

  test("comparing is not a read: the audit log holds no secrets.read for it", async () => {
    await diff(1, 2);
    const r = await t.call("GET", `/api/v1/audit/entries?type=secrets.read&limit=1000`, t.admin);
    expect(r.status).toBe(200);
    expect(r.json.entries).toEqual([]);
  });

  test("clear refusals: bad versions 400, unknown version 404, no list capability 403", async () => {
    const bad = await t.call("GET", `/api/v1/secrets/diff${p}?from=0&to=2`, t.admin);
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/from: expected a version number >= 1/);
    const missing = await t.call("GET", `/api/v1/secrets/diff${p}?to=2`, t.admin);
    expect(missing.status).toBe(400);
    expect(missing.json.message).toMatch(/^from:/);
    const unknown = await diff(1, 99);
    expect(unknown.status).toBe(404);
    expect(unknown.json.message).toContain(`${p} has no version 99`);
    expect((await diff(1, 2, stranger)).status).toBe(403);
  });
});

interface Finding {
  kind: string;
  fingerprint: string;
  severity: string;
  firstSeen: string;
  sla: { days: number; dueAt: string; overdue: boolean } | null;
}

describe("GET /api/v1/scans/findings", () => {
  let stale: string;

  beforeAll(async () => {
    const results = await gateResults(t.work);
    for (const result of Object.values(results)) {
      const r = await t.call("POST", "/api/v1/scans", t.admin, { source: "shop/web", result });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
    }
    // A hundred days pass for one medium CVE (SLA 90 days): the evidence store dates sightings
    // by its own clock, so the test moves the sighting back.
    const medium = results.trivy.findings.find((f) => f.severity === "medium");
    expect(medium).toBeDefined();
    stale = medium?.fingerprint as string;
    await t.server.runtime.store.db
      .withTables<ScanTables>()
      .updateTable("scan_items")
      .set({ first_seen: new Date(Date.now() - 100 * DAY_MS) })
      .where("fingerprint", "=", stale)
      .execute();
  });

  test("every open finding carries its SLA by severity; overdue first", async () => {
    const r = await t.call("GET", "/api/v1/scans/findings", auditor);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const findings = r.json.findings as Finding[];
    expect(new Set(findings.map((f) => f.kind))).toEqual(new Set(["trivy", "k8s", "iac"]));
    expect(r.json.slaDays).toEqual({ critical: 7, high: 30, medium: 90, low: 180 });
    const days: Record<string, number> = { critical: 7, high: 30, medium: 90, low: 180 };
    for (const f of findings) {
      if (f.severity === "info") {
        expect(f.sla).toBeNull();
        continue;
      }
      expect(f.sla?.days).toBe(days[f.severity]);
      expect(Date.parse(f.sla?.dueAt ?? "")).toBe(Date.parse(f.firstSeen) + (days[f.severity] ?? 0) * DAY_MS);
    }
    expect(findings[0]?.fingerprint).toBe(stale);
    expect(findings[0]?.sla?.overdue).toBe(true);
    expect(findings.filter((f) => f.sla?.overdue)).toHaveLength(1);
    // After the overdue one, the nearest deadline comes first.
    const dues = findings
      .slice(1)
      .filter((f) => f.sla)
      .map((f) => f.sla?.dueAt ?? "");
    expect(dues).toEqual([...dues].sort());
  });

  test("filters by scanner and severity; a bad severity is a 400; developers may not read", async () => {
    const k8s = await t.call("GET", "/api/v1/scans/findings?kind=k8s", t.admin);
    expect((k8s.json.findings as Finding[]).every((f) => f.kind === "k8s")).toBe(true);
    expect((k8s.json.findings as Finding[]).length).toBeGreaterThan(0);
    const high = await t.call("GET", "/api/v1/scans/findings?severity=high", t.admin);
    const highs = high.json.findings as Finding[];
    expect(highs.length).toBeGreaterThan(0);
    expect(highs.every((f) => f.severity === "high")).toBe(true);
    const bad = await t.call("GET", "/api/v1/scans/findings?severity=urgent", t.admin);
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/severity/);
    expect((await t.call("GET", "/api/v1/scans/findings", developer)).status).toBe(403);
  });
});
