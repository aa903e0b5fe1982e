// `rampart blocks` and `rampart lockdown`: dynamic blocks (addresses, ranges, countries) and route
// lockdowns at every gateway, through the running control plane's API.
import type { Command } from "commander";
import { defaultConfig, loadConfig } from "../config/index.ts";
import type { IpBlock } from "../network/gateway/blocks.ts";
import type { RouteLockdown } from "../network/gateway/lockdown.ts";
import { serverApi } from "./server-api.ts";

interface Common {
  config?: string;
  server?: string;
  json?: boolean;
}

interface Lasting {
  for?: string;
  ttl?: string;
  reason: string;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `15m`, `2h`, `7d` → seconds; `option` names the flag in the error. */
export function parseDuration(text: string, option = "--for"): number {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  if (!m) throw new Error(`${option}: expected a duration such as 30m, 2h or 7d; got '${text}'`);
  return Number(m[1]) * (UNITS[m[2] as string] as number);
}

/** The duration from `--for` or its synonym `--ttl`, in seconds. */
function ttlOf(o: Lasting): number {
  if (o.for !== undefined && o.ttl !== undefined) throw new Error("give --for or --ttl, not both");
  if (o.for !== undefined) return parseDuration(o.for, "--for");
  if (o.ttl !== undefined) return parseDuration(o.ttl, "--ttl");
  throw new Error("--for: how long, e.g. 30m, 2h or 7d, is required");
}

async function api(o: Common) {
  const config = o.config ? await loadConfig(o.config) : defaultConfig();
  const found = serverApi(config, o.server);
  if (!found)
    throw new Error("no running server found: start `rampart up` or `rampart server`, or pass --server URL");
  return found.call;
}

const until = (expiresAt: string) => expiresAt.replace(/\.\d+Z$/, "Z");

const line = (b: IpBlock) => `  ${b.target.padEnd(24)} until ${until(b.expiresAt)}  by ${b.by}: ${b.reason}`;

const lockdownLine = (l: RouteLockdown) =>
  `  ${l.route.padEnd(32)} until ${until(l.expiresAt)}  by ${l.by}: ${l.reason}\n` +
  `  ${"".padEnd(32)} admits ${l.allow.length > 0 ? l.allow.join(", ") : "the route's and gateway's ipRules.allow"}`;

const common = (c: Command) =>
  c
    .option("-c, --config <file>", "rampart.yaml (default: embedded defaults)")
    .option("--server <url>", "the control plane to use (default: the one running on this data directory)")
    .option("--json", "machine-readable output");

const lasting = (c: Command) =>
  c
    .option("--for <duration>", "how long: 30m, 2h, 7d")
    .option("--ttl <duration>", "the same as --for")
    .requiredOption("--reason <text>", "why, for the audit log (an incident id helps)");

export function registerBlockCommands(program: Command): void {
  const blocks = program
    .command("blocks")
    .alias("block")
    .description(
      "block addresses, ranges or countries at every gateway for a while (through the running server)",
    );

  common(blocks.command("list"))
    .description("blocks in force, with their expiry")
    .action(async (o: Common) => {
      const { blocks: list } = await (await api(o))<{ blocks: IpBlock[] }>("GET", "/api/v1/gateway/blocks");
      if (o.json) return console.log(JSON.stringify(list, null, 2));
      console.log(list.length === 0 ? "no blocks in force" : list.map(line).join("\n"));
    });

  lasting(common(blocks.command("add <target>")))
    .description(
      "block an IP address, a CIDR range or a country, e.g. 203.0.113.7, 2001:db8::/32 or country:RU (at most 365d)",
    )
    .action(async (target: string, o: Common & Lasting) => {
      const ttlSeconds = ttlOf(o);
      const b = await (
        await api(o)
      )<IpBlock>("POST", "/api/v1/gateway/blocks", {
        target,
        ttlSeconds,
        reason: o.reason,
      });
      console.log(o.json ? JSON.stringify(b, null, 2) : `blocked\n${line(b)}`);
    });

  common(blocks.command("remove <target>"))
    .description("lift a block before it expires")
    .action(async (target: string, o: Common) => {
      const b = await (
        await api(o)
      )<IpBlock>("DELETE", `/api/v1/gateway/blocks/${encodeURIComponent(target)}`);
      console.log(o.json ? JSON.stringify(b, null, 2) : `lifted\n${line(b)}`);
    });

  registerLockdownCommands(program);
}

/** `rampart lockdown`: registered by registerBlockCommands, so main.ts needs no change. */
function registerLockdownCommands(program: Command): void {
  const lockdown = program
    .command("lockdown")
    .description(
      "admit only allowed addresses and people signed in through SSO on a route, for a while (through the running server)",
    );

  common(lockdown.command("list"))
    .description("routes in lockdown, with their expiry")
    .action(async (o: Common) => {
      const { lockdowns: list } = await (
        await api(o)
      )<{ lockdowns: RouteLockdown[] }>("GET", "/api/v1/gateway/lockdowns");
      if (o.json) return console.log(JSON.stringify(list, null, 2));
      console.log(list.length === 0 ? "no routes in lockdown" : list.map(lockdownLine).join("\n"));
    });

  lasting(common(lockdown.command("add <route>")))
    .description("lock a route down (its id: `id`, or <host or *><path> such as */admin; at most 30d)")
    .option(
      "--allow <address...>",
      "addresses or CIDR ranges admitted (default: the route's and gateway's ipRules.allow; with none, no one)",
    )
    .action(async (route: string, o: Common & Lasting & { allow?: string[] }) => {
      const ttlSeconds = ttlOf(o);
      const l = await (
        await api(o)
      )<RouteLockdown>("POST", "/api/v1/gateway/lockdowns", {
        route,
        ttlSeconds,
        reason: o.reason,
        ...(o.allow ? { allow: o.allow.flatMap((a) => a.split(",")).filter((a) => a !== "") } : {}),
      });
      console.log(o.json ? JSON.stringify(l, null, 2) : `locked down\n${lockdownLine(l)}`);
    });

  common(lockdown.command("remove <route>"))
    .description("lift a route's lockdown before it expires")
    .action(async (route: string, o: Common) => {
      const l = await (
        await api(o)
      )<RouteLockdown>("DELETE", `/api/v1/gateway/lockdowns/${encodeURIComponent(route)}`);
      console.log(o.json ? JSON.stringify(l, null, 2) : `lifted\n${lockdownLine(l)}`);
    });
}
