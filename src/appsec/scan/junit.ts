// JUnit XML, which every CI shows as test results: one suite per scan kind, one test case per rule
// and place, failed when a finding stands there, skipped when an ignore or baseline covers it.
import { formatLocation } from "./output.ts";
import { type Finding, type ScanResult, scanSeverities } from "./types.ts";

// XML 1.0 forbids most control characters even escaped; a title copied from a file may hold them.
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text safe inside an XML attribute or element. */
export function xmlEscape(s: string): string {
  return s
    .replace(INVALID_XML, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

const seconds = (r: ScanResult) =>
  Math.max(0, (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000 || 0).toFixed(3);

/** The result as a JUnit XML report. */
export function toJUnit(result: ScanResult): string {
  // Findings of the same rule at the same place are one test case (a finding repeated per container).
  const cases = new Map<string, Finding[]>();
  for (const f of result.findings) {
    const key = `${f.rule}\u0000${formatLocation(f.location)}`;
    const list = cases.get(key);
    if (list) list.push(f);
    else cases.set(key, [f]);
  }
  let failures = 0;
  let skipped = 0;
  const body: string[] = [];
  for (const list of cases.values()) {
    const first = list[0] as Finding;
    const open = list
      .filter((f) => !f.suppressed)
      .sort((a, b) => scanSeverities.indexOf(b.severity) - scanSeverities.indexOf(a.severity));
    const name = `${first.rule} ${formatLocation(first.location)}`;
    const head = `    <testcase classname="rampart.${result.kind}" name="${xmlEscape(name)}" time="0">`;
    if (open.length > 0) {
      failures++;
      const worst = open[0] as Finding;
      const text = open
        .map((f) =>
          [
            `${f.severity}: ${f.title}`,
            `location: ${formatLocation(f.location)}`,
            ...(f.fix ? [`fix: ${f.fix}`] : []),
            ...(f.references?.length ? [`references: ${f.references.join(", ")}`] : []),
            `fingerprint: ${f.fingerprint}`,
          ].join("\n"),
        )
        .join("\n\n");
      body.push(
        head,
        `      <failure message="${xmlEscape(`${worst.severity}: ${worst.title}`)}" type="${worst.severity}">${xmlEscape(text)}</failure>`,
        "    </testcase>",
      );
    } else {
      skipped++;
      const s = first.suppressed;
      const why = s
        ? `suppressed by ${s.by}${s.reason ? `: ${s.reason}` : ""}${s.expires ? ` (until ${s.expires})` : ""}`
        : "";
      body.push(head, `      <skipped message="${xmlEscape(why)}"/>`, "    </testcase>");
    }
  }
  // An empty suite reads as "no tests ran" in some CIs; a clean scan is one passing case.
  if (cases.size === 0)
    body.push(`    <testcase classname="rampart.${result.kind}" name="no findings" time="0"/>`);
  const tests = Math.max(cases.size, 1);
  const suiteName = xmlEscape(`rampart scan ${result.kind}`);
  const time = seconds(result);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="rampart" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${time}">`,
    `  <testsuite name="${suiteName}" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${time}" timestamp="${xmlEscape(result.startedAt)}" hostname="${xmlEscape(result.target)}">`,
    ...body,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
