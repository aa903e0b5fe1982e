// The audit log: the event spine's durable journal. One append-only RFC 6962 Merkle log per
// retention class and period, Ed25519-signed checkpoints, keyed MACs per entry, expiry by period.
import { type Kysely, sql, type Transaction } from "kysely";
import type { Logger } from "pino";
import { type Clock, systemClock } from "../../platform/clock.ts";
import { Conflict, Invalid, NotFound, Unavailable } from "../../platform/errors.ts";
import type {
  EventJournal,
  JournalItem,
  RetentionClass,
  SecurityEvent,
} from "../../platform/events/index.ts";
import type { Store } from "../../platform/store/index.ts";
import { type BundleManifest, exportBundle } from "./bundle.ts";
import { type CheckpointSigner, createCheckpointSigner } from "./checkpoint.ts";
import { bodyFor, encodeEntry, hashValue, macMatches, refString } from "./entry.ts";
import type { AuditKeys } from "./keys.ts";
import { leafHash, MerkleTree } from "./merkle.ts";
import { type PeriodUnit, periodOf } from "./periods.ts";
import { type RevealableEntry, revealEntries } from "./query.ts";
import type { AuditTables } from "./schema.ts";
import { erasedAll, holderOf, sealPersonal } from "./personal.ts";
import { createSubjectDirectory, personalKinds } from "./subjects.ts";
import { type VerifyReport, verifyStoredLogs } from "./replay.ts";
import { type RowCheckers, startRowCheckers } from "./row-checkers.ts";
import type { Previous } from "./verify.ts";

const DAY = 86_400_000;
const INSERT_CHUNK = 250;
// Every server of a deployment appends to the same logs: a transaction-scoped PostgreSQL advisory
// lock ("rampaudt") makes their appends and checkpoints take turns.
const APPEND_LOCK = "8242523762210866292";

export interface AuditLogOptions {
  store: Store;
  keys: AuditKeys;
  clock?: Clock;
  logger?: Logger;
  retentionDays: Record<RetentionClass, number>;
  period: PeriodUnit;
  checkpointIntervalMs: number;
  /** Name in checkpoint signatures and origins; identifies this deployment's log. */
  name?: string;
  /** Told of every checkpoint signed (for the metrics). */
  onCheckpoint?: (info: CheckpointInfo) => void;
}

export interface CheckpointInfo {
  log: string;
  size: number;
  root: string;
  note: string;
}

export interface LogStatus {
  log: string;
  retention: string;
  periodStart: string;
  periodEnd: string;
  state: "open" | "closed" | "expired";
  size: number;
  /** The latest signed checkpoint: how many entries it covers and when it was signed. */
  checkpoint: { size: number; signedAt: string } | null;
}

/** The latest whole-log verification, as its `audit.verified` / `audit.verify_failed` entry records it. */
export interface LastVerification {
  ok: boolean;
  at: string;
  entries?: number;
  problem?: string;
}

export interface InclusionProof {
  log: string;
  seq: number;
  entryId: string;
  leafHash: string;
  treeSize: number;
  rootHash: string;
  proof: string[];
  checkpoint: string;
}

export interface ConsistencyProof {
  log: string;
  fromSize: number;
  toSize: number;
  fromRoot: string;
  toRoot: string;
  proof: string[];
  checkpoint: string;
}

interface OpenLog {
  log: string;
  retention: RetentionClass;
  periodEnd: Date;
  tree: MerkleTree;
  signedSize: number;
  /** The latest signed checkpoint, kept so proofs need no second query. */
  latest?: { tree_size: number; root_hash: Uint8Array; note: string } | undefined;
  /** Set when the stored entries no longer match a signed checkpoint: never sign over them. */
  tainted: boolean;
}

interface Draft {
  state: OpenLog;
  leaves: Buffer[];
  isNew: boolean;
}

type Db = Kysely<AuditTables>;

