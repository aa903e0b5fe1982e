// Server-side request forgery and remote file inclusion: URLs (or bare hosts) that point the server
// at its own loopback, private network, link-local range or a cloud metadata endpoint, in whatever
// spelling a URL parser accepts (decimal `2852039166`, hex `0x7f000001`, octal `0177.0.0.1`, short
// `127.1`, IPv4-mapped IPv6, wildcard DNS such as `127.0.0.1.nip.io`); schemes used almost only to
// smuggle raw protocols (`gopher://`, `dict://`); and the classic RFI shape, a script URL whose
// trailing `?` or NUL cuts off the suffix the include appends. The engine feeds decoded variants,
// so percent-encoding and full-width digits arrive here already undone. Host classification is
// ipaddr.js's; the scanning is plain char loops, linear in the value. Rules are our own.
import ipaddr from "ipaddr.js";
import type { Detection, Detector, ParanoiaLevel, Severity, Target } from "../types.ts";

type RuleId =
  | "ssrf-metadata"
  | "ssrf-internal-url"
  | "ssrf-dangerous-scheme"
  | "rfi-url-param"
  | "rfi-ip-url"
  | "rfi-include-param"
  | "rfi-trailing-question"
  | "rfi-data-uri"
  | "ssrf-internal-host"
  | "ssrf-obfuscated-host"
  | "rfi-offsite-url"
  | "rfi-url-in-path"
  | "rfi-ip-host";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

/**
 * PL1: a metadata endpoint (as a URL host, a bare host or a well-known metadata path), a URL whose
 * host is internal (also written `http:127.0.0.1` or as a bare `localhost/path`), a raw-protocol
 * scheme, and the RFI shapes: a script URL cut off by `?` or NUL, a value that is a URL to an IP
 * literal, a URL given to a parameter named for a path or an include, a URL-scheme value ending in
 * `?`, PHP's `data:` wrapper with a text type, a URL host in an obfuscated spelling (a decimal,
 * hex or octal integer, an IPv6 literal, backslashes, an `@` smuggling a second host) that ordinary
 * links do not use. PL2: a whole value that is an internal address (`10.0.0.5`, `localhost`): a
 * settings form legitimately holds one; a value that is a URL to another site, or a URL inside the
 * request path: link-sharing forms and redirects do that too (a parameter named for a link,
 * `url`, `redirect_uri`, `imageUrl`, is left alone). PL3: any URL whose host is an IP
 * literal, which CDNs, health checks and self-hosted links also produce.
 */
export const SSRF_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "ssrf-metadata": { paranoia: 1, severity: "critical", tags: ["attack-ssrf", "cloud-metadata"] },
  "ssrf-internal-url": { paranoia: 1, severity: "critical", tags: ["attack-ssrf", "internal-address"] },
  "ssrf-dangerous-scheme": { paranoia: 1, severity: "critical", tags: ["attack-ssrf", "url-scheme"] },
  "rfi-url-param": { paranoia: 1, severity: "critical", tags: ["attack-rfi", "remote-include"] },
  "rfi-ip-url": { paranoia: 1, severity: "critical", tags: ["attack-rfi", "ip-host"] },
  "rfi-include-param": { paranoia: 1, severity: "critical", tags: ["attack-rfi", "remote-include"] },
  "rfi-trailing-question": { paranoia: 1, severity: "critical", tags: ["attack-rfi", "remote-include"] },
  "rfi-data-uri": { paranoia: 1, severity: "critical", tags: ["attack-rfi", "url-scheme"] },
  "ssrf-internal-host": { paranoia: 2, severity: "error", tags: ["attack-ssrf", "internal-address"] },
  "ssrf-obfuscated-host": { paranoia: 1, severity: "critical", tags: ["attack-ssrf", "ip-obfuscation"] },
  "rfi-offsite-url": { paranoia: 2, severity: "critical", tags: ["attack-rfi", "offsite-url"] },
  "rfi-url-in-path": { paranoia: 2, severity: "critical", tags: ["attack-rfi", "offsite-url"] },
  "rfi-ip-host": { paranoia: 3, severity: "warning", tags: ["attack-rfi", "ip-host"] },
};

/** How far a host may run; longer is not a host (DNS names stop at 253). */
const MAX_HOST = 260;

const isAlpha = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isSchemeChar = (c: number): boolean => isAlpha(c) || isDigit(c) || c === 43 || c === 45 || c === 46;
const isSlash = (c: number): boolean => c === 47 || c === 92;
/** Where a URL's authority ends: a path, query or fragment, whitespace, quotes and brackets of markup. */
const endsAuthority = (c: number): boolean =>
  isSlash(c) || c === 63 || c === 35 || c <= 32 || c === 34 || c === 39 || c === 60 || c === 62 || c === 96;

type HostClass = "metadata" | "internal" | "public-ip" | "name";

