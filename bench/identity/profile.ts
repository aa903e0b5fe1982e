// Reads V8 CPU profiles (node --cpu-prof) and says where one process spends more CPU per request
// than another, so the benchmark can point at the code behind a cost without opening DevTools.
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  /** µs since the previous sample. */
  timeDeltas: number[];
}

export interface ProfiledRun {
  /** A .cpuprofile file. */
  file: string;
  /** Requests the process served while it was profiled. */
  requests: number;
}

export interface ExtraCpu {
  /** `name (file:line)`, or a file, its path shortened to what follows node_modules/, src/ or bench/. */
  where: string;
  /** CPU µs per request more than the anchor spent there (negative: less). */
  us: number;
}

const shorten = (url: string) =>
  url.replace(/^file:\/\//, "").replace(/^.*?\/(node_modules|src|bench)\//, "$1/") || "(native)";

/** CPU µs spent in each function (or file) itself; idle time left out. */
function selfTimes(file: string, by: "function" | "file"): Map<string, number> {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const where = new Map<number, string>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const name = f.functionName || "(anonymous)";
    const at = by === "file" ? shorten(f.url) : `${name} (${shorten(f.url)}:${f.lineNumber + 1})`;
    where.set(n.id, f.url ? at : name);
  }
  const times = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const w = where.get(id) ?? "(unknown)";
    if (w !== "(idle)") times.set(w, (times.get(w) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return times;
}

/** CPU µs per request of a profiled run, idle left out. */
export function busyPerRequest(run: ProfiledRun): number {
  let total = 0;
  for (const us of selfTimes(run.file, "file").values()) total += us;
  return total / run.requests;
}

/** The functions (or files) where `run` spends the most CPU per request beyond `anchor`. */
export function extraCpu(
  run: ProfiledRun,
  anchor: ProfiledRun,
  o: { top?: number; by?: "function" | "file" } = {},
): ExtraCpu[] {
  const by = o.by ?? "function";
  const extra = new Map<string, number>();
  for (const [w, us] of selfTimes(run.file, by)) extra.set(w, us / run.requests);
  for (const [w, us] of selfTimes(anchor.file, by)) extra.set(w, (extra.get(w) ?? 0) - us / anchor.requests);
  return [...extra]
    .sort((a, b) => b[1] - a[1])
    .slice(0, o.top ?? 15)
    .map(([where, us]) => ({ where, us }));
}
