// API keys on the Access page: a subject's keys (yours by default) without the keys themselves, a
// form that creates one and shows it once, and revocation after an explicit confirmation.
import { type FormEvent, useState } from "react";
import { api } from "../api.ts";
import { Pending } from "../pages/Problem.tsx";
import { notAllowed, useCan } from "../session.ts";
import { useApi } from "../useApi.ts";
import { type ApiKey, When, Why } from "./access-parts.tsx";

const lifetimes = [
  { seconds: 86_400, label: "1 day" },
  { seconds: 30 * 86_400, label: "30 days" },
  { seconds: 90 * 86_400, label: "90 days" },
  { seconds: 365 * 86_400, label: "1 year" },
] as const;

function keyState(k: ApiKey): { word: string; tone: "good" | "bad" | "muted" } {
  if (k.revokedAt) return { word: "Revoked", tone: "bad" };
  if (new Date(k.expiresAt).getTime() <= Date.now()) return { word: "Expired", tone: "muted" };
  return { word: "Active", tone: "good" };
}

export function ApiKeys({ me }: { me: string | undefined }) {
  const [subject, setSubject] = useState("");
  const [shown, setShown] = useState("");
  const path = `/api/v1/identity/api-keys${shown ? `?subject=${encodeURIComponent(shown)}` : ""}`;
  const [list, reload] = useApi<{ apiKeys: ApiKey[] }>(path);
  const canWrite = useCan("identity:api-keys:write");
  const writeWhy = canWrite === false ? notAllowed("identity:api-keys:write") : null;

  const look = (e: FormEvent) => {
    e.preventDefault();
    setShown(subject.trim());
  };

  return (
    <section aria-labelledby="keys-h">
      <h2 id="keys-h">API keys</h2>
      <form className="toolbar access-lookup" onSubmit={look}>
        <label className="field">
          <span>Keys of</span>
          <input
            value={subject}
            onChange={(e) => setSubject(e.target.value)}
            placeholder={me ?? "subject"}
            maxLength={512}
          />
        </label>
        <button type="submit">Show keys</button>
      </form>
      <Pending loaded={list} loading="Loading API keys…" what="API keys" />
      {list.state === "ready" && (
        <KeyTable
          keys={list.data.apiKeys}
          owner={shown || me || "you"}
          writeWhy={writeWhy}
          onRevoked={reload}
        />
      )}
      <CreateKey
        writeWhy={writeWhy}
        defaultSubject={shown || me || ""}
        onCreated={(s) => {
          setSubject(s);
          if (s === (shown || me)) reload();
          else setShown(s);
        }}
      />
    </section>
  );
}