/** What an event's people and personal details become in its entry. */
interface StoredRefs {
  actor: string;
  target: string | undefined;
  personal?: Record<string, string>;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

export interface AuditLog extends EventJournal {
  readonly verifierKey: string;
  readonly name: string;
  /** Loads open logs; `readOnly` skips signing pending entries and the checkpoint timer (for offline tools). */
  start(opts?: { readOnly?: boolean }): Promise<void>;
  record(items: readonly JournalItem[]): Promise<boolean[]>;
  /** Signs a checkpoint for every open log that grew since its last one. */
  checkpoint(): Promise<CheckpointInfo[]>;
  verify(opts?: { log?: string; onProgress?: (done: number, total: number) => void }): Promise<VerifyReport>;
  inclusionProof(entryId: string): Promise<InclusionProof>;
  consistencyProof(log: string, fromSize: number, toSize?: number): Promise<ConsistencyProof>;
  logs(): Promise<LogStatus[]>;
  lastVerification(): Promise<LastVerification | undefined>;
  /** Drops every closed log whose retention has passed; returns their ids. */
  expire(): Promise<string[]>;
  hashValue(value: string): string;
  subjectKey(identifier: string): Promise<string | undefined>;
  eraseSubject(identifier: string): Promise<boolean>;
  /**
   * Opens the `[sealed]` personal details of entries from `queryEntries` in place (only for callers
   * allowed to see them): clear values while the person's key exists, `[erased]` after. Details
   * whose key does not open under this log's key file stay `[sealed]`.
   */
  revealPersonal(entries: readonly RevealableEntry[]): Promise<void>;
  /** Writes an offline-verifiable bundle of the entries in [from, to) into `dir`. */
  exportBundle(o: { from: Date; to: Date; dir: string }): Promise<BundleManifest>;
  /** The full tree of a log (from memory if open, rebuilt from stored leaf hashes otherwise). */
  treeOf(log: string): Promise<MerkleTree>;
  close(): Promise<void>;
}

export function createAuditLog(opts: AuditLogOptions): AuditLog {
  const db = opts.store.db.withTables<AuditTables>() as unknown as Db;
  const clock = opts.clock ?? systemClock;
  const name = opts.name ?? "rampart-audit";
  const signer: CheckpointSigner = createCheckpointSigner({ name, privateKey: opts.keys.signingKey });
  const subjects = createSubjectDirectory(opts.keys.dataKeyWrapKey);
  const open = new Map<RetentionClass, OpenLog>();
  const closedTrees = new Map<string, MerkleTree>();
  let timer: NodeJS.Timeout | undefined;
  // Worker threads for `verify`, started on first use and kept so their compiled code stays warm.
  let checkers: RowCheckers | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  for (const [cls, days] of Object.entries(opts.retentionDays)) {
    if (cls === "security" && days < 365)
      throw new Invalid("security retention must be at least 365 days", "audit.retention.security");
  }

  // Appends, checkpoints and expiry run one at a time: sequence numbers are assigned in memory.
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = chain.then(fn, fn);
    chain = run.catch(() => {});
    return run;
  }

  const origin = (log: string) => `${name}/${log}`;

  async function sign(tx: Db, state: OpenLog, now: Date): Promise<CheckpointInfo | undefined> {
    const size = state.tree.size;
    if (size === state.signedSize || state.tainted) return undefined;
    const root = state.tree.root();
    const note = signer.sign({
      origin: origin(state.log),
      size,
      root,
      extensions: [`time ${now.toISOString()}`],
    });
    await tx
      .insertInto("audit_checkpoints")
      .values({ log_id: state.log, tree_size: size, root_hash: root, signed_at: now, note })
      .onConflict((oc) => oc.doNothing())
      .execute();
    return { log: state.log, size, root: root.toString("hex"), note };
  }

  async function loadTree(log: string): Promise<MerkleTree> {
    const tree = new MerkleTree();
    let after = -1;
    for (;;) {
      const rows = await db
        .selectFrom("audit_entries")
        .select(["seq", "leaf_hash"])
        .where("log_id", "=", log)
        .where("seq", ">", after)
        .orderBy("seq")
        .limit(20_000)
        .execute();
      if (rows.length === 0) break;
      for (const r of rows) {
        if (r.seq !== tree.size)
          throw new Error(`audit log ${log} has a gap at entry ${tree.size}; run 'rampart audit verify'`);
        tree.append(r.leaf_hash);
      }
      after = (rows.at(-1) as { seq: number }).seq;
    }
    return tree;
  }

  async function latestCheckpoint(log: string, db_: Db = db) {
    return db_
      .selectFrom("audit_checkpoints")
      .selectAll()
      .where("log_id", "=", log)
      .orderBy("tree_size", "desc")
      .limit(1)
      .executeTakeFirst();
  }

