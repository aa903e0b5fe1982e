// Measures the XSS detector alone on the WAF dev set (../shared/eval/waf), through the real target
// parser and decoder (`requestTargets`, `createWaf`): detection on xss attacks (and on all attacks,
// for interest) and false positives on benign requests, per source, at paranoia levels 1 and 2.
//   npx node bench/waf/xss-dev.ts             # table (Node 24 from the project's devDependency)
//   SHOW=fp:1 npx node bench/waf/xss-dev.ts   # also list benign requests flagged at PL1 (fn:1 = missed xss)
import { asRequest, devSet, showKind, showLevel } from "./dev-set.ts";
import { xssDetector } from "../../src/network/waf/detectors/xss.ts";
import { variants } from "../../src/network/waf/decode.ts";
import { createWaf, type WafPolicy } from "../../src/network/waf/engine.ts";
import { requestTargets } from "../../src/network/waf/targets.ts";

const waf = createWaf({ detectors: [xssDetector] });
const policy = (paranoia: 1 | 2): WafPolicy => ({ mode: "detect", paranoia, threshold: 5, exclusions: [] });

const rows = new Map<string, { n: number; pl1: number; pl2: number }>();
const count = (key: string, pl1: boolean, pl2: boolean): void => {
  const row = rows.get(key) ?? { n: 0, pl1: 0, pl2: 0 };
  row.n++;
  if (pl1) row.pl1++;
  if (pl2) row.pl2++;
  rows.set(key, row);
};

const times: number[] = [];
{
  for (const r of devSet()) {
    const label = r.label;
    const req = asRequest(r);
    const t0 = performance.now();
    const v1 = waf.inspect(req, policy(1));
    times.push((performance.now() - t0) * 1000);
    const v2 = waf.inspect(req, policy(2));
    const pl1 = v1.matches.length > 0;
    const pl2 = v2.matches.length > 0;
    const group = label === "benign" ? "benign" : r.category === "xss" ? "xss" : "other-attack";
    count(`${group} ${r.source}`, pl1, pl2);
    count(`${group} (all)`, pl1, pl2);
    // CRS regression cases carry the paranoia level of the rule they test.
    if (r.source === "crs-regression" && r.meta?.paranoia_level)
      count(`${group} ${r.source} PL${r.meta.paranoia_level}`, pl1, pl2);
    const show = Number(showLevel || 1);
    const flagged = show === 1 ? pl1 : pl2;
    if (
      (showKind === "fp" && label === "benign" && flagged) ||
      (showKind === "fn" && group === "xss" && !flagged)
    ) {
      const v = show === 1 ? v1 : v2;
      const values = requestTargets(req)
        .map((t) => `${t.name}=${JSON.stringify(t.value.slice(0, 160))}`)
        .join(" ");
      console.log(
        `${showKind} ${r.id}\t${v.matches.map((m) => `${m.rule}@${m.target}`).join(",")}\t${values}`,
      );
    }
  }
}

times.sort((a, b) => a - b);
const at = (q: number): string => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
const pct = (a: number, n: number): string => `${((100 * a) / n).toFixed(2)}%`.padStart(8);
console.log(`${"group source".padEnd(36)} ${"n".padStart(6)}   PL1 flag  PL<=2 flag`);
for (const [key, row] of [...rows.entries()].sort())
  console.log(
    `${key.padEnd(36)} ${String(row.n).padStart(6)}   ${pct(row.pl1, row.n)}  ${pct(row.pl2, row.n)}`,
  );
// Includes target parsing and decoding (the engine's), first pass, no warm-up: an upper bound.
console.log(`engine (xss only), per request: median ${at(0.5)} µs, p99 ${at(0.99)} µs, max ${at(1)} µs`);

// The detector alone: every decoded form of every target, extracted beforehand, after a warm-up pass.
const forms = devSet().map((r) =>
  requestTargets(asRequest(r)).flatMap((t) => variants(t.value).map((value) => ({ name: t.name, value }))),
);
const inspectAll = (ts: { name: string; value: string }[]): void => {
  for (const t of ts) xssDetector.inspect(t);
};
forms.forEach(inspectAll);
times.length = 0;
for (const ts of forms) {
  const t0 = performance.now();
  inspectAll(ts);
  times.push((performance.now() - t0) * 1000);
}
times.sort((a, b) => a - b);
console.log(`detector alone, per request: median ${at(0.5)} µs, p99 ${at(0.99)} µs, max ${at(1)} µs`);
