// One data-subject request: its facts, the steps of the workflow (done, current, still to come),
// the actions the workflow allows next (approve, complete, retry, extend, reject) and its history.
// The requester's address is shown masked; their own words are shown only when asked for.
import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import { api } from "../api.ts";
import { formatDateTime, fromNow } from "../format.ts";
import { Link } from "../Link.tsx";
import { Problem } from "../pages/Problem.tsx";
import { notAllowed, useCan } from "../session.ts";
import { useApi } from "../useApi.ts";
import {
  Deadline,
  type HistoryEntry,
  isClosed,
  kindWord,
  maskEmail,
  type PrivacyRequest,
  type RequestKind,
  RequestStatePill,
  useNow,
} from "./privacy-parts.tsx";

type Detail = PrivacyRequest & { history: HistoryEntry[] };

const manual = (k: RequestKind) => k === "objection" || k === "withdrawal" || k === "grievance";

/** The engine is (or will be shortly) at work: the page asks again until it is done. */
const engineBusy = (r: PrivacyRequest) =>
  !manual(r.kind) &&
  (r.state === "approved" || r.state === "processing" || (r.state === "verified" && !r.approvalRequired));

export function PrivacyRequestPage({ id }: { id: string }) {
  const path = `/api/v1/privacy/requests/${encodeURIComponent(id)}`;
  const [loaded, reload] = useApi<Detail>(path);
  const last = useRef<Detail | undefined>(undefined);
  if (loaded.state === "ready") last.current = loaded.data;
  const r = last.current?.id === id ? last.current : undefined;
  const now = useNow(30_000);

  const busy = r !== undefined && engineBusy(r);
  useEffect(() => {
    if (!busy) return;
    const timer = window.setTimeout(reload, 1000);
    return () => window.clearTimeout(timer);
  }, [busy, loaded, reload]);

  return (
    <>
      <p className="back">
        <Link to="privacy">← Privacy</Link>
      </p>
      <header className="page-head">
        <h1 tabIndex={-1}>{r ? `${kindWord(r.kind)} request` : "Request"}</h1>
        {r && (
          <p className="mono small muted" data-testid="request-id">
            {r.id}
          </p>
        )}
      </header>
      {loaded.state === "loading" && !r && <p className="muted">Loading the request…</p>}
      {loaded.state === "error" && <Problem error={loaded.error} what="this request" />}
      {r && (
        <>
          <section className="card privacy-facts" aria-label="Facts">
            <dl>
              <div>
                <dt>State</dt>
                <dd data-testid="request-state">
                  <RequestStatePill state={r.state} />
                  {busy && <span className="muted small"> the engine is at work…</span>}
                </dd>
              </div>
              <div>
                <dt>Received</dt>
                <dd>
                  <time dateTime={r.receivedAt} title={formatDateTime(r.receivedAt)}>
                    {fromNow(r.receivedAt, now)}
                  </time>
                </dd>
              </div>
              <div>
                <dt>Deadline{r.extended ? " (extended)" : ""}</dt>
                <dd>
                  <Deadline dueAt={r.dueAt} closed={isClosed(r.state)} now={now} />
                </dd>
              </div>
              <div>
                <dt>Requester</dt>
                <dd className="mono">{maskEmail(r.email)}</dd>
              </div>
              <div>
                <dt>Identity</dt>
                <dd>{verificationWords(r)}</dd>
              </div>
            </dl>
            <Said request={r} />
          </section>

          <section aria-labelledby="steps-h">
            <h2 id="steps-h">Steps</h2>
            <Steps request={r} />
          </section>

          <section aria-labelledby="next-h">
            <h2 id="next-h">Next</h2>
            <Actions request={r} onDone={reload} />
          </section>

          <section aria-labelledby="history-h">
            <h2 id="history-h">History</h2>
            <History request={r} />
          </section>
        </>
      )}
    </>
  );
}

function verificationWords(r: PrivacyRequest): string {
  if (r.verification === "email_code") return "Confirmed with the code mailed to them";
  if (r.verification === "app_token") return "Signed in to the app";
  if (r.verification === "operator") return "Checked by a person";
  return "Not confirmed yet";
}

/** The requester's own words (and a nominee's facts): personal, so behind a button. */
function Said({ request: r }: { request: PrivacyRequest }) {
  const [shown, setShown] = useState(false);
  const region = useId();
  if (!r.details && !r.nominee) return null;
  return (
    <div className="privacy-said">
      <button type="button" aria-expanded={shown} aria-controls={region} onClick={() => setShown((s) => !s)}>
        {shown ? "Hide the requester's message" : "Show the requester's message"}
      </button>
      <div id={region} hidden={!shown}>
        {shown && r.details && <p className="privacy-details">{r.details}</p>}
        {shown && r.nominee && (
          <p>
            Nominee {r.nominee.name} ({r.nominee.ground}
            {r.nominee.relation ? `, ${r.nominee.relation}` : ""}); evidence: {r.nominee.evidenceRef}
          </p>
        )}
      </div>
    </div>
  );
}

