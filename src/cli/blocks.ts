// `rampart blocks`: dynamic IP blocks at every gateway, through the running control plane's API.
import type { Command } from "commander";
import { defaultConfig, loadConfig } from "../config/index.ts";
import type { IpBlock } from "../network/gateway/blocks.ts";
import { serverApi } from "./server-api.ts";

interface Common {
  config?: string;
  server?: string;
  json?: boolean;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `15m`, `2h`, `7d` → seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  if (!m) throw new Error(`--for: expected a duration such as 30m, 2h or 7d; got '${text}'`);
  return Number(m[1]) * (UNITS[m[2] as string] as number);
}

async function api(o: Common) {
  const config = o.config ? await loadConfig(o.config) : defaultConfig();
  const found = serverApi(config, o.server);
  if (!found)
    throw new Error("no running server found: start `rampart up` or `rampart server`, or pass --server URL");
  return found.call;
}

const line = (b: IpBlock) =>
  `  ${b.target.padEnd(24)} until ${b.expiresAt.replace(/\.\d+Z$/, "Z")}  by ${b.by}: ${b.reason}`;

export function registerBlockCommands(program: Command): void {
  const blocks = program
    .command("blocks")
    .description("block addresses or ranges at every gateway for a while (through the running server)");
  const common = (c: Command) =>
    c
      .option("-c, --config <file>", "rampart.yaml (default: embedded defaults)")
      .option("--server <url>", "the control plane to use (default: the one running on this data directory)")
      .option("--json", "machine-readable output");

  common(blocks.command("list"))
    .description("blocks in force, with their expiry")
    .action(async (o: Common) => {
      const { blocks: list } = await (await api(o))<{ blocks: IpBlock[] }>("GET", "/api/v1/gateway/blocks");
      if (o.json) return console.log(JSON.stringify(list, null, 2));
      console.log(list.length === 0 ? "no blocks in force" : list.map(line).join("\n"));
    });

  common(blocks.command("add <target>"))
    .description("block an IP address or CIDR range, e.g. 203.0.113.7 or 2001:db8::/32")
    .requiredOption("--for <duration>", "how long: 30m, 2h, 7d (at most 365d)")
    .requiredOption("--reason <text>", "why, for the audit log (an incident id helps)")
    .action(async (target: string, o: Common & { for: string; reason: string }) => {
      const ttlSeconds = parseDuration(o.for);
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
}
