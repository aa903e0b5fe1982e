// Prometheus metrics of layer 2, derived from the identity events on the spine (the server
// subscribes `observe` to the bus), plus gauges read at scrape time. Labels stay bounded: no
// subject, IP or path ever becomes a label; provider ids and RBAC actions come from config or
// code, and even so only the first few distinct values are kept, the rest counted as "other".
import { Counter, Gauge, type Registry } from "prom-client";
import type { SecurityEvent } from "../platform/events/index.ts";
import type { LoginFailureReason } from "./sso/errors.ts";

/** Distinct values one free-form label keeps before the rest fold into "other". */
const MAX_LABEL_VALUES = 50;
const LABEL_VALUE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** Keeps a label's set of values small whatever the events say. */
function boundedLabel(max = MAX_LABEL_VALUES): (value: unknown) => string {
  const seen = new Set<string>();
  return (value) => {
    if (typeof value !== "string" || !LABEL_VALUE.test(value)) return "unknown";
    if (seen.has(value)) return value;
    if (seen.size >= max) return "other";
    seen.add(value);
    return value;
  };
}

/** One of `allowed`, or "other": for labels whose values the code fixes. */
const oneOf =
  <T extends string>(allowed: readonly T[]) =>
  (value: unknown): T | "other" =>
    allowed.includes(value as T) ? (value as T) : "other";

const loginFailureReasons = [
  "state_mismatch",
  "login_expired",
  "nonce_mismatch",
  "idp_error",
  "code_rejected",
  "invalid_response",
  "email_unverified",
] as const satisfies readonly LoginFailureReason[];

/** JIT events by what happened to a request or grant (the suffix of `identity.jit_*`). */
const jitEvents = ["requested", "approved", "denied", "cancelled", "expired", "granted", "revoked"] as const;

/** How long a gauge may wait for its source before the scrape goes on without it. */
const SOURCE_TIMEOUT_MS = 2000;

function withinScrape<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("metrics source timed out")), SOURCE_TIMEOUT_MS);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** What a grant in force looks like to the gauge: `JitAccess.grantsInForce()` returns these. */
export interface GrantInForce {
  readonly breakGlass: boolean;
}

export interface IdentityMetricsSources {
  /** Grants in force now, read at each scrape (the server passes `() => identity.jit.grantsInForce()`). */
  grantsInForce?: () => Promise<readonly GrantInForce[]> | readonly GrantInForce[];
}

export interface IdentityMetrics {
  /** Counts what a batch of events says; hand it to `bus.subscribe`. */
  readonly observe: (events: readonly SecurityEvent[]) => void;
}

/** Registers layer 2's metrics on `registry`; `observe` feeds the counters from the event spine. */
export function createIdentityMetrics(
  registry: Registry,
  sources: IdentityMetricsSources = {},
): IdentityMetrics {
  const provider = boundedLabel();
  const action = boundedLabel();
  const reason = oneOf(loginFailureReasons);
  const jitEvent = oneOf(jitEvents);

  const logins = new Counter({
    name: "rampart_identity_logins_total",
    help: "Single sign-on logins, by identity provider and outcome (success, failure).",
    labelNames: ["provider", "outcome"],
    registers: [registry],
  });
  const loginFailures = new Counter({
    name: "rampart_identity_login_failures_total",
    help: "Failed single sign-on logins, by reason (state_mismatch, code_rejected, invalid_response, …).",
    labelNames: ["reason"],
    registers: [registry],
  });
  const refreshFailures = new Counter({
    name: "rampart_identity_session_refresh_failures_total",
    help: "Sessions ended because the identity provider refused to refresh them, by provider.",
    labelNames: ["provider"],
    registers: [registry],
  });
  const apiDenied = new Counter({
    name: "rampart_identity_api_denied_total",
    help: "Calls to Rampart's own API refused for a missing RBAC permission, by action.",
    labelNames: ["action"],
    registers: [registry],
  });
  const clientAuthFailures = new Counter({
    name: "rampart_identity_client_auth_failures_total",
    help: "Service accounts refused at the token endpoint, by reason (bad_credentials, locked_out).",
    labelNames: ["reason"],
    registers: [registry],
  });
  const lockouts = new Counter({
    name: "rampart_identity_lockouts_total",
    help: "Service clients or source addresses locked out after repeated failures, by scope (client, ip).",
    labelNames: ["scope"],
    registers: [registry],
  });
  const tokensIssued = new Counter({
    name: "rampart_identity_tokens_issued_total",
    help: "Access tokens issued to service accounts (client credentials).",
    registers: [registry],
  });
  const jit = new Counter({
    name: "rampart_identity_jit_events_total",
    help: "Just-in-time access requests and grants, by what happened (requested, approved, granted, expired, …) and outcome.",
    labelNames: ["event", "outcome"],
    registers: [registry],
  });
  const breakGlass = new Counter({
    name: "rampart_identity_break_glass_total",
    help: "Break-glass grants taken (success) or refused (denied).",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const revocations = new Counter({
    name: "rampart_identity_revocations_total",
    help: "Revocations, by what was revoked (session, subject, api_key, jit_grant).",
    labelNames: ["kind"],
    registers: [registry],
  });
  new Gauge({
    name: "rampart_identity_jit_grants_active",
    help: "Just-in-time grants in force now, break-glass or approved.",
    labelNames: ["break_glass"],
    registers: [registry],
    async collect() {
      this.reset();
      if (!sources.grantsInForce) return;
      let grants: readonly GrantInForce[];
      try {
        grants = await withinScrape(Promise.resolve(sources.grantsInForce()));
      } catch {
        // The database is away: leave the series absent rather than fail the whole scrape,
        // which would hide the very metrics (event queue, sealed store) that say so.
        return;
      }
      const glass = grants.filter((g) => g.breakGlass).length;
      this.set({ break_glass: "true" }, glass);
      this.set({ break_glass: "false" }, grants.length - glass);
    },
  });

  function count(e: SecurityEvent): void {
    const d = e.data;
    switch (e.type) {
      case "identity.login":
        logins.inc({ provider: provider(d.provider), outcome: "success" });
        return;
      case "identity.login_failed":
        logins.inc({ provider: provider(d.provider), outcome: "failure" });
        loginFailures.inc({ reason: reason(d.reason) });
        return;
      case "identity.refresh_failed":
        refreshFailures.inc({ provider: provider(d.provider) });
        return;
      case "identity.api_denied":
        apiDenied.inc({ action: action(d.action) });
        return;
      case "identity.client_auth_failed":
        clientAuthFailures.inc({ reason: oneOf(["bad_credentials", "locked_out"])(d.reason) });
        return;
      case "identity.client_locked_out":
        lockouts.inc({ scope: oneOf(["client", "ip"])(d.scope) });
        return;
      case "identity.token_issued":
        tokensIssued.inc();
        return;
      case "identity.break_glass":
        breakGlass.inc({ outcome: e.outcome });
        return;
      case "identity.session_revoked":
        revocations.inc({ kind: "session" });
        return;
      case "identity.subject_revoked":
        revocations.inc({ kind: "subject" });
        return;
      case "identity.api_key_revoked":
        revocations.inc({ kind: "api_key" });
        return;
    }
    if (e.type.startsWith("identity.jit_")) {
      const what = jitEvent(e.type.slice("identity.jit_".length));
      jit.inc({ event: what, outcome: e.outcome });
      if (what === "revoked" && e.outcome === "success") revocations.inc({ kind: "jit_grant" });
    }
  }

  return {
    observe(events) {
      for (const e of events) count(e);
    },
  };
}
