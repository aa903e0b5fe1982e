// Static IP allow and deny lists (IPv4 and IPv6 CIDR). Deny wins; a non-empty allow list admits
// only its members. Lists are parsed once, at start or reload; a check is a few integer matches.
import ipaddr from "ipaddr.js";

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

function parseRange(text: string): Range {
  if (text.includes("/")) return ipaddr.parseCIDR(text);
  const ip = ipaddr.process(text);
  return [ip, ip.kind() === "ipv4" ? 32 : 128];
}

/** Whether `ip` (already parsed) falls in any of `ranges`. */
export function inRanges(ip: ipaddr.IPv4 | ipaddr.IPv6, ranges: readonly Range[]): boolean {
  return ranges.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits));
}

export function parseRanges(list: readonly string[]): Range[] {
  return list.map(parseRange);
}

export interface IpRules {
  /** Why the address is refused, or undefined when it may pass. */
  refuses(client: string): "denied" | "not allowed" | undefined;
}

export function compileIpRules(...layers: { allow: readonly string[]; deny: readonly string[] }[]): IpRules {
  const compiled = layers.map((l) => ({ allow: parseRanges(l.allow), deny: parseRanges(l.deny) }));
  if (compiled.every((l) => l.allow.length === 0 && l.deny.length === 0)) return { refuses: () => undefined };
  return {
    refuses(client) {
      // An address the gateway cannot parse is refused wherever rules exist: fail closed.
      if (!ipaddr.isValid(client)) return "denied";
      const ip = ipaddr.process(client);
      for (const l of compiled) {
        if (inRanges(ip, l.deny)) return "denied";
        if (l.allow.length > 0 && !inRanges(ip, l.allow)) return "not allowed";
      }
      return undefined;
    },
  };
}
