// Blocks and limits over time: stacked bars per time bucket from GET /api/v1/gateway/decisions, one
// series per kind of refusal. Each series has its own fill pattern as well as its colour, the
// legend names them, every bar carries its count as a tooltip, and the same numbers are a table.
import { type RefObject, useEffect, useId, useRef, useState } from "react";
import "../pages/Edge.css";

/** The answer of GET /api/v1/gateway/decisions. */
export interface DecisionsAnswer {
  window: { from: string; to: string };
  bucketSeconds: number;
  truncated: boolean;
  totals: Record<string, number>;
  buckets: { start: string; counts: Record<string, number> }[];
  topClients: { address: string; count: number; lastSeen: string; decisions: Record<string, number> }[];
  countries: { country: string; count: number }[];
  latest: {
    time: string;
    decision: string;
    route: string;
    client: string;
    count: number;
    detail?: string;
  }[];
}

/** Refusals grouped as a person thinks of them; report-only decisions are not blocks. */
export const SERIES = [
  { key: "limits", name: "Rate limited", decisions: ["rate_limited"] },
  { key: "waf", name: "WAF blocked", decisions: ["waf_blocked"] },
  {
    key: "address",
    name: "Address or country refused",
    decisions: ["ip_blocked", "ip_denied", "country_blocked", "geo_denied", "lockdown_denied"],
  },
  { key: "bots", name: "Bots blocked", decisions: ["bot_blocked"] },
  { key: "access", name: "Access refused", decisions: ["auth_failed", "policy_denied", "jit_required"] },
] as const;

type SeriesKey = (typeof SERIES)[number]["key"];

const seriesCount = (counts: Record<string, number>, s: (typeof SERIES)[number]) =>
  s.decisions.reduce((n, d) => n + (counts[d] ?? 0), 0);

const H = 220;

/** The drawing's width in CSS pixels, so text keeps its size on a phone instead of shrinking. */
function useWidth(): [RefObject<HTMLElement | null>, number] {
  const ref = useRef<HTMLElement | null>(null);
  const [width, setWidth] = useState(640);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(280, Math.round(el.clientWidth)));
    measure();
    const seen = new ResizeObserver(measure);
    seen.observe(el);
    return () => seen.disconnect();
  }, []);
  return [ref, width];
}
const PAD = { left: 48, right: 8, top: 10, bottom: 42 };

