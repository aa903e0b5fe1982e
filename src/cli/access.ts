// `rampart access`: just-in-time access through the running control plane's API. Who acts is the
// credential given (--token or RAMPART_TOKEN: an API key or access token), else the admin token
// of the local data directory; approving needs a person's credential, never the admin token.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { defaultConfig, loadConfig } from "../config/index.ts";
import { adminTokenPath, runningServerUrl } from "../server/index.ts";

export interface Common {
  config?: string;
  server?: string;
  token?: string;
  json?: boolean;
}

export type Call = <T>(method: string, path: string, body?: unknown) => Promise<T>;

/** The server to use and the acting credential. */
export async function serverFor(o: Common): Promise<{ url: string; token: string }> {
  const config = o.config ? await loadConfig(o.config) : defaultConfig();
  const dataDir = resolve(config.database.dataDir);
  const url = o.server ?? runningServerUrl(dataDir);
  if (!url)
    throw new Error("no running server found: start `rampart up` or `rampart server`, or pass --server URL");
  const tokenFile = adminTokenPath(dataDir);
  const token =
    o.token ??
    process.env.RAMPART_TOKEN ??
    (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : undefined);
  if (!token) throw new Error(`a server runs at ${url}; pass --token or set RAMPART_TOKEN to reach it`);
  return { url, token };
}

