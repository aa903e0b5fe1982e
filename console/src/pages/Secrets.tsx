// Secrets: the tree of paths the caller may list, and for the chosen secret its versions, rotation
// status, a diff of keys between two versions (values hidden until an on-purpose, audited read)
// and rolling back to an older version. Listing and metadata never carry values.
import { useEffect, useState } from "react";
import { api, ApiError } from "../api.ts";
import { SecretsTree } from "../components/secrets-tree.tsx";
import { formatDateTime, fromNow } from "../format.ts";
import { navigate } from "../router.ts";
import { useApi } from "../useApi.ts";
import { Pending, Problem } from "./Problem.tsx";
import "./Secrets.css";

type VersionState = "active" | "deleted" | "destroyed" | "revoked";

interface VersionInfo {
  version: number;
  state: VersionState;
  createdAt: string;
  createdBy: string;
  endedAt?: string;
  rolledBackFrom?: number;
}

interface Metadata {
  path: string;
  currentVersion: number;
  createdAt: string;
  updatedAt: string;
  owner?: string;
  rotationPeriodDays?: number;
  rotator?: string;
  lastRotation?: { at: string; ok: boolean; version?: number; error?: string };
  versions: VersionInfo[];
}

type KeyChange = "added" | "removed" | "changed" | "unchanged";
interface Diff {
  from: number;
  to: number;
  keys: { key: string; change: KeyChange }[];
}

const secretApi = (op: string, path: string) => `/api/v1/secrets/${op}${path}`;
const DAY_MS = 86_400_000;

export function Secrets({ sub }: { sub?: string | undefined }) {
  const selected = sub ? decodeURIComponent(sub) : undefined;
  const [list, reload] = useApi<{ paths: string[] }>("/api/v1/secrets/list/");
  return (
    <>
      <header className="page-head">
        <h1 tabIndex={-1}>Secrets</h1>
        <div className="toolbar">
          <button type="button" onClick={reload}>
            Refresh
          </button>
        </div>
      </header>
      <div className="secrets-layout">
        <section className="card secrets-tree-card" aria-labelledby="tree-h">
          <h2 id="tree-h">Paths</h2>
          <Pending loaded={list} loading="Loading paths…" what="secret paths" />
          {list.state === "ready" && (
            <SecretsTree
              paths={list.data.paths}
              selected={selected}
              onSelect={(p) => navigate(`secrets/${encodeURIComponent(p)}`)}
            />
          )}
        </section>
        <div className="secrets-detail">
          {selected ? (
            <SecretDetail key={selected} path={selected} />
          ) : (
            <p className="muted">Choose a secret to see its versions and rotation.</p>
          )}
        </div>
      </div>
    </>
  );
}

function When({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={formatDateTime(iso)}>
      {fromNow(iso)}
    </time>
  );
}

const stateTone: Record<VersionState, string> = {
  active: "good",
  deleted: "warn",
  destroyed: "muted",
  revoked: "bad",
};

function SecretDetail({ path }: { path: string }) {
  const [meta, reload] = useApi<Metadata>(secretApi("metadata", path));
  const [message, setMessage] = useState<string | null>(null);
  if (meta.state === "loading") return <p className="muted">Loading {path}…</p>;
  if (meta.state === "error") return <Problem error={meta.error} what={path} />;
  const m = meta.data;
  return (
    <>
      <section className="card" aria-labelledby="secret-h">
        <h2 id="secret-h" className="mono secret-path">
          {m.path}
        </h2>
        <dl className="secret-facts">
          <div>
            <dt>Current version</dt>
            <dd data-testid="current-version">{m.currentVersion}</dd>
          </div>
          <div>
            <dt>Owner</dt>
            <dd>{m.owner ?? <span className="muted">none</span>}</dd>
          </div>
          <div>
            <dt>Updated</dt>
            <dd>
              <When iso={m.updatedAt} />
            </dd>
          </div>
        </dl>
        <Rotation meta={m} />
      </section>
      {message && (
        <p className="secret-message" role="status">
          {message}
        </p>
      )}
      <Versions
        meta={m}
        onRolledBack={(text) => {
          setMessage(text);
          reload();
        }}
      />
      <Compare meta={m} />
    </>
  );
}

