// Measures the path traversal / LFI and command injection detectors through the WAF engine on the
// dev set (../shared/eval/waf): detection on lfi and rce/shellshock attacks (and on all attacks, for
// interest) and false positives on benign requests, per source, at paranoia levels 1 and 2. A request
// counts as flagged when the engine in block mode (threshold 5) refuses it.
//   npx node bench/waf/lfi-rce-dev.ts              # table
//   SHOW=fp:1 npx node bench/waf/lfi-rce-dev.ts    # also list benign requests blocked at PL1 (fn:1 = missed attacks)
import { asRequest, createTally, devSet, quantile, type Sample, showKind, showLevel } from "./dev-set.ts";
import { variants } from "../../src/network/waf/decode.ts";
import { cmdiDetector } from "../../src/network/waf/detectors/cmdi.ts";
import { traversalDetector } from "../../src/network/waf/detectors/traversal.ts";
import { createWaf, type WafPolicy } from "../../src/network/waf/engine.ts";
import { requestTargets } from "../../src/network/waf/targets.ts";
import type { ParanoiaLevel } from "../../src/network/waf/types.ts";

const detectors = [traversalDetector, cmdiDetector];
const waf = createWaf({ detectors });
const policy = (paranoia: ParanoiaLevel): WafPolicy => ({
  mode: "block",
  paranoia,
  threshold: 5,
  exclusions: [],
});
const PL1 = policy(1);
const PL2 = policy(2);

const groupOf = (r: Sample): string =>
  r.label === "benign"
    ? "benign"
    : r.category === "lfi"
      ? "lfi"
      : r.category === "rce" || r.category === "shellshock"
        ? "rce"
        : "other-attack";

const tally = createTally();
const ruleHits = new Map<string, number>();

const samples = devSet();
const started = performance.now();
for (const r of samples) {
  const req = asRequest(r);
  const v1 = waf.inspect(req, PL1);
  const v2 = waf.inspect(req, PL2);
  const group = groupOf(r);
  tally.count(group, r, v1.blocked, v2.blocked);
  if (r.label === "benign") for (const m of v2.matches) ruleHits.set(m.rule, (ruleHits.get(m.rule) ?? 0) + 1);
  const show = showLevel === "2" ? v2 : v1;
  const wanted =
    (showKind === "fp" && r.label === "benign" && show.blocked) ||
    (showKind === "fn" && (group === "lfi" || group === "rce") && !show.blocked);
  if (wanted) {
    const hits: string[] = [];
    for (const t of requestTargets(req))
      for (const v of variants(t.value))
        for (const d of detectors.flatMap((x) => x.inspect({ name: t.name, value: v })))
          hits.push(`${d.rule}@PL${d.paranoia} ${t.name}=${JSON.stringify(v.slice(0, 160))}`);
    console.log(
      `${showKind} ${r.id} ${JSON.stringify(r.uri.slice(0, 160))} ${JSON.stringify((r.body ?? "").slice(0, 160))}`,
    );
    for (const h of [...new Set(hits)].slice(0, 4)) console.log(`    ${h}`);
  }
}
const ms = performance.now() - started;

// Inspection time per request at PL2, after one warm-up pass.
const reqs = samples.map(asRequest);
for (const q of reqs) waf.inspect(q, PL2);
const times = reqs.map((q) => {
  const t0 = performance.now();
  waf.inspect(q, PL2);
  return (performance.now() - t0) * 1000;
});
times.sort((a, b) => a - b);
const at = (q: number): string => quantile(times, q);

tally.print("PL1 block  PL2 block");
console.log(`benign requests matching each rule (PL<=2): ${JSON.stringify(Object.fromEntries(ruleHits))}`);
console.log(`${samples.length} requests, two policies each, in ${ms.toFixed(0)} ms`);
console.log(
  `engine inspection per request (both detectors, PL2): median ${at(0.5)} µs, p99 ${at(0.99)} µs, max ${at(1)} µs`,
);
