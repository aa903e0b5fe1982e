// Gateway checks: TLS termination and protocol floor (config and a live probe), the WAF, rate
// limits, the declared geo policy and security headers, read from the config in force.
//
// SLA defaults: a misconfiguration is a one-line change, so slaDays 1 with no tolerance; the
// geo policy and headers may need the application owner, so 7 days with 2 of tolerance.
import type { RouteConfig } from "../../../config/index.ts";
import { EU } from "../../../network/gateway/geo.ts";
import type { CheckContext, CheckDefinition, CheckItem, TlsProbe } from "../model.ts";
import { complianceOf, isPublic, notApplicable, routeItem } from "./common.ts";

const tlsConfigured: CheckDefinition = {
  id: "gateway.tls-configured",
  title: "The gateway terminates TLS and redirects plain HTTP",
  source: "gateway",
  remediation:
    "Add gateway.tls with certificates (or acme) and keep redirectHttp: true, so every client is served over HTTPS.",
  slaDays: 1,
  toleranceDays: 0,
  async run(ctx) {
    const tls = ctx.config.gateway.tls;
    const resource = "gateway:listener";
    if (!tls) return [{ resource, status: "fail", detail: "gateway.tls absent: plain HTTP only" }];
    const observed = {
      port: tls.port,
      certificates: tls.certificates.length,
      acme: tls.acme !== undefined,
      redirectHttp: tls.redirectHttp,
    };
    if (tls.certificates.length === 0 && !tls.acme)
      return [{ resource, status: "fail", detail: "gateway.tls has no certificates and no acme", observed }];
    if (!tls.redirectHttp)
      return [
        {
          resource,
          status: "fail",
          detail: "plain HTTP is served, not redirected (redirectHttp: false)",
          observed,
        },
      ];
    return [
      { resource, status: "pass", detail: `TLS on port ${tls.port}; HTTP redirected to HTTPS`, observed },
    ];
  },
};

/** "host:port" or "[v6]:port"; undefined when malformed. */
export function parseEndpoint(text: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m?.[1] || !(port >= 1 && port <= 65_535)) return undefined;
  return { host: m[1], port };
}

// A listener bound to every address is probed on loopback.
const reachable = (host: string) => (host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host);

function probeItem(resource: string, probe: TlsProbe): CheckItem {
  const modern = typeof probe.modern === "string" ? probe.modern : `failed (${probe.modern.error})`;
  const observed = { legacyRefused: probe.legacyRefused, modern: probe.modern };
  const problems = [
    ...(probe.legacyRefused ? [] : ["accepts TLS 1.0/1.1"]),
    ...(typeof probe.modern === "string" && ["TLSv1.2", "TLSv1.3"].includes(probe.modern)
      ? []
      : [`TLS 1.2+ handshake ${modern}`]),
  ];
  return problems.length === 0
    ? { resource, status: "pass", detail: `TLS 1.0/1.1 refused; ${modern} agreed`, observed }
    : { resource, status: "fail", detail: problems.join("; "), observed };
}

const tlsMinVersion: CheckDefinition = {
  id: "gateway.tls-min-version",
  title: "TLS below 1.2 is refused",
  source: "gateway",
  remediation:
    "Set gateway.tls.minVersion to TLSv1.2 or TLSv1.3, and make every TLS terminator in front of Rampart refuse TLS 1.0 and 1.1.",
  slaDays: 1,
  toleranceDays: 0,
  async run(ctx) {
    const items: CheckItem[] = [];
    const tls = ctx.config.gateway.tls;
    const probe = ctx.probeTls;
    if (!tls) items.push({ resource: "gateway:tls", status: "fail", detail: "no TLS configured" });
    else {
      const ok = tls.minVersion === "TLSv1.2" || tls.minVersion === "TLSv1.3";
      items.push({
        resource: "gateway:tls",
        status: ok ? "pass" : "fail",
        detail: `minVersion ${tls.minVersion}`,
        observed: { minVersion: tls.minVersion },
      });
      if (probe) {
        const host = reachable(ctx.config.gateway.host);
        const servername = tls.certificates[0]?.hosts[0];
        const sni = servername?.startsWith("*.") ? servername.replace("*", "probe") : servername;
        items.push(probeItem(`tls:gateway:${tls.port}`, await probe(host, tls.port, sni)));
      }
    }
    const extra = (ctx.config as { compliance?: { tlsEndpoints?: string[] } }).compliance?.tlsEndpoints ?? [];
    for (const text of extra) {
      const endpoint = parseEndpoint(text);
      const resource = `tls:${text}`;
      if (!endpoint) items.push({ resource, status: "fail", detail: "not an endpoint: expected host:port" });
      else if (probe) items.push(probeItem(resource, await probe(endpoint.host, endpoint.port)));
      else
        items.push({ resource, status: "not_applicable", detail: "no TLS probe available in this process" });
    }
    return items;
  },
};

/** Items for every public route, or one not_applicable item when there are none. */
function perPublicRoute(ctx: CheckContext, judge: (r: RouteConfig) => CheckItem): CheckItem[] {
  const routes = ctx.config.routes.filter(isPublic);
  if (routes.length === 0)
    return notApplicable("gateway:routes", "no public routes (every route requires auth)");
  return routes.map(judge);
}