type StepMark = "done" | "current" | "todo" | "skipped" | "stopped";

function stepsOf(r: PrivacyRequest): { name: string; mark: StepMark; at: string | null }[] {
  const order = ["received", "verified", "approved", "processing", "completed"] as const;
  const reached: Record<(typeof order)[number], boolean> = {
    received: true,
    verified: r.verifiedAt !== null,
    approved: r.approvedAt !== null,
    processing: r.state === "processing" || r.state === "failed" || r.state === "completed",
    completed: r.state === "completed",
  };
  const names = {
    received: "Received",
    verified: "Identity verified",
    approved: manual(r.kind)
      ? "Approval (not needed: a person handles it)"
      : !r.approvalRequired && !r.approvedAt
        ? "Approval (not required here)"
        : "Approved by an officer",
    processing: manual(r.kind) ? "Handled by a person" : "Carried out by the engine",
    completed: "Completed and the requester told",
  };
  const at = {
    received: r.receivedAt,
    verified: r.verifiedAt,
    approved: r.approvedAt,
    processing: null,
    completed: r.completedAt,
  };
  const stopped = r.state === "rejected" || r.state === "cancelled";
  let currentGiven = false;
  return order.map((step) => {
    const skip = step === "approved" && (manual(r.kind) || (!r.approvalRequired && !r.approvedAt));
    let mark: StepMark;
    if (skip) mark = "skipped";
    // Carried out is done only once completed; while processing it is the current step.
    else if (reached[step] && !(step === "processing" && r.state !== "completed")) mark = "done";
    else if (stopped) mark = "stopped";
    else if (!currentGiven) {
      mark = "current";
      currentGiven = true;
    } else mark = "todo";
    return { name: names[step], mark, at: at[step] };
  });
}

const markWords: Record<StepMark, string> = {
  done: "Done",
  current: "Now",
  todo: "To come",
  skipped: "Not needed",
  stopped: "Stopped",
};

function Steps({ request: r }: { request: PrivacyRequest }) {
  const steps = stepsOf(r);
  return (
    <>
      <ol className="privacy-steps">
        {steps.map((s) => (
          <li key={s.name} className={`step step-${s.mark}`}>
            <span className="step-mark">{markWords[s.mark]}</span>
            <span className="step-name">{s.name}</span>
            {s.at && (
              <time className="muted small" dateTime={s.at}>
                {formatDateTime(s.at)}
              </time>
            )}
          </li>
        ))}
      </ol>
      {r.state === "rejected" && r.rejectionReason && (
        <p>
          Rejected: <span className="privacy-details">{r.rejectionReason}</span>
        </p>
      )}
      {r.state === "cancelled" && <p>The requester withdrew the request.</p>}
      {r.state === "failed" && (
        <p className="error">
          The engine failed ({r.attempts} {r.attempts === 1 ? "attempt" : "attempts"}): {r.lastError}
          {r.nextAttemptAt
            ? ` It tries again ${fromNow(r.nextAttemptAt)}.`
            : " It will not try again by itself."}
        </p>
      )}
      {r.receipt && (
        <p className="muted small privacy-details" data-testid="receipt">
          Signed receipt over {r.receipt.collections} collections (key {r.receipt.keyId}).
        </p>
      )}
      {r.resolution && <p>Resolution: {r.resolution}</p>}
    </>
  );
}