const METADATA_IPS = new Set([
  "169.254.169.254",
  "169.254.170.2",
  "100.100.100.200",
  "192.0.0.192",
  "fd00:ec2::254",
]);
// prettier-ignore
const METADATA_NAMES = new Set([
  "metadata.google.internal", "metadata.goog", "instance-data.ec2.internal",
  "metadata.azure.com", "metadata.tencentyun.com", "metadata.platformequinix.com", "metadata.packet.net",
]);
// prettier-ignore
const LOOPBACK_NAMES = new Set([
  "localhost", "localhost.localdomain", "localhost4", "localhost6", "localhost4.localdomain4",
  "localhost6.localdomain6", "ip6-localhost", "ip6-loopback", "ipv6-localhost", "ipv6-loopback", "ip6-localnet",
  "localtest.me", "lvh.me", "vcap.me", "kubernetes.default", "kubernetes.default.svc",
]);
/** Names container runtimes and clusters give the host and their services (`host.docker.internal`, `*.svc.cluster.local`). */
const INTERNAL_SUFFIXES = [
  ".docker.internal",
  ".containers.internal",
  ".lima.internal",
  ".cluster.local",
  ".internal",
];
/** Wildcard DNS services that resolve `<ip>.<suffix>` (or `<a-b-c-d>.<suffix>`) to that ip. */
const WILDCARD_DNS = ["nip.io", "sslip.io", "xip.io", "nip.direct", "traefik.me", "localh.st"];
const WILDCARD_DOTTED = WILDCARD_DNS.map((suffix) => `.${suffix}`);
const INTERNAL_V4 = new Set(["loopback", "private", "linkLocal", "unspecified", "carrierGradeNat"]);
const INTERNAL_V6 = new Set(["loopback", "private", "linkLocal", "unspecified", "uniqueLocal"]);

/**
 * Whether a string could be an IP literal at all: IPv6 (hex digits, dots and two colons or more),
 * or up to four dot-separated parts, each decimal, octal or `0x` hex. ipaddr.js throws (slowly) on
 * anything else, and ids, hashes and card numbers are common values, so most never reach it.
 */
function ipShaped(text: string): boolean {
  if (text.length === 0 || text.length > 64) return false;
  if (text.includes(":")) {
    let colons = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 58) colons++;
      else if (!(isDigit(c) || c === 46 || (c >= 97 && c <= 102))) return false;
    }
    return colons >= 2 && colons <= 7;
  }
  return ipv4Shaped(text);
}

const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102);

/**
 * Up to four dot-separated parts, each `0x` and up to 8 lowercase hex digits, or 1 to 12 decimal
 * digits (`/^(?:0x[0-9a-f]{0,8}|[0-9]{1,12})$/` per part), read in one pass without splitting.
 */
function ipv4Shaped(text: string): boolean {
  const n = text.length;
  let i = 0;
  for (let parts = 1; parts <= 4; parts++) {
    let j = i;
    if (text.charCodeAt(i) === 48 && text.charCodeAt(i + 1) === 120 /* 0x */) {
      j += 2;
      while (j < n && isHex(text.charCodeAt(j))) j++;
      if (j - i - 2 > 8) return false;
    } else {
      while (j < n && isDigit(text.charCodeAt(j))) j++;
      if (j === i || j - i > 12) return false;
    }
    if (j === n) return true;
    if (text.charCodeAt(j) !== 46) return false;
    i = j + 1;
  }
  return false;
}
const ALL_DIGITS = /^[0-9]+$/;

const OCTAL = /^0[0-7]+$/;

/**
 * The address an all-digit host is, read as ipaddr.js reads it: decimal, or octal after a leading
 * 0 (other digits after it are no address); null past 32 bits.
 */
function integerHost(digits: string): number | null {
  if (digits[0] !== "0" || digits.length === 1) {
    const n = Number(digits);
    return digits.length > 10 || n > 0xffffffff ? null : n;
  }
  if (!OCTAL.test(digits)) return null;
  const n = parseInt(digits, 8);
  return n > 0xffffffff ? null : n;
}

/** The IPv4 metadata addresses as numbers. */
const METADATA_V4 = new Set(
  [...METADATA_IPS]
    .filter((ip) => !ip.includes(":"))
    .map((ip) => ip.split(".").reduce((n, part) => n * 256 + Number(part), 0)),
);