const wafBlocking: CheckDefinition = {
  id: "gateway.waf-blocking",
  title: "Public routes are protected by the WAF in blocking mode",
  source: "gateway",
  remediation:
    "Give every public route `waf: { mode: block }`; tune false positives with exclusions instead of detect or off.",
  slaDays: 1,
  toleranceDays: 0,
  async run(ctx) {
    return perPublicRoute(ctx, (r) => {
      const mode = r.waf?.mode ?? "absent";
      return {
        resource: routeItem(r),
        status: mode === "block" ? "pass" : "fail",
        detail:
          mode === "block"
            ? `WAF blocks at paranoia ${r.waf?.paranoia}`
            : `WAF ${mode === "absent" ? "not configured" : `mode ${mode}`}`,
        observed: { mode, ...(r.waf ? { paranoia: r.waf.paranoia, threshold: r.waf.threshold } : {}) },
      };
    });
  },
};

const rateLimits: CheckDefinition = {
  id: "gateway.rate-limits",
  title: "Public routes are rate limited",
  source: "gateway",
  remediation: "Add at least one enforced (not shadow) rate limit to every public route, e.g. per client IP.",
  slaDays: 1,
  toleranceDays: 0,
  async run(ctx) {
    return perPublicRoute(ctx, (r) => {
      const enforced = r.rateLimits.filter((l) => !l.shadow).map((l) => l.name);
      const shadow = r.rateLimits.filter((l) => l.shadow).map((l) => l.name);
      const observed = { enforced, shadow };
      if (enforced.length > 0)
        return {
          resource: routeItem(r),
          status: "pass",
          detail: `enforced limits: ${enforced.join(", ")}`,
          observed,
        };
      return {
        resource: routeItem(r),
        status: "fail",
        detail: shadow.length > 0 ? `only shadow limits: ${shadow.join(", ")}` : "no rate limit",
        observed,
      };
    });
  },
};

const expand = (codes: readonly string[]) => new Set(codes.flatMap((c) => (c === "EU" ? EU : [c])));

const geoPolicy: CheckDefinition = {
  id: "gateway.geo-policy",
  title: "Public routes refuse the countries the geo policy declares",
  source: "gateway",
  remediation:
    "Add the countries of compliance.geo.deny to each public route's geo.deny (or leave them out of its geo.allow list).",
  slaDays: 7,
  toleranceDays: 2,
  async run(ctx) {
    const declared = complianceOf(ctx).geo?.deny ?? [];
    if (declared.length === 0)
      return notApplicable("gateway:geo", "no geo policy declared in compliance.geo");
    return perPublicRoute(ctx, (r) => {
      const deny = r.geo?.deny ?? [];
      const allow = r.geo?.allow ?? [];
      // Deny wins; a non-empty allow list admits only its members. "EU" stands for its members.
      const denied = expand(deny);
      const allowed = expand(allow);
      const admitted = [...expand(declared)].filter(
        (c) => !denied.has(c) && (allowed.size === 0 || allowed.has(c)),
      );
      const observed = { declared, deny, allow, admitted };
      return admitted.length === 0
        ? { resource: routeItem(r), status: "pass", detail: `refuses ${declared.join(", ")}`, observed }
        : { resource: routeItem(r), status: "fail", detail: `admits ${admitted.join(", ")}`, observed };
    });
  },
};

// Referrer policies that send the full URL to other origins (or over plain HTTP).
const LEAKY_REFERRER = new Set(["unsafe-url", "no-referrer-when-downgrade"]);

const securityHeaders: CheckDefinition = {
  id: "gateway.security-headers",
  title: "Routes keep the gateway's security headers",
  source: "gateway",
  remediation:
    "Remove the securityHeaders overrides that turn headers off: keep hstsMaxAge above 0, contentTypeOptions, frameAncestors, a referrer policy that does not leak URLs and a Permissions-Policy.",
  slaDays: 7,
  toleranceDays: 2,
  async run(ctx) {
    const routes = ctx.config.routes;
    if (routes.length === 0) return notApplicable("gateway:routes", "no routes configured");
    const tls = ctx.config.gateway.tls !== undefined;
    return routes.map((r) => {
      const h = r.securityHeaders;
      const off = [
        ...(tls && h.hstsMaxAge === 0 ? ["HSTS (hstsMaxAge 0)"] : []),
        ...(h.contentTypeOptions ? [] : ["X-Content-Type-Options"]),
        ...(h.frameAncestors.length > 0 ? [] : ["frame-ancestors"]),
        ...(LEAKY_REFERRER.has(h.referrerPolicy) ? [`Referrer-Policy ${h.referrerPolicy}`] : []),
        ...(h.permissionsPolicy.trim() === "" ? ["Permissions-Policy"] : []),
      ];
      const observed = { tls, ...h };
      return off.length === 0
        ? { resource: routeItem(r), status: "pass" as const, detail: "security headers on", observed }
        : {
            resource: routeItem(r),
            status: "fail" as const,
            detail: `turned off: ${off.join(", ")}`,
            observed,
          };
    });
  },
};

export const gatewayChecks: CheckDefinition[] = [
  tlsConfigured,
  tlsMinVersion,
  wafBlocking,
  rateLimits,
  geoPolicy,
  securityHeaders,
];
