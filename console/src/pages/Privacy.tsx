// Privacy operations: the queue of data-subject requests by deadline (time left or overdue), consent
// per purpose, and the breach register's notification clocks; `sub` opens one request.
import { useState } from "react";
import { BreachClocks } from "../components/privacy-breaches.tsx";
import { ConsentChart } from "../components/privacy-consent.tsx";
import {
  type Breach,
  type ConsentStats,
  Deadline,
  isClosed,
  kindWord,
  type PrivacyRequest,
  RequestStatePill,
  useNow,
} from "../components/privacy-parts.tsx";
import { PrivacyRequestPage } from "../components/privacy-request.tsx";
import { formatDateTime, fromNow } from "../format.ts";
import { Link } from "../Link.tsx";
import { useApi } from "../useApi.ts";
import { Pending, Problem } from "./Problem.tsx";
import "./Privacy.css";

export function Privacy({ sub }: { sub?: string | undefined }) {
  return sub ? <PrivacyRequestPage id={sub} /> : <PrivacyHome />;
}

function PrivacyHome() {
  return (
    <>
      <header className="page-head">
        <h1 tabIndex={-1}>Privacy</h1>
        <p className="muted">Data-subject requests, consent and personal-data breaches.</p>
      </header>
      <RequestQueue />
      <div className="privacy-split">
        <section aria-labelledby="consent-h" className="card">
          <h2 id="consent-h">Consent</h2>
          <Consent />
        </section>
        <section aria-labelledby="breaches-h">
          <h2 id="breaches-h">Breach clocks</h2>
          <Breaches />
        </section>
      </div>
    </>
  );
}

type Filter = "open" | "all";

function RequestQueue() {
  const [filter, setFilter] = useState<Filter>("open");
  const [list, reload] = useApi<{ requests: PrivacyRequest[] }>(
    filter === "open"
      ? "/api/v1/privacy/requests?due=open&limit=1000"
      : "/api/v1/privacy/requests?limit=1000",
  );
  const now = useNow(30_000);
  // Soonest deadline first; finished requests (no deadline runs) after the open ones.
  const rows =
    list.state === "ready"
      ? [...list.data.requests].sort(
          (a, b) => Number(isClosed(a.state)) - Number(isClosed(b.state)) || a.dueAt.localeCompare(b.dueAt),
        )
      : [];
  const overdue = rows.filter((r) => !isClosed(r.state) && new Date(r.dueAt).getTime() < now).length;

  return (
    <section aria-labelledby="queue-h">
      <div className="section-head">
        <h2 id="queue-h">Requests</h2>
        <div className="toolbar">
          <label className="field">
            <span>Show</span>
            <select value={filter} onChange={(e) => setFilter(e.target.value as Filter)}>
              <option value="open">Open</option>
              <option value="all">All</option>
            </select>
          </label>
          <button type="button" onClick={reload}>
            Refresh
          </button>
        </div>
      </div>
      <Pending loaded={list} loading="Loading requests…" what="data-subject requests" />
      {list.state === "ready" && (
        <>
          <p className="muted small" role="status">
            {rows.length} {filter === "open" ? "open" : ""} {rows.length === 1 ? "request" : "requests"}
            {overdue > 0 && <strong className="due-overdue">, {overdue} overdue</strong>}
          </p>
          <div className="table-wrap">
            <table className="privacy-queue privacy-stack">
              <caption className="sr-only">Data-subject requests ({filter}), soonest deadline first</caption>
              <thead>
                <tr>
                  <th scope="col">Request</th>
                  <th scope="col">State</th>
                  <th scope="col">Received</th>
                  <th scope="col">Deadline</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.id}>
                    <td data-label="Request">
                      <Link to={`privacy/${encodeURIComponent(r.id)}`}>{kindWord(r.kind)}</Link>
                      <div className="muted small mono">{r.id}</div>
                    </td>
                    <td data-label="State">
                      <RequestStatePill state={r.state} />
                    </td>
                    <td className="nowrap" data-label="Received">
                      <time dateTime={r.receivedAt} title={formatDateTime(r.receivedAt)}>
                        {fromNow(r.receivedAt, now)}
                      </time>
                    </td>
                    <td data-label="Deadline">
                      <Deadline dueAt={r.dueAt} closed={isClosed(r.state)} now={now} />
                    </td>
                  </tr>
                ))}
                {rows.length === 0 && (
                  <tr>
                    <td colSpan={4}>{filter === "open" ? "No open requests." : "No requests yet."}</td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

function Consent() {
  const [stats] = useApi<ConsentStats>("/api/v1/privacy/consent-stats");
  if (stats.state === "loading") return <p className="muted">Loading consent statistics…</p>;
  if (stats.state === "error") return <Problem error={stats.error} what="consent statistics" />;
  return <ConsentChart stats={stats.data} />;
}

function Breaches() {
  const [list] = useApi<{ breaches: Breach[] }>("/api/v1/privacy/breaches?open=true&limit=100");
  if (list.state === "loading") return <p className="muted">Loading breach records…</p>;
  if (list.state === "error") return <Problem error={list.error} what="breach records" />;
  return <BreachClocks breaches={list.data.breaches} />;
}
