// Elasticsearch connector (official client v9): a subject's documents are found with a terms
// query on the mapped field; updates are optimistic (if_seq_no/if_primary_term), so a document
// rewritten meanwhile is re-read rather than overwritten with stale values.
import { Client, errors } from "@elastic/elasticsearch";
import { Invalid } from "../../../../platform/errors.ts";
import type { Collection } from "../../map/model.ts";
import type { Connector, FoundRow } from "../types.ts";
import {
  chunks,
  type ErrorContext,
  mappedTopLevel,
  safeLocation,
  secretsOf,
  storeAddress,
  storeError,
  where,
} from "./shared.ts";

export interface ElasticsearchConnectorOptions {
  url: string;
  /** apiKey, or username + password; maxHits (default 10000, the index.max_result_window default). */
  options?: Record<string, string>;
}

interface Hit {
  _id: string;
  _index: string;
  _source?: Record<string, unknown>;
  _seq_no?: number;
  _primary_term?: number;
}

/** A connector for one Elasticsearch cluster. */
export function elasticsearchConnector(opts: ElasticsearchConnectorOptions): Connector {
  const ctx: ErrorContext = {
    type: "elasticsearch",
    url: opts.url,
    secrets: secretsOf(opts.url, opts.options),
  };
  const o = opts.options ?? {};
  const auth = o.apiKey
    ? { apiKey: o.apiKey }
    : o.username
      ? { username: o.username, password: o.password ?? "" }
      : undefined;
  const client = new Client({
    node: opts.url,
    ...(auth ? { auth } : {}),
    requestTimeout: Number(o.requestTimeoutMs ?? 10_000),
    maxRetries: 1,
  });
  const maxHits = Number(o.maxHits ?? 10_000);
  // The sequence number and primary term each found document had, for optimistic updates.
  const versions = new Map<string, { seq: number; term: number }>();

  const indexOf = (c: Collection): string => {
    const name = storeAddress(c, "elasticsearch")?.index ?? c.name;
    // index names are URL path segments: refuse what would change the request's path
    if (name === "" || /[/\\?#*,\s"<>|]/.test(name) || name.startsWith("_") || name.startsWith("."))
      throw new Invalid(`'${name}' is not a usable index name`, where(c));
    return name;
  };

  const sourceFields = (c: Collection) => mappedTopLevel(c);

  /** ES errors carry the request and sometimes values in their reason: keep status and type only. */
  const failure = (err: unknown, c?: Collection): Error => {
    if (err instanceof errors.ResponseError) {
      const type = (err.body as { error?: { type?: string } } | undefined)?.error?.type ?? "error";
      if (c && type === "index_not_found_exception")
        return new Invalid(`index '${indexOf(c)}' not found at ${safeLocation(opts.url)}`, where(c));
      return new Error(
        `elasticsearch store at ${safeLocation(opts.url)} answered ${err.statusCode ?? "?"} ${type}${c ? ` (${where(c)})` : ""}`,
      );
    }
    return storeError(ctx, err, c);
  };

  const call = async <T>(c: Collection | undefined, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw failure(err, c);
    }
  };

  const search = async (
    c: Collection,
    query: object,
    sort?: object[],
    size = maxHits,
  ): Promise<FoundRow[]> => {
    const index = indexOf(c);
    const res = await call(c, () =>
      client.search<Record<string, unknown>>({
        index,
        query: query as never,
        seq_no_primary_term: true,
        track_total_hits: true,
        size,
        _source: sourceFields(c),
        ...(sort ? { sort: sort as never } : {}),
      }),
    );
    const total = typeof res.hits.total === "number" ? res.hits.total : (res.hits.total?.value ?? 0);
    // Never act on a silent subset of a subject's documents.
    if (size === maxHits && total > res.hits.hits.length)
      throw new Invalid(`more than ${maxHits} matching documents; raise options.maxHits`, where(c));
    return res.hits.hits.map((h) => {
      const hit = h as Hit;
      if (hit._seq_no !== undefined && hit._primary_term !== undefined)
        versions.set(`${index}\0${hit._id}`, { seq: hit._seq_no, term: hit._primary_term });
      return { id: hit._id, values: hit._source ?? {} };
    });
  };

  const scalar = (v: unknown) => (v instanceof Date ? v.toISOString() : v);

  return {
    type: "elasticsearch",

    async find(collection, path, values) {
      if (values.length === 0) return [];
      const out: FoundRow[] = [];
      // terms takes at most 65,536 values by default; batches stay far below
      for (const batch of chunks(values, 1000))
        out.push(...(await search(collection, { terms: { [path]: batch.map(scalar) } })));
      return out;
    },

    async findBefore(collection, path, before, limit) {
      const size = Math.max(0, Math.min(Math.floor(limit), maxHits));
      return search(
        collection,
        { range: { [path]: { lt: before.toISOString() } } },
        [{ [path]: "asc" }],
        size,
      );
    },

    async delete(collection, rows) {
      if (rows.length === 0) return 0;
      const index = indexOf(collection);
      let deleted = 0;
      for (const batch of chunks(rows, 500)) {
        const res = await call(collection, () =>
          client.bulk({
            refresh: "wait_for",
            operations: batch.map((r) => ({ delete: { _index: index, _id: r.id } })),
          }),
        );
        for (const item of res.items) {
          const d = item.delete;
          if (!d) continue;
          if (d.result === "deleted") deleted++;
          else if (d.status !== 404)
            throw new Error(
              `elasticsearch store at ${safeLocation(opts.url)} refused a delete (${where(collection)}): ${d.status} ${d.error?.type ?? ""}`,
            );
        }
      }
      return deleted;
    },

    async update(collection, changes) {
      const index = indexOf(collection);
      let changed = 0;
      for (const change of changes) {
        if (Object.keys(change.set).length === 0) continue;
        const id = change.row.id;
        for (let attempt = 0; ; attempt++) {
          const v = versions.get(`${index}\0${id}`) ?? (await reread(index, id, collection));
          if (v === null) break; // gone: nothing to change
          try {
            const res = await client.update({
              index,
              id,
              doc: change.set,
              if_seq_no: v.seq,
              if_primary_term: v.term,
            });
            if (res.result === "updated") changed++;
            if (res._seq_no !== undefined && res._primary_term !== undefined)
              versions.set(`${index}\0${id}`, { seq: res._seq_no, term: res._primary_term });
            break;
          } catch (err) {
            if (err instanceof errors.ResponseError && err.statusCode === 404) break;
            // 409: someone wrote the document after we read it; read again and retry once
            if (err instanceof errors.ResponseError && err.statusCode === 409 && attempt === 0) {
              versions.delete(`${index}\0${id}`);
              continue;
            }
            throw failure(err, collection);
          }
        }
      }
      if (changed > 0) await call(collection, () => client.indices.refresh({ index }));
      return changed;
    },

    async check(collections) {
      const problems: string[] = [];
      try {
        await client.info();
      } catch (err) {
        problems.push(
          `elasticsearch store at ${safeLocation(opts.url)} is unreachable: ${failure(err).message}`,
        );
        return problems;
      }
      for (const c of collections) {
        try {
          const index = indexOf(c);
          const res = await client.indices.getMapping({ index });
          const known = new Set<string>();
          for (const m of Object.values(res)) collectPaths(m.mappings?.properties ?? {}, "", known);
          for (const f of allPaths(c))
            if (!known.has(f)) problems.push(`${where(c)}: field '${f}' not mapped in index '${index}'`);
        } catch (err) {
          problems.push(
            err instanceof errors.ResponseError && err.statusCode === 404
              ? `${where(c)}: index '${storeAddress(c, "elasticsearch")?.index ?? c.name}' not found`
              : failure(err, c).message,
          );
        }
      }
      return problems;
    },

    async close() {
      versions.clear();
      await client.close();
    },
  };

  async function reread(
    index: string,
    id: string,
    c: Collection,
  ): Promise<{ seq: number; term: number } | null> {
    try {
      const doc = await client.get({ index, id, _source: false });
      if (!doc.found || doc._seq_no === undefined || doc._primary_term === undefined) return null;
      return { seq: doc._seq_no, term: doc._primary_term };
    } catch (err) {
      if (err instanceof errors.ResponseError && err.statusCode === 404) return null;
      throw failure(err, c);
    }
  }
}

/** Every mapped field path of a collection (leaves and objects), dotted. */
function allPaths(c: Collection): string[] {
  const out: string[] = [];
  const walk = (fields: Collection["fields"], prefix: string) => {
    for (const f of fields) {
      const p = `${prefix}${f.name}`;
      out.push(p);
      walk(f.fields, `${p}.`);
    }
  };
  walk(c.fields, "");
  return out;
}

/** Dotted paths of an index mapping's properties, object fields included. */
function collectPaths(props: Record<string, unknown>, prefix: string, out: Set<string>): void {
  for (const [name, def] of Object.entries(props)) {
    const p = `${prefix}${name}`;
    out.add(p);
    const sub = (def as { properties?: Record<string, unknown> }).properties;
    if (sub) collectPaths(sub, `${p}.`, out);
  }
}
