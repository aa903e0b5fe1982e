// AWS least privilege from evidence: stream CloudTrail, aggregate per principal and action
// (memory bounded by principals × actions, not by events), then per principal: used and unused
// actions, the minimised policy, its diff and risk flags, and a replay of every distinct observed
// call through the simulator against the original and the proposal.
import type { IamAnalysisReport, PrincipalAnalysis, UsedPermission, DeniedAttempt } from "../types.ts";
import { createActionCatalogue, type ActionCatalogue } from "./catalogue.ts";
import { logFiles, mapRecord, readRecords, type CloudTrailRecord } from "./cloudtrail.ts";
import { minimise, type KeptAction, type KeptCall } from "./minimise.ts";
import { policiesFor, statements, type NamedPolicy, type PolicyDocument, type PolicySet } from "./policy.ts";
import { riskFlags } from "./risk.ts";
import { decide, replay, type ReplayCall, type ReplayContext, type ReplayPolicies } from "./verify.ts";

/** Limits that keep memory bounded and proposals readable. */
export const USAGE_LIMITS = {
  /** Distinct resources remembered per principal and action (replayed; beyond it, sampled). */
  resourcesKept: 200,
  /** Distinct request contexts (region, address, MFA) remembered per principal and action. */
  contextsKept: 4,
  /** Up to this many distinct ARNs, a statement lists them; beyond, it generalises or keeps P's. */
  scopedResources: 20,
};

/** How one principal used one action over the window. */
export interface ActionUsage {
  action: string;
  allowed: number;
  denied: number;
  first: string;
  last: string;
  deniedLast: string;
  account: string;
  resources: Set<string>;
  overflow: boolean;
  /** Some allowed call named no resource the action accepts. */
  resourceless: boolean;
  deniedResources: Set<string>;
  contexts: Map<string, ReplayContext>;
}

/** Every principal's usage, and what the reader skipped. */
export interface UsageLog {
  principals: Map<string, Map<string, ActionUsage>>;
  read: number;
  inWindow: number;
  skipped: Record<string, number>;
  from?: string;
  to?: string;
}

/** The AWS-specific parts of a principal's analysis. */
export interface AwsProposal {
  policies: { name: string; document: PolicyDocument }[];
  /** The permissions boundary, unchanged. */
  boundary?: { name: string; arn?: string };
}

/** What `analyzeAws` reads and how. */
export interface AwsAnalysisOptions {
  policies: PolicySet;
  /** CloudTrail files or directories. */
  logs: readonly string[];
  /** Only this principal (its ARN; for a role, the role's ARN, not a session's). */
  principal?: string;
  since?: Date;
  until?: Date;
  catalogue?: ActionCatalogue;
  /** Called as files are read (for a progress bar). */
  onProgress?: (p: { files: number; totalFiles: number; events: number }) => void;
}

