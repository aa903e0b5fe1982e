// Per member of an IAM policy: the permissions its roles grant, the ones the audit logs show it
// using, and the least set of predefined roles (or one custom role) that still grants every used
// permission without granting anything the member did not already have (M ⊆ P).
import { createHash } from "node:crypto";
import type {
  DeniedAttempt,
  IamAnalysisReport,
  PrincipalAnalysis,
  UsedPermission,
  Verification,
} from "../types.ts";
import type { RoleCatalogue, RoleDefinition } from "./catalogue.ts";
import { plainGreedyCover, weightedCover, type RoleCover } from "./cover.ts";
import type { AuditEntry } from "./logs.ts";
import { conditionKey, memberOfEmail, type IamBinding, type IamCondition, type IamPolicy } from "./policy.ts";
import { gcpRiskFlags } from "./risk.ts";

/** Resources kept per permission in the report; the rest are counted, not listed. */
export const MAX_RESOURCES = 20;

interface Tally {
  count: number;
  first: string;
  last: string;
  resources: Set<string>;
  resourcesComplete: boolean;
}

/** Usage aggregated per member and permission; memory grows with members × permissions, not events. */
export interface GcpUsage {
  add(entry: AuditEntry): void;
  readonly events: IamAnalysisReport["events"];
  readonly window: { from: string; to: string } | undefined;
  allowed(member: string): ReadonlyMap<string, Tally>;
  denied(member: string): ReadonlyMap<string, Tally>;
  members(): string[];
}

/** Collects audit entries, optionally only those in [from, to). */
export function createGcpUsage(opts: { from?: string; to?: string } = {}): GcpUsage {
  const allowed = new Map<string, Map<string, Tally>>();
  const denied = new Map<string, Map<string, Tally>>();
  const events = { read: 0, inWindow: 0, skipped: {} as Record<string, number> };
  let from: string | undefined;
  let to: string | undefined;
  const fromMs = opts.from ? Date.parse(opts.from) : -Infinity;
  const toMs = opts.to ? Date.parse(opts.to) : Infinity;
  const skip = (why: string): void => {
    events.skipped[why] = (events.skipped[why] ?? 0) + 1;
  };
  const tally = (
    into: Map<string, Map<string, Tally>>,
    member: string,
    perm: string,
    time: string,
    resource?: string,
  ): void => {
    let perMember = into.get(member);
    if (!perMember) into.set(member, (perMember = new Map()));
    let t = perMember.get(perm);
    if (!t)
      perMember.set(
        perm,
        (t = { count: 0, first: time, last: time, resources: new Set(), resourcesComplete: true }),
      );
    t.count++;
    if (time < t.first) t.first = time;
    if (time > t.last) t.last = time;
    if (resource === undefined) t.resourcesComplete = false;
    else if (t.resources.size < MAX_RESOURCES) t.resources.add(resource);
    else if (!t.resources.has(resource)) t.resourcesComplete = false;
  };
  return {
    events,
    get window() {
      return from !== undefined && to !== undefined ? { from, to } : undefined;
    },
    add(e) {
      events.read++;
      if (!e.principalEmail) return skip("no principalEmail");
      if (e.checks.length === 0) return skip("no authorizationInfo");
      const ms = e.timestamp ? Date.parse(e.timestamp) : Number.NaN;
      if (Number.isNaN(ms)) return skip("no timestamp");
      if (ms < fromMs || ms >= toMs) return skip("outside the window");
      events.inWindow++;
      const time = new Date(ms).toISOString();
      if (from === undefined || time < from) from = time;
      if (to === undefined || time > to) to = time;
      const member = memberOfEmail(e.principalEmail);
      for (const c of e.checks) tally(c.granted ? allowed : denied, member, c.permission, time, c.resource);
    },
    allowed: (m) => allowed.get(m) ?? new Map(),
    denied: (m) => denied.get(m) ?? new Map(),
    members: () => [...new Set([...allowed.keys(), ...denied.keys()])].sort(),
  };
}

