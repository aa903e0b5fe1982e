// The routes in force with their policies as badges: each badge says in words what guards the
// route (WAF mode, limits, geo, IP rules, bots, sign-in, policy), so nothing rests on colour.

/** A route as GET /api/v1/gateway/routes summarises it (no secrets). */
export interface RouteSummary {
  id: string;
  host: string | null;
  path: string;
  upstreams: string[];
  environment: string | null;
  waf: { mode: "off" | "detect" | "block"; paranoia: number; exclusions: number } | null;
  rateLimits: { name: string; limit: number; windowSeconds: number; by: string[]; shadow: boolean }[];
  geo: { allow: string[]; deny: string[] } | null;
  ipRules: { allow: number; deny: number };
  bots: { action: string } | null;
  auth: { provider: string | null; required: boolean; accept: string[] } | null;
  policy: { rules: number; shadow: boolean } | null;
  standingAccess: boolean;
}

type Tone = "strong" | "weak" | "none" | "plain";

function Badge({ tone = "plain", children }: { tone?: Tone; children: string }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

const per = (s: number) => (s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`);

function Policies({ r }: { r: RouteSummary }) {
  return (
    <div className="edge-badges">
      {r.environment && (
        <Badge tone={r.environment === "prod" ? "weak" : "plain"}>{`env ${r.environment}`}</Badge>
      )}
      {r.waf && r.waf.mode !== "off" ? (
        <Badge tone={r.waf.mode === "block" ? "strong" : "weak"}>
          {`WAF ${r.waf.mode}${r.waf.exclusions ? `, ${r.waf.exclusions} exclusions` : ""}`}
        </Badge>
      ) : (
        <Badge tone="none">no WAF</Badge>
      )}
      {r.rateLimits.length > 0 ? (
        r.rateLimits.map((l) => (
          <Badge key={l.name} tone={l.shadow ? "weak" : "strong"}>
            {`limit ${l.name} ${l.limit}/${per(l.windowSeconds)}${l.shadow ? " (shadow)" : ""}`}
          </Badge>
        ))
      ) : (
        <Badge tone="none">no rate limit</Badge>
      )}
      {r.geo && r.geo.allow.length > 0 && <Badge>{`geo allow ${r.geo.allow.join(" ")}`}</Badge>}
      {r.geo && r.geo.deny.length > 0 && <Badge>{`geo deny ${r.geo.deny.join(" ")}`}</Badge>}
      {r.ipRules.allow + r.ipRules.deny > 0 && (
        <Badge>{`IP rules: ${r.ipRules.allow} allow, ${r.ipRules.deny} deny`}</Badge>
      )}
      {r.bots && <Badge>{`bots ${r.bots.action}`}</Badge>}
      {r.auth ? (
        <Badge tone="strong">
          {`sign-in ${r.auth.required ? "required" : "optional"}${r.auth.provider ? ` via ${r.auth.provider}` : ""}`}
        </Badge>
      ) : (
        <Badge tone="none">public</Badge>
      )}
      {r.policy && (
        <Badge tone={r.policy.shadow ? "weak" : "strong"}>
          {`policy ${r.policy.rules} rule${r.policy.rules === 1 ? "" : "s"}${r.policy.shadow ? " (shadow)" : ""}`}
        </Badge>
      )}
    </div>
  );
}

export function RoutesTable({ routes }: { routes: RouteSummary[] }) {
  if (routes.length === 0)
    return <p className="muted">No routes are configured (routes: in rampart.yaml).</p>;
  return (
    <div className="table-wrap">
      <table className="edge-routes">
        <caption className="sr-only">Routes in force and what guards them</caption>
        <thead>
          <tr>
            <th scope="col">Route</th>
            <th scope="col">Upstream</th>
            <th scope="col">Policies</th>
          </tr>
        </thead>
        <tbody>
          {routes.map((r) => (
            <tr key={r.id}>
              <th scope="row">
                <span className="mono">{r.id}</span>
                <div className="muted small">
                  {r.host ?? "any host"} {r.path}
                </div>
              </th>
              <td className="mono small">
                {r.upstreams.map((u) => (
                  <div key={u}>{u}</div>
                ))}
              </td>
              <td>
                <Policies r={r} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
