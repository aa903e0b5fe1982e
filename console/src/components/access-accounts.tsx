// Service accounts and SSO sessions on the Access page. Accounts are listed as configured (never
// their secrets); sessions are looked up by subject, because the session store indexes them by
// subject and cannot list them all, and a subject can be revoked everywhere with a reason.
import { type FormEvent, useState } from "react";
import { api } from "../api.ts";
import { Pending, Problem } from "../pages/Problem.tsx";
import { notAllowed, useCan } from "../session.ts";
import { useApi } from "../useApi.ts";
import { type ServiceAccount, type SsoSession, When, Why } from "./access-parts.tsx";

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function ServiceAccounts() {
  const [list] = useApi<{ serviceAccounts: ServiceAccount[] }>("/api/v1/identity/service-accounts");
  return (
    <section aria-labelledby="accounts-h">
      <h2 id="accounts-h">Service accounts</h2>
      <Pending loaded={list} loading="Loading service accounts…" what="service accounts" />
      {list.state === "ready" && (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Service accounts configured in identity.serviceAccounts</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Roles</th>
                <th scope="col">Scopes</th>
                <th scope="col">Credentials</th>
              </tr>
            </thead>
            <tbody>
              {list.data.serviceAccounts.map((a) => (
                <tr key={a.name}>
                  <td>
                    <div className="mono">{a.name}</div>
                    {a.description && <div className="small muted">{a.description}</div>}
                  </td>
                  <td>{a.roles.length ? a.roles.join(", ") : <span className="muted">none</span>}</td>
                  <td className="small">
                    {a.scopes.length ? a.scopes.join(", ") : <span className="muted">none</span>}
                  </td>
                  <td className="small">
                    {a.clientSecrets === 0 && a.certificates === 0 ? (
                      <span className="muted">API keys only</span>
                    ) : (
                      <>
                        {a.clientSecrets > 0 && (
                          <div>{plural(a.clientSecrets, "client secret", "client secrets")}</div>
                        )}
                        {a.certificates > 0 && (
                          <div>{plural(a.certificates, "certificate mapping", "certificate mappings")}</div>
                        )}
                      </>
                    )}
                  </td>
                </tr>
              ))}
              {list.data.serviceAccounts.length === 0 && (
                <tr>
                  <td colSpan={4}>No service account is configured.</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function Sessions() {
  const [subject, setSubject] = useState("");
  const [shown, setShown] = useState<string | null>(null);
  const [list, reload] = useApi<{ subject: string; sessions: SsoSession[]; truncated: boolean }>(
    shown ? `/api/v1/identity/sessions?subject=${encodeURIComponent(shown)}` : null,
  );

  const look = (e: FormEvent) => {
    e.preventDefault();
    if (subject.trim()) setShown(subject.trim());
  };

  return (
    <section aria-labelledby="sessions-h">
      <h2 id="sessions-h">Sessions</h2>
      <p className="muted small">
        SSO sessions are kept per person, so look them up by subject (
        <span className="mono">provider:sub</span>).
      </p>
      <form className="toolbar access-lookup" onSubmit={look}>
        <label className="field">
          <span>Subject</span>
          <input value={subject} onChange={(e) => setSubject(e.target.value)} maxLength={512} required />
        </label>
        <button type="submit">Find sessions</button>
      </form>
      {shown && list.state === "loading" && <p className="muted">Loading sessions…</p>}
      {shown && list.state === "error" && <Problem error={list.error} what="sessions" />}
      {shown && list.state === "ready" && (
        <>
          <div className="table-wrap">
            <table>
              <caption className="sr-only">SSO sessions of {list.data.subject}</caption>
              <thead>
                <tr>
                  <th scope="col">Provider</th>
                  <th scope="col">Signed in</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">Ends</th>
                </tr>
              </thead>
              <tbody>
                {list.data.sessions.map((s) => (
                  <tr key={`${s.createdAt}-${s.lastSeenAt}-${s.expiresAt}`}>
                    <td>{s.provider}</td>
                    <td className="nowrap">
                      <When iso={s.createdAt} />
                    </td>
                    <td className="nowrap">
                      <When iso={s.lastSeenAt} />
                    </td>
                    <td className="nowrap">
                      <When iso={s.expiresAt} />
                    </td>
                  </tr>
                ))}
                {list.data.sessions.length === 0 && (
                  <tr>
                    <td colSpan={4}>No live session for {list.data.subject}.</td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          {list.data.truncated && <p className="muted small">Only the first 100 sessions are shown.</p>}
          <RevokeSubject subject={list.data.subject} onDone={reload} />
        </>
      )}
    </section>
  );
}

function RevokeSubject({ subject, onDone }: { subject: string; onDone: () => void }) {
  const can = useCan("identity:revoke");
  const why = can === false ? notAllowed("identity:revoke") : null;
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const revoke = async (e: FormEvent) => {
    e.preventDefault();
    if (!window.confirm(`End every session, token, API key and grant of ${subject}?`)) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api<{ sessions: number; grants: string[] }>("/api/v1/identity/revocations", {
        method: "POST",
        body: { subject, reason: reason.trim() },
      });
      setDone(
        `Revoked ${subject}: ${plural(r.sessions, "session", "sessions")} and ${plural(r.grants.length, "grant", "grants")} ended; tokens and API keys are refused.`,
      );
      setReason("");
      onDone();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card access-revoke" onSubmit={revoke}>
      <h3>Revoke {subject} everywhere</h3>
      <p className="small muted">
        Ends their sessions and grants and refuses their tokens and API keys on every gateway.
      </p>
      <div className="toolbar">
        <label className="field">
          <span>Reason</span>
          <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={1000} required />
        </label>
        <span title={why ?? undefined}>
          <button
            type="submit"
            className="danger"
            disabled={busy || why !== null}
            aria-describedby={why ? "why-revoke-subject" : undefined}
          >
            {busy ? "Revoking…" : "Revoke subject"}
          </button>
        </span>
        <Why id="why-revoke-subject" why={why} />
      </div>
      {done && (
        <p role="status" className="small">
          {done}
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
