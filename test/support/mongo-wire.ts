// An in-process MongoDB stand-in that speaks the wire protocol, so the official driver runs
// unchanged against it: OP_MSG (opcode 2013) with kind-0 body and kind-1 document-sequence
// sections, plus the legacy OP_QUERY/OP_REPLY pair the driver uses for its first handshake
// (before it knows the server's wire version). It answers the commands the privacy connectors
// and their tests send, shaped as the MongoDB database-commands reference documents them:
// hello/isMaster, ping, buildInfo, listCollections, create, drop, dropDatabase, find, getMore,
// killCursors, insert, update ($set, dotted paths; n/nModified), delete, endSessions.
// Documents live in memory per database and collection.
import { createServer, type Server, type Socket } from "node:net";
import { BSON, type Document } from "mongodb";

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const CHECKSUM_PRESENT = 1;
const MORE_TO_COME = 2;
const DEFAULT_BATCH = 101;

export interface MongoWireDouble {
  /** mongodb://127.0.0.1:port/<db>?directConnection=true */
  url(db: string): string;
  port: number;
  /** Commands received, by name, for assertions. */
  commands: string[];
  stop(): Promise<void>;
}

interface OpenCursor {
  ns: string;
  rest: Document[];
}

/** Starts the wire double on a free loopback port. */
export async function startMongoWire(): Promise<MongoWireDouble> {
  const dbs = new Map<string, Map<string, Document[]>>();
  const cursors = new Map<number, OpenCursor>();
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  let nextCursor = 1;
  let nextConnection = 1;
  let nextRequest = 1;

  const collection = (db: string, name: string, create = true): Document[] | undefined => {
    let d = dbs.get(db);
    if (!d) {
      if (!create) return undefined;
      d = new Map();
      dbs.set(db, d);
    }
    let c = d.get(name);
    if (!c && create) {
      c = [];
      d.set(name, c);
    }
    return c;
  };

  const handlers: Record<string, (cmd: Document, db: string, connectionId: number) => Document> = {
    hello: (_c, _db, id) => helloReply(id, false),
    ismaster: (_c, _db, id) => helloReply(id, true),
    ping: () => ({ ok: 1 }),
    buildinfo: () => ({
      version: "7.0.0",
      versionArray: [7, 0, 0, 0],
      maxBsonObjectSize: 16 * 1024 * 1024,
      ok: 1,
    }),
    endsessions: () => ({ ok: 1 }),
    create: (c, db) => {
      collection(db, String(c.create));
      return { ok: 1 };
    },
    drop: (c, db) => {
      const existed = dbs.get(db)?.delete(String(c.drop));
      return existed
        ? { ok: 1, ns: `${db}.${c.drop}` }
        : { ok: 0, errmsg: "ns not found", code: 26, codeName: "NamespaceNotFound" };
    },
    dropdatabase: (_c, db) => {
      dbs.delete(db);
      return { ok: 1, dropped: db };
    },
    listcollections: (c, db) => {
      const names = [...(dbs.get(db)?.keys() ?? [])];
      const filter = (c.filter ?? {}) as Document;
      const batch = names
        .map((name) => ({ name, type: "collection", options: {}, info: { readOnly: false } }))
        .filter((d) => matches(d, filter));
      return {
        cursor: { id: BSON.Long.fromNumber(0), ns: `${db}.$cmd.listCollections`, firstBatch: batch },
        ok: 1,
      };
    },
    find: (c, db) => {
      const ns = `${db}.${c.find}`;
      let docs = (collection(db, String(c.find), false) ?? []).filter((d) =>
        matches(d, (c.filter ?? {}) as Document),
      );
      if (c.sort) docs = sortDocs(docs, c.sort as Document);
      const skip = Number(c.skip ?? 0);
      const limit = Math.abs(Number(c.limit ?? 0));
      docs = docs.slice(skip, limit > 0 ? skip + limit : undefined);
      docs = docs.map((d) => project(d, c.projection as Document | undefined));
      const size = c.singleBatch ? docs.length : Number(c.batchSize ?? DEFAULT_BATCH);
      const first = docs.slice(0, size);
      const rest = docs.slice(size);
      let id = 0;
      if (rest.length > 0) {
        id = nextCursor++;
        cursors.set(id, { ns, rest });
      }
      return { cursor: { firstBatch: first, id: BSON.Long.fromNumber(id), ns }, ok: 1 };
    },
    getmore: (c) => {
      const id = Number(c.getMore);
      const cur = cursors.get(id);
      if (!cur) return { ok: 0, errmsg: `cursor id ${id} not found`, code: 43, codeName: "CursorNotFound" };
      const size = Number(c.batchSize ?? cur.rest.length);
      const batch = cur.rest.splice(0, size > 0 ? size : cur.rest.length);
      const done = cur.rest.length === 0;
      if (done) cursors.delete(id);
      return { cursor: { nextBatch: batch, id: BSON.Long.fromNumber(done ? 0 : id), ns: cur.ns }, ok: 1 };
    },
    killcursors: (c) => {
      const ids = ((c.cursors ?? []) as unknown[]).map(Number);
      const killed = ids.filter((id) => cursors.delete(id));
      return {
        cursorsKilled: killed.map((n) => BSON.Long.fromNumber(n)),
        cursorsNotFound: ids.filter((id) => !killed.includes(id)).map((n) => BSON.Long.fromNumber(n)),
        cursorsAlive: [],
        cursorsUnknown: [],
        ok: 1,
      };
    },
    insert: (c, db) => {
      const coll = collection(db, String(c.insert)) ?? [];
      const writeErrors: Document[] = [];
      let n = 0;
      ((c.documents ?? []) as Document[]).forEach((doc, index) => {
        const d = { ...doc };
        d._id ??= new BSON.ObjectId();
        if (coll.some((x) => same(x._id, d._id))) {
          writeErrors.push({
            index,
            code: 11000,
            errmsg: "E11000 duplicate key error collection: _id_ dup key",
          });
          return;
        }
        coll.push(d);
        n++;
      });
      return writeErrors.length ? { n, writeErrors, ok: 1 } : { n, ok: 1 };
    },
    update: (c, db) => {
      const coll = collection(db, String(c.update)) ?? [];
      let n = 0;
      let nModified = 0;
      for (const u of (c.updates ?? []) as Document[]) {
        const targets = coll.filter((d) => matches(d, (u.q ?? {}) as Document));
        for (const doc of u.multi ? targets : targets.slice(0, 1)) {
          n++;
          const before = BSON.EJSON.stringify(doc, { relaxed: false });
          applyUpdate(doc, u.u as Document);
          if (BSON.EJSON.stringify(doc, { relaxed: false }) !== before) nModified++;
        }
      }
      return { n, nModified, ok: 1 };
    },
    delete: (c, db) => {
      const coll = collection(db, String(c.delete), false);
      let n = 0;
      for (const del of (c.deletes ?? []) as Document[]) {
        if (!coll) break;
        for (let i = 0; i < coll.length;) {
          const doc = coll[i];
          if (doc && matches(doc, (del.q ?? {}) as Document)) {
            coll.splice(i, 1);
            n++;
            if (Number(del.limit) === 1) break;
          } else i++;
        }
      }
      return { n, ok: 1 };
    },
  };

  const run = (cmd: Document, connectionId: number): Document => {
    const name = Object.keys(cmd)[0] ?? "";
    commands.push(name);
    const db = typeof cmd.$db === "string" ? cmd.$db : "admin";
    const h = handlers[name.toLowerCase()];
    if (!h) return { ok: 0, errmsg: `no such command: '${name}'`, code: 59, codeName: "CommandNotFound" };
    try {
      return h(cmd, db, connectionId);
    } catch (err) {
      return { ok: 0, errmsg: (err as Error).message, code: 2, codeName: "BadValue" };
    }
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const connectionId = nextConnection++;
    let buf = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4) {
        const len = buf.readInt32LE(0);
        if (buf.length < len) break;
        const msg = buf.subarray(0, len);
        buf = buf.subarray(len);
        const reply = handleMessage(msg, connectionId);
        if (reply) socket.write(reply);
      }
    });
  });

  function handleMessage(msg: Buffer, connectionId: number): Buffer | undefined {
    const requestId = msg.readInt32LE(4);
    const opCode = msg.readInt32LE(12);
    if (opCode === OP_MSG) {
      const flags = msg.readUInt32LE(16);
      const end = flags & CHECKSUM_PRESENT ? msg.length - 4 : msg.length;
      let at = 20;
      let body: Document | undefined;
      const sequences: Record<string, Document[]> = {};
      while (at < end) {
        const kind = msg.readUInt8(at++);
        if (kind === 0) {
          const size = msg.readInt32LE(at);
          body = BSON.deserialize(msg.subarray(at, at + size));
          at += size;
        } else if (kind === 1) {
          const size = msg.readInt32LE(at);
          const stop = at + size;
          const nul = msg.indexOf(0, at + 4);
          const id = msg.toString("utf8", at + 4, nul);
          let p = nul + 1;
          const docs: Document[] = [];
          while (p < stop) {
            const dsize = msg.readInt32LE(p);
            docs.push(BSON.deserialize(msg.subarray(p, p + dsize)));
            p += dsize;
          }
          sequences[id] = docs;
          at = stop;
        } else {
          return opMsg(requestId, { ok: 0, errmsg: `unknown OP_MSG section kind ${kind}`, code: 2 });
        }
      }
      const cmd = { ...(body ?? {}), ...sequences };
      const out = run(cmd, connectionId);
      return flags & MORE_TO_COME ? undefined : opMsg(requestId, out);
    }
    if (opCode === OP_QUERY) {
      // flags(4) fullCollectionName(cstring) numberToSkip(4) numberToReturn(4) query(doc)
      const nul = msg.indexOf(0, 20);
      const at = nul + 1 + 8;
      const size = msg.readInt32LE(at);
      let query = BSON.deserialize(msg.subarray(at, at + size));
      if (query.$query) query = query.$query as Document;
      return opReply(
        requestId,
        run({ ...query, $db: msg.toString("utf8", 20, nul).split(".")[0] }, connectionId),
      );
    }
    return undefined;
  }

  function opMsg(responseTo: number, doc: Document): Buffer {
    const body = BSON.serialize(doc);
    const head = Buffer.alloc(21);
    head.writeInt32LE(21 + body.length, 0);
    head.writeInt32LE(nextRequest++, 4);
    head.writeInt32LE(responseTo, 8);
    head.writeInt32LE(OP_MSG, 12);
    head.writeUInt32LE(0, 16);
    head.writeUInt8(0, 20);
    return Buffer.concat([head, body]);
  }

  function opReply(responseTo: number, doc: Document): Buffer {
    const body = BSON.serialize(doc);
    const head = Buffer.alloc(36);
    head.writeInt32LE(36 + body.length, 0);
    head.writeInt32LE(nextRequest++, 4);
    head.writeInt32LE(responseTo, 8);
    head.writeInt32LE(OP_REPLY, 12);
    head.writeInt32LE(0, 16); // responseFlags
    head.writeBigInt64LE(0n, 20); // cursorID
    head.writeInt32LE(0, 28); // startingFrom
    head.writeInt32LE(1, 32); // numberReturned
    return Buffer.concat([head, body]);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    commands,
    url: (db) => `mongodb://127.0.0.1:${port}/${db}?directConnection=true`,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The hello reply of a standalone mongod (no setName, no topologyVersion: polled monitoring). */
function helloReply(connectionId: number, legacy: boolean): Document {
  return {
    ...(legacy ? { ismaster: true } : {}),
    helloOk: true,
    isWritablePrimary: true,
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId,
    minWireVersion: 0,
    maxWireVersion: 21,
    readOnly: false,
    ok: 1,
  };
}

// --- query language: the subset the connectors use -------------------------------------------

/** Every value at a dotted path; arrays along the way contribute each element (as MongoDB does). */
function valuesAt(doc: unknown, path: string[]): unknown[] {
  if (path.length === 0) return Array.isArray(doc) ? [doc, ...doc] : [doc];
  if (Array.isArray(doc)) return doc.flatMap((el) => valuesAt(el, path));
  if (!doc || typeof doc !== "object") return [];
  const [head = "", ...rest] = path;
  const next = (doc as Document)[head];
  return next === undefined ? (rest.length === 0 ? [undefined] : []) : valuesAt(next, rest);
}

const canon = (v: unknown): string =>
  v instanceof Date ? `date:${v.getTime()}` : BSON.EJSON.stringify({ v }, { relaxed: false });

const same = (a: unknown, b: unknown): boolean => canon(a) === canon(b);

function compare(a: unknown, b: unknown): number | undefined {
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

const isOperatorDoc = (v: unknown): v is Document =>
  !!v &&
  typeof v === "object" &&
  !Array.isArray(v) &&
  !(v instanceof Date) &&
  Object.keys(v).some((k) => k.startsWith("$")) &&
  !("_bsontype" in v);

function matches(doc: Document, filter: Document): boolean {
  for (const [key, cond] of Object.entries(filter)) {
    if (key === "$and") {
      if (!(cond as Document[]).every((f) => matches(doc, f))) return false;
      continue;
    }
    if (key === "$or") {
      if (!(cond as Document[]).some((f) => matches(doc, f))) return false;
      continue;
    }
    if (key.startsWith("$")) throw new Error(`unknown top-level operator: ${key}`);
    const vals = valuesAt(doc, key.split("."));
    if (isOperatorDoc(cond)) {
      for (const [op, arg] of Object.entries(cond)) if (!opMatches(vals, op, arg)) return false;
    } else if (!vals.some((v) => same(v, cond) || (cond === null && v === undefined))) return false;
  }
  return true;
}

function opMatches(vals: unknown[], op: string, arg: unknown): boolean {
  const present = vals.filter((v) => v !== undefined);
  switch (op) {
    case "$eq":
      return vals.some((v) => same(v, arg));
    case "$ne":
      return !vals.some((v) => same(v, arg));
    case "$in":
      return (arg as unknown[]).some((a) => vals.some((v) => same(v, a) || (a === null && v === undefined)));
    case "$nin":
      return !(arg as unknown[]).some((a) => vals.some((v) => same(v, a)));
    case "$lt":
      return present.some((v) => (compare(v, arg) ?? 0) < 0 && compare(v, arg) !== undefined);
    case "$lte":
      return present.some((v) => compare(v, arg) !== undefined && (compare(v, arg) ?? 1) <= 0);
    case "$gt":
      return present.some((v) => (compare(v, arg) ?? 0) > 0);
    case "$gte":
      return present.some((v) => compare(v, arg) !== undefined && (compare(v, arg) ?? -1) >= 0);
    case "$exists":
      return arg ? present.length > 0 : present.length === 0;
    default:
      throw new Error(`unknown operator: ${op}`);
  }
}

function sortDocs(docs: Document[], sort: Document): Document[] {
  const keys = Object.entries(sort);
  return [...docs].sort((a, b) => {
    for (const [path, dir] of keys) {
      const av = valuesAt(a, path.split("."))[0];
      const bv = valuesAt(b, path.split("."))[0];
      const c =
        compare(av, bv) ?? (av === undefined ? (bv === undefined ? 0 : -1) : bv === undefined ? 1 : 0);
      if (c !== 0) return Number(dir) < 0 ? -c : c;
    }
    return 0;
  });
}

/** Inclusion projection with dotted paths; _id stays unless excluded. */
function project(doc: Document, projection: Document | undefined): Document {
  if (!projection || Object.keys(projection).length === 0) return doc;
  const include = Object.entries(projection).filter(([k, v]) => k !== "_id" && Boolean(v));
  const out: Document = {};
  if (projection._id === undefined || Boolean(projection._id)) if (doc._id !== undefined) out._id = doc._id;
  for (const [path] of include) copyPath(doc, out, path.split("."));
  return out;
}

function copyPath(from: unknown, to: Document, path: string[]): void {
  const [head = "", ...rest] = path;
  if (!from || typeof from !== "object" || Array.isArray(from)) return;
  const v = (from as Document)[head];
  if (v === undefined) return;
  if (rest.length === 0) {
    to[head] = v;
    return;
  }
  if (Array.isArray(v)) {
    to[head] = v.map((el) => {
      const o: Document = {};
      copyPath(el, o, rest);
      return o;
    });
    return;
  }
  to[head] ??= {};
  copyPath(v, to[head] as Document, rest);
}

function applyUpdate(doc: Document, update: Document): void {
  const ops = Object.keys(update);
  if (!ops.every((k) => k.startsWith("$"))) {
    // a replacement document keeps the _id
    const id = doc._id;
    for (const k of Object.keys(doc)) delete doc[k];
    Object.assign(doc, update, { _id: id });
    return;
  }
  for (const [op, fields] of Object.entries(update)) {
    for (const [path, value] of Object.entries(fields as Document)) {
      const parts = path.split(".");
      const last = parts.pop() ?? "";
      let cur: Document = doc;
      for (const p of parts) {
        if (!cur[p] || typeof cur[p] !== "object") {
          if (op === "$unset") break;
          cur[p] = {};
        }
        cur = cur[p] as Document;
      }
      if (op === "$set") cur[last] = value;
      else if (op === "$unset") delete cur[last];
      else throw new Error(`unsupported update operator: ${op}`);
    }
  }
}
