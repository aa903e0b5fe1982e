// The metrics catalog of layers 2 and 3: identity and secrets metrics count what the events on the
// spine say (events from the real secrets store, and events shaped as the identity module emits
// them), gauges read their sources at scrape, labels stay bounded, and the server's whole
// exposition passes Prometheus's own linter (promtool check metrics).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { callerOf } from "../../../test/support/secrets.ts";
import { openTestStore, type TestStore } from "../../../test/support/stores.ts";
import {
  openSecrets,
  type Secrets,
  type SecretsStatus,
  secretsConfigSchema,
  secretsMigrations,
} from "../../appsec/secrets/index.ts";
import { createSecretsMetrics, type SecretsMetricsSources } from "../../appsec/secrets/metrics.ts";
import type { JitAccess } from "../../identity/jit/index.ts";
import { createIdentityMetrics, type IdentityMetricsSources } from "../../identity/metrics.ts";
import { manualClock } from "../../platform/clock.ts";
import { createEventBus, type EventRef, newEvent, type SecurityEvent } from "../../platform/events/index.ts";
import { createMetrics } from "./index.ts";

/** The value of one series, 0 when it was never set. */
async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} is not registered`);
  const { values } = await metric.get();
  const hit = values.find(
    (v) =>
      Object.keys(labels).length === Object.keys(v.labels).length &&
      Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x),
  );
  return hit?.value ?? 0;
}

/** Every label value a metric has, to check none is a path, subject or address. */
async function labelValues(registry: Registry): Promise<string[]> {
  const all = await registry.getMetricsAsJSON();
  return all.flatMap((m) => m.values.flatMap((v) => Object.values(v.labels ?? {}).map(String)));
}

const clock = manualClock("2026-03-01T00:00:00Z");
const user = (id: string): EventRef => ({ kind: "user", id });

describe("identity metrics", () => {
  test("count logins, failures, denials, JIT, break-glass and revocations from the events", async () => {
    const { registry } = createMetrics({ defaultMetrics: false });
    const bus = createEventBus({ maxDelayMs: 1 });
    const metrics = createIdentityMetrics(registry);
    bus.subscribe(metrics.observe);
    const e = (x: Parameters<typeof newEvent>[0]) => bus.emit(newEvent(x, clock.now()));

    e({ type: "identity.login", actor: user("corp:alice"), data: { provider: "corp", ip: "192.0.2.7" } });
    e({ type: "identity.login", actor: user("corp:bob"), data: { provider: "corp", ip: "192.0.2.8" } });
    e({
      type: "identity.login_failed",
      actor: { kind: "ip", id: "203.0.113.9" },
      outcome: "failure",
      data: { reason: "state_mismatch" },
    });
    e({
      type: "identity.login_failed",
      actor: { kind: "ip", id: "203.0.113.9" },
      outcome: "failure",
      data: { reason: "code_rejected", provider: "corp" },
    });
    e({
      type: "identity.api_denied",
      actor: user("corp:mallory"),
      outcome: "denied",
      data: { action: "secrets.write", method: "PUT", path: "/v1/secrets/*" },
    });
    e({
      type: "identity.client_auth_failed",
      actor: { kind: "service", id: "billing" },
      outcome: "failure",
      data: { ip: "10.0.0.5", method: "client_secret_basic", reason: "bad_credentials" },
    });
    e({ type: "identity.client_locked_out", actor: { kind: "ip", id: "10.0.0.5" }, data: { scope: "ip" } });
    e({ type: "identity.token_issued", actor: { kind: "service", id: "billing" }, data: { scope: "x" } });
    e({ type: "identity.jit_requested", actor: user("corp:dev"), target: { kind: "jit_request", id: "r1" } });
    e({
      type: "identity.jit_requested",
      actor: user("corp:intern"),
      target: { kind: "role", id: "db-admin" },
      outcome: "denied",
      data: { refused: "the policy does not let you request db-admin" },
    });
    e({ type: "identity.jit_granted", actor: user("corp:lead"), target: { kind: "jit_grant", id: "g1" } });
    e({ type: "identity.jit_revoked", actor: user("corp:lead"), target: { kind: "jit_grant", id: "g1" } });
    e({ type: "identity.break_glass", actor: user("corp:oncall"), target: { kind: "jit_grant", id: "g2" } });
    e({
      type: "identity.break_glass",
      actor: user("corp:dev"),
      target: { kind: "role", id: "admin" },
      outcome: "denied",
    });
    e({ type: "identity.session_revoked", actor: user("corp:alice"), data: { sessions: 3, reason: "x" } });
    e({
      type: "identity.subject_revoked",
      actor: user("corp:sec"),
      target: { kind: "subject", id: "corp:alice" },
    });
    e({ type: "identity.api_key_revoked", actor: user("corp:sec"), target: { kind: "api_key", id: "k1" } });
    e({ type: "gateway.waf_blocked", actor: { kind: "ip", id: "198.51.100.1" }, outcome: "denied" });
    await bus.flush();

    expect(
      await value(registry, "rampart_identity_logins_total", { provider: "corp", outcome: "success" }),
    ).toBe(2);
    expect(
      await value(registry, "rampart_identity_logins_total", { provider: "corp", outcome: "failure" }),
    ).toBe(1);
    // A failure before the provider is known (a forged callback) still counts, under "unknown".
    expect(
      await value(registry, "rampart_identity_logins_total", { provider: "unknown", outcome: "failure" }),
    ).toBe(1);
    expect(await value(registry, "rampart_identity_login_failures_total", { reason: "state_mismatch" })).toBe(
      1,
    );
    expect(await value(registry, "rampart_identity_api_denied_total", { action: "secrets.write" })).toBe(1);
    expect(
      await value(registry, "rampart_identity_client_auth_failures_total", { reason: "bad_credentials" }),
    ).toBe(1);
    expect(await value(registry, "rampart_identity_lockouts_total", { scope: "ip" })).toBe(1);
    expect(await value(registry, "rampart_identity_tokens_issued_total")).toBe(1);
    expect(
      await value(registry, "rampart_identity_jit_events_total", { event: "requested", outcome: "success" }),
    ).toBe(1);
    expect(
      await value(registry, "rampart_identity_jit_events_total", { event: "requested", outcome: "denied" }),
    ).toBe(1);
    expect(await value(registry, "rampart_identity_break_glass_total", { outcome: "success" })).toBe(1);
    expect(await value(registry, "rampart_identity_break_glass_total", { outcome: "denied" })).toBe(1);
    for (const kind of ["session", "subject", "api_key", "jit_grant"])
      expect(await value(registry, "rampart_identity_revocations_total", { kind }), kind).toBe(1);
    // Nobody's identity or address became a label.
    const labels = await labelValues(registry);
    for (const personal of ["corp:alice", "203.0.113.9", "10.0.0.5", "billing", "g1", "/v1/secrets/*"])
      expect(labels).not.toContain(personal);
    await bus.close();
  });

  test("JIT grants in force are read at scrape, split by break-glass", async () => {
    const { registry } = createMetrics({ defaultMetrics: false });
    let grants = [{ breakGlass: false }, { breakGlass: false }, { breakGlass: true }];
    createIdentityMetrics(registry, { grantsInForce: async () => grants });
    expect(await value(registry, "rampart_identity_jit_grants_active", { break_glass: "false" })).toBe(2);
    expect(await value(registry, "rampart_identity_jit_grants_active", { break_glass: "true" })).toBe(1);
    grants = [];
    expect(await value(registry, "rampart_identity_jit_grants_active", { break_glass: "true" })).toBe(0);
    // The server's wiring type-checks: JitAccess.grantsInForce is a source as it stands.
    const wire = (jit: JitAccess): IdentityMetricsSources => ({ grantsInForce: () => jit.grantsInForce() });
    expect(wire).toBeTypeOf("function");
  });

  test("a grants source that fails or hangs leaves the gauge empty and the scrape whole", async () => {
    const { registry } = createMetrics({ defaultMetrics: false });
    createIdentityMetrics(registry, {
      grantsInForce: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432")),
    });
    const text = await registry.metrics();
    expect(text).toContain("# TYPE rampart_identity_jit_grants_active gauge");
    expect(text).not.toMatch(/^rampart_identity_jit_grants_active\{/m);

    const { registry: hung } = createMetrics({ defaultMetrics: false });
    createIdentityMetrics(hung, { grantsInForce: () => new Promise(() => {}) });
    const started = performance.now();
    expect(await hung.metrics()).toContain("rampart_identity_logins_total");
    expect(performance.now() - started).toBeLessThan(5000);
  });

  test("free-form label values stay bounded, and odd ones are not labels at all", async () => {
    const { registry } = createMetrics({ defaultMetrics: false });
    const m = createIdentityMetrics(registry);
    const events: SecurityEvent[] = [];
    for (let i = 0; i < 500; i++)
      events.push(newEvent({ type: "identity.login", actor: user(`u${i}`), data: { provider: `idp-${i}` } }));
    events.push(newEvent({ type: "identity.login", actor: user("x"), data: { provider: "a b\n{}" } }));
    events.push(
      newEvent({
        type: "identity.login_failed",
        actor: user("x"),
        outcome: "failure",
        data: { reason: "<script>" },
      }),
    );
    m.observe(events);
    const { values } = await (
      registry.getSingleMetric("rampart_identity_logins_total") as { get(): Promise<{ values: unknown[] }> }
    ).get();
    // 50 providers, "other", and "unknown" for the odd one (success) and the one without (failure).
    expect(values.length).toBe(53);
    expect(
      await value(registry, "rampart_identity_logins_total", { provider: "other", outcome: "success" }),
    ).toBe(450);
    expect(
      await value(registry, "rampart_identity_logins_total", { provider: "unknown", outcome: "success" }),
    ).toBe(1);
    expect(await value(registry, "rampart_identity_login_failures_total", { reason: "other" })).toBe(1);
  });
});

describe("secrets metrics, from the real store's events", () => {
  let ts: TestStore;
  let dataDir: string;
  let secrets: Secrets;
  const bus = createEventBus({ maxDelayMs: 1 });
  const { registry } = createMetrics({ defaultMetrics: false });

  beforeAll(async () => {
    ts = await openTestStore("pglite", secretsMigrations);
    dataDir = mkdtempSync(join(tmpdir(), "rampart-secrets-metrics-"));
    const config = secretsConfigSchema.parse({
      policies: [
        {
          name: "platform",
          paths: ["/prod/**"],
          capabilities: ["read", "create", "update", "delete"],
          groups: ["platform"],
        },
      ],
    });
    secrets = await openSecrets({
      store: ts.store,
      config: () => config,
      dataDir,
      clock,
      emit: (e) => bus.emit(e),
    });
    bus.subscribe(createSecretsMetrics(registry, { status: () => secrets.status(), clock }).observe);
  });

  afterAll(async () => {
    await bus.close();
    await secrets?.close();
    await ts?.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("reads by outcome, denials by capability, writes by operation, never a path", async () => {
    const alice = callerOf("user", "corp:alice", ["platform"]);
    const mallory = callerOf("user", "corp:mallory");
    await secrets.put(alice, "/prod/api/db", { password: "s3cr3t-Pa55w0rd" });
    await secrets.put(alice, "/prod/api/db", { password: "n3w-Pa55w0rd" });
    await secrets.get(alice, "/prod/api/db");
    await secrets.get(alice, "/prod/api/db", { version: 1 });
    await expect(secrets.get(alice, "/prod/api/missing")).rejects.toThrow();
    await expect(secrets.get(mallory, "/prod/api/db")).rejects.toThrow();
    await expect(secrets.put(mallory, "/prod/api/db", { password: "x" })).rejects.toThrow();
    await secrets.delete(alice, "/prod/api/db", [1]);
    await bus.flush();

    expect(await value(registry, "rampart_secrets_reads_total", { outcome: "success" })).toBe(2);
    expect(await value(registry, "rampart_secrets_reads_total", { outcome: "failure" })).toBe(1);
    expect(await value(registry, "rampart_secrets_reads_total", { outcome: "denied" })).toBe(1);
    expect(await value(registry, "rampart_secrets_denied_total", { capability: "read" })).toBe(1);
    expect(
      (await value(registry, "rampart_secrets_denied_total", { capability: "create" })) +
        (await value(registry, "rampart_secrets_denied_total", { capability: "update" })),
    ).toBe(1);
    expect(await value(registry, "rampart_secrets_writes_total", { operation: "put" })).toBe(2);
    expect(await value(registry, "rampart_secrets_writes_total", { operation: "delete" })).toBe(1);
    const labels = (await labelValues(registry)).join("\n");
    expect(labels).not.toMatch(/\/prod|corp:|Pa55w0rd/);
  });

  test("the store's seal state and KEK age are read at scrape", async () => {
    expect(secrets.status().sealed).toBe(false);
    expect(await value(registry, "rampart_secrets_sealed")).toBe(0);
    clock.advance(3 * 86_400_000);
    expect(await value(registry, "rampart_secrets_kek_age_seconds", { provider: "file" })).toBe(3 * 86_400);
    await secrets.rotateKek(callerOf("user", "corp:root", [], ["admin"]).actor);
    await bus.flush();
    expect(await value(registry, "rampart_secrets_kek_age_seconds", { provider: "file" })).toBe(0);
    expect(await value(registry, "rampart_secrets_kek_rotations_total")).toBe(1);
  });

  test("a sealed store, or one that did not open, reports sealed and no KEK age", async () => {
    const { registry: r } = createMetrics({ defaultMetrics: false });
    let status: SecretsStatus | undefined = { sealed: true, provider: "shamir", kekVersion: 0 };
    createSecretsMetrics(r, { status: () => status, clock });
    expect(await value(r, "rampart_secrets_sealed")).toBe(1);
    expect((await r.getSingleMetric("rampart_secrets_kek_age_seconds")?.get())?.values).toEqual([]);
    status = undefined;
    expect(await value(r, "rampart_secrets_sealed")).toBe(1);
    const wire = (s: Secrets): SecretsMetricsSources => ({ status: () => s.status(), clock });
    expect(wire).toBeTypeOf("function");
  });

  test("rotations by phase and result, integrity failures", async () => {
    const { registry: r } = createMetrics({ defaultMetrics: false });
    const m = createSecretsMetrics(r, { clock });
    const rotation: EventRef = { kind: "system", id: "rotation" };
    const target = { kind: "secret", id: "/prod/api/db" };
    m.observe([
      newEvent({ type: "secrets.rotated", actor: rotation, target, data: { version: 4 } }),
      newEvent({
        type: "secrets.rotation_failed",
        actor: rotation,
        target,
        outcome: "failure",
        data: { error: "x" },
      }),
      newEvent({
        type: "secrets.rotation_failed",
        actor: rotation,
        target,
        outcome: "failure",
        data: { rotator: "postgres", phase: "retire", version: 3, error: "x" },
      }),
      newEvent({ type: "secrets.rotation_retired", actor: rotation, target, data: { rotator: "postgres" } }),
      newEvent({ type: "secrets.integrity_failed", actor: rotation, target, outcome: "error" }),
    ]);
    expect(await value(r, "rampart_secrets_rotations_total", { phase: "rotate", result: "success" })).toBe(1);
    expect(await value(r, "rampart_secrets_rotations_total", { phase: "rotate", result: "failure" })).toBe(1);
    expect(await value(r, "rampart_secrets_rotations_total", { phase: "retire", result: "failure" })).toBe(1);
    expect(await value(r, "rampart_secrets_rotations_total", { phase: "retire", result: "success" })).toBe(1);
    expect(await value(r, "rampart_secrets_integrity_failures_total")).toBe(1);
  });
});

if (spawnSync("promtool", ["--version"]).status !== 0)
  throw new Error("promtool is missing: apt-get install prometheus (see the README's set-up)");

describe("the server's exposition", () => {
  test("passes promtool check metrics", async () => {
    const metrics = createMetrics();
    createIdentityMetrics(metrics.registry, { grantsInForce: () => [] });
    createSecretsMetrics(metrics.registry, { clock });
    const text = await metrics.registry.metrics();
    const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    // prom-client's own default metrics name three gauges *_total: not ours to rename.
    const findings = (r.stdout + r.stderr)
      .split("\n")
      .filter((l) => l.trim() && !/^rampart_nodejs_active_(handles|requests|resources)_total /.test(l));
    expect(findings).toEqual([]);
  });
});
