// Source address sets matched with integer masks: an IPv4 address is one 32-bit word, an IPv6
// address four. IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`) count as IPv4 on both sides, so a
// range cannot be dodged by writing the same address the other way. The parsers are strict: an
// address some other parser would read differently (`010.0.0.1`, zone ids) is not an address.

/** An IPv4 address as an unsigned integer, or an IPv6 address as four unsigned 32-bit words. */
export type ParsedIp = number | readonly [number, number, number, number];

export interface CidrSet {
  has(ip: ParsedIp): boolean;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseV4(text: string): number | undefined {
  if (!IPV4.test(text)) return undefined;
  let n = 0;
  for (const octet of text.split(".")) n = n * 256 + Number(octet);
  return n;
}

/** Sixteen-bit groups of an IPv6 address, or undefined. */
function groupsV6(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups: number[][] = [];
  for (const [h, half] of halves.entries()) {
    const out: number[] = [];
    const parts = half === "" ? [] : half.split(":");
    for (const [i, part] of parts.entries()) {
      // A dotted IPv4 tail (`::ffff:1.2.3.4`) stands for the last two groups.
      if (h === halves.length - 1 && i === parts.length - 1 && part.includes(".")) {
        const v4 = parseV4(part);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (HEX_GROUP.test(part)) out.push(Number.parseInt(part, 16));
      else return undefined;
    }
    groups.push(out);
  }
  const head = groups[0] as number[];
  if (groups.length === 1) return head.length === 8 ? head : undefined;
  const tail = groups[1] as number[];
  // `::` stands for at least one zero group.
  const zeros = 8 - head.length - tail.length;
  return zeros < 1 ? undefined : [...head, ...new Array<number>(zeros).fill(0), ...tail];
}

/** The address, or undefined when it is not one (never guessed at). */
export function parseIp(text: string): ParsedIp | undefined {
  if (!text.includes(":")) return parseV4(text);
  const g = groupsV6(text);
  if (g === undefined) return undefined;
  const word = (i: number) => ((g[2 * i] as number) * 0x10000 + (g[2 * i + 1] as number)) >>> 0;
  const w = [word(0), word(1), word(2), word(3)] as const;
  return w[0] === 0 && w[1] === 0 && w[2] === 0xffff ? w[3] : w;
}

const maskOf = (bits: number) =>
  bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;

interface Range {
  /** 1 word for IPv4, 4 for IPv6. */
  net: number[];
  mask: number[];
}

/** A range written as `a.b.c.d/n`, `x::/n` or a single address; undefined when malformed. */
export function parseRange(text: string): Range | undefined {
  const slash = text.indexOf("/");
  const address = slash === -1 ? text : text.slice(0, slash);
  const ip = parseIp(address);
  if (ip === undefined) return undefined;
  const mapped = typeof ip === "number" && address.includes(":");
  const max = typeof ip === "number" && !mapped ? 32 : 128;
  const suffix = slash === -1 ? String(max) : text.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(suffix) || Number(suffix) > max) return undefined;
  let bits = Number(suffix);
  if (mapped) {
    // `::ffff:10.0.0.0/104` is 10.0.0.0/8; a mapped range wider than the mapped block is refused.
    if (bits < 96) return undefined;
    bits -= 96;
  }
  const words = typeof ip === "number" ? [ip] : [...ip];
  const mask = words.map((_, i) => maskOf(bits - 32 * i));
  return { net: words.map((w, i) => (w & (mask[i] as number)) >>> 0), mask };
}

/** A set of ranges (each valid per `parseRange`). */
export function compileCidrs(ranges: readonly string[]): CidrSet {
  const v4: Range[] = [];
  const v6: Range[] = [];
  for (const text of ranges) {
    const r = parseRange(text) as Range;
    (r.net.length === 1 ? v4 : v6).push(r);
  }
  const nets4 = v4.map((r) => r.net[0] as number);
  const masks4 = v4.map((r) => r.mask[0] as number);
  return {
    has(ip) {
      if (typeof ip === "number") {
        for (let i = 0; i < nets4.length; i++)
          if ((ip & (masks4[i] as number)) >>> 0 === nets4[i]) return true;
        return false;
      }
      outer: for (const r of v6) {
        for (let i = 0; i < 4; i++)
          if (((ip[i] as number) & (r.mask[i] as number)) >>> 0 !== r.net[i]) continue outer;
        return true;
      }
      return false;
    },
  };
}
