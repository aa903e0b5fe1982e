// The WAF development set (../shared/eval/waf, or WAF_EVAL_DIR) as the per-detector scripts read it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { InspectedRequest } from "../../src/network/waf/targets.ts";

export interface Sample {
  id: string;
  source: string;
  label: "attack" | "benign";
  category: string;
  method: string;
  uri: string;
  headers: Record<string, string>;
  body: string | null;
  meta?: { paranoia_level?: number; http_version?: string } | null;
}

const dir = process.env.WAF_EVAL_DIR ?? join(import.meta.dirname, "../../../shared/eval/waf");

/** Every attack, then every benign request. */
export function devSet(): Sample[] {
  return ["dev-attack.jsonl", "dev-benign.jsonl"].flatMap((file) =>
    readFileSync(join(dir, file), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as Sample),
  );
}

export const asRequest = (r: Sample): InspectedRequest => ({
  method: r.method,
  path: r.uri,
  headers: r.headers,
  ...(r.meta?.http_version ? { httpVersion: r.meta.http_version.replace(/^HTTP\//, "") } : {}),
  ...(r.body === null ? {} : { body: Buffer.from(r.body, "utf8") }),
});

/** SHOW=fp:1 lists benign requests flagged at PL1; SHOW=fn:2 attacks missed at PL2. */
export const [showKind, showLevel] = (process.env.SHOW ?? "").split(":");

/** Counts requests flagged at PL1 and PL<=2 per group and source (and CRS case level), and prints the table. */
export function createTally() {
  const rows = new Map<string, { n: number; pl1: number; pl2: number }>();
  const add = (key: string, pl1: boolean, pl2: boolean): void => {
    const row = rows.get(key) ?? { n: 0, pl1: 0, pl2: 0 };
    row.n++;
    if (pl1) row.pl1++;
    if (pl2) row.pl2++;
    rows.set(key, row);
  };
  const pct = (a: number, n: number): string => `${((100 * a) / n).toFixed(2)}%`.padStart(8);
  return {
    count(group: string, r: Sample, pl1: boolean, pl2: boolean): void {
      add(`${group} ${r.source}`, pl1, pl2);
      add(`${group} (all)`, pl1, pl2);
      // CRS regression cases carry the paranoia level of the rule they test.
      if (r.source === "crs-regression" && r.meta?.paranoia_level)
        add(`${group} ${r.source} PL${r.meta.paranoia_level}`, pl1, pl2);
    },
    print(columns: string): void {
      console.log(`${"group source".padEnd(36)} ${"n".padStart(6)}   ${columns}`);
      for (const [key, row] of [...rows.entries()].sort())
        console.log(
          `${key.padEnd(36)} ${String(row.n).padStart(6)}   ${pct(row.pl1, row.n)}  ${pct(row.pl2, row.n)}`,
        );
    },
  };
}

/** The value at quantile `q` of sorted `times`, as text with one decimal. */
export const quantile = (times: readonly number[], q: number): string =>
  (times[Math.min(times.length - 1, Math.floor(q * times.length))] as number).toFixed(1);
