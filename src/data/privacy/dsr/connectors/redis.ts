// Redis connector: a collection is a key family named by a template ("cart:{user_id}",
// "session:{user_id}:*"). A subject's keys are rendered from the template, or found with SCAN
// (never KEYS, which blocks the server) when the template has a wildcard or other placeholders.
import { Redis } from "ioredis";
import { Invalid } from "../../../../platform/errors.ts";
import type { Collection } from "../../map/model.ts";
import type { Connector, FoundRow, RowChange } from "../types.ts";
import {
  asTime,
  chunks,
  type ErrorContext,
  guarded,
  mappedTopLevel,
  safeLocation,
  scrub,
  secretsOf,
  storeAddress,
  valueAt,
  where,
} from "./shared.ts";

type Token = { lit: string } | { field: string } | { star: true };

/** A parsed key template. */
interface KeyTemplate {
  tokens: Token[];
  fields: string[];
  type: "hash" | "string" | "json";
  matcher: RegExp;
}

const globSpecial = /[*?[\]\\]/g;
const escapeGlob = (s: string): string => s.replace(globSpecial, (c) => `\\${c}`);
const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Parses "prefix:{field}:*" into tokens; a template without a placeholder or wildcard addresses one key. */
export function parseKeyTemplate(collection: Collection): KeyTemplate {
  const store = storeAddress(collection, "redis");
  if (!store)
    throw new Invalid(
      "a Redis collection needs store.key (a key template) and store.type",
      where(collection),
    );
  const tokens: Token[] = [];
  const re = /\{([^{}]+)\}|\*/g;
  let last = 0;
  for (const m of store.key.matchAll(re)) {
    if (m.index > last) tokens.push({ lit: store.key.slice(last, m.index) });
    tokens.push(m[1] !== undefined ? { field: m[1] } : { star: true });
    last = m.index + m[0].length;
  }
  if (last < store.key.length) tokens.push({ lit: store.key.slice(last) });
  if (/[{}]/.test(tokens.map((t) => ("lit" in t ? t.lit : "")).join("")))
    throw new Invalid(`key template '${store.key}' has an unbalanced brace`, where(collection));
  const fields = tokens.flatMap((t) => ("field" in t ? [t.field] : []));
  const matcher = new RegExp(
    `^${tokens.map((t) => ("lit" in t ? escapeRegex(t.lit) : "([\\s\\S]*?)")).join("")}$`,
  );
  return { tokens, fields, type: store.type, matcher };
}

/** The SCAN pattern (or exact key) for a template with some placeholders filled. */
function render(t: KeyTemplate, fixed: Record<string, string>): { key: string; exact: boolean } {
  let exact = true;
  const key = t.tokens
    .map((tok) => {
      if ("lit" in tok) return tok.lit;
      if ("field" in tok && tok.field in fixed) return fixed[tok.field] ?? "";
      exact = false;
      return "*";
    })
    .join("");
  if (exact) return { key, exact };
  // As a pattern, literal parts and values are glob-escaped: a value "*" must not match every key.
  const pattern = t.tokens
    .map((tok) => {
      if ("lit" in tok) return escapeGlob(tok.lit);
      if ("field" in tok && tok.field in fixed) return escapeGlob(fixed[tok.field] ?? "");
      return "*";
    })
    .join("");
  return { key: pattern, exact };
}

/** The placeholder values a key carries, or undefined if the key is not of this family. */
function keyFields(
  t: KeyTemplate,
  key: string,
): { parts: string[]; fields: Record<string, string> } | undefined {
  const m = t.matcher.exec(key);
  if (!m) return undefined;
  const parts = m.slice(1);
  const fields: Record<string, string> = {};
  let i = 0;
  for (const tok of t.tokens) {
    if ("lit" in tok) continue;
    const v = parts[i++] ?? "";
    if ("field" in tok) fields[tok.field] = v;
  }
  return { parts, fields };
}

/** The key with some placeholder values replaced (a masked identity in the key renames the key). */
function rekey(t: KeyTemplate, key: string, set: Record<string, unknown>): string {
  const parsed = keyFields(t, key);
  if (!parsed) return key;
  let i = 0;
  return t.tokens
    .map((tok) => {
      if ("lit" in tok) return tok.lit;
      const cur = parsed.parts[i++] ?? "";
      return "field" in tok && tok.field in set ? String(set[tok.field]) : cur;
    })
    .join("");
}

