// The daily look: readiness per framework, checks with failing or overdue items, open incidents and
// when the checks last ran.
import { BarList } from "../components/BarList.tsx";
import { type DecisionsAnswer, DecisionsChart } from "../components/edge-chart.tsx";
import { ScoreRing } from "../components/ScoreRing.tsx";
import { formatDateTime, fromNow } from "../format.ts";
import { Link } from "../Link.tsx";
import type { ComplianceStatus, Incident } from "../types.ts";
import { useApi } from "../useApi.ts";
import { Pending } from "./Problem.tsx";

const PRIORITIES = ["P0", "P1", "P2", "P3"] as const;

export function Overview() {
  const [status] = useApi<ComplianceStatus>("/api/v1/compliance/status");
  const [incidents] = useApi<{ incidents: Incident[] }>("/api/v1/incidents?open=true&limit=1000");
  const [edge] = useApi<DecisionsAnswer>("/api/v1/gateway/decisions?since=24h&bucket=1h");

  return (
    <>
      <header className="page-head">
        <h1 tabIndex={-1}>Overview</h1>
        {status.state === "ready" && (
          <p className="muted">
            {status.data.lastCycleAt ? (
              <>
                Checks last ran{" "}
                <time dateTime={status.data.lastCycleAt} title={formatDateTime(status.data.lastCycleAt)}>
                  {fromNow(status.data.lastCycleAt)}
                </time>
              </>
            ) : (
              "No check cycle has run since the server started."
            )}
          </p>
        )}
      </header>

      <section aria-labelledby="posture-h">
        <h2 id="posture-h">Compliance posture</h2>
        <Pending loaded={status} loading="Loading posture…" what="compliance status" />
        {status.state === "ready" && status.data.frameworks.length === 0 && (
          <p className="muted">No frameworks are configured (compliance.frameworks in rampart.yaml).</p>
        )}
        {status.state === "ready" && (
          <ul className="cards">
            {status.data.frameworks.map((f) => (
              <li key={f.id} className="card framework">
                <ScoreRing score={f.summary.score} label={f.name} />
                <div>
                  <h3>
                    <Link to={`compliance/${f.id}`}>{f.name}</Link>
                  </h3>
                  <dl className="counts">
                    <dt>Compliant</dt>
                    <dd>{f.summary.compliant}</dd>
                    <dt>Partial</dt>
                    <dd>{f.summary.partiallyCompliant}</dd>
                    <dt>Non-compliant</dt>
                    <dd>{f.summary.nonCompliant}</dd>
                    <dt>Not assessed</dt>
                    <dd>{f.summary.notAssessed}</dd>
                  </dl>
                </div>
              </li>
            ))}
          </ul>
        )}
      </section>

      <div className="split">
        <section aria-labelledby="checks-h" className="card">
          <h2 id="checks-h">Checks needing work</h2>
          {status.state === "ready" && <FailingChecks checks={status.data.checks} />}
          {status.state === "loading" && <p className="muted">Loading checks…</p>}
          {status.state === "error" && <p className="muted">Not available.</p>}
        </section>

        <section aria-labelledby="incidents-h" className="card">
          <h2 id="incidents-h">Open incidents</h2>
          <Pending loaded={incidents} loading="Loading incidents…" what="incidents" />
          {incidents.state === "ready" && (
            <>
              <p className="big-number" data-testid="open-incidents">
                {incidents.data.incidents.length}
              </p>
              <ul className="inline-counts" aria-label="Open incidents by priority">
                {PRIORITIES.map((p) => (
                  <li key={p} className={`prio prio-${p}`}>
                    <span>{p}</span> {incidents.data.incidents.filter((i) => i.priority === p).length}
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
      </div>

      <section aria-labelledby="edge-h" className="card overview-edge">
        <h2 id="edge-h">Blocks and limits over time</h2>
        <Pending loaded={edge} loading="Loading gateway decisions…" what="gateway decisions" />
        {edge.state === "ready" && (
          <DecisionsChart data={edge.data} caption="Refused requests, last 24 hours" />
        )}
        <p className="small">
          <Link to="edge">Edge: routes, live decisions and WAF hits</Link>
        </p>
      </section>
    </>
  );
}

function FailingChecks({ checks }: { checks: ComplianceStatus["checks"] }) {
  const rows = checks
    .map((c) => ({ c, bad: c.counts.overdue + c.counts.failing + c.counts.at_risk }))
    .filter((r) => r.bad > 0 || r.c.error)
    .sort((a, b) => b.c.counts.overdue - a.c.counts.overdue || b.bad - a.bad)
    .slice(0, 12);
  if (rows.length === 0) return <p>Every check passes.</p>;
  return (
    <BarList
      caption="Checks with overdue, failing or at-risk items"
      rows={rows.map(({ c }) => ({
        key: c.id,
        label: c.error ? `${c.title} (could not run)` : c.title,
        segments: [
          { value: c.counts.overdue, tone: "overdue", name: "overdue" },
          { value: c.counts.failing, tone: "failing", name: "failing" },
          { value: c.counts.at_risk, tone: "at_risk", name: "at risk" },
        ],
      }))}
    />
  );
}
