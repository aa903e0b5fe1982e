// The request planner, after Fides' DatasetGraph: every dataset of the map becomes one graph whose
// nodes are collections and whose edges are field references; a root feeds the identity fields the
// request carries. Access walks the graph in Kahn order so each collection is queried with every
// value its upstream collections found; erasure then runs in layers that only `eraseAfter` orders.
import { Invalid } from "../../../platform/errors.ts";
import {
  allFields,
  type Collection,
  type CollectionAddress,
  categoryCovers,
  collectionAddress,
  type DataMap,
  type Field,
  isPersonalCategory,
} from "../map/model.ts";
import type { DsrPlan, RequestKind } from "./types.ts";

/** Values of `fromPath` in the rows of `from` select the rows of the edge's collection whose `toPath` matches. */
export interface ReferenceInput {
  from: CollectionAddress;
  fromPath: string;
  toPath: string;
}

/** The request's identity of `identityType` selects the rows whose `toPath` matches. */
export interface IdentityInput {
  identityType: string;
  toPath: string;
}

export interface PlannedNode {
  address: CollectionAddress;
  collection: Collection;
  identities: IdentityInput[];
  references: ReferenceInput[];
}

export interface GraphPlan extends DsrPlan {
  /** Reached collections by address, with the inputs each is queried by. */
  nodes: Map<CollectionAddress, PlannedNode>;
  /** Erasure layers: collections of one layer run in parallel, a layer starts when the one before it ended. */
  erasureLayers: CollectionAddress[][];
}

export interface PlanOptions {
  /**
   * An unreachable collection holding a field under one of these categories fails the plan; the
   * others are only reported (fidesops#96). Default: every personal category.
   */
  categories?: readonly string[];
}

interface Edge {
  a: CollectionAddress;
  aPath: string;
  b: CollectionAddress;
  bPath: string;
  /** true: values only flow a → b; false: either way, oriented by the walk. */
  directed: boolean;
}

const fieldCovered = (f: Field, categories: readonly string[] | undefined): boolean =>
  f.categories.some((c) =>
    categories ? categories.some((w) => categoryCovers(w, c)) : isPersonalCategory(c),
  );

/** Whether a collection holds a field under `categories` (default: any personal category). */
export const holdsCategories = (c: Collection, categories?: readonly string[]): boolean =>
  allFields(c.fields).some((f) => fieldCovered(f, categories));

/** Every collection of the map by address; duplicate addresses are a map error. */
export function collectionsOf(map: DataMap): Map<CollectionAddress, Collection> {
  const out = new Map<CollectionAddress, Collection>();
  for (const d of map.datasets)
    for (const c of d.collections) {
      const address = collectionAddress(c);
      if (out.has(address)) throw new Invalid(`collection ${address} is declared twice`);
      out.set(address, c);
    }
  return out;
}

function referenceEdges(collections: Map<CollectionAddress, Collection>): Edge[] {
  const edges: Edge[] = [];
  for (const [address, c] of collections)
    for (const f of allFields(c.fields))
      for (const r of f.references) {
        const target = `${r.dataset}.${r.collection}`;
        const other = collections.get(target);
        if (!other)
          throw new Invalid(
            `references ${target}.${r.field}, which is not in the data map`,
            `${address}.${f.path}`,
          );
        if (!allFields(other.fields).some((g) => g.path === r.field))
          throw new Invalid(
            `references ${target}.${r.field}, a field the data map does not declare`,
            `${address}.${f.path}`,
          );
        // A collection requests pass by (skip_processing) neither gives nor takes values.
        if (c.skipProcessing || other.skipProcessing) continue;
        // "from": the referenced field is processed first; "to": this one first; none: either way.
        if (r.direction === "from")
          edges.push({ a: target, aPath: r.field, b: address, bPath: f.path, directed: true });
        else
          edges.push({
            a: address,
            aPath: f.path,
            b: target,
            bPath: r.field,
            directed: r.direction === "to",
          });
      }
  return edges;
}

function checkOrderingTargets(collections: Map<CollectionAddress, Collection>): void {
  for (const [address, c] of collections)
    for (const [list, name] of [
      [c.after, "after"],
      [c.eraseAfter, "erase_after"],
    ] as const)
      for (const t of list)
        if (!collections.has(t))
          throw new Invalid(`${name} names ${t}, which is not in the data map`, address);
}

/**
 * Plans a request carrying identities of `identityTypes`: the access order, each collection's
 * inputs and the erasure layers. Throws Invalid listing every unreachable collection that holds
 * data under the checked categories, and on cycles of `after` or `erase_after`.
 */
