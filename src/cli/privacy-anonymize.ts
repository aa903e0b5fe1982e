// `rampart privacy anonymize`: an anonymised copy of a SQL database for development, testing or
// analytics. Every field the data map tags as personal is masked with a secret made for this copy
// alone (never stored), so the copy cannot be linked back; references still join.
import type { Command } from "commander";
import { ConfigError, formatConfigIssue } from "../config/errors.ts";
import {
  type AnonymizeSummary,
  anonymizeDatabase,
  type UnmappedPolicy,
  unmappedPolicies,
} from "../data/privacy/anonymize/index.ts";
import { loadDataMap } from "../data/privacy/map/load.ts";
import { progressBar } from "./progress.ts";

const repeat = (v: string, all: string[]) => [...all, v];

/** `env:NAME` reads the URL from the environment, so a password need not sit in the process list. */
function databaseUrl(value: string, flag: string): string {
  if (!value.startsWith("env:")) return value;
  const url = process.env[value.slice(4)];
  if (!url) throw new Error(`${flag}: environment variable ${value.slice(4)} is not set`);
  return url;
}

function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a positive integer; got '${v}'`);
    return n;
  };
}

function report(s: AnonymizeSummary): string {
  const width = Math.max(5, ...s.tables.map((t) => t.table.length));
  const out = [
    `anonymised copy of dataset ${s.dataset} (${s.dialect}): ${s.tables.length} tables, ${s.rows} rows, ${s.maskedFields} masked fields in ${s.seconds.toFixed(1)} s (${s.rowsPerSecond} rows/s)`,
    "",
    `  ${"table".padEnd(width)} ${"rows".padStart(10)}  masked`,
  ];
  for (const t of s.tables) {
    const masked = t.copiedInClear
      ? "COPIED IN CLEAR (not in the data map)"
      : t.masked.map((m) => `${m.column} (${m.strategy})`).join(", ") || "-";
    out.push(`  ${t.table.padEnd(width)} ${String(t.rows).padStart(10)}  ${masked}`);
  }
  for (const w of s.warnings) out.push(`warning: ${w}`);
  return `${out.join("\n")}\n`;
}

/** Registers `anonymize` under `rampart privacy`. */
export function registerPrivacyAnonymizeCommand(privacy: Command): void {
  privacy
    .command("anonymize")
    .description(
      "copy a PostgreSQL or MySQL/MariaDB database into another, masking every personal field of the data map",
    )
    .requiredOption(
      "--from <url>",
      "source database URL (postgres://… or mysql://…; env:NAME reads it from NAME)",
    )
    .requiredOption("--to <url>", "target database URL of the same kind (env:NAME reads it from NAME)")
    .option("--map <path>", "data map file or directory (repeatable; default ./privacy)", repeat, [])
    .option("--dataset <key>", "the data map dataset describing these tables (default: the only SQL one)")
    .option("--create-schema", "create the tables in the (empty) target; otherwise they must exist, empty")
    .option(
      "--unmapped <policy>",
      `tables and columns the map does not describe: ${unmappedPolicies.join(" | ")} (fail: refuse; copy: in clear)`,
      "fail",
    )
    .option("--batch-size <n>", "rows per read and per INSERT", positiveInt("--batch-size"), 2000)
    .option("--json", "print the summary as JSON")
    .action(
      async (o: {
        from: string;
        to: string;
        map: string[];
        dataset?: string;
        createSchema?: boolean;
        unmapped: string;
        batchSize: number;
        json?: boolean;
      }) => {
        if (!(unmappedPolicies as readonly string[]).includes(o.unmapped))
          throw new Error(`--unmapped: expected one of ${unmappedPolicies.join(", ")}; got '${o.unmapped}'`);
        let map;
        try {
          map = loadDataMap(o.map.length > 0 ? o.map : ["privacy"]);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          for (const issue of error.issues) process.stderr.write(`${formatConfigIssue(issue)}\n`);
          process.exitCode = 1;
          return;
        }
        const bar = progressBar("anonymize");
        let lastLine = 0;
        const summary = await anonymizeDatabase({
          from: databaseUrl(o.from, "--from"),
          to: databaseUrl(o.to, "--to"),
          map,
          ...(o.dataset ? { dataset: o.dataset } : {}),
          createSchema: o.createSchema ?? false,
          unmapped: o.unmapped as UnmappedPolicy,
          batchSize: o.batchSize,
          onProgress: (p) => {
            if (bar) bar.update(p.doneRows, p.totalRows);
            else if (!o.json && Date.now() - lastLine > 5_000) {
              // Not a terminal (a CI log): a line every few seconds instead of a bar.
              lastLine = Date.now();
              process.stderr.write(
                `anonymize: ${p.table} ${p.rows}/${p.tableRows}, ${p.doneRows}/${p.totalRows} rows\n`,
              );
            }
          },
        }).finally(() => bar?.done());
        process.stdout.write(o.json ? `${JSON.stringify(summary, null, 2)}\n` : report(summary));
      },
    );
}
