// Static IP allow and deny lists (IPv4 and IPv6 CIDR). Deny wins; a non-empty allow list admits
// only its members. Lists are parsed once, at start or reload; a check is a few integer matches.
import ipaddr from "ipaddr.js";

export type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * An address or CIDR range. Clients arriving IPv4-mapped (::ffff:a.b.c.d) are matched as IPv4, so an
 * IPv4-mapped range becomes its IPv4 range too: written either way, a rule means the same.
 */
export function parseRange(text: string): Range {
  if (!text.includes("/")) {
    const ip = ipaddr.process(text);
    return [ip, ip.kind() === "ipv4" ? 32 : 128];
  }
  const [net, bits] = ipaddr.parseCIDR(text);
  if (net.kind() === "ipv6" && (net as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96)
    return [(net as ipaddr.IPv6).toIPv4Address(), bits - 96];
  return [net, bits];
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
