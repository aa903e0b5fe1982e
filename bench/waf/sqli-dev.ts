// Measures the SQL injection detector alone on the WAF dev set (../shared/eval/waf): detection on
// sqli attacks (and on all attacks, for interest) and false positives on benign requests, per source,
// at paranoia levels 1 and 2. Values are pulled out crudely here; the real normaliser lives elsewhere.
// "PL1 flag" is the share flagged by PL1 rules: detection (TPR) on attack rows, false positives on benign rows.
//   npx node bench/waf/sqli-dev.ts             # table (Node 24 from the project's devDependency)
//   SHOW=fp:1 npx node bench/waf/sqli-dev.ts   # also list benign requests flagged at PL1 (fn:1 = missed sqli)
import { createTally, devSet, quantile, type Sample, showKind, showLevel } from "./dev-set.ts";
import { sqliDetector } from "../../src/network/waf/detectors/sqli.ts";
import type { Target } from "../../src/network/waf/types.ts";

function decode(s: string): string {
  let v = s.replace(/\+/g, " ");
  for (let pass = 0; pass < 2 && /%[0-9a-fA-F]{2}/.test(v); pass++) {
    try {
      v = decodeURIComponent(v);
    } catch {
      v = v.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    }
  }
  return v;
}

function formValues(s: string, name: string, out: Target[]): void {
  for (const pair of s.split("&")) {
    const eq = pair.indexOf("=");
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    out.push({ name: `${name}_NAMES`, value: key });
    if (eq >= 0) out.push({ name: `${name}:${key}`, value: decode(pair.slice(eq + 1)) });
  }
}

function jsonValues(v: unknown, path: string, out: Target[]): void {
  if (typeof v === "string") out.push({ name: `ARGS_JSON:${path}`, value: decode(v) });
  else if (typeof v === "number" || typeof v === "boolean")
    out.push({ name: `ARGS_JSON:${path}`, value: String(v) });
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      out.push({ name: "ARGS_JSON_NAMES", value: k });
      jsonValues(x, path ? `${path}.${k}` : k, out);
    }
  }
}

const SKIPPED_HEADERS = new Set([
  "host",
  "content-type",
  "content-length",
  "accept",
  "connection",
  "accept-encoding",
]);

function targets(r: Sample): Target[] {
  const out: Target[] = [];
  const q = r.uri.indexOf("?");
  const path = q < 0 ? r.uri : r.uri.slice(0, q);
  for (const seg of path.split("/")) if (seg) out.push({ name: "REQUEST_FILENAME", value: decode(seg) });
  if (q >= 0) formValues(r.uri.slice(q + 1), "ARGS", out);
  for (const [k, v] of Object.entries(r.headers)) {
    if (SKIPPED_HEADERS.has(k.toLowerCase())) continue;
    if (k.toLowerCase() === "cookie") formValues(v.replace(/;\s*/g, "&"), "REQUEST_COOKIES", out);
    else out.push({ name: `REQUEST_HEADERS:${k}`, value: decode(v) });
  }
  const body = r.body ?? "";
  if (body) {
    const ct = (
      Object.entries(r.headers).find(([k]) => k.toLowerCase() === "content-type")?.[1] ?? ""
    ).toLowerCase();
    if (ct.includes("json") || /^\s*[[{]/.test(body)) {
      try {
        jsonValues(JSON.parse(body), "", out);
      } catch {
        out.push({ name: "REQUEST_BODY", value: body });
      }
    } else if (ct.includes("multipart")) {
      for (const part of body.split(/\r?\n--/)) {
        const blank = part.search(/\r?\n\r?\n/);
        if (blank >= 0) out.push({ name: "ARGS_MULTIPART", value: decode(part.slice(blank).trim()) });
      }
    } else if (ct.includes("xml")) {
      out.push({ name: "REQUEST_BODY", value: body });
    } else {
      formValues(body, "ARGS_POST", out);
    }
  }
  return out;
}

/** The highest-priority (lowest) paranoia level at which the request is flagged, or 0. */
function flaggedAt(r: Sample): number {
  let level = 0;
  for (const t of targets(r)) {
    for (const d of sqliDetector.inspect(t)) if (level === 0 || d.paranoia < level) level = d.paranoia;
  }
  return level;
}

const tally = createTally();

let inspected = 0;
const started = performance.now();
{
  for (const r of devSet()) {
    const label = r.label;
    const level = flaggedAt(r);
    inspected++;
    const group = label === "benign" ? "benign" : r.category === "sqli" ? "sqli" : "other-attack";
    tally.count(group, r, level === 1, level >= 1 && level <= 2);
    const show = Number(showLevel || 1);
    const wanted =
      (showKind === "fp" && label === "benign" && level >= 1 && level <= show) ||
      (showKind === "fn" && group === "sqli" && (level === 0 || level > show));
    if (wanted) {
      const hits = targets(r).flatMap((t) =>
        sqliDetector
          .inspect(t)
          .map((d) => `${d.rule}@PL${d.paranoia} in ${JSON.stringify(t.value.slice(0, 200))}`),
      );
      console.log(
        `${showKind} ${r.id}\t${
          hits.join(" ; ") ||
          targets(r)
            .map((t) => t.value.slice(0, 200))
            .join(" | ")
        }`,
      );
    }
  }
}
const ms = performance.now() - started;

// Inspection time alone, per request (values extracted beforehand), after one warm-up pass.
const all = devSet().map(targets);
const inspectAll = (ts: Target[]): void => {
  for (const t of ts) sqliDetector.inspect(t);
};
all.forEach(inspectAll);
const times = all.map((ts) => {
  const t0 = performance.now();
  inspectAll(ts);
  return (performance.now() - t0) * 1000;
});
times.sort((a, b) => a - b);
const at = (q: number): string => quantile(times, q);

tally.print("PL1 flag  PL<=2 flag");
console.log(
  `${inspected} requests in ${ms.toFixed(0)} ms (${((1000 * ms) / inspected).toFixed(1)} µs/request incl. extraction)`,
);
console.log(`inspection per request: median ${at(0.5)} µs, p99 ${at(0.99)} µs, max ${at(1)} µs`);