/** A round axis maximum: 1, 2, 5 × 10ⁿ at or above `n`. */
function niceMax(n: number): number {
  if (n <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

function bucketLabel(iso: string, seconds: number): string {
  const d = new Date(iso);
  if (seconds >= 86_400) return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** A hatch per series so bars differ in shape as well as colour. */
function Pattern({ id, k }: { id: string; k: SeriesKey }) {
  const line = { className: "edge-hatch", strokeWidth: 1.5 };
  return (
    <pattern id={id} width="6" height="6" patternUnits="userSpaceOnUse">
      <rect width="6" height="6" className={`edge-fill-${k}`} />
      {k === "waf" && <path d="M0 6 L6 0" {...line} />}
      {k === "address" && <path d="M0 3 H6" {...line} />}
      {k === "bots" && <circle cx="3" cy="3" r="1.2" className="edge-dot" />}
      {k === "access" && <path d="M3 0 V6" {...line} />}
    </pattern>
  );
}

export function DecisionsChart({ data, caption }: { data: DecisionsAnswer; caption: string }) {
  const uid = useId().replace(/[^A-Za-z0-9_-]/g, "");
  const [box, W] = useWidth();
  const rows = data.buckets.map((b) => ({
    start: b.start,
    values: SERIES.map((s) => seriesCount(b.counts, s)),
  }));
  const totals = SERIES.map((s) => seriesCount(data.totals, s));
  const grand = totals.reduce((a, b) => a + b, 0);
  const max = niceMax(Math.max(0, ...rows.map((r) => r.values.reduce((a, b) => a + b, 0))));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = plotW / Math.max(1, rows.length);
  const barW = Math.max(1, step * 0.7);
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  // A time label every 80 pixels or so, whatever the bucket count.
  const every = Math.max(1, Math.ceil(rows.length / Math.max(2, Math.floor(plotW / 80))));
  const summary =
    grand === 0
      ? `${caption}: nothing refused in this window`
      : `${caption}: ${totals
          .map((n, i) => (n > 0 ? `${n} ${SERIES[i]?.name.toLowerCase()}` : ""))
          .filter(Boolean)
          .join(", ")}`;

  return (
    <figure className="edge-chart" ref={box}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} data-testid="decisions-chart">
        <defs>
          {SERIES.map((s) => (
            <Pattern key={s.key} id={`${uid}-${s.key}`} k={s.key} />
          ))}
        </defs>
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line className="edge-grid" x1={PAD.left} x2={W - PAD.right} y1={y(max * f)} y2={y(max * f)} />
            <text className="edge-axis" x={PAD.left - 6} y={y(max * f) + 4} textAnchor="end">
              {max * f}
            </text>
          </g>
        ))}
        <text
          className="edge-axis"
          transform={`translate(12 ${PAD.top + plotH / 2}) rotate(-90)`}
          textAnchor="middle"
        >
          Requests
        </text>
        {rows.map((r, i) => {
          const x = PAD.left + i * step + (step - barW) / 2;
          let top = 0;
          return (
            <g key={r.start}>
              {SERIES.map((s, j) => {
                const v = r.values[j] ?? 0;
                if (v === 0) return null;
                const rect = (
                  <rect
                    key={s.key}
                    data-series={s.key}
                    data-count={v}
                    x={x}
                    y={y(top + v)}
                    width={barW}
                    height={y(top) - y(top + v)}
                    fill={`url(#${uid}-${s.key})`}
                    className="edge-bar"
                  >
                    <title>{`${s.name}: ${v} (${bucketLabel(r.start, data.bucketSeconds)})`}</title>
                  </rect>
                );
                top += v;
                return rect;
              })}
              {i % every === 0 && (
                <text className="edge-axis" x={x + barW / 2} y={H - PAD.bottom + 14} textAnchor="middle">
                  {bucketLabel(r.start, data.bucketSeconds)}
                </text>
              )}
            </g>
          );
        })}
        <line
          className="edge-axis-line"
          x1={PAD.left}
          x2={W - PAD.right}
          y1={PAD.top + plotH}
          y2={PAD.top + plotH}
        />
        <text className="edge-axis" x={PAD.left + plotW / 2} y={H - 6} textAnchor="middle">
          Time (each bar:{" "}
          {data.bucketSeconds >= 3600 ? `${data.bucketSeconds / 3600} h` : `${data.bucketSeconds / 60} min`}{" "}
          from its label)
        </text>
      </svg>
      <figcaption>
        <ul className="edge-legend" aria-label="Legend">
          {SERIES.map((s, i) => (
            <li key={s.key}>
              <svg width="14" height="14" aria-hidden="true">
                <rect width="14" height="14" fill={`url(#${uid}-${s.key})`} className="edge-bar" />
              </svg>
              {s.name} <span className="muted">({totals[i]})</span>
            </li>
          ))}
        </ul>
        {data.truncated && (
          <p className="muted small">Only the newest 20,000 decision records were counted in this window.</p>
        )}
      </figcaption>
      <details className="edge-table">
        <summary>Show the numbers as a table</summary>
        <div className="table-wrap">
          <table>
            <caption className="sr-only">{caption}, per time bucket</caption>
            <thead>
              <tr>
                <th scope="col">From</th>
                {SERIES.map((s) => (
                  <th key={s.key} scope="col" className="num">
                    {s.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.start}>
                  <th scope="row">{bucketLabel(r.start, data.bucketSeconds)}</th>
                  {r.values.map((v, i) => (
                    <td key={SERIES[i]?.key} className="num">
                      {v}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