  let readOnly = false;

  async function start(o: { readOnly?: boolean } = {}): Promise<void> {
    readOnly = o.readOnly ?? false;
    const rows = await db
      .selectFrom("audit_logs")
      .selectAll()
      .where("closed_at", "is", null)
      .where("expired_at", "is", null)
      .execute();
    for (const r of rows) {
      const tree = await loadTree(r.log_id);
      const cp = await latestCheckpoint(r.log_id);
      const state: OpenLog = {
        log: r.log_id,
        retention: r.retention as RetentionClass,
        periodEnd: r.period_end,
        tree,
        signedSize: cp?.tree_size ?? 0,
        latest: cp,
        tainted: false,
      };
      if (cp && (cp.tree_size > tree.size || !tree.root(cp.tree_size).equals(cp.root_hash))) {
        state.tainted = true;
        opts.logger?.error(
          { log: r.log_id },
          "audit log does not match its last signed checkpoint; no further checkpoints will be signed for it; run 'rampart audit verify'",
        );
      }
      open.set(state.retention, state);
    }
    if (o.readOnly) return;
    await wrapLegacyDataKeys();
    // Entries acknowledged before a crash but not yet signed get a checkpoint now.
    await checkpoint();
    if (opts.checkpointIntervalMs > 0) {
      timer = setInterval(() => {
        void checkpoint().catch((err) =>
          opts.logger?.warn({ err: (err as Error).message }, "audit checkpoint failed"),
        );
      }, opts.checkpointIntervalMs);
      timer.unref();
    }
  }

  // Data keys stored unwrapped by an older version are wrapped now (a migration cannot see the
  // key file). Not under a key file that does not match the log: that would lock them away.
  async function wrapLegacyDataKeys(): Promise<void> {
    const sample = await db.selectFrom("audit_entries").select(["body", "mac"]).limit(1).executeTakeFirst();
    if (
      sample &&
      !macMatches(opts.keys.entryMacKey, leafHash(Buffer.from(sample.body, "utf8")), Buffer.from(sample.mac))
    ) {
      opts.logger?.error(
        "audit entries do not match this audit key file; people's data keys were left as they are; run 'rampart audit verify'",
      );
      return;
    }
    const wrapped = await subjects.wrapLegacyKeys(db);
    if (wrapped > 0) opts.logger?.info({ wrapped }, "audit data keys stored unwrapped were wrapped");
  }

  /**
   * Under the deployment-wide lock, brings the in-memory trees up to what is stored: another server
   * may have appended, opened a new period's log or closed one since this server last wrote. Only
   * committed rows are read, so what is appended here stays valid if the caller's transaction fails.
   * PGlite belongs to one process, which already holds everything.
   */
  async function catchUp(tx: Db): Promise<void> {
    if (opts.store.kind !== "postgres") return;
    await sql`select pg_advisory_xact_lock(${APPEND_LOCK}::bigint)`.execute(tx);
    const stored = await tx
      .selectFrom("audit_logs")
      .select(["log_id", "retention", "period_end"])
      .where("closed_at", "is", null)
      .where("expired_at", "is", null)
      .execute();
    for (const [cls, s] of open) if (!stored.some((r) => r.log_id === s.log)) open.delete(cls);
    for (const r of stored) {
      const cls = r.retention as RetentionClass;
      let state = open.get(cls);
      if (!state || state.log !== r.log_id) {
        const cp = await latestCheckpoint(r.log_id, tx);
        state = {
          log: r.log_id,
          retention: cls,
          periodEnd: r.period_end,
          tree: new MerkleTree(),
          signedSize: cp?.tree_size ?? 0,
          latest: cp,
          tainted: false,
        };
        open.set(cls, state);
      }
      const tree = state.tree;
      const missing = await tx
        .selectFrom("audit_entries")
        .select(["seq", "leaf_hash"])
        .where("log_id", "=", r.log_id)
        .where("seq", ">=", tree.size)
        .orderBy("seq")
        .execute();
      for (const m of missing) {
        if (m.seq !== tree.size)
          throw new Error(
            `audit log ${r.log_id} has a gap at entry ${tree.size}; run 'rampart audit verify'`,
          );
        tree.append(m.leaf_hash);
      }
    }
  }

