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
  | "ssrf-internal-host"
  | "rfi-ip-host";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

/**
 * PL1: a metadata endpoint (as a URL host, a bare host or a well-known metadata path), a URL whose
 * host is internal, a raw-protocol scheme, and the RFI shape. PL2: a whole value that is an internal
 * address (`10.0.0.5`, `localhost`): a settings form legitimately holds one. PL3: any URL whose host
 * is an IP literal, which CDNs, health checks and self-hosted links also produce.
 */
export const SSRF_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "ssrf-metadata": { paranoia: 1, severity: "critical", tags: ["attack-ssrf", "cloud-metadata"] },
  "ssrf-internal-url": { paranoia: 1, severity: "critical", tags: ["attack-ssrf", "internal-address"] },
  "ssrf-dangerous-scheme": { paranoia: 1, severity: "critical", tags: ["attack-ssrf", "url-scheme"] },
  "rfi-url-param": { paranoia: 1, severity: "critical", tags: ["attack-rfi", "remote-include"] },
  "ssrf-internal-host": { paranoia: 2, severity: "error", tags: ["attack-ssrf", "internal-address"] },
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
  "metadata.azure.com", "metadata.tencentyun.com", "metadata.platformequinix.com",
]);
const LOOPBACK_NAMES = new Set([
  "localhost",
  "localhost.localdomain",
  "ip6-localhost",
  "ip6-loopback",
  "localtest.me",
  "lvh.me",
  "vcap.me",
]);
/** Wildcard DNS services that resolve `<ip>.<suffix>` (or `<a-b-c-d>.<suffix>`) to that ip. */
const WILDCARD_DNS = ["nip.io", "sslip.io", "xip.io", "nip.direct", "traefik.me", "localh.st"];
const INTERNAL_V4 = new Set(["loopback", "private", "linkLocal", "unspecified", "carrierGradeNat"]);
const INTERNAL_V6 = new Set(["loopback", "private", "linkLocal", "unspecified", "uniqueLocal"]);

/**
 * Whether a string could be an IP literal at all: only hex digits, `x`, dots and colons, with a
 * digit or two colons (`::`). ipaddr.js throws (slowly) on anything else, so most hosts never reach it.
 */
function ipShaped(text: string): boolean {
  if (text.length === 0 || text.length > 64) return false;
  let digit = false;
  let dots = 0;
  let colons = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) digit = true;
    else if (c === 46) dots++;
    else if (c === 58) colons++;
    else if (!((c >= 97 && c <= 102) || c === 120)) return false;
  }
  return (digit || colons >= 2) && dots <= 3 && colons <= 7;
}

/** Classifies an IP literal in any spelling ipaddr.js accepts, or null when it is not one. */
function classifyIp(text: string): HostClass | null {
  if (!ipShaped(text) || !ipaddr.isValid(text)) return null;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.parse(text);
  } catch {
    return null;
  }
  if (addr.kind() === "ipv6") {
    const v6 = addr as ipaddr.IPv6;
    if (METADATA_IPS.has(v6.toString())) return "metadata";
    const range = v6.range();
    // IPv4 embedded in IPv6: mapped (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::/96`) carry it in the low 32 bits.
    if (range === "ipv4Mapped" || range === "rfc6052" || range === "rfc6145") {
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
  let h = raw.toLowerCase().replaceAll("\u3002", ".").replaceAll("\uff61", ".");
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
  if (LOOPBACK_NAMES.has(host) || host.endsWith(".localhost")) return "internal";
  for (const suffix of WILDCARD_DNS) {
    if (host.endsWith(`.${suffix}`)) {
      const c = embeddedIp(host.slice(0, -suffix.length - 1));
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
  const authority = (from: number, scheme: string, leading: boolean): void => {
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
  };
  if (v.startsWith("//", start)) authority(start, "", true);
  for (let i = v.indexOf(":", start); i >= 0; i = v.indexOf(":", i + 1)) {
    if (!isSlash(v.charCodeAt(i + 1))) continue;
    let s = i;
    while (s > 0 && i - s < 16 && isSchemeChar(v.charCodeAt(s - 1))) s--;
    if (s === i || !isAlpha(v.charCodeAt(s))) continue;
    authority(i + 1, v.slice(s, i).toLowerCase(), s === start);
  }
  return out;
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
  const n = name.toLowerCase();
  return n.endsWith(":referer") || n.endsWith(":origin") || n.endsWith(":host");
}

/** Rules a value matches, at every paranoia level. */
export function classifySsrf(value: string, targetName = ""): RuleId[] {
  const out = new Set<RuleId>();
  const v = value.length > 1 << 20 ? value.slice(0, 1 << 20) : value;
  const selfUrl = isSelfUrlTarget(targetName);
  if (v.includes("/") || v.includes("\\")) {
    const seen = new Map<string, HostClass>();
    for (const url of findUrls(v)) {
      if (url.scheme === "file") continue; // the LFI detector's
      let cls = seen.get(url.host);
      if (cls === undefined) {
        cls = classifyHost(url.host);
        seen.set(url.host, cls);
      }
      if (cls === "metadata") out.add("ssrf-metadata");
      else if (cls === "internal" && !selfUrl) out.add("ssrf-internal-url");
      if (RAW_SCHEMES.has(url.scheme)) out.add("ssrf-dangerous-scheme");
      const fetchable = url.scheme === "" || FETCH_SCHEMES.has(url.scheme);
      if (fetchable && url.leading && cls !== "internal" && isRfiShape(v, url.end)) out.add("rfi-url-param");
      if (fetchable && cls === "public-ip") out.add("rfi-ip-host");
    }
    const lower = v.toLowerCase();
    if (METADATA_PATHS.some((p) => lower.includes(p))) out.add("ssrf-metadata");
    if (/\bjar:(?:https?|ftp):\//.test(lower.length > 4096 ? lower.slice(0, 4096) : lower))
      out.add("ssrf-dangerous-scheme");
  }
  const whole = wholeValueHost(v);
  if (whole !== null) {
    const cls = classifyHost(whole.host);
    if (cls === "metadata") out.add("ssrf-metadata");
    else if (cls === "internal" && whole.hostLike && !selfUrl) out.add("ssrf-internal-host");
  }
  return [...out];
}

/**
 * The value read as a bare host (`169.254.169.254`, `[::1]:8080`, `localhost/admin`), or null when it
 * has spaces or is too long. `hostLike` is false for a plain number or a short dotted number (`0`,
 * `10`, `10.0.0`, `127.50`): those are ids, versions and prices far more often than addresses.
 */
function wholeValueHost(v: string): { host: string; hostLike: boolean } | null {
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
  const dots = host.split(".").length - 1;
  const numeric = /^[0-9.]+$/.test(host);
  return { host, hostLike: !numeric || dots === 3 };
}

export const ssrfDetector: Detector = {
  name: "ssrf",
  inspect(target: Target): Detection[] {
    return classifySsrf(target.value, target.name).map((rule) => {
      const r = SSRF_RULES[rule];
      return { rule, tags: r.tags, paranoia: r.paranoia, severity: r.severity, target: target.name };
    });
  },
};
