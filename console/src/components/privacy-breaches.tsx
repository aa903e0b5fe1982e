// The breach register's open records with their notification clocks, ticking every second: the
// time left to notify (the GDPR authority's 72 hours first), or by how much a deadline was missed,
// said in words as well as in red.
import { formatDateTime } from "../format.ts";
import { type Breach, type BreachClock, span, useNow } from "./privacy-parts.tsx";

const statusWords: Record<string, string> = {
  detected: "Detected",
  assessed: "Assessed",
  notified_authority: "Authority notified",
  notified_subjects: "People notified",
  closed: "Closed",
  not_reportable: "Not reportable",
};

/** The authority's clock first: it is the one the regulators count. */
const rank = (c: BreachClock) => (c.key === "gdpr.authority" ? 0 : c.recipient === "authority" ? 1 : 2);

function ClockCell({ clock: c, now }: { clock: BreachClock; now: number }) {
  const left = new Date(c.dueAt).getTime() - now;
  if (c.state === "met")
    return <span className="clock clock-met">Met {c.metAt ? formatDateTime(c.metAt) : ""}</span>;
  if (c.state === "waived") return <span className="clock clock-waived">Waived (not reportable)</span>;
  if (c.state === "missed" || left < 0)
    return (
      <span className="clock clock-overdue" data-clock-state="overdue">
        Overdue by {span(left, true)}
        {c.metAt ? ` (notified late, ${formatDateTime(c.metAt)})` : " — not notified"}
      </span>
    );
  return (
    <span className={`clock ${left < 6 * 3_600_000 ? "clock-soon" : "clock-open"}`} data-clock-state="open">
      {span(left, true)} left
    </span>
  );
}

export function BreachClocks({ breaches }: { breaches: Breach[] }) {
  const now = useNow(1000);
  if (breaches.length === 0) return <p className="muted">No open breach records.</p>;
  return (
    <div className="privacy-breaches">
      {breaches.map((b) => (
        <article key={b.id} className="card breach" aria-labelledby={`breach-${b.id}`}>
          <div className="section-head">
            <h3 id={`breach-${b.id}`}>{b.title}</h3>
            <span className="pill pill-muted">{statusWords[b.status] ?? b.status}</span>
          </div>
          <p className="muted small">
            <span className="mono">{b.id}</span> · aware since{" "}
            <time dateTime={b.awareAt}>{formatDateTime(b.awareAt)}</time>
            {b.incidentId ? ` · incident ${b.incidentId}` : ""}
          </p>
          <div className="table-wrap">
            <table className="breach-clocks privacy-stack">
              <caption className="sr-only">Notification clocks of {b.title}</caption>
              <thead>
                <tr>
                  <th scope="col">Notify</th>
                  <th scope="col">Due</th>
                  <th scope="col">Clock</th>
                </tr>
              </thead>
              <tbody>
                {[...b.clocks]
                  .sort((x, y) => rank(x) - rank(y) || x.dueAt.localeCompare(y.dueAt))
                  .map((c) => (
                    <tr key={c.key} data-clock={c.key}>
                      <th scope="row">
                        {c.label}
                        <div className="muted small">
                          {c.withoutDelay ? `without delay (target ${c.hours} h)` : `within ${c.hours} h`}
                        </div>
                      </th>
                      <td className="nowrap" data-label="Due">
                        <time dateTime={c.dueAt}>{formatDateTime(c.dueAt)}</time>
                      </td>
                      <td data-label="Clock">
                        <ClockCell clock={c} now={now} />
                      </td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        </article>
      ))}
    </div>
  );
}
