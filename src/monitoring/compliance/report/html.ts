// A framework's readiness as one self-contained HTML page an auditor can read on screen or print:
// inline CSS and SVG only, no script, and a CSP that forbids loading anything. Every string from
// the catalogue, checks or evidence is escaped; statuses carry words as well as colours so they
// survive black-and-white printing.
import type {
  CheckSummary,
  ControlReadiness,
  ControlStatus,
  Evidence,
  FrameworkReadiness,
  ItemResult,
  ItemStanding,
  RequirementReadiness,
  RequirementStatus,
} from "../model.ts";
import {
  controlLabels,
  countItems,
  escapeHtml as e,
  evidenceLabels,
  formatDay,
  formatTime,
  requirementLabels,
  standingLabels,
} from "./format.ts";

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

// Tone per status: good, warn, bad, muted. The pill has a border and a word, not colour alone.
const tone: Record<RequirementStatus | ControlStatus | ItemStanding, "good" | "warn" | "bad" | "muted"> = {
  compliant: "good",
  partially_compliant: "warn",
  non_compliant: "bad",
  not_assessed: "muted",
  passing: "good",
  at_risk: "warn",
  failing: "bad",
  overdue: "bad",
  excepted: "muted",
  needs_evidence: "warn",
  not_applicable: "muted",
};

const STYLE = `
:root{--ink:#1b2430;--soft:#5b6675;--line:#d9dee5;--bg:#f5f7fa;--good:#1a7f4b;--good-bg:#e6f4ec;--warn:#9a6200;--warn-bg:#fff4dc;--bad:#b42318;--bad-bg:#fdecea;--muted:#596273;--muted-bg:#eef0f3;--accent:#243b6b}
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;font:14px/1.5 "Inter","Segoe UI","Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#fff}
main{max-width:1080px;margin:0 auto;padding:32px 40px 48px}
h1,h2,h3,h4{margin:0;line-height:1.25;font-weight:650}
h1{font-size:26px}h2{font-size:18px;margin:32px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--ink)}
h3{font-size:15px}h4{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--soft);margin:14px 0 6px}
.masthead{display:flex;justify-content:space-between;align-items:flex-end;gap:24px;border-bottom:4px solid var(--accent);padding-bottom:16px}
.eyebrow{font-size:12px;text-transform:uppercase;letter-spacing:.1em;color:var(--accent);font-weight:650;margin-bottom:6px}
.meta{display:grid;grid-template-columns:auto auto;gap:2px 14px;font-size:12.5px;color:var(--soft);text-align:left}
.meta b{color:var(--ink);font-weight:600;white-space:nowrap}
.masthead>div:first-child{flex:1;min-width:0}
.summary{display:flex;gap:28px;align-items:center;margin-top:24px;padding:20px 24px;background:var(--bg);border:1px solid var(--line);border-radius:10px;break-inside:avoid}
.score{flex:none;text-align:center}
.score svg{display:block}
.score small{display:block;font-size:11.5px;color:var(--soft);margin-top:4px}
.counts{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;flex:1}
.count{background:#fff;border:1px solid var(--line);border-left:5px solid var(--muted);border-radius:8px;padding:10px 12px}
.count b{display:block;font-size:24px;line-height:1.1}
.count span{font-size:12px;color:var(--soft)}
.count.good{border-left-color:var(--good)}.count.warn{border-left-color:var(--warn)}.count.bad{border-left-color:var(--bad)}
.bar{display:flex;height:8px;border-radius:4px;overflow:hidden;margin-top:14px;background:var(--muted-bg)}
.bar i{display:block;height:100%}
.bar .good{background:var(--good)}.bar .warn{background:var(--warn)}.bar .bad{background:var(--bad)}.bar .muted{background:#b7bec8}
table{width:100%;border-collapse:collapse;font-size:13px}
th{text-align:left;font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--soft);font-weight:600;padding:6px 8px;border-bottom:1px solid var(--ink)}
td{padding:7px 8px;border-bottom:1px solid var(--line);vertical-align:top}
tr{break-inside:avoid}
td.ref{font-weight:650;white-space:nowrap;font-variant-numeric:tabular-nums}
.group td{background:var(--bg);font-weight:650;font-size:12px;color:var(--accent);text-transform:uppercase;letter-spacing:.05em}
.pill{display:inline-block;padding:1px 8px;border-radius:999px;border:1px solid;font-size:11.5px;font-weight:600;white-space:nowrap}
.pill.good{color:var(--good);background:var(--good-bg);border-color:var(--good)}
.pill.warn{color:var(--warn);background:var(--warn-bg);border-color:var(--warn)}
.pill.bad{color:var(--bad);background:var(--bad-bg);border-color:var(--bad)}
.pill.muted{color:var(--muted);background:var(--muted-bg);border-color:#9aa3b0}
.ctl{display:inline-flex;align-items:center;gap:6px;margin:1px 10px 1px 0;white-space:nowrap}
.ctl code{font-size:12px}
.rel{font-size:11px;color:var(--soft)}
code,.mono{font-family:"JetBrains Mono","SFMono-Regular",Menlo,Consolas,monospace;font-size:12px}
.control{border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin:14px 0;break-inside:avoid}
.control header{display:flex;justify-content:space-between;align-items:flex-start;gap:16px}
.control header p{margin:4px 0 0;color:var(--soft);font-size:13px}
.control .id{font-family:"JetBrains Mono",Menlo,Consolas,monospace;font-size:12px;color:var(--accent);font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums;width:64px}
.zero{color:#aab1bb}
.n-bad{color:var(--bad);font-weight:650}.n-warn{color:var(--warn);font-weight:650}
.err{color:var(--bad);font-size:12px}
.note{color:var(--soft);font-size:12.5px;margin:6px 0 0}
.due-over{color:var(--bad);font-weight:600}
footer{margin-top:36px;padding-top:12px;border-top:1px solid var(--line);font-size:11.5px;color:var(--soft)}
footer p{margin:4px 0}
section{break-inside:auto}
.page{break-before:page}
@media print{main{padding:0;max-width:none}body{font-size:12px}table{font-size:11.5px}h1{font-size:23px}.count b{font-size:20px}.count{padding:8px 10px}.summary{padding:14px 16px;gap:18px}h2{break-after:avoid}.meta{font-size:11px}}
@page{size:A4;margin:16mm 14mm}
`;