export function planRequest(
  map: DataMap,
  kind: RequestKind,
  identityTypes: readonly string[],
  opts: PlanOptions = {},
): GraphPlan {
  const collections = collectionsOf(map);
  checkOrderingTargets(collections);
  const edges = referenceEdges(collections);
  const wanted = new Set(identityTypes);

  const nodes = new Map<CollectionAddress, PlannedNode>();
  const node = (address: CollectionAddress) => {
    let n = nodes.get(address);
    if (!n) {
      n = { address, collection: collections.get(address) as Collection, identities: [], references: [] };
      nodes.set(address, n);
    }
    return n;
  };

  // Breadth-first from the root: the distance orients the undirected edges (nearer end first).
  const distance = new Map<CollectionAddress, number>();
  const queue: CollectionAddress[] = [];
  for (const [address, c] of [...collections].sort(([x], [y]) => x.localeCompare(y)))
    for (const f of c.skipProcessing ? [] : allFields(c.fields))
      if (f.identity && wanted.has(f.identity)) {
        node(address).identities.push({ identityType: f.identity, toPath: f.path });
        if (!distance.has(address) && !c.skipProcessing) {
          distance.set(address, 0);
          queue.push(address);
        }
      }
  for (let i = 0; i < queue.length; i++) {
    const at = queue[i] as CollectionAddress;
    const next = (distance.get(at) ?? 0) + 1;
    for (const e of edges) {
      const to = e.a === at ? e.b : !e.directed && e.b === at ? e.a : undefined;
      if (to !== undefined && !distance.has(to)) {
        distance.set(to, next);
        queue.push(to);
      }
    }
  }

  // Oriented edges between reached collections become the inputs of their downstream end.
  const rank = (a: CollectionAddress) => [distance.get(a) ?? 0, a] as const;
  const before = (x: CollectionAddress, y: CollectionAddress) => {
    const [dx, ax] = rank(x);
    const [dy, ay] = rank(y);
    return dx !== dy ? dx < dy : ax < ay;
  };
  for (const e of edges) {
    if (!distance.has(e.a) || !distance.has(e.b) || e.a === e.b) continue;
    const forward = e.directed || before(e.a, e.b);
    const [from, fromPath, to, toPath] = forward
      ? [e.a, e.aPath, e.b, e.bPath]
      : [e.b, e.bPath, e.a, e.aPath];
    node(to).references.push({ from, fromPath, toPath });
  }

  const unreachableChecked: string[] = [];
  const unreachable: string[] = [];
  for (const [address, c] of collections)
    if (!distance.has(address) && !c.skipProcessing) {
      if (holdsCategories(c, opts.categories)) unreachableChecked.push(address);
      else unreachable.push(address);
    }
  if (unreachableChecked.length > 0)
    throw new Invalid(
      `${unreachableChecked.length === 1 ? "this collection holds" : "these collections hold"} personal data but cannot be reached from the identities ${[...wanted].join(", ") || "(none)"}: ${unreachableChecked.sort().join(", ")}`,
    );

  const order = accessOrder(nodes);
  const erasureLayers = kind === "erasure" ? eraseLayers(nodes) : [];
  return { kind, order, unreachable: unreachable.sort(), nodes, erasureLayers };
}

/**
 * Kahn's algorithm over reference inputs and `after` lists. A reference cycle (values that would
 * flow back to a collection already waiting on them) is broken at the collection nearest the
 * root, dropping only the inputs that come from collections still waiting; an `after` cycle is
 * the map's error.
 */
function accessOrder(nodes: Map<CollectionAddress, PlannedNode>): CollectionAddress[] {
  const deps = new Map<CollectionAddress, { refs: Set<CollectionAddress>; after: Set<CollectionAddress> }>();
  for (const [address, n] of nodes)
    deps.set(address, {
      refs: new Set(n.references.map((r) => r.from).filter((f) => f !== address)),
      // An `after` on a collection this request does not reach orders nothing.
      after: new Set(n.collection.after.filter((a) => nodes.has(a) && a !== address)),
    });
  const order: CollectionAddress[] = [];
  const done = new Set<CollectionAddress>();
  const remaining = () => [...deps.keys()].filter((a) => !done.has(a)).sort();
  while (done.size < deps.size) {
    const ready = remaining().filter((a) => {
      const d = deps.get(a);
      return d && [...d.refs, ...d.after].every((x) => done.has(x));
    });
    if (ready.length > 0) {
      for (const a of ready) {
        done.add(a);
        order.push(a);
      }
      continue;
    }
    // Stuck: a cycle. Break it at a collection whose `after` list is satisfied.
    const breakable = remaining().filter((a) => [...(deps.get(a)?.after ?? [])].every((x) => done.has(x)));
    const at = breakable[0];
    if (at === undefined)
      throw new Invalid(`the 'after' lists of these collections form a cycle: ${remaining().join(", ")}`);
    const n = nodes.get(at) as PlannedNode;
    n.references = n.references.filter((r) => done.has(r.from));
    (deps.get(at) as { refs: Set<CollectionAddress> }).refs = new Set(n.references.map((r) => r.from));
  }
  return order;
}

/** Layers of erasure: a collection waits only for the collections its `eraseAfter` names. */
function eraseLayers(nodes: Map<CollectionAddress, PlannedNode>): CollectionAddress[][] {
  const waits = new Map<CollectionAddress, CollectionAddress[]>();
  for (const [address, n] of nodes)
    waits.set(
      address,
      n.collection.eraseAfter.filter((a) => nodes.has(a)),
    );
  const layers: CollectionAddress[][] = [];
  const done = new Set<CollectionAddress>();
  while (done.size < waits.size) {
    const layer = [...waits.keys()]
      .filter((a) => !done.has(a) && (waits.get(a) ?? []).every((w) => done.has(w)))
      .sort();
    if (layer.length === 0) {
      const left = [...waits.keys()].filter((a) => !done.has(a)).sort();
      throw new Invalid(`the erase_after lists of these collections form a cycle: ${left.join(", ")}`);
    }
    for (const a of layer) done.add(a);
    layers.push(layer);
  }
  return layers;
}