/** Last rotation and when the next is due: the last rotation, else the newest version, plus the period. */
function Rotation({ meta }: { meta: Metadata }) {
  const period = meta.rotationPeriodDays;
  const newest = meta.versions[0]?.createdAt ?? meta.updatedAt;
  const since = meta.lastRotation?.ok ? meta.lastRotation.at : newest;
  const due = period ? new Date(new Date(since).getTime() + period * DAY_MS).toISOString() : undefined;
  const overdue = due !== undefined && new Date(due).getTime() < Date.now();
  return (
    <div className="rotation" aria-label="Rotation">
      <h3>Rotation</h3>
      <dl className="secret-facts">
        <div>
          <dt>Schedule</dt>
          <dd>
            {period ? `every ${period} days` : <span className="muted">none</span>}
            {meta.rotator && <span className="muted"> by {meta.rotator}</span>}
          </dd>
        </div>
        <div>
          <dt>Last rotated</dt>
          <dd>
            {meta.lastRotation ? (
              <>
                <When iso={meta.lastRotation.at} />{" "}
                {meta.lastRotation.ok ? (
                  <span className="pill pill-good">Worked</span>
                ) : (
                  <span className="pill pill-bad">Failed</span>
                )}
              </>
            ) : (
              <span className="muted">never</span>
            )}
          </dd>
        </div>
        <div>
          <dt>Next due</dt>
          <dd data-testid="rotation-due">
            {due ? (
              <>
                <When iso={due} />{" "}
                {overdue ? (
                  <span className="pill pill-bad">Overdue</span>
                ) : (
                  <span className="pill pill-good">On time</span>
                )}
              </>
            ) : (
              <span className="muted">not scheduled</span>
            )}
          </dd>
        </div>
      </dl>
      {meta.lastRotation && !meta.lastRotation.ok && meta.lastRotation.error && (
        <p className="error small">Last rotation failed: {meta.lastRotation.error}</p>
      )}
    </div>
  );
}

/** What the secrets policies let the signed-in caller do on `path` (undefined until answered). */
function useCapabilities(path: string): ReadonlySet<string> | undefined {
  const [caps] = useApi<{ capabilities: string[] }>(secretApi("capabilities", path));
  return caps.state === "ready" ? new Set(caps.data.capabilities) : undefined;
}

/** The words beside a control the secrets policy does not allow on this path. */
const policyRefuses = (capability: string, path: string) =>
  `The secrets policy does not give you ${capability} on ${path}.`;