const pill = (status: RequirementStatus | ControlStatus | ItemStanding, label: string): string =>
  `<span class="pill ${tone[status]}">${e(label)}</span>`;

const n = (v: number, cls = ""): string =>
  `<td class="num${v === 0 ? " zero" : cls ? ` ${cls}` : ""}">${v}</td>`;

/** The score as a ring: the compliant share of assessed requirements (partial counts half). */
function scoreRing(score: number): string {
  const pct = Math.round(Math.max(0, Math.min(1, score)) * 100);
  const r = 44;
  const c = 2 * Math.PI * r;
  const colour = pct >= 80 ? "#1a7f4b" : pct >= 50 ? "#9a6200" : "#b42318";
  return (
    `<svg width="112" height="112" viewBox="0 0 112 112" role="img" aria-label="Readiness score ${pct}%">` +
    `<circle cx="56" cy="56" r="${r}" fill="none" stroke="#e3e7ec" stroke-width="12"/>` +
    `<circle cx="56" cy="56" r="${r}" fill="none" stroke="${colour}" stroke-width="12" stroke-linecap="round" ` +
    `stroke-dasharray="${((c * pct) / 100).toFixed(2)} ${c.toFixed(2)}" transform="rotate(-90 56 56)"/>` +
    `<text x="56" y="62" text-anchor="middle" font-size="24" font-weight="700" fill="#1b2430" font-family="Arial,sans-serif">${pct}%</text>` +
    `</svg>`
  );
}

function summary(r: FrameworkReadiness): string {
  const s = r.summary;
  const total = Math.max(1, s.requirements);
  const seg = (v: number, t: string) =>
    v > 0 ? `<i class="${t}" style="width:${((v / total) * 100).toFixed(2)}%"></i>` : "";
  const box = (v: number, label: string, t: string) =>
    `<div class="count ${t}"><b>${v}</b><span>${e(label)}</span></div>`;
  return (
    `<section class="summary"><div class="score">${scoreRing(s.score)}<small>readiness score</small></div>` +
    `<div style="flex:1"><div class="counts">` +
    box(s.compliant, requirementLabels.compliant, "good") +
    box(s.partiallyCompliant, requirementLabels.partially_compliant, "warn") +
    box(s.nonCompliant, requirementLabels.non_compliant, "bad") +
    box(s.notAssessed, requirementLabels.not_assessed, "muted") +
    `</div><div class="bar" aria-hidden="true">${seg(s.compliant, "good")}${seg(s.partiallyCompliant, "warn")}${seg(s.nonCompliant, "bad")}${seg(s.notAssessed, "muted")}</div>` +
    `<p class="note">${s.requirements} requirements; ${r.controls.length} Rampart controls mapped. The score counts assessed requirements only, a partially compliant one as half.</p>` +
    `</div></section>`
  );
}

