// Gates: the open findings CI reported from Trivy, Kubernetes and IaC scans (and secrets scans),
// overdue first, each with its severity, target, first sighting and SLA deadline; filters by
// scanner and severity, and the counts per severity as a small chart.
import { useState } from "react";
import { type SeverityCount, SeverityChart } from "../components/gates-chart.tsx";
import { formatDate, formatDateTime, fromNow } from "../format.ts";
import { useApi } from "../useApi.ts";
import { Pending } from "./Problem.tsx";
import "./Gates.css";

const severities = ["critical", "high", "medium", "low", "info"] as const;
type Severity = (typeof severities)[number];
const scanners = { trivy: "Trivy", k8s: "Kubernetes", iac: "IaC", secrets: "Secrets" } as const;
type Scanner = keyof typeof scanners;

interface Finding {
  kind: Scanner;
  source: string;
  fingerprint: string;
  target: string;
  rule: string;
  severity: Severity;
  title: string;
  location: { file?: string; line?: number; resource?: string; path?: string };
  suppressed?: { by: string; reason?: string };
  firstSeen: string;
  sla: { days: number; dueAt: string; overdue: boolean } | null;
}

interface Findings {
  at: string;
  slaDays: Partial<Record<Severity, number>>;
  findings: Finding[];
}

const sevTone: Record<Severity, string> = {
  critical: "bad",
  high: "bad",
  medium: "warn",
  low: "muted",
  info: "muted",
};

function where(f: Finding): string {
  const l = f.location;
  if (l.file) return `${l.file}${l.line ? `:${l.line}` : ""}`;
  return [l.resource, l.path].filter(Boolean).join(" · ");
}

function Sla({ f }: { f: Finding }) {
  if (f.suppressed)
    return (
      <span className="pill pill-muted" title={f.suppressed.reason}>
        Accepted ({f.suppressed.by})
      </span>
    );
  if (!f.sla) return <span className="muted">No SLA</span>;
  return (
    <>
      {f.sla.overdue ? (
        <span className="pill pill-bad">Overdue</span>
      ) : (
        <span className="pill pill-good">Within SLA</span>
      )}
      <div className="small">
        due{" "}
        <time dateTime={f.sla.dueAt} title={formatDateTime(f.sla.dueAt)}>
          {formatDate(f.sla.dueAt)}
        </time>{" "}
        <span className="muted">({fromNow(f.sla.dueAt)})</span>
      </div>
    </>
  );
}

export function Gates(_props: { sub?: string | undefined }) {
  const [scanner, setScanner] = useState<Scanner | "all">("all");
  const [severity, setSeverity] = useState<Severity | "all">("all");
  const [loaded, reload] = useApi<Findings>("/api/v1/scans/findings");

  const all = loaded.state === "ready" ? loaded.data.findings : [];
  const ofScanner = all.filter((f) => scanner === "all" || f.kind === scanner);
  // The API answers overdue first, nearest deadline next; filtering keeps that order.
  const rows = ofScanner.filter((f) => severity === "all" || f.severity === severity);
  const counts: SeverityCount[] = severities.map((s) => {
    const of = ofScanner.filter((f) => f.severity === s);
    return { severity: s, total: of.length, overdue: of.filter((f) => f.sla?.overdue).length };
  });
  const overdue = ofScanner.filter((f) => f.sla?.overdue).length;
  const what = `${scanner === "all" ? "all scanners" : scanners[scanner]}${severity === "all" ? "" : `, ${severity}`}`;

  return (
    <>
      <header className="page-head">
        <h1 tabIndex={-1}>Gates</h1>
        <div className="toolbar">
          <label className="field">
            <span id="gates-scanner">Scanner</span>
            <select
              aria-labelledby="gates-scanner"
              value={scanner}
              onChange={(e) => setScanner(e.target.value as Scanner | "all")}
            >
              <option value="all">All scanners</option>
              {Object.entries(scanners).map(([k, label]) => (
                <option key={k} value={k}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span id="gates-severity">Severity</span>
            <select
              aria-labelledby="gates-severity"
              value={severity}
              onChange={(e) => setSeverity(e.target.value as Severity | "all")}
            >
              <option value="all">All severities</option>
              {severities.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={reload}>
            Refresh
          </button>
        </div>
      </header>
      <Pending loaded={loaded} loading="Loading findings…" what="scan findings" />
      {loaded.state === "ready" && (
        <>
          <section className="card gates-summary" aria-labelledby="gates-sum-h">
            <div>
              <h2 id="gates-sum-h">Open findings</h2>
              <p className="big-number" data-testid="open-count">
                {ofScanner.length}
              </p>
              <p className={overdue > 0 ? "error" : "muted"} data-testid="overdue-count">
                {overdue} overdue
              </p>
              <p className="muted small">
                SLA from first seen:{" "}
                {severities
                  .filter((s) => loaded.data.slaDays[s] !== undefined)
                  .map((s) => `${s} ${loaded.data.slaDays[s]} days`)
                  .join(", ")}
                .
              </p>
            </div>
            <SeverityChart
              counts={counts}
              caption={`Open findings per severity (${scanner === "all" ? "all scanners" : scanners[scanner]})`}
            />
          </section>
          <h2>Findings</h2>
          <div className="table-wrap gates-table-wrap">
            <table className="gates">
              <caption className="sr-only">Open findings: {what}; overdue first</caption>
              <thead>
                <tr>
                  <th scope="col">Severity</th>
                  <th scope="col">Finding</th>
                  <th scope="col">Scanner</th>
                  <th scope="col">Target</th>
                  <th scope="col">First seen</th>
                  <th scope="col">SLA</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((f) => (
                  <tr key={`${f.kind}:${f.source}:${f.fingerprint}`} data-rule={f.rule}>
                    <td>
                      <span className={`pill pill-${sevTone[f.severity]} sev-pill`}>{f.severity}</span>
                    </td>
                    <td className="finding">
                      <div>{f.title}</div>
                      <div className="muted small mono">{f.rule}</div>
                      {where(f) && <div className="muted small mono">{where(f)}</div>}
                    </td>
                    <td>{scanners[f.kind]}</td>
                    <td className="target">
                      <div className="mono small">{f.target}</div>
                      <div className="muted small">{f.source}</div>
                    </td>
                    <td className="nowrap">
                      <time dateTime={f.firstSeen} title={formatDateTime(f.firstSeen)}>
                        {fromNow(f.firstSeen)}
                      </time>
                    </td>
                    <td className="sla">
                      <Sla f={f} />
                    </td>
                  </tr>
                ))}
                {rows.length === 0 && (
                  <tr>
                    <td colSpan={6}>
                      {all.length === 0
                        ? "No open findings: no scan has reported any."
                        : "No open findings match these filters."}
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
