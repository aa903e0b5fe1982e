// The rules Rampart ships, written as they would be in rampart.yaml (`detect.rules`). Each names
// an event type the platform really emits, with the fields that event carries.
import { type DetectConfig, parseRule, type Rule, type RuleInput } from "./schema.ts";

export const builtinRuleInputs: readonly RuleInput[] = [
  {
    // SSO login failures carry the caller's address as actor (the account is unknown until the
    // IdP answers); where a user is known, the actor is the user.
    id: "failed-logins-per-account",
    title: "Repeated failed logins",
    priority: "P2",
    match: { type: "identity.login_failed", outcome: "failure" },
    groupBy: { actor: "actor.id", actorKind: "actor.kind" },
    condition: { kind: "count", threshold: 10, window: "5m" },
    summary: "{{count}} failed logins from {{group.actorKind}} {{group.actor}} in 5 minutes",
  },
  {
    // Password spraying against service accounts: many client ids, one address (data.ip).
    id: "failed-client-auth-per-ip",
    title: "Repeated failed client authentication from one address",
    priority: "P2",
    match: { type: "identity.client_auth_failed", outcome: "failure" },
    groupBy: { ip: "data.ip" },
    condition: { kind: "count", threshold: 20, window: "5m" },
    summary: "{{count}} failed client authentications from {{group.ip}} in 5 minutes",
  },
  {
    id: "client-locked-out",
    title: "Service client locked out after failed authentication",
    priority: "P2",
    match: { type: "identity.client_locked_out" },
    groupBy: { scope: "data.scope", subject: "actor.id" },
    condition: { kind: "each" },
    suppress: "15m",
    summary: "{{group.scope}} {{group.subject}} locked out after {{event.data.failures}} failures",
  },
  {
    // Gateway events are counted per (route, client) and carry data.count: the engine weighs them.
    id: "waf-block-surge",
    title: "WAF block surge on a route",
    priority: "P2",
    match: { type: "gateway.waf_blocked" },
    groupBy: { route: "target.id" },
    condition: { kind: "count", threshold: 100, window: "1m" },
    summary: "{{count}} requests blocked by the WAF on route {{group.route}} in 1 minute",
  },
  {
    id: "waf-block-surge-per-ip",
    title: "WAF blocks from one address",
    priority: "P3",
    match: { type: "gateway.waf_blocked" },
    groupBy: { ip: "actor.id" },
    condition: { kind: "count", threshold: 50, window: "5m" },
    summary: "{{count}} requests from {{group.ip}} blocked by the WAF in 5 minutes",
  },
  {
    id: "rate-limit-surge",
    title: "Rate-limit surge on a route (DDoS shape)",
    priority: "P2",
    match: { type: "gateway.rate_limited" },
    groupBy: { route: "target.id" },
    condition: { kind: "count", threshold: 1000, window: "1m" },
    summary: "{{count}} requests rate-limited on route {{group.route}} in 1 minute",
  },
  {
    id: "secret-first-read",
    title: "Identity read a secret it never read before",
    priority: "P3",
    match: { type: "secrets.read", outcome: "success" },
    groupBy: { identity: "actor.id" },
    condition: { kind: "first_seen", field: "target.id", as: "secret", remember: "30d", minKnown: 1 },
    summary: "{{group.identity}} read {{group.secret}} for the first time",
  },
  {
    id: "secret-read-off-hours",
    title: "Secret read outside working hours in production",
    priority: "P3",
    match: {
      type: "secrets.read",
      outcome: "success",
      environment: "prod",
      outsideHours: {
        from: "07:00",
        to: "20:00",
        days: ["mon", "tue", "wed", "thu", "fri"],
        timezone: "UTC",
      },
    },
    groupBy: { identity: "actor.id" },
    condition: { kind: "each" },
    suppress: "1h",
    summary: "{{group.identity}} read {{event.target.id}} outside working hours",
  },
  {
    id: "secret-read-burst",
    title: "Bulk secret reads by one identity",
    priority: "P2",
    match: { type: "secrets.read", outcome: "success" },
    groupBy: { identity: "actor.id" },
    condition: { kind: "distinct", field: "target.id", threshold: 50, window: "10m" },
    summary: "{{group.identity}} read {{count}} different secrets in 10 minutes",
  },
  {
    id: "break-glass-used",
    title: "Break-glass access used",
    priority: "P1",
    match: { type: "identity.break_glass", outcome: "success" },
    groupBy: { identity: "actor.id", grant: "target.id" },
    condition: { kind: "each" },
    summary: "{{group.identity}} took {{event.data.role}} by break-glass: {{event.data.reason}}",
  },
  {
    // A binding lists its users and service accounts; a JIT approval names the requester.
    id: "self-permission-change",
    title: "A principal changed its own permissions",
    priority: "P1",
    match: {
      type: ["rbac.binding_added", "identity.jit_approved"],
      outcome: "success",
      self: ["data.binding.users", "data.binding.serviceAccounts", "data.requester"],
    },
    groupBy: { identity: "actor.id", change: "target.id" },
    condition: { kind: "each" },
    summary: "{{group.identity}} granted itself access ({{event.type}} {{group.change}})",
  },
  {
    id: "config-changed-prod",
    title: "Configuration changed in production",
    priority: "P2",
    match: { type: "config.reloaded", environment: "prod" },
    condition: { kind: "each" },
    suppress: "1m",
    summary: "rampart.yaml reloaded in production",
  },
  {
    // The gateway reports a key's first use from each address (identity.api_key_used).
    id: "credential-new-ip",
    title: "API key used from a new address",
    priority: "P1",
    match: { type: "identity.api_key_used" },
    groupBy: { credential: "target.id", subject: "actor.id" },
    condition: { kind: "first_seen", field: "data.ip", remember: "30d", minKnown: 1 },
    summary: "API key {{group.credential}} used from new address {{event.data.ip}}",
  },
  {
    // Not yet emitted by the audit log: a scheduled verification is to report a broken chain as
    // audit.verify_failed.
    id: "audit-integrity-failed",
    title: "Audit log integrity check failed",
    priority: "P0",
    match: { type: "audit.verify_failed" },
    condition: { kind: "each" },
    suppress: "1h",
    summary: "the audit log failed verification",
  },
  {
    id: "secrets-integrity-failed",
    title: "Secret ciphertext failed authentication (tampering)",
    priority: "P0",
    match: { type: "secrets.integrity_failed" },
    groupBy: { secret: "target.id" },
    condition: { kind: "each" },
    summary: "secret {{group.secret}} version {{event.data.version}} failed its integrity check",
  },
  {
    id: "unseal-failures",
    title: "Repeated failed unseal attempts",
    priority: "P1",
    match: { type: "secrets.unseal_failed" },
    condition: { kind: "count", threshold: 3, window: "10m" },
    summary: "{{count}} failed unseal attempts in 10 minutes",
  },
  {
    id: "rotation-failed",
    title: "Secret rotation failed",
    priority: "P2",
    match: { type: "secrets.rotation_failed" },
    groupBy: { secret: "target.id" },
    condition: { kind: "each" },
    summary: "rotation of {{group.secret}} failed",
  },
];

/** The built-in rules, validated. */
export const builtinRules: readonly Rule[] = builtinRuleInputs.map((r, i) => parseRule(r, `builtin[${i}]`));

/** The rules in force for a `detect` config: the built-ins (less `disable`, replaced by id) and the config's own. */
export function detectRules(config: DetectConfig | undefined): Rule[] {
  const own = config?.rules ?? [];
  const replaced = new Set(own.map((r) => r.id));
  const disabled = new Set(config?.disable ?? []);
  const base =
    config?.builtin === false ? [] : builtinRules.filter((r) => !disabled.has(r.id) && !replaced.has(r.id));
  return [...base, ...own];
}

/**
 * A `rules()` for createDetector that rebuilds only when the config object changes (hot reload
 * swaps the config object; the engine then keeps the state of the rules that did not change).
 */
export function ruleSource(config: () => DetectConfig | undefined): () => readonly Rule[] {
  let last: DetectConfig | undefined | null = null;
  let rules: readonly Rule[] = [];
  return () => {
    const c = config();
    if (c !== last) {
      last = c;
      rules = detectRules(c);
    }
    return rules;
  };
}