function requirementRow(req: RequirementReadiness): string {
  const controls =
    req.controls.length === 0
      ? `<span class="rel">no control mapped</span>`
      : req.controls
          .map(
            (c) =>
              `<span class="ctl"><code>${e(c.id)}</code>${pill(c.status, controlLabels[c.status])}<span class="rel">${e(c.relationship)}</span></span>`,
          )
          .join("");
  return (
    `<tr><td class="ref">${e(req.requirement.ref)}</td><td>${e(req.requirement.title)}</td>` +
    `<td>${pill(req.status, requirementLabels[req.status])}</td><td>${controls}</td></tr>`
  );
}

function requirementsTable(r: FrameworkReadiness): string {
  let group: string | undefined;
  const rows: string[] = [];
  for (const req of r.requirements) {
    const g = req.requirement.group;
    if (g && g !== group) rows.push(`<tr class="group"><td colspan="4">${e(g)}</td></tr>`);
    group = g;
    rows.push(requirementRow(req));
  }
  return (
    `<section><h2>Requirements</h2><table><thead><tr><th style="width:76px">Ref</th><th>Requirement (Rampart's summary)</th>` +
    `<th style="width:128px">Status</th><th style="width:34%">Controls</th></tr></thead><tbody>${rows.join("")}</tbody></table></section>`
  );
}

function checksTable(checks: readonly CheckSummary[]): string {
  if (checks.length === 0)
    return `<p class="note">No automated check: this control is evidenced manually.</p>`;
  const rows = checks.map((c) => {
    const k = countItems(c.items);
    const ran = c.lastRunAt ? formatTime(c.lastRunAt) : "never run";
    return (
      `<tr><td><b>${e(c.title)}</b><br><code>${e(c.id)}</code> · <span class="rel">${e(c.source)} · ${e(ran)}</span>` +
      (c.error ? `<div class="err">Last run failed: ${e(c.error)}</div>` : "") +
      `</td>${n(k.passing)}${n(k.atRisk, "n-warn")}${n(k.failing, "n-bad")}${n(k.overdue, "n-bad")}${n(k.excepted)}</tr>`
    );
  });
  return (
    `<h4>Checks</h4><table><thead><tr><th>Check</th><th class="num">Passing</th><th class="num">At risk</th>` +
    `<th class="num">Failing</th><th class="num">Overdue</th><th class="num">Excepted</th></tr></thead><tbody>${rows.join("")}</tbody></table>`
  );
}

function itemsTable(checks: readonly CheckSummary[], now: Date): string {
  const items: { check: CheckSummary; item: ItemResult }[] = [];
  for (const check of checks)
    for (const item of check.items)
      if (item.standing !== "passing" && item.standing !== "not_applicable") items.push({ check, item });
  if (items.length === 0) return "";
  const order: ItemStanding[] = ["overdue", "failing", "at_risk", "excepted"];
  items.sort(
    (a, b) =>
      order.indexOf(a.item.standing) - order.indexOf(b.item.standing) ||
      (a.item.dueAt?.getTime() ?? Infinity) - (b.item.dueAt?.getTime() ?? Infinity) ||
      a.item.resource.localeCompare(b.item.resource),
  );
  const rows = items.map(({ check, item }) => {
    const due = item.dueAt
      ? `<span class="${item.dueAt < now ? "due-over" : ""}">${e(formatDay(item.dueAt))}</span>`
      : `<span class="rel">—</span>`;
    const extra = item.exceptionId ? `<div class="rel">exception ${e(item.exceptionId)}</div>` : "";
    return (
      `<tr><td><code>${e(item.resource)}</code><div class="rel">${e(check.id)}</div></td><td>${e(item.detail)}${extra}</td>` +
      `<td>${pill(item.standing, standingLabels[item.standing])}</td><td style="white-space:nowrap">${due}</td></tr>`
    );
  });
  return (
    `<h4>Failing and excepted items</h4><table><thead><tr><th style="width:28%">Resource</th><th>Observed</th>` +
    `<th style="width:100px">Standing</th><th style="width:96px">Due</th></tr></thead><tbody>${rows.join("")}</tbody></table>`
  );
}