/** Row ids are keys: refuse any that is not of the collection's family, so no other key is touched. */
function ownKeys(c: Collection, t: KeyTemplate, rows: readonly FoundRow[]): void {
  for (const r of rows)
    if (!keyFields(t, r.id))
      throw new Invalid("a row id is not a key of this collection's key template", where(c));
}

const parseMaybeJson = (raw: string): unknown => {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
};

const toRedisString = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v ?? null));

// Compare-and-set scripts, so a concurrent writer or a key that expired meanwhile is never
// overwritten or recreated.
const HASH_SET = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local changed = 0
for i = 1, #ARGV, 3 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i+1])
  if ARGV[i] == 'del' then
    if cur then redis.call('HDEL', KEYS[1], ARGV[i+1]); changed = 1 end
  elseif cur ~= ARGV[i+2] then
    redis.call('HSET', KEYS[1], ARGV[i+1], ARGV[i+2]); changed = 1
  end
end
return changed`;

const STRING_CAS = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cur ~= ARGV[1] then return -1 end
if cur == ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1`;

export interface RedisConnectorOptions {
  url: string;
  options?: Record<string, string>;
}

/** A connector for one Redis (hash, string and JSON-string key families). */
export function redisConnector(opts: RedisConnectorOptions): Connector {
  const ctx: ErrorContext = { type: "redis", url: opts.url, secrets: secretsOf(opts.url, opts.options) };
  const client = new Redis(opts.url, {
    lazyConnect: true,
    connectionName: "rampart-privacy",
    maxRetriesPerRequest: 1,
    connectTimeout: Number(opts.options?.connectTimeoutMs ?? 5000),
    commandTimeout: Number(opts.options?.commandTimeoutMs ?? 10_000),
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  // Connection errors surface on the command that needed the connection.
  client.on("error", () => {});

  const scan = async (pattern: string): Promise<string[]> => {
    const keys = new Set<string>();
    let cursor = "0";
    do {
      const [next, batch] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      for (const k of batch) keys.add(k);
    } while (cursor !== "0");
    return [...keys];
  };

  /** Reads the keys as rows; keys gone (or of another family) are left out. */
  const read = async (c: Collection, t: KeyTemplate, keys: readonly string[]): Promise<FoundRow[]> => {
    const mapped = new Set(mappedTopLevel(c));
    const rows: FoundRow[] = [];
    for (const batch of chunks(keys, 500)) {
      const pipe = client.pipeline();
      for (const k of batch) {
        if (t.type === "hash") pipe.hgetall(k);
        else pipe.get(k);
      }
      const results = (await pipe.exec()) ?? [];
      batch.forEach((key, i) => {
        const [err, raw] = results[i] ?? [null, null];
        // WRONGTYPE: a key matching the pattern that is not of this family's type; any other
        // error (connection lost) must fail the read, never pass for "no data"
        if (err) {
          if (/^WRONGTYPE/.test(err.message)) return;
          throw err;
        }
        const fromKey = keyFields(t, key)?.fields;
        if (!fromKey) return;
        let values: Record<string, unknown>;
        if (t.type === "hash") {
          const h = raw as Record<string, string>;
          if (Object.keys(h).length === 0) return;
          values = pick(h, mapped);
        } else {
          if (raw === null || raw === undefined) return;
          const doc = parseMaybeJson(raw as string);
          values =
            t.type === "json" && doc && typeof doc === "object" && !Array.isArray(doc)
              ? pick(doc as Record<string, unknown>, mapped)
              : { value: doc };
        }
        rows.push({ id: key, values: { ...values, ...fromKey } });
      });
    }
    return rows;
  };

  const run = <T>(c: Collection | undefined, fn: () => Promise<T>): Promise<T> => guarded(ctx, c, fn);

  return {
    type: "redis",

    async find(collection, path, values) {
      const t = parseKeyTemplate(collection);
      if (!t.fields.includes(path))
        throw new Invalid(
          `'${path}' is not a placeholder of the key template (${t.fields.map((f) => `{${f}}`).join(", ") || "none"}); Redis collections are found by their key`,
          where(collection),
        );
      return run(collection, async () => {
        const keys = new Set<string>();
        for (const v of new Set(values.map((x) => (x instanceof Date ? x.toISOString() : String(x))))) {
          const r = render(t, { [path]: v });
          if (r.exact) keys.add(r.key);
          else for (const k of await scan(r.key)) if (keyFields(t, k)?.fields[path] === v) keys.add(k);
        }
        return read(collection, t, [...keys]);
      });
    },

    /** Scans every key of the family and compares the field: O(keys in the family). */
    async findBefore(collection, path, before, limit) {
      const t = parseKeyTemplate(collection);
      return run(collection, async () => {
        const family = render(t, {});
        const keys = family.exact ? [family.key] : await scan(family.key);
        const rows = await read(collection, t, keys);
        const timed = rows
          .map((row) => ({ row, at: asTime(valueAt(row.values, path)) }))
          .filter((x): x is { row: FoundRow; at: Date } => !!x.at && x.at < before);
        timed.sort((a, b) => a.at.getTime() - b.at.getTime());
        return timed.slice(0, Math.max(0, limit)).map((x) => x.row);
      });
    },

    async delete(collection, rows) {
      if (rows.length === 0) return 0;
      const t = parseKeyTemplate(collection);
      ownKeys(collection, t, rows);
      return run(collection, async () => {
        let deleted = 0;
        for (const batch of chunks(rows, 500)) deleted += await client.unlink(...batch.map((r) => r.id));
        return deleted;
      });
    },

    async update(collection, changes) {
      const t = parseKeyTemplate(collection);
      ownKeys(
        collection,
        t,
        changes.map((c) => c.row),
      );
      return run(collection, async () => {
        let changed = 0;
        for (const change of changes) changed += await updateOne(t, change);
        return changed;
      });
    },

    async check(collections) {
      const problems: string[] = [];
      try {
        await client.ping();
      } catch (err) {
        problems.push(
          `redis store at ${safeLocation(opts.url)} is unreachable: ${scrub((err as Error).message, ctx.secrets)}`,
        );
        return problems;
      }
      for (const c of collections) {
        try {
          const t = parseKeyTemplate(c);
          const mapped = new Set(mappedTopLevel(c));
          for (const f of t.fields)
            if (!mapped.has(f))
              problems.push(`${where(c)}: key placeholder {${f}} is not a field of the collection`);
        } catch (err) {
          problems.push((err as Error).message);
        }
      }
      return problems;
    },

    async close() {
      if (client.status === "wait" || client.status === "end") client.disconnect();
      else await client.quit().catch(() => client.disconnect());
    },
  };

  async function updateOne(t: KeyTemplate, change: RowChange): Promise<number> {
    const key = change.row.id;
    const inKey = new Set(t.fields);
    const body = Object.entries(change.set).filter(([k]) => !inKey.has(k));
    let n = 0;
    if (body.length > 0) {
      if (t.type === "hash") {
        const args = body.flatMap(([k, v]) =>
          v === null || v === undefined ? ["del", k, ""] : ["set", k, toRedisString(v)],
        );
        n = Number(await client.eval(HASH_SET, 1, key, ...args));
      } else {
        n = await casDocument(t, key, Object.fromEntries(body));
      }
    }
    const target = rekey(t, key, change.set);
    if (target !== key) {
      // RENAMENX keeps the TTL and never overwrites another subject's key
      const renamed = await client.renamenx(key, target).catch((err: Error) => {
        if (/no such key/i.test(err.message)) return 0;
        throw err;
      });
      if (renamed === 1) n = 1;
    }
    return n > 0 ? 1 : 0;
  }

  /** Read, merge, compare-and-set with KEEPTTL; retried when another writer got in between. */
  async function casDocument(t: KeyTemplate, key: string, set: Record<string, unknown>): Promise<number> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const raw = await client.get(key);
      if (raw === null) return 0;
      let next: string;
      if (t.type === "string") {
        if (!("value" in set)) return 0;
        next = toRedisString(set.value);
      } else {
        const doc = parseMaybeJson(raw);
        const base =
          doc && typeof doc === "object" && !Array.isArray(doc) ? (doc as Record<string, unknown>) : {};
        const merged: Record<string, unknown> = { ...base };
        for (const [k, v] of Object.entries(set)) {
          if (v === undefined) delete merged[k];
          else merged[k] = v;
        }
        next = JSON.stringify(merged);
        if (sameJson(base, merged)) return 0;
      }
      const r = Number(await client.eval(STRING_CAS, 1, key, raw, next));
      if (r >= 0) return r;
    }
    throw new Error(
      `redis key changed concurrently five times while updating it (${safeLocation(opts.url)})`,
    );
  }
}

const pick = (obj: Record<string, unknown>, mapped: ReadonlySet<string>): Record<string, unknown> => {
  // With no declared fields, the whole value is returned: the map may only name the key.
  if (mapped.size === 0) return { ...obj };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (mapped.has(k)) out[k] = v;
  return out;
};

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
