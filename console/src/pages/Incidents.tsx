// Incidents: the open ones by priority (filterable by state), and one incident's page with its
// timeline, the playbook runs made for it and the Acknowledge action.
import { useRef, useState } from "react";
import { api, ApiError } from "../api.ts";
import {
  type IncidentRecord,
  type IncidentState,
  incidentStates,
  type IncidentWithTimeline,
  type PlaybookRun,
  PriorityPill,
  RunStatusPill,
  StatePill,
  stateWord,
} from "../components/incident-parts.tsx";
import { formatDateTime, fromNow } from "../format.ts";
import { Link } from "../Link.tsx";
import { notAllowed, useCan } from "../session.ts";
import { useApi } from "../useApi.ts";
import { Pending, Problem } from "./Problem.tsx";
import "./Incidents.css";

export function Incidents({ id }: { id?: string | undefined }) {
  return id ? <IncidentPage id={id} /> : <IncidentList />;
}

type Filter = "open" | "all" | IncidentState;

function listPath(filter: Filter): string {
  if (filter === "open") return "/api/v1/incidents?open=true&limit=1000";
  if (filter === "all") return "/api/v1/incidents?limit=1000";
  return `/api/v1/incidents?state=${filter}&limit=1000`;
}

function When({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={formatDateTime(iso)}>
      {fromNow(iso)}
    </time>
  );
}

