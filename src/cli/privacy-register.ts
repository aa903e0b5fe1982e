// `rampart privacy processors|dpias`: the processor (vendor) and DPIA registers through the running
// control plane's API — list, show, add, import from YAML, approve DPIAs, and the findings.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { parseYamlWith } from "../config/yaml.ts";
import {
  type Dpia,
  dpiaSchema,
  type Processor,
  processorSchema,
  processorStatuses,
  type RegisterFinding,
  registerFileSchema,
  transferMechanisms,
} from "../data/privacy/register/index.ts";
import { apiFor, type Common, commonOptions, print } from "./access.ts";

const repeat = (v: string, all: string[]) => [...all, v];
const day = (iso: string | null | undefined) => (iso ? iso.slice(0, 10) : "-");
const path = (kind: "processors" | "dpias", key = "", rest = "") =>
  `/api/v1/privacy/${kind}${key ? `/${encodeURIComponent(key)}` : ""}${rest}`;

const processorLine = (p: Processor) =>
  `  ${p.key.padEnd(20)} ${p.status.padEnd(11)} DPA ${p.dpa ? day(p.dpa.signedAt) : "none      "}  review ${day(p.nextReviewAt)}  ${p.regions.join(",").padEnd(16)} ${p.name}`;

const dpiaLine = (d: Dpia) =>
  `  ${d.key.padEnd(20)} ${d.state.padEnd(10)} review ${day(d.reviewDue)}  ${d.system.padEnd(16)} ${d.title}`;

function processorDetails(p: Processor): string {
  return [
    `${p.key}  ${p.status}  ${p.name}`,
    `  service      ${p.service}`,
    `  regions      ${p.regions.join(", ")}${p.outsideHomeRegions.length ? `  (outside home: ${p.outsideHomeRegions.join(", ")})` : ""}`,
    `  transfer     ${p.transfer ? `${p.transfer.mechanism}${p.transfer.reference ? ` (${p.transfer.reference})` : ""}` : "-"}`,
    `  DPA          ${p.dpa ? `signed ${day(p.dpa.signedAt)}: ${p.dpa.reference}` : "none"}`,
    `  assessed     ${day(p.lastAssessedAt)}   next review ${day(p.nextReviewAt)}`,
    `  categories   ${p.categories.join(", ") || "-"}`,
    `  purposes     ${p.purposes.join(", ") || "-"}`,
    ...(p.owner ? [`  owner        ${p.owner}`] : []),
  ].join("\n");
}

function dpiaDetails(d: Dpia): string {
  const out = [
    `${d.key}  ${d.state}  ${d.title}`,
    `  system       ${d.system}${d.significantDataFiduciary ? "  (Significant Data Fiduciary)" : ""}`,
    `  purposes     ${d.purposes.join(", ") || "-"}`,
    `  outcome      ${d.outcome ?? "-"}`,
    `  approved     ${d.approvedAt ? `${day(d.approvedAt)} by ${d.approvedBy}` : "-"}   review due ${day(d.reviewDue)}`,
  ];
  for (const r of d.highRiskReasons) out.push(`  high risk    ${r}`);
  for (const r of d.risks) {
    out.push(
      `  risk         ${r.risk} (likelihood ${r.likelihood}, severity ${r.severity}${r.residual ? `, residual ${r.residual}` : ""})`,
    );
    for (const m of r.measures) out.push(`    measure    ${m}`);
  }
  return out.join("\n");
}

const findingLines = (fs: RegisterFinding[]) =>
  fs.length === 0
    ? "no findings"
    : fs
        .map((f) => `  ${f.severity.padEnd(6)} ${f.code.padEnd(28)} ${f.kind} ${f.key}: ${f.message}`)
        .join("\n");

/** The entries of kind `kind` in a register YAML file; a located error when the file is wrong. */
function readRegisterFile(file: string, kind: "processors" | "dpias"): Record<string, unknown>[] {
  const { data, yaml } = parseYamlWith(readFileSync(file, "utf8"), file, registerFileSchema);
  if (data[kind].length === 0) throw new Error(`${file}: no ${kind} (expected a top-level '${kind}:' list)`);
  // Send what the file says (not zod's output with defaults) so the server applies its own.
  return (yaml.data() as Record<string, Record<string, unknown>[]>)[kind] ?? [];
}

