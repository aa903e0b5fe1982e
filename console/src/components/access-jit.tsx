// Just-in-time access on the Access page: requests the caller may decide (Approve / Deny with a
// comment), grants in force with a countdown that ticks each second, and the caller's own requests.
import { useEffect, useState } from "react";
import { api, ApiError } from "../api.ts";
import { Pending } from "../pages/Problem.tsx";
import { notAllowed, useCan } from "../session.ts";
import { useApi } from "../useApi.ts";
import {
  type AccessGrant,
  type JitRequest,
  RequestPill,
  scopeText,
  timeLeft,
  useNow,
  When,
  Why,
} from "./access-parts.tsx";

/** Who is asking, as /api/v1/me says: approvals need a person. */
export interface Caller {
  subject: string;
  kind: "user" | "service";
  credential: string;
}

/** Why the caller cannot decide requests, or null when they can (undefined: not known yet). */
function whyNotDecide(can: boolean | undefined, me: Caller | undefined): string | null {
  if (can === false) return notAllowed("jit:requests:approve");
  if (me && me.kind !== "user")
    return `Approvals need a person's credential (a user API key or SSO sign-in); ${me.subject} is not a person.`;
  return null;
}

export function PendingRequests({ me, onDecided }: { me: Caller | undefined; onDecided: () => void }) {
  const [list, reload] = useApi<{ requests: JitRequest[] }>("/api/v1/access/requests?pending=true");
  const can = useCan("jit:requests:approve");
  const why = whyNotDecide(can, me);

  return (
    <section aria-labelledby="pending-h">
      <div className="section-head">
        <h2 id="pending-h">Requests waiting for your decision</h2>
        <button type="button" onClick={reload}>
          Refresh requests
        </button>
      </div>
      {why && <p className="muted small">{why}</p>}
      <Pending loaded={list} loading="Loading requests…" what="access requests" />
      {list.state === "ready" && list.data.requests.length === 0 && (
        <p className="muted">No request is waiting for you.</p>
      )}
      {list.state === "ready" && list.data.requests.length > 0 && (
        <ul className="access-cards">
          {list.data.requests.map((r) => (
            <PendingCard
              key={r.id}
              request={r}
              why={why}
              onDecided={() => {
                reload();
                onDecided();
              }}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

function PendingCard({
  request: r,
  why,
  onDecided,
}: {
  request: JitRequest;
  why: string | null;
  onDecided: () => void;
}) {
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const approvals = r.decisions.filter((d) => d.decision === "approve").length;
  const blocked = why ?? refused;
  const whyId = `why-${r.id}`;

  const decide = async (decision: "approve" | "deny") => {
    setBusy(true);
    setError(null);
    try {
      await api<JitRequest>(`/api/v1/access/requests/${encodeURIComponent(r.id)}/${decision}`, {
        method: "POST",
        body: comment.trim() ? { comment: comment.trim() } : {},
      });
      onDecided();
    } catch (err) {
      // The server has the last word (policy approvers, not your own request): its reason stays.
      if (err instanceof ApiError && err.status === 403) setRefused(err.message);
      else setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <li className="card access-card" aria-labelledby={`req-${r.id}`}>
      <h3 id={`req-${r.id}`}>
        {r.requester} asks for <span className="mono">{r.role}</span> on {scopeText(r.scope)}
      </h3>
      <p className="access-justification">{r.justification}</p>
      <p className="muted small">
        For {r.durationMinutes} min · {approvals} of {r.requiredApprovals} approvals · asked{" "}
        <When iso={r.requestedAt} /> · lapses <When iso={r.expiresAt} />
      </p>
      <div className="access-decide">
        <label className="field access-comment">
          <span>Comment</span>
          <input
            value={comment}
            maxLength={1000}
            onChange={(e) => setComment(e.target.value)}
            aria-label={`Comment on ${r.requester}'s request`}
          />
        </label>
        <span title={blocked ?? undefined}>
          <button
            type="button"
            className="primary"
            disabled={busy || blocked !== null}
            aria-describedby={blocked ? whyId : undefined}
            onClick={() => decide("approve")}
          >
            Approve
          </button>
        </span>
        <span title={blocked ?? undefined}>
          <button
            type="button"
            disabled={busy || blocked !== null}
            aria-describedby={blocked ? whyId : undefined}
            onClick={() => decide("deny")}
          >
            Deny
          </button>
        </span>
        <Why id={whyId} why={blocked} />
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}

/** Reloads when `round` moves on (a decision elsewhere on the page changed what this shows). */
function useAgain(round: number, reload: () => void): void {
  useEffect(() => {
    if (round > 0) reload();
  }, [round, reload]);
}

export function LiveGrants({ round }: { round: number }) {
  const [list, reload] = useApi<{ grants: AccessGrant[] }>("/api/v1/access/grants");
  useAgain(round, reload);
  const now = useNow(1000);
  return (
    <section aria-labelledby="grants-h">
      <div className="section-head">
        <h2 id="grants-h">Grants in force</h2>
        <button type="button" onClick={reload}>
          Refresh grants
        </button>
      </div>
      <Pending loaded={list} loading="Loading grants…" what="grants" />
      {list.state === "ready" && (
        <div className="table-wrap">
          <table className="access-grants">
            <caption className="sr-only">Grants in force, with the time each has left</caption>
            <thead>
              <tr>
                <th scope="col">Who</th>
                <th scope="col">Role and where</th>
                <th scope="col">Time left</th>
              </tr>
            </thead>
            <tbody>
              {list.data.grants.map((g) => {
                const left = timeLeft(g.ends, now);
                return (
                  <tr key={g.id} data-grant={g.id}>
                    <td className="mono small">{g.subject}</td>
                    <td>
                      <span className="mono">{g.role}</span>
                      {g.breakGlass && <span className="pill pill-bad access-tag">Break-glass</span>}
                      <div className="small">{scopeText(g.scope)}</div>
                    </td>
                    <td className="nowrap">
                      {/* A timer is not announced each second; the end time is in the title. */}
                      <span
                        role="timer"
                        className={left === "expired" ? "pill pill-muted" : "access-countdown"}
                        title={`Ends ${new Date(g.ends).toLocaleString()}`}
                      >
                        {left}
                      </span>
                    </td>
                  </tr>
                );
              })}
              {list.data.grants.length === 0 && (
                <tr>
                  <td colSpan={3}>No grant is in force.</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function MyRequests({ round }: { round: number }) {
  const [list, reload] = useApi<{ requests: JitRequest[] }>("/api/v1/access/requests");
  useAgain(round, reload);
  return (
    <section aria-labelledby="mine-h">
      <h2 id="mine-h">Your requests</h2>
      <Pending loaded={list} loading="Loading your requests…" what="your requests" />
      {list.state === "ready" && list.data.requests.length === 0 && (
        <p className="muted">
          You have not asked for access. Ask with <code>rampart access request</code>.
        </p>
      )}
      {list.state === "ready" && list.data.requests.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Your access requests, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Role</th>
                <th scope="col">Where</th>
                <th scope="col">Status</th>
                <th scope="col">Asked</th>
                <th scope="col">Approvals</th>
              </tr>
            </thead>
            <tbody>
              {list.data.requests.map((r) => (
                <tr key={r.id}>
                  <td className="mono">{r.role}</td>
                  <td>{scopeText(r.scope)}</td>
                  <td>
                    <RequestPill status={r.status} />
                  </td>
                  <td className="nowrap">
                    <When iso={r.requestedAt} />
                  </td>
                  <td>
                    {r.decisions.filter((d) => d.decision === "approve").length} of {r.requiredApprovals}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
