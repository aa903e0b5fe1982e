// `rampart compliance`: continuous compliance through the running control plane's API — status
// per framework, checks and their failing items, running the checks now, readiness reports
// (HTML, PDF, CSV, JSON), the OSCAL export and the auditor bundle, exceptions and evidence.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, normalize } from "node:path";
import type { Command } from "commander";
import type { CheckSummary, Evidence, Exception, ItemStanding } from "../monitoring/compliance/model.ts";
import { verifyAuditorBundle } from "../monitoring/compliance/report/bundle.ts";
import type { ComplianceStatus, CycleSummary } from "../monitoring/compliance/service.ts";
import { apiFor, type Common, commonOptions, print, serverFor } from "./access.ts";

const base = "/api/v1/compliance";
const day = (iso: string | Date | undefined) => (iso ? new Date(iso).toISOString().slice(0, 10) : "-");
const repeat = (v: string, all: string[]) => [...all, v];

/** A bar of the share compliant: [##########----------] 50%. */
export const scoreBar = (score: number, width = 20): string => {
  const n = Math.max(0, Math.min(width, Math.round(score * width)));
  return `[${"#".repeat(n)}${"-".repeat(width - n)}] ${Math.round(score * 100)}%`;
};

const bad: ItemStanding[] = ["overdue", "failing", "at_risk"];

function statusText(s: ComplianceStatus): string {
  const lines = [
    `last run ${s.lastCycleAt ? new Date(s.lastCycleAt).toISOString() : "never"}`,
    "",
    "frameworks",
  ];
  for (const f of s.frameworks)
    lines.push(
      `  ${f.id.padEnd(14)} ${scoreBar(f.summary.score)}  ${f.summary.compliant} compliant, ${f.summary.partiallyCompliant} partial, ${f.summary.nonCompliant} non-compliant, ${f.summary.notAssessed} not assessed`,
    );
  lines.push("", "checks");
  for (const c of s.checks) {
    const n = c.counts;
    const state = c.error
      ? `ERROR ${c.error}`
      : !c.lastRunAt
        ? "not run"
        : bad.some((b) => n[b] > 0)
          ? `${n.overdue} overdue, ${n.failing} failing, ${n.at_risk} at risk; ${n.passing} passing`
          : `${n.passing} passing${n.excepted ? `, ${n.excepted} excepted` : ""}${n.not_applicable ? `, ${n.not_applicable} n/a` : ""}`;
    lines.push(`  ${c.id.padEnd(34)} ${state}`);
  }
  return lines.join("\n");
}

function checkText(c: CheckSummary): string {
  const lines = [
    `${c.id}  ${c.title}`,
    `  last run ${c.lastRunAt ? new Date(c.lastRunAt).toISOString() : "never"}`,
  ];
  if (c.error) lines.push(`  ERROR ${c.error}`);
  for (const i of c.items)
    lines.push(
      `  ${i.standing.padEnd(14)} ${i.resource}  ${i.detail}${i.dueAt ? `  (due ${day(i.dueAt)})` : ""}`,
    );
  if (c.items.some((i) => bad.includes(i.standing))) lines.push(`  fix: ${c.remediation}`);
  return lines.join("\n");
}

const instant = (v: string, flag: string) => {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new Error(`${flag}: expected an ISO 8601 date or time, got '${v}'`);
  return d.toISOString();
};

const windowQuery = (o: { from?: string; to?: string }) => {
  if (!o.from !== !o.to) throw new Error("give --from and --to together");
  return o.from && o.to
    ? `from=${encodeURIComponent(instant(o.from, "--from"))}&to=${encodeURIComponent(instant(o.to, "--to"))}`
    : "";
};

/** GET returning raw bytes (reports in HTML, CSV, PDF). */
async function download(o: Common, path: string): Promise<Buffer> {
  const { url, token } = await serverFor(o);
  const res = await fetch(new URL(path, url), { headers: { authorization: `Bearer ${token}` } });
  const body = Buffer.from(await res.arrayBuffer());
  if (!res.ok) {
    const message = (() => {
      try {
        return (JSON.parse(body.toString("utf8")) as { message?: string }).message ?? "";
      } catch {
        return "";
      }
    })();
    throw new Error(`GET ${path}: ${res.status} ${message}`.trim());
  }
  return body;
}

