// Edge: the routes and what guards them, what the gateways refused over time, the live decisions
// (polled every few seconds, pausable), the clients refused most with a one-click block, the
// countries refused, and WAF rule hits with the tuner's proposed exclusion ready to copy.
import { useEffect, useState } from "react";
import { api, ApiError } from "../api.ts";
import { BarList } from "../components/BarList.tsx";
import { type DecisionsAnswer, DecisionsChart } from "../components/edge-chart.tsx";
import { type IpBlock, TopClients } from "../components/edge-clients.tsx";
import { type RouteSummary, RoutesTable } from "../components/edge-routes.tsx";
import { WafHits, type WafProposals } from "../components/edge-waf.tsx";
import { formatDateTime } from "../format.ts";
import { type Loaded, useApi } from "../useApi.ts";
import { Pending, Problem } from "./Problem.tsx";
import "./Edge.css";

const WINDOWS = [
  { since: "1h", bucket: "5m", label: "Last hour" },
  { since: "6h", bucket: "15m", label: "Last 6 hours" },
  { since: "24h", bucket: "1h", label: "Last 24 hours" },
  { since: "7d", bucket: "6h", label: "Last 7 days" },
] as const;

const POLL_MS = 5000;

/** The decisions answer, fetched again every few seconds while `live`; the last answer stays shown. */
function useDecisions(path: string, live: boolean): [Loaded<DecisionsAnswer>, Date | null] {
  const [loaded, setLoaded] = useState<Loaded<DecisionsAnswer>>({ state: "loading" });
  const [at, setAt] = useState<Date | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    const load = () =>
      api<DecisionsAnswer>(path, { signal: abort.signal }).then(
        (data) => {
          setLoaded({ state: "ready", data });
          setAt(new Date());
        },
        (error: Error) => {
          if (error.name !== "AbortError") setLoaded({ state: "error", error });
        },
      );
    void load();
    const timer = live ? setInterval(load, POLL_MS) : undefined;
    return () => {
      abort.abort();
      if (timer) clearInterval(timer);
    };
  }, [path, live]);
  return [loaded, at];
}

export function Edge(_props: { sub?: string | undefined }) {
  const [windowIndex, setWindowIndex] = useState(2);
  const [live, setLive] = useState(true);
  const [withRefusals, setWithRefusals] = useState(false);
  const w = WINDOWS[windowIndex] ?? WINDOWS[2];
  const [routes] = useApi<{ routes: RouteSummary[] }>("/api/v1/gateway/routes");
  const [decisions, updatedAt] = useDecisions(
    `/api/v1/gateway/decisions?since=${w.since}&bucket=${w.bucket}`,
    live,
  );
  const [blocks, reloadBlocks] = useApi<{ blocks: IpBlock[] }>("/api/v1/gateway/blocks");
  const [waf] = useApi<WafProposals>(
    `/api/v1/gateway/waf/proposals?since=7d${withRefusals ? "&blocked=true" : ""}`,
  );
  const d = decisions.state === "ready" ? decisions.data : undefined;

  return (
    <div className="edge">
      <header className="page-head">
        <h1 tabIndex={-1}>Edge</h1>
        <div className="toolbar">
          <label className="field">
            <span>Window</span>
            <select value={windowIndex} onChange={(e) => setWindowIndex(Number(e.target.value))}>
              {WINDOWS.map((x, i) => (
                <option key={x.since} value={i}>
                  {x.label}
                </option>
              ))}
            </select>
          </label>
        </div>
      </header>

      <section aria-labelledby="routes-h">
        <h2 id="routes-h">Routes and their policies</h2>
        <Pending loaded={routes} loading="Loading routes…" what="routes" />
        {routes.state === "ready" && <RoutesTable routes={routes.data.routes} />}
      </section>

      <section aria-labelledby="chart-h" className="card">
        <h2 id="chart-h">Blocks and limits over time</h2>
        <Pending loaded={decisions} loading="Loading decisions…" what="gateway decisions" />
        {d && <DecisionsChart data={d} caption={`Refused requests, ${w.label.toLowerCase()}`} />}
      </section>

      <section aria-labelledby="live-h" className="edge-live">
        <div className="edge-live-head">
          <h2 id="live-h">Live decisions</h2>
          <div className="edge-actions">
            <span className="muted small" role="status" aria-live="off">
              {live ? "Updating every 5 seconds" : "Paused"}
              {updatedAt && `; last update ${updatedAt.toLocaleTimeString()}`}
            </span>
            <button type="button" aria-pressed={!live} onClick={() => setLive((l) => !l)}>
              {live ? "Pause" : "Resume"}
            </button>
          </div>
        </div>
        {d && <LiveList latest={d.latest} />}
      </section>

      <div className="edge-grid-2">
        <section aria-labelledby="clients-h">
          <h2 id="clients-h">Top blocked clients</h2>
          {d && (
            <TopClients
              clients={d.topClients}
              blocks={blocks.state === "ready" ? blocks.data.blocks : undefined}
              onBlocked={reloadBlocks}
            />
          )}
          {blocks.state === "error" && !(blocks.error instanceof ApiError && blocks.error.status === 403) && (
            <Problem error={blocks.error} what="blocks in force" />
          )}
        </section>
        <section aria-labelledby="countries-h" className="card">
          <h2 id="countries-h">Countries refused</h2>
          {d && d.countries.length === 0 && <p className="muted">No request was refused for its country.</p>}
          {d && d.countries.length > 0 && (
            <BarList
              caption="Requests refused by country"
              rows={d.countries.map((c) => ({
                key: c.country,
                label: c.country === "unknown" ? "Unknown country" : c.country,
                segments: [{ value: c.count, tone: "country", name: "refused" }],
              }))}
            />
          )}
        </section>
      </div>

      <section aria-labelledby="waf-h">
        <div className="edge-live-head">
          <h2 id="waf-h">WAF rule hits, last 7 days</h2>
          <label className="edge-actions small">
            <input
              type="checkbox"
              checked={withRefusals}
              onChange={(e) => setWithRefusals(e.target.checked)}
            />
            Include refusals (routes in block mode)
          </label>
        </div>
        <Pending loaded={waf} loading="Loading WAF hits…" what="WAF hits" />
        {waf.state === "ready" && <WafHits data={waf.data} />}
      </section>
    </div>
  );
}

const words = (d: string) => d.replaceAll("_", " ");

function LiveList({ latest }: { latest: DecisionsAnswer["latest"] }) {
  if (latest.length === 0) return <p className="muted">No decisions in this window.</p>;
  return (
    <div className="table-wrap">
      <table data-testid="live-decisions">
        <caption className="sr-only">The latest gateway decisions, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Decision</th>
            <th scope="col">Route</th>
            <th scope="col">Client</th>
            <th scope="col" className="num">
              Requests
            </th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {latest.map((l, i) => (
            <tr key={`${l.time} ${l.decision} ${l.client} ${i}`}>
              <td className="nowrap small">
                <time dateTime={l.time}>{formatDateTime(l.time)}</time>
              </td>
              <td className="nowrap">{words(l.decision)}</td>
              <td className="mono small">{l.route}</td>
              <td className="mono small">{l.client}</td>
              <td className="num">{l.count}</td>
              <td className="mono small edge-detail">{l.detail ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