function evidenceTable(evidence: readonly Evidence[]): string {
  if (evidence.length === 0) return "";
  const rows = evidence.map(
    (ev) =>
      `<tr><td>${e(ev.title)}</td><td>${e(ev.kind)}</td><td>${e(evidenceLabels[ev.state])}</td>` +
      `<td><span class="mono" title="${e(ev.sha256)}">${e(ev.sha256.slice(0, 12))}…</span></td>` +
      `<td>${e(formatDay(ev.collectedAt))}</td><td>${ev.validUntil ? e(formatDay(ev.validUntil)) : "—"}</td></tr>`,
  );
  return (
    `<h4>Evidence</h4><table><thead><tr><th>Title</th><th>Kind</th><th>State</th><th>SHA-256</th>` +
    `<th>Collected</th><th>Valid until</th></tr></thead><tbody>${rows.join("")}</tbody></table>`
  );
}

function controlSection(c: ControlReadiness, refs: string[], now: Date): string {
  return (
    `<article class="control"><header><div><span class="id">${e(c.control.id)}</span> · <span class="rel">${e(c.control.domain)}</span>` +
    `<h3>${e(c.control.title)}</h3><p>${e(c.control.description)}</p>` +
    (refs.length ? `<p class="rel">Maps to ${refs.map(e).join(", ")}</p>` : "") +
    `</div><div>${pill(c.status, controlLabels[c.status])}</div></header>` +
    checksTable(c.checks) +
    itemsTable(c.checks, now) +
    evidenceTable(c.evidence) +
    `</article>`
  );
}

/** Renders a framework's readiness as a printable, self-contained HTML page. */
export function renderReadinessHtml(r: FrameworkReadiness, o: { organisation?: string } = {}): string {
  const f = r.framework;
  const title = `${f.name} readiness`;
  const refsByControl = new Map<string, string[]>();
  for (const req of r.requirements)
    for (const c of req.controls) {
      const list = refsByControl.get(c.id) ?? [];
      list.push(req.requirement.ref);
      refsByControl.set(c.id, list);
    }
  const window = r.window
    ? `<span>Audit window</span><b>${e(formatDay(r.window.from))} – ${e(formatDay(r.window.to))}</b>`
    : `<span>Audit window</span><b>point in time</b>`;
  const licence: Record<typeof f.licence, string> = {
    "ids-and-own-words": "Identifiers only; requirement summaries are Rampart's own words.",
    "text-with-attribution": "Reproduced with attribution; summaries are Rampart's own words.",
    "public-domain": "Public-domain source text.",
  };
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${e(title)}${o.organisation ? ` · ${e(o.organisation)}` : ""}</title><style>${STYLE}</style></head><body><main>` +
    `<header class="masthead"><div><div class="eyebrow">${o.organisation ? `${e(o.organisation)} · ` : ""}Compliance readiness report</div>` +
    `<h1>${e(f.name)}</h1><div class="rel">${e(f.publisher)} · version ${e(f.version)}</div></div>` +
    `<div class="meta"><span>Framework</span><b>${e(f.id)}</b><span>Version</span><b>${e(f.version)}</b><span>Generated</span><b>${e(formatTime(r.generatedAt))}</b>${window}</div></header>` +
    summary(r) +
    requirementsTable(r) +
    `<section class="page"><h2>Controls</h2>` +
    r.controls.map((c) => controlSection(c, refsByControl.get(c.control.id) ?? [], r.generatedAt)).join("") +
    `</section>` +
    `<footer><p><b>Source.</b> ${e(f.attribution)} ${licence[f.licence] ? e(licence[f.licence]) : ""} <span class="mono">${e(f.sourceUrl)}</span></p>` +
    `<p>Generated by Rampart from live checks and collected evidence on ${e(formatTime(r.generatedAt))}. Statuses are Rampart's assessment, not a certification.</p></footer>` +
    `</main></body></html>`
  );
}
