// A local HTTP stand-in for Elasticsearch, following the REST contract the official client v9
// uses, so the client runs unchanged against it: the product header (x-elastic-product), the
// compatible-with=9 vendored media types, and these endpoints with responses shaped as the
// Elasticsearch REST API reference documents them:
//   GET|HEAD /                         cluster info / ping
//   PUT /{index}  DELETE /{index}      create (with mappings) / delete an index
//   GET /{index}/_mapping              mappings (dynamic fields added as documents arrive)
//   PUT|POST /{index}/_doc/{id}        index a document      GET /{index}/_doc/{id}
//   POST /{index}/_search              query: terms, term, range, ids, bool, match_all; sort,
//                                      size, _source filtering, seq_no_primary_term
//   POST /{index}/_update/{id}         partial doc with detect_noop and if_seq_no/if_primary_term
//   POST /_bulk (NDJSON)               index / delete actions   POST /{index}/_refresh
// Every field is matched as a keyword (exact value); there is no analysis.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

type Doc = Record<string, unknown>;
interface Stored {
  source: Doc;
  seqNo: number;
  version: number;
}
interface Index {
  docs: Map<string, Stored>;
  properties: Record<string, unknown>;
  seq: number;
}

export interface EsDouble {
  url: string;
  /** Requests received as "METHOD /path", for assertions. */
  requests: string[];
  /** Makes the next update of this document fail with 409 as if another writer got in first. */
  conflictOnce(index: string, id: string): void;
  stop(): Promise<void>;
}

const PRIMARY_TERM = 1;

