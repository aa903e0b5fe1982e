// Builds the minimised policy M from the original P and what was used. Each Allow statement of M
// is carved out of one Allow statement S of P: its actions are used actions S allows, its
// resources are the ARNs seen that S covers (or S's own Resource/NotResource when the calls did
// not all name one), and it keeps S's Condition. So every statement of M is contained in a
// statement of P, which is what makes M ⊆ P hold; P's Deny statements are carried over as they are.
import type { PolicyDocument, PolicyStatement, NamedPolicy, NormalStatement } from "./policy.ts";
import { patternCovers, statementMatchesAction, statementMatchesResource, statements } from "./policy.ts";
import type { ReplayContext } from "./verify.ts";

/** AWS's limit for a customer managed policy, whitespace not counted. */
export const MANAGED_POLICY_MAX_CHARS = 6144;

/** One observed call of a kept action: the resource it named ("*" for none) and its context. */
export interface KeptCall {
  resource: string;
  context: ReplayContext;
}

/** One action to keep, with the calls P allowed. */
export interface KeptAction {
  action: string;
  calls: KeptCall[];
  /** False when some call named no resource or there were too many to remember: keep P's resources. */
  scopable: boolean;
  /** The action takes no resource: "*" is its real resource, not an unknown one. */
  wildcardOnly: boolean;
}

/** The minimised policy and what could not be placed. */
export interface Minimised {
  documents: PolicyDocument[];
  /** Used actions P has no Allow statement for. */
  unplaced: { action: string; resource?: string }[];
}

/** Whether one statement on its own allows a call (decides between conditioned statements). */
export type StatementAllows = (s: NormalStatement, action: string, call: KeptCall) => Promise<boolean>;

/** Limits of resource scoping. */
export interface MinimiseOptions {
  /** Up to this many distinct ARNs per action and statement are listed; beyond, generalised or P's. */
  scopedResources: number;
  allows: StatementAllows;
}

interface Carve {
  statement: NormalStatement;
  /** action → resources, or "original" for the statement's own resource element */
  actions: Map<string, Set<string> | "original">;
}

const unconditionedFirst = (a: NormalStatement, b: NormalStatement) =>
  Number(a.condition !== undefined) - Number(b.condition !== undefined);

const serviceOf = (action: string) => action.slice(0, action.indexOf(":"));
const sidPart = (s: string) =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join("");

/** S3 objects generalised to their bucket's objects; other ARNs as they are. */
const container = (arn: string) => {
  const m = /^(arn:[^:]*:s3:::[^/]+)\/./.exec(arn);
  return m ? `${m[1]}/*` : arn;
};

