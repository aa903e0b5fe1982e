// An anonymised copy of a database: same tables, same non-personal values, every personal value
// masked with a secret made for this copy alone and never stored, so the copy cannot be linked
// back to the source or to another copy, while references between tables still join.
import { Conflict, Invalid, NotFound } from "../../../platform/errors.ts";
import type { DataMap } from "../map/model.ts";
import { createMasker, newMaskingSecret } from "../masking.ts";
import { copyOrder } from "./catalog.ts";
import { type Cell, maskCell } from "./cells.ts";
import { parseDatabaseUrl, type SourceDatabase, type TargetDatabase } from "./endpoint.ts";
import { openMysqlSource, openMysqlTarget } from "./mysql.ts";
import { planCopy, sqlDataset, type TablePlan, type UnmappedPolicy } from "./plan.ts";
import { openPostgresSource, openPostgresTarget } from "./postgres.ts";

export interface AnonymizeOptions {
  /** Source database URL (postgres://… or mysql://…). */
  from: string;
  /** Target database URL, of the same kind. */
  to: string;
  map: DataMap;
  /** Dataset key describing these tables; default: the map's only SQL dataset. */
  dataset?: string;
  /** Rows per read and per INSERT (default 2,000). */
  batchSize?: number;
  /** Tables and columns the map does not mention: refuse (default), copy in clear, or leave out. */
  unmapped?: UnmappedPolicy;
  /** Create the tables in the target (keys and indexes after the data); otherwise they must exist, empty. */
  createSchema?: boolean;
  onProgress?: (p: AnonymizeProgress) => void;
}

export interface AnonymizeProgress {
  table: string;
  rows: number;
  tableRows: number;
  totalRows: number;
  doneRows: number;
}

export interface AnonymizedTable {
  table: string;
  rows: number;
  /** Columns masked, each with the map field (or referenced column) it masks as. */
  masked: Array<{ column: string; strategy: string; via: string }>;
  copiedInClear: boolean;
}

export interface AnonymizeSummary {
  dialect: "postgres" | "mysql";
  dataset: string;
  tables: AnonymizedTable[];
  rows: number;
  maskedFields: number;
  seconds: number;
  rowsPerSecond: number;
  warnings: string[];
}

