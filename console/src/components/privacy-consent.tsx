// Consent per purpose as it stands now: live consents, withdrawals and lapsed ones, as bars with the
// numbers written beside them (counts only: the statistics never name a person).
import { BarList } from "./BarList.tsx";
import type { ConsentStats } from "./privacy-parts.tsx";

export function ConsentChart({ stats }: { stats: ConsentStats }) {
  if (stats.purposes.length === 0) return <p className="muted">No consent has been recorded yet.</p>;
  const rows = stats.purposes.map((p) => ({
    key: p.purpose,
    label: p.purpose,
    segments: [
      { value: p.given, tone: "consent-given", name: "granted" },
      { value: p.withdrawn, tone: "consent-withdrawn", name: "withdrawn" },
      { value: p.expired, tone: "consent-expired", name: "expired" },
    ],
  }));
  return (
    <>
      <p className="muted small">
        {stats.subjects} {stats.subjects === 1 ? "person has" : "people have"} a consent decision on record.
      </p>
      <BarList rows={rows} caption="Consent per purpose: granted, withdrawn, expired" />
      <p className="consent-key small" aria-hidden="true">
        <span className="key key-given" /> granted <span className="key key-withdrawn" /> withdrawn{" "}
        <span className="key key-expired" /> expired
      </p>
    </>
  );
}
