// The scheduled least-privilege analysis inside a real control plane (PGlite in a temp dir): its
// findings reach the hash-chained audit log through the bus, people among the principals are
// stored as subject keys (found again by their identifier), and a failing platform is recorded.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { rampartConfigSchema } from "../src/config/schema.ts";
import { createIamSchedule, type IamSchedule } from "../src/identity/iam/schedule.ts";
import { iamConfigSchema } from "../src/identity/iam/schema.ts";
import { type AuditTables, queryEntries, subjectRef } from "../src/monitoring/audit/index.ts";
import { manualClock } from "../src/platform/clock.ts";
import { createLogger } from "../src/platform/logging.ts";
import { type Runtime, startRuntime } from "../src/server/runtime.ts";

let work: string;
let rt: Runtime;
let iam: IamSchedule;
const clock = manualClock("2026-11-20T00:00:00Z");

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "rampart-iam-schedule-rt-"));
  mkdirSync(join(work, "k8s/rbac"), { recursive: true });
  mkdirSync(join(work, "k8s/audit"), { recursive: true });
  writeFileSync(
    join(work, "k8s/rbac/rbac.yaml"),
    `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: too-much}
rules:
- apiGroups: [""]
  resources: [pods, pods/exec, secrets, configmaps]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: dave-too-much}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: too-much}
subjects:
- {kind: User, name: dave@acme.example}
`,
  );
  writeFileSync(
    join(work, "k8s/audit/audit.log"),
    JSON.stringify({
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      level: "Metadata",
      stage: "ResponseComplete",
      verb: "get",
      requestURI: "/api/v1/namespaces/web/configmaps/app",
      user: { username: "dave@acme.example", groups: ["system:authenticated"] },
      objectRef: { resource: "configmaps", namespace: "web", name: "app", apiVersion: "v1" },
      responseStatus: { code: 200 },
      requestReceivedTimestamp: "2026-11-18T10:00:00Z",
      stageTimestamp: "2026-11-18T10:00:00Z",
    }) + "\n",
  );
  const config = rampartConfigSchema.parse({ version: 1, database: { dataDir: join(work, "data") } });
  rt = await startRuntime({ config, logger: createLogger({ level: "silent" }), clock });
  // The `iam:` section is not in rampartConfigSchema yet: the schedule is built as runtime.ts would.
  const section = iamConfigSchema.parse({
    everyHours: 24,
    aws: { policies: "./aws/nowhere.json", logs: "./aws/cloudtrail/" },
    k8s: { rbac: "./k8s/rbac", audit: "./k8s/audit" },
  });
  iam = createIamSchedule({
    config: () => section,
    configDir: work,
    dataDir: rt.dataDir,
    clock: rt.clock,
    emit: (e) => rt.bus.emit(e),
    logger: rt.logger,
  });
}, 60_000);

afterAll(async () => {
  await iam?.close();
  await rt?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function auditEntries(q: { type?: string; target?: string }) {
  await rt.bus.flush();
  const { entries } = await queryEntries(rt.store.db.withTables<AuditTables>(), { ...q, limit: 1000 }, (r) =>
    subjectRef(r, rt.audit.subjectKey),
  );
  return entries;
}

test("a run's findings land in the audit log, people pseudonymised", async () => {
  const summary = await iam.runNow();
  expect(summary.platforms.map((p) => [p.platform, p.ok])).toEqual([
    ["aws", false],
    ["k8s", true],
  ]);
  const k8s = summary.platforms[1];
  expect(k8s?.ok && k8s.dir).toBe(join(rt.dataDir, "iam", "proposals", "k8s", "2026-11-20T00-00-00.000Z"));

  const [done] = await auditEntries({ type: "iam.analysis_completed" });
  expect(done).toMatchObject({
    actor: "system:iam",
    data: { platform: "k8s", principals: 1, replayDenied: 0, overprivileged: 1 },
  });
  const [failed] = await auditEntries({ type: "iam.analysis_failed" });
  expect(failed).toMatchObject({ outcome: "failure", data: { platform: "aws" } });

  const [finding] = await auditEntries({ type: "iam.overprivileged" });
  expect(finding?.severity).toBe("high");
  // Stored under a subject key, not the address; found again by the address.
  expect(finding?.target).toMatch(/^user:sk_[0-9a-f]{24}$/);
  expect(JSON.stringify(finding)).not.toContain("dave");
  const byPerson = await auditEntries({ target: "user:dave@acme.example" });
  expect(byPerson.map((e) => e.type)).toEqual(["iam.overprivileged"]);
  const risk = finding?.data.unusedRisk as { privesc: string[]; credentialsExposure: string[] };
  expect(risk.privesc.join()).toMatch(/pods\/exec/);
  expect(risk.credentialsExposure.join()).toMatch(/secrets/);
}, 60_000);
