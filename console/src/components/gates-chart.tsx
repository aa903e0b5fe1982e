// Open findings per severity as small SVG columns, each with its count written above it and its
// overdue share drawn darker and said in words, so neither colour nor the chart is the only signal.

export interface SeverityCount {
  severity: string;
  total: number;
  overdue: number;
}

const HEIGHT = 80;

export function SeverityChart({ counts, caption }: { counts: SeverityCount[]; caption: string }) {
  const max = Math.max(1, ...counts.map((c) => c.total));
  const width = counts.length * 56;
  return (
    <figure className="sev-chart">
      <svg
        viewBox={`0 0 ${width} ${HEIGHT + 34}`}
        role="img"
        aria-label={`${caption}: ${counts
          .map((c) => `${c.total} ${c.severity}${c.overdue ? ` (${c.overdue} overdue)` : ""}`)
          .join(", ")}`}
      >
        {counts.map((c, i) => {
          const h = (c.total / max) * HEIGHT;
          const od = (c.overdue / max) * HEIGHT;
          const x = i * 56 + 12;
          return (
            <g key={c.severity}>
              <rect className={`sev-col sev-${c.severity}`} x={x} y={14 + HEIGHT - h} width="32" height={h} />
              {od > 0 && <rect className="sev-overdue" x={x} y={14 + HEIGHT - od} width="32" height={od} />}
              <text className="sev-count" x={x + 16} y={10 + HEIGHT - h} textAnchor="middle">
                {c.total}
              </text>
              <text className="sev-label" x={x + 16} y={HEIGHT + 30} textAnchor="middle">
                {c.severity}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="muted small">{caption}; the darker part is overdue.</figcaption>
    </figure>
  );
}
