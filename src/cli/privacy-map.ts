// `rampart privacy map|validate|ropa|bootstrap`: the data map as code, offline. Reads map files
// (Fides dataset YAML plus systems, purposes, retention), renders them, checks them (exit 1 with
// file:line:column for each problem), derives the Art. 30 records, and drafts a dataset from a
// live PostgreSQL or MySQL schema.
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { ConfigError, formatConfigIssue } from "../config/errors.ts";
import {
  bootstrapDataset,
  buildRopa,
  type DataMap,
  loadDataMap,
  renderJson,
  renderMarkdown,
  renderMermaid,
  renderRopaCsv,
  renderRopaJson,
  renderRopaMarkdown,
  type ValidateOptions,
} from "../data/privacy/map/index.ts";
import { type StoreType, storeTypes } from "../data/privacy/dsr/types.ts";

const DEFAULT_PATHS = ["privacy"];
const repeat = (v: string, all: string[]) => [...all, v];
const pathsOr = (paths: string[]) => (paths.length > 0 ? paths : DEFAULT_PATHS);

function choice<T extends string>(values: readonly T[], flag: string) {
  return (v: string): T => {
    if (!(values as readonly string[]).includes(v))
      throw new Error(`${flag}: expected one of ${values.join(", ")}; got '${v}'`);
    return v as T;
  };
}

/** `--store shop=postgres`: tells validation which datasets are SQL (they need primary keys). */
function storeOptions(pairs: readonly string[]): ValidateOptions {
  const types: Record<string, StoreType> = {};
  for (const pair of pairs) {
    const [dataset = "", type = ""] = pair.split("=");
    if (!dataset || !(storeTypes as readonly string[]).includes(type))
      throw new Error(`--store: expected dataset=${storeTypes.join("|")}; got '${pair}'`);
    types[dataset] = type as StoreType;
  }
  return { storeTypes: types };
}

/** Writes `text` to `--output` (saying so on stderr) or to stdout. */
function emit(text: string, output: string | undefined): void {
  if (output) {
    writeFileSync(output, text);
    process.stderr.write(`wrote ${output}\n`);
  } else process.stdout.write(text);
}

/** `env:NAME` reads the URL from the environment, so a password need not sit in the process list. */
function databaseUrl(from: string): string {
  if (!from.startsWith("env:")) return from;
  const value = process.env[from.slice(4)];
  if (!value) throw new Error(`--from: environment variable ${from.slice(4)} is not set`);
  return value;
}

const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const summary = (m: DataMap) => {
  const collections = m.datasets.reduce((n, d) => n + d.collections.length, 0);
  return `data map ok: ${[
    count(m.datasets.length, "dataset"),
    count(collections, "collection"),
    count(m.systems.length, "system"),
    count(m.purposes.length, "purpose"),
    count(m.retention.length, "retention policy", "retention policies"),
  ].join(", ")}\n`;
};

/** Registers `map`, `validate`, `ropa` and `bootstrap` under `rampart privacy`. */
export function registerPrivacyMapCommands(privacy: Command): void {
  privacy
    .command("map [paths...]")
    .description("render the data map (files or directories of *.yaml; default ./privacy)")
    .option(
      "--format <format>",
      "markdown, mermaid or json",
      choice(["markdown", "mermaid", "json"] as const, "--format"),
      "markdown",
    )
    .option("--title <title>", "heading of the Markdown document", "Data map")
    .option("-o, --output <file>", "write here instead of stdout")
    .action(
      (paths: string[], o: { format: "markdown" | "mermaid" | "json"; title: string; output?: string }) => {
        const m = loadDataMap(pathsOr(paths));
        const text =
          o.format === "json"
            ? renderJson(m)
            : o.format === "mermaid"
              ? renderMermaid(m)
              : renderMarkdown(m, o.title);
        emit(text, o.output);
      },
    );

  privacy
    .command("validate [paths...]")
    .description("check the data map; exit 1 with file:line:column for every problem")
    .option(
      "--store <dataset=type>",
      `a dataset's store type (${storeTypes.join(", ")}), repeatable`,
      repeat,
      [],
    )
    .option("--json", "print the problems as JSON")
    .action((paths: string[], o: { store: string[]; json?: boolean }) => {
      try {
        const m = loadDataMap(pathsOr(paths), storeOptions(o.store));
        process.stdout.write(o.json ? `${JSON.stringify({ ok: true, problems: [] })}\n` : summary(m));
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        if (o.json)
          process.stdout.write(`${JSON.stringify({ ok: false, problems: error.issues }, null, 2)}\n`);
        else
          process.stderr.write(
            `${error.issues.map(formatConfigIssue).join("\n")}\n${error.issues.length} problem${error.issues.length === 1 ? "" : "s"} in the data map\n`,
          );
        process.exitCode = 1;
      }
    });

  privacy
    .command("ropa [paths...]")
    .description("records of processing activities (GDPR Art. 30) from the data map")
    .option(
      "--format <format>",
      "markdown, csv or json",
      choice(["markdown", "csv", "json"] as const, "--format"),
      "markdown",
    )
    .requiredOption("--controller <name>", "the controller (data fiduciary) named in the records")
    .option(
      "--home-region <regions>",
      "home jurisdictions or regions (comma list, repeatable; default EU,IN)",
      (v: string, all: string[]) => [
        ...all,
        ...v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      ],
      [],
    )
    .option("-o, --output <file>", "write here instead of stdout")
    .action(
      (
        paths: string[],
        o: { format: "markdown" | "csv" | "json"; controller: string; homeRegion: string[]; output?: string },
      ) => {
        const options = {
          controller: o.controller,
          homeRegions: o.homeRegion.length > 0 ? o.homeRegion : ["EU", "IN"],
        };
        const records = buildRopa(loadDataMap(pathsOr(paths)), options);
        const text =
          o.format === "csv"
            ? renderRopaCsv(records)
            : o.format === "json"
              ? renderRopaJson(records)
              : renderRopaMarkdown(records, options);
        emit(text, o.output);
      },
    );

  privacy
    .command("bootstrap")
    .description("draft a Fides dataset from a live PostgreSQL or MySQL/MariaDB schema")
    .requiredOption("--from <url>", "postgres://… or mysql://… (or env:VAR to read it from the environment)")
    .option("--schema <name>", "PostgreSQL schema (default public) or MySQL database (default: the URL's)")
    .option("--key <key>", "the dataset's fides_key (default: the schema name)")
    .option("-o, --output <file>", "write here instead of stdout")
    .action(async (o: { from: string; schema?: string; key?: string; output?: string }) => {
      const text = await bootstrapDataset(databaseUrl(o.from), {
        ...(o.schema ? { schema: o.schema } : {}),
        ...(o.key ? { key: o.key } : {}),
        note: new Date().toISOString().slice(0, 10),
      });
      emit(text, o.output);
    });
}