export interface GcpAnalysisOptions {
  catalogue: RoleCatalogue;
  /** Custom roles the policy binds (`gcloud iam roles describe` output). */
  customRoles?: readonly RoleDefinition[];
  /** Also recommend BETA predefined roles. */
  allowBeta?: boolean;
  /** Analyse only these members (as the policy names them: user:…, serviceAccount:…). */
  members?: readonly string[];
  /** Parent of proposed custom roles: `projects/ID` or `organizations/ID`. */
  customRoleParent?: string;
  /** Use a custom role when the best predefined cover grants more than this many unused permissions. */
  maxExcess?: number;
  /** Always propose a custom role with exactly the used permissions. */
  customRoleOnly?: boolean;
}

/** A custom role to create before applying the proposed policy (`gcloud iam roles create --file`). */
export interface CustomRoleProposal {
  name: string;
  title: string;
  description: string;
  stage: "GA";
  includedPermissions: string[];
}

/** What GCP's `proposed` field holds for one member. */
export interface GcpMemberProposal {
  bindings: { role: string; condition?: IamCondition }[];
  customRoles: CustomRoleProposal[];
  /** The weighted cover and the plain-greedy baseline, per condition. */
  covers: {
    condition?: IamCondition;
    weighted: RoleCover;
    baseline: RoleCover;
    chose: "predefined" | "custom";
  }[];
}

export interface GcpBindingChange {
  change: "add" | "remove";
  role: string;
  member: string;
  condition?: IamCondition;
}

export interface GcpAnalysis {
  report: IamAnalysisReport;
  /** The whole policy with every analysed member's bindings replaced: for `set-iam-policy`. */
  proposedPolicy: IamPolicy;
  /** The original policy, without its etag (applying the proposal changes it). */
  rollbackPolicy: IamPolicy;
  customRoles: CustomRoleProposal[];
  changes: GcpBindingChange[];
  /** Members the logs cannot be attributed to (groups, domains, allUsers …): left unchanged. */
  unanalysed: string[];
  /** Principals seen in the logs that no binding names. */
  unbound: string[];
  notes: string[];
}

const ANALYSABLE = /^(user|serviceAccount):/;
const DATA_ACCESS_NOTE =
  "Data Access audit logs are off by default for most services: reads they would record are not observed, which does not prove them unused.";

interface ConditionGroup {
  key: string;
  condition?: IamCondition;
  roles: string[];
  granted: Set<string>;
  used: Set<string>;
}

function stageAllowed(stage: string, allowBeta: boolean): boolean {
  return stage === "GA" || (allowBeta && stage === "BETA");
}

/** The service a permission belongs to: `storage` for `storage.objects.get`. */
function serviceOf(permission: string): string {
  return permission.slice(0, permission.indexOf("."));
}

/** The service a predefined role is named after (`roles/compute.instanceAdmin.v1` → `compute`); "" for basic roles. */
function roleService(role: string): string {
  const m = /^roles\/([^.]+)\./.exec(role);
  return m ? (m[1] as string) : "";
}

// Roles meant for Google-managed service agents, never for users or workload service accounts.
function isServiceAgentRole(r: RoleDefinition): boolean {
  return /serviceAgent$/i.test(r.name) || /service agent/i.test(r.title);
}

function isSubset(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size > b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function customRoleId(member: string, key: string): string {
  const local = member.replace(/^[^:]+:/, "").split("@")[0] ?? "member";
  const slug = local.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 40);
  const hash = createHash("sha256").update(`${member}\n${key}`).digest("hex").slice(0, 8);
  return `rampart_${slug}_${hash}`;
}

