// Every built-in rule fires on a realistic sequence of the events the platform emits (shapes as
// in the emitting modules), and stays quiet on a benign sequence of the same types.
import { describe, expect, test } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import { type NewEvent, newEvent, type SecurityEvent } from "../../platform/events/index.ts";
import { builtinRules, detectRules } from "./builtin.ts";
import { createDetector } from "./engine.ts";
import type { Detection } from "./types.ts";

type At = (e: NewEvent, stepMs?: number) => SecurityEvent;

interface Scenario {
  rule: string;
  env?: string;
  /** Monday 10:00 UTC unless said otherwise. */
  start?: string;
  attack: (at: At) => SecurityEvent[];
  benign: (at: At) => SecurityEvent[];
  benignEnv?: string;
  benignStart?: string;
  expect?: Partial<Detection>;
  /** Other rules the benign sequence rightly sets off. */
  alsoFires?: string[];
}

const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

// Shapes from src/identity/sso/relying-party.ts, service-auth/token-endpoint.ts and lockout.ts,
// network/gateway/decisions.ts, appsec/secrets/service.ts, identity/jit/service.ts,
// server/rbac-bindings.ts, server/index.ts, identity/service-auth/api-keys.ts.
const loginFailed = (ip: string): NewEvent => ({
  type: "identity.login_failed",
  actor: { kind: "ip", id: ip },
  severity: "low",
  outcome: "failure",
  data: { reason: "invalid_grant", provider: "google" },
});
const clientAuthFailed = (clientId: string, ip: string): NewEvent => ({
  type: "identity.client_auth_failed",
  severity: "low",
  actor: { kind: "service", id: clientId },
  outcome: "failure",
  data: { ip, method: "client_secret_basic", reason: "bad_credentials" },
});
const gateway = (decision: string, ip: string, route: string, count: number): NewEvent => ({
  type: `gateway.${decision}`,
  severity: decision === "waf_blocked" ? "high" : "medium",
  outcome: "denied",
  actor: { kind: "ip", id: ip },
  target: { kind: "route", id: route },
  data: { count, detail: "942100" },
  source: "edge-1",
});
const secretRead = (who: string, path: string, outcome: "success" | "failure" = "success"): NewEvent => ({
  type: "secrets.read",
  actor: { kind: "user", id: who },
  target: { kind: "secret", id: path },
  retention: "audit",
  outcome,
  data:
    outcome === "success"
      ? { version: 3, keys: ["password"], values: { password: "hmac" } }
      : { reason: "no secret" },
});
const breakGlass = (who: string, outcome: "success" | "denied"): NewEvent => ({
  type: "identity.break_glass",
  actor: { kind: "user", id: who },
  target: outcome === "success" ? { kind: "jit_grant", id: "7f1c" } : { kind: "role", id: "db-admin" },
  severity: outcome === "success" ? "critical" : "medium",
  outcome,
  data:
    outcome === "success"
      ? {
          role: "db-admin",
          scope: { kind: "environment", id: "prod" },
          reason: "INC-42 outage",
          ends: "2026-03-02T11:00:00Z",
        }
      : { refused: "break-glass access to db-admin is not allowed for you" },
});
const bindingAdded = (by: string, users: string[]): NewEvent => ({
  type: "rbac.binding_added",
  severity: "medium",
  retention: "audit",
  actor: { kind: "user", id: by },
  target: { kind: "rbac_binding", id: "b-1" },
  data: { binding: { id: "b-1", role: "admin", users } },
});
const keyUsed = (key: string, ip: string): NewEvent => ({
  type: "identity.api_key_used",
  actor: { kind: "service", id: "billing" },
  target: { kind: "api_key", id: key },
  retention: "audit",
  data: { ip, where: "gateway" },
});
const secretsStore = (type: string, outcome: "failure" | "error" | "success", path?: string): NewEvent => ({
  type,
  actor: { kind: "system", id: "rampart" },
  ...(path ? { target: { kind: "secret", id: path } } : {}),
  outcome,
  severity: "medium",
  data: { reason: "share rejected" },
});