/** Aggregates CloudTrail records into per-principal, per-action usage. */
export function createUsageCollector(
  catalogue: ActionCatalogue,
  window: { since?: Date; until?: Date; principal?: string },
) {
  const log: UsageLog = { principals: new Map(), read: 0, inWindow: 0, skipped: {} };
  const since = window.since?.getTime() ?? -Infinity;
  const until = window.until?.getTime() ?? Infinity;
  const skip = (why: string) => (log.skipped[why] = (log.skipped[why] ?? 0) + 1);
  // Resolved once per spelling: the catalogue name and which ARNs the action accepts.
  const resolved = new Map<string, { action: string; wildcardOnly: boolean } | null>();
  const accepts = new Map<string, boolean>();

  async function resolve(action: string) {
    let r = resolved.get(action);
    if (r === undefined) {
      const c = await catalogue.canonical(action);
      r = c ? { action: c, wildcardOnly: await catalogue.wildcardOnly(c) } : null;
      resolved.set(action, r);
    }
    return r;
  }
  async function accepted(action: string, arn: string) {
    const key = `${action} ${arn}`;
    let a = accepts.get(key);
    if (a === undefined) {
      a = await catalogue.acceptsResource(action, arn);
      // ARNs repeat (same buckets, roles, repositories), but bound the memo all the same.
      if (accepts.size > 100_000) accepts.clear();
      accepts.set(key, a);
    }
    return a;
  }

  return {
    log,
    /** Adds one record. */
    async add(record: unknown): Promise<void> {
      log.read++;
      const call = mapRecord(record as CloudTrailRecord);
      if (typeof call === "string") return void skip(call);
      const t = Date.parse(call.time);
      if (Number.isNaN(t)) return void skip("malformed record");
      if (t < since || t >= until) return void skip("outside the window");
      if (window.principal && call.principal !== window.principal) return void skip("other principal");
      log.inWindow++;
      if (!log.from || call.time < log.from) log.from = call.time;
      if (!log.to || call.time > log.to) log.to = call.time;
      let actions = log.principals.get(call.principal);
      if (!actions) log.principals.set(call.principal, (actions = new Map()));
      for (const need of call.actions) {
        // Cached lookups stay synchronous: one await per record is what 1M records can afford.
        const r = resolved.has(need.action) ? resolved.get(need.action) : await resolve(need.action);
        if (!r) {
          skip(`unknown IAM action`);
          continue;
        }
        let u = actions.get(r.action);
        if (!u) {
          u = {
            action: r.action,
            allowed: 0,
            denied: 0,
            first: call.time,
            last: call.time,
            deniedLast: "",
            account: call.account,
            resources: new Set(),
            overflow: false,
            resourceless: false,
            deniedResources: new Set(),
            contexts: new Map(),
          };
          actions.set(r.action, u);
        }
        const arns: string[] = [];
        if (r.wildcardOnly) arns.push("*");
        else
          for (const c of need.candidates) {
            const known = accepts.get(`${r.action} ${c}`);
            if (known ?? (await accepted(r.action, c))) arns.push(c);
          }
        if (call.outcome === "denied") {
          u.denied++;
          if (call.time > u.deniedLast) u.deniedLast = call.time;
          for (const a of arns) if (u.deniedResources.size < 8) u.deniedResources.add(a);
          continue;
        }
        u.allowed++;
        if (call.time < u.first) u.first = call.time;
        if (call.time > u.last) u.last = call.time;
        if (arns.length === 0) u.resourceless = true;
        for (const a of arns) {
          if (u.resources.size < USAGE_LIMITS.resourcesKept) u.resources.add(a);
          else if (!u.resources.has(a)) u.overflow = true;
        }
        const ctx: ReplayContext = {
          ...call.context,
          time: call.time,
          ...(need.context ? { keys: need.context } : {}),
        };
        const key = `${ctx.region ?? ""}|${ctx.sourceIp ?? ""}|${ctx.mfa ?? ""}|${need.context ? JSON.stringify(need.context) : ""}`;
        if (u.contexts.size < USAGE_LIMITS.contextsKept && !u.contexts.has(key)) u.contexts.set(key, ctx);
      }
    },
  };
}

/** Reads every record of the given files into a usage log. */
export async function readUsage(
  paths: readonly string[],
  catalogue: ActionCatalogue,
  o: Pick<AwsAnalysisOptions, "since" | "until" | "principal" | "onProgress"> = {},
): Promise<UsageLog> {
  const files = await logFiles(paths);
  const collector = createUsageCollector(catalogue, o);
  await catalogue.all();
  let done = 0;
  for (const file of files) {
    for await (const record of readRecords(file)) {
      await collector.add(record);
      if (o.onProgress && (collector.log.read & 0x3fff) === 0)
        o.onProgress({ files: done, totalFiles: files.length, events: collector.log.read });
    }
    done++;
    o.onProgress?.({ files: done, totalFiles: files.length, events: collector.log.read });
  }
  return collector.log;
}