function KeyTable({
  keys,
  owner,
  writeWhy,
  onRevoked,
}: {
  keys: ApiKey[];
  owner: string;
  writeWhy: string | null;
  onRevoked: () => void;
}) {
  return (
    <div className="table-wrap">
      <table className="access-keys">
        <caption className="sr-only">API keys of {owner}</caption>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Status</th>
            <th scope="col">Scopes</th>
            <th scope="col">Expires</th>
            <th scope="col">Last used</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <KeyRow key={k.id} k={k} writeWhy={writeWhy} onRevoked={onRevoked} />
          ))}
          {keys.length === 0 && (
            <tr>
              <td colSpan={6}>No API keys for {owner}.</td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function KeyRow({ k, writeWhy, onRevoked }: { k: ApiKey; writeWhy: string | null; onRevoked: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const state = keyState(k);
  const label = k.description || k.id;

  const revoke = async () => {
    setBusy(true);
    setError(null);
    try {
      await api<ApiKey>(`/api/v1/identity/api-keys/${encodeURIComponent(k.id)}`, { method: "DELETE" });
      setConfirming(false);
      onRevoked();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <tr data-key={k.id}>
      <td>
        {k.description && <div>{k.description}</div>}
        <div className="mono small muted">{k.id}</div>
        <div className="small muted">
          {k.kind} · {k.subject}
        </div>
      </td>
      <td>
        <span className={`pill pill-${state.tone}`}>{state.word}</span>
      </td>
      <td className="small">{k.scopes.length ? k.scopes.join(", ") : <span className="muted">all</span>}</td>
      <td className="nowrap">
        <When iso={k.expiresAt} />
      </td>
      <td className="nowrap">
        {k.lastUsedAt ? <When iso={k.lastUsedAt} /> : <span className="muted">never</span>}
      </td>
      <td>
        {state.word === "Active" && !confirming && (
          <>
            <span title={writeWhy ?? undefined}>
              <button
                type="button"
                disabled={writeWhy !== null}
                aria-describedby={writeWhy ? `why-key-${k.id}` : undefined}
                aria-label={`Revoke ${label}`}
                onClick={() => setConfirming(true)}
              >
                Revoke
              </button>
            </span>
            <Why id={`why-key-${k.id}`} why={writeWhy} />
          </>
        )}
        {confirming && (
          <div role="group" aria-label={`Confirm revoking ${label}`} className="access-confirm">
            <span className="small">Every gateway refuses it at once.</span>
            <button type="button" className="danger" disabled={busy} onClick={revoke}>
              {busy ? "Revoking…" : "Confirm revoke"}
            </button>
            <button type="button" disabled={busy} onClick={() => setConfirming(false)}>
              Keep
            </button>
          </div>
        )}
        {error && (
          <p className="error small" role="alert">
            {error}
          </p>
        )}
      </td>
    </tr>
  );
}

function CreateKey({
  writeWhy,
  defaultSubject,
  onCreated,
}: {
  writeWhy: string | null;
  defaultSubject: string;
  onCreated: (subject: string) => void;
}) {
  const [kind, setKind] = useState<"user" | "service">("user");
  const [subject, setSubject] = useState("");
  const [description, setDescription] = useState("");
  const [scopes, setScopes] = useState("");
  const [ttl, setTtl] = useState<number>(lifetimes[1].seconds);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ key: string; apiKey: ApiKey } | null>(null);
  const [copied, setCopied] = useState(false);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setCopied(false);
    try {
      const who = subject.trim() || defaultSubject;
      const answer = await api<{ key: string; apiKey: ApiKey }>("/api/v1/identity/api-keys", {
        method: "POST",
        body: {
          kind,
          subject: who,
          scopes: scopes
            .split(/[\s,]+/)
            .map((s) => s.trim())
            .filter((s) => s !== ""),
          ttlSeconds: ttl,
          ...(description.trim() ? { description: description.trim() } : {}),
        },
      });
      setCreated(answer);
      setDescription("");
      onCreated(answer.apiKey.subject);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="card access-create">
      <h3>Create an API key</h3>
      <form onSubmit={create} className="access-form">
        <label>
          <span>Kind</span>
          <select value={kind} onChange={(e) => setKind(e.target.value as "user" | "service")}>
            <option value="user">User</option>
            <option value="service">Service account</option>
          </select>
        </label>
        <label>
          <span>Subject</span>
          <input
            value={subject}
            onChange={(e) => setSubject(e.target.value)}
            placeholder={defaultSubject || (kind === "user" ? "provider:sub" : "service account name")}
            maxLength={512}
            required={defaultSubject === ""}
          />
        </label>
        <label>
          <span>Description</span>
          <input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={500} />
        </label>
        <label>
          <span>Scopes (comma separated, empty: all)</span>
          <input value={scopes} onChange={(e) => setScopes(e.target.value)} />
        </label>
        <label>
          <span>Lifetime</span>
          <select value={ttl} onChange={(e) => setTtl(Number(e.target.value))}>
            {lifetimes.map((l) => (
              <option key={l.seconds} value={l.seconds}>
                {l.label}
              </option>
            ))}
          </select>
        </label>
        <div className="access-form-actions">
          <span title={writeWhy ?? undefined}>
            <button
              type="submit"
              className="primary"
              disabled={busy || writeWhy !== null}
              aria-describedby={writeWhy ? "why-create-key" : undefined}
            >
              {busy ? "Creating…" : "Create key"}
            </button>
          </span>
          <Why id="why-create-key" why={writeWhy} />
        </div>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {created && (
        <div className="access-newkey" role="status">
          <p>
            <strong>Copy this key now: it is shown once and never again.</strong> Key {created.apiKey.id} for{" "}
            {created.apiKey.subject}.
          </p>
          <label className="access-newkey-value">
            <span className="sr-only">New API key</span>
            <input readOnly value={created.key} className="mono" onFocus={(e) => e.target.select()} />
          </label>
          <div className="toolbar">
            <button
              type="button"
              onClick={() =>
                navigator.clipboard?.writeText(created.key).then(
                  () => setCopied(true),
                  () => setCopied(false),
                )
              }
            >
              {copied ? "Copied" : "Copy key"}
            </button>
            <button type="button" onClick={() => setCreated(null)}>
              I have stored it
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
