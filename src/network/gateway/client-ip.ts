// Who the client is: the socket's peer, unless that peer is a proxy we were told to trust, in which
// case X-Forwarded-For is walked from the right past every trusted hop. A client that writes its own
// X-Forwarded-For is never believed, because its hop is not trusted.
import ipaddr from "ipaddr.js";
import { inRanges, parseRanges } from "./ip-rules.ts";

/** `::ffff:203.0.113.7` and `203.0.113.7` are the same client. */
export function normalizeIp(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return undefined;
  const ip = ipaddr.process(address);
  return ip.toString();
}

export interface ClientIpResolver {
  /** The client address for a connection from `peer` carrying `xff`. */
  client(peer: string, xff: string | undefined): string;
  /** Whether `peer` is one of the trusted proxies. */
  trusts(peer: string): boolean;
}

export function createClientIpResolver(trusted: readonly string[]): ClientIpResolver {
  const ranges = parseRanges(trusted);
  const isTrusted = (address: string): boolean =>
    ipaddr.isValid(address) && inRanges(ipaddr.process(address), ranges);
  const client = (peer: string, xff: string | undefined): string => {
    let client = normalizeIp(peer) ?? peer;
    if (ranges.length === 0 || xff === undefined || !isTrusted(client)) return client;
    const hops = xff.split(",");
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeIp((hops[i] as string).trim());
      if (hop === undefined) break; // garbage: the last hop we could vouch for is the client
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client;
  };
  return { client, trusts: isTrusted };
}
