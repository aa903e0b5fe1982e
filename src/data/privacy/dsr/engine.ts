// The data-subject-request engine: plans a request over the data map, walks the stores through
// their connectors, then erases (mask or delete) or rectifies what access found, and signs a
// receipt. Every step is persisted per collection, so a request resumes after a crash: finished
// collections are skipped, the one that was running is run again (connector writes are idempotent
// and masked values deterministic within a request).
import { randomUUID } from "node:crypto";
import canonicalize from "canonicalize";
import type { Kysely } from "kysely";
import type { Clock } from "../../../platform/clock.ts";
import { Conflict, Invalid, NotFound, RampartError } from "../../../platform/errors.ts";
import { newEvent, type SecurityEvent } from "../../../platform/events/index.ts";
import type { Store } from "../../../platform/store/index.ts";
import { parseInput } from "../input.ts";
import {
  allFields,
  type Collection,
  type CollectionAddress,
  categoryCovers,
  collectionAddress,
  type DataMap,
  type Field,
} from "../map/model.ts";
import { createMasker, defaultMasking, type MaskingStrategy, newMaskingSecret } from "../masking.ts";
import {
  type AccessExport,
  type ExportFormat,
  exportJson,
  type ExportRow,
  renderExport,
  sha256Hex,
} from "./export.ts";
import { collectionsOf, type GraphPlan, planRequest } from "./graph.ts";
import { type ReceiptSigner, signReceipt } from "./receipt.ts";
import {
  anyCovered,
  correctRow,
  foundHash,
  keepMapped,
  mappedView,
  type MaskRule,
  maskRow,
  valuesAt,
} from "./rows.ts";
import { type DsrTables, dsrRequestSchema, type TaskPhase } from "./schema.ts";
import type {
  CollectionOutcome,
  Connector,
  Correction,
  DsrEngine,
  DsrPlan,
  DsrReceipt,
  DsrRequest,
  ErasurePolicy,
  FoundRow,
  MapSource,
  RequestKind,
  RowChange,
} from "./types.ts";

export const DEFAULT_MAX_ROWS_PER_COLLECTION = 10_000;

export interface DsrEngineDeps {
  store: Store;
  map: MapSource;
  /** The connector of the store that holds a dataset. */
  connectorFor: (datasetKey: string) => Connector;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  signer: ReceiptSigner;
  maxRowsPerCollection?: number;
  /** How long this engine's claim on a request holds without progress (default 10 minutes). */
  leaseMs?: number;
}

/** A plan as the engine reports it: the access order, what is only reported unreachable, and the erasure layers. */
export type DsrPlanSummary = DsrPlan & { erasureLayers: string[][] };

export interface DsrEngineService extends DsrEngine {
  plan(kind: RequestKind, identityTypes: readonly string[]): DsrPlanSummary;
}

type Db = Kysely<DsrTables>;
type RequestRow = DsrTables["privacy_dsr_requests"];
type TaskOutcome = Partial<Omit<CollectionOutcome, "collection">>;
interface Task {
  state: string;
  rows: FoundRow[] | undefined;
  outcome: TaskOutcome;
}

const actor = { kind: "system", id: "privacy" };
const HMAC: MaskingStrategy = { strategy: "hmac" };

/** Another engine took the request over (this one stalled past its lease): stop without touching its state. */
class LeaseLost extends Conflict {}

/** A failure step that names where it happened and why, without the values involved. */
class StepFailure extends Error {
  readonly reason: string;
  constructor(reason: string, cause: unknown) {
    super(reason, { cause });
    this.reason = reason;
  }
}

const kindOf = (err: unknown) =>
  err instanceof RampartError ? err.code : err instanceof Error ? err.name || "Error" : "error";

