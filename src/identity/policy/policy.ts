// A route policy compiled at config load: deny rules first (deny wins), then allow rules, then
// deny by default. Decisions are built at compile time, so evaluating allocates almost nothing.
import type { AccessRequest, Identity } from "../types.ts";
import { type Condition, compileConditions, Facts } from "./conditions.ts";
import type { RoutePolicy } from "./schema.ts";
import type { ZoneClock } from "./time.ts";

/** The rule that decided: its position in `rules`, its kind and its name if it has one. */
export interface DecidingRule {
  index: number;
  kind: "allow" | "deny";
  name?: string;
}

export interface PolicyDecision {
  /** Whether the request may proceed (always true in shadow mode). */
  allowed: boolean;
  /** Shadow mode only: the policy would have denied this request. */
  shadowDenied?: true;
  /** Absent when no rule matched: denied by default. */
  rule?: DecidingRule;
}

export interface ConditionExplanation {
  condition: string;
  held: boolean;
  reason: string;
}

export interface RuleExplanation extends DecidingRule {
  matched: boolean;
  conditions: ConditionExplanation[];
}

export interface PolicyExplanation {
  decision: PolicyDecision;
  shadow: boolean;
  /** Every rule in order, every condition evaluated (no short cut), for people and audit. */
  rules: RuleExplanation[];
}

export interface CompiledPolicy {
  /** Decides one request; `identity` is undefined for a request nobody signed in to. */
  evaluate(identity: Identity | undefined, request: AccessRequest): PolicyDecision;
  /** The same decision, with each rule's conditions and why they held or failed. */
  explain(identity: Identity | undefined, request: AccessRequest): PolicyExplanation;
}

interface CompiledRule {
  rule: DecidingRule;
  /** In the order explanations list them. */
  conditions: Condition[];
  /** The same, cheapest first: all must hold, so order changes only how soon a rule fails. */
  cheapestFirst: Condition[];
  decision: PolicyDecision;
}

const COST: Record<Condition["name"], number> = {
  kind: 0,
  credential: 0,
  serviceAccounts: 1,
  methods: 1,
  countries: 1,
  environments: 1,
  users: 2,
  emails: 2,
  domains: 2,
  groups: 2,
  roles: 2,
  clientCertificate: 3,
  paths: 4,
  sourceCidrs: 4,
  claims: 5,
  time: 6,
};

const frozen = (d: PolicyDecision): PolicyDecision => Object.freeze(d);

function holds(conditions: readonly Condition[], f: Facts): boolean {
  for (let i = 0; i < conditions.length; i++) if (!(conditions[i] as Condition).test(f)) return false;
  return true;
}

/** Compiles a validated policy (see `routePolicySchema`) once, at config load. */
export function compilePolicy(policy: RoutePolicy): CompiledPolicy {
  const clocks = new Map<string, ZoneClock>();
  const shadow = policy.shadow;
  const compiled: CompiledRule[] = policy.rules.map((r, index) => {
    const rule: DecidingRule = Object.freeze(
      r.name === undefined ? { index, kind: r.kind } : { index, kind: r.kind, name: r.name },
    );
    const decision =
      r.kind === "allow"
        ? frozen({ allowed: true, rule })
        : frozen(shadow ? { allowed: true, shadowDenied: true, rule } : { allowed: false, rule });
    const conditions = compileConditions(r.when, r.kind, clocks);
    const cheapestFirst = [...conditions].sort((a, b) => COST[a.name] - COST[b.name]);
    return { rule, conditions, cheapestFirst, decision };
  });
  const denies = compiled.filter((r) => r.rule.kind === "deny");
  const allows = compiled.filter((r) => r.rule.kind === "allow");
  const byDefault = frozen(shadow ? { allowed: true, shadowDenied: true } : { allowed: false });

  const decide = (f: Facts): PolicyDecision => {
    for (const r of denies) if (holds(r.cheapestFirst, f)) return r.decision;
    for (const r of allows) if (holds(r.cheapestFirst, f)) return r.decision;
    return byDefault;
  };

  return {
    evaluate: (identity, request) => decide(new Facts(identity, request)),
    explain(identity, request) {
      const f = new Facts(identity, request);
      const rules = compiled.map(({ rule, conditions }) => {
        const verdicts = conditions.map((c) => {
          const held = c.test(f);
          return { condition: c.name, held, reason: c.reason(f, held) };
        });
        return { ...rule, matched: verdicts.every((v) => v.held), conditions: verdicts };
      });
      return { decision: decide(f), shadow, rules };
    },
  };
}
