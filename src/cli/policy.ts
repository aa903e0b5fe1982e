// `rampart policy test`: one identity and one request against a route's policy in a config file;
// prints the decision, the rule that made it and why each rule matched or not. Exit 0 allow,
// 1 deny (shadow mode included: it reports what the policy says), 2 bad input.
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { parse } from "yaml";
import { Invalid } from "../platform/errors.ts";
import type { AccessRequest, ClientCertificate, Credential, Identity } from "../identity/types.ts";
import { compilePolicy, parseRoutePolicy, type PolicyExplanation } from "../identity/policy/index.ts";
import { createRbac, rbacConfigSchema } from "../identity/rbac/index.ts";

interface TestOptions {
  config: string;
  route: string;
  host?: string;
  user?: string;
  service?: string;
  credential?: string;
  unverifiedEmail?: boolean;
  group: string[];
  role: string[];
  claim: string[];
  ip: string;
  method: string;
  path?: string;
  country?: string;
  environment?: string;
  time?: string;
  certFingerprint?: string;
  certSubject?: string;
  certSan: string[];
  json?: boolean;
}

const repeat = (v: string, all: string[]) => [...all, v];

interface RawRoute {
  path?: unknown;
  host?: unknown;
  environment?: unknown;
  policy?: unknown;
}

/** The route's raw `policy` and environment, read from the YAML before the config schema knows `policy`. */
async function routeOf(o: TestOptions) {
  let raw: { routes?: unknown; environment?: unknown; rbac?: unknown };
  try {
    raw = (parse(await readFile(o.config, "utf8")) ?? {}) as typeof raw;
  } catch (error) {
    throw new Invalid(
      `cannot read or parse ${o.config} (${(error as Error).message.split("\n")[0]})`,
      "--config",
    );
  }
  const routes = Array.isArray(raw.routes) ? (raw.routes as RawRoute[]) : [];
  const index = routes.findIndex(
    (r) => (r?.path ?? "/") === o.route && (o.host === undefined || r?.host === o.host),
  );
  if (index === -1)
    throw new Invalid(
      `${o.config} has no route with path '${o.route}'${o.host ? ` and host '${o.host}'` : ""} (it has ${routes.map((r) => r?.path ?? "/").join(", ") || "none"})`,
      "--route",
    );
  const route = routes[index] as RawRoute;
  if (route.policy === undefined)
    throw new Invalid(`the route '${o.route}' has no policy section`, "--route");
  const environment = route.environment ?? raw.environment;
  return {
    policy: parseRoutePolicy(route.policy, `routes[${index}].policy`),
    environment: typeof environment === "string" ? environment : undefined,
    rbac: raw.rbac,
  };
}

function claimsOf(pairs: readonly string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq < 1) throw new Invalid(`expected name=value; got '${pair}'`, "--claim");
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    // A claim given twice is a list, as an array claim from a provider would be.
    const had = claims[name];
    claims[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  return claims;
}

function identityOf(o: TestOptions, rbac: unknown): Identity | undefined {
  if (o.user !== undefined && o.service !== undefined)
    throw new Invalid("give --user or --service, not both");
  if (o.user === undefined && o.service === undefined) {
    if (o.group.length + o.role.length + o.claim.length > 0)
      throw new Invalid("--group, --role and --claim describe an identity: give --user or --service too");
    return undefined;
  }
  const isEmail = o.user !== undefined && o.user.includes("@") && !o.user.includes(":");
  const base = {
    kind: o.service !== undefined ? ("service" as const) : ("user" as const),
    subject: (o.service ?? o.user) as string,
    ...(isEmail ? { email: o.user, emailVerified: o.unverifiedEmail !== true } : {}),
    groups: o.group,
  };
  const credentials = ["session", "access-token", "api-key", "client-certificate"];
  if (o.credential !== undefined && !credentials.includes(o.credential))
    throw new Invalid(`expected one of ${credentials.join(", ")}; got '${o.credential}'`, "--credential");
  // Roles from the config's RBAC bindings, as the gateway would add them, plus any --role given.
  const parsed = rbac === undefined ? undefined : rbacConfigSchema.safeParse(rbac);
  if (parsed && !parsed.success) throw new Invalid(parsed.error.issues[0]?.message ?? "invalid", "rbac");
  const bound = parsed ? createRbac(parsed.data).rolesOf(base) : [];
  return {
    ...base,
    roles: [...new Set([...bound, ...o.role])],
    claims: claimsOf(o.claim),
    credential: (o.credential ?? (o.service !== undefined ? "access-token" : "session")) as Credential,
  };
}