const scenarios: Scenario[] = [
  {
    rule: "failed-logins-per-account",
    attack: (at) => times(10, () => at(loginFailed("203.0.113.7"), 10_000)),
    // Ten failures spread over an hour, and nine in a burst.
    benign: (at) => [
      ...times(10, () => at(loginFailed("198.51.100.2"), 6 * 60_000)),
      ...times(9, () => at(loginFailed("198.51.100.3"), 1000)),
    ],
    expect: { priority: "P2", count: 10, group: { actor: "203.0.113.7", actorKind: "ip" } },
  },
  {
    rule: "failed-client-auth-per-ip",
    // Spraying: twenty client ids from one address.
    attack: (at) => times(20, (i) => at(clientAuthFailed(`svc-${i}`, "203.0.113.8"), 1000)),
    benign: (at) => times(19, (i) => at(clientAuthFailed(`svc-${i}`, "203.0.113.8"), 1000)),
    expect: { group: { ip: "203.0.113.8" }, count: 20 },
  },
  {
    rule: "client-locked-out",
    attack: (at) => [
      at({
        type: "identity.client_locked_out",
        severity: "medium",
        actor: { kind: "service", id: "billing" },
        outcome: "denied",
        data: { scope: "client", failures: 10, lockMs: 60_000 },
      }),
    ],
    benign: (at) => [at(clientAuthFailed("billing", "10.0.0.1"))],
    expect: {
      group: { scope: "client", subject: "billing" },
      summary: "client billing locked out after 10 failures",
    },
  },
  {
    rule: "waf-block-surge",
    // Gateways report per (route, client) every 10 s with a count.
    attack: (at) => times(6, (i) => at(gateway("waf_blocked", `203.0.113.${i}`, "api", 20), 10_000)),
    benign: (at) => times(6, (i) => at(gateway("waf_blocked", `203.0.113.${i}`, `route-${i}`, 15), 10_000)),
    expect: { group: { route: "api" }, count: 100 },
  },
  {
    rule: "waf-block-surge-per-ip",
    attack: (at) => times(5, (i) => at(gateway("waf_blocked", "203.0.113.66", `route-${i}`, 10), 10_000)),
    benign: (at) => times(5, (i) => at(gateway("waf_blocked", `203.0.113.${i}`, `route-${i}`, 9), 10_000)),
    expect: { group: { ip: "203.0.113.66" }, priority: "P3" },
  },
  {
    rule: "rate-limit-surge",
    attack: (at) => times(50, (i) => at(gateway("rate_limited", `198.51.100.${i}`, "login", 20), 1000)),
    benign: (at) => times(50, (i) => at(gateway("rate_limited", `198.51.100.${i}`, "login", 20), 2000)),
    expect: { group: { route: "login" } },
  },
  {
    rule: "secret-first-read",
    attack: (at) => [
      at(secretRead("oidc:alice", "/prod/api/db"), 60_000),
      at(secretRead("oidc:alice", "/prod/payments/key")),
    ],
    benign: (at) => [
      ...times(3, () => at(secretRead("oidc:alice", "/prod/api/db"), 60_000)),
      at(secretRead("oidc:alice", "/prod/payments/key", "failure")),
    ],
    expect: { group: { identity: "oidc:alice", secret: "/prod/payments/key" }, priority: "P3" },
  },
  {
    rule: "secret-read-off-hours",
    start: "2026-03-07T03:00:00Z", // Saturday 03:00 UTC
    attack: (at) => [at(secretRead("oidc:bob", "/prod/api/db"))],
    benign: (at) => [at(secretRead("oidc:bob", "/prod/api/db"))],
    benignStart: "2026-03-02T10:00:00Z",
    expect: { group: { identity: "oidc:bob" } },
  },
  {
    rule: "secret-read-off-hours",
    start: "2026-03-03T21:30:00Z", // Tuesday evening
    attack: (at) => [at(secretRead("oidc:bob", "/prod/api/db"))],
    // Off hours, but not production.
    benignEnv: "dev",
    benignStart: "2026-03-03T21:30:00Z",
    benign: (at) => [at(secretRead("oidc:bob", "/prod/api/db"))],
  },
  {
    rule: "secret-read-burst",
    attack: (at) => times(50, (i) => at(secretRead("svc-export", `/prod/app/${i}`), 5000)),
    benign: (at) => [
      ...times(49, (i) => at(secretRead("svc-export", `/prod/app/${i % 40}`), 5000)),
      ...times(49, (i) => at(secretRead("svc-export", `/prod/app/${i % 40}`), 5000)),
    ],
    // 40 secrets the identity never read before: each is a (P3) first read.
    alsoFires: ["secret-first-read"],
    expect: { count: 50, group: { identity: "svc-export" } },
  },
  {
    rule: "break-glass-used",
    attack: (at) => [at(breakGlass("oidc:carol", "success"))],
    benign: (at) => [at(breakGlass("oidc:carol", "denied"))],
    expect: { priority: "P1", summary: "oidc:carol took db-admin by break-glass: INC-42 outage" },
  },
  {
    rule: "self-permission-change",
    attack: (at) => [at(bindingAdded("oidc:dave", ["oidc:erin", "oidc:dave"]))],
    benign: (at) => [
      at(bindingAdded("oidc:dave", ["oidc:erin"])),
      at({
        type: "identity.jit_approved",
        actor: { kind: "user", id: "oidc:frank" },
        target: { kind: "jit_request", id: "r-9" },
        data: {
          requester: "oidc:erin",
          role: "db-admin",
          scope: { kind: "environment", id: "prod" },
          approvals: 1,
          required: 1,
          comment: null,
        },
      }),
    ],
    expect: { priority: "P1", group: { identity: "oidc:dave", change: "b-1" } },
  },
  {
    rule: "config-changed-prod",
    attack: (at) => [
      at({
        type: "config.reloaded",
        actor: { kind: "system", id: "rampart" },
        retention: "audit",
        data: { environment: "prod", restartRequired: [] },
      }),
    ],
    benignEnv: "dev",
    benign: (at) => [
      at({
        type: "config.reloaded",
        actor: { kind: "system", id: "rampart" },
        retention: "audit",
        data: { environment: "dev", restartRequired: [] },
      }),
    ],
  },
  {
    rule: "credential-new-ip",
    attack: (at) => [
      at(keyUsed("k-1", "10.1.2.3"), 60_000),
      at(keyUsed("k-1", "10.1.2.3"), 60_000),
      at(keyUsed("k-1", "203.0.113.50")),
    ],
    benign: (at) => [at(keyUsed("k-1", "10.1.2.3"), 86_400_000), at(keyUsed("k-1", "10.1.2.3"))],
    expect: {
      priority: "P1",
      group: { credential: "k-1", subject: "billing", ip: "203.0.113.50" },
      summary: "API key k-1 used from new address 203.0.113.50",
    },
  },
  {
    rule: "audit-integrity-failed",
    attack: (at) => [
      at({
        type: "audit.verify_failed",
        actor: { kind: "system", id: "rampart" },
        outcome: "failure",
        severity: "critical",
        data: { log: "security" },
      }),
    ],
    benign: (at) => [at({ type: "audit.log_opened", actor: { kind: "system", id: "rampart" } })],
    expect: { priority: "P0" },
  },
  {
    rule: "secrets-integrity-failed",
    attack: (at) => [
      at({
        ...secretsStore("secrets.integrity_failed", "error", "/prod/api/db"),
        data: { version: 2, kekVersion: 1 },
      }),
    ],
    benign: (at) => [at(secretRead("oidc:alice", "/prod/api/db"))],
    expect: { priority: "P0", group: { secret: "/prod/api/db" } },
  },
  {
    rule: "unseal-failures",
    attack: (at) => times(3, () => at(secretsStore("secrets.unseal_failed", "failure"), 60_000)),
    benign: (at) => [
      ...times(2, () => at(secretsStore("secrets.unseal_failed", "failure"), 60_000)),
      at(secretsStore("secrets.unsealed", "success")),
    ],
    expect: { count: 3, priority: "P1" },
  },
  {
    rule: "rotation-failed",
    attack: (at) => [at(secretsStore("secrets.rotation_failed", "failure", "/prod/api/db"))],
    benign: (at) => [at(secretsStore("secrets.rotated", "success", "/prod/api/db"))],
    expect: { group: { secret: "/prod/api/db" } },
  },
];