/** Distinct calls to replay: every remembered resource once, every other context once. */
function replayCalls(u: ActionUsage): ReplayCall[] {
  const contexts = [...u.contexts.values()];
  const first = contexts[0] ?? {};
  const resources = [...u.resources];
  if (u.resourceless || resources.length === 0) resources.push("*");
  const calls: ReplayCall[] = resources.map((resource) => ({
    action: u.action,
    resource,
    account: u.account,
    context: first,
  }));
  for (const context of contexts.slice(1))
    calls.push({ action: u.action, resource: resources[0] as string, account: u.account, context });
  return calls;
}

async function effectiveActions(
  docs: readonly PolicyDocument[],
  catalogue: ActionCatalogue,
): Promise<Set<string>> {
  const out = new Set<string>();
  const all = docs.flatMap((d) => statements(d));
  for (const s of all.filter((x) => x.effect === "Allow"))
    for (const a of await catalogue.effective(s.action, s.notAction)) out.add(a);
  // Only a Deny on everything, without conditions, surely takes an action away.
  for (const s of all.filter((x) => x.effect === "Deny" && !x.condition && x.resource?.includes("*")))
    for (const a of await catalogue.effective(s.action, s.notAction)) out.delete(a);
  return out;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Analyses one principal's usage against its policies. */
export async function analysePrincipal(
  principal: string,
  usage: Map<string, ActionUsage>,
  original: { policies: NamedPolicy[]; boundary?: NamedPolicy },
  window: { from: string; to: string },
  catalogue: ActionCatalogue,
): Promise<PrincipalAnalysis> {
  const notes: string[] = [];
  const originalPolicies: ReplayPolicies = {
    principal,
    identity: original.policies.map((p) => ({ name: p.name, document: p.document })),
    ...(original.boundary
      ? { boundary: { name: original.boundary.name, document: original.boundary.document } }
      : {}),
  };

  // Which observed calls does P itself allow? Only those are kept (M ⊆ P); the rest were granted
  // by something this analysis was not given (a resource policy, another attachment).
  const kept: KeptAction[] = [];
  const used: UsedPermission[] = [];
  const usedNotGranted: string[] = [];
  const denied: DeniedAttempt[] = [];
  const grantedCalls: ReplayCall[] = [];
  const originalVerification = {
    replayed: 0,
    allowed: 0,
    denied: [] as { permission: string; resource?: string; reason: string }[],
  };
  for (const u of [...usage.values()].sort((a, b) => a.action.localeCompare(b.action))) {
    if (u.denied > 0)
      denied.push({
        permission: u.action,
        count: u.denied,
        lastSeen: u.deniedLast,
        resources: [...u.deniedResources].sort(),
      });
    if (u.allowed === 0) continue;
    const calls: KeptCall[] = [];
    for (const call of replayCalls(u)) {
      originalVerification.replayed++;
      const d = await decide(originalPolicies, call);
      if (d.allowed) {
        originalVerification.allowed++;
        grantedCalls.push(call);
        calls.push({ resource: call.resource, context: call.context });
      } else
        originalVerification.denied.push({
          permission: call.action,
          ...(call.resource !== "*" ? { resource: call.resource } : {}),
          reason: d.reason,
        });
    }
    if (calls.length === 0) {
      usedNotGranted.push(u.action);
      continue;
    }
    const wildcardOnly = await catalogue.wildcardOnly(u.action);
    const scopable = !wildcardOnly && !u.resourceless && !u.overflow;
    if (!wildcardOnly && !scopable)
      notes.push(
        `${u.action}: some calls named no resource, or too many to remember; kept on the original statement's resources`,
      );
    kept.push({ action: u.action, calls, scopable, wildcardOnly });
    used.push({
      permission: u.action,
      count: u.allowed,
      firstSeen: u.first,
      lastSeen: u.last,
      resources: wildcardOnly ? [] : [...u.resources].sort(),
      resourcesComplete: !u.resourceless && !u.overflow,
    });
  }
  if (usedNotGranted.length > 0)
    notes.push(
      `${usedNotGranted.length} used action(s) the analysed policies do not allow (granted elsewhere, e.g. a resource policy): not proposed`,
    );

  const m = await minimise(original.policies, kept, {
    scopedResources: USAGE_LIMITS.scopedResources,
    // Which of several conditioned statements allowed a call: ask the simulator, one statement at a time.
    allows: async (s, action, call) =>
      (
        await decide(
          {
            principal,
            identity: [{ name: "statement", document: { Version: "2012-10-17", Statement: [s.raw] } }],
          },
          {
            action,
            resource: call.resource,
            account: usage.get(action)?.account ?? "",
            context: call.context,
          },
        )
      ).allowed,
  });
  for (const x of m.unplaced) notes.push(`${x.action}: no Allow statement to carve it from (bug?)`);
  const proposed: AwsProposal = {
    policies: m.documents.map((document, i) => ({
      name: m.documents.length === 1 ? "least-privilege" : `least-privilege-${i + 1}`,
      document,
    })),
    ...(original.boundary
      ? {
          boundary: {
            name: original.boundary.name,
            ...(original.boundary.arn ? { arn: original.boundary.arn } : {}),
          },
        }
      : {}),
  };
  const proposedVerification = await replay(
    { ...originalPolicies, identity: proposed.policies },
    grantedCalls,
  );

  const before = await effectiveActions(
    original.policies.map((p) => p.document),
    catalogue,
  );
  const after = await effectiveActions(m.documents, catalogue);
  const usedSet = new Set(kept.map((k) => k.action));
  const removed = [...before].filter((a) => !after.has(a)).sort();
  const reduction = before.size === 0 ? 0 : round1((1 - after.size / before.size) * 100);
  return {
    principal,
    platform: "aws",
    window,
    used,
    unused: [...before].filter((a) => !usedSet.has(a)).sort(),
    usedNotGranted,
    denied,
    proposed,
    original: {
      policies: original.policies.map((p) => ({
        name: p.name,
        ...(p.arn ? { arn: p.arn } : {}),
        kind: p.kind,
        ...(p.group ? { group: p.group } : {}),
        document: p.document,
      })),
      ...(original.boundary
        ? { boundary: { name: original.boundary.name, arn: original.boundary.arn } }
        : {}),
    },
    diff: { removed, kept: [...after].sort() },
    effective: { before: before.size, after: after.size },
    reductionPercent: reduction,
    risk: { before: await riskFlags(before, catalogue), after: await riskFlags(after, catalogue) },
    verification: { proposed: proposedVerification, original: originalVerification },
    notes,
  };
}

/** Reads policies and CloudTrail logs and analyses every principal (or the one asked for). */
export async function analyzeAws(o: AwsAnalysisOptions): Promise<IamAnalysisReport> {
  const catalogue = o.catalogue ?? createActionCatalogue();
  const usage = await readUsage(o.logs, catalogue, o);
  const window = {
    from: o.since?.toISOString() ?? usage.from ?? "",
    to: o.until?.toISOString() ?? usage.to ?? "",
  };
  const notes = [...o.policies.notes];
  const names = new Set<string>(usage.principals.keys());
  // Principals with policies and no activity at all are the clearest case: everything is unused.
  for (const p of o.policies.principals.keys()) names.add(p);
  const principals: PrincipalAnalysis[] = [];
  for (const name of [...names].sort()) {
    if (o.principal && name !== o.principal) continue;
    const policies = policiesFor(o.policies, name);
    if (!policies) {
      notes.push(`${name}: seen in the logs, but no policy for it was given; not analysed`);
      continue;
    }
    principals.push(
      await analysePrincipal(
        name,
        usage.principals.get(name) ?? new Map(),
        { policies: policies.policies, ...(policies.boundary ? { boundary: policies.boundary } : {}) },
        window,
        catalogue,
      ),
    );
  }
  return {
    platform: "aws",
    window,
    events: { read: usage.read, inWindow: usage.inWindow, skipped: usage.skipped },
    principals,
    notes,
  };
}
