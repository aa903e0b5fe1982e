// Replays observed calls through our identity-policy evaluator (./evaluate.ts), the way the
// must-allow gate in ../shared/eval/iam/index.md scores a minimised policy.
import type { Verification } from "../types.ts";
import { evaluatePolicies, type EvaluationResult } from "./evaluate.ts";
import type { PolicyDocument } from "./policy.ts";

/** Request context recovered from CloudTrail, used as condition keys on replay. */
export interface ReplayContext {
  region?: string;
  sourceIp?: string;
  mfa?: boolean;
  time?: string;
  /** Action-specific condition keys (iam:PassedToService for a role handed to a service). */
  keys?: Record<string, string>;
}

/** One distinct call to replay. */
export interface ReplayCall {
  action: string;
  /** The resource ARN, or "*" when the call named none (or the action takes none). */
  resource: string;
  account: string;
  context: ReplayContext;
}

/** The policies a principal is evaluated with. */
export interface ReplayPolicies {
  principal: string;
  identity: { name: string; document: PolicyDocument }[];
  boundary?: { name: string; document: PolicyDocument };
}

/** The decision for one call: allowed, or why not. */
export type ReplayDecision = { allowed: true } | { allowed: false; reason: string };

function contextVariables(principal: string, account: string, c: ReplayContext): Record<string, string> {
  const v: Record<string, string> = {
    "aws:PrincipalArn": principal,
    "aws:PrincipalAccount": account,
    "aws:SecureTransport": "true",
  };
  // IAM users have aws:username; roles and sessions do not.
  const user = /^arn:[^:]+:iam::\d+:user\/(?:.*\/)?([^/]+)$/.exec(principal);
  if (user) v["aws:username"] = user[1] as string;
  if (c.region) v["aws:RequestedRegion"] = c.region;
  if (c.sourceIp) v["aws:SourceIp"] = c.sourceIp;
  if (c.mfa !== undefined) v["aws:MultiFactorAuthPresent"] = String(c.mfa);
  if (c.keys) Object.assign(v, c.keys);
  if (c.time) {
    v["aws:CurrentTime"] = c.time;
    v["aws:EpochTime"] = String(Math.floor(Date.parse(c.time) / 1000));
  }
  return v;
}

const where = (r: EvaluationResult, kind: string) =>
  r.statement
    ? ` by ${kind} ${r.statement.policy}, statement ${r.statement.index + 1}${r.statement.sid ? ` (${r.statement.sid})` : ""}`
    : "";

/** Evaluates one call against the principal's identity policies and its permissions boundary. */
export async function decide(p: ReplayPolicies, call: ReplayCall): Promise<ReplayDecision> {
  const request = {
    action: call.action,
    resource: call.resource,
    context: contextVariables(p.principal, call.account, call.context),
  };
  const identity = evaluatePolicies(p.identity, request);
  if (identity.decision === "ExplicitlyDenied")
    return { allowed: false, reason: `ExplicitlyDenied${where(identity, "policy")}` };
  // A boundary only limits: the call needs an Allow in both, and a Deny in either ends it.
  const boundary = p.boundary ? evaluatePolicies([p.boundary], request) : undefined;
  if (boundary?.decision === "ExplicitlyDenied")
    return { allowed: false, reason: `ExplicitlyDenied${where(boundary, "permissions boundary")}` };
  if (identity.decision !== "Allowed")
    return { allowed: false, reason: "ImplicitlyDenied: no identity policy statement allows it" };
  if (boundary && boundary.decision !== "Allowed")
    return {
      allowed: false,
      reason: `ImplicitlyDenied: the permissions boundary ${p.boundary?.name} does not allow it`,
    };
  return { allowed: true };
}

/** Replays every call; a denied one is listed with the evaluator's reason. */
export async function replay(p: ReplayPolicies, calls: readonly ReplayCall[]): Promise<Verification> {
  const v: Verification = { replayed: 0, allowed: 0, denied: [] };
  for (const call of calls) {
    v.replayed++;
    const d = await decide(p, call);
    if (d.allowed) v.allowed++;
    else
      v.denied.push({
        permission: call.action,
        ...(call.resource !== "*" ? { resource: call.resource } : {}),
        reason: d.reason,
      });
  }
  return v;
}
