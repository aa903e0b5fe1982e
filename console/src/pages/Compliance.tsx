// Readiness per framework: requirements by status, failing controls first with the items that fail
// them and their evidence, the HTML and PDF reports, and running the checks now.
import { useEffect, useState } from "react";
import { ApiError, apiBlob, api } from "../api.ts";
import { ScoreRing } from "../components/ScoreRing.tsx";
import { StatusPill } from "../components/StatusPill.tsx";
import { formatDate, formatDateTime, fromNow } from "../format.ts";
import { navigate } from "../router.ts";
import type {
  ComplianceStatus,
  ControlReadiness,
  ControlStatus,
  FrameworkReadiness,
  ItemResult,
  RequirementStatus,
} from "../types.ts";
import { notAllowed, useCan } from "../session.ts";
import { useApi } from "../useApi.ts";
import { Problem } from "./Problem.tsx";

const requirementOrder: Record<RequirementStatus, number> = {
  non_compliant: 0,
  partially_compliant: 1,
  not_assessed: 2,
  compliant: 3,
};
const controlOrder: Record<ControlStatus, number> = {
  failing: 0,
  at_risk: 1,
  needs_evidence: 2,
  passing: 3,
  not_applicable: 4,
};
const needsWork = (s: ControlStatus) => s === "failing" || s === "at_risk";
const isOpenItem = (i: ItemResult) =>
  i.standing === "overdue" || i.standing === "failing" || i.standing === "at_risk";

export function Compliance({ framework }: { framework: string | undefined }) {
  const [status, reloadStatus] = useApi<ComplianceStatus>("/api/v1/compliance/status");
  const frameworks = status.state === "ready" ? status.data.frameworks : [];
  const [report, reloadReport] = useApi<FrameworkReadiness>(
    framework ? `/api/v1/compliance/frameworks/${encodeURIComponent(framework)}/report` : null,
  );

  // No framework in the path: show the first configured one.
  useEffect(() => {
    const first = frameworks[0];
    if (!framework && first) navigate(`compliance/${first.id}`, { replace: true });
  }, [framework, frameworks]);

  return (
    <>
      <header className="page-head">
        <h1 tabIndex={-1}>Compliance</h1>
        <div className="toolbar">
          <label className="field">
            <span>Framework</span>
            <select
              value={framework ?? ""}
              onChange={(e) => navigate(`compliance/${e.target.value}`)}
              disabled={frameworks.length === 0}
            >
              {!framework && <option value="">Choose…</option>}
              {frameworks.map((f) => (
                <option key={f.id} value={f.id}>
                  {f.name}
                </option>
              ))}
            </select>
          </label>
          {framework && <ReportActions framework={framework} />}
          <RunChecks
            onDone={() => {
              reloadStatus();
              reloadReport();
            }}
          />
        </div>
      </header>
      {status.state === "error" && <Problem error={status.error} what="compliance status" />}
      {framework && report.state === "loading" && <p className="muted">Loading readiness…</p>}
      {report.state === "error" && <Problem error={report.error} what="this framework's readiness" />}
      {framework && report.state === "ready" && report.data.framework.id === framework && (
        <Readiness r={report.data} />
      )}
    </>
  );
}

