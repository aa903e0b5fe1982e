// Role-set cover: the predefined roles that together grant every used permission with the fewest
// permissions beyond it. Weighted set cover is NP-hard; greedy by (newly covered)/(1 + excess)
// followed by a pruning pass is the usual ln(n)-approximation and does well on GCP's catalogue.
import type { RoleDefinition } from "./catalogue.ts";

/** Result of covering a set of used permissions with roles. */
export interface RoleCover {
  roles: string[];
  /** Used permissions no candidate grants. */
  uncovered: string[];
  /** Permissions the chosen roles grant beyond the used ones. */
  excess: number;
}

function excessOf(chosen: readonly RoleDefinition[], used: ReadonlySet<string>): number {
  const granted = new Set<string>();
  for (const r of chosen) for (const p of r.permissions) if (!used.has(p)) granted.add(p);
  return granted.size;
}

function finish(
  chosen: RoleDefinition[],
  used: ReadonlySet<string>,
  covered: ReadonlySet<string>,
): RoleCover {
  return {
    roles: chosen.map((r) => r.name).sort(),
    uncovered: [...used].filter((p) => !covered.has(p)).sort(),
    excess: excessOf(chosen, used),
  };
}

function relevant(candidates: Iterable<RoleDefinition>, used: ReadonlySet<string>): RoleDefinition[] {
  const out: RoleDefinition[] = [];
  for (const r of candidates) {
    for (const p of used)
      if (r.permissions.has(p)) {
        out.push(r);
        break;
      }
  }
  // Deterministic order whatever order the candidates came in.
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Weighted greedy cover with a final pruning pass (drops roles the others make redundant). */
export function weightedCover(used: ReadonlySet<string>, candidates: Iterable<RoleDefinition>): RoleCover {
  const pool = relevant(candidates, used);
  const covered = new Set<string>();
  const grantedExtra = new Set<string>();
  const chosen: RoleDefinition[] = [];
  for (;;) {
    let best: RoleDefinition | undefined;
    let bestGain = 0;
    let bestExtra = 0;
    for (const r of pool) {
      let gain = 0;
      let extra = 0;
      for (const p of r.permissions) {
        if (used.has(p)) {
          if (!covered.has(p)) gain++;
        } else if (!grantedExtra.has(p)) extra++;
      }
      if (gain === 0) continue;
      // Compare gain/(1+extra) by cross-multiplying; ties: more gain, then fewer permissions, then name (pool is sorted).
      const lhs = gain * (1 + bestExtra);
      const rhs = bestGain * (1 + extra);
      if (
        !best ||
        lhs > rhs ||
        (lhs === rhs &&
          (gain > bestGain || (gain === bestGain && r.permissions.size < best.permissions.size)))
      ) {
        best = r;
        bestGain = gain;
        bestExtra = extra;
      }
    }
    if (!best) break;
    chosen.push(best);
    for (const p of best.permissions) (used.has(p) ? covered : grantedExtra).add(p);
  }
  // Pruning: try removing the roles with the most excess first; keep a removal if coverage holds.
  const byExcess = [...chosen].sort(
    (a, b) => excessOf([b], used) - excessOf([a], used) || (a.name < b.name ? -1 : 1),
  );
  let kept = chosen;
  for (const r of byExcess) {
    const without = kept.filter((k) => k !== r);
    const still = new Set<string>();
    for (const k of without) for (const p of k.permissions) if (used.has(p)) still.add(p);
    if (still.size === covered.size) kept = without;
  }
  return finish(kept, used, covered);
}

/** Plain greedy baseline: the role covering the most still-uncovered permissions, ignoring excess. */
export function plainGreedyCover(used: ReadonlySet<string>, candidates: Iterable<RoleDefinition>): RoleCover {
  const pool = relevant(candidates, used);
  const covered = new Set<string>();
  const chosen: RoleDefinition[] = [];
  for (;;) {
    let best: RoleDefinition | undefined;
    let bestGain = 0;
    for (const r of pool) {
      let gain = 0;
      for (const p of r.permissions) if (used.has(p) && !covered.has(p)) gain++;
      if (gain > bestGain) {
        best = r;
        bestGain = gain;
      }
    }
    if (!best) break;
    chosen.push(best);
    for (const p of best.permissions) if (used.has(p)) covered.add(p);
  }
  return finish(chosen, used, covered);
}