  // The log for `cls` at `now`, opening a new period's log (and closing the old one) when needed.
  async function draftFor(
    tx: Db,
    cls: RetentionClass,
    now: Date,
    drafts: Map<RetentionClass, Draft>,
  ): Promise<Draft> {
    const existing = drafts.get(cls);
    if (existing) return existing;
    const period = periodOf(now, opts.period);
    const log = `${cls}/${period.key}`;
    const current = open.get(cls);
    // A server whose clock is behind another's keeps appending to the newer period's log.
    if (current && (current.log === log || current.periodEnd.getTime() > now.getTime())) {
      const d = { state: current, leaves: [], isNew: false };
      drafts.set(cls, d);
      return d;
    }
    let previous: Previous | null = null;
    if (current) {
      const info = await sign(tx, current, now);
      await tx.updateTable("audit_logs").set({ closed_at: now }).where("log_id", "=", current.log).execute();
      previous = { log: current.log, size: current.tree.size, root: current.tree.root().toString("hex") };
      if (info) opts.logger?.info({ log: current.log, size: info.size }, "audit log closed");
    } else {
      const last = await tx
        .selectFrom("audit_logs")
        .select("log_id")
        .where("retention", "=", cls)
        .orderBy("period_start", "desc")
        .limit(1)
        .executeTakeFirst();
      const cp = last ? await latestCheckpoint(last.log_id, tx) : undefined;
      if (last && cp) previous = { log: last.log_id, size: cp.tree_size, root: hex(cp.root_hash) };
    }
    await tx
      .insertInto("audit_logs")
      .values({
        log_id: log,
        retention: cls,
        period_start: period.start,
        period_end: period.end,
        opened_at: now,
        closed_at: null,
        expired_at: null,
      })
      .execute();
    const state: OpenLog = {
      log,
      retention: cls,
      periodEnd: period.end,
      tree: new MerkleTree(),
      signedSize: 0,
      tainted: false,
    };
    const d: Draft = { state, leaves: [], isNew: true };
    drafts.set(cls, d);
    // The first entry of every log chains it to the previous period's final root.
    const opening: SecurityEvent = {
      id: `${log}#open`,
      time: now.toISOString(),
      type: "audit.log_opened",
      severity: "info",
      actor: { kind: "system", id: "rampart" },
      outcome: "success",
      retention: cls,
      data: { retention: cls, period: period.key, previous },
    };
    await insertRows(tx, d, [{ event: opening, actor: "system:rampart", target: undefined }]);
    return d;
  }

