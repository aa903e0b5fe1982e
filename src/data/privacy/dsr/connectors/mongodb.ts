// MongoDB connector (official driver): documents are found by a dotted path with $in, which
// matches array elements too; a row's id is the canonical extended JSON of its _id.
import { BSON, type Document, MongoClient } from "mongodb";
import { Invalid } from "../../../../platform/errors.ts";
import type { Collection } from "../../map/model.ts";
import type { Connector, FoundRow } from "../types.ts";
import {
  chunks,
  type ErrorContext,
  guarded,
  mappedTopLevel,
  safeLocation,
  scrub,
  secretsOf,
  storeAddress,
  where,
} from "./shared.ts";

export interface MongoConnectorOptions {
  url: string;
  options?: Record<string, string>;
}

/** Field paths from the map go into query documents: refuse operators and empty segments. */
function checkedPath(collection: Collection, path: string): string {
  if (
    path === "" ||
    path.startsWith("$") ||
    path.split(".").some((p) => p === "" || p.startsWith("$")) ||
    path.includes("\0")
  )
    throw new Invalid(`'${path}' is not a usable document path`, where(collection));
  return path;
}

/** A connector for one MongoDB database (the one named in the URL, or options.database). */
export function mongodbConnector(opts: MongoConnectorOptions): Connector {
  const ctx: ErrorContext = { type: "mongodb", url: opts.url, secrets: secretsOf(opts.url, opts.options) };
  const timeout = Number(opts.options?.connectTimeoutMs ?? 5000);
  const client = new MongoClient(opts.url, {
    serverSelectionTimeoutMS: timeout,
    connectTimeoutMS: timeout,
    maxPoolSize: 4,
  });
  const db = () => client.db(opts.options?.database);
  const coll = (c: Collection) => db().collection(storeAddress(c, "mongodb")?.collection ?? c.name);

  const projection = (c: Collection): Document => {
    const p: Document = { _id: 1 };
    for (const f of mappedTopLevel(c)) if (f !== "_id") p[checkedPath(c, f)] = 1;
    return p;
  };

  const toRow = (doc: Document): FoundRow => ({
    id: BSON.EJSON.stringify(doc._id, { relaxed: false }),
    values: doc,
  });

  const idsOf = (c: Collection, rows: readonly FoundRow[]): unknown[] =>
    rows.map((r) => {
      try {
        return BSON.EJSON.parse(r.id, { relaxed: false });
      } catch {
        throw new Invalid("row id is not extended JSON", where(c));
      }
    });

  return {
    type: "mongodb",

    async find(collection, path, values) {
      if (values.length === 0) return [];
      const filter = { [checkedPath(collection, path)]: { $in: [...values] } };
      return guarded(ctx, collection, async () =>
        (
          await coll(collection)
            .find(filter, { projection: projection(collection) })
            .toArray()
        ).map(toRow),
      );
    },

    async findBefore(collection, path, before, limit) {
      const p = checkedPath(collection, path);
      return guarded(ctx, collection, async () =>
        (
          await coll(collection)
            .find({ [p]: { $lt: before } }, { projection: projection(collection) })
            .sort({ [p]: 1 })
            .limit(Math.max(0, Math.floor(limit)))
            .toArray()
        ).map(toRow),
      );
    },

    async delete(collection, rows) {
      if (rows.length === 0) return 0;
      const ids = idsOf(collection, rows);
      return guarded(ctx, collection, async () => {
        let deleted = 0;
        for (const batch of chunks(ids, 500))
          deleted += (await coll(collection).deleteMany({ _id: { $in: batch } } as Document)).deletedCount;
        return deleted;
      });
    },

    async update(collection, changes) {
      const work = changes.filter((c) => Object.keys(c.set).length > 0);
      if (work.length === 0) return 0;
      const ids = idsOf(
        collection,
        work.map((c) => c.row),
      );
      const ops = work.map((c, i) => {
        for (const k of Object.keys(c.set)) checkedPath(collection, k);
        return { updateOne: { filter: { _id: ids[i] } as Document, update: { $set: c.set } } };
      });
      return guarded(ctx, collection, async () => {
        let changed = 0;
        for (const batch of chunks(ops, 500))
          changed += (await coll(collection).bulkWrite(batch, { ordered: false })).modifiedCount;
        return changed;
      });
    },

    async check(collections) {
      const problems: string[] = [];
      let names: Set<string>;
      try {
        await db().command({ ping: 1 });
        const listed = await db().listCollections({}, { nameOnly: true }).toArray();
        names = new Set(listed.map((c) => c.name));
      } catch (err) {
        problems.push(
          `mongodb store at ${safeLocation(opts.url)} is unreachable: ${scrub((err as Error).message, ctx.secrets)}`,
        );
        return problems;
      }
      for (const c of collections) {
        try {
          const name = storeAddress(c, "mongodb")?.collection ?? c.name;
          if (!names.has(name)) problems.push(`${where(c)}: collection '${name}' not found`);
          projection(c);
        } catch (err) {
          problems.push((err as Error).message);
        }
      }
      return problems;
    },

    async close() {
      await client.close();
    },
  };
}