function requestOf(o: TestOptions, environment: string | undefined): AccessRequest {
  const now = o.time === undefined ? new Date() : new Date(o.time);
  if (Number.isNaN(now.getTime())) throw new Invalid(`expected an ISO 8601 time; got '${o.time}'`, "--time");
  let clientCertificate: ClientCertificate | undefined;
  if (o.certFingerprint !== undefined || o.certSubject !== undefined || o.certSan.length > 0)
    clientCertificate = {
      subject: o.certSubject ?? "",
      fingerprint: (o.certFingerprint ?? "").replaceAll(":", "").toLowerCase(),
      san: o.certSan,
    };
  return {
    method: o.method.toUpperCase(),
    path: o.path ?? o.route,
    host: o.host ?? "localhost",
    ip: o.ip,
    ...(o.country !== undefined ? { country: o.country.toUpperCase() } : {}),
    ...((o.environment ?? environment) !== undefined ? { environment: o.environment ?? environment } : {}),
    ...(clientCertificate ? { clientCertificate } : {}),
    now,
  };
}

function describe(x: PolicyExplanation): string {
  const d = x.decision;
  const denied = !d.allowed || d.shadowDenied === true;
  const ruleName = (r: { index: number; kind: string; name?: string }) =>
    `rule ${r.index} (${r.kind}${r.name ? ` "${r.name}"` : ""})`;
  const head = `${denied ? "DENY" : "ALLOW"}  ${d.rule ? `by ${ruleName(d.rule)}` : "no rule allows it (deny by default)"}${d.shadowDenied ? "; shadow mode: the gateway lets it through" : ""}`;
  const lines = [head];
  for (const r of x.rules) {
    lines.push(`  ${ruleName(r)}: ${r.matched ? "matches" : "does not match"}`);
    for (const c of r.conditions) lines.push(`    ${c.held ? "✓" : "✗"} ${c.condition}: ${c.reason}`);
  }
  return lines.join("\n");
}

export function registerPolicyCommands(program: Command): void {
  const policy = program.command("policy").description("route access policies: explain their decisions");
  policy
    .command("test")
    .description("explain the decision of a route's policy for one identity and request")
    .requiredOption("-c, --config <file>", "rampart.yaml")
    .requiredOption("--route <path>", "the route's path, e.g. /admin")
    .option("--host <name>", "the route's host, when several routes share the path")
    .option("--user <subject-or-email>", "a person: subject (corp:123) or email (taken as verified)")
    .option("--unverified-email", "the --user email is not verified by the provider")
    .option("--service <name>", "a service account instead of a person")
    .option("--credential <kind>", "session, access-token, api-key or client-certificate")
    .option("--group <name>", "a group of the identity (repeatable)", repeat, [])
    .option("--role <name>", "a role, besides those the config's RBAC bindings give (repeatable)", repeat, [])
    .option("--claim <name=value>", "a claim; repeat a name for a list (repeatable)", repeat, [])
    .option("--ip <address>", "client IP", "127.0.0.1")
    .option("-X, --method <method>", "request method", "GET")
    .option("--path <path>", "request path (default: the route's path)")
    .option("--country <code>", "client country, ISO 3166-1 alpha-2")
    .option("--environment <name>", "environment tag (default: the route's, or the config's)")
    .option("--time <iso8601>", "when the request is made (default: now)")
    .option("--cert-fingerprint <sha256>", "client certificate SHA-256 fingerprint")
    .option("--cert-subject <dn>", "client certificate subject")
    .option("--cert-san <san>", "client certificate SAN, e.g. DNS:build.internal (repeatable)", repeat, [])
    .option("--json", "machine-readable output")
    .action(async (o: TestOptions) => {
      const route = await routeOf(o);
      const explanation = compilePolicy(route.policy).explain(
        identityOf(o, route.rbac),
        requestOf(o, route.environment),
      );
      console.log(o.json ? JSON.stringify(explanation, null, 2) : describe(explanation));
      const d = explanation.decision;
      process.exitCode = d.allowed && d.shadowDenied !== true ? 0 : 1;
    });
}