/** Classifies an IP literal in any spelling ipaddr.js accepts, or null when it is not one. */
function classifyIp(text: string): HostClass | null {
  if (!ipShaped(text)) return null;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  if (ALL_DIGITS.test(text)) {
    // One number (`2130706433`): ids, phone and card numbers take this path, so it is read here
    // rather than by ipaddr.js's parser, which is slow on them (and throws on `09`).
    const n = integerHost(text);
    if (n === null) return null;
    addr = new ipaddr.IPv4([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  } else {
    if (!ipaddr.isValid(text)) return null;
    try {
      addr = ipaddr.parse(text);
    } catch {
      return null;
    }
  }
  if (addr.kind() === "ipv6") {
    const v6 = addr as ipaddr.IPv6;
    if (METADATA_IPS.has(v6.toString())) return "metadata";
    const range = v6.range();
    // IPv4 embedded in IPv6: mapped (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::/96`) carry it in the low 32 bits.
    // and the deprecated IPv4-compatible form (`::a.b.c.d`, 96 zero bits first)
    const compatible = v6.parts.slice(0, 6).every((x) => x === 0) && v6.parts[6] !== 0;
    if (range === "ipv4Mapped" || range === "rfc6052" || range === "rfc6145" || compatible) {
      const p = v6.parts;
      const v4 = `${p[6]! >> 8}.${p[6]! & 255}.${p[7]! >> 8}.${p[7]! & 255}`;
      return classifyIp(v4);
    }
    return INTERNAL_V6.has(range) ? "internal" : "public-ip";
  }
  const v4 = addr as ipaddr.IPv4;
  if (METADATA_IPS.has(v4.toString())) return "metadata";
  return INTERNAL_V4.has(v4.range()) ? "internal" : "public-ip";
}

/** The IP a wildcard-DNS name embeds (`a.127.0.0.1`, `app-10-0-0-1`, `7f000001`, sslip's `--1`), or null. */
function embeddedIp(prefix: string): HostClass | null {
  const labels = prefix.split(".");
  if (labels.length >= 4) {
    const c = classifyIp(labels.slice(-4).join("."));
    if (c !== null) return c;
  }
  const last = labels[labels.length - 1] ?? "";
  const dashed = last.split("-");
  if (dashed.length >= 4) {
    const c = classifyIp(dashed.slice(-4).join("."));
    if (c !== null) return c;
  }
  if (last.includes("--")) {
    const c = classifyIp(last.replaceAll("-", ":"));
    if (c !== null) return c;
  }
  if (last.length === 8 && /^[0-9a-f]{8}$/.test(last)) return classifyIp(`0x${last}`);
  return null;
}

/** Lowercase host without brackets, zone id, trailing dot, and with ideographic full stops as dots. */
function normaliseHost(raw: string): string {
  let h = raw.toLowerCase();
  // Ideographic full stops are rare: look before replacing.
  if (h.includes("\u3002")) h = h.replaceAll("\u3002", ".");
  if (h.includes("\uff61")) h = h.replaceAll("\uff61", ".");
  if (h.startsWith("[")) {
    const close = h.indexOf("]");
    h = h.slice(1, close < 0 ? h.length : close);
  } else {
    // `host:port`, unless it is a bare IPv6 with several colons
    const colon = h.indexOf(":");
    if (colon >= 0 && colon === h.lastIndexOf(":")) h = h.slice(0, colon);
  }
  const zone = h.indexOf("%");
  if (zone >= 0) h = h.slice(0, zone);
  while (h.endsWith(".")) h = h.slice(0, -1);
  return h;
}

/** What a host (already normalised) points at. */
export function classifyHost(host: string): HostClass {
  if (host.length === 0 || host.length > MAX_HOST) return "name";
  const ip = classifyIp(host);
  if (ip !== null) return ip;
  if (METADATA_NAMES.has(host)) return "metadata";
  if (LOOPBACK_NAMES.has(host)) return "internal";
  // Every suffix below starts with a dot: a dotless name (a word, an id) is none of them.
  if (host.indexOf(".") < 0) return "name";
  if (host.endsWith(".localhost")) return "internal";
  if (INTERNAL_SUFFIXES.some((x) => host.endsWith(x))) return "internal";
  for (const dotted of WILDCARD_DOTTED) {
    if (host.endsWith(dotted)) {
      const c = embeddedIp(host.slice(0, -dotted.length));
      if (c === "metadata" || c === "internal") return c;
    }
  }
  if (host.endsWith(".localtest.me") || host.endsWith(".lvh.me") || host.endsWith(".vcap.me"))
    return "internal";
  return "name";
}

interface UrlHit {
  scheme: string;
  host: string;
  /** Index just past the authority, where the path starts. */
  end: number;
  /** Whether the URL starts the value (after leading whitespace). */
  leading: boolean;
}

/**
 * Every `scheme://authority` in the value, and a protocol-relative `//authority` that starts it.
 * Each scan stops at the next slash, and every start contains one, so the total work is linear.
 */
export function findUrls(v: string): UrlHit[] {
  const out: UrlHit[] = [];
  let start = 0;
  while (start < v.length && v.charCodeAt(start) <= 32) start++;
  if (v.startsWith("//", start)) authority(v, start, "", true, out);
  for (let i = v.indexOf(":", start); i >= 0; i = v.indexOf(":", i + 1)) {
    if (!isSlash(v.charCodeAt(i + 1))) continue;
    let s = i;
    while (s > 0 && i - s < 16 && isSchemeChar(v.charCodeAt(s - 1))) s--;
    if (s === i || !isAlpha(v.charCodeAt(s))) continue;
    authority(v, i + 1, v.slice(s, i).toLowerCase(), s === start, out);
  }
  return out;
}

/** The authority after `scheme:` at `from` (past its slashes), added to `out` when it has a host. */
function authority(v: string, from: number, scheme: string, leading: boolean, out: UrlHit[]): void {
  let i = from;
  while (i < v.length && isSlash(v.charCodeAt(i))) i++;
  if (i - from < 2 && scheme !== "") return;
  const hostStart = i;
  const stop = Math.min(v.length, hostStart + MAX_HOST);
  let at = -1;
  // No authority terminator occurs inside an IPv6 literal, so brackets need no special case.
  for (; i < stop; i++) {
    const c = v.charCodeAt(i);
    if (c === 64) at = i;
    else if (endsAuthority(c)) break;
  }
  const raw = v.slice(at >= 0 ? at + 1 : hostStart, i);
  if (raw.length > 0) out.push({ scheme, host: normaliseHost(raw), end: i, leading });
}

/** Paths that only a cloud metadata service serves. */
const METADATA_PATHS = [
  "/latest/meta-data",
  "/latest/user-data",
  "/latest/api/token",
  "/computemetadata/v1",
  "/metadata/identity/oauth2",
  "/metadata/instance?",
];
const RAW_SCHEMES = new Set(["gopher", "dict", "netdoc", "tftp"]);
const FETCH_SCHEMES = new Set(["http", "https", "ftp", "ftps"]);

/** The RFI shape: a script-ish file (`name.ext`) as the URL's last segment, then only `?`s, or a NUL (`%00`). */
function isRfiShape(v: string, pathStart: number): boolean {
  let end = v.length;
  while (end > pathStart && v.charCodeAt(end - 1) <= 32) end--;
  // The decoder drops NUL bytes, so the raw variant's `%00` is where the cut shows.
  let nul = v.indexOf("\u0000", pathStart);
  if (nul < 0) nul = v.indexOf("%00", pathStart);
  let q = nul >= 0 && nul < end ? nul : end;
  if (q === end) {
    while (q > pathStart && v.charCodeAt(q - 1) === 63) q--;
    if (q === end) return false; // neither `?` nor NUL cuts it off
  }
  const seg = v.slice(pathStart, q);
  if (seg.includes("?") || seg.includes("#")) return false;
  const slash = Math.max(seg.lastIndexOf("/"), seg.lastIndexOf("\\"));
  const file = seg.slice(slash + 1);
  const dot = file.lastIndexOf(".");
  return slash >= 0 && dot > 0 && dot < file.length - 1 && /^[a-z0-9]{1,5}$/i.test(file.slice(dot + 1));
}

/** Header targets that carry the request's own URLs: internal addresses there are dev traffic, not SSRF. */
function isSelfUrlTarget(name: string): boolean {
  return (
    endsWithLowered(name, ":referer") || endsWithLowered(name, ":origin") || endsWithLowered(name, ":host")
  );
}

/**
 * `name.toLowerCase().endsWith(suffix)` for a lowercase ASCII suffix, without lowercasing the whole
 * name: an ASCII tail lowercases char by char; a tail with other chars is lowercased as before.
 */
function endsWithLowered(name: string, suffix: string): boolean {
  const from = name.length - suffix.length;
  if (from < 0) return false;
  for (let i = 0; i < suffix.length; i++) {
    let c = name.charCodeAt(from + i);
    if (c >= 128) return name.toLowerCase().endsWith(suffix);
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== suffix.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Whether an IP literal host is spelled the way only URL-parser tricks spell it: one integer
 * (`2852039166`, `0xa9fea9fe`), octal or hex parts, fewer than four parts, or IPv6.
 */
function unusualSpelling(host: string): boolean {
  if (host.includes(":")) return true;
  const parts = host.split(".");
  return !(
    parts.length === 4 && parts.every((p) => p.length > 0 && p.length <= 3 && !(p.length > 1 && p[0] === "0"))
  );
}

/**
 * Integers past 32 bits (`7147006462`, `0x41414141a9fea9fe`) wrap on some parsers: their low 32
 * bits are the address. What that address is, or null when the host is no such integer.
 */
function wrappedInteger(host: string): HostClass | null {
  if (/^[0-9]{10,20}$/.test(host) && Number(host) > 0xffffffff)
    return classifyIp(String(Number(BigInt(host) & 0xffffffffn)));
  if (/^0x[0-9a-f]{9,16}$/.test(host)) return classifyIp(`0x${host.slice(-8)}`);
  return null;
}

/** Schemes a server fetches; RFI and SSRF name these. */
const URL_WORDS = ["http", "https", "ftp", "ftps", "gopher", "dict"];

/**
 * `http:127.0.0.1`, `http:/2852039166`, `http:[::1]`: a scheme with fewer than two slashes, which
 * lenient URL parsers (PHP, curl, browsers) still read as scheme and host. Only IP literals count.
 */
function slashlessHosts(lower: string): string[] {
  const out: string[] = [];
  for (let i = lower.indexOf(":"); i >= 0 && out.length < 8; i = lower.indexOf(":", i + 1)) {
    let s = i;
    while (s > 0 && i - s < 7 && isAlpha(lower.charCodeAt(s - 1))) s--;
    if (s > 0 && isSchemeChar(lower.charCodeAt(s - 1))) continue;
    if (!URL_WORDS.includes(lower.slice(s, i))) continue;
    let k = i + 1;
    if (isSlash(lower.charCodeAt(k))) k++;
    if (isSlash(lower.charCodeAt(k))) continue; // `http://`: findUrls reads it
    const start = k;
    const stop = Math.min(lower.length, start + 64);
    while (k < stop && !endsAuthority(lower.charCodeAt(k))) k++;
    const host = normaliseHost(lower.slice(start, k));
    if (host.includes(":")) {
      out.push(host);
      continue;
    }
    // A whole address: four parts, or one integer past 2^24 (`http:8080` is a port, `0xabcdef` no host).
    const parts = host.split(".");
    if (!ipShaped(host) || (parts.length !== 1 && parts.length !== 4)) continue;
    if (parts.length === 1) {
      const n = host.startsWith("0x") ? parseInt(host.slice(2), 16) : Number(host);
      if (!(n >= 2 ** 24)) continue;
    }
    out.push(host);
  }
  return out;
}

/** `http://a\\b\\c.com`: backslashes between host characters, which parsers disagree about. */
function backslashedAuthority(v: string): boolean {
  for (let i = v.indexOf("://"); i >= 0; i = v.indexOf("://", i + 3)) {
    let k = i + 3;
    while (k < v.length && isSlash(v.charCodeAt(k))) k++;
    let backslashes = 0;
    let dotAfter = false;
    const stop = Math.min(v.length, k + MAX_HOST);
    for (; k < stop; k++) {
      const c = v.charCodeAt(k);
      if (c === 92) backslashes++;
      else if (c === 46 && backslashes > 0) dotAfter = true;
      else if (c === 47 || c === 63 || c === 35 || c <= 32) break;
    }
    if (backslashes >= 2 && dotAfter) return true;
  }
  return false;
}

/**
 * `http://example.com%2f@evil.com/`: an encoded slash before the `@`, so a checker that decodes
 * first reads `example.com` as the host and a fetcher that does not reads `evil.com`. Decoded, the
 * first path segment is userinfo and a dotted host (`/:pw@evil.com/`); a profile path such as
 * `/@alice/post` has no dot there.
 */
function slashBeforeAt(lower: string): boolean {
  for (let i = lower.indexOf("://"); i >= 0; i = lower.indexOf("://", i + 3)) {
    let k = i + 3;
    const stop = Math.min(lower.length, k + MAX_HOST);
    while (k < stop && !endsAuthority(lower.charCodeAt(k))) k++;
    if (k >= stop || !isSlash(lower.charCodeAt(k))) continue;
    k++;
    const segStart = k;
    while (k < stop && !isSlash(lower.charCodeAt(k)) && lower.charCodeAt(k) > 32) k++;
    const seg = lower.slice(segStart, k);
    const at = seg.lastIndexOf("@");
    if (at < 0 || (at > 0 && seg.charCodeAt(0) !== 58 && !seg.slice(0, at).includes(":"))) continue;
    const host = seg.slice(at + 1);
    if (/^[a-z0-9-]+(?:\.[a-z0-9-]+)+$/.test(host) && /[a-z]/.test(host)) return true;
  }
  return false;
}

/** Hosts written after an `@` anywhere past a URL's start: `http://a.com:80 &@127.0.0.1:22/`. */
function hostsAfterAt(v: string, from: number): string[] {
  const out: string[] = [];
  for (let i = v.indexOf("@", from); i >= 0 && out.length < 8; i = v.indexOf("@", i + 1)) {
    let k = i + 1;
    const stop = Math.min(v.length, k + MAX_HOST);
    while (k < stop && !endsAuthority(v.charCodeAt(k)) && v.charCodeAt(k) !== 64) k++;
    if (k > i + 1) out.push(normaliseHost(v.slice(i + 1, k)));
  }
  return out;
}

/** Parameter names that hold a path or a file to include (`_conf[path]`, `mosConfig_absolute_path`, `inc_dir`). */
function includeParam(targetName: string): boolean {
  const colon = targetName.indexOf(":");
  const kind = targetName.slice(0, colon);
  if (kind !== "ARGS" && kind !== "ARGS_JSON" && kind !== "MULTIPART") return false;
  const name = targetName.slice(colon + 1).toLowerCase();
  for (const token of name.split(/[^a-z]+/))
    if (
      token.endsWith("path") ||
      token.endsWith("dir") ||
      token === "root" ||
      token === "include" ||
      token === "inc" ||
      token === "require"
    )
      return true;
  return false;
}

// Parameter names that say they hold a link: a URL there is the form working as meant.
// prettier-ignore
const URL_NAME_PARTS = [
  "url", "uri", "link", "href", "redirect", "redir", "return", "next", "callback", "continue", "goto", "dest",
  "target", "loc", "src", "source", "site", "web", "home", "feed", "rss", "refer", "origin", "domain", "host",
  "endpoint", "hook", "image", "img", "avatar", "icon", "logo", "photo", "video", "media", "share", "embed",
];

/** Whether a target's parameter (its last path segment for JSON and XML) is named for a URL. */
function urlParam(targetName: string): boolean {
  const colon = targetName.indexOf(":");
  const full = targetName.slice(colon + 1).toLowerCase();
  const last = full.slice(Math.max(full.lastIndexOf("."), full.lastIndexOf("/"), full.lastIndexOf("@")) + 1);
  return URL_NAME_PARTS.some((p) => last.includes(p));
}

/** A URL's path ends in a media or style file: a link to content, not code to include. */
function staticAsset(v: string, pathStart: number): boolean {
  let end = pathStart;
  while (end < v.length && v.charCodeAt(end) !== 63 && v.charCodeAt(end) !== 35 && v.charCodeAt(end) > 32)
    end++;
  const path = v.slice(pathStart, end).toLowerCase();
  const dot = path.lastIndexOf(".");
  if (dot < 0 || dot < path.lastIndexOf("/")) return false;
  return /^(?:jpe?g|png|gif|webp|svg|ico|bmp|avif|css|woff2?|ttf|mp[34]|webm|pdf)$/.test(path.slice(dot + 1));
}

/** Targets whose values are the request's data: parameters, bodies, uploads (cookies often keep a last-visited URL). */
function isDataTarget(name: string): boolean {
  return /^(?:ARGS|MULTIPART|XML|REQUEST_BODY)/.test(name);
}

/** `data:text/plain;base64,…`: a data URI serving code as text, for PHP's include to run. */
function textDataUri(lower: string): boolean {
  for (let i = lower.indexOf("data:"); i >= 0; i = lower.indexOf("data:", i + 5)) {
    if (i > 0 && isSchemeChar(lower.charCodeAt(i - 1))) continue;
    // `data://…` is read by the traversal detector's wrapper rule.
    const k = i + 5;
    if (lower.startsWith("text/", k) || lower.startsWith("application/x-httpd-php", k)) return true;
  }
  return false;
}

// What a target's name says, read once per name: the engine passes every decoded variant of a
// value under the same name.
let lastTarget = "";
let lastSelfUrl = false;
let lastData = false;

/**
 * Whether a `/` in the value starts a path that could be a metadata path (`METADATA_PATHS`: `/l…`,
 * `/c…`, `/m…` in any case). Only ASCII letters lowercase to those letters, so `lower` has such a
 * path only where this is true, and most paths (and user agents) are spared lowercasing.
 */
function metadataPathLike(v: string): boolean {
  for (let i = v.indexOf("/"); i >= 0; i = v.indexOf("/", i + 1)) {
    const c = v.charCodeAt(i + 1) | 0x20;
    if (c === 108 || c === 99 || c === 109) return true;
  }
  return false;
}

/**
 * What the whole value read as a host (`wholeValueHost`) needs to be internal or metadata
 * (`classifyHost`), for a value without a colon (no port, no IPv6): an IPv4 literal is digits, hex,
 * `x` and dots from a digit on, maybe in brackets, up to the value's end, a space, a zone (`%`), a
 * fragment, query or path; every name in the lists above holds one of the words. The host is the
 * value lowercased, and only U+212A (Kelvin) lowercases to an ASCII letter (`k`) that `/i` does
 * not fold; full stops may be ideographic.
 */
const MAYBE_INTERNAL =
  /^\s*\[?[0-9][0-9a-fx.\u3002\uff61]*(?:[#%\]\s/\\?]|$)|local|loop|internal|metadata|[k\u212a]ubernetes|(?:lvh|vcap|nip|xip|traefi[k\u212a])[.\u3002\uff61]|ip[.\u3002\uff61]io/i;

/** Whether the value starts (after spaces) with `//`, the one URL `findUrls` reads without a colon. */
function protocolRelative(v: string): boolean {
  let start = 0;
  while (start < v.length && v.charCodeAt(start) <= 32) start++;
  return v.startsWith("//", start);
}

/**
 * A short value no rule can match, read in one pass (cheaper than a search per char for the
 * words, ids and numbers that most values are): no `/`, `\\`, `:` or `?` (so no URL, scheme or
 * RFI cut), and as a bare host neither an IPv4 literal nor one of the listed names, which all hold
 * a full stop or `lo` (`localhost`, `ip6-loopback`). Without a dot, an IPv4 literal is digits, or
 * `0x` and hex digits, up to the host's end (`#`, `%`, `]`, a space), after spaces or `[`.
 */
function plainShort(v: string): boolean {
  const first = v.charCodeAt(0);
  if (!(first > 32 && first < 127) || first === 91) return false;
  let ip = isDigit(first);
  const hex = ip && first === 48 && (v.charCodeAt(1) | 0x20) === 120;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 47 || c === 92 || c === 58 || c === 63) return false;
    if (c === 46 || c === 0x3002 || c === 0xff61) return false;
    if ((c | 0x20) === 108 && (v.charCodeAt(i + 1) | 0x20) === 111) return false;
    if (ip && i > (hex ? 1 : 0) && !(isDigit(c) || (hex && (c | 0x20) >= 97 && (c | 0x20) <= 102))) {
      if (c <= 32 || c >= 127 || c === 35 || c === 37 || c === 93) return false; // the host may end here
      ip = false;
    }
  }
  return !ip;
}

/** Rules a value matches, at every paranoia level. */
export function classifySsrf(value: string, targetName = ""): RuleId[] {
  const v = value.length > 1 << 20 ? value.slice(0, 1 << 20) : value;
  if (v.length <= 64 && plainShort(v)) return [];
  const slash = v.includes("/") || v.includes("\\");
  const colon = v.includes(":");
  const question = v.includes("?");
  // Schemes, slashless hosts and `://` tricks need a colon, RFI's cut a `?`. Without either (most
  // values: words, numbers, e-mail addresses, user agents, paths), what is left is a
  // protocol-relative URL, a metadata path, and the whole value read as a host.
  if (!colon && !question) {
    if (!MAYBE_INTERNAL.test(v)) {
      if (!slash || (!protocolRelative(v) && !metadataPathLike(v))) return [];
    } else if (!slash && ALL_DIGITS.test(v)) {
      // A number is never host-like (`wholeValueHost`): only a metadata address counts.
      const n = integerHost(v);
      if (n === null || !METADATA_V4.has(n)) return [];
    } else if (!slash) {
      // A number or a dotted name: read it as a host, as the full reading would.
      const whole = wholeValueHost(v);
      if (whole === null) return [];
      const cls = classifyHost(whole.host);
      if (cls !== "metadata" && cls !== "internal") return [];
    }
  }
  if (targetName !== lastTarget) {
    lastTarget = targetName;
    lastSelfUrl = isSelfUrlTarget(targetName);
    lastData = isDataTarget(targetName);
  }
  return classifyFull(v, targetName, lastSelfUrl, lastData, slash, colon, question);
}

/** Every rule, for a value with a slash, a colon or a `?` (or one that is an internal host). */
function classifyFull(
  v: string,
  targetName: string,
  selfUrl: boolean,
  data: boolean,
  slash: boolean,
  colon: boolean,
  question: boolean,
): RuleId[] {
  const out = new Set<RuleId>();
  const inPath = targetName === "REQUEST_PATH";
  const metadataLike = slash && metadataPathLike(v);
  // Lowercased only for the readings below that need it: a metadata path, a scheme (`:`), a `?`.
  const lower = colon || question || metadataLike ? v.toLowerCase() : v;
  const addClass = (cls: HostClass | null): void => {
    if (cls === "metadata") out.add("ssrf-metadata");
    else if (cls === "internal" && !selfUrl) out.add("ssrf-internal-url");
  };
  if (slash) {
    const seen = new Map<string, HostClass>();
    let firstUrl = -1;
    for (const url of findUrls(v)) {
      if (url.scheme === "file") continue; // the LFI detector's
      if (firstUrl < 0) firstUrl = url.end - url.host.length;
      let cls = seen.get(url.host);
      if (cls === undefined) {
        cls = classifyHost(url.host);
        seen.set(url.host, cls);
      }
      addClass(cls);
      if (RAW_SCHEMES.has(url.scheme)) out.add("ssrf-dangerous-scheme");
      const fetchable = url.scheme === "" || FETCH_SCHEMES.has(url.scheme);
      if (fetchable && url.leading && cls !== "internal" && isRfiShape(v, url.end)) out.add("rfi-url-param");
      if (fetchable && cls === "public-ip") {
        out.add("rfi-ip-host");
        if (url.leading && !selfUrl) out.add("rfi-ip-url");
      }
      if (cls !== "name" && ipShaped(url.host) && unusualSpelling(url.host)) {
        if (!selfUrl) out.add("ssrf-obfuscated-host");
      } else if (cls === "name") {
        const wrapped = wrappedInteger(url.host);
        if (wrapped !== null) {
          addClass(wrapped);
          if (!selfUrl) out.add("ssrf-obfuscated-host");
        }
      }
      const named = cls === "name" && url.scheme !== "";
      if (fetchable && named && url.leading && data && !staticAsset(v, url.end)) {
        if (!urlParam(targetName)) out.add("rfi-offsite-url");
        if (includeParam(targetName) && !urlParam(targetName)) out.add("rfi-include-param");
      }
      if (fetchable && url.scheme !== "" && inPath) out.add("rfi-url-in-path");
    }
    if (metadataLike && METADATA_PATHS.some((p) => lower.includes(p))) out.add("ssrf-metadata");
    if (colon && /\bjar:(?:https?|ftp):\//.test(lower.length > 4096 ? lower.slice(0, 4096) : lower))
      out.add("ssrf-dangerous-scheme");
    if (!selfUrl && firstUrl >= 0 && v.indexOf("@", firstUrl) >= 0)
      for (const host of hostsAfterAt(v, firstUrl)) {
        const cls = classifyIp(host);
        if (cls === "metadata" || cls === "internal") out.add("ssrf-obfuscated-host");
      }
    // Both look for `://`.
    if (!selfUrl && colon && (backslashedAuthority(v) || slashBeforeAt(lower)))
      out.add("ssrf-obfuscated-host");
  }
  if (colon) {
    for (const host of slashlessHosts(lower)) {
      addClass(classifyHost(host));
      if (!selfUrl) out.add("ssrf-obfuscated-host");
    }
    if (textDataUri(lower)) out.add("rfi-data-uri");
    // `https://foo.bar?`: a URL to a site's root, then a trailing `?` cutting off what the include
    // appends (a page URL with an empty query, `https://x.com/page?`, is a copied link).
    const t = lower.trim();
    if (data && t.endsWith("?") && /^(?:ftps?|https?):\/\/[^/?#\s]+\?+$/.test(t))
      out.add("rfi-trailing-question");
  } else if (data && question) {
    const t = lower.trim();
    if (t.endsWith("?") && /^(?:file|ftps?|https?)\?+$/.test(t)) out.add("rfi-trailing-question");
  }
  const whole = wholeValueHost(v);
  if (whole !== null) {
    const cls = classifyHost(whole.host);
    if (cls === "metadata") out.add("ssrf-metadata");
    else if (cls === "internal" && whole.hostLike && !selfUrl) {
      out.add("ssrf-internal-host");
      // `localhost/admin`, `host.docker.internal/`: a bare host with a path is a URL without its scheme.
      if (whole.path && !/^[0-9.]+$/.test(whole.host)) out.add("ssrf-internal-url");
    }
  }
  return [...out];
}

/**
 * The value read as a bare host (`169.254.169.254`, `[::1]:8080`, `localhost/admin`), or null when it
 * has spaces or is too long. `hostLike` is false for a plain number or a short dotted number (`0`,
 * `10`, `10.0.0`, `127.50`): those are ids, versions and prices far more often than addresses.
 * `path`: a `/` follows the host.
 */
function wholeValueHost(v: string): { host: string; hostLike: boolean; path: boolean } | null {
  const t = v.trim();
  if (t.length === 0 || t.length > MAX_HOST * 2) return null;
  let end = 0;
  let bracket = false;
  for (; end < t.length; end++) {
    const c = t.charCodeAt(end);
    if (c === 91) bracket = true;
    else if (c === 93) bracket = false;
    else if (c <= 32) return null;
    else if (!bracket && (isSlash(c) || c === 63 || c === 35)) break;
  }
  if (end === 0 || end > MAX_HOST) return null;
  const host = normaliseHost(t.slice(0, end));
  let dots = 0;
  let numeric = host.length > 0; // `/^[0-9.]+$/`
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 46) dots++;
    else if (!isDigit(c)) numeric = false;
  }
  return { host, hostLike: !numeric || dots === 3, path: isSlash(t.charCodeAt(end)) };
}

export const ssrfDetector: Detector = {
  name: "ssrf",
  inspect(target: Target): Detection[] {
    const rules = classifySsrf(target.value, target.name);
    if (rules.length === 0) return [];
    return rules.map((rule) => {
      const r = SSRF_RULES[rule];
      return { rule, tags: r.tags, paranoia: r.paranoia, severity: r.severity, target: target.name };
    });
  },
};
