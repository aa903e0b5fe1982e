// Horizontal stacked bars, one row per thing counted; the numbers are written out beside each bar so
// the chart is never the only way to read them.

export interface BarSegment {
  value: number;
  /** CSS class suffix: the colour of the segment (overdue, failing, at_risk). */
  tone: string;
  name: string;
}

export interface BarRow {
  key: string;
  label: string;
  segments: BarSegment[];
}

export function BarList({ rows, caption }: { rows: BarRow[]; caption: string }) {
  const max = Math.max(1, ...rows.map((r) => r.segments.reduce((n, s) => n + s.value, 0)));
  return (
    <ul className="bars" aria-label={caption}>
      {rows.map((row) => {
        let x = 0;
        return (
          <li key={row.key} className="bar-row">
            <span className="bar-label">{row.label}</span>
            <svg className="bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
              {row.segments.map((s) => {
                const w = (s.value / max) * 100;
                const rect = (
                  <rect key={s.tone} className={`seg-${s.tone}`} x={x} y="0" width={w} height="10" />
                );
                x += w;
                return rect;
              })}
            </svg>
            <span className="bar-values">
              {row.segments
                .filter((s) => s.value > 0)
                .map((s) => `${s.value} ${s.name}`)
                .join(", ")}
            </span>
          </li>
        );
      })}
    </ul>
  );
}
