// Audit: search the log by type, actor, target and time (pages loaded by cursor as the list scrolls),
// an entry's details, the logs with their sizes and a verification run, and how to export a window.
import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError } from "../api.ts";
import { AuditEntryDialog } from "../components/audit-entry.tsx";
import { type AuditEntry, AuditList } from "../components/audit-list.tsx";
import { formatDate, formatDateTime, fromNow } from "../format.ts";
import { notAllowed, useCan } from "../session.ts";
import { useApi } from "../useApi.ts";
import "./Audit.css";
import { Pending, Problem } from "./Problem.tsx";

const PAGE = 500;

interface Search {
  type: string;
  actor: string;
  target: string;
  /** datetime-local values: the browser's local time. */
  from: string;
  to: string;
}

const noSearch: Search = { type: "", actor: "", target: "", from: "", to: "" };

/** A datetime-local value as an ISO instant, or undefined when empty or not a time. */
function instant(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function entriesPath(s: Search, cursor?: string): string {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (s.type.trim()) q.set("type", s.type.trim());
  if (s.actor.trim()) q.set("actor", s.actor.trim());
  if (s.target.trim()) q.set("target", s.target.trim());
  const from = instant(s.from);
  const to = instant(s.to);
  if (from) q.set("from", from);
  if (to) q.set("to", to);
  if (cursor) q.set("cursor", cursor);
  return `/api/v1/audit/entries?${q}`;
}

interface Results {
  entries: AuditEntry[];
  /** The cursor of the next page; undefined once the last page is in. */
  next: string | undefined;
  loading: boolean;
  error: Error | null;
}

/** The entries of `search`, a page at a time; `more` loads the next page unless one is on its way. */
function useEntries(search: Search): [Results, () => void] {
  const [r, setR] = useState<Results>({ entries: [], next: undefined, loading: true, error: null });
  const inFlight = useRef<AbortController | null>(null);

  const load = useCallback(
    (cursor: string | undefined) => {
      const abort = new AbortController();
      inFlight.current = abort;
      setR((prev) => ({ ...prev, loading: true, error: null }));
      api<{ entries: AuditEntry[]; next?: string }>(entriesPath(search, cursor), {
        signal: abort.signal,
      }).then(
        (page) => {
          if (inFlight.current !== abort) return;
          inFlight.current = null;
          setR((prev) => ({
            entries: cursor ? [...prev.entries, ...page.entries] : page.entries,
            next: page.next,
            loading: false,
            error: null,
          }));
        },
        (error: Error) => {
          if (error.name === "AbortError" || inFlight.current !== abort) return;
          inFlight.current = null;
          setR((prev) => ({ ...prev, loading: false, error }));
        },
      );
    },
    [search],
  );

  useEffect(() => {
    setR({ entries: [], next: undefined, loading: true, error: null });
    load(undefined);
    return () => {
      inFlight.current?.abort();
      inFlight.current = null;
    };
  }, [load]);

  const more = useCallback(() => {
    if (inFlight.current || !r.next || r.error) return;
    load(r.next);
  }, [load, r.next, r.error]);

  return [r, more];
}

export function Audit() {
  const [form, setForm] = useState<Search>(noSearch);
  const [search, setSearch] = useState<Search>(noSearch);
  // Each search gets a fresh list, scrolled to the top.
  const [round, setRound] = useState(0);
  const [results, more] = useEntries(search);
  const [open, setOpen] = useState<AuditEntry | null>(null);
  const types = [...new Set(results.entries.slice(0, 2000).map((e) => e.type))].sort();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSearch({ ...form });
    setRound((r) => r + 1);
  };
  const field = (name: keyof Search) => ({
    name,
    value: form[name],
    onChange: (e: { target: { value: string } }) => setForm((f) => ({ ...f, [name]: e.target.value })),
  });

  const n = results.entries.length.toLocaleString();
  const status = results.loading
    ? results.entries.length === 0
      ? "Searching…"
      : `${n} entries loaded, loading more…`
    : results.next
      ? `${n} entries loaded; scroll for more`
      : `${n} ${results.entries.length === 1 ? "entry" : "entries"}, all loaded`;

  return (
    <>
      <header className="page-head">
        <h1 tabIndex={-1}>Audit</h1>
        <p className="muted">Every security event, signed into tamper-evident logs. Newest first.</p>
      </header>

      <form className="card audit-search" onSubmit={submit} aria-label="Search the audit log">
        <label>
          <span>Type</span>
          <input {...field("type")} list="audit-types" placeholder="waf.blocked" autoComplete="off" />
          <datalist id="audit-types">
            {types.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label>
          <span>Actor</span>
          <input {...field("actor")} placeholder="user:alice@example.com" autoComplete="off" />
        </label>
        <label>
          <span>Target</span>
          <input {...field("target")} placeholder="route:/login" autoComplete="off" />
        </label>
        <label>
          <span>From</span>
          <input {...field("from")} type="datetime-local" step={1} />
        </label>
        <label>
          <span>To (before)</span>
          <input {...field("to")} type="datetime-local" step={1} />
        </label>
        <div className="audit-actions">
          <button type="submit" className="primary">
            Search
          </button>
          <button
            type="button"
            onClick={() => {
              setForm(noSearch);
              setSearch({ ...noSearch });
              setRound((r) => r + 1);
            }}
          >
            Clear
          </button>
        </div>
      </form>

      <section aria-labelledby="results-h">
        <div className="section-head">
          <h2 id="results-h">Entries</h2>
          <p className="muted small audit-status" role="status" data-testid="audit-status">
            {status}
          </p>
        </div>
        {results.error && <Problem error={results.error} what="audit entries" />}
        {results.error && results.entries.length > 0 && (
          <button type="button" onClick={more}>
            Try loading more again
          </button>
        )}
        {!results.loading && !results.error && results.entries.length === 0 ? (
          <p className="card muted">No entries match this search.</p>
        ) : (
          <AuditList
            key={round}
            entries={results.entries}
            total={results.entries.length + (results.next ? 1 : 0)}
            onOpen={setOpen}
            onNearEnd={more}
          />
        )}
      </section>

      <div className="audit-below">
        <Logs />
        <ExportHint from={instant(search.from)} to={instant(search.to)} />
      </div>

      <AuditEntryDialog entry={open} onClose={() => setOpen(null)} />
    </>
  );
}

interface LogStatus {
  log: string;
  retention: string;
  periodStart: string;
  periodEnd: string;
  state: "open" | "closed" | "expired";
  size: number;
  checkpoint: { size: number; signedAt: string } | null;
}

interface LastVerification {
  ok: boolean;
  at: string;
  entries?: number;
  problem?: string;
}

interface VerifyReport {
  ok: boolean;
  entries: number;
  seconds: number;
  logs: { log: string; entries: number; checkpoints: number; problem?: { seq: number; message: string } }[];
}

function Logs() {
  const [logs, reload] = useApi<{
    logs: LogStatus[];
    verifierKey: string;
    lastVerification: LastVerification | null;
  }>("/api/v1/audit/logs");
  const allowed = useCan("audit:verify");
  const [report, setReport] = useState<(VerifyReport & { at: string }) | null>(null);
  const [state, setState] = useState<"idle" | "running" | "forbidden">("idle");
  const [error, setError] = useState<string | null>(null);

  const verify = async () => {
    setState("running");
    setError(null);
    try {
      const r = await api<VerifyReport>("/api/v1/audit/verify", { method: "POST" });
      setReport({ ...r, at: new Date().toISOString() });
      setState("idle");
      reload();
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) return setState("forbidden");
      setState("idle");
      setError((err as Error).message);
    }
  };
  const verified = (log: string) => report?.logs.find((l) => l.log === log);
  const forbidden = state === "forbidden" || allowed === false;

  return (
    <section aria-labelledby="logs-h" className="card">
      <div className="section-head">
        <h2 id="logs-h">Logs</h2>
        <span title={forbidden ? notAllowed("audit:verify") : undefined}>
          <button type="button" onClick={verify} disabled={forbidden || state !== "idle"}>
            {state === "running" ? "Verifying…" : "Verify logs now"}
          </button>
        </span>
      </div>
      {forbidden && <p className="muted small">{notAllowed("audit:verify")}</p>}
      {logs.state === "ready" && !report && <LastRun last={logs.data.lastVerification} />}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {report && (
        <p role="status" className={report.ok ? "audit-ok" : "error"}>
          {report.ok
            ? `All ${report.entries.toLocaleString()} entries verified against their MACs and signed checkpoints in ${report.seconds.toFixed(1)} s.`
            : "Verification found a problem: see the logs below."}
        </p>
      )}
      <Pending loaded={logs} loading="Loading logs…" what="the audit logs" />
      {logs.state === "ready" && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Log</th>
                <th scope="col">Period</th>
                <th scope="col">State</th>
                <th scope="col" className="num">
                  Entries
                </th>
                <th scope="col">Last checkpoint</th>
                <th scope="col">Verification</th>
              </tr>
            </thead>
            <tbody>
              {logs.data.logs.map((l) => {
                const v = verified(l.log);
                return (
                  <tr key={l.log}>
                    <td className="mono nowrap">{l.log}</td>
                    <td className="nowrap">
                      {formatDate(l.periodStart)} – {formatDate(l.periodEnd)}
                    </td>
                    <td>{l.state}</td>
                    <td className="num">{l.size.toLocaleString()}</td>
                    <td className="nowrap">
                      {l.checkpoint ? (
                        <>
                          {l.checkpoint.size.toLocaleString()} signed{" "}
                          <time
                            dateTime={l.checkpoint.signedAt}
                            title={formatDateTime(l.checkpoint.signedAt)}
                          >
                            {fromNow(l.checkpoint.signedAt)}
                          </time>
                        </>
                      ) : (
                        <span className="muted">none yet</span>
                      )}
                    </td>
                    <td>
                      {!v && <span className="muted">not run</span>}
                      {v && !v.problem && (
                        <>
                          <span className="pill pill-good">Verified</span>{" "}
                          <span className="muted small nowrap">{v.checkpoints} signed checkpoints</span>
                        </>
                      )}
                      {v?.problem && (
                        <span className="pill pill-bad" title={v.problem.message}>
                          Problem at #{v.problem.seq}
                        </span>
                      )}
                    </td>
                  </tr>
                );
              })}
              {logs.data.logs.length === 0 && (
                <tr>
                  <td colSpan={6}>No log has been opened yet.</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
      {logs.state === "ready" && (
        <p className="muted small audit-key">
          Verifier key (pin it when verifying offline):{" "}
          <code data-testid="audit-verifier-key">{logs.data.verifierKey}</code>
        </p>
      )}
      {report?.logs.some((l) => l.problem) && (
        <ul className="error small">
          {report.logs
            .filter((l) => l.problem)
            .map((l) => (
              <li key={l.log}>
                {l.log} #{l.problem?.seq}: {l.problem?.message}
              </li>
            ))}
        </ul>
      )}
      {report && (
        <p className="muted small">
          Verified <time dateTime={report.at}>{formatDateTime(report.at)}</time> from this page.
        </p>
      )}
    </section>
  );
}

function ExportHint({ from, to }: { from: string | undefined; to: string | undefined }) {
  const command = `rampart audit export --from ${from ?? "FROM"} --to ${to ?? "TO"} --out DIR`;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

  // One JSON file (the signed manifest and every file of the bundle) that `rampart audit verify
  // --bundle FILE --key KEY` checks offline, like the directory the CLI writes.
  const download = async () => {
    if (!from || !to) return;
    setBusy(true);
    setError(null);
    try {
      const bundle = await api<{ manifest: { entries: number } }>("/api/v1/audit/export", {
        method: "POST",
        body: { from, to },
      });
      const name = `rampart-audit-${from.slice(0, 19).replace(/:/g, "")}.json`;
      const url = URL.createObjectURL(new Blob([JSON.stringify(bundle)], { type: "application/json" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      setSaved(`Saved ${name}: ${bundle.manifest.entries.toLocaleString()} entries.`);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="export-h" className="card">
      <div className="section-head">
        <h2 id="export-h">Export</h2>
        <button type="button" onClick={() => void download()} disabled={busy || !from || !to}>
          {busy ? "Exporting…" : "Download export"}
        </button>
      </div>
      <p className="muted small">
        An export holds the window&apos;s entries with range proofs, signed checkpoints and a signed SHA-256
        manifest, verifiable offline with <code>rampart audit verify --bundle FILE --key KEY</code> (the
        verifier key is below the logs). {!from || !to ? "Set From and To to choose the window. " : ""}
        From the command line, where Rampart&apos;s data lives (To is exclusive):
      </p>
      <pre className="audit-command" data-testid="audit-export-command">
        <code>{command}</code>
      </pre>
      {saved && (
        <p className="muted small" role="status">
          {saved}
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

/** The latest whole-log verification on record (scheduled, or from the API), before any run here. */
function LastRun({ last }: { last: LastVerification | null }) {
  if (!last) return <p className="muted">The logs have not been verified yet.</p>;
  const when = (
    <time dateTime={last.at} title={formatDateTime(last.at)}>
      {fromNow(last.at)}
    </time>
  );
  return last.ok ? (
    <p className="audit-ok" data-testid="audit-last-verification">
      Verified {when}
      {last.entries !== undefined && `: all ${last.entries.toLocaleString()} entries checked`}.
    </p>
  ) : (
    <p className="error" data-testid="audit-last-verification">
      Verification failed {when}
      {last.problem && `: ${last.problem}`}.
    </p>
  );
}