function Readiness({ r }: { r: FrameworkReadiness }) {
  const [onlyOpen, setOnlyOpen] = useState(true);
  const requirements = [...r.requirements]
    .filter((q) => !onlyOpen || q.status !== "compliant")
    .sort((a, b) => requirementOrder[a.status] - requirementOrder[b.status]);
  const controls = [...r.controls].sort((a, b) => controlOrder[a.status] - controlOrder[b.status]);
  const s = r.summary;

  // A control's link in the requirements table opens its card, even when it starts folded.
  useEffect(() => {
    const unfold = () => {
      const id = decodeURIComponent(window.location.hash.slice(1));
      const details = id ? document.getElementById(id)?.querySelector("details") : null;
      if (details) details.open = true;
    };
    window.addEventListener("hashchange", unfold);
    return () => window.removeEventListener("hashchange", unfold);
  }, []);

  return (
    <>
      <section className="card framework summary" aria-labelledby="summary-h">
        <ScoreRing score={s.score} label={r.framework.name} size={112} />
        <div>
          <h2 id="summary-h">
            {r.framework.name} <span className="muted">{r.framework.version}</span>
          </h2>
          <p className="muted">
            {s.requirements} requirements: {s.compliant} compliant, {s.partiallyCompliant} partial,{" "}
            {s.nonCompliant} non-compliant, {s.notAssessed} not assessed. Generated{" "}
            <time dateTime={r.generatedAt}>{formatDateTime(r.generatedAt)}</time>.
          </p>
        </div>
      </section>

      <section aria-labelledby="ctl-h">
        <h2 id="ctl-h">Controls, failing first</h2>
        <ul className="controls">
          {controls.map((c) => (
            <ControlCard key={c.control.id} c={c} />
          ))}
        </ul>
      </section>

      <section aria-labelledby="req-h">
        <div className="section-head">
          <h2 id="req-h">Requirements</h2>
          <label className="check">
            <input type="checkbox" checked={onlyOpen} onChange={(e) => setOnlyOpen(e.target.checked)} />
            Only those not yet compliant
          </label>
        </div>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Ref</th>
                <th scope="col">Requirement</th>
                <th scope="col">Status</th>
                <th scope="col">Controls</th>
              </tr>
            </thead>
            <tbody>
              {requirements.map((q) => (
                <tr key={q.requirement.ref}>
                  <td className="nowrap mono">{q.requirement.ref}</td>
                  <td>
                    {q.requirement.title}
                    {q.requirement.group && <div className="muted small">{q.requirement.group}</div>}
                  </td>
                  <td>
                    <StatusPill status={q.status} />
                  </td>
                  <td>
                    <div className="controls-cell">
                      {q.controls.length === 0 && <span className="muted">none mapped</span>}
                      {q.controls.map((c) => (
                        <a
                          key={c.id}
                          href={`#control-${c.id}`}
                          className={`ctl ctl-${c.status}`}
                          title={`${c.id}: ${c.status.replace("_", " ")}`}
                        >
                          {c.id}
                        </a>
                      ))}
                    </div>
                  </td>
                </tr>
              ))}
              {requirements.length === 0 && (
                <tr>
                  <td colSpan={4}>Every requirement is compliant.</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}

function ControlCard({ c }: { c: ControlReadiness }) {
  const open = c.checks.flatMap((k) => k.items.filter(isOpenItem).map((i) => ({ check: k, item: i })));
  const evidence = [...c.evidence].sort((a, b) => b.collectedAt.localeCompare(a.collectedAt));
  return (
    <li id={`control-${c.control.id}`} className="card control">
      <details open={needsWork(c.status)}>
        <summary>
          <span className="mono">{c.control.id}</span>{" "}
          <span className="control-title">{c.control.title}</span> <StatusPill status={c.status} />
          {open.length > 0 && (
            <span className="muted small">
              {open.length} item{open.length === 1 ? "" : "s"} to fix
            </span>
          )}
        </summary>
        <p className="muted">{c.control.description}</p>
        {c.checks
          .filter((k) => k.error)
          .map((k) => (
            <p key={k.id} className="error">
              Check {k.title} could not run: {k.error}
            </p>
          ))}
        {open.length > 0 && (
          <div className="table-wrap">
            <table className="items">
              <caption className="sr-only">Failing items of {c.control.id}</caption>
              <thead>
                <tr>
                  <th scope="col">Resource</th>
                  <th scope="col">What was seen</th>
                  <th scope="col">Due</th>
                  <th scope="col">Standing</th>
                </tr>
              </thead>
              <tbody>
                {open.map(({ check, item }) => (
                  <tr key={item.fingerprint}>
                    <td className="mono">{item.resource}</td>
                    <td>
                      {item.detail}
                      <div className="muted small">
                        {check.title}. {check.remediation}
                      </div>
                    </td>
                    <td className="nowrap">
                      {item.dueAt ? (
                        <time dateTime={item.dueAt} title={fromNow(item.dueAt)}>
                          {formatDate(item.dueAt)}
                        </time>
                      ) : (
                        "—"
                      )}
                    </td>
                    <td>
                      <StatusPill status={item.standing} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <h3 className="small-head">Evidence</h3>
        {evidence.length === 0 ? (
          <p className="muted">No evidence yet.</p>
        ) : (
          <ul className="evidence">
            {evidence.slice(0, 5).map((e) => (
              <li key={e.id}>
                <span className="tag">{e.kind}</span> {e.title}{" "}
                <span className="muted small">
                  {e.state.replace("_", " ")}, {formatDateTime(e.collectedAt)}
                </span>
              </li>
            ))}
            {evidence.length > 5 && <li className="muted small">and {evidence.length - 5} earlier</li>}
          </ul>
        )}
      </details>
    </li>
  );
}

function ReportActions({ framework }: { framework: string }) {
  const [busy, setBusy] = useState<"html" | "pdf" | null>(null);
  const [error, setError] = useState<string | null>(null);
  const path = (format: string) =>
    `/api/v1/compliance/frameworks/${encodeURIComponent(framework)}/report?format=${format}`;

  // The report endpoints need the bearer token, so a plain link cannot open them: fetch, then a blob URL.
  const openHtml = async () => {
    const tab = window.open("", "_blank");
    setBusy("html");
    setError(null);
    try {
      const url = URL.createObjectURL(await apiBlob(path("html")));
      if (tab) tab.location.href = url;
      else window.location.assign(url);
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      tab?.close();
      setError((err as Error).message);
    } finally {
      setBusy(null);
    }
  };

  const downloadPdf = async () => {
    setBusy("pdf");
    setError(null);
    try {
      const url = URL.createObjectURL(await apiBlob(path("pdf")));
      const a = document.createElement("a");
      a.href = url;
      a.download = `${framework}-readiness-${new Date().toISOString().slice(0, 10)}.pdf`;
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(null);
    }
  };

  return (
    <>
      <button type="button" onClick={openHtml} disabled={busy !== null}>
        {busy === "html" ? "Opening…" : "Open HTML report"}
      </button>
      <button type="button" onClick={downloadPdf} disabled={busy !== null}>
        {busy === "pdf" ? "Preparing PDF…" : "Download PDF"}
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}

function RunChecks({ onDone }: { onDone: () => void }) {
  const [state, setState] = useState<"idle" | "running" | "forbidden">("idle");
  const [message, setMessage] = useState<string | null>(null);

  const run = async () => {
    setState("running");
    setMessage(null);
    try {
      const r = await api<{ checks: unknown[] }>("/api/v1/compliance/run", { method: "POST", body: {} });
      setState("idle");
      setMessage(`Ran ${r.checks.length} checks.`);
      onDone();
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) {
        setState("forbidden");
        return;
      }
      setState("idle");
      setMessage((err as Error).message);
    }
  };

  const allowed = useCan("compliance:run");
  const forbidden = state === "forbidden" || allowed === false;
  return (
    <>
      {/* A disabled button gets no hover or focus, so the reason sits on a wrapper and in the text. */}
      <span title={forbidden ? notAllowed("compliance:run") : undefined}>
        <button
          type="button"
          className="primary"
          onClick={run}
          disabled={forbidden || state !== "idle"}
          aria-describedby={forbidden ? "run-why" : undefined}
        >
          {state === "running" ? "Running checks…" : "Run checks now"}
        </button>
      </span>
      {forbidden && (
        <span id="run-why" className="muted small">
          {notAllowed("compliance:run")}
        </span>
      )}
      {message && (
        <span className="muted small" role="status">
          {message}
        </span>
      )}
    </>
  );
}