function IncidentList() {
  const [filter, setFilter] = useState<Filter>("open");
  const [list, reload] = useApi<{ incidents: IncidentRecord[] }>(listPath(filter));
  // Most urgent first, newest first within a priority (the API answers newest first).
  const rows =
    list.state === "ready"
      ? [...list.data.incidents].sort((a, b) => a.priority.localeCompare(b.priority))
      : [];

  return (
    <>
      <header className="page-head">
        <h1 tabIndex={-1}>Incidents</h1>
        <div className="toolbar">
          <label className="field">
            <span>State</span>
            <select value={filter} onChange={(e) => setFilter(e.target.value as Filter)}>
              <option value="open">Open (not closed)</option>
              <option value="all">All</option>
              {incidentStates.map((s) => (
                <option key={s} value={s}>
                  {stateWord(s)}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={reload}>
            Refresh
          </button>
        </div>
      </header>
      <Pending loaded={list} loading="Loading incidents…" what="incidents" />
      {list.state === "ready" && (
        <div className="table-wrap">
          <table className="incidents">
            <caption className="sr-only">
              Incidents: {filter === "open" ? "open" : filter === "all" ? "all" : filter}, most urgent first
            </caption>
            <thead>
              <tr>
                <th scope="col">Priority</th>
                <th scope="col">Incident</th>
                <th scope="col">State</th>
                <th scope="col">Opened</th>
                <th scope="col">Commander</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((i) => (
                <tr key={i.id}>
                  <td>
                    <PriorityPill priority={i.priority} />
                  </td>
                  <td>
                    <Link to={`incidents/${encodeURIComponent(i.id)}`}>{i.title}</Link>
                    <div className="muted small mono">{i.id}</div>
                  </td>
                  <td>
                    <StatePill state={i.state} />
                  </td>
                  <td className="nowrap">
                    <When iso={i.createdAt} />
                  </td>
                  <td>{i.commander ?? <span className="muted">unassigned</span>}</td>
                </tr>
              ))}
              {rows.length === 0 && (
                <tr>
                  <td colSpan={5}>
                    {filter === "open" ? "No open incidents." : "No incidents match this filter."}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function IncidentPage({ id }: { id: string }) {
  const path = `/api/v1/incidents/${encodeURIComponent(id)}`;
  const [incident, reload] = useApi<IncidentWithTimeline>(path);
  const [runs] = useApi<{ runs: PlaybookRun[] }>(`/api/v1/playbook-runs?incident=${encodeURIComponent(id)}`);
  // While reloading after an action, keep showing what was there rather than blanking the page.
  const last = useRef<IncidentWithTimeline | undefined>(undefined);
  if (incident.state === "ready") last.current = incident.data;
  const inc = last.current?.id === id ? last.current : undefined;

  return (
    <>
      <p className="back">
        <Link to="incidents">← All incidents</Link>
      </p>
      <header className="page-head">
        <h1 tabIndex={-1}>{inc ? inc.title : `Incident ${id}`}</h1>
        {inc && (
          <div className="toolbar">
            <Acknowledge incident={inc} onDone={reload} />
          </div>
        )}
      </header>
      {incident.state === "loading" && !inc && <p className="muted">Loading the incident…</p>}
      {incident.state === "error" && <Problem error={incident.error} what="this incident" />}
      {inc && (
        <>
          <section className="card incident-facts" aria-label="Facts">
            <dl>
              <div>
                <dt>Id</dt>
                <dd className="mono">{inc.id}</dd>
              </div>
              <div>
                <dt>Priority</dt>
                <dd>
                  <PriorityPill priority={inc.priority} />
                </dd>
              </div>
              <div>
                <dt>State</dt>
                <dd data-testid="incident-state">
                  <StatePill state={inc.state} />
                </dd>
              </div>
              <div>
                <dt>Opened</dt>
                <dd>
                  <When iso={inc.createdAt} />
                </dd>
              </div>
              <div>
                <dt>Acknowledged</dt>
                <dd>{inc.acknowledgedAt ? <When iso={inc.acknowledgedAt} /> : "not yet"}</dd>
              </div>
              <div>
                <dt>Commander</dt>
                <dd>{inc.commander ?? <span className="muted">unassigned</span>}</dd>
              </div>
            </dl>
            {inc.summary && <p className="incident-summary">{inc.summary}</p>}
          </section>

          <section aria-labelledby="timeline-h">
            <h2 id="timeline-h">Timeline</h2>
            <Timeline inc={inc} />
          </section>

          <section aria-labelledby="runs-h">
            <h2 id="runs-h">Playbook runs</h2>
            <Pending loaded={runs} loading="Loading playbook runs…" what="playbook runs" />
            {runs.state === "ready" && <Runs runs={runs.data.runs} />}
          </section>
        </>
      )}
    </>
  );
}

function Timeline({ inc }: { inc: IncidentWithTimeline }) {
  return (
    <>
      {inc.autoDropped > 0 && (
        <p className="muted small">
          {inc.autoDropped} later automatic entries were counted but not kept on the timeline.
        </p>
      )}
      <div className="table-wrap">
        <table className="timeline">
          <caption className="sr-only">Timeline of {inc.id}, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Type</th>
              <th scope="col">What happened</th>
              <th scope="col">By</th>
            </tr>
          </thead>
          <tbody>
            {inc.timeline.map((e) => (
              <tr key={e.id}>
                <td className="nowrap">
                  <time dateTime={e.at} title={fromNow(e.at)}>
                    {formatDateTime(e.at)}
                  </time>
                </td>
                <td>
                  <span className={`tag kind-${e.kind}`}>{e.kind}</span>
                </td>
                <td className="timeline-text">{e.text}</td>
                <td className="mono small">{e.actor}</td>
              </tr>
            ))}
            {inc.timeline.length === 0 && (
              <tr>
                <td colSpan={4}>Nothing on the timeline yet.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </>
  );
}

function Runs({ runs }: { runs: PlaybookRun[] }) {
  if (runs.length === 0) return <p className="muted">No playbook has run for this incident.</p>;
  return (
    <div className="table-wrap">
      <table>
        <caption className="sr-only">Playbook runs for this incident, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Playbook</th>
            <th scope="col">Status</th>
            <th scope="col">Steps</th>
            <th scope="col">Started</th>
            <th scope="col">Triggered by</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => {
            const finished = r.steps.filter((s) => ["done", "checked", "skipped"].includes(s.status)).length;
            const waiting = r.steps.filter((s) => s.status === "waiting_manual").length;
            const overdue = r.steps.filter((s) => s.overdue).length;
            return (
              <tr key={r.id}>
                <td className="mono">{r.playbook}</td>
                <td>
                  <RunStatusPill status={r.status} />
                </td>
                <td>
                  {finished} of {r.steps.length} done
                  {waiting > 0 && <div className="muted small">{waiting} waiting for a person</div>}
                  {overdue > 0 && <div className="error small">{overdue} overdue</div>}
                </td>
                <td className="nowrap">
                  <When iso={r.startedAt} />
                </td>
                <td>{r.triggeredBy.label}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** Why the incident cannot be acknowledged now, or null when it can. */
function notNow(inc: IncidentRecord): string | null {
  if (inc.state === "closed") return "A closed incident cannot be acknowledged.";
  if (inc.acknowledgedAt) return `Already acknowledged ${fromNow(inc.acknowledgedAt)}.`;
  return null;
}

function Acknowledge({ incident, onDone }: { incident: IncidentRecord; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [forbidden, setForbidden] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const acknowledge = async () => {
    setBusy(true);
    setError(null);
    setMessage(null);
    try {
      const after = await api<IncidentRecord>(`/api/v1/incidents/${encodeURIComponent(incident.id)}/ack`, {
        method: "POST",
        body: {},
      });
      setMessage(`Acknowledged; the incident is ${after.state}.`);
      onDone();
    } catch (err) {
      // Roles can change between asking and acting: a refusal disables the button with its reason too.
      if (err instanceof ApiError && err.status === 403) setForbidden(err.message);
      else setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const allowed = useCan("incidents:write");
  const why = forbidden || allowed === false ? notAllowed("incidents:write") : notNow(incident);
  return (
    <>
      {/* A disabled button gets no hover or focus, so the reason sits on a wrapper and in the text. */}
      <span title={why ?? undefined}>
        <button
          type="button"
          className="primary"
          onClick={acknowledge}
          disabled={busy || why !== null}
          aria-describedby={why && !message ? "ack-why" : undefined}
        >
          {busy ? "Acknowledging…" : "Acknowledge"}
        </button>
      </span>
      {why && !message && (
        <span id="ack-why" className="muted small">
          {why}
        </span>
      )}
      {message && (
        <span className="muted small" role="status">
          {message}
        </span>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}
