// Globs over separated names (`/admin/**` over paths, `gateway:*:read` over RBAC actions): `*` in a
// segment matches any run of characters within that segment, a `**` segment any number of segments
// (none included). Matching walks segments with a greedy leftmost search and no regex, so its cost
// is linear in the input whatever the pattern: a hostile path cannot make it slow.

/** Matches the segments of a name (the name split on the glob's separator). */
export type SegmentsMatcher = (segments: readonly string[]) => boolean;

type SegmentMatcher = (segment: string) => boolean;

/** Why a glob is malformed, or undefined when it is fine. */
export function globProblem(pattern: string, separator: string): string | undefined {
  for (const s of pattern.split(separator))
    if (s.includes("**") && s !== "**") return "`**` must be a whole segment";
  return undefined;
}

function segmentMatcher(pattern: string): SegmentMatcher {
  if (pattern === "*") return () => true;
  const pieces = pattern.split("*");
  if (pieces.length === 1) return (s) => s === pattern;
  const first = pieces[0] as string;
  const last = pieces[pieces.length - 1] as string;
  const middle = pieces.slice(1, -1).filter((p) => p !== "");
  const fixed = first.length + last.length;
  return (s) => {
    if (s.length < fixed || !s.startsWith(first) || !s.endsWith(last)) return false;
    // With only `*` wildcards, taking each middle piece at its leftmost place never loses a match.
    let at = first.length;
    const end = s.length - last.length;
    for (const piece of middle) {
      const found = s.indexOf(piece, at);
      if (found === -1 || found + piece.length > end) return false;
      at = found + piece.length;
    }
    return true;
  };
}

/** Compiles a glob (already validated by `globProblem`) split on `separator`. */
export function compileGlob(pattern: string, separator: string): SegmentsMatcher {
  // Runs of fixed-length segment patterns, separated by `**`.
  const groups: SegmentMatcher[][] = [[]];
  for (const s of pattern.split(separator)) {
    if (s === "**") groups.push([]);
    else (groups[groups.length - 1] as SegmentMatcher[]).push(segmentMatcher(s));
  }
  const head = groups[0] as SegmentMatcher[];
  if (groups.length === 1)
    return (segs) => segs.length === head.length && head.every((m, i) => m(segs[i] as string));
  const tail = groups[groups.length - 1] as SegmentMatcher[];
  const middle = groups.slice(1, -1).filter((g) => g.length > 0);
  const runAt = (run: SegmentMatcher[], segs: readonly string[], at: number) => {
    for (let i = 0; i < run.length; i++)
      if (!(run[i] as SegmentMatcher)(segs[at + i] as string)) return false;
    return true;
  };
  return (segs) => {
    const end = segs.length - tail.length;
    if (end < head.length || !runAt(head, segs, 0) || !runAt(tail, segs, end)) return false;
    // Each `**` takes as little as it can: the leftmost place of the next run is never worse.
    let at = head.length;
    for (const run of middle) {
      let found = -1;
      for (let i = at; i + run.length <= end; i++)
        if (runAt(run, segs, i)) {
          found = i;
          break;
        }
      if (found === -1) return false;
      at = found + run.length;
    }
    return true;
  };
}
