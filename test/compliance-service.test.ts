// The compliance engine on real PostgreSQL under a manual clock, with checks whose evidence the
// test controls: SLA deadlines counted from the item's own clock, at risk → failing → overdue,
// a check that cannot read its evidence (the control then needs evidence, never passes),
// exceptions that lapse, items that vanish, snapshots stored only when results change, and one
// cycle at a time.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { rampartConfigSchema } from "../src/config/index.ts";
import type { Catalogue, CheckDefinition, CheckItem } from "../src/monitoring/compliance/model.ts";
import { type ComplianceService, createCompliance } from "../src/monitoring/compliance/service.ts";
import { manualClock } from "../src/platform/clock.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { createLogger } from "../src/platform/logging.ts";
import { openStore, type Store } from "../src/platform/store/index.ts";
import { migrations } from "../src/server/runtime.ts";
import { freshDatabase } from "./support/pg.ts";

const DAY = 86_400_000;
const ana = { kind: "user", id: "corp:ana" };
const raj = { kind: "user", id: "corp:raj" };

const catalogue: Catalogue = {
  frameworks: [
    {
      id: "iso27001",
      name: "ISO/IEC 27001 Annex A",
      version: "2022",
      publisher: "ISO/IEC",
      licence: "ids-and-own-words",
      attribution: "ids only",
      sourceUrl: "https://www.iso.org",
    },
  ],
  requirements: [
    { frameworkId: "iso27001", ref: "A.8.8", title: "Technical vulnerabilities are managed" },
    { frameworkId: "iso27001", ref: "A.8.15", title: "Logs are kept" },
  ],
  controls: [
    {
      id: "ZT-APP-004",
      title: "Critical vulnerabilities fixed within SLA",
      description: "",
      domain: "appsec",
      checks: ["vulns"],
      mappings: [{ frameworkId: "iso27001", ref: "A.8.8", relationship: "equal" }],
    },
    {
      id: "ZT-MON-001",
      title: "Logs kept",
      description: "",
      domain: "monitoring",
      checks: ["logs"],
      mappings: [{ frameworkId: "iso27001", ref: "A.8.15", relationship: "superset" }],
    },
  ],
};