function run(env: string, start: string, events: (at: At) => SecurityEvent[]): Detection[] {
  const clock = manualClock(start);
  const detector = createDetector({
    rules: () => detectRules(undefined),
    clock,
    environment: () => env,
    onDetection: () => {},
  });
  const at: At = (e, stepMs = 0) => {
    const ev = newEvent(e, clock.now());
    clock.advance(stepMs);
    return ev;
  };
  const all = events(at);
  // In batches of 7 as the bus would hand them over.
  const out: Detection[] = [];
  for (let i = 0; i < all.length; i += 7) out.push(...detector.process(all.slice(i, i + 7)));
  return out;
}

describe("built-in rules on realistic sequences", () => {
  test("every built-in rule has a scenario", () => {
    expect(new Set(scenarios.map((s) => s.rule))).toEqual(new Set(builtinRules.map((r) => r.id)));
  });

  test.each(scenarios.map((s, i) => [`${s.rule} #${i}`, s] as const))("%s", (_name, s) => {
    const start = s.start ?? "2026-03-02T10:00:00Z";
    const fired = run(s.env ?? "prod", start, s.attack).filter((d) => d.rule === s.rule);
    expect(fired).toHaveLength(1);
    if (s.expect) expect(fired[0]).toMatchObject(s.expect);
    expect(fired[0]!.fingerprint.startsWith(`${s.rule}:`)).toBe(true);
    const quiet = run(s.benignEnv ?? s.env ?? "prod", s.benignStart ?? start, s.benign);
    expect(quiet.map((d) => d.rule).filter((r) => !s.alsoFires?.includes(r))).toEqual([]);
  });
});
