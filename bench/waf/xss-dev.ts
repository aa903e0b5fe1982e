// Measures the XSS detector alone on the WAF dev set (../shared/eval/waf), through the real target
// parser and decoder (`requestTargets`, `createWaf`): detection on xss attacks (and on all attacks,
// for interest) and false positives on benign requests, per source, at paranoia levels 1 and 2.
//   npx node bench/waf/xss-dev.ts             # table (Node 24 from the project's devDependency)
//   SHOW=fp:1 npx node bench/waf/xss-dev.ts   # also list benign requests flagged at PL1 (fn:1 = missed xss)
import { asRequest, createTally, devSet, quantile, showKind, showLevel } from "./dev-set.ts";
import { xssDetector } from "../../src/network/waf/detectors/xss.ts";
import { variants } from "../../src/network/waf/decode.ts";
import { createWaf, type WafPolicy } from "../../src/network/waf/engine.ts";
import { requestTargets } from "../../src/network/waf/targets.ts";

const waf = createWaf({ detectors: [xssDetector] });
const policy = (paranoia: 1 | 2): WafPolicy => ({ mode: "detect", paranoia, threshold: 5, exclusions: [] });

const tally = createTally();

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
    tally.count(group, r, pl1, pl2);
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
const at = (q: number): string => quantile(times, q);
tally.print("PL1 flag  PL<=2 flag");
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