function toUsed(tallies: ReadonlyMap<string, Tally>, perms: Iterable<string>): UsedPermission[] {
  return [...perms].sort().map((permission) => {
    const t = tallies.get(permission) as Tally;
    return {
      permission,
      count: t.count,
      firstSeen: t.first,
      lastSeen: t.last,
      resources: [...t.resources].sort(),
      resourcesComplete: t.resourcesComplete,
    };
  });
}

function verify(
  groups: readonly ConditionGroup[],
  granted: (g: ConditionGroup) => ReadonlySet<string>,
): Verification {
  const v: Verification = { replayed: 0, allowed: 0, denied: [] };
  const unconditional = groups.find((g) => g.key === "");
  for (const g of groups)
    for (const p of [...g.used].sort()) {
      v.replayed++;
      // A use under a condition is allowed by the same condition or by an unconditional grant.
      if (granted(g).has(p) || (unconditional !== undefined && granted(unconditional).has(p))) v.allowed++;
      else
        v.denied.push({
          permission: p,
          reason: g.condition ? `not granted under condition ${g.condition.expression}` : "not granted",
        });
    }
  return v;
}

/** Analyses every user and service account in `policy` against the usage from the audit logs. */
export function analyzeGcpPolicy(policy: IamPolicy, usage: GcpUsage, opts: GcpAnalysisOptions): GcpAnalysis {
  const allowBeta = opts.allowBeta === true;
  const parent = opts.customRoleParent ?? "projects/PROJECT_ID";
  const custom = new Map((opts.customRoles ?? []).map((r) => [r.name, r]));
  const resolve = (role: string): RoleDefinition | undefined =>
    opts.catalogue.roles.get(role) ?? custom.get(role);
  // Candidates: GA (or BETA) roles named after a service whose permissions were used, so that a
  // storage write is not covered by some other product's role that happens to include it.
  const candidates = [...opts.catalogue.roles.values()].filter(
    (r) => stageAllowed(r.stage, allowBeta) && !isServiceAgentRole(r),
  );
  const notes = [DATA_ACCESS_NOTE];
  const unknownRoles = new Set<string>();
  for (const b of policy.bindings) if (!resolve(b.role)) unknownRoles.add(b.role);
  for (const r of [...unknownRoles].sort())
    notes.push(
      `role ${r} is not in the catalogue nor among the custom roles given: its bindings are left unchanged`,
    );

  const inPolicy = new Set(policy.bindings.flatMap((b) => b.members));
  const unanalysed = [...inPolicy].filter((m) => !ANALYSABLE.test(m)).sort();
  let members = [...inPolicy].filter((m) => ANALYSABLE.test(m)).sort();
  if (opts.members) {
    const wanted = new Set(opts.members);
    members = members.filter((m) => wanted.has(m));
  }
  const unbound = usage.members().filter((m) => !inPolicy.has(m));
  const window = usage.window ?? { from: "", to: "" };

  const principals: PrincipalAnalysis[] = [];
  const proposals = new Map<string, GcpMemberProposal>();
  const customRoles: CustomRoleProposal[] = [];
  for (const member of members) {
    const allowedTally = usage.allowed(member);
    const groups = new Map<string, ConditionGroup>();
    const originalBindings: IamBinding[] = [];
    for (const b of policy.bindings) {
      if (!b.members.includes(member)) continue;
      originalBindings.push({
        role: b.role,
        members: [member],
        ...(b.condition ? { condition: b.condition } : {}),
      });
      const def = resolve(b.role);
      if (!def) continue;
      const key = conditionKey(b.condition);
      let g = groups.get(key);
      if (!g)
        groups.set(
          key,
          (g = {
            key,
            ...(b.condition ? { condition: b.condition } : {}),
            roles: [],
            granted: new Set(),
            used: new Set(),
          }),
        );
      g.roles.push(b.role);
      for (const p of def.permissions) g.granted.add(p);
    }
    const ordered = [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const before = new Set<string>();
    for (const g of ordered) for (const p of g.granted) before.add(p);

    // Attribute each used permission to the unconditional grant when it has it, else to a condition.
    const usedNotGranted: string[] = [];
    for (const perm of [...allowedTally.keys()].sort()) {
      const g = ordered.find((x) => x.granted.has(perm));
      if (g) g.used.add(perm);
      else usedNotGranted.push(perm);
    }

    const proposal: GcpMemberProposal = { bindings: [], customRoles: [], covers: [] };
    const memberNotes: string[] = [];
    const grantedAfter = new Map<string, Set<string>>();
    for (const g of ordered) {
      const after = new Set<string>();
      grantedAfter.set(g.key, after);
      if (g.used.size === 0) continue;
      const services = new Set([...g.used].map(serviceOf));
      const fits = candidates.filter(
        (r) => services.has(roleService(r.name)) && isSubset(r.permissions, g.granted),
      );
      const weighted = weightedCover(g.used, fits);
      const baseline = plainGreedyCover(g.used, fits);
      const tooWide = opts.maxExcess !== undefined && weighted.excess > opts.maxExcess;
      const chose =
        opts.customRoleOnly === true || weighted.uncovered.length > 0 || tooWide ? "custom" : "predefined";
      const cond = g.condition ? { condition: g.condition } : {};
      proposal.covers.push({ ...cond, weighted, baseline, chose });
      if (chose === "predefined") {
        for (const role of weighted.roles) {
          proposal.bindings.push({ role, ...cond });
          for (const p of (opts.catalogue.roles.get(role) as RoleDefinition).permissions) after.add(p);
        }
      } else {
        const id = customRoleId(member, g.key);
        const role: CustomRoleProposal = {
          name: `${parent}/roles/${id}`,
          title: `Least privilege for ${member}`.slice(0, 100),
          description: `Exactly what ${member} used (${g.used.size} permissions) between ${window.from} and ${window.to} (rampart iam gcp).`,
          stage: "GA",
          includedPermissions: [...g.used].sort(),
        };
        proposal.customRoles.push(role);
        customRoles.push(role);
        proposal.bindings.push({ role: role.name, ...cond });
        for (const p of g.used) after.add(p);
        if (weighted.uncovered.length > 0)
          memberNotes.push(
            `no predefined role within the current grant covers ${weighted.uncovered.join(", ")}: proposing custom role ${role.name}`,
          );
        else if (tooWide)
          memberNotes.push(
            `the best predefined cover grants ${weighted.excess} unused permissions (over --max-excess): proposing a custom role`,
          );
      }
    }
    const afterAll = new Set<string>();
    for (const s of grantedAfter.values()) for (const p of s) afterAll.add(p);
    const usedAll = new Set(allowedTally.keys());
    if (usedAll.size === 0)
      memberNotes.push("no use observed in the window: every analysed binding is proposed for removal");
    if (usedNotGranted.length > 0)
      memberNotes.push(
        `${usedNotGranted.length} used permission(s) come from grants outside this policy (inherited, resource-level or via a group): not analysed`,
      );
    const keptUnknown = originalBindings.filter((b) => !resolve(b.role));
    for (const b of keptUnknown)
      proposal.bindings.push({ role: b.role, ...(b.condition ? { condition: b.condition } : {}) });

    const deniedTally = usage.denied(member);
    const denied: DeniedAttempt[] = [...deniedTally.entries()]
      .filter(([p]) => !usedAll.has(p))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([permission, t]) => ({
        permission,
        count: t.count,
        lastSeen: t.last,
        resources: [...t.resources].sort(),
      }));

    proposals.set(member, proposal);
    principals.push({
      principal: member,
      platform: "gcp",
      window,
      used: toUsed(
        allowedTally,
        [...usedAll].filter((p) => before.has(p)),
      ),
      unused: [...before].filter((p) => !usedAll.has(p)).sort(),
      usedNotGranted,
      denied,
      proposed: proposal,
      original: { bindings: originalBindings },
      diff: { removed: [...before].filter((p) => !afterAll.has(p)).sort(), kept: [...afterAll].sort() },
      effective: { before: before.size, after: afterAll.size },
      reductionPercent: before.size === 0 ? 0 : Math.round((1 - afterAll.size / before.size) * 1000) / 10,
      risk: { before: gcpRiskFlags(before), after: gcpRiskFlags(afterAll) },
      verification: {
        proposed: verify(ordered, (g) => grantedAfter.get(g.key) as Set<string>),
        original: verify(ordered, (g) => g.granted),
      },
      notes: memberNotes,
    });
  }

  const { proposedPolicy, changes } = rewritePolicy(policy, proposals, (role) => resolve(role) !== undefined);
  const { etag: _etag, ...rollbackPolicy } = policy;
  void _etag;
  if (unanalysed.length > 0)
    notes.push(`members not attributable from audit logs, left unchanged: ${unanalysed.join(", ")}`);
  if (unbound.length > 0)
    notes.push(`seen in the logs but bound nowhere in this policy: ${unbound.join(", ")}`);
  return {
    report: { platform: "gcp", window, events: usage.events, principals, notes },
    proposedPolicy,
    rollbackPolicy: rollbackPolicy as IamPolicy,
    customRoles,
    changes,
    unanalysed,
    unbound,
    notes,
  };
}

