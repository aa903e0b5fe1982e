// One audit entry in full, in a modal dialog: who did what to what and when, its data as formatted
// JSON, the keyed hashes of sensitive values and the names of personal details, which read [sealed]
// (opening them needs audit:personal:reveal and is itself a separate, audited read).
import { useEffect, useRef } from "react";
import { formatDateTime } from "../format.ts";
import type { AuditEntry } from "./audit-list.tsx";

export function AuditEntryDialog({ entry, onClose }: { entry: AuditEntry | null; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (entry && !d.open) d.showModal();
    if (!entry && d.open) d.close();
  }, [entry]);

  return (
    <dialog ref={dialog} className="audit-dialog" aria-labelledby="entry-h" onClose={onClose}>
      {entry && (
        <>
          <div className="section-head">
            <h2 id="entry-h" className="mono">
              {entry.type}
            </h2>
            <button type="button" onClick={onClose}>
              Close
            </button>
          </div>
          <dl className="audit-fields">
            <dt>Time</dt>
            <dd>
              <time dateTime={entry.time}>{formatDateTime(entry.time)}</time>{" "}
              <span className="muted small mono">{entry.time}</span>
            </dd>
            <dt>Actor</dt>
            <dd className="mono">{entry.actor}</dd>
            <dt>Target</dt>
            <dd className="mono">{entry.target ?? "—"}</dd>
            <dt>Outcome</dt>
            <dd>{entry.outcome}</dd>
            <dt>Severity</dt>
            <dd>{entry.severity}</dd>
            {entry.source && (
              <>
                <dt>Source</dt>
                <dd>{entry.source}</dd>
              </>
            )}
            <dt>Entry</dt>
            <dd className="mono small">
              {entry.id} · {entry.log} #{entry.seq}
            </dd>
          </dl>
          <h3 className="small-head">Data</h3>
          <pre className="audit-json">{JSON.stringify(entry.data, null, 2)}</pre>
          {entry.personal && Object.keys(entry.personal).length > 0 && (
            <>
              <h3 className="small-head">Personal details</h3>
              <dl className="audit-fields">
                {Object.entries(entry.personal).map(([k, v]) => (
                  <div key={k} className="audit-field">
                    <dt>{k}</dt>
                    <dd className="mono">{v}</dd>
                  </div>
                ))}
              </dl>
            </>
          )}
          {entry.hashed && Object.keys(entry.hashed).length > 0 && (
            <>
              <h3 className="small-head">Sensitive values (keyed hashes)</h3>
              <pre className="audit-json">{JSON.stringify(entry.hashed, null, 2)}</pre>
            </>
          )}
        </>
      )}
    </dialog>
  );
}