/** Copies `from` into `to`, masking every personal field of the data map (see AnonymizeOptions). */
export async function anonymizeDatabase(o: AnonymizeOptions): Promise<AnonymizeSummary> {
  const started = performance.now();
  const from = parseDatabaseUrl(o.from, "from");
  const to = parseDatabaseUrl(o.to, "to");
  if (from.dialect !== to.dialect)
    throw new Invalid(`copies go ${from.dialect} → ${from.dialect}; the target is ${to.dialect}`, "to");
  if (from.url.host === to.url.host && from.url.pathname === to.url.pathname)
    throw new Invalid("the target is the source database", "to");
  const batch = o.batchSize ?? 2_000;
  if (!Number.isInteger(batch) || batch < 1 || batch > 100_000)
    throw new Invalid("expected an integer from 1 to 100000", "batchSize");
  const dataset = sqlDataset(o.map, o.dataset);

  const source: SourceDatabase =
    from.dialect === "postgres" ? await openPostgresSource(from.url) : await openMysqlSource(from.url);
  let target: TargetDatabase | undefined;
  try {
    target = to.dialect === "postgres" ? await openPostgresTarget(to.url) : await openMysqlTarget(to.url);
    const catalog = await source.catalog();
    const plan = planCopy({ catalog, dataset, unmapped: o.unmapped ?? "fail" });
    const warnings = [...plan.warnings];
    const order = copyOrder(
      plan.tables.map((t) => t.table.name),
      catalog.foreignKeys,
    );
    const byName = new Map(plan.tables.map((t) => [t.table.name, t]));
    const tables = order.map((n) => byName.get(n) as TablePlan);

    const existing = await target.existing(tables.map((t) => t.table.name));
    if (o.createSchema) {
      const present = tables.filter((t) => existing.has(t.table.name)).map((t) => t.table.name);
      if (present.length > 0)
        throw new Conflict(
          `--create-schema: the target already has tables ${present.join(", ")}; use an empty database`,
        );
    } else {
      const missing = tables.filter((t) => !existing.has(t.table.name)).map((t) => t.table.name);
      if (missing.length > 0)
        throw new NotFound(
          `the target has no tables ${missing.join(", ")}; create them first or pass --create-schema`,
        );
      for (const t of tables) {
        const have = existing.get(t.table.name);
        const gone = t.columns.filter((c) => !have?.columns.has(c.column.name)).map((c) => c.column.name);
        if (gone.length > 0)
          throw new NotFound(`the target's table ${t.table.name} has no columns ${gone.join(", ")}`);
        if (!have?.empty) throw new Conflict(`the target's table ${t.table.name} is not empty`);
      }
    }

    // A secret for this copy alone, in this call's memory only: no one can re-link or repeat it.
    const masker = createMasker(newMaskingSecret());
    await source.begin();
    const counts = new Map<string, number>();
    for (const t of tables) counts.set(t.table.name, await source.count(t.table));
    const totalRows = [...counts.values()].reduce((a, b) => a + b, 0);

    await target.begin();
    const after: string[] = [];
    const checks: string[] = [];
    let doneRows = 0;
    const result: AnonymizedTable[] = [];
    try {
      if (o.createSchema)
        for (const t of tables) {
          const def = await source.definition(t.table, catalog);
          for (const s of def.create) await target.exec(s);
          after.push(...def.after);
          checks.push(...def.checks);
        }
      for (const t of tables) {
        const names = t.columns.map((c) => c.column.name);
        const masks = t.columns.map((c) => c.mask);
        const kinds = t.columns.map((c) => c.column.kind);
        const types = t.columns.map((c) => c.column.type);
        const tableRows = counts.get(t.table.name) ?? 0;
        let rows = 0;
        const binaryAsText = target.binaryAsText;
        for await (const page of source.rows(t.table, names, batch)) {
          const out = page.map((row) =>
            row.map((v: Cell, i) => {
              const m = masks[i];
              return m ? maskCell(masker, v, kinds[i] as never, m, binaryAsText) : v;
            }),
          );
          try {
            await target.insert(t.table.name, names, types, out);
          } catch (err) {
            throw new Conflict(`writing ${t.table.name} failed: ${(err as Error).message}`);
          }
          rows += page.length;
          doneRows += page.length;
          o.onProgress?.({ table: t.table.name, rows, tableRows, totalRows, doneRows });
        }
        result.push({
          table: t.table.name,
          rows,
          masked: t.columns
            .filter((c) => c.mask)
            .map((c) => ({
              column: c.column.name,
              strategy: c.mask?.strategy.strategy as string,
              via: c.via ?? "",
            })),
          copiedInClear: !dataset.collections.some(
            (c) => (c.store?.kind === "sql" ? c.store.table : c.name) === t.table.name,
          ),
        });
      }
      for (const s of after) {
        try {
          await target.exec(s);
        } catch (err) {
          throw new Conflict(`after the copy, '${s.slice(0, 120)}' failed: ${(err as Error).message}`);
        }
      }
      for (const s of checks) {
        const failed = await target.tryExec(s);
        if (failed) warnings.push(`check constraint not kept (masked values break it): ${s} — ${failed}`);
      }
      await target.commit();
    } catch (err) {
      await target.rollback();
      throw err;
    }
    await source.end();
    const seconds = (performance.now() - started) / 1000;
    const rowsTotal = result.reduce((a, t) => a + t.rows, 0);
    return {
      dialect: from.dialect,
      dataset: dataset.key,
      tables: result,
      rows: rowsTotal,
      maskedFields: result.reduce((a, t) => a + t.masked.length, 0),
      seconds,
      rowsPerSecond: seconds > 0 ? Math.round(rowsTotal / seconds) : rowsTotal,
      warnings,
    };
  } finally {
    await source.close();
    await target?.close();
  }
}