function Versions({ meta, onRolledBack }: { meta: Metadata; onRolledBack: (message: string) => void }) {
  const caps = useCapabilities(meta.path);
  const may = caps === undefined ? undefined : caps.has("update");
  const [asking, setAsking] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const rollback = async (version: number) => {
    setBusy(true);
    setError(null);
    try {
      const info = await api<VersionInfo>(secretApi("rollback", meta.path), {
        method: "POST",
        body: { version },
      });
      setAsking(null);
      onRolledBack(`Rolled back: version ${info.version} now holds version ${version}'s value.`);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 403
          ? policyRefuses("update", meta.path)
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="versions-h">
      <h2 id="versions-h">Versions</h2>
      {may === false && (
        <p id="rollback-why" className="muted small">
          {policyRefuses("update", meta.path)}
        </p>
      )}
      <div className="table-wrap">
        <table className="versions">
          <caption className="sr-only">Versions of {meta.path}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
              <th scope="col">By</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {meta.versions.map((v) => {
              const current = v.version === meta.currentVersion;
              return (
                <tr key={v.version} data-version={v.version}>
                  <th scope="row">
                    v{v.version}
                    {current && <div className="muted small">current</div>}
                    {v.rolledBackFrom !== undefined && (
                      <div className="muted small">rollback to v{v.rolledBackFrom}</div>
                    )}
                  </th>
                  <td data-label="State">
                    <span className={`pill pill-${stateTone[v.state]}`}>{v.state}</span>
                  </td>
                  <td className="nowrap" data-label="Created">
                    <When iso={v.createdAt} />
                  </td>
                  <td className="mono small by" data-label="By">
                    {v.createdBy}
                  </td>
                  <td>
                    {!current && v.state === "active" && (
                      <button
                        type="button"
                        onClick={() => setAsking(v.version)}
                        disabled={may === false || busy}
                        aria-describedby={may === false ? "rollback-why" : undefined}
                      >
                        Roll back to this version<span className="sr-only"> (v{v.version})</span>
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {asking !== null && (
        <ConfirmRollback
          path={meta.path}
          version={asking}
          next={meta.currentVersion + 1}
          busy={busy}
          onConfirm={() => void rollback(asking)}
          onCancel={() => setAsking(null)}
        />
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function ConfirmRollback(o: {
  path: string;
  version: number;
  next: number;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  // Focus the question so a keyboard user lands on the choice it offers.
  useEffect(() => {
    document.getElementById("rollback-confirm")?.focus();
  }, []);
  return (
    <div className="card confirm" role="group" aria-labelledby="rollback-q">
      <p id="rollback-q">
        Roll back <span className="mono">{o.path}</span> to version {o.version}? Its value is written again as
        version {o.next}; consumers read it from then on.
      </p>
      <div className="toolbar">
        <button
          id="rollback-confirm"
          type="button"
          className="primary"
          onClick={o.onConfirm}
          disabled={o.busy}
        >
          {o.busy ? "Rolling back…" : `Roll back to version ${o.version}`}
        </button>
        <button type="button" onClick={o.onCancel} disabled={o.busy}>
          Cancel
        </button>
      </div>
    </div>
  );
}

function Compare({ meta }: { meta: Metadata }) {
  const numbers = meta.versions.map((v) => v.version);
  const [to, setTo] = useState(numbers[0] ?? 1);
  const [from, setFrom] = useState(numbers[1] ?? numbers[0] ?? 1);
  const [diff] = useApi<Diff>(
    numbers.length > 1 ? `${secretApi("diff", meta.path)}?from=${from}&to=${to}` : null,
  );
  const [values, setValues] = useState<{ from: Record<string, string>; to: Record<string, string> } | null>(
    null,
  );
  const [revealing, setRevealing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const caps = useCapabilities(meta.path);
  const mayRead = caps === undefined ? undefined : caps.has("read");
  // Revealed values belong to the versions they were read for.
  useEffect(() => {
    setValues(null);
    setError(null);
  }, [from, to, meta.path]);

  if (numbers.length < 2) return null;
  const readable = (v: number) => meta.versions.find((x) => x.version === v)?.state === "active";

  const reveal = async () => {
    setRevealing(true);
    setError(null);
    try {
      const read = (v: number) =>
        api<{ data: Record<string, string> }>(`${secretApi("data", meta.path)}?version=${v}`);
      const [a, b] = await Promise.all([read(from), read(to)]);
      setValues({ from: a.data, to: b.data });
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 403
          ? policyRefuses("read", meta.path)
          : (err as Error).message,
      );
    } finally {
      setRevealing(false);
    }
  };

  const select = (label: string, value: number, set: (v: number) => void) => (
    <label className="field">
      <span>{label}</span>
      <select value={value} onChange={(e) => set(Number(e.target.value))}>
        {meta.versions.map((v) => (
          <option key={v.version} value={v.version}>
            v{v.version} ({v.state})
          </option>
        ))}
      </select>
    </label>
  );
  const shown = (side: Record<string, string> | undefined, key: string, present: boolean) => {
    if (!present) return <span className="muted">absent</span>;
    if (!side) return <span aria-label="hidden value">••••</span>;
    return <code className="secret-value">{side[key]}</code>;
  };

  return (
    <section aria-labelledby="compare-h">
      <h2 id="compare-h">Compare versions</h2>
      <div className="toolbar compare-bar">
        {select("From", from, setFrom)}
        {select("To", to, setTo)}
        <button
          type="button"
          onClick={() => void reveal()}
          disabled={revealing || values !== null || mayRead === false || !readable(from) || !readable(to)}
          aria-describedby={mayRead === false ? "reveal-why" : undefined}
        >
          {revealing ? "Reading…" : `Reveal values of v${from} and v${to} (audited read)`}
        </button>
      </div>
      {mayRead === false && (
        <p id="reveal-why" className="muted small">
          {policyRefuses("read", meta.path)}
        </p>
      )}
      {(!readable(from) || !readable(to)) && (
        <p className="muted small">Only active versions can be read; their keys are still compared.</p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {values && (
        <p className="muted small" role="status">
          Values shown: this read of v{from} and v{to} is in the audit log.
        </p>
      )}
      <Pending loaded={diff} loading="Comparing…" what="the comparison" />
      {diff.state === "ready" && (
        <div className="table-wrap">
          <table className="diff">
            <caption className="sr-only">
              Keys of {meta.path} from v{diff.data.from} to v{diff.data.to}
            </caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Change</th>
                <th scope="col">v{diff.data.from}</th>
                <th scope="col">v{diff.data.to}</th>
              </tr>
            </thead>
            <tbody>
              {diff.data.keys.map(({ key, change }) => (
                <tr key={key} className={`change-${change}`} data-key={key}>
                  <th scope="row" className="mono">
                    {key}
                  </th>
                  <td>
                    <span className={`change change-${change}`}>{change}</span>
                  </td>
                  <td>{shown(values?.from, key, change !== "added")}</td>
                  <td>{shown(values?.to, key, change !== "removed")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
