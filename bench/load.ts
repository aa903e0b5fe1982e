// What the benchmarks share for driving servers on loopback: wrk runs and a wait until a server
// answers.
import { execFileSync } from "node:child_process";

export interface Load {
  rps: number;
  p50ms: number;
  p99ms: number;
}

// wrk prints latency percentiles as e.g. "50%  512.00us" / "99%    2.10ms".
function millis(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

/** wrk, one thread, against `url` (with a Lua `script` if given); any non-2xx answer is an error. */
export function wrk(url: string, o: { seconds: number; connections: number; script?: string }): Load {
  const args = ["-t1", `-c${o.connections}`, `-d${o.seconds}s`, "--latency"];
  if (o.script) args.push("-s", o.script);
  const out = execFileSync("wrk", [...args, url], { encoding: "utf8" });
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  if (errors) throw new Error(`${url}: ${errors} non-2xx responses under load`);
  const pct = (p: string) => millis(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(out)?.[1] ?? "");
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]), p50ms: pct("50"), p99ms: pct("99") };
}

/** Resolves once `url` answers (with a 2xx unless `anyStatus`), or throws after 15 s. */
export async function waitUp(url: string, o: { anyStatus?: boolean } = {}): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (
      await fetch(url)
        .then((r) => o.anyStatus === true || r.ok)
        .catch(() => false)
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}
