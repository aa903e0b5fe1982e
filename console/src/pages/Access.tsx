// Access: just-in-time requests waiting for the caller's decision, grants in force counting down,
// the caller's own requests, service accounts, API keys and SSO sessions with revocation.
import { useEffect, useState } from "react";
import { ServiceAccounts, Sessions } from "../components/access-accounts.tsx";
import { type Caller, LiveGrants, MyRequests, PendingRequests } from "../components/access-jit.tsx";
import { ApiKeys } from "../components/access-keys.tsx";
import { useApi } from "../useApi.ts";
import "./Access.css";

const sections = [
  { id: "pending-h", label: "Requests" },
  { id: "grants-h", label: "Grants" },
  { id: "mine-h", label: "Yours" },
  { id: "accounts-h", label: "Service accounts" },
  { id: "keys-h", label: "API keys" },
  { id: "sessions-h", label: "Sessions" },
] as const;

export function Access({ sub }: { sub?: string | undefined }) {
  const [me] = useApi<Caller>("/api/v1/me");
  const caller = me.state === "ready" ? me.data : undefined;
  // A decision changes the grants in force and the requester's list: those views reload.
  const [round, setRound] = useState(0);

  // #/access/<section> deep links land on that section.
  useEffect(() => {
    const target = sections.find((s) => s.label.toLowerCase().replace(/ /g, "-") === sub);
    if (target) document.getElementById(target.id)?.scrollIntoView();
  }, [sub]);

  return (
    <div className="access">
      <header className="page-head">
        <h1 tabIndex={-1}>Access</h1>
      </header>
      {/* Not a <nav>: the console's nav styles are the sidebar's. */}
      <div role="navigation" aria-label="Access sections" className="access-jump">
        {sections.map((s) => (
          <a key={s.id} href={`#${s.id}`}>
            {s.label}
          </a>
        ))}
      </div>
      <PendingRequests me={caller} onDecided={() => setRound((r) => r + 1)} />
      <LiveGrants round={round} />
      <MyRequests round={round} />
      <ServiceAccounts />
      <ApiKeys me={caller?.subject} />
      <Sessions />
    </div>
  );
}
