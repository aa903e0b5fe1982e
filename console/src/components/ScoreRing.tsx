// A readiness score as a ring: the filled arc is the share of assessed requirements that are compliant.

const R = 40;
const C = 2 * Math.PI * R;

function tone(score: number): "good" | "warn" | "bad" {
  return score >= 0.8 ? "good" : score >= 0.5 ? "warn" : "bad";
}

/** `score` is 0..1; `label` names what is scored for screen readers. */
export function ScoreRing({ score, label, size = 96 }: { score: number; label: string; size?: number }) {
  const pct = Math.round(score * 100);
  return (
    <svg
      className={`ring ring-${tone(score)}`}
      width={size}
      height={size}
      viewBox="0 0 100 100"
      role="img"
      aria-label={`${label}: ${pct}% ready`}
    >
      <circle className="ring-track" cx="50" cy="50" r={R} />
      <circle
        className="ring-fill"
        cx="50"
        cy="50"
        r={R}
        strokeDasharray={`${(C * pct) / 100} ${C}`}
        transform="rotate(-90 50 50)"
      />
      <text x="50" y="50" dominantBaseline="central" textAnchor="middle" className="ring-text">
        {pct}%
      </text>
    </svg>
  );
}