  async function insertRows(
    tx: Db,
    d: Draft,
    rows: Array<{ event: SecurityEvent } & StoredRefs>,
  ): Promise<void> {
    // Encode the next chunk while the database writes the previous one.
    let pending: Promise<unknown> | undefined;
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const values = rows.slice(i, i + INSERT_CHUNK).map(({ event, actor, target, personal }) => {
        const seq = d.state.tree.size + d.leaves.length;
        const enc = encodeEntry(
          bodyFor(event, d.state.log, seq, actor, target, opts.keys.valueHashKey, personal),
          opts.keys.entryMacKey,
        );
        d.leaves.push(enc.leaf);
        return {
          log_id: d.state.log,
          seq,
          id: event.id,
          time: new Date(enc.body.time),
          type: event.type,
          actor,
          target: target ?? null,
          body: enc.text,
          leaf_hash: enc.leaf,
          mac: enc.mac,
        };
      });
      await pending;
      pending = tx.insertInto("audit_entries").values(values).execute();
      // A failure is awaited (and thrown) at the next chunk or below, never left unhandled.
      pending.catch(() => {});
      await new Promise(setImmediate);
    }
    await pending;
  }

  async function pseudonymise(tx: Db, events: readonly SecurityEvent[], now: Date) {
    const people = new Set<string>();
    for (const e of events) {
      if (personalKinds.has(e.actor.kind)) people.add(e.actor.id);
      if (e.target && personalKinds.has(e.target.kind)) people.add(e.target.id);
    }
    const keys = people.size > 0 ? await subjects.keysFor(tx, [...people], now) : new Map<string, string>();
    const ref = (r: { kind: string; id: string }) =>
      refString(personalKinds.has(r.kind) ? { kind: r.kind, id: keys.get(r.id) as string } : r);
    // Personal details are sealed under their person's data key; only those events need the keys.
    const holders = new Set<string>();
    for (const e of events) {
      const h = e.personal ? holderOf(e) : undefined;
      if (h) holders.add(keys.get(h.id) as string);
    }
    const dataKeys =
      holders.size > 0
        ? await subjects.dataKeysFor(tx, [...holders])
        : new Map<string, Uint8Array | undefined>();
    const seal = (e: SecurityEvent): Record<string, string> | undefined => {
      if (!e.personal || Object.keys(e.personal).length === 0) return undefined;
      const h = holderOf(e);
      const subjectKey = h ? keys.get(h.id) : undefined;
      const dataKey = subjectKey ? dataKeys.get(subjectKey) : undefined;
      if (subjectKey && dataKey) return sealPersonal(dataKey, subjectKey, e.personal);
      // No person to seal for, erased meanwhile, or a key this key file cannot open: the values
      // are not kept at all.
      opts.logger?.warn(
        { type: e.type, id: e.id, fields: Object.keys(e.personal) },
        subjectKey && dataKeys.has(subjectKey)
          ? "personal details were not stored: the person's data key does not open under this audit key file"
          : "personal details of an event without a person were not stored",
      );
      return erasedAll(e.personal);
    };
    return (e: SecurityEvent): StoredRefs => {
      const personal = seal(e);
      return {
        actor: ref(e.actor),
        target: e.target ? ref(e.target) : undefined,
        ...(personal ? { personal } : {}),
      };
    };
  }

  function record(items: readonly JournalItem[]): Promise<boolean[]> {
    return exclusive(async () => {
      const now = clock.now();
      const fresh = items.map(() => true);
      const drafts = new Map<RetentionClass, Draft>();
      try {
        await db.transaction().execute(async (t) => {
          const tx = t as unknown as Transaction<AuditTables>;
          await catchUp(tx);
          await dedupe(tx, items, fresh, now);
          const events = items.filter((_, i) => fresh[i]).flatMap((it) => it.events);
          if (events.length === 0) return;
          const refs = await pseudonymise(tx, events, now);
          const byClass = new Map<RetentionClass, Array<{ event: SecurityEvent } & StoredRefs>>();
          for (const e of events) {
            const list = byClass.get(e.retention) ?? [];
            byClass.set(e.retention, list);
            list.push({ event: e, ...refs(e) });
          }
          for (const [cls, rows] of byClass) await insertRows(tx, await draftFor(tx, cls, now, drafts), rows);
        });
      } catch (err) {
        subjects.reset();
        opts.logger?.warn({ err: (err as Error).message }, "audit append failed");
        // Callers (a gateway's batch, the event bus) retry; the database's own words stay in the log.
        throw new Unavailable("audit log unavailable; retry later", { cause: err });
      }
      // Committed: only now does the in-memory state move.
      for (const d of drafts.values()) {
        if (d.isNew) {
          const old = open.get(d.state.retention);
          if (old) old.signedSize = old.tree.size;
          open.set(d.state.retention, d.state);
        }
        d.state.tree.appendMany(d.leaves);
      }
      return fresh;
    });
  }

  async function dedupe(tx: Db, items: readonly JournalItem[], fresh: boolean[], now: Date): Promise<void> {
    const seen = new Set<string>();
    const rows: AuditTables["event_batches"][] = [];
    items.forEach((it, i) => {
      if (!it.batchId) return;
      if (seen.has(it.batchId)) fresh[i] = false;
      else {
        seen.add(it.batchId);
        rows.push({
          batch_id: it.batchId,
          source: it.source ?? null,
          received_at: now,
          event_count: it.events.length,
        });
      }
    });
    if (rows.length === 0) return;
    const inserted = await tx
      .insertInto("event_batches")
      .values(rows)
      .onConflict((oc) => oc.column("batch_id").doNothing())
      .returning("batch_id")
      .execute();
    const stored = new Set(inserted.map((r) => r.batch_id));
    items.forEach((it, i) => {
      if (it.batchId && !stored.has(it.batchId)) fresh[i] = false;
      else if (it.batchId) stored.delete(it.batchId);
    });
  }

  function checkpoint(): Promise<CheckpointInfo[]> {
    return exclusive(async () => {
      const now = clock.now();
      const out: CheckpointInfo[] = [];
      await db.transaction().execute(async (tx) => {
        await catchUp(tx as unknown as Db);
        for (const s of open.values()) {
          const info = await sign(tx as unknown as Db, s, now);
          if (info) out.push(info);
        }
      });
      for (const info of out) {
        const s = [...open.values()].find((o) => o.log === info.log);
        if (s) {
          s.signedSize = info.size;
          s.latest = { tree_size: info.size, root_hash: Buffer.from(info.root, "hex"), note: info.note };
        }
        opts.onCheckpoint?.(info);
      }
      return out;
    });
  }

  async function entryRow(entryId: string) {
    const row = await db
      .selectFrom("audit_entries")
      .select(["log_id", "seq", "id", "body", "mac"])
      .where("id", "=", entryId)
      .executeTakeFirst();
    if (!row) throw new NotFound(`audit entry ${entryId} not found`);
    // Prove what is stored now, and refuse if it is no longer what was logged.
    const leaf = leafHash(Buffer.from(row.body, "utf8"));
    if (!macMatches(opts.keys.entryMacKey, leaf, Buffer.from(row.mac))) {
      throw new Conflict(
        `audit entry ${entryId} (${row.log_id} entry ${row.seq}) was modified after it was logged; run 'rampart audit verify'`,
      );
    }
    return { ...row, leaf_hash: leaf };
  }

  async function treeOf(log: string): Promise<MerkleTree> {
    for (const s of open.values()) if (s.log === log) return s.tree;
    let t = closedTrees.get(log);
    if (!t) {
      t = await loadTree(log);
      if (closedTrees.size >= 2) closedTrees.delete(closedTrees.keys().next().value as string);
      closedTrees.set(log, t);
    }
    return t;
  }

  async function signedAtLeast(log: string, size: number) {
    const cached = [...open.values()].find((s) => s.log === log)?.latest;
    if (cached && cached.tree_size >= size) return cached;
    let cp = await latestCheckpoint(log);
    if (!cp || cp.tree_size < size) {
      await checkpoint();
      cp = await latestCheckpoint(log);
    }
    if (!cp || cp.tree_size < size)
      throw new NotFound(`no signed checkpoint of ${log} covers size ${size} yet`);
    return cp;
  }

  async function inclusionProof(entryId: string): Promise<InclusionProof> {
    const row = await entryRow(entryId);
    const cp = await signedAtLeast(row.log_id, row.seq + 1);
    const tree = await treeOf(row.log_id);
    return {
      log: row.log_id,
      seq: row.seq,
      entryId: row.id,
      leafHash: hex(row.leaf_hash),
      treeSize: cp.tree_size,
      rootHash: hex(cp.root_hash),
      proof: tree.inclusionProof(row.seq, cp.tree_size).map((h) => h.toString("hex")),
      checkpoint: cp.note,
    };
  }

  async function consistencyProof(log: string, fromSize: number, toSize?: number): Promise<ConsistencyProof> {
    const cp =
      toSize === undefined
        ? await signedAtLeast(log, fromSize)
        : await db
            .selectFrom("audit_checkpoints")
            .selectAll()
            .where("log_id", "=", log)
            .where("tree_size", "=", toSize)
            .executeTakeFirst();
    if (!cp) throw new NotFound(`no signed checkpoint of ${log} at size ${toSize}`);
    const tree = await treeOf(log);
    if (fromSize > cp.tree_size)
      throw new Invalid(`from size ${fromSize} is larger than the checkpoint size ${cp.tree_size}`, "from");
    return {
      log,
      fromSize,
      toSize: cp.tree_size,
      fromRoot: tree.root(fromSize).toString("hex"),
      toRoot: hex(cp.root_hash),
      proof: tree.consistencyProof(fromSize, cp.tree_size).map((h) => h.toString("hex")),
      checkpoint: cp.note,
    };
  }

  async function logs(): Promise<LogStatus[]> {
    const rows = await db
      .selectFrom("audit_logs")
      .selectAll()
      .orderBy("retention")
      .orderBy("period_start")
      .execute();
    const sizes = await db
      .selectFrom("audit_entries")
      .select((eb) => ["log_id", eb.fn.countAll().as("n")])
      .groupBy("log_id")
      .execute();
    const size = new Map(sizes.map((s) => [s.log_id, Number(s.n)]));
    const signed = await db
      .selectFrom("audit_checkpoints")
      .select((eb) => ["log_id", eb.fn.max("tree_size").as("size"), eb.fn.max("signed_at").as("at")])
      .groupBy("log_id")
      .execute();
    const checkpoint = new Map(
      signed.map((c) => [c.log_id, { size: Number(c.size), signedAt: new Date(c.at).toISOString() }]),
    );
    return rows.map((r) => ({
      log: r.log_id,
      retention: r.retention,
      periodStart: r.period_start.toISOString(),
      periodEnd: r.period_end.toISOString(),
      state: r.expired_at ? "expired" : r.closed_at ? "closed" : "open",
      size: size.get(r.log_id) ?? 0,
      checkpoint: checkpoint.get(r.log_id) ?? null,
    }));
  }

  async function lastVerification(): Promise<LastVerification | undefined> {
    const row = await db
      .selectFrom("audit_entries")
      .select(["type", "time", "body"])
      .where("type", "in", ["audit.verified", "audit.verify_failed"])
      .orderBy("time", "desc")
      .limit(1)
      .executeTakeFirst();
    if (!row) return undefined;
    const data = (JSON.parse(row.body) as { data?: { entries?: unknown; problem?: unknown } }).data ?? {};
    return {
      ok: row.type === "audit.verified",
      at: new Date(row.time).toISOString(),
      ...(typeof data.entries === "number" ? { entries: data.entries } : {}),
      ...(typeof data.problem === "string" ? { problem: data.problem } : {}),
    };
  }

  function expire(): Promise<string[]> {
    return exclusive(async () => {
      const now = clock.now();
      // A log whose period has ended closes even if no event came to open the next one.
      for (const [cls, state] of open) {
        if (state.periodEnd > now) continue;
        await db.transaction().execute(async (tx) => {
          await sign(tx as unknown as Db, state, now);
          await tx
            .updateTable("audit_logs")
            .set({ closed_at: now })
            .where("log_id", "=", state.log)
            .execute();
        });
        open.delete(cls);
      }
      const candidates = await db
        .selectFrom("audit_logs")
        .selectAll()
        .where("expired_at", "is", null)
        .where("closed_at", "is not", null)
        .execute();
      const due = candidates.filter(
        (l) =>
          l.period_end.getTime() + (opts.retentionDays[l.retention as RetentionClass] ?? Infinity) * DAY <=
          now.getTime(),
      );
      for (const l of due) {
        await db.transaction().execute(async (tx) => {
          await sql`select set_config('rampart.audit_expiry', 'on', true)`.execute(tx);
          await tx.deleteFrom("audit_entries").where("log_id", "=", l.log_id).execute();
          await tx
            .updateTable("audit_logs")
            .set({ expired_at: now })
            .where("log_id", "=", l.log_id)
            .execute();
        });
        closedTrees.delete(l.log_id);
        opts.logger?.info({ log: l.log_id }, "audit log expired");
      }
      return due.map((l) => l.log_id);
    });
  }

  return {
    get verifierKey() {
      return signer.verifierKey;
    },
    name,
    start,
    record,
    checkpoint,
    verify: (o) =>
      verifyStoredLogs(
        {
          db,
          store: opts.store,
          verifierKey: signer.verifierKey,
          macKey: opts.keys.entryMacKey,
          origin,
          checkers: () => (checkers ??= startRowCheckers(opts.keys.entryMacKey)),
        },
        o,
      ),
    inclusionProof,
    consistencyProof,
    logs,
    lastVerification,
    expire,
    treeOf,
    exportBundle: (o) =>
      exportBundle({ db, keys: opts.keys, verifierKey: signer.verifierKey, treeOf, now: clock.now(), ...o }),
    hashValue: (v) => hashValue(opts.keys.valueHashKey, v),
    subjectKey: (id) => subjects.lookup(db, id),
    eraseSubject: (id) => subjects.erase(db, id),
    async revealPersonal(entries) {
      const stillSealed = await revealEntries(db, opts.keys.dataKeyWrapKey, entries);
      if (stillSealed > 0)
        opts.logger?.warn(
          { entries: stillSealed },
          "personal details stay sealed: their data keys do not open under this audit key file",
        );
    },
    async close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await checkers?.close();
      checkers = undefined;
      if (!readOnly) await checkpoint();
    },
  };
}