/** Registers `processors …` and `dpias …` under `rampart privacy`. */
export function registerPrivacyRegisterCommands(privacy: Command): void {
  const processors = privacy
    .command("processors")
    .description("processors (vendors) handling personal data: DPAs, regions, transfers, reviews");

  commonOptions(processors.command("list"))
    .description("every processor")
    .action(async (o: Common) => {
      const { processors: ps } = await (
        await apiFor(o)
      )<{ processors: Processor[] }>("GET", path("processors"));
      print(o, ps, ps.length === 0 ? "no processors" : ps.map(processorLine).join("\n"));
    });

  commonOptions(processors.command("show <key>"))
    .description("one processor")
    .action(async (key: string, o: Common) => {
      const p = await (await apiFor(o))<Processor>("GET", path("processors", key));
      print(o, p, processorDetails(p));
    });

  commonOptions(processors.command("add"))
    .description("add a processor (or give --file with one processor as YAML)")
    .option("--file <yaml>", "a YAML file holding one processor")
    .option("--key <key>", "its key, e.g. mailer")
    .option("--name <name>", "the vendor's name")
    .option("--service <text>", "what they do for us")
    .option("--region <region>", "where they handle data (repeatable)", repeat, [])
    .option("--category <category>", "a data category shared (repeatable)", repeat, [])
    .option("--purpose <purpose>", "a purpose key (repeatable)", repeat, [])
    .option("--dpa-signed <date>", "when the DPA was signed (YYYY-MM-DD)")
    .option("--dpa-ref <ref>", "where the signed DPA is kept")
    .option("--assessed <date>", "when the processor was last assessed")
    .option(
      "--transfer <mechanism>",
      `transfer mechanism outside home regions (${transferMechanisms.join(", ")})`,
    )
    .option("--status <status>", `one of ${processorStatuses.join(", ")}`)
    .action(
      async (
        o: Common & {
          file?: string;
          key?: string;
          name?: string;
          service?: string;
          region: string[];
          category: string[];
          purpose: string[];
          dpaSigned?: string;
          dpaRef?: string;
          assessed?: string;
          transfer?: string;
          status?: string;
        },
      ) => {
        let body: Record<string, unknown>;
        if (o.file) {
          body = parseYamlWith(readFileSync(o.file, "utf8"), o.file, processorSchema).yaml.data() as Record<
            string,
            unknown
          >;
        } else {
          if (!o.key || !o.name || !o.service || o.region.length === 0)
            throw new Error(
              "processors add: give --key, --name, --service and at least one --region (or --file)",
            );
          if ((o.dpaSigned === undefined) !== (o.dpaRef === undefined))
            throw new Error("processors add: give --dpa-signed and --dpa-ref together");
          body = {
            key: o.key,
            name: o.name,
            service: o.service,
            regions: o.region,
            categories: o.category,
            purposes: o.purpose,
            ...(o.dpaSigned ? { dpa: { signedAt: o.dpaSigned, reference: o.dpaRef } } : {}),
            ...(o.assessed ? { lastAssessedAt: o.assessed } : {}),
            ...(o.transfer ? { transfer: { mechanism: o.transfer } } : {}),
            ...(o.status ? { status: o.status } : {}),
          };
        }
        const p = await (await apiFor(o))<Processor>("POST", path("processors"), body);
        print(o, p, `added ${p.key}\n${processorLine(p)}`);
      },
    );

  commonOptions(processors.command("import <file>"))
    .description("create or replace the processors of a YAML file (a top-level 'processors:' list)")
    .action(async (file: string, o: Common) => {
      const items = readRegisterFile(file, "processors");
      const api = await apiFor(o);
      const done: Processor[] = [];
      for (const item of items)
        done.push(await api<Processor>("PUT", path("processors", String(item.key)), item));
      print(o, done, `imported ${done.length} processor(s): ${done.map((p) => p.key).join(", ")}`);
    });

  commonOptions(processors.command("remove <key>"))
    .description("remove a processor (prefer --status offboarded to keep the record)")
    .action(async (key: string, o: Common) => {
      const r = await (await apiFor(o))<{ deleted: string }>("DELETE", path("processors", key));
      print(o, r, `removed ${key}`);
    });

  commonOptions(processors.command("findings"))
    .description(
      "processors without a DPA, stale assessments, overdue reviews, transfers without a mechanism",
    )
    .action(async (o: Common) => {
      const { findings } = await (
        await apiFor(o)
      )<{ findings: RegisterFinding[] }>("GET", path("processors", "", "/findings"));
      print(o, findings, findingLines(findings));
    });

  const dpias = privacy
    .command("dpias")
    .description("data protection impact assessments (GDPR Art. 35, DPDP SDF yearly DPIA)");

  commonOptions(dpias.command("list"))
    .description("every DPIA")
    .action(async (o: Common) => {
      const { dpias: ds } = await (await apiFor(o))<{ dpias: Dpia[] }>("GET", path("dpias"));
      print(o, ds, ds.length === 0 ? "no DPIAs" : ds.map(dpiaLine).join("\n"));
    });

  commonOptions(dpias.command("show <key>"))
    .description("one DPIA with its risks and measures")
    .action(async (key: string, o: Common) => {
      const d = await (await apiFor(o))<Dpia>("GET", path("dpias", key));
      print(o, d, dpiaDetails(d));
    });

  commonOptions(dpias.command("add <file>"))
    .description("add a DPIA (as draft) from a YAML file holding one DPIA")
    .action(async (file: string, o: Common) => {
      const body = parseYamlWith(readFileSync(file, "utf8"), file, dpiaSchema).yaml.data();
      const d = await (await apiFor(o))<Dpia>("POST", path("dpias"), body);
      print(o, d, `added ${d.key} (draft)\n${dpiaLine(d)}`);
    });

  commonOptions(dpias.command("import <file>"))
    .description("create or replace the DPIAs of a YAML file (a top-level 'dpias:' list)")
    .action(async (file: string, o: Common) => {
      const items = readRegisterFile(file, "dpias");
      const api = await apiFor(o);
      const done: Dpia[] = [];
      for (const item of items) done.push(await api<Dpia>("PUT", path("dpias", String(item.key)), item));
      print(
        o,
        done,
        `imported ${done.length} DPIA(s): ${done.map((d) => `${d.key} (${d.state})`).join(", ")}`,
      );
    });

  commonOptions(dpias.command("approve <key>"))
    .description("approve a DPIA; its review falls due a year later unless --review-due says otherwise")
    .option("--outcome <outcome>", "proceed, proceed_with_measures, consult_authority or do_not_proceed")
    .option("--approved-by <who>", "who approved it (default: the caller)")
    .option("--review-due <date>", "when to review it again (YYYY-MM-DD)")
    .action(
      async (key: string, o: Common & { outcome?: string; approvedBy?: string; reviewDue?: string }) => {
        const d = await (
          await apiFor(o)
        )<Dpia>("POST", path("dpias", key, "/approve"), {
          ...(o.outcome ? { outcome: o.outcome } : {}),
          ...(o.approvedBy ? { approvedBy: o.approvedBy } : {}),
          ...(o.reviewDue ? { reviewDue: o.reviewDue } : {}),
        });
        print(o, d, `approved ${d.key} by ${d.approvedBy}; review due ${day(d.reviewDue)}`);
      },
    );

  commonOptions(dpias.command("remove <key>"))
    .description("remove a DPIA")
    .action(async (key: string, o: Common) => {
      const r = await (await apiFor(o))<{ deleted: string }>("DELETE", path("dpias", key));
      print(o, r, `removed ${key}`);
    });

  commonOptions(dpias.command("findings"))
    .description("DPIAs not approved or overdue for review")
    .action(async (o: Common) => {
      const { findings } = await (
        await apiFor(o)
      )<{ findings: RegisterFinding[] }>("GET", path("dpias", "", "/findings"));
      print(o, findings, findingLines(findings));
    });
}
