// Identity checks: internal routes behind SSO, no standing access to production, MFA demanded
// where it matters. They read the config in force and the RBAC bindings made through the API.
//
// SLA defaults: slaDays 1, tolerance 0 for every check here: each is a config change, and each
// failing item is a door to production or to internal tools left open.
import type { RouteConfig } from "../../../config/index.ts";
import type { RuleConditions } from "../../../identity/policy/index.ts";
import { createRbac, type StoredBinding } from "../../../identity/rbac/index.ts";
import type { BindingTables } from "../../../server/rbac-bindings.ts";
import type { CheckDefinition, CheckItem } from "../model.ts";
import { complianceOf, notApplicable, routeGlobs, routeItem, tablesOf } from "./common.ts";

const ssoInternalRoutes: CheckDefinition = {
  id: "identity.sso-internal-routes",
  title: "Internal routes require single sign-on",
  source: "identity",
  remediation:
    "Give the route `auth: { provider: <identity provider> }` and a policy naming who may use it; internal tools must never be reachable anonymously.",
  slaDays: 1,
  toleranceDays: 0,
  async run(ctx) {
    const listed = routeGlobs(complianceOf(ctx).internalRoutes);
    const internal = ctx.config.routes.filter((r) => r.environment !== undefined || listed(r));
    if (internal.length === 0)
      return notApplicable(
        "identity:internal-routes",
        "no internal routes (none has an environment or matches compliance.internalRoutes)",
      );
    return internal.map((r): CheckItem => {
      const observed = { environment: r.environment ?? null, auth: r.auth ?? null };
      const resource = routeItem(r);
      if (!r.auth)
        return { resource, status: "fail", detail: "no auth: reachable without signing in", observed };
      if (!r.auth.required)
        return {
          resource,
          status: "fail",
          detail: "auth.required is false: anonymous requests go through",
          observed,
        };
      if (!r.auth.provider)
        return {
          resource,
          status: "fail",
          detail: "auth without an identity provider: no SSO sign-in",
          observed,
        };
      return { resource, status: "pass", detail: `SSO through ${r.auth.provider}`, observed };
    });
  },
};

/**
 * Standing access to production, two ways:
 * - a route with `environment: prod` and `standingAccess: true` admits people without a JIT grant;
 * - in a deployment whose `environment` is prod, a binding of the built-in `admin` role to users
 *   (people, by subject or email) is standing administrative access: admin should come through a
 *   JIT grant. Bindings to groups and service accounts are not judged here (a group's members
 *   change outside Rampart; services need standing roles). Both config and API bindings count.
 */
const noStandingProdAccess: CheckDefinition = {
  id: "identity.no-standing-prod-access",
  title: "Nobody has standing access to production",
  source: "identity",
  remediation:
    "Remove standingAccess from prod routes and admin bindings to named users; let people in through just-in-time grants (jit) instead.",
  slaDays: 1,
  toleranceDays: 0,
  async run(ctx) {
    const items: CheckItem[] = [];
    for (const r of ctx.config.routes.filter((x) => x.environment === "prod"))
      items.push(
        r.standingAccess
          ? {
              resource: routeItem(r),
              status: "fail",
              detail: "standingAccess: true on a prod route",
              observed: { standingAccess: true },
            }
          : {
              resource: routeItem(r),
              status: "pass",
              detail: "JIT grant required",
              observed: { standingAccess: false },
            },
      );
    if (ctx.config.environment === "prod") {
      const bindings: StoredBinding[] = createRbac(ctx.config.rbac).bindings();
      const rows = await tablesOf<BindingTables>(ctx)
        .selectFrom("rbac_bindings")
        .select(["id", "binding"])
        .execute();
      for (const row of rows) {
        // The server skips a stored binding it cannot read; so does the check.
        try {
          bindings.push({ ...(JSON.parse(row.binding) as StoredBinding), id: row.id });
        } catch {
          continue;
        }
      }
      const admins = bindings.filter((b) => b.role === "admin" && (b.users?.length ?? 0) > 0);
      for (const b of admins)
        items.push({
          resource: `rbac-binding:${b.id}`,
          status: "fail",
          // The count, not the names: subjects and emails are personal data.
          detail: `admin bound to ${b.users?.length} user(s) in a prod deployment`,
          observed: { role: b.role, users: b.users?.length ?? 0 },
        });
      if (admins.length === 0)
        items.push({ resource: "rbac:admin", status: "pass", detail: "no standing admin binding to users" });
    }
    if (items.length === 0)
      return notApplicable("identity:prod", "no prod routes, and the deployment's environment is not prod");
    return items;
  },
};

// Authentication methods (RFC 8176 `amr`) that mean a second factor was used.
const MFA_AMR = new Set(["mfa", "otp", "hwk", "sc"]);

/** Why an allow rule admits people without MFA, or undefined when it demands MFA (or admits services only). */
function mfaGap(when: RuleConditions): string | undefined {
  // All conditions must hold: a rule limited to service kinds or named service accounts admits no person.
  if ((when.kind !== undefined && !when.kind.includes("user")) || when.serviceAccounts !== undefined)
    return undefined;
  const amr = when.claims?.["amr"];
  if (amr && amr.every((v) => typeof v === "string" && MFA_AMR.has(v))) return undefined;
  if (when.claims?.["acr"]) return undefined;
  return amr
    ? `amr accepts ${amr.filter((v) => !MFA_AMR.has(String(v))).join(", ")}`
    : "no amr/acr claim required";
}

const mfaRequired: CheckDefinition = {
  id: "identity.mfa-required",
  title: "Production routes demand multi-factor authentication",
  source: "identity",
  remediation:
    "Add `claims: { amr: [mfa] }` (or the acr your identity provider sets for MFA) to every allow rule of the route's policy that admits people.",
  slaDays: 1,
  toleranceDays: 0,
  async run(ctx) {
    const listed = routeGlobs(complianceOf(ctx).mfaRoutes);
    const routes = ctx.config.routes.filter((r) => r.environment === "prod" || listed(r));
    if (routes.length === 0)
      return notApplicable("identity:mfa", "no prod routes and none listed in compliance.mfaRoutes");
    return routes.map((r: RouteConfig): CheckItem => {
      const resource = routeItem(r);
      if (!r.auth || !r.policy)
        return { resource, status: "fail", detail: "no auth and policy: no identity, so no MFA" };
      if (r.policy.shadow)
        return { resource, status: "fail", detail: "policy in shadow mode: nothing is enforced" };
      const gaps = r.policy.rules
        .filter((rule) => rule.kind === "allow")
        .flatMap((rule, i) => {
          const gap = mfaGap(rule.when);
          return gap ? [`${rule.name ?? `allow rule ${i + 1}`}: ${gap}`] : [];
        });
      return gaps.length === 0
        ? { resource, status: "pass", detail: "every allow rule for people demands MFA" }
        : { resource, status: "fail", detail: gaps.join("; "), observed: { rules: gaps.length } };
    });
  },
};

export const identityChecks: CheckDefinition[] = [ssoInternalRoutes, noStandingProdAccess, mfaRequired];