/** Resolves "dataset.collection.path" (dataset keys may hold dots) to a collection and a mapped field. */
function resolveCorrection(
  collections: Map<CollectionAddress, Collection>,
  c: Correction,
  index: number,
): { address: CollectionAddress; field: Field } {
  const where = `corrections.${index}.field`;
  const candidates = [...collections.keys()]
    .filter((a) => c.field.startsWith(`${a}.`))
    .sort((x, y) => y.length - x.length);
  for (const address of candidates) {
    const path = c.field.slice(address.length + 1);
    const field = allFields((collections.get(address) as Collection).fields).find((f) => f.path === path);
    if (!field) continue;
    if (field.primaryKey)
      throw new Invalid("a primary key cannot be corrected; its rows are addressed by it", where);
    if (field.fields.length > 0)
      throw new Invalid("an object field is corrected through its nested fields", where);
    return { address, field };
  }
  throw new Invalid(`'${c.field}' is not a field of the data map (expected dataset.collection.field)`, where);
}

/**
 * How erasure treats the fields that link rows. Primary keys locate rows and foreign-key
 * constraints hold on them, so a primary key, and every field referencing one, keeps its value
 * (as Fides does) unless the key itself opts in with a masking_strategy_override: then it and its
 * references are masked with the request's HMAC, equal everywhere. Other linked fields (an email
 * joining two stores) are always masked with that HMAC, so the links survive the erasure.
 */
function linkFields(map: DataMap): { locked: Set<string>; keys: Set<string> } {
  const fields = new Map<string, Field>();
  const edges: [string, string][] = [];
  for (const d of map.datasets)
    for (const c of d.collections)
      for (const f of allFields(c.fields)) {
        const at = `${collectionAddress(c)}.${f.path}`;
        fields.set(at, f);
        for (const r of f.references) edges.push([at, `${r.dataset}.${r.collection}.${r.field}`]);
      }
  const locked = new Set<string>();
  const keys = new Set<string>();
  // `preserve` is no opt-in: it says the key stays.
  const optsIn = (f: Field) => f.masking !== undefined && f.masking.strategy !== "preserve";
  for (const [at, f] of fields) if (f.primaryKey) (optsIn(f) ? keys : locked).add(at);
  for (const [from, to] of edges) {
    const pk = [from, to].find((x) => fields.get(x)?.primaryKey);
    const side = pk === undefined || keys.has(pk) ? keys : locked;
    side.add(from);
    side.add(to);
  }
  return { locked, keys };
}