/** Minimises `policies` to `kept`: carved from P's statements, ARN-scoped where the calls allow, conditions and Denys kept. */
export async function minimise(
  policies: readonly NamedPolicy[],
  kept: readonly KeptAction[],
  o: MinimiseOptions,
): Promise<Minimised> {
  const all = policies.flatMap((p) => statements(p.document));
  const allows = all.filter((s) => s.effect === "Allow").sort(unconditionedFirst);
  const denies = all.filter((s) => s.effect === "Deny");
  const carves = new Map<NormalStatement, Carve>();
  const unplaced: Minimised["unplaced"] = [];

  for (const k of kept) {
    const cands = allows.filter((s) => statementMatchesAction(s, k.action));
    if (cands.length === 0) {
      unplaced.push({ action: k.action });
      continue;
    }
    // Each call goes to the first statement that allows it on its own: an unconditioned one whose
    // Resource covers the ARN is certain; anything else is asked of the simulator.
    const assigned = new Map<NormalStatement, { resources: Set<string>; wildcard: boolean }>();
    const assign = (target: NormalStatement, resource: string) => {
      let a = assigned.get(target);
      if (!a) assigned.set(target, (a = { resources: new Set(), wildcard: false }));
      if (resource === "*") a.wildcard = true;
      else a.resources.add(resource);
    };
    for (const call of k.calls) {
      // A call on an unknown resource could have been allowed by any statement for the action
      // (the simulator cannot tell on "*"): each keeps the action on its own resources.
      if (call.resource === "*" && !k.wildcardOnly) {
        for (const s of cands) assign(s, "*");
        continue;
      }
      let target: NormalStatement | undefined;
      for (const s of cands) {
        const sure =
          !s.condition &&
          (call.resource === "*" ? s.resource?.includes("*") : statementMatchesResource(s, call.resource));
        if (sure || (await o.allows(s, k.action, call))) {
          target = s;
          break;
        }
      }
      if (!target) {
        unplaced.push({ action: k.action, resource: call.resource });
        continue;
      }
      assign(target, call.resource);
    }
    for (const [s, a] of assigned) {
      let c = carves.get(s);
      if (!c) carves.set(s, (c = { statement: s, actions: new Map() }));
      let scope: Set<string> | "original" = "original";
      if (k.scopable && !a.wildcard && a.resources.size > 0) {
        if (a.resources.size <= o.scopedResources) scope = a.resources;
        else {
          const general = new Set([...a.resources].map(container));
          // A generalised pattern must sit inside one of S's own Resource patterns.
          if (
            general.size <= o.scopedResources &&
            [...general].every((g) => (s.resource ?? []).some((p) => patternCovers(p, g)))
          )
            scope = general;
        }
      }
      c.actions.set(k.action, scope);
    }
  }

  // Group carved actions into statements by (service, resource element, condition).
  interface Draft {
    service: string;
    actions: Set<string>;
    resource?: string[];
    notResource?: string[];
    condition?: NormalStatement["condition"];
  }
  const drafts = new Map<string, Draft>();
  for (const c of carves.values()) {
    const s = c.statement;
    for (const [action, res] of c.actions) {
      const service = serviceOf(action);
      const element: Pick<Draft, "resource" | "notResource"> =
        res === "original"
          ? s.resource
            ? { resource: [...s.resource] }
            : { notResource: [...(s.notResource ?? [])] }
          : { resource: [...res].sort() };
      const key = JSON.stringify([service, element, s.condition ?? null]);
      let d = drafts.get(key);
      if (!d) {
        d = { service, actions: new Set(), ...element, ...(s.condition ? { condition: s.condition } : {}) };
        drafts.set(key, d);
      }
      d.actions.add(action);
    }
  }
  const ordered = [...drafts.values()].sort(
    (a, b) =>
      a.service.localeCompare(b.service) ||
      JSON.stringify(a.resource ?? a.notResource).localeCompare(JSON.stringify(b.resource ?? b.notResource)),
  );
  const sids = new Map<string, number>();
  const allowStatements: PolicyStatement[] = ordered.map((d) => {
    const base = `Allow${sidPart(d.service)}`;
    const n = (sids.get(base) ?? 0) + 1;
    sids.set(base, n);
    const actions = [...d.actions].sort();
    const one = <T>(l: T[]) => (l.length === 1 ? l[0]! : l);
    return {
      Sid: n === 1 ? base : `${base}${n}`,
      Effect: "Allow",
      Action: one(actions),
      ...(d.resource ? { Resource: one(d.resource) } : { NotResource: one(d.notResource ?? []) }),
      ...(d.condition ? { Condition: d.condition } : {}),
    } as PolicyStatement;
  });
  return { documents: split([...allowStatements, ...denies.map((d) => d.raw)]), unplaced };
}

const size = (statementsOf: PolicyStatement[]) =>
  JSON.stringify({ Version: "2012-10-17", Statement: statementsOf }).length;

/** Halves a statement's Action (then Resource) list until each part fits on its own. */
function fit(s: PolicyStatement): PolicyStatement[] {
  if (size([s]) <= MANAGED_POLICY_MAX_CHARS) return [s];
  const halve = (key: "Action" | "Resource") => {
    const l = s[key];
    if (!Array.isArray(l) || l.length < 2) return undefined;
    const mid = Math.ceil(l.length / 2);
    return [
      { ...s, Sid: s.Sid ? `${s.Sid}A` : undefined, [key]: l.slice(0, mid) },
      { ...s, Sid: s.Sid ? `${s.Sid}B` : undefined, [key]: l.slice(mid) },
    ].map((x) => (x.Sid === undefined ? (({ Sid: _sid, ...rest }) => rest)(x) : x)) as PolicyStatement[];
  };
  // A Deny is never split by resource (it is carried as it is); an oversize one stays oversize.
  const parts = halve("Action") ?? (s.Effect === "Allow" ? halve("Resource") : undefined);
  return parts ? parts.flatMap(fit) : [s];
}

/** Packs statements into as few documents as fit AWS's managed-policy size limit. */
export function split(all: PolicyStatement[]): PolicyDocument[] {
  const docs: PolicyStatement[][] = [];
  let current: PolicyStatement[] = [];
  for (const s of all.flatMap(fit)) {
    if (current.length > 0 && size([...current, s]) > MANAGED_POLICY_MAX_CHARS) {
      docs.push(current);
      current = [];
    }
    current.push(s);
  }
  // Nothing used and nothing denied: no policy at all (AWS rejects an empty Statement list).
  if (current.length > 0) docs.push(current);
  return docs.map((Statement) => ({ Version: "2012-10-17", Statement }));
}