export function registerComplianceCommands(program: Command): void {
  const compliance = program
    .command("compliance")
    .description("continuous compliance: controls mapped to frameworks, tested on live evidence");

  commonOptions(compliance.command("status"))
    .description("readiness per framework and each check's items by standing")
    .action(async (o: Common) => {
      const s = await (await apiFor(o))<ComplianceStatus>("GET", `${base}/status`);
      print(o, s, statusText(s));
    });

  commonOptions(compliance.command("run"))
    .description("run the checks now (all, or --check ID …), then sync tickets")
    .option("--check <id>", "only this check (repeatable)", repeat, [])
    .action(async (o: Common & { check: string[] }) => {
      const r = await (
        await apiFor(o)
      )<CycleSummary>("POST", `${base}/run`, o.check.length ? { checks: o.check } : {});
      const lines = r.checks.map(
        (c) =>
          `  ${c.id.padEnd(34)} ${c.error ? `ERROR ${c.error}` : `${c.pass} pass, ${c.fail} fail, ${c.notApplicable} n/a`}`,
      );
      if (r.tickets)
        lines.push(
          `tickets: ${r.tickets.opened} opened, ${r.tickets.commented} updated, ${r.tickets.closed} closed, ${r.tickets.reopened} reopened${r.tickets.errors.length ? `, ${r.tickets.errors.length} errors` : ""}`,
        );
      print(o, r, [`ran ${r.checks.length} checks`, ...lines].join("\n"));
    });

  commonOptions(compliance.command("checks"))
    .description("every check with its items, or one check")
    .argument("[id]", "a check id such as gateway.tls-min-version")
    .action(async (id: string | undefined, o: Common) => {
      const call = await apiFor(o);
      if (id) {
        const c = await call<CheckSummary>("GET", `${base}/checks/${encodeURIComponent(id)}`);
        return print(o, c, checkText(c));
      }
      const { checks } = await call<{ checks: CheckSummary[] }>("GET", `${base}/checks`);
      print(o, { checks }, checks.map(checkText).join("\n\n"));
    });

  commonOptions(compliance.command("report"))
    .description("a framework's readiness report: HTML, PDF (through Chromium), CSV or JSON")
    .requiredOption(
      "--framework <id>",
      "dpdp, gdpr, iso27001, iso27017, iso27018, soc2, nist-csf-2.0, cis-k8s",
    )
    .option("--format <format>", "html, pdf, csv or json", "html")
    .option("--out <file>", "write here (default: stdout for text formats)")
    .option("--from <time>", "audit window start (ISO 8601)")
    .option("--to <time>", "audit window end (ISO 8601)")
    .action(
      async (o: Common & { framework: string; format: string; out?: string; from?: string; to?: string }) => {
        if (!["html", "pdf", "csv", "json"].includes(o.format))
          throw new Error(`--format: expected html, pdf, csv or json; got '${o.format}'`);
        if (o.format === "pdf" && !o.out) throw new Error("--format pdf needs --out FILE");
        const q = [`format=${o.format}`, windowQuery(o)].filter(Boolean).join("&");
        const body = await download(o, `${base}/frameworks/${encodeURIComponent(o.framework)}/report?${q}`);
        if (!o.out) return void process.stdout.write(body);
        writeFileSync(o.out, body);
        console.log(`wrote ${o.framework} ${o.format} report to ${o.out} (${body.length} bytes)`);
      },
    );

  const exp = compliance.command("export").description("machine-readable exports for auditors");
  commonOptions(exp.command("oscal"))
    .description("OSCAL assessment-results JSON")
    .requiredOption("--out <file>", "output file")
    .option("--frameworks <ids>", "comma-separated (default: compliance.frameworks)")
    .option("--from <time>", "audit window start")
    .option("--to <time>", "audit window end")
    .action(async (o: Common & { out: string; frameworks?: string; from?: string; to?: string }) => {
      const q = [o.frameworks ? `frameworks=${encodeURIComponent(o.frameworks)}` : "", windowQuery(o)]
        .filter(Boolean)
        .join("&");
      const doc = await (await apiFor(o))<object>("GET", `${base}/oscal${q ? `?${q}` : ""}`);
      writeFileSync(o.out, `${JSON.stringify(doc, null, 2)}\n`);
      console.log(`wrote OSCAL assessment-results to ${o.out}`);
    });
  commonOptions(exp.command("bundle"))
    .description(
      "the auditor bundle for an audit window: reports, OSCAL, evidence, audit log, signed manifest",
    )
    .requiredOption("--out <dir>", "output directory (created)")
    .requiredOption("--from <time>", "window start (ISO 8601)")
    .requiredOption("--to <time>", "window end (ISO 8601)")
    .option("--frameworks <ids>", "comma-separated (default: compliance.frameworks)")
    .action(async (o: Common & { out: string; from: string; to: string; frameworks?: string }) => {
      const q = [windowQuery(o), o.frameworks ? `frameworks=${encodeURIComponent(o.frameworks)}` : ""]
        .filter(Boolean)
        .join("&");
      const r = await (
        await apiFor(o)
      )<{ files: Record<string, string>; verifierKey: string }>("GET", `${base}/bundle?${q}`);
      for (const [name, b64] of Object.entries(r.files)) {
        const rel = normalize(name);
        if (rel.startsWith("..") || rel.startsWith("/")) throw new Error(`refusing bundle path ${name}`);
        mkdirSync(dirname(join(o.out, rel)), { recursive: true });
        writeFileSync(join(o.out, rel), Buffer.from(b64, "base64"));
      }
      const check = verifyAuditorBundle(o.out, r.verifierKey);
      if (!check.ok)
        throw new Error(`the bundle written to ${o.out} does not verify: ${check.problems.join("; ")}`);
      print(
        o,
        { dir: o.out, files: Object.keys(r.files).length, verifierKey: r.verifierKey },
        `wrote ${Object.keys(r.files).length} files to ${o.out}; verified\n  an auditor checks it offline: rampart compliance verify-bundle ${o.out} --key '${r.verifierKey}'`,
      );
    });

  compliance
    .command("verify-bundle")
    .description(
      "check an auditor bundle offline: every file's SHA-256, the manifest's signature, the audit log",
    )
    .argument("<dir>", "the bundle directory")
    .option("--key <key>", "the verifier key you expect (pins it)")
    .option("--json", "machine-readable output")
    .action((dir: string, o: { key?: string; json?: boolean }) => {
      const r = verifyAuditorBundle(dir, o.key);
      print(
        o,
        r,
        r.ok
          ? `bundle ${basename(dir)} verifies`
          : `bundle ${basename(dir)} does NOT verify:\n  ${r.problems.join("\n  ")}`,
      );
      if (!r.ok) process.exitCode = 1;
    });

  const exceptions = compliance.command("exceptions").description("accepted risks: request, approve, revoke");
  commonOptions(exceptions.command("list"))
    .description("every exception with its state and expiry")
    .action(async (o: Common) => {
      const { exceptions: list } = await (
        await apiFor(o)
      )<{ exceptions: Exception[] }>("GET", `${base}/exceptions`);
      print(
        o,
        { exceptions: list },
        list.length
          ? list
              .map(
                (e) =>
                  `  ${e.id}  ${e.state.padEnd(9)} until ${day(e.expiresAt)}  ${e.checkId} ${e.resource}  — ${e.justification}`,
              )
              .join("\n")
          : "no exceptions",
      );
    });
  commonOptions(exceptions.command("request"))
    .description("ask to accept a failing item's risk until a date; someone else approves")
    .requiredOption("--check <id>", "the check")
    .requiredOption("--resource <resource>", "the item ('*' for every item of the check)")
    .requiredOption("--justification <text>", "why the risk is accepted")
    .requiredOption("--until <time>", "when the exception ends (at most a year)")
    .action(async (o: Common & { check: string; resource: string; justification: string; until: string }) => {
      const e = await (
        await apiFor(o)
      )<Exception>("POST", `${base}/exceptions`, {
        checkId: o.check,
        resource: o.resource,
        justification: o.justification,
        expiresAt: instant(o.until, "--until"),
      });
      print(o, e, `requested exception ${e.id}; it needs approval by someone else`);
    });
  for (const decision of ["approve", "reject", "revoke"] as const)
    commonOptions(exceptions.command(decision))
      .description(`${decision} an exception`)
      .argument("<id>", "the exception id")
      .action(async (id: string, o: Common) => {
        const e = await (
          await apiFor(o)
        )<Exception>("POST", `${base}/exceptions/${encodeURIComponent(id)}/${decision}`);
        print(o, e, `exception ${e.id} is ${e.state}`);
      });

  const evidence = compliance.command("evidence").description("evidence: snapshots and what people add");
  commonOptions(evidence.command("list"))
    .description("evidence, newest first (each check's latest snapshot, and manual evidence)")
    .option("--control <id>", "only for this control")
    .action(async (o: Common & { control?: string }) => {
      const q = o.control ? `?control=${encodeURIComponent(o.control)}` : "";
      const { evidence: list } = await (
        await apiFor(o)
      )<{ evidence: Evidence[] }>("GET", `${base}/evidence${q}`);
      print(
        o,
        { evidence: list },
        list
          .map(
            (e) =>
              `  ${e.id}  ${e.kind.padEnd(11)} ${e.state.padEnd(9)} ${day(e.collectedAt)}..${day(e.validUntil)}  ${e.sha256.slice(0, 12)}  ${e.title}`,
          )
          .join("\n") || "no evidence",
      );
    });
  commonOptions(evidence.command("add"))
    .description("add a file, link or attestation for controls; it waits for review")
    .requiredOption("--control <id>", "a control it evidences (repeatable)", repeat, [])
    .requiredOption("--title <text>", "what it is")
    .option("--file <path>", "a file (its bytes are stored and hashed)")
    .option("--link <url>", "a link")
    .option("--attest <statement>", "an attestation in words")
    .option("--valid-until <time>", "when it must be renewed (default: a year)")
    .action(
      async (
        o: Common & {
          control: string[];
          title: string;
          file?: string;
          link?: string;
          attest?: string;
          validUntil?: string;
        },
      ) => {
        const given = [o.file, o.link, o.attest].filter((x) => x !== undefined).length;
        if (given !== 1) throw new Error("give exactly one of --file, --link, --attest");
        const body = {
          title: o.title,
          controls: o.control,
          ...(o.file
            ? { kind: "file", ref: basename(o.file), contentBase64: readFileSync(o.file).toString("base64") }
            : o.link
              ? { kind: "link", ref: o.link }
              : { kind: "attestation", ref: o.title, statement: o.attest }),
          ...(o.validUntil ? { validUntil: instant(o.validUntil, "--valid-until") } : {}),
        };
        const e = await (await apiFor(o))<Evidence>("POST", `${base}/evidence`, body);
        print(o, e, `added evidence ${e.id} (sha256 ${e.sha256.slice(0, 16)}…); it waits for review`);
      },
    );
  commonOptions(evidence.command("review"))
    .description("approve or reject evidence (not your own)")
    .argument("<id>", "the evidence id")
    .requiredOption("--state <state>", "approved or rejected")
    .option("--note <text>", "why")
    .action(async (id: string, o: Common & { state: string; note?: string }) => {
      if (o.state !== "approved" && o.state !== "rejected") throw new Error("--state: approved or rejected");
      const e = await (
        await apiFor(o)
      )<Evidence>("POST", `${base}/evidence/${encodeURIComponent(id)}/review`, {
        state: o.state,
        ...(o.note ? { note: o.note } : {}),
      });
      print(o, e, `evidence ${e.id} is ${e.state}`);
    });
}