describe("the compliance engine", () => {
  let store: Store;
  let drop: () => Promise<void>;
  let dir: string;
  const clock = manualClock("2026-06-01T00:00:00Z");
  const events: SecurityEvent[] = [];
  // What the checks "see": the test edits these between cycles.
  let vulns: CheckItem[] = [];
  let logsBroken: string | undefined;
  let slowRuns = 0;
  let service: ComplianceService;

  const checks: CheckDefinition[] = [
    {
      id: "vulns",
      title: "Critical vulnerabilities fixed within SLA",
      source: "gates",
      remediation: "upgrade the package",
      slaDays: 7,
      toleranceDays: 2,
      run: async () => vulns,
    },
    {
      id: "logs",
      title: "Logs kept a year",
      source: "audit",
      remediation: "raise audit.retention.security",
      slaDays: 1,
      toleranceDays: 0,
      run: async () => {
        slowRuns++;
        await new Promise((r) => setTimeout(r, 50));
        if (logsBroken) throw new Error(logsBroken);
        return [{ resource: "audit:security", status: "pass", detail: "365 days" }];
      },
    },
  ];

  const item = async (resource: string) =>
    (await service.check("vulns")).items.find((i) => i.resource === resource);
  const controlStatus = async (id: string) =>
    (await service.readiness("iso27001")).controls.find((c) => c.control.id === id)?.status;

  beforeAll(async () => {
    const db = await freshDatabase(inject("pgUrl"));
    drop = db.drop;
    dir = mkdtempSync(join(tmpdir(), "rampart-compliance-service-"));
    store = await openStore({ url: db.url, dataDir: dir, migrations });
    const config = rampartConfigSchema.parse({ version: 1, compliance: { frameworks: ["iso27001"] } });
    service = createCompliance({
      db: store.db,
      clock,
      config: () => config,
      catalogue,
      checks,
      context: () => ({}),
      emit: (e) => events.push(e),
      logger: createLogger({ level: "silent" }),
    });
  });

  afterAll(async () => {
    await service?.close();
    await store?.close();
    await drop?.();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a finding counts its SLA from its first sighting: at risk, then failing, then overdue", async () => {
    const firstSeen = new Date(clock.now().getTime() - DAY);
    vulns = [
      { resource: "finding:cve-1", status: "fail", detail: "CVE-2026-1 in openssl", failingSince: firstSeen },
      { resource: "finding:cve-2", status: "pass", detail: "fixed" },
    ];
    await service.runChecks();
    expect(await item("finding:cve-1")).toMatchObject({
      standing: "at_risk",
      dueAt: new Date(firstSeen.getTime() + 7 * DAY),
    });
    expect(await controlStatus("ZT-APP-004")).toBe("at_risk");
    expect(events.filter((e) => e.type === "compliance.item_failing")).toHaveLength(1);

    clock.advance(2 * DAY);
    await service.runChecks();
    expect((await item("finding:cve-1"))?.standing).toBe("failing");
    expect(await controlStatus("ZT-APP-004")).toBe("failing");
    // at risk → failing is the same trouble: no second event.
    expect(events.filter((e) => e.type === "compliance.item_failing")).toHaveLength(1);

    clock.advance(5 * DAY);
    await service.runChecks();
    expect((await item("finding:cve-1"))?.standing).toBe("overdue");
    const overdue = events.filter((e) => e.type === "compliance.item_overdue");
    expect(overdue).toHaveLength(1);
    expect(overdue[0]).toMatchObject({
      severity: "high",
      data: { resource: "finding:cve-1", controls: ["ZT-APP-004"] },
    });
    const report = await service.readiness("iso27001");
    expect(report.requirements.find((r) => r.requirement.ref === "A.8.8")?.status).toBe("non_compliant");
  });

  test("an exception excepts the overdue item until it lapses; then the item is overdue again", async () => {
    const e = await service.requestException(
      {
        checkId: "vulns",
        resource: "finding:cve-1",
        justification: "no upstream fix; the vulnerable path is not reachable",
        expiresAt: new Date(clock.now().getTime() + 3 * DAY),
      },
      ana,
    );
    await expect(service.decideException(e.id, "approved", ana)).rejects.toThrow(/someone other/);
    await service.decideException(e.id, "approved", raj);
    expect((await item("finding:cve-1"))?.standing).toBe("excepted");
    expect(await controlStatus("ZT-APP-004")).toBe("passing");
    clock.advance(4 * DAY);
    expect((await item("finding:cve-1"))?.standing).toBe("overdue");
    await expect(service.decideException(e.id, "approved", raj)).rejects.toThrow(/approved/);
  });

  test("a fixed finding that vanishes from the evidence leaves the check, and the control passes", async () => {
    vulns = [{ resource: "finding:cve-2", status: "pass", detail: "fixed" }];
    await service.runChecks();
    expect(await item("finding:cve-1")).toBeUndefined();
    expect(await controlStatus("ZT-APP-004")).toBe("passing");
    expect(events.some((e) => e.type === "compliance.control_changed" && e.target?.id === "ZT-APP-004")).toBe(
      true,
    );
  });

  test("a check that cannot read its evidence leaves its control needing evidence, never passing", async () => {
    expect(await controlStatus("ZT-MON-001")).toBe("passing");
    logsBroken = "connection to the database refused";
    const r = await service.runChecks({ only: ["logs"] });
    expect(r.checks).toEqual([
      { id: "logs", pass: 0, fail: 0, notApplicable: 0, error: "connection to the database refused" },
    ]);
    expect(await controlStatus("ZT-MON-001")).toBe("needs_evidence");
    expect(
      (await service.readiness("iso27001")).requirements.find((x) => x.requirement.ref === "A.8.15")?.status,
    ).toBe("not_assessed");
    expect(events.some((e) => e.type === "compliance.check_error" && e.outcome === "error")).toBe(true);
    logsBroken = undefined;
    await service.runChecks({ only: ["logs"] });
    expect(await controlStatus("ZT-MON-001")).toBe("passing");
    await expect(service.runChecks({ only: ["nope"] })).rejects.toThrow(/no compliance check 'nope'/);
  });

  test("snapshots are stored when results change, and identical results reuse the valid one", async () => {
    const snapshots = async () =>
      (await service.evidence({ kind: "snapshot", from: new Date(0), to: new Date(4e12) })).filter((e) =>
        e.controls.includes("ZT-APP-004"),
      );
    const before = (await snapshots()).length;
    await service.runChecks({ only: ["vulns"] });
    expect((await snapshots()).length).toBe(before);
    vulns = [...vulns, { resource: "finding:cve-3", status: "fail", detail: "CVE-2026-3 in zlib" }];
    await service.runChecks({ only: ["vulns"] });
    expect((await snapshots()).length).toBe(before + 1);
    // Once the valid snapshot would expire before the next run, the same results are stored anew.
    clock.advance(47 * 3_600_000);
    await service.runChecks({ only: ["vulns"] });
    expect((await snapshots()).length).toBe(before + 2);
    const collected = events.filter(
      (e) => e.type === "compliance.evidence_collected" && e.data.checkId === "vulns",
    );
    expect(collected.length).toBe((await snapshots()).length);
    expect(
      collected.every((e) => e.retention === "audit" && /^[0-9a-f]{64}$/.test(String(e.data.sha256))),
    ).toBe(true);
  });

  test("two callers asking at once get two cycles, one after the other", async () => {
    const before = slowRuns;
    let concurrent = 0;
    let most = 0;
    const original = checks[1]?.run as CheckDefinition["run"];
    (checks[1] as CheckDefinition).run = async (ctx) => {
      concurrent++;
      most = Math.max(most, concurrent);
      try {
        return await original(ctx);
      } finally {
        concurrent--;
      }
    };
    await Promise.all([service.runChecks({ only: ["logs"] }), service.runChecks({ only: ["logs"] })]);
    (checks[1] as CheckDefinition).run = original;
    expect(slowRuns - before).toBe(2);
    expect(most).toBe(1);
  });

  test("manual evidence is checked where it is added and reviewed by another person", async () => {
    await expect(
      service.addEvidence(
        { kind: "link", title: "x", controls: ["ZT-NOPE"], ref: "https://example.com" },
        ana,
      ),
    ).rejects.toThrow(/unknown control ZT-NOPE/);
    await expect(
      service.addEvidence(
        { kind: "link", title: "x", controls: ["ZT-MON-001"], ref: "file:///etc/passwd" },
        ana,
      ),
    ).rejects.toThrow(/http/);
    await expect(
      service.addEvidence({ kind: "file", title: "x", controls: ["ZT-MON-001"], ref: "a.pdf" }, ana),
    ).rejects.toThrow(/needs content/);
    const e = await service.addEvidence(
      {
        kind: "file",
        title: "Log retention settings screenshot",
        controls: ["ZT-MON-001"],
        ref: "retention.png",
        content: Buffer.from("png bytes"),
        validUntil: new Date(clock.now().getTime() + 30 * DAY),
      },
      ana,
    );
    expect(e.state).toBe("in_review");
    await expect(service.reviewEvidence(e.id, "approved", ana)).rejects.toThrow(/someone other/);
    expect((await service.reviewEvidence(e.id, "approved", raj)).state).toBe("approved");
    clock.advance(31 * DAY);
    expect((await service.evidenceContent(e.id)).evidence.state).toBe("expired");
  });
});
