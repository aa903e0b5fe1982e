// The clients refused most often, each with a one-click block at every gateway (an hour), and
// the blocks already in force so a blocked address says so instead of offering the button again.
import { useState } from "react";
import { api, ApiError } from "../api.ts";
import { formatDateTime, fromNow } from "../format.ts";
import { notAllowed, useCan } from "../session.ts";
import type { DecisionsAnswer } from "./edge-chart.tsx";

export interface IpBlock {
  target: string;
  reason: string;
  expiresAt: string;
}

const BLOCK_SECONDS = 3600;
const words = (d: string) => d.replaceAll("_", " ");

function BlockButton({
  address,
  count,
  blocked,
  onBlocked,
}: {
  address: string;
  count: number;
  blocked: IpBlock | undefined;
  onBlocked: () => void;
}) {
  const can = useCan("gateway:blocks:write");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (blocked)
    return (
      <span className="pill pill-bad" title={blocked.reason}>
        Blocked until {formatDateTime(blocked.expiresAt)}
      </span>
    );
  const block = async () => {
    setBusy(true);
    setError(null);
    try {
      await api<IpBlock>("/api/v1/gateway/blocks", {
        method: "POST",
        body: {
          target: address,
          ttlSeconds: BLOCK_SECONDS,
          reason: `blocked from the console after ${count} refused requests`,
        },
      });
      onBlocked();
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 403
          ? notAllowed("gateway:blocks:write")
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };
  const why = can === false ? notAllowed("gateway:blocks:write") : null;
  const whyId = `block-why-${address.replace(/[^A-Za-z0-9]/g, "-")}`;
  return (
    <div className="edge-actions">
      <span title={why ?? undefined}>
        <button
          type="button"
          onClick={block}
          disabled={busy || can === false}
          aria-label={`Block ${address} for an hour`}
          aria-describedby={why ? whyId : undefined}
        >
          {busy ? "Blocking…" : "Block"}
        </button>
      </span>
      {why && (
        <span id={whyId} className="muted small">
          {why}
        </span>
      )}
      {error && (
        <span className="error small" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

export function TopClients({
  clients,
  blocks,
  onBlocked,
}: {
  clients: DecisionsAnswer["topClients"];
  blocks: IpBlock[] | undefined;
  onBlocked: () => void;
}) {
  if (clients.length === 0) return <p className="muted">No client was refused in this window.</p>;
  return (
    <div className="table-wrap">
      <table data-testid="top-clients">
        <caption className="sr-only">Clients refused most often, most first</caption>
        <thead>
          <tr>
            <th scope="col">Client</th>
            <th scope="col" className="num">
              Refused
            </th>
            <th scope="col">Why</th>
            <th scope="col">Last seen</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {clients.map((c) => (
            <tr key={c.address}>
              <th scope="row" className="mono">
                {c.address}
              </th>
              <td className="num">{c.count}</td>
              <td className="small edge-why">
                {Object.entries(c.decisions)
                  .sort((a, b) => b[1] - a[1])
                  .map(([d, n]) => `${words(d)} ${n}`)
                  .join(", ")}
              </td>
              <td className="nowrap small">
                <time dateTime={c.lastSeen} title={formatDateTime(c.lastSeen)}>
                  {fromNow(c.lastSeen)}
                </time>
              </td>
              <td>
                <BlockButton
                  address={c.address}
                  count={c.count}
                  blocked={blocks?.find((b) => b.target === c.address)}
                  onBlocked={onBlocked}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