function History({ request: r }: { request: Detail }) {
  return (
    <div className="table-wrap">
      <table className="privacy-history privacy-stack">
        <caption className="sr-only">History of {r.id}, oldest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">What</th>
            <th scope="col">By</th>
          </tr>
        </thead>
        <tbody>
          {r.history.map((h, i) => (
            <tr key={`${h.at}-${i}`}>
              <td className="nowrap" data-label="Time">
                <time dateTime={h.at}>{formatDateTime(h.at)}</time>
              </td>
              <td data-label="What">
                {h.action}
                {h.note && <div className="muted small privacy-details">{h.note}</div>}
              </td>
              <td className="mono small" data-label="By">
                {h.actor}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

type ActionName = "approve" | "complete" | "retry" | "extend" | "reject";

interface ActionSpec {
  name: ActionName;
  label: string;
  /** The field the action needs, if any: its label and the body key it fills. */
  field?: { label: string; key: "note" | "resolution" | "reason"; required: boolean };
  done: string;
  primary?: boolean;
}

/** What the workflow allows next for `r`, in the order an officer would consider them. */
export function allowedActions(r: PrivacyRequest): ActionSpec[] {
  if (isClosed(r.state)) return [];
  const out: ActionSpec[] = [];
  if (r.state === "verified" && !manual(r.kind))
    out.push({
      name: "approve",
      label: r.kind === "erasure" ? "Approve and erase" : "Approve and carry out",
      field: { label: "Note for the history (optional)", key: "note", required: false },
      done: "Approved; the engine is carrying it out.",
      primary: true,
    });
  if (r.state === "processing" && manual(r.kind))
    out.push({
      name: "complete",
      label: "Complete",
      field: { label: "What was done (mailed to the requester)", key: "resolution", required: true },
      done: "Completed; the requester is told.",
      primary: true,
    });
  if (r.state === "failed")
    out.push({ name: "retry", label: "Retry now", done: "Started again.", primary: true });
  if (!r.extended && r.kind !== "grievance")
    out.push({
      name: "extend",
      label: "Extend the deadline",
      field: { label: "Why more time is needed (mailed to the requester)", key: "reason", required: true },
      done: "Deadline extended.",
    });
  if (!(r.state === "processing" && !manual(r.kind)))
    out.push({
      name: "reject",
      label: "Reject",
      field: { label: "Why it is declined (mailed to the requester)", key: "reason", required: true },
      done: "Rejected; the requester is told.",
    });
  return out;
}

function Actions({ request: r, onDone }: { request: PrivacyRequest; onDone: () => void }) {
  const can = useCan("privacy:write");
  const [open, setOpen] = useState<ActionName | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const actions = allowedActions(r);
  return (
    <>
      {(r.state === "received" || r.state === "verifying") && (
        <p>
          Waiting for the requester to confirm who they are (the code mailed to them). Nothing is carried out
          before that.
        </p>
      )}
      {r.state === "processing" && !manual(r.kind) && (
        <p className="muted">The engine is carrying out this request; it cannot be stopped midway.</p>
      )}
      {actions.length === 0 && r.state !== "processing" && (
        <p className="muted">Nothing is left to do: the request is {r.state}.</p>
      )}
      {actions.length > 0 && (
        <ActionList
          actions={actions}
          r={r}
          can={can}
          open={open}
          setOpen={setOpen}
          onDone={onDone}
          setMessage={setMessage}
        />
      )}
      {message && !isClosed(r.state) && <p role="status">{message}</p>}
    </>
  );
}

function ActionList(p: {
  actions: ActionSpec[];
  r: PrivacyRequest;
  can: boolean | undefined;
  open: ActionName | null;
  setOpen: (a: ActionName | null) => void;
  onDone: () => void;
  setMessage: (m: string | null) => void;
}) {
  const denied = p.can === false;
  return (
    <div className="privacy-actions">
      <div className="toolbar">
        {p.actions.map((a) => (
          <span key={a.name} title={denied ? notAllowed("privacy:write") : undefined}>
            <button
              type="button"
              className={a.primary ? "primary" : undefined}
              disabled={denied}
              aria-expanded={p.open === a.name}
              aria-describedby={denied ? "privacy-why" : undefined}
              onClick={() => {
                p.setMessage(null);
                p.setOpen(p.open === a.name ? null : a.name);
              }}
            >
              {a.label}
            </button>
          </span>
        ))}
        {denied && (
          <span id="privacy-why" className="muted small">
            {notAllowed("privacy:write")}
          </span>
        )}
      </div>
      {p.open && !denied && (
        <ActionForm
          key={p.open}
          spec={p.actions.find((a) => a.name === p.open) as ActionSpec}
          r={p.r}
          onCancel={() => p.setOpen(null)}
          onDone={(m) => {
            p.setOpen(null);
            p.setMessage(m);
            p.onDone();
          }}
        />
      )}
    </div>
  );
}

function ActionForm({
  spec,
  r,
  onCancel,
  onDone,
}: {
  spec: ActionSpec;
  r: PrivacyRequest;
  onCancel: () => void;
  onDone: (message: string) => void;
}) {
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const field = useId();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: Record<string, string> = {};
    if (spec.field && text.trim() !== "") body[spec.field.key] = text.trim();
    try {
      await api<PrivacyRequest>(`/api/v1/privacy/requests/${encodeURIComponent(r.id)}/${spec.name}`, {
        method: "POST",
        body,
      });
      onDone(spec.done);
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };

  return (
    <form className="card privacy-form" onSubmit={submit} aria-label={spec.label}>
      {spec.name === "approve" && (
        <p>
          {r.kind === "erasure"
            ? "The engine erases or masks this person's data in every store of the data map. This cannot be undone."
            : "The engine carries out the request against the stores of the data map."}
        </p>
      )}
      {spec.field && (
        <label htmlFor={field}>
          {spec.field.label}
          <textarea
            id={field}
            value={text}
            required={spec.field.required}
            maxLength={2000}
            rows={3}
            onChange={(e) => setText(e.target.value)}
          />
        </label>
      )}
      <div className="toolbar">
        <button type="submit" className={spec.primary ? "primary" : undefined} disabled={busy}>
          {busy ? "Working…" : `Confirm: ${spec.label.toLowerCase()}`}
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