/** The API of the server to use, called with the acting credential. */
export async function apiFor(o: Common): Promise<Call> {
  const { url, token } = await serverFor(o);
  return async <T>(method: string, path: string, body?: unknown) => {
    const res = await fetch(new URL(path, url), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as T & { message?: string };
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json.message ?? ""}`.trim());
    return json;
  };
}

/** Options every command of `access` and `identity` takes. */
export function commonOptions(c: Command): Command {
  return c
    .option("-c, --config <file>", "rampart.yaml (default: embedded defaults)")
    .option("--server <url>", "the control plane to use (default: the one running on this data directory)")
    .option(
      "--token <token>",
      "act with this API key or access token (default: RAMPART_TOKEN, else the admin token)",
    )
    .option("--json", "machine-readable output");
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `15m`, `2h`, `30d` → seconds; the error names the flag. */
export function durationSeconds(text: string, flag: string): number {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  if (!m || Number(m[1]) === 0)
    throw new Error(`${flag}: expected a duration such as 30m, 2h or 7d; got '${text}'`);
  return Number(m[1]) * (UNITS[m[2] as string] as number);
}

function minutes(text: string, flag: string): number {
  const s = durationSeconds(text, flag);
  if (s % 60 !== 0) throw new Error(`${flag}: expected whole minutes (30m, 2h); got '${text}'`);
  return s / 60;
}

function scopeOf(o: { route?: string; environment?: string }): { kind: "route" | "environment"; id: string } {
  if ((o.route === undefined) === (o.environment === undefined))
    throw new Error("name the scope with exactly one of --route ID or --environment NAME");
  return o.route !== undefined
    ? { kind: "route", id: o.route }
    : { kind: "environment", id: o.environment as string };
}

export const print = (o: Common, json: unknown, text: string) =>
  console.log(o.json ? JSON.stringify(json, null, 2) : text);

interface Request {
  id: string;
  requester: string;
  role: string;
  scope: { kind: string; id: string };
  status: string;
  requiredApprovals: number;
  expiresAt: string;
  grantId: string | null;
  decisions: { decision: string }[];
}

interface Grant {
  id: string;
  subject: string;
  role: string;
  scope: { kind: string; id: string };
  ends: string;
  breakGlass: boolean;
}

const requestLine = (r: Request) =>
  `  ${r.id}  ${r.status.padEnd(9)} ${r.role} on ${r.scope.kind} ${r.scope.id}  by ${r.requester}  ` +
  `${r.decisions.filter((d) => d.decision === "approve").length}/${r.requiredApprovals} approvals` +
  (r.grantId ? `  grant ${r.grantId}` : "");

const grantLine = (g: Grant) =>
  `  ${g.id}  ${g.subject}  ${g.role} on ${g.scope.kind} ${g.scope.id}  until ${g.ends}${g.breakGlass ? "  BREAK-GLASS" : ""}`;

export function registerAccessCommands(program: Command): void {
  const access = program
    .command("access")
    .description(
      "just-in-time access: request, approve, list and revoke grants (through the running server)",
    );

  commonOptions(access.command("request"))
    .description("ask for a role on a route or an environment for a while")
    .requiredOption("--role <role>", "the role to be granted")
    .option("--route <id>", "on this route")
    .option("--environment <name>", "on every route of this environment (e.g. prod)")
    .requiredOption("--for <duration>", "how long the grant lasts once approved: 30m, 2h, 1d")
    .requiredOption("--why <text>", "justification, for the approvers and the audit log")
    .action(
      async (
        o: Common & { role: string; route?: string; environment?: string; for: string; why: string },
      ) => {
        const body = {
          role: o.role,
          scope: scopeOf(o),
          justification: o.why,
          durationMinutes: minutes(o.for, "--for"),
        };
        const r = await (await apiFor(o))<Request>("POST", "/api/v1/access/requests", body);
        print(
          o,
          r,
          `requested, waiting for ${r.requiredApprovals} approval(s) until ${r.expiresAt}\n${requestLine(r)}`,
        );
      },
    );

  for (const [verb, what] of [
    ["approve", "approve a request (as a person the policy names as approver; never your own)"],
    ["deny", "deny a request"],
  ] as const)
    commonOptions(access.command(`${verb} <id>`))
      .description(what)
      .option("--comment <text>", "for the requester and the audit log")
      .action(async (id: string, o: Common & { comment?: string }) => {
        const r = await (
          await apiFor(o)
        )<Request>(
          "POST",
          `/api/v1/access/requests/${encodeURIComponent(id)}/${verb}`,
          o.comment !== undefined ? { comment: o.comment } : {},
        );
        print(o, r, requestLine(r));
      });

  commonOptions(access.command("cancel <id>"))
    .description("withdraw your own pending request")
    .action(async (id: string, o: Common) => {
      const r = await (
        await apiFor(o)
      )<Request>("POST", `/api/v1/access/requests/${encodeURIComponent(id)}/cancel`, {});
      print(o, r, requestLine(r));
    });

  commonOptions(access.command("list"))
    .description("your requests, or with --pending the ones waiting for your decision")
    .option("--pending", "requests you may approve or deny now")
    .action(async (o: Common & { pending?: boolean }) => {
      const { requests } = await (
        await apiFor(o)
      )<{ requests: Request[] }>("GET", `/api/v1/access/requests${o.pending ? "?pending=true" : ""}`);
      print(o, requests, requests.length === 0 ? "no requests" : requests.map(requestLine).join("\n"));
    });

  commonOptions(access.command("grants"))
    .description("grants in force now")
    .option("--subject <subject>", "only this subject's")
    .action(async (o: Common & { subject?: string }) => {
      const q = o.subject ? `?subject=${encodeURIComponent(o.subject)}` : "";
      const { grants } = await (await apiFor(o))<{ grants: Grant[] }>("GET", `/api/v1/access/grants${q}`);
      print(o, grants, grants.length === 0 ? "no grants in force" : grants.map(grantLine).join("\n"));
    });

  commonOptions(access.command("revoke <grantId>"))
    .description("end a grant at once on every gateway")
    .option("--reason <text>", "for the audit log")
    .action(async (id: string, o: Common & { reason?: string }) => {
      const g = await (
        await apiFor(o)
      )<Grant>(
        "DELETE",
        `/api/v1/access/grants/${encodeURIComponent(id)}`,
        o.reason !== undefined ? { reason: o.reason } : {},
      );
      print(o, g, `revoked\n${grantLine(g)}`);
    });

  commonOptions(access.command("break-glass"))
    .description("take a role at once, without approval, as jit.breakGlass allows; always alerts")
    .requiredOption("--role <role>", "the role to take")
    .option("--route <id>", "on this route")
    .option("--environment <name>", "on every route of this environment (e.g. prod)")
    .requiredOption("--why <text>", "the reason, sent to the security team")
    .option("--for <duration>", "how long (default and maximum: jit.breakGlass.maxDurationMinutes)")
    .action(
      async (
        o: Common & { role: string; route?: string; environment?: string; why: string; for?: string },
      ) => {
        const body = {
          role: o.role,
          scope: scopeOf(o),
          reason: o.why,
          ...(o.for !== undefined ? { durationMinutes: minutes(o.for, "--for") } : {}),
        };
        const g = await (await apiFor(o))<Grant>("POST", "/api/v1/access/break-glass", body);
        print(o, g, `break-glass access granted (the security team is alerted)\n${grantLine(g)}`);
      },
    );
}