export async function startEsDouble(): Promise<EsDouble> {
  const indices = new Map<string, Index>();
  const requests: string[] = [];
  const conflicts = new Set<string>();

  const getIndex = (name: string, create = false): Index | undefined => {
    let ix = indices.get(name);
    if (!ix && create) {
      ix = { docs: new Map(), properties: {}, seq: -1 };
      indices.set(name, ix);
    }
    return ix;
  };

  const notFound = (index: string) => ({
    status: 404,
    body: {
      error: { type: "index_not_found_exception", reason: `no such index [${index}]`, index },
      status: 404,
    },
  });

  const put = (ix: Index, id: string, source: Doc) => {
    const prev = ix.docs.get(id);
    ix.seq++;
    ix.docs.set(id, { source, seqNo: ix.seq, version: (prev?.version ?? 0) + 1 });
    mapDynamic(ix.properties, source);
    return { created: !prev, stored: ix.docs.get(id) as Stored };
  };

  const writeResult = (index: string, id: string, s: Stored, result: string) => ({
    _index: index,
    _id: id,
    _version: s.version,
    result,
    _shards: { total: 1, successful: 1, failed: 0 },
    _seq_no: s.seqNo,
    _primary_term: PRIMARY_TERM,
  });

  function route(
    method: string,
    path: string,
    qs: URLSearchParams,
    raw: string,
  ): { status: number; body: unknown } {
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    const json = (): Doc => (raw ? (JSON.parse(raw) as Doc) : {});
    if (parts.length === 0)
      return {
        status: 200,
        body: {
          name: "es-double",
          cluster_name: "rampart-test",
          cluster_uuid: "test",
          version: { number: "9.0.0", build_flavor: "default", lucene_version: "10.1.0" },
          tagline: "You Know, for Search",
        },
      };
    if (parts[0] === "_bulk" && method === "POST") return bulk(raw, qs);
    const [index = "", action, id] = parts;
    if (parts.length === 1) {
      if (method === "PUT") {
        if (indices.has(index))
          return {
            status: 400,
            body: {
              error: { type: "resource_already_exists_exception", reason: `index [${index}] already exists` },
              status: 400,
            },
          };
        const ix = getIndex(index, true) as Index;
        const body = json();
        ix.properties = structuredClone(((body.mappings as Doc | undefined)?.properties as Doc) ?? {});
        return { status: 200, body: { acknowledged: true, shards_acknowledged: true, index } };
      }
      if (method === "DELETE") {
        if (!indices.delete(index)) return notFound(index);
        return { status: 200, body: { acknowledged: true } };
      }
      if (method === "HEAD" || method === "GET")
        return indices.has(index) ? { status: 200, body: {} } : notFound(index);
    }
    const ix = getIndex(index, action === "_doc" && (method === "PUT" || method === "POST"));
    if (!ix) return notFound(index);
    switch (action) {
      case "_mapping":
        return { status: 200, body: { [index]: { mappings: { properties: ix.properties } } } };
      case "_refresh":
        return { status: 200, body: { _shards: { total: 1, successful: 1, failed: 0 } } };
      case "_doc": {
        if (!id)
          return {
            status: 400,
            body: { error: { type: "illegal_argument_exception", reason: "no id" }, status: 400 },
          };
        if (method === "GET") {
          const s = ix.docs.get(id);
          if (!s) return { status: 404, body: { _index: index, _id: id, found: false } };
          const withSource = qs.get("_source") !== "false";
          return {
            status: 200,
            body: {
              _index: index,
              _id: id,
              _version: s.version,
              _seq_no: s.seqNo,
              _primary_term: PRIMARY_TERM,
              found: true,
              ...(withSource ? { _source: s.source } : {}),
            },
          };
        }
        if (method === "DELETE") {
          const s = ix.docs.get(id);
          if (!s) return { status: 404, body: { _index: index, _id: id, result: "not_found" } };
          ix.docs.delete(id);
          ix.seq++;
          return {
            status: 200,
            body: writeResult(index, id, { ...s, seqNo: ix.seq, version: s.version + 1 }, "deleted"),
          };
        }
        const { created, stored } = put(ix, id, json());
        return {
          status: created ? 201 : 200,
          body: writeResult(index, id, stored, created ? "created" : "updated"),
        };
      }
      case "_update": {
        if (!id || method !== "POST") break;
        const s = ix.docs.get(id);
        if (!s)
          return {
            status: 404,
            body: {
              error: { type: "document_missing_exception", reason: `[${id}]: document missing`, index },
              status: 404,
            },
          };
        const ifSeq = qs.get("if_seq_no");
        const ifTerm = qs.get("if_primary_term");
        const key = `${index}\0${id}`;
        if (conflicts.delete(key)) {
          // another writer got in first: the document moves on before this request lands
          put(ix, id, { ...s.source });
        }
        const cur = ix.docs.get(id) as Stored;
        if (
          (ifSeq !== null && Number(ifSeq) !== cur.seqNo) ||
          (ifTerm !== null && Number(ifTerm) !== PRIMARY_TERM)
        )
          return {
            status: 409,
            body: {
              error: {
                type: "version_conflict_engine_exception",
                reason: `[${id}]: version conflict, required seqNo [${ifSeq}], primary term [${ifTerm}]. current document has seqNo [${cur.seqNo}] and primary term [${PRIMARY_TERM}]`,
                index,
              },
              status: 409,
            },
          };
        const merged = deepMerge(structuredClone(cur.source), (json().doc as Doc) ?? {});
        if (JSON.stringify(merged) === JSON.stringify(cur.source))
          return { status: 200, body: writeResult(index, id, cur, "noop") };
        const { stored } = put(ix, id, merged);
        return { status: 200, body: writeResult(index, id, stored, "updated") };
      }
      case "_search":
        return search(index, ix, { ...Object.fromEntries(qs), ...json() });
    }
    return {
      status: 400,
      body: {
        error: { type: "illegal_argument_exception", reason: `unsupported request ${method} ${path}` },
        status: 400,
      },
    };
  }

  function search(index: string, ix: Index, req: Doc): { status: number; body: unknown } {
    let hits = [...ix.docs.entries()].filter(([id, s]) =>
      matches(id, s.source, (req.query as Doc) ?? { match_all: {} }),
    );
    const sort = req.sort as unknown[] | undefined;
    if (sort) hits = sortHits(hits, sort);
    const size = Number(req.size ?? 10);
    const from = Number(req.from ?? 0);
    const page = hits.slice(from, from + size);
    const seq = req.seq_no_primary_term === true || req.seq_no_primary_term === "true";
    return {
      status: 200,
      body: {
        took: 1,
        timed_out: false,
        _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
        hits: {
          total: { value: hits.length, relation: "eq" },
          max_score: null,
          hits: page.map(([id, s]) => ({
            _index: index,
            _id: id,
            _score: null,
            ...(seq ? { _seq_no: s.seqNo, _primary_term: PRIMARY_TERM } : {}),
            _source: filterSource(s.source, req._source),
            ...(sort ? { sort: sort.map((k) => valuesAt(s.source, sortField(k))[0] ?? null) } : {}),
          })),
        },
      },
    };
  }

  function bulk(raw: string, qs: URLSearchParams): { status: number; body: unknown } {
    const lines = raw.split("\n").filter((l) => l.trim() !== "");
    const items: unknown[] = [];
    let errors = false;
    for (let i = 0; i < lines.length; i++) {
      const action = JSON.parse(lines[i] ?? "{}") as Record<string, { _index?: string; _id?: string }>;
      const [op = "", meta = {}] = Object.entries(action)[0] ?? [];
      const index = meta._index ?? "";
      const id = meta._id ?? String(Math.random()).slice(2);
      if (op === "delete") {
        const ix = getIndex(index);
        const s = ix?.docs.get(id);
        if (!ix || !s) {
          items.push({
            delete: {
              _index: index,
              _id: id,
              result: "not_found",
              status: 404,
              _shards: { total: 1, successful: 1, failed: 0 },
            },
          });
          continue;
        }
        ix.docs.delete(id);
        ix.seq++;
        items.push({
          delete: {
            ...writeResult(index, id, { ...s, seqNo: ix.seq, version: s.version + 1 }, "deleted"),
            status: 200,
          },
        });
      } else if (op === "index" || op === "create") {
        const source = JSON.parse(lines[++i] ?? "{}") as Doc;
        const ix = getIndex(index, true) as Index;
        if (op === "create" && ix.docs.has(id)) {
          errors = true;
          items.push({
            create: {
              _index: index,
              _id: id,
              status: 409,
              error: { type: "version_conflict_engine_exception", reason: "document already exists" },
            },
          });
          continue;
        }
        const { created, stored } = put(ix, id, source);
        items.push({
          [op]: {
            ...writeResult(index, id, stored, created ? "created" : "updated"),
            status: created ? 201 : 200,
          },
        });
      } else {
        errors = true;
        items.push({
          [op]: {
            _index: index,
            _id: id,
            status: 400,
            error: { type: "illegal_argument_exception", reason: `unsupported bulk action ${op}` },
          },
        });
        if (op === "update") i++;
      }
    }
    void qs;
    return { status: 200, body: { took: 1, errors, items } };
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const method = req.method ?? "GET";
      requests.push(`${method} ${url.pathname}`);
      let out: { status: number; body: unknown };
      try {
        out = route(method, url.pathname, url.searchParams, Buffer.concat(chunks).toString("utf8"));
      } catch (err) {
        out = {
          status: 400,
          body: { error: { type: "parsing_exception", reason: (err as Error).message }, status: 400 },
        };
      }
      const compat = /compatible-with=9/.test(String(req.headers.accept ?? ""));
      const body = method === "HEAD" ? "" : JSON.stringify(out.body);
      res.writeHead(out.status, {
        "x-elastic-product": "Elasticsearch",
        "content-type": compat ? "application/vnd.elasticsearch+json;compatible-with=9" : "application/json",
        "content-length": Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    conflictOnce: (index, id) => conflicts.add(`${index}\0${id}`),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// --- query DSL subset --------------------------------------------------------------------------

function valuesAt(doc: unknown, path: string): unknown[] {
  let cur: unknown[] = [doc];
  for (const part of path.split(".")) {
    cur = cur.flatMap((v) => {
      if (Array.isArray(v))
        return v.map((el) => (el && typeof el === "object" ? (el as Doc)[part] : undefined));
      return v && typeof v === "object" ? [(v as Doc)[part]] : [];
    });
  }
  return cur.flatMap((v) => (Array.isArray(v) ? v : [v])).filter((v) => v !== undefined && v !== null);
}

const sameValue = (a: unknown, b: unknown): boolean =>
  a === b || (typeof a !== "object" && typeof b !== "object" && String(a) === String(b));

function rangeCompare(a: unknown, b: unknown): number | undefined {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const da = typeof a === "string" || typeof a === "number" ? Date.parse(String(a)) : NaN;
  const db = typeof b === "string" || typeof b === "number" ? Date.parse(String(b)) : NaN;
  if (!Number.isNaN(da) && !Number.isNaN(db)) return da - db;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

function matches(id: string, source: Doc, query: Doc): boolean {
  const [kind = "", arg] = Object.entries(query)[0] ?? [];
  const a = arg as Doc;
  switch (kind) {
    case "match_all":
      return true;
    case "ids":
      return ((a.values as string[]) ?? []).includes(id);
    case "term": {
      const [field = "", spec] = Object.entries(a)[0] ?? [];
      const value = spec && typeof spec === "object" ? (spec as Doc).value : spec;
      return valuesAt(source, field).some((v) => sameValue(v, value));
    }
    case "terms": {
      const [field = "", values] = Object.entries(a)[0] ?? [];
      return valuesAt(source, field).some((v) => (values as unknown[]).some((x) => sameValue(v, x)));
    }
    case "range": {
      const [field = "", spec] = Object.entries(a)[0] ?? [];
      const s = spec as Doc;
      return valuesAt(source, field).some((v) => {
        const c = (b: unknown) => rangeCompare(v, b);
        if (s.lt !== undefined && !((c(s.lt) ?? 0) < 0)) return false;
        if (s.lte !== undefined && !((c(s.lte) ?? 1) <= 0)) return false;
        if (s.gt !== undefined && !((c(s.gt) ?? 0) > 0)) return false;
        if (s.gte !== undefined && !((c(s.gte) ?? -1) >= 0)) return false;
        return true;
      });
    }
    case "bool": {
      const list = (k: string) => {
        const v = a[k];
        return v === undefined ? [] : Array.isArray(v) ? (v as Doc[]) : [v as Doc];
      };
      if (![...list("must"), ...list("filter")].every((q) => matches(id, source, q))) return false;
      if (list("must_not").some((q) => matches(id, source, q))) return false;
      const should = list("should");
      return should.length === 0 || should.some((q) => matches(id, source, q));
    }
    default:
      throw new Error(`unknown query [${kind}]`);
  }
}

const sortField = (k: unknown): string => (typeof k === "string" ? k : (Object.keys(k as Doc)[0] ?? ""));

function sortHits(hits: [string, Stored][], sort: unknown[]): [string, Stored][] {
  return [...hits].sort((x, y) => {
    for (const k of sort) {
      const field = sortField(k);
      const spec = typeof k === "string" ? "asc" : (k as Doc)[field];
      const order = typeof spec === "string" ? spec : String((spec as Doc).order ?? "asc");
      const c = rangeCompare(valuesAt(x[1].source, field)[0], valuesAt(y[1].source, field)[0]) ?? 0;
      if (c !== 0) return order === "desc" ? -c : c;
    }
    return 0;
  });
}

function filterSource(source: Doc, spec: unknown): Doc | undefined {
  if (spec === undefined || spec === true || spec === "true") return source;
  if (spec === false || spec === "false") return undefined;
  const includes = Array.isArray(spec)
    ? (spec as string[])
    : typeof spec === "string"
      ? spec.split(",")
      : (((spec as Doc).includes as string[]) ?? []);
  if (includes.length === 0) return source;
  const out: Doc = {};
  for (const path of includes) {
    const top = path.split(".")[0] ?? path;
    if (top in source) out[top] = source[top];
  }
  return out;
}

function deepMerge(target: Doc, patch: Doc): Doc {
  for (const [k, v] of Object.entries(patch)) {
    const cur = target[k];
    if (
      v &&
      typeof v === "object" &&
      !Array.isArray(v) &&
      cur &&
      typeof cur === "object" &&
      !Array.isArray(cur)
    )
      deepMerge(cur as Doc, v as Doc);
    else target[k] = v;
  }
  return target;
}

/** Dynamic mapping: unknown fields get a type from their first value, as ES does. */
function mapDynamic(props: Record<string, unknown>, source: Doc): void {
  for (const [k, v] of Object.entries(source)) {
    const sample = Array.isArray(v) ? v.find((x) => x !== null && x !== undefined) : v;
    if (sample === undefined || sample === null) continue;
    const existing = props[k] as Doc | undefined;
    if (sample && typeof sample === "object") {
      const sub = (existing?.properties as Record<string, unknown>) ?? {};
      props[k] = { ...(existing ?? {}), properties: sub };
      mapDynamic(sub, sample as Doc);
      continue;
    }
    if (existing) continue;
    props[k] =
      typeof sample === "number"
        ? { type: Number.isInteger(sample) ? "long" : "float" }
        : typeof sample === "boolean"
          ? { type: "boolean" }
          : typeof sample === "string" &&
              /^\d{4}-\d{2}-\d{2}/.test(sample) &&
              !Number.isNaN(Date.parse(sample))
            ? { type: "date" }
            : { type: "text", fields: { keyword: { type: "keyword", ignore_above: 256 } } };
  }
}