function sameCondition(a: IamCondition | undefined, b: IamCondition | undefined): boolean {
  return conditionKey(a) === conditionKey(b);
}

/** Replaces the analysed members' bindings; bindings of unknown roles and other members are kept. */
function rewritePolicy(
  policy: IamPolicy,
  proposals: ReadonlyMap<string, GcpMemberProposal>,
  known: (role: string) => boolean,
): { proposedPolicy: IamPolicy; changes: GcpBindingChange[] } {
  const changes: GcpBindingChange[] = [];
  const bindings: IamBinding[] = policy.bindings.map((b) => ({ ...b, members: [...b.members] }));
  for (const [member, proposal] of proposals) {
    const wanted = proposal.bindings.filter(
      (w) => known(w.role) || proposal.customRoles.some((c) => c.name === w.role),
    );
    const isWanted = (b: IamBinding): boolean =>
      wanted.some((w) => w.role === b.role && sameCondition(w.condition, b.condition));
    for (const b of bindings) {
      if (!b.members.includes(member) || !known(b.role) || isWanted(b)) continue;
      b.members = b.members.filter((m) => m !== member);
      changes.push({
        change: "remove",
        role: b.role,
        member,
        ...(b.condition ? { condition: b.condition } : {}),
      });
    }
    for (const w of wanted) {
      const existing = bindings.find((b) => b.role === w.role && sameCondition(b.condition, w.condition));
      if (existing?.members.includes(member)) continue;
      if (existing) existing.members.push(member);
      else
        bindings.push({
          role: w.role,
          members: [member],
          ...(w.condition ? { condition: w.condition } : {}),
        });
      changes.push({
        change: "add",
        role: w.role,
        member,
        ...(w.condition ? { condition: w.condition } : {}),
      });
    }
  }
  const kept = bindings
    .filter((b) => b.members.length > 0)
    .map((b) => ({ ...b, members: [...b.members].sort() }));
  const conditional = kept.some((b) => b.condition !== undefined);
  const proposedPolicy: IamPolicy = {
    ...policy,
    bindings: kept,
    // Conditional bindings require policy version 3.
    ...(conditional ? { version: 3 } : policy.version !== undefined ? { version: policy.version } : {}),
  };
  changes.sort((a, b) =>
    a.member !== b.member
      ? a.member < b.member
        ? -1
        : 1
      : a.change !== b.change
        ? a.change === "remove"
          ? -1
          : 1
        : a.role < b.role
          ? -1
          : a.role > b.role
            ? 1
            : 0,
  );
  return { proposedPolicy, changes };
}