/** The data-subject-request engine over `store`; see DsrEngine. */
export function createDsrEngine(deps: DsrEngineDeps): DsrEngineService {
  const db: Db = deps.store.db.withTables<DsrTables>();
  const maxRows = deps.maxRowsPerCollection ?? DEFAULT_MAX_ROWS_PER_COLLECTION;
  const inflight = new Map<string, Promise<DsrReceipt>>();
  const leaseMs = deps.leaseMs ?? 600_000;
  // Which engine runs a request: servers resuming at start must not run the same request twice.
  const owner = randomUUID();
  const leaseEnd = () => new Date(deps.clock.now().getTime() + leaseMs);

  /** Takes the request if no other engine holds a live claim on it; whether it did. */
  const claim = async (id: string): Promise<boolean> => {
    const now = deps.clock.now();
    const r = await db
      .updateTable("privacy_dsr_requests")
      .set((eb) => ({
        status: "running",
        error: null,
        attempts: eb("attempts", "+", 1),
        lease_owner: owner,
        lease_until: leaseEnd(),
      }))
      .where("id", "=", id)
      .where("status", "<>", "completed")
      .where((eb) =>
        eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", now), eb("lease_owner", "=", owner)]),
      )
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  };

  /** Extends the claim at every step; a claim another engine took over stops this run. */
  const renew = async (id: string) => {
    const r = await db
      .updateTable("privacy_dsr_requests")
      .set({ lease_until: leaseEnd() })
      .where("id", "=", id)
      .where("lease_owner", "=", owner)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new LeaseLost(`request ${id} was taken over by another server`);
  };

  const emit = (
    type: string,
    id: string,
    data: Record<string, unknown>,
    o: { outcome?: "success" | "failure"; severity?: "info" | "medium" } = {},
  ) =>
    deps.emit(
      newEvent(
        {
          type,
          actor,
          target: { kind: "privacy_request", id },
          data,
          retention: "audit",
          severity: o.severity ?? "info",
          outcome: o.outcome ?? "success",
        },
        deps.clock.now(),
      ),
    );

  const policyOf = (given: Partial<ErasurePolicy> | undefined): ErasurePolicy => ({
    categories: given?.categories?.length ? given.categories : ["user"],
    masking: given?.masking ?? defaultMasking,
    ...(given?.force ? { force: given.force } : {}),
  });

  const planFor = (
    map: DataMap,
    kind: RequestKind,
    identityTypes: readonly string[],
    policy: ErasurePolicy,
  ) => planRequest(map, kind, identityTypes, kind === "erasure" ? { categories: policy.categories } : {});

  const loadTasks = async (id: string) => {
    const rows = await db.selectFrom("privacy_dsr_tasks").selectAll().where("request_id", "=", id).execute();
    const tasks = new Map<string, Task>();
    for (const r of rows)
      tasks.set(`${r.phase}|${r.collection}`, {
        state: r.state,
        rows: r.rows === null ? undefined : (JSON.parse(r.rows) as FoundRow[]),
        outcome: r.outcome === null ? {} : (JSON.parse(r.outcome) as TaskOutcome),
      });
    return tasks;
  };

  const saveTask = async (
    id: string,
    phase: TaskPhase,
    collection: CollectionAddress,
    state: "running" | "done",
    rows?: FoundRow[],
    outcome?: TaskOutcome,
  ) => {
    const values = {
      request_id: id,
      phase,
      collection,
      state,
      rows: rows === undefined ? null : JSON.stringify(rows),
      outcome: outcome === undefined ? null : JSON.stringify(outcome),
      updated_at: deps.clock.now(),
    };
    await renew(id);
    await db
      .insertInto("privacy_dsr_tasks")
      .values(values)
      .onConflict((oc) =>
        oc
          .columns(["request_id", "phase", "collection"])
          .doUpdateSet(
            state === "running"
              ? { state, updated_at: values.updated_at }
              : { state, rows: values.rows, outcome: values.outcome, updated_at: values.updated_at },
          ),
      )
      .execute();
  };

  /** Records finished access tasks in one statement (reads need no per-step record: redoing one is harmless). */
  const saveAccess = async (
    id: string,
    done: { address: CollectionAddress; rows: FoundRow[]; outcome: TaskOutcome }[],
  ) => {
    if (done.length === 0) return;
    const at = deps.clock.now();
    await renew(id);
    await db
      .insertInto("privacy_dsr_tasks")
      .values(
        done.map((d) => ({
          request_id: id,
          phase: "access" as TaskPhase,
          collection: d.address,
          state: "done",
          rows: JSON.stringify(d.rows),
          outcome: JSON.stringify(d.outcome),
          updated_at: at,
        })),
      )
      .onConflict((oc) =>
        oc.columns(["request_id", "phase", "collection"]).doUpdateSet((eb) => ({
          state: eb.ref("excluded.state"),
          rows: eb.ref("excluded.rows"),
          outcome: eb.ref("excluded.outcome"),
          updated_at: eb.ref("excluded.updated_at"),
        })),
      )
      .execute();
  };

  /** Access: Kahn order, each collection queried with the identities and every value upstream found. */
  const access = async (id: string, plan: GraphPlan, identities: Record<string, string>) => {
    const tasks = await loadTasks(id);
    const found = new Map<CollectionAddress, FoundRow[]>();
    const outcomes = new Map<CollectionAddress, TaskOutcome>();
    const done: { address: CollectionAddress; rows: FoundRow[]; outcome: TaskOutcome }[] = [];
    for (const address of plan.order) {
      const t = tasks.get(`access|${address}`);
      if (t?.state === "done" && t.rows) {
        found.set(address, t.rows);
        outcomes.set(address, t.outcome);
        continue;
      }
      const node = plan.nodes.get(address);
      if (!node) continue;
      const { collection } = node;
      try {
        const inputs = new Map<string, Map<string, unknown>>();
        const add = (path: string, v: unknown) => {
          if (v === null || v === undefined || typeof v === "object") return;
          let m = inputs.get(path);
          if (!m) inputs.set(path, (m = new Map()));
          m.set(canonicalize(v) ?? "", v);
        };
        for (const i of node.identities) add(i.toPath, identities[i.identityType]);
        for (const r of node.references)
          for (const row of found.get(r.from) ?? [])
            for (const v of valuesAt(row.values, r.fromPath.split("."))) add(r.toPath, v);
        const connector = deps.connectorFor(collection.dataset);
        const rows = new Map<string, FoundRow>();
        for (const [path, values] of inputs) {
          for (const row of await connector.find(collection, path, [...values.values()]))
            rows.set(row.id, keepMapped(collection, row));
          if (rows.size > maxRows)
            throw new StepFailure(
              `access of ${address} found more than ${maxRows} rows for one subject; check its references or raise maxRowsPerCollection`,
              undefined,
            );
        }
        const list = [...rows.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        const outcome = { found: list.length, foundHash: foundHash(collection, list) };
        done.push({ address, rows: list, outcome });
        found.set(address, list);
        outcomes.set(address, outcome);
      } catch (err) {
        if (err instanceof StepFailure) throw err;
        throw new StepFailure(`access of ${address} failed (${kindOf(err)})`, err);
      }
    }
    await saveAccess(id, done);
    return { found, outcomes };
  };

  /** Erasure: layers of collections in parallel, each masked or deleted from the rows access found. */
  const erase = async (
    id: string,
    map: DataMap,
    plan: GraphPlan,
    found: Map<CollectionAddress, FoundRow[]>,
    policy: ErasurePolicy,
    secret: Buffer,
  ) => {
    const tasks = await loadTasks(id);
    const masker = createMasker(secret);
    const { locked, keys } = linkFields(map);
    const outcomes = new Map<CollectionAddress, TaskOutcome>();
    for (const layer of plan.erasureLayers) {
      const results = await Promise.allSettled(
        layer.map(async (address) => {
          const t = tasks.get(`erasure|${address}`);
          if (t?.state === "done") {
            outcomes.set(address, t.outcome);
            return;
          }
          const collection = (plan.nodes.get(address) as { collection: Collection }).collection;
          const rule: MaskRule = {
            covers: (f) =>
              !locked.has(`${address}.${f.path}`) &&
              f.masking?.strategy !== "preserve" &&
              f.categories.some((c) => policy.categories.some((w) => categoryCovers(w, c))),
            // Keys keep their links: the same HMAC in every store within this request.
            strategy: (f) => (keys.has(`${address}.${f.path}`) ? HMAC : (f.masking ?? policy.masking)),
          };
          const rows = found.get(address) ?? [];
          const mode = policy.force ?? collection.erasure;
          let outcome: TaskOutcome = { deleted: 0, masked: 0 };
          try {
            if (rows.length > 0 && anyCovered(collection.fields, rule)) {
              await saveTask(id, "erasure", address, "running");
              const connector = deps.connectorFor(collection.dataset);
              if (mode === "delete") {
                await connector.delete(collection, rows);
                outcome = { deleted: rows.length, masked: 0 };
              } else {
                const changes: RowChange[] = rows
                  .map((row) => ({ row, set: maskRow(collection, row.values, masker, rule) }))
                  .filter((c) => Object.keys(c.set).length > 0);
                if (changes.length > 0) await connector.update(collection, changes);
                outcome = { deleted: 0, masked: changes.length };
              }
            }
            await saveTask(id, "erasure", address, "done", undefined, outcome);
            outcomes.set(address, outcome);
          } catch (err) {
            throw new StepFailure(`erasure of ${address} failed (${kindOf(err)})`, err);
          }
        }),
      );
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    }
    return outcomes;
  };

  /** Rectification: every correction written on every row access found in its collection. */
  const rectify = async (
    id: string,
    plan: GraphPlan,
    found: Map<CollectionAddress, FoundRow[]>,
    corrections: Correction[],
  ) => {
    const collections = new Map([...plan.nodes].map(([a, n]) => [a, n.collection]));
    const byCollection = new Map<CollectionAddress, { path: string[]; value: unknown }[]>();
    corrections.forEach((c, i) => {
      const { address, field } = resolveCorrection(collections, c, i);
      const list = byCollection.get(address) ?? [];
      list.push({ path: field.path.split("."), value: c.value });
      byCollection.set(address, list);
    });
    const tasks = await loadTasks(id);
    const outcomes = new Map<CollectionAddress, TaskOutcome>();
    for (const [address, fixes] of byCollection) {
      const t = tasks.get(`rectification|${address}`);
      if (t?.state === "done") {
        outcomes.set(address, t.outcome);
        continue;
      }
      const collection = collections.get(address) as Collection;
      const rows = found.get(address) ?? [];
      try {
        await saveTask(id, "rectification", address, "running");
        const changes: RowChange[] = rows.map((row) => {
          const values = structuredClone(row.values);
          const set: Record<string, unknown> = {};
          for (const fix of fixes) {
            const top = correctRow(values, fix.path, fix.value);
            Object.assign(values, top);
            Object.assign(set, top);
          }
          return { row, set };
        });
        if (changes.length > 0) await deps.connectorFor(collection.dataset).update(collection, changes);
        const outcome = { corrected: changes.length };
        await saveTask(id, "rectification", address, "done", undefined, outcome);
        outcomes.set(address, outcome);
      } catch (err) {
        throw new StepFailure(`rectification of ${address} failed (${kindOf(err)})`, err);
      }
    }
    return outcomes;
  };

  const buildExport = (
    id: string,
    completedAt: string,
    plan: GraphPlan,
    found: Map<CollectionAddress, FoundRow[]>,
  ): AccessExport => {
    const datasets: AccessExport["datasets"] = {};
    const categories: AccessExport["categories"] = {};
    for (const address of plan.order) {
      const c = (plan.nodes.get(address) as { collection: Collection }).collection;
      const rows: ExportRow[] = (found.get(address) ?? []).map((r) => ({
        id: r.id,
        values: mappedView(c, r.values),
      }));
      (datasets[c.dataset] ??= {})[c.name] = rows;
      for (const f of allFields(c.fields))
        if (f.fields.length === 0 && f.categories.length > 0)
          categories[`${address}.${f.path}`] = [...f.categories];
    }
    // The completion time, so the export re-renders to the bytes its receipt hashed.
    return { request: { id, kind: "access", completedAt }, generatedAt: completedAt, datasets, categories };
  };

  /** Whether erasure wrote reversible aes_encrypt tokens, whose key the secret is. */
  const usesAes = (plan: GraphPlan, policy: ErasurePolicy) =>
    policy.masking.strategy === "aes_encrypt" ||
    [...plan.nodes.values()].some((n) =>
      allFields(n.collection.fields).some((f) => f.masking?.strategy === "aes_encrypt"),
    );

  const proceed = async (row: RequestRow): Promise<DsrReceipt> => {
    const id = row.id;
    const kind = row.kind as RequestKind;
    const identities = JSON.parse(row.identities) as Record<string, string>;
    const policy = policyOf(JSON.parse(row.policy) as Partial<ErasurePolicy>);
    const corrections = JSON.parse(row.corrections) as Correction[];
    if (!(await claim(id))) {
      const now = await getRow(id);
      if (now?.status === "completed" && now.receipt) return JSON.parse(now.receipt) as DsrReceipt;
      throw new Conflict(
        `request ${id} is being run by another server; it may resume it after its claim lapses`,
      );
    }
    try {
      const map = deps.map();
      const plan = planFor(map, kind, Object.keys(identities), policy);
      const { found, outcomes } = await access(id, plan, identities);
      let erased = new Map<CollectionAddress, TaskOutcome>();
      let corrected = new Map<CollectionAddress, TaskOutcome>();
      if (kind === "erasure") {
        if (!row.secret) throw new StepFailure("the request's masking secret is missing", undefined);
        erased = await erase(id, map, plan, found, policy, Buffer.from(row.secret, "base64"));
      }
      if (kind === "rectification") corrected = await rectify(id, plan, found, corrections);

      const completedAt = deps.clock.now().toISOString();
      const collections: CollectionOutcome[] = plan.order.map((address) => {
        const a = outcomes.get(address) ?? {};
        return {
          collection: address,
          found: a.found ?? 0,
          deleted: erased.get(address)?.deleted ?? 0,
          masked: erased.get(address)?.masked ?? 0,
          corrected: corrected.get(address)?.corrected ?? 0,
          foundHash:
            a.foundHash ?? foundHash((plan.nodes.get(address) as { collection: Collection }).collection, []),
        };
      });
      const exported = kind === "access" ? exportJson(buildExport(id, completedAt, plan, found)) : null;
      const exportHash = exported === null ? undefined : sha256Hex(exported);
      const receipt = signReceipt(
        { requestId: id, kind, completedAt, collections, ...(exportHash ? { exportHash } : {}) },
        deps.signer,
      );
      const keepSecret = kind === "erasure" && usesAes(plan, policy);
      await db.transaction().execute(async (tx) => {
        const done = await tx
          .updateTable("privacy_dsr_requests")
          .set({
            status: "completed",
            finished_at: new Date(completedAt),
            receipt: JSON.stringify(receipt),
            export_json: exported,
            // What identified the subject and what they asked to write are not kept past the request.
            identities: "{}",
            corrections: "[]",
            ...(keepSecret ? {} : { secret: null }),
            error: null,
            lease_owner: null,
            lease_until: null,
          })
          .where("id", "=", id)
          .where("lease_owner", "=", owner)
          .executeTakeFirst();
        if (Number(done.numUpdatedRows) === 0)
          throw new LeaseLost(`request ${id} was taken over by another server`);
        // Found rows are the subject's data: after an erasure they must not outlive it here.
        await tx.updateTable("privacy_dsr_tasks").set({ rows: null }).where("request_id", "=", id).execute();
      });
      emit("privacy.dsr_completed", id, {
        requestId: id,
        kind,
        collections: collections.map((c) => ({
          collection: c.collection,
          found: c.found,
          deleted: c.deleted,
          masked: c.masked,
          corrected: c.corrected,
          foundHash: c.foundHash,
        })),
        ...(exportHash ? { exportHash } : {}),
        signature: receipt.signature,
        keyId: receipt.keyId,
      });
      return receipt;
    } catch (err) {
      if (err instanceof LeaseLost) throw err;
      const reason =
        err instanceof StepFailure
          ? err.reason
          : err instanceof Invalid
            ? err.message
            : `failed (${kindOf(err)})`;
      await db
        .updateTable("privacy_dsr_requests")
        .set({ status: "failed", error: reason, lease_owner: null, lease_until: null })
        .where("id", "=", id)
        .where("lease_owner", "=", owner)
        .execute()
        .catch(() => {});
      emit(
        "privacy.dsr_failed",
        id,
        { requestId: id, kind, reason },
        { outcome: "failure", severity: "medium" },
      );
      throw err instanceof StepFailure && err.cause !== undefined ? err.cause : err;
    }
  };

  const getRow = (id: string) =>
    db.selectFrom("privacy_dsr_requests").selectAll().where("id", "=", id).executeTakeFirst();

  const start = async (input: DsrRequest): Promise<DsrReceipt> => {
    const req = parseInput(dsrRequestSchema, input) as DsrRequest;
    let row = await getRow(req.id);
    if (row && row.kind !== req.kind)
      throw new Conflict(`request ${req.id} exists as a ${row.kind} request, not ${req.kind}`);
    if (row?.status === "completed" && row.receipt) return JSON.parse(row.receipt) as DsrReceipt;
    if (!row) {
      if (req.kind === "rectification" && !req.corrections?.length)
        throw new Invalid("a rectification request needs at least one correction", "corrections");
      if (req.kind !== "rectification" && req.corrections?.length)
        throw new Invalid("only rectification requests carry corrections", "corrections");
      if (req.kind !== "erasure" && req.policy)
        throw new Invalid("only erasure requests carry a policy", "policy");
      // Refuse what cannot be walked before anything is stored or touched.
      const map = deps.map();
      const policy = policyOf(req.policy);
      const plan = planFor(map, req.kind, Object.keys(req.identities), policy);
      const reached = new Map([...plan.nodes].map(([a, n]) => [a, n.collection]));
      const all = collectionsOf(map);
      (req.corrections ?? []).forEach((c, i) => {
        const { address } = resolveCorrection(all, c, i);
        if (!reached.has(address))
          throw new Invalid(
            `${address} cannot be reached from the request's identities`,
            `corrections.${i}.field`,
          );
      });
      const inserted = await db
        .insertInto("privacy_dsr_requests")
        .values({
          id: req.id,
          kind: req.kind,
          status: "running",
          identities: JSON.stringify(req.identities),
          policy: JSON.stringify(req.policy ?? {}),
          corrections: JSON.stringify(req.corrections ?? []),
          secret: req.kind === "erasure" ? newMaskingSecret().toString("base64") : null,
          started_at: deps.clock.now(),
          attempts: 0,
          lease_owner: null,
          lease_until: null,
        })
        .onConflict((oc) => oc.column("id").doNothing())
        .executeTakeFirst();
      row = await getRow(req.id);
      if (!row) throw new NotFound(`request ${req.id} vanished while starting`);
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0)
        emit("privacy.dsr_started", req.id, {
          requestId: req.id,
          kind: req.kind,
          identityTypes: Object.keys(req.identities).sort(),
          collections: plan.order.length,
        });
      else if (row.status === "completed" && row.receipt) return JSON.parse(row.receipt) as DsrReceipt;
    }
    return proceed(row);
  };

  const run = (input: DsrRequest): Promise<DsrReceipt> => {
    const id = typeof input?.id === "string" ? input.id : "";
    const running = inflight.get(id);
    if (running) return running;
    const p = start(input).finally(() => inflight.delete(id));
    if (id) inflight.set(id, p);
    return p;
  };

  return {
    plan(kind, identityTypes) {
      const p = planRequest(deps.map(), kind, identityTypes);
      return { kind, order: p.order, unreachable: p.unreachable, erasureLayers: p.erasureLayers };
    },
    run,
    async resumePending() {
      const rows = await db
        .selectFrom("privacy_dsr_requests")
        .selectAll()
        .where("status", "=", "running")
        .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", deps.clock.now())]))
        .orderBy("started_at")
        .execute();
      let resumed = 0;
      for (const r of rows) {
        if (inflight.has(r.id)) continue;
        const p = proceed(r).finally(() => inflight.delete(r.id));
        inflight.set(r.id, p);
        // A request that fails again is marked failed and announced; the others still resume.
        if (await p.then(() => true).catch(() => false)) resumed++;
      }
      return resumed;
    },
    async exportOf(requestId, format: ExportFormat) {
      const row = await getRow(requestId);
      if (!row) throw new NotFound(`no privacy request ${requestId}`);
      if (row.kind !== "access")
        throw new Invalid(
          `request ${requestId} is ${row.kind === "erasure" ? "an" : "a"} ${row.kind} request; only access requests have an export`,
        );
      if (row.status !== "completed" || row.export_json === null)
        throw new Conflict(`request ${requestId} has not completed yet`);
      if (format === "json") return { contentType: "application/json; charset=utf-8", body: row.export_json };
      return renderExport(JSON.parse(row.export_json) as AccessExport, format);
    },
    async receiptOf(requestId) {
      const row = await getRow(requestId);
      return row?.receipt ? (JSON.parse(row.receipt) as DsrReceipt) : undefined;
    },
  };
}
