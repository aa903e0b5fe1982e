// WAF rule hits per route and the exclusion the tuner proposes, as YAML to paste under the route's
// waf: section, one click from the clipboard. Proposals rest on many clients; the rest are listed
// with the reason they were held back.
import { useState } from "react";

interface PairCount {
  rule: string;
  target: string;
  requests: number;
  blocked: number;
  clients: number;
}

/** The answer of GET /api/v1/gateway/waf/proposals. */
export interface WafProposals {
  window: { from: string; to: string };
  truncated: boolean;
  events: number;
  requests: number;
  routes: {
    route: string;
    proposed: PairCount[];
    notProposed: (PairCount & { reason: string })[];
    yaml: string | null;
  }[];
}

function CopyYaml({ yaml, route }: { yaml: string; route: string }) {
  const [said, setSaid] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(yaml);
      setSaid("Copied. Paste it under the route's waf: section in rampart.yaml.");
    } catch {
      setSaid("The browser refused the clipboard: select the text and copy it.");
    }
  };
  return (
    <div className="edge-yaml">
      <div className="edge-yaml-head">
        <strong>Proposed exclusion</strong>
        <button type="button" onClick={copy} aria-label={`Copy the proposed exclusion for ${route}`}>
          Copy
        </button>
        {said && (
          <span className="muted small" role="status">
            {said}
          </span>
        )}
      </div>
      <pre aria-label={`Proposed exclusion YAML for ${route}`}>
        <code>{yaml}</code>
      </pre>
    </div>
  );
}

export function WafHits({ data }: { data: WafProposals }) {
  if (data.routes.length === 0)
    return <p className="muted">No WAF rule hits in this window: nothing to tune.</p>;
  return (
    <>
      {data.truncated && <p className="muted small">Only the newest 20,000 detections were read.</p>}
      {data.routes.map((r) => {
        const rows = [...r.proposed.map((p) => ({ ...p, reason: null as string | null })), ...r.notProposed];
        return (
          <div key={r.route} className="card edge-waf-route">
            <h3>{r.route}</h3>
            <div className="table-wrap">
              <table>
                <caption className="sr-only">WAF rule hits on {r.route}</caption>
                <thead>
                  <tr>
                    <th scope="col">Rule</th>
                    <th scope="col">Target</th>
                    <th scope="col" className="num">
                      Requests
                    </th>
                    <th scope="col" className="num">
                      Clients
                    </th>
                    <th scope="col">Exclusion</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((p) => (
                    <tr key={`${p.rule} ${p.target}`}>
                      <th scope="row" className="mono">
                        {p.rule}
                      </th>
                      <td className="mono">{p.target}</td>
                      <td className="num">
                        {p.requests}
                        {p.blocked > 0 && <div className="muted small">{p.blocked} refused</div>}
                      </td>
                      <td className="num">{p.clients}</td>
                      <td>
                        {p.reason === null ? (
                          <span className="pill pill-warn">Proposed</span>
                        ) : (
                          <span className="muted small">Not proposed: {p.reason}</span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {r.yaml && <CopyYaml yaml={r.yaml} route={r.route} />}
          </div>
        );
      })}
    </>
  );
}
