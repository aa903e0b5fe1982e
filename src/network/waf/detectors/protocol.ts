// HTTP protocol enforcement: requests that no ordinary client produces. Most rules are strictness
// checks on the request as a whole (method, request target, version, Host, framing headers, media
// type and charset, multipart framing, Range, argument counts and sizes, encodings, restricted
// headers and file extensions); they run once per request in `protocolDetector`, on the raw
// request, because decoding would hide exactly what they look at (an invalid `%`, an overlong
// UTF-8 sequence, a NUL). Their paranoia level follows how often legitimate clients trip them:
// PL1 only for shapes browsers, HTTP libraries and proxies never send (conflicting framing, a
// charset a server would misread, control chars in names), PL2-PL4 for the ones odd but real
// clients do send (IP hosts, missing User-Agent, many ranges, method override, duplicate names).
//
// `protocolValueDetector` looks inside decoded values for attacks on the protocol: a second
// request line smuggled into a parameter, header injection and response splitting (CR/LF
// followed by a header or a body), HTML `http-equiv` headers, and bodies of a declared type that
// the engine could not parse. Everything is plain char scanning, linear in the input. (LDAP
// filter injection, which CRS files under protocol attacks too, is ldap.ts's.)
//
// Through the gateway, Node's HTTP parser already refuses some of these before the WAF sees them:
// unknown methods, control chars and spaces in the request target, Content-Length with
// Transfer-Encoding, invalid or repeated Content-Length, missing Host on HTTP/1.1, versions other
// than 1.0/1.1. The rules stay for in-process callers (`rampart waf`) and other front ends.
import { CHAR_BREAK, CHAR_DASH, CHAR_SLASH } from "../chars.ts";
import { urlDecode } from "../decode.ts";
import type { InspectedRequest } from "../targets.ts";
import type { Detection, Detector, ParanoiaLevel, RequestDetector, Severity, Target } from "../types.ts";
import { words } from "./lexicon.ts";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

const V = ["protocol-violation"] as const;
const A = ["protocol-anomaly"] as const;
const E = ["protocol-violation", "encoding"] as const;
const L = ["protocol-anomaly", "limits"] as const;
const ATTACK = ["attack-protocol"] as const;

const rule = (paranoia: ParanoiaLevel, severity: Severity, tags: readonly string[]): RuleInfo => ({
  paranoia,
  severity,
  tags,
});

/** Every rule of both detectors; see each check below for what it matches and why at that level. */
export const PROTOCOL_RULES = {
  // Method
  "protocol-method-invalid": rule(1, "critical", V),
  "protocol-method-dangerous": rule(1, "critical", V),
  "protocol-method-exotic": rule(1, "critical", A),
  "protocol-method-uncommon": rule(2, "error", A),
  "protocol-method-override": rule(2, "critical", A),
  // Request line and version
  "protocol-target-absolute-other-host": rule(1, "critical", V),
  "protocol-target-absolute": rule(1, "error", A),
  "protocol-target-invalid-char": rule(1, "critical", V),
  "protocol-target-dot-segment": rule(1, "critical", V),
  "protocol-target-backslash": rule(2, "warning", A),
  "protocol-version-invalid": rule(1, "critical", V),
  // Host, User-Agent, Accept
  "protocol-host-empty": rule(1, "critical", V),
  "protocol-host-missing": rule(2, "critical", V),
  "protocol-host-duplicate": rule(1, "critical", V),
  "protocol-host-ip": rule(2, "critical", A),
  "protocol-user-agent-empty": rule(1, "error", A),
  "protocol-user-agent-missing": rule(2, "error", A),
  "protocol-accept-empty": rule(1, "error", A),
  "protocol-accept-missing": rule(3, "critical", A),
  "protocol-headers-minimal": rule(2, "warning", A),
  // Framing
  "protocol-body-on-get": rule(1, "error", A),
  "protocol-body-on-head": rule(1, "critical", V),
  "protocol-content-length-invalid": rule(1, "critical", V),
  "protocol-transfer-encoding-invalid": rule(1, "critical", V),
  "protocol-content-length-and-chunked": rule(1, "critical", V),
  "protocol-connection-conflict": rule(1, "critical", V),
  "protocol-content-encoding": rule(1, "critical", A),
  "protocol-body-compressed": rule(1, "error", A),
  // Media type and charset
  "protocol-body-without-content-type": rule(1, "error", A),
  "protocol-body-unparsable": rule(1, "critical", V),
  "protocol-content-type-invalid": rule(1, "critical", V),
  "protocol-content-type-unknown": rule(1, "critical", V),
  "protocol-content-type-duplicate-param": rule(1, "critical", V),
  "protocol-content-type-boundary-mismatch": rule(1, "critical", V),
  "protocol-charset-invalid": rule(1, "critical", V),
  "protocol-accept-charset": rule(2, "critical", A),
  // Multipart
  "protocol-multipart-boundary": rule(1, "critical", V),
  "protocol-multipart-malformed": rule(1, "critical", V),
  "protocol-multipart-incomplete": rule(1, "error", V),
  "protocol-multipart-name-evasion": rule(1, "critical", V),
  "protocol-multipart-filename-chars": rule(2, "critical", A),
  "protocol-multipart-part-header": rule(1, "critical", V),
  "protocol-multipart-charset": rule(1, "critical", V),
  "protocol-multipart-transfer-encoding": rule(1, "critical", V),
  // Range
  "protocol-range-invalid": rule(1, "critical", V),
  "protocol-range-overlap": rule(1, "critical", V),
  "protocol-range-many": rule(2, "critical", A),
  "protocol-range-many-strict": rule(4, "critical", A),
  "protocol-range-syntax": rule(3, "critical", A),
  // Restricted and malformed headers
  "protocol-header-restricted": rule(1, "critical", V),
  "protocol-header-forwarded-hostile": rule(2, "error", A),
  "protocol-header-invalid-value": rule(3, "critical", A),
  "protocol-header-browser-invalid": rule(2, "critical", A),
  "protocol-accept-encoding-long": rule(1, "critical", A),
  "protocol-cookie-legacy-version": rule(1, "critical", V),
  // Arguments
  // Counts and sizes are site limits: big admin forms and long articles pass them (PL2).
  "protocol-args-count": rule(2, "critical", L),
  "protocol-arg-name-length": rule(2, "critical", L),
  "protocol-arg-value-length": rule(2, "critical", L),
  "protocol-args-total-length": rule(2, "critical", L),
  "protocol-arg-name-newline": rule(1, "critical", V),
  "protocol-arg-query-newline": rule(2, "critical", A),
  "protocol-arg-duplicate": rule(3, "critical", A),
  "protocol-arg-name-brackets": rule(3, "critical", A),
  "protocol-arg-name-array": rule(4, "critical", A),
  "protocol-unix-socket-target": rule(1, "critical", ATTACK),
  // Encoding
  "protocol-urlencoding-invalid": rule(1, "critical", E),
  "protocol-urlencoding-invalid-body": rule(2, "critical", E),
  "protocol-urlencoding-iis-fullwidth": rule(1, "critical", E),
  "protocol-urlencoding-iis": rule(2, "error", E),
  "protocol-urlencoding-double": rule(2, "critical", E),
  "protocol-utf8-overlong": rule(1, "critical", E),
  "protocol-utf8-invalid": rule(2, "error", E),
  "protocol-nul-byte": rule(1, "critical", E),
  "protocol-control-char": rule(2, "critical", E),
  "protocol-restricted-char": rule(3, "critical", E),
  "protocol-strict-chars": rule(4, "critical", E),
  "protocol-unicode-escape": rule(1, "critical", E),
  "protocol-abnormal-escape": rule(4, "critical", E),
  // File names
  "protocol-restricted-extension": rule(1, "critical", ["protocol-violation", "restricted-file"]),
  "protocol-backup-file": rule(1, "critical", ["protocol-violation", "restricted-file"]),
  "protocol-config-extension": rule(3, "critical", ["protocol-anomaly", "restricted-file"]),
  // Attacks on the protocol, in values (protocolValueDetector)
  "protocol-request-smuggling": rule(1, "critical", ATTACK),
  "protocol-header-injection": rule(1, "critical", ATTACK),
  "protocol-header-injection-generic": rule(2, "critical", ATTACK),
  "protocol-response-splitting": rule(1, "critical", ATTACK),
  "protocol-meta-http-equiv": rule(1, "critical", ATTACK),
} as const satisfies Record<string, RuleInfo>;

export type ProtocolRuleId = keyof typeof PROTOCOL_RULES;

/** Limits of the argument rules (CRS's defaults are of the same order). */
export const ARG_LIMITS = { count: 255, nameLength: 100, valueLength: 4000, totalLength: 64000 };

// ---------------------------------------------------------------------------------------------
// Character classes

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
const hexVal = (c: number): number => (isDigit(c) ? c - 48 : (c | 32) - 87);
/** RFC 9110 `tchar`: the characters of a token (method, header name, media type, parameter). */
const TCHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++)
  if (isAlpha(c) || isDigit(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c))) TCHAR[c] = 1;
const isTchar = (c: number): boolean => c < 128 && TCHAR[c] === 1;
const isWs = (c: number): boolean => c === 32 || c === 9;

/** One or more ASCII digits. */
function allDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

function allTchar(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Vocabularies

const COMMON_METHODS = words("GET HEAD POST PUT PATCH DELETE OPTIONS");
const DANGEROUS_METHODS = words("TRACE TRACK DEBUG");
// prettier-ignore
const WEBDAV_METHODS = words(
  "PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK SEARCH REPORT MKCALENDAR ACL BIND REBIND UNBIND " +
  "MKWORKSPACE VERSION-CONTROL CHECKOUT CHECKIN UNCHECKOUT MERGE LABEL UPDATE MKACTIVITY BASELINE-CONTROL ORDERPATCH QUERY CONNECT",
);
/** Registered but foreign to a web application: UPnP/SSDP, cache control, Icecast, link relations. */
const EXOTIC_METHODS = words("SUBSCRIBE UNSUBSCRIBE NOTIFY M-SEARCH PURGE SOURCE LINK UNLINK PRI");

const MEDIA_TOP_TYPES = words("application text multipart image audio video font model message");
const MULTIPART_SUBTYPES = words(
  "form-data related mixed alternative byteranges signed encrypted x-mixed-replace",
);

/** Charsets a server decodes the way the WAF does, or safely as bytes; the rest hide payloads (EBCDIC, UTF-7, UTF-16). */
// prettier-ignore
const CHARSETS = words(
  "utf-8 utf8 us-ascii ascii iso-8859-1 iso-8859-2 iso-8859-3 iso-8859-4 iso-8859-5 iso-8859-6 iso-8859-7 " +
  "iso-8859-8 iso-8859-9 iso-8859-10 iso-8859-11 iso-8859-13 iso-8859-14 iso-8859-15 iso-8859-16 iso8859-1 " +
  "iso8859-15 latin1 latin-1 windows-1250 windows-1251 windows-1252 windows-1253 windows-1254 windows-1255 " +
  "windows-1256 windows-1257 windows-1258 windows-874 cp1250 cp1251 cp1252 shift_jis shift-jis sjis " +
  "windows-31j euc-jp iso-2022-jp euc-kr ks_c_5601-1987 gb2312 gbk gb18030 big5 big5-hkscs koi8-r koi8-u tis-620",
);
/** Multipart parts are inspected as UTF-8: only charsets that agree with it on ASCII bytes, and that browsers use. */
const PART_CHARSETS = words("utf-8 utf8 us-ascii ascii iso-8859-1 iso-8859-15 windows-1252 latin1");

/** Extensions of files a site holds but never serves: backups, dumps, databases, keys, configuration. */
// prettier-ignore
const RESTRICTED_EXTENSIONS = words(
  "bak backup bk old orig original save sav swp swo " +
  "sql sqlite sqlite3 db db3 mdb accdb dbf rdb dump dmp frm myd myi ibd " +
  "pem key p12 pfx jks keystore kdbx ppk " +
  "config passwd " +
  "htaccess htpasswd htdigest env git svn hg bzr cvs ds_store npmrc dockercfg",
);
/** Configuration, logs, public keys: sites do publish such files (`dhcpd.conf`, `sample.log`, `ca.crt`, `KEYS.asc`); PL3. */
const CONFIG_EXTENSIONS = words(
  "conf cfg ini log logs properties yml yaml toml inc crt cer asc gpg tmp temp dist",
);
/** Path segments of version control and tool state directories. */
const RESTRICTED_DIRS = words(".git .svn .hg .bzr cvs .env .aws .ssh .docker .kube .idea .vscode _darcs");

/** WebDAV request headers that make a server evaluate lock state: meaningless to other methods. */
const WEBDAV_HEADERS = ["if", "lock-token"];

const CACHE_DIRECTIVES = words(
  "max-age max-stale min-fresh no-cache no-store no-transform only-if-cached stale-if-error stale-while-revalidate",
);
const ACCEPT_ENCODINGS = words(
  "gzip deflate br zstd compress identity x-gzip x-compress x-bzip2 bzip2 sdch dcb dcz xpress lzma *",
);
const FETCH_SITE = words("cross-site same-origin same-site none");
const FETCH_MODE = words("cors navigate no-cors same-origin websocket");

// Header names whose injection after a CR/LF changes what a server or cache does.
// prettier-ignore
// Names that read as prose on a line of a text field ("Host: Ann", "Server: prod-1") are left to
// the generic PL2 rule; `location` needs a URL-ish value for the same reason.
const INJECTABLE_HEADERS = words(
  "content-length content-type transfer-encoding set-cookie location refresh cookie " +
  "content-disposition content-security-policy access-control-allow-origin access-control-allow-credentials " +
  "x-forwarded-for x-forwarded-host x-real-ip x-client-ip client-ip true-client-ip remote-addr x-originating-ip " +
  "x-xss-protection x-frame-options www-authenticate proxy-authorization x-original-url x-rewrite-url",
);
const REQUEST_METHODS_IN_VALUES = words(
  "GET POST HEAD PUT DELETE OPTIONS TRACE CONNECT PATCH PROPFIND MOVE COPY",
);

// ---------------------------------------------------------------------------------------------
// Request helpers

/** The request's headers by lowercase name, repeats joined with `, `. */
class Headers {
  map = new Map<string, string>();
  /** Raw values per lowercase name, kept only for names with other than one (repeated, or arrays). */
  counts: Map<string, number> | undefined;

  constructor(req: InspectedRequest) {
    const raw = req.headers;
    for (const k of Object.keys(raw)) {
      const v = raw[k];
      if (v === undefined) continue;
      const name = k.toLowerCase();
      const many = Array.isArray(v);
      const value = many ? v.join(", ") : v;
      const prev = this.map.get(name);
      this.map.set(name, prev !== undefined ? `${prev}, ${value}` : value);
      const n = many ? v.length : 1;
      if (prev !== undefined || n !== 1) {
        this.counts ??= new Map();
        this.counts.set(name, (this.counts.get(name) ?? (prev !== undefined ? 1 : 0)) + n);
      }
    }
  }

  get(name: string): string | undefined {
    return this.map.get(name);
  }

  /** Raw values per lowercase name: the in-process form may repeat a header in different cases. */
  count(name: string): number {
    return this.counts?.get(name) ?? (this.map.has(name) ? 1 : 0);
  }
}

interface MediaType {
  type: string;
  subtype: string;
  params: [string, string][];
  valid: boolean;
}

/** Parses `type/subtype; a=b; c="d"` strictly: tokens, `=` without spaces, quoted strings closed. */
export function parseMediaType(value: string): MediaType {
  const out: MediaType = { type: "", subtype: "", params: [], valid: false };
  let i = 0;
  const n = value.length;
  while (i < n && isWs(value.charCodeAt(i))) i++;
  let s = i;
  while (i < n && isTchar(value.charCodeAt(i)) && value.charCodeAt(i) !== 47) i++;
  out.type = value.slice(s, i).toLowerCase();
  if (value.charCodeAt(i) !== 47 || out.type === "") return out;
  s = ++i;
  while (i < n && isTchar(value.charCodeAt(i))) i++;
  out.subtype = value.slice(s, i).toLowerCase();
  if (out.subtype === "") return out;
  for (;;) {
    while (i < n && isWs(value.charCodeAt(i))) i++;
    if (i >= n) break;
    if (value.charCodeAt(i) !== 59) return out; // `;`
    i++;
    while (i < n && isWs(value.charCodeAt(i))) i++;
    if (i >= n) break; // a trailing `;` is common and harmless
    s = i;
    while (i < n && isTchar(value.charCodeAt(i)) && value.charCodeAt(i) !== 61) i++;
    const name = value.slice(s, i).toLowerCase();
    if (name === "" || value.charCodeAt(i) !== 61) return out;
    i++;
    let v = "";
    if (value.charCodeAt(i) === 34) {
      i++;
      for (; i < n && value.charCodeAt(i) !== 34; i++) {
        if (value.charCodeAt(i) === 92) i++;
        v += value[i] ?? "";
      }
      if (i >= n) return out;
      i++;
    } else {
      s = i;
      while (i < n && isTchar(value.charCodeAt(i))) i++;
      v = value.slice(s, i);
      if (v === "") return out;
    }
    out.params.push([name, v]);
  }
  out.valid = true;
  return out;
}

const param = (m: MediaType, name: string): string | undefined => m.params.find(([k]) => k === name)?.[1];

// ---------------------------------------------------------------------------------------------
// The request detector

type Emit = (rule: ProtocolRuleId, target: string) => void;

/** `{ rule, target, ...PROTOCOL_RULES[rule] }`, spelled out: object spread is slow. */
function detection(id: ProtocolRuleId, target: string): Detection {
  const r: RuleInfo = PROTOCOL_RULES[id];
  return { rule: id, target, paranoia: r.paranoia, severity: r.severity, tags: r.tags };
}

function inspectRequest(req: InspectedRequest): Detection[] {
  const out: Detection[] = [];
  const seen = new Set<string>();
  const emit: Emit = (id, target) => {
    if (seen.has(id)) return; // each rule once, at its first target
    seen.add(id);
    out.push(detection(id, target));
  };
  const h = new Headers(req);
  const method = req.method;
  checkMethod(method, emit);
  checkTarget(req, h, emit);
  checkHeaders(req, h, emit);
  const body = req.body !== undefined && req.body.length > 0 ? req.body : undefined;
  checkFraming(method, body, h, emit);
  const contentType = req.contentType ?? h.get("content-type");
  if (h.count("content-type") > 1)
    emit("protocol-content-type-duplicate-param", "REQUEST_HEADERS:content-type");
  if (contentType !== undefined) checkContentType(contentType, body, emit);
  else if (body !== undefined) emit("protocol-body-without-content-type", "REQUEST_HEADERS:content-type");
  checkRange(req.path, h, emit);
  checkArgs(req, contentType, body, emit);
  return out;
}

function checkMethod(method: string, emit: Emit): void {
  if (COMMON_METHODS.has(method)) return;
  if (DANGEROUS_METHODS.has(method)) emit("protocol-method-dangerous", "REQUEST_METHOD");
  else if (WEBDAV_METHODS.has(method)) emit("protocol-method-uncommon", "REQUEST_METHOD");
  else if (EXOTIC_METHODS.has(method)) emit("protocol-method-exotic", "REQUEST_METHOD");
  // Anything else: unregistered (`FOO`), not a token (`|GET`), or lowercase (`get`: methods are
  // case-sensitive, and a server that folds case disagrees with one that does not).
  else emit("protocol-method-invalid", "REQUEST_METHOD");
}

function checkTarget(req: InspectedRequest, h: Headers, emit: Emit): void {
  const t = req.path;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c <= 32 || c >= 127) {
      emit("protocol-target-invalid-char", "REQUEST_LINE");
      break;
    }
  }
  let path = t;
  if (!t.startsWith("/")) {
    const scheme = t.indexOf("://");
    if (scheme > 0 && scheme < 10) {
      const rest = t.slice(scheme + 3);
      let e = 0;
      while (e < rest.length && !"/?#".includes(rest[e]!)) e++;
      const authority = rest.slice(0, e);
      path = rest.slice(e) || "/";
      const host = hostOnly(authority.slice(authority.lastIndexOf("@") + 1));
      const hostHeader = hostOnly(h.get("host") ?? "");
      if (authority.includes("@") || host !== hostHeader)
        emit("protocol-target-absolute-other-host", "REQUEST_LINE");
      else emit("protocol-target-absolute", "REQUEST_LINE");
    } else if (!(t === "*" && req.method === "OPTIONS") && !(req.method === "CONNECT")) {
      emit("protocol-target-invalid-char", "REQUEST_LINE");
    }
  }
  const q = path.indexOf("?");
  const rawPath = q < 0 ? path : path.slice(0, q);
  // Dot segments: clients resolve them before sending (RFC 3986 §5.2.4); encoded ones too. All
  // but `../` at the start hold a `/.`.
  const escaped = rawPath.indexOf("%") >= 0;
  const p = escaped ? rawPath.replace(/%2e/gi, ".").replace(/%2f/gi, "/") : rawPath;
  if (
    (p.indexOf("/.") >= 0 &&
      (p.includes("/../") || p.includes("/./") || p.endsWith("/..") || p.endsWith("/."))) ||
    p.startsWith("../")
  )
    emit("protocol-target-dot-segment", "REQUEST_PATH");
  if (rawPath.includes("\\") || (escaped && /%5c/i.test(rawPath)))
    emit("protocol-target-backslash", "REQUEST_PATH");
  checkFileName(rawPath, emit);
  if (req.httpVersion !== undefined) {
    const v = req.httpVersion.replace(/^HTTP\//i, "");
    if (v !== "1.1" && v !== "1.0" && v !== "2.0" && v !== "2" && v !== "3" && v !== "3.0")
      emit("protocol-version-invalid", "REQUEST_PROTOCOL");
  }
}

function hostOnly(hostPort: string): string {
  const x = hostPort.trim().toLowerCase();
  if (x.startsWith("[")) return x.slice(0, x.indexOf("]") + 1);
  const colon = x.indexOf(":");
  const host = colon < 0 ? x : x.slice(0, colon);
  return host.endsWith(".") ? host.slice(0, -1) : host; // one trailing dot
}

/** Restricted extensions and tool directories in the path, and editor backups (`index.php~`). */
function checkFileName(rawPath: string, emit: Emit): void {
  let decoded: string;
  try {
    decoded = urlDecode(rawPath).toLowerCase();
  } catch {
    decoded = rawPath.toLowerCase();
  }
  // The `/`-separated segments, in order; the last one names the file.
  let start = 0;
  for (;;) {
    const slash = decoded.indexOf("/", start);
    const seg = decoded.slice(start, slash < 0 ? decoded.length : slash);
    if (RESTRICTED_DIRS.has(seg) && (slash >= 0 || seg.startsWith("."))) {
      emit("protocol-restricted-extension", "REQUEST_FILENAME");
      return;
    }
    // Editor and tool backups anywhere in the path: `index.php~`, `.index.php.swp`, `#index.php#`.
    if (seg.length > 1 && (seg.endsWith("~") || (seg.startsWith("#") && seg.endsWith("#")))) {
      emit("protocol-backup-file", "REQUEST_FILENAME");
      return;
    }
    if (slash < 0) break;
    start = slash + 1;
  }
  const last = decoded.slice(start);
  const dot = last.lastIndexOf(".");
  if (dot < 0 || dot === last.length - 1) return;
  const ext = last.slice(dot + 1);
  if (RESTRICTED_EXTENSIONS.has(ext)) emit("protocol-restricted-extension", "REQUEST_FILENAME");
  else if (CONFIG_EXTENSIONS.has(ext)) emit("protocol-config-extension", "REQUEST_FILENAME");
}

function isIpLiteral(host: string): boolean {
  if (host.startsWith("[")) return true;
  let dots = 0;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 46) dots++;
    else if (!isDigit(c)) return false;
  }
  return host.length > 0 && (dots === 3 || dots === 0);
}

/** A charset parameter needs this word (in ASCII letters of any case: no other char lowercases to them). */
const CHARSET_WORD = /charset/i;
/** NUL and the control chars other than tab. */
// eslint-disable-next-line no-control-regex -- control characters are what this finds
const CONTROL_CHAR = /[\0-\x08\n-\x1f]/;

function checkHeaders(req: InspectedRequest, h: Headers, emit: Emit): void {
  const host = h.get("host");
  if (host === undefined) emit("protocol-host-missing", "REQUEST_HEADERS:host");
  else if (host.trim() === "") emit("protocol-host-empty", "REQUEST_HEADERS:host");
  else if (isIpLiteral(hostOnly(host))) emit("protocol-host-ip", "REQUEST_HEADERS:host");
  if (host !== undefined && h.count("host") > 1) emit("protocol-host-duplicate", "REQUEST_HEADERS:host");

  const ua = h.get("user-agent");
  const accept = h.get("accept");
  if (ua === undefined) emit("protocol-user-agent-missing", "REQUEST_HEADERS:user-agent");
  else if (ua.trim() === "") emit("protocol-user-agent-empty", "REQUEST_HEADERS:user-agent");
  if (accept === undefined) {
    if (req.method !== "OPTIONS") emit("protocol-accept-missing", "REQUEST_HEADERS:accept");
  } else if (accept.trim() === "") emit("protocol-accept-empty", "REQUEST_HEADERS:accept");
  // Neither a User-Agent nor an Accept worth the name: a hand-made request (or a load balancer's
  // health check, hence PL2).
  if ((ua === undefined || ua.trim() === "") && (accept === undefined || accept.trim() === ""))
    emit("protocol-headers-minimal", "REQUEST_HEADERS");

  // Accept's charset parameters and Accept-Charset (which browsers stopped sending).
  if (accept !== undefined && CHARSET_WORD.test(accept)) {
    for (const range of accept.split(",")) {
      const semi = range.indexOf(";");
      if (semi < 0) continue;
      for (const p of range.slice(semi + 1).split(";")) {
        const eq = p.indexOf("=");
        if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== "charset") continue;
        const cs = p
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, "")
          .toLowerCase();
        if (!CHARSETS.has(cs)) emit("protocol-charset-invalid", "REQUEST_HEADERS:accept");
      }
    }
  }
  const acceptCharset = h.get("accept-charset");
  if (acceptCharset !== undefined) {
    emit("protocol-accept-charset", "REQUEST_HEADERS:accept-charset");
    for (const part of acceptCharset.split(",")) {
      const cs = part.split(";")[0]!.trim().toLowerCase();
      if (cs !== "*" && cs !== "" && !CHARSETS.has(cs))
        emit("protocol-charset-invalid", "REQUEST_HEADERS:accept-charset");
    }
  }
  const devcap = h.get("x-up-devcap-post-charset");
  if (devcap !== undefined && !CHARSETS.has(devcap.trim().toLowerCase()))
    emit("protocol-charset-invalid", "REQUEST_HEADERS:x-up-devcap-post-charset");

  // Connection: tokens repeated or contradicting (`keep-alive, close`).
  const connection = h.get("connection");
  if (connection !== undefined) {
    const tokens = connection
      .toLowerCase()
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    const set = new Set(tokens);
    if (set.size < tokens.length || (set.has("close") && set.has("keep-alive")))
      emit("protocol-connection-conflict", "REQUEST_HEADERS:connection");
  }

  // Headers a client has no business sending to a web application.
  if (h.get("proxy") !== undefined) emit("protocol-header-restricted", "REQUEST_HEADERS:proxy"); // httpoxy
  if (h.get("request-range") !== undefined)
    emit("protocol-header-restricted", "REQUEST_HEADERS:request-range");
  // Content-Range belongs to responses and resumable uploads; a malformed one to neither.
  const contentRange = h.get("content-range");
  if (
    contentRange !== undefined &&
    !/^\s*bytes\s+(\d{1,19}-\d{1,19}|\*)\/(\d{1,19}|\*)\s*$/i.test(contentRange)
  )
    emit("protocol-header-restricted", "REQUEST_HEADERS:content-range");
  for (const name of ["x-http-method-override", "x-http-method", "x-method-override"]) {
    const v = h.get(name);
    if (v !== undefined && methodShaped(v.trim()))
      emit("protocol-method-override", `REQUEST_HEADERS:${name}`);
  }
  if (!WEBDAV_METHODS.has(req.method) && req.method !== "PUT" && req.method !== "DELETE") {
    for (const name of WEBDAV_HEADERS)
      if (h.get(name) !== undefined) emit("protocol-header-restricted", `REQUEST_HEADERS:${name}`);
  }
  for (const name of ["x-original-url", "x-rewrite-url"])
    if (h.get(name) !== undefined) emit("protocol-header-restricted", `REQUEST_HEADERS:${name}`);
  // Content-Encoding on a request: without a body or with an unknown coding it is a probe; with a
  // compressed body it is legitimate for some API clients (telemetry exporters), but the detectors
  // see only compressed bytes, so it scores without blocking alone.
  const contentEncoding = h.get("content-encoding");
  if (contentEncoding !== undefined) {
    if (
      req.body === undefined ||
      req.body.length === 0 ||
      !/^\s*(gzip|x-gzip|deflate|br|zstd)\s*$/i.test(contentEncoding)
    )
      emit("protocol-content-encoding", "REQUEST_HEADERS:content-encoding");
    else emit("protocol-body-compressed", "REQUEST_HEADERS:content-encoding");
  }

  const acceptEncoding = h.get("accept-encoding");
  if (acceptEncoding !== undefined) {
    if (acceptEncoding.length > 100) emit("protocol-accept-encoding-long", "REQUEST_HEADERS:accept-encoding");
    for (const part of acceptEncoding.split(",")) {
      const semi = part.indexOf(";");
      const coding = (semi < 0 ? part : part.slice(0, semi)).trim().toLowerCase();
      if (coding !== "" && !ACCEPT_ENCODINGS.has(coding))
        emit("protocol-header-invalid-value", "REQUEST_HEADERS:accept-encoding");
    }
  }
  const cacheControl = h.get("cache-control");
  if (cacheControl !== undefined) {
    for (const part of cacheControl.split(",")) {
      const d = part.trim().toLowerCase();
      const eq = d.indexOf("=");
      const name = eq < 0 ? d : d.slice(0, eq);
      const value = eq < 0 ? "" : d.slice(eq + 1);
      const numeric = value !== "" && /^\d+$/.test(value);
      if (
        !CACHE_DIRECTIVES.has(name) ||
        (eq >= 0 && !numeric) ||
        (eq < 0 && (name === "max-age" || name === "min-fresh"))
      ) {
        emit("protocol-header-invalid-value", "REQUEST_HEADERS:cache-control");
        break;
      }
    }
  }
  // Browser-only headers with a fixed grammar: a wrong value is a forgery.
  const fetchUser = h.get("sec-fetch-user");
  const mobile = h.get("sec-ch-ua-mobile");
  const site = h.get("sec-fetch-site");
  const mode = h.get("sec-fetch-mode");
  if (
    (fetchUser !== undefined && fetchUser.trim() !== "?1") ||
    (mobile !== undefined && mobile.trim() !== "?0" && mobile.trim() !== "?1") ||
    (site !== undefined && !FETCH_SITE.has(site.trim())) ||
    (mode !== undefined && !FETCH_MODE.has(mode.trim()))
  )
    emit("protocol-header-browser-invalid", "REQUEST_HEADERS:sec-fetch");

  // Cookies: the RFC 2965 `$Version` form, whose quoting rules parsers disagree on.
  const cookie = h.get("cookie");
  if (cookie !== undefined && cookie.indexOf("$") >= 0 && /(^|;)\s*\$version\s*=/i.test(cookie))
    emit("protocol-cookie-legacy-version", "REQUEST_HEADERS:cookie");

  // NUL and control chars, raw or percent-encoded, in any header (cookies included).
  for (const [name, v] of h.map) {
    const pct = v.indexOf("%");
    for (let i = pct < 0 ? v.length : pct; i < v.length; i++) {
      if (v.charCodeAt(i) !== 37 || !isHex(v.charCodeAt(i + 1)) || !isHex(v.charCodeAt(i + 2))) continue;
      const b = hexVal(v.charCodeAt(i + 1)) * 16 + hexVal(v.charCodeAt(i + 2));
      if (b === 0) emit("protocol-nul-byte", `REQUEST_HEADERS:${name}`);
      else if (b < 32 && b !== 9 && b !== 10 && b !== 13)
        emit("protocol-control-char", `REQUEST_HEADERS:${name}`);
    }
    // One native scan finds whether the value has any raw char the loop below would report.
    for (let i = CONTROL_CHAR.test(v) ? 0 : v.length; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c === 0) emit("protocol-nul-byte", `REQUEST_HEADERS:${name}`);
      else if (c < 32 && c !== 9) emit("protocol-control-char", `REQUEST_HEADERS:${name}`);
    }
  }

  // Proxy headers carrying something other than addresses and hosts.
  for (const name of [
    "x-forwarded-for",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "client-ip",
    "x-forwarded-host",
    "forwarded",
  ]) {
    const v = h.get(name);
    if (v === undefined) continue;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (!(isAlpha(c) || isDigit(c) || '.:,;=[]-_ "'.includes(v[i]!))) {
        emit("protocol-header-forwarded-hostile", `REQUEST_HEADERS:${name}`);
        break;
      }
    }
  }
}

function checkFraming(method: string, body: Buffer | undefined, h: Headers, emit: Emit): void {
  const cl = h.get("content-length");
  const te = h.get("transfer-encoding");
  if (cl !== undefined) {
    // The usual single number passes the format checks below without splitting.
    if (allDigits(cl) && cl.length <= 15) {
      if (h.count("content-length") > 1)
        emit("protocol-content-length-invalid", "REQUEST_HEADERS:content-length");
    } else {
      const parts = cl.split(",").map((s) => s.trim());
      if (
        parts.some((p) => !/^\d{1,15}$/.test(p)) ||
        new Set(parts).size > 1 ||
        h.count("content-length") > 1
      )
        emit("protocol-content-length-invalid", "REQUEST_HEADERS:content-length");
    }
  }
  if (te !== undefined) {
    const codings = te
      .toLowerCase()
      .split(",")
      .map((s) => s.trim());
    if (
      codings[codings.length - 1] !== "chunked" ||
      codings.filter((c) => c === "chunked").length > 1 ||
      codings.some((c) => !/^(chunked|gzip|deflate|compress|x-gzip)$/.test(c))
    )
      emit("protocol-transfer-encoding-invalid", "REQUEST_HEADERS:transfer-encoding");
    if (cl !== undefined) emit("protocol-content-length-and-chunked", "REQUEST_HEADERS:transfer-encoding");
  }
  // GET with a body: a few search APIs use it, proxies drop it. HEAD with one, or chunked framing
  // on either, only request smuggling wants.
  const hasBody = body !== undefined || te !== undefined || (cl !== undefined && cl.trim() !== "0");
  if ((method === "HEAD" && hasBody) || (method === "GET" && te !== undefined))
    emit("protocol-body-on-head", "REQUEST_BODY");
  else if (method === "GET" && hasBody) emit("protocol-body-on-get", "REQUEST_BODY");
}

function checkContentType(value: string, body: Buffer | undefined, emit: Emit): void {
  const target = "REQUEST_HEADERS:content-type";
  const m = parseMediaType(value);
  if (!m.valid) {
    emit("protocol-content-type-invalid", target);
    return;
  }
  if (!MEDIA_TOP_TYPES.has(m.type) || (m.type === "multipart" && !MULTIPART_SUBTYPES.has(m.subtype)))
    emit("protocol-content-type-unknown", target);
  if (m.params.length > 1) {
    const names = m.params.map(([k]) => k);
    if (new Set(names).size < names.length) emit("protocol-content-type-duplicate-param", target);
  }
  const charset = param(m, "charset");
  if (charset !== undefined && !CHARSETS.has(charset.toLowerCase())) emit("protocol-charset-invalid", target);
  const boundary = param(m, "boundary");
  if (m.type !== "multipart" && boundary !== undefined)
    emit("protocol-content-type-boundary-mismatch", target);
  if (m.type === "multipart") {
    if (boundary === undefined || !validBoundary(boundary)) emit("protocol-multipart-boundary", target);
    else if (m.subtype === "form-data" && body !== undefined) checkMultipart(body, boundary, emit);
  }
}

/** RFC 2046 boundary: 1-70 of a restricted set, not ending in a space. */
function validBoundary(b: string): boolean {
  if (b.length < 1 || b.length > 70 || b.endsWith(" ")) return false;
  for (let i = 0; i < b.length; i++) {
    const c = b.charCodeAt(i);
    if (!(isAlpha(c) || isDigit(c) || "'()+_,-./:=? ".includes(b[i]!))) return false;
  }
  return true;
}

/** Reads Content-Disposition parameters loosely, to find what a lenient parser would see. */
function dispositionParams(header: string): { pairs: [string, string][]; bad: boolean } {
  const pairs: [string, string][] = [];
  let bad = false;
  let i = header.indexOf(";");
  const type = (i < 0 ? header : header.slice(0, i)).trim().toLowerCase();
  if (type !== "form-data") bad = true;
  while (i >= 0 && i < header.length) {
    i++;
    while (i < header.length && isWs(header.charCodeAt(i))) i++;
    const eq = header.indexOf("=", i);
    if (eq < 0) {
      if (header.slice(i).trim() !== "") bad = true;
      break;
    }
    const name = header.slice(i, eq).trim().toLowerCase();
    if (!allTchar(name)) bad = true;
    i = eq + 1;
    let value = "";
    if (header[i] === '"') {
      let j = i + 1;
      for (; j < header.length && header[j] !== '"'; j++) {
        if (header[j] === "\\" && j + 1 < header.length) {
          value += "\\"; // kept: an escape inside a name is itself the anomaly
          j++;
        }
        value += header[j];
      }
      if (j >= header.length) bad = true;
      i = header.indexOf(";", j);
      if (i > j + 1 && header.slice(j + 1, i).trim() !== "") bad = true;
    } else {
      const end = header.indexOf(";", i);
      value = header.slice(i, end < 0 ? header.length : end).trim();
      i = end;
    }
    pairs.push([name, value]);
  }
  return { pairs, bad };
}

const NAME_EVASION = `;="'\\&`;

function checkMultipart(body: Buffer, boundary: string, emit: Emit): void {
  const text = body.toString("latin1", 0, Math.min(body.length, 64 * 1024));
  const truncated = body.length > 64 * 1024;
  const delim = `--${boundary}`;
  let pos = text.indexOf(delim);
  if (pos !== 0 && !(pos > 0 && text.slice(0, pos).trim() === "")) {
    emit("protocol-multipart-malformed", "REQUEST_BODY");
    return;
  }
  const seenNames = new Set<string>();
  for (let parts = 0; parts < 1000; parts++) {
    pos += delim.length;
    if (text.startsWith("--", pos)) {
      const rest = text.slice(pos + 2).trim();
      if (rest !== "") emit("protocol-multipart-malformed", "REQUEST_BODY"); // data after the end
      return;
    }
    if (!text.startsWith("\r\n", pos)) {
      emit("protocol-multipart-malformed", "REQUEST_BODY"); // bare LF or junk after a delimiter
      return;
    }
    pos += 2;
    const headersEnd = text.indexOf("\r\n\r\n", pos);
    const next = text.indexOf(`\r\n${delim}`, headersEnd < 0 ? pos : headersEnd);
    if (headersEnd < 0 || next < 0) {
      // A part without a header block or without its closing delimiter: broken, or cut short.
      if (!truncated) emit("protocol-multipart-incomplete", "REQUEST_BODY");
      return;
    }
    let disposition: string | undefined;
    for (const line of text.slice(pos, headersEnd).split("\r\n")) {
      const colon = line.indexOf(":");
      const name = colon < 0 ? "" : line.slice(0, colon).toLowerCase();
      if (!allTchar(name) || line.includes("\n") || line.includes("\r")) {
        emit("protocol-multipart-part-header", "REQUEST_BODY");
        continue;
      }
      const value = line.slice(colon + 1).trim();
      if (name === "content-disposition") {
        if (disposition !== undefined) emit("protocol-multipart-part-header", "REQUEST_BODY");
        disposition = value;
      } else if (name === "content-type") {
        const m = parseMediaType(value);
        const cs = param(m, "charset") ?? (/charset/i.test(value) ? "?" : undefined);
        if (!m.valid || (cs !== undefined && !PART_CHARSETS.has(cs.toLowerCase())))
          emit("protocol-multipart-charset", "REQUEST_BODY");
        if (m.valid && param(m, "boundary") !== undefined && m.type !== "multipart")
          emit("protocol-multipart-part-header", "REQUEST_BODY");
      } else if (name === "content-transfer-encoding") {
        emit("protocol-multipart-transfer-encoding", "REQUEST_BODY"); // deprecated by RFC 7578 §4.7
      }
    }
    if (disposition === undefined) {
      emit("protocol-multipart-part-header", "REQUEST_BODY");
    } else {
      const { pairs, bad } = dispositionParams(disposition);
      if (bad) emit("protocol-multipart-part-header", "REQUEST_BODY");
      const keys = pairs.map(([k]) => k);
      if (new Set(keys).size < keys.length) emit("protocol-multipart-part-header", "REQUEST_BODY");
      for (const [k, v] of pairs) {
        if (k === "name") {
          if ([...NAME_EVASION].some((c) => v.includes(c)))
            emit("protocol-multipart-name-evasion", `MULTIPART:${v.slice(0, 100)}`);
          if (v === "_charset_") {
            const cs = text
              .slice(headersEnd + 4, next)
              .trim()
              .toLowerCase();
            if (!PART_CHARSETS.has(cs)) emit("protocol-multipart-charset", "MULTIPART:_charset_");
          }
          seenNames.add(v);
        } else if (k === "filename") {
          // A Windows path (`C:\dir\a.txt`, old IE) is the one legitimate backslash.
          const windowsPath = /^[a-z]:\\/i.test(v) || v.startsWith("\\\\");
          if ((v.includes("\\") && !windowsPath) || v.includes('"') || /&[a-z#0-9]+;/i.test(v))
            emit("protocol-multipart-name-evasion", `FILES_NAMES:${v.slice(0, 100)}`);
          else if (v.includes(";") || v.includes("=") || v.includes("'"))
            emit("protocol-multipart-filename-chars", `FILES_NAMES:${v.slice(0, 100)}`);
        }
      }
    }
    pos = next + 2;
  }
}

interface RangeSpec {
  first: number;
  last: number;
}

function checkRange(path: string, h: Headers, emit: Emit): void {
  const value = h.get("range");
  if (value === undefined) return;
  const target = "REQUEST_HEADERS:range";
  const eq = value.indexOf("=");
  if (eq < 0 || value.slice(0, eq).trim().toLowerCase() !== "bytes") {
    emit("protocol-range-syntax", target);
    return;
  }
  const specs: RangeSpec[] = [];
  let bad = false;
  for (const raw of value.slice(eq + 1).split(",")) {
    const s = raw.trim();
    if (s === "") continue;
    const dash = s.indexOf("-");
    const a = s.slice(0, dash);
    const b = s.slice(dash + 1);
    if (dash < 0 || !/^\d*$/.test(a) || !/^\d*$/.test(b) || (a === "" && b === "")) {
      bad = true;
      continue;
    }
    if (a === "") {
      specs.push({ first: -Number(b), last: -1 }); // suffix range: the last n bytes
      continue;
    }
    const first = Number(a);
    const last = b === "" ? Infinity : Number(b);
    if (last < first) emit("protocol-range-invalid", target);
    specs.push({ first, last });
  }
  if (bad) emit("protocol-range-invalid", target);
  // Overlapping byte ranges make a server send the same bytes many times (the Apache Killer).
  const forward = specs.filter((s) => s.first >= 0 && s.last >= s.first).sort((x, y) => x.first - y.first);
  for (let i = 1; i < forward.length; i++)
    if (forward[i]!.first <= forward[i - 1]!.last) {
      emit("protocol-range-overlap", target);
      break;
    }
  // PDF viewers fetch many pieces of a document at once; everything else asks for one or a few.
  const pdf = /\.pdf$/i.test(urlDecode(path.split("?")[0]!));
  if (specs.length > (pdf ? 32 : 5)) emit("protocol-range-many", target);
  if (specs.length > 5) emit("protocol-range-many-strict", target);
}

/** Letters only, 3-10 of them: what a method-override parameter or header would act on. */
function methodShaped(v: string): boolean {
  if (v.length < 3 || v.length > 10) return false;
  for (let i = 0; i < v.length; i++) if (!isAlpha(v.charCodeAt(i))) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Arguments: query string and urlencoded body, raw

interface ArgScan {
  count: number;
  total: number;
  /** Decoded argument names in order, repeats included. */
  names: string[];
}

/** The first name, in order of first appearance, that appears again and does not end in `[]`. */
function firstDuplicate(names: string[]): string | undefined {
  if (names.length > 32) {
    // Many arguments: count in a map rather than search the list for each.
    const counts = new Map<string, number>();
    for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
    for (const [name, n] of counts) if (n > 1 && !name.endsWith("[]")) return name;
    return undefined;
  }
  // A name seen before was already looked at, at its first appearance, and had this later copy.
  for (let i = 0; i < names.length; i++)
    if (names.indexOf(names[i]!, i + 1) > i && !names[i]!.endsWith("[]")) return names[i];
  return undefined;
}

function checkArgs(
  req: InspectedRequest,
  contentType: string | undefined,
  body: Buffer | undefined,
  emit: Emit,
): void {
  const scan: ArgScan = { count: 0, total: 0, names: [] };
  const q = req.path.indexOf("?");
  const rawPath = q < 0 ? req.path : req.path.slice(0, q);
  checkEncoded(rawPath, "REQUEST_PATH", "path", emit);
  if (q >= 0) checkForm(req.path.slice(q + 1), "query", scan, emit);
  if (
    body !== undefined &&
    contentType !== undefined &&
    /^\s*application\/x-www-form-urlencoded/i.test(contentType)
  )
    checkForm(body.toString("latin1", 0, Math.min(body.length, 64 * 1024)), "body", scan, emit);
  if (scan.count > ARG_LIMITS.count) emit("protocol-args-count", "ARGS");
  if (scan.total > ARG_LIMITS.totalLength) emit("protocol-args-total-length", "ARGS");
  const duplicate = firstDuplicate(scan.names);
  if (duplicate !== undefined) emit("protocol-arg-duplicate", `ARGS:${duplicate.slice(0, 100)}`);
}

type Place = "path" | "query" | "body" | "name";

/** The punctuation PL4's character whitelist lets through in arguments. */
const PLAIN_PUNCT = " -_.~,:/@=+*!$();?";
/** ASCII chars checkEncoded's scan of decoded text passes over: letters, digits and PLAIN_PUNCT. */
const QUIET = new Uint8Array(128);
for (let c = 0; c < 128; c++)
  if (isAlpha(c) || isDigit(c) || PLAIN_PUNCT.includes(String.fromCharCode(c))) QUIET[c] = 1;

const argTarget = (name: string): string => `ARGS:${name.slice(0, 100)}`;

/**
 * The decoded length of a piece of a form that checkEncoded has nothing to say about, else -1:
 * every char, raw or `%XX`-escaped ASCII, is non-ASCII or QUIET (`+` and its space included).
 * Then no escape is broken, no byte needs a UTF-8 check, and the decoded text has only QUIET chars.
 */
function quietLength(raw: string, from: number, to: number): number {
  let length = to - from;
  for (let i = from; i < to; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37) {
      const h1 = raw.charCodeAt(i + 1);
      const h2 = raw.charCodeAt(i + 2);
      if (i + 2 >= to || !isHex(h1) || !isHex(h2)) return -1;
      const b = hexVal(h1) * 16 + hexVal(h2);
      if (b > 127 || QUIET[b] !== 1) return -1;
      length -= 2;
      i += 2;
    } else if (c < 128 && QUIET[c] !== 1) return -1;
  }
  return length;
}

function checkForm(form: string, place: "query" | "body", scan: ArgScan, emit: Emit): void {
  let start = 0;
  // The next `=` at or after `start`, kept across pairs so that bare parts (`a&b&c`) do not
  // search the rest of the form each: -1 once there is none left.
  let nextEq = form.indexOf("=");
  while (start <= form.length) {
    let end = form.indexOf("&", start);
    if (end < 0) end = form.length;
    if (end > start) {
      if (nextEq >= 0 && nextEq < start) nextEq = form.indexOf("=", start);
      const eq = nextEq >= 0 && nextEq < end ? nextEq : -1;
      const nameEnd = eq < 0 ? end : eq;
      const rawName = form.slice(start, nameEnd);
      // A quiet name (no escape) is its own decoded form, `+` aside, and holds no `|` or `[`. A
      // body part without `=` is text posted as-is, not a name.
      const quietName = quietLength(form, start, nameEnd) === nameEnd - start;
      const name = quietName
        ? rawName.indexOf("+") >= 0
          ? rawName.replaceAll("+", " ")
          : rawName
        : checkEncoded(rawName, eq < 0 && place === "body" ? "ARGS_NAMES:bare" : "ARGS_NAMES", "name", emit);
      // `_method=DELETE` overrides the method. (Lowercasing never shortens a string, so only a
      // 7-char name can be `_method`.)
      const methodName = name.length === 7 && name.toLowerCase() === "_method";
      // A quiet value raises nothing in checkEncoded, has no `|`, and matters only by its length,
      // unless the name is `_method` or has a `|` (the rules below then read the value).
      let value = "";
      let valueLength = eq < 0 ? 0 : quietLength(form, eq + 1, end);
      if (valueLength < 0 || methodName || (!quietName && name.indexOf("|") >= 0)) {
        value = checkEncoded(eq < 0 ? "" : form.slice(eq + 1, end), argTarget(name), place, emit);
        valueLength = value.length;
      }
      scan.count++;
      scan.total += name.length + valueLength;
      scan.names.push(name);
      if (name.length > ARG_LIMITS.nameLength) emit("protocol-arg-name-length", "ARGS_NAMES");
      if (valueLength > ARG_LIMITS.valueLength) emit("protocol-arg-value-length", argTarget(name));
      const lb = quietName ? -1 : name.indexOf("[");
      if (lb > 0) {
        emit("protocol-arg-name-array", "ARGS_NAMES");
        // `a[1]b`: text after a closing bracket that does not open another.
        for (let i = name.indexOf("]"); i >= 0 && i + 1 < name.length; i = name.indexOf("]", i + 1))
          if (name[i + 1] !== "[") {
            emit("protocol-arg-name-brackets", "ARGS_NAMES");
            break;
          }
      }
      // An override only takes effect with a method-shaped value.
      if (methodName && methodShaped(value)) emit("protocol-method-override", argTarget(name));
      // mod_proxy's `unix:/path|http://…` (CVE-2021-40438): needs a `|`.
      if ((!quietName && name.indexOf("|") >= 0) || value.indexOf("|") >= 0) {
        const lower = (name + "=" + value).toLowerCase();
        const unix = lower.indexOf("unix:");
        if (unix >= 0 && lower.indexOf("|", unix) > unix)
          emit("protocol-unix-socket-target", argTarget(name));
      }
    }
    start = end + 1;
  }
}

/**
 * Checks one raw (still encoded) piece of the request for encoding anomalies, and the once-decoded
 * text for forbidden characters; returns the decoded text.
 */
function checkEncoded(raw: string, target: string, place: Place, emit: Emit): string {
  // Most pieces hold no escape: nothing to decode but `+`.
  let out = raw;
  let badBytes = false;
  if (raw.indexOf("%") >= 0) {
    const decoded = decodeEscapes(raw, target, place, emit);
    out = decoded.text;
    badBytes = decoded.badBytes;
  } else if (place !== "path" && raw.indexOf("+") >= 0) out = raw.replaceAll("+", " ");
  // The once-decoded text: what characters a server's application will see.
  let strict = false;
  for (let i = 0; i < out.length; i++) {
    const c = out.charCodeAt(i);
    // Letters, digits, PL4's plain punctuation and non-ASCII chars: none of the checks below
    // applies to them (the strict whitelist takes them, and it counts outside the path only).
    if (c > 127 || QUIET[c] === 1) continue;
    if (c === 0) emit("protocol-nul-byte", target);
    else if (c === 10 || c === 13) {
      if (place === "name") {
        if (target !== "ARGS_NAMES:bare") emit("protocol-arg-name-newline", target);
      } else if (place === "path") emit("protocol-target-invalid-char", target);
      // A line break then `name=`: a second parameter smuggled into one (multi-line text is prose).
      else if (place === "query" && /^[\r\n]*[\w.-]{1,64}=/.test(out.slice(i, i + 70)))
        emit("protocol-arg-query-newline", target);
    } else if (c < 32 && c !== 9) emit("protocol-control-char", target);
    else if (c === 127) emit("protocol-control-char", target);
    // Outside PL4's whitelist: letters and digits (UTF-8 ones too), space and plain punctuation.
    strict = true;
    if (c === 37 && isHex(out.charCodeAt(i + 1)) && isHex(out.charCodeAt(i + 2)) && place !== "path")
      emit("protocol-urlencoding-double", target);
    if (c === 92 && place !== "path") {
      const n = out.charCodeAt(i + 1);
      if (n === 117 || n === 85) {
        // `\u0061`: an escaped ASCII letter or digit; serialisers escape only markup and controls.
        const hex = out.slice(i + 2, i + 6);
        if (/^[0-9a-f]{4}$/i.test(hex)) {
          const cp = parseInt(hex, 16);
          if (isAlpha(cp) || isDigit(cp)) emit("protocol-unicode-escape", target);
        }
      } else if ((isAlpha(n) || isDigit(n)) && !"nrtbfvx0u".includes(String.fromCharCode(n | 32))) {
        emit("protocol-abnormal-escape", target);
      }
    }
  }
  // Bytes that are not UTF-8 (Latin-1 forms, fragments); UTF-8 text in any script is fine.
  if (badBytes) emit("protocol-restricted-char", place === "path" ? "REQUEST_FILENAME" : target);
  if (strict && place !== "path") emit("protocol-strict-chars", target);
  return out;
}

/** Percent-decodes `raw` once, checking its escapes and the UTF-8 of its encoded bytes. */
function decodeEscapes(
  raw: string,
  target: string,
  place: Place,
  emit: Emit,
): { text: string; badBytes: boolean } {
  let out = "";
  let badBytes = false;
  const bytes: number[] = [];
  const flush = (): void => {
    if (bytes.length === 0) return;
    if (!checkUtf8(bytes, target, emit)) badBytes = true;
    for (const b of bytes) out += String.fromCharCode(b);
    bytes.length = 0;
  };
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37) {
      const h1 = raw.charCodeAt(i + 1);
      const h2 = raw.charCodeAt(i + 2);
      if (isHex(h1) && isHex(h2)) {
        const b = hexVal(h1) * 16 + hexVal(h2);
        // An ASCII byte that starts a run passes checkUtf8 alone and adds just itself.
        if (b < 0x80 && bytes.length === 0) out += String.fromCharCode(b);
        else bytes.push(b);
        i += 2;
        continue;
      }
      if ((h1 === 117 || h1 === 85) && [2, 3, 4, 5].every((k) => isHex(raw.charCodeAt(i + k)))) {
        // IIS `%uXXXX`; full-width forms (U+FF00-FFEF) fold to ASCII after normalisation.
        const hi = raw.slice(i + 2, i + 4).toLowerCase();
        emit(hi === "ff" ? "protocol-urlencoding-iis-fullwidth" : "protocol-urlencoding-iis", target);
        flush();
        out += String.fromCharCode(parseInt(raw.slice(i + 2, i + 6), 16));
        i += 5;
        continue;
      }
      // `%1G`, `%w2`, `%7%`: a broken escape that servers decode inconsistently. A `%` before a
      // space, punctuation or the end is a literal percent sign in prose (`24%)`, `width=100%`).
      // In the URI no client leaves one; form bodies built by hand sometimes do (PL2).
      if (isAlpha(h1) || isDigit(h1))
        emit(place === "body" ? "protocol-urlencoding-invalid-body" : "protocol-urlencoding-invalid", target);
    }
    flush();
    if (c === 43 && place !== "path") {
      out += " ";
      continue;
    }
    // This char and the run up to the next `%` or `+`, copied in one piece.
    let j = i + 1;
    while (j < raw.length && raw.charCodeAt(j) !== 37 && raw.charCodeAt(j) !== 43) j++;
    out += raw.slice(i, j);
    i = j - 1;
  }
  flush();
  return { text: out, badBytes };
}

/** UTF-8 validity of a run of percent-encoded bytes: overlong and out-of-range forms are evasion. */
function checkUtf8(bytes: number[], target: string, emit: Emit): boolean {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    if (b === 0xc0 || b === 0xc1 || b >= 0xf5) {
      emit("protocol-utf8-overlong", target); // never valid in UTF-8: overlong leads, beyond U+10FFFF
      return false;
    }
    const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 0;
    if (len === 0) {
      emit("protocol-utf8-invalid", target); // a stray continuation byte (Latin-1 text)
      return false;
    }
    for (let k = 1; k < len; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) {
        emit("protocol-utf8-invalid", target); // truncated: Latin-1 text, or a cut sequence
        return false;
      }
    }
    const second = bytes[i + 1]!;
    if (
      (b === 0xe0 && second < 0xa0) ||
      (b === 0xf0 && second < 0x90) ||
      (b === 0xed && second >= 0xa0) ||
      (b === 0xf4 && second >= 0x90)
    ) {
      emit("protocol-utf8-overlong", target); // overlong 3/4-byte forms, surrogates, > U+10FFFF
      return false;
    }
    i += len;
  }
  return true;
}

export const protocolDetector: RequestDetector = { name: "protocol", inspectRequest };

// ---------------------------------------------------------------------------------------------
// The value detector: smuggled request lines, header injection, response splitting, unparsable bodies

const isSpaceOrNl = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;

/** `METHOD target HTTP/d.d` at the start of the value or of a line, or followed by a line break. */
function smuggledRequestLine(v: string): boolean {
  const lower = v.toLowerCase();
  for (let at = lower.indexOf("http/"); at >= 0; at = lower.indexOf("http/", at + 5)) {
    if (!isDigit(lower.charCodeAt(at + 5)) || !isWs(lower.charCodeAt(at - 1))) continue;
    let j = at - 1;
    while (j >= 0 && isWs(lower.charCodeAt(j))) j--;
    const targetEnd = j + 1;
    while (j >= 0 && !isSpaceOrNl(lower.charCodeAt(j))) j--;
    if (j + 1 === targetEnd || j < 0 || !isWs(lower.charCodeAt(j))) continue;
    while (j >= 0 && isWs(lower.charCodeAt(j))) j--;
    const methodEnd = j + 1;
    while (j >= 0 && isAlpha(lower.charCodeAt(j))) j--;
    const word = v.slice(j + 1, methodEnd).toUpperCase();
    let k = at + 5;
    while (k < v.length && (isDigit(v.charCodeAt(k)) || v.charCodeAt(k) === 46)) k++;
    const lineEnd = k >= v.length || v.charCodeAt(k) === 13 || v.charCodeAt(k) === 10;
    const lineStart = j < 0 || v.charCodeAt(j) === 10 || v.charCodeAt(j) === 13;
    if (REQUEST_METHODS_IN_VALUES.has(word) && (lineStart || (lineEnd && k < v.length))) return true;
    if (lineStart && lineEnd && REQUEST_METHODS_IN_VALUES.has(word)) return true;
    // `barGET /a HTTP/1.1\r\n`: a method glued to preceding text, then a line break.
    if (lineEnd && k < v.length) {
      for (const m of REQUEST_METHODS_IN_VALUES) if (word.endsWith(m)) return true;
    }
  }
  return false;
}

interface Injection {
  known: boolean;
  generic: boolean;
  splitting: boolean;
}

/** CR/LF followed by `Header-Name:` (a known one, or any token), or by a blank line and a body. */
function headerInjection(v: string): Injection {
  const r: Injection = { known: false, generic: false, splitting: false };
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c !== 10 && c !== 13) continue;
    let j = i;
    let breaks = 0;
    while (j < v.length && (v.charCodeAt(j) === 10 || v.charCodeAt(j) === 13)) {
      if (v.charCodeAt(j) === 10) breaks++;
      j++;
    }
    const crlfs = j - i;
    const s = j;
    while (
      j < v.length &&
      (isAlpha(v.charCodeAt(j)) ||
        isDigit(v.charCodeAt(j)) ||
        v.charCodeAt(j) === 45 ||
        v.charCodeAt(j) === 95)
    )
      j++;
    const name = v.slice(s, j).toLowerCase();
    let k = j;
    while (k < v.length && (isWs(v.charCodeAt(k)) || v.charCodeAt(k) === 13)) k++;
    let w = k + 1;
    while (w < v.length && isWs(v.charCodeAt(w))) w++;
    const hasValue = w < v.length && v.charCodeAt(w) !== 10 && v.charCodeAt(w) !== 13;
    if (name.length >= 2 && v.charCodeAt(k) === 58 && hasValue) {
      const value = v.slice(w, w + 200);
      const lineEnd = value.search(/[\r\n]/);
      const line = lineEnd < 0 ? value : value.slice(0, lineEnd);
      if (INJECTABLE_HEADERS.has(name) && (name !== "location" || /[/:.]/.test(line))) r.known = true;
      else r.generic = true;
    }
    // A status line, or a blank line then markup: a whole forged response.
    if (v.startsWith("HTTP/1.", s) || v.startsWith("http/1.", s)) r.splitting = true;
    if (
      (breaks >= 2 || crlfs >= 3) &&
      /^\s*<(html|head|body|script|meta|title|iframe|svg)\b/i.test(v.slice(s, s + 20))
    )
      r.splitting = true;
    i = j > i ? j - 1 : i;
  }
  return r;
}

function inspectValue(target: Target): Detection[] {
  const v = target.value;
  const out: Detection[] = [];
  const push = (id: ProtocolRuleId): void => {
    out.push(detection(id, target.name));
  };
  // The engine's body parser failed on a body of a declared type (JSON, XML, multipart): the
  // application's parser will either fail too or read it differently.
  // Multipart framing has its own, finer rules in the request detector.
  if (target.name === "REQBODY_ERROR" && !v.startsWith("multipart")) push("protocol-body-unparsable");
  const hasBreak = v.indexOf("\n") >= 0 || v.indexOf("\r") >= 0;
  if (v.length >= 14 && (v.indexOf("HTTP/") >= 0 || v.indexOf("http/") >= 0) && smuggledRequestLine(v))
    push("protocol-request-smuggling");
  // A raw body of an unparsed type may be a mail or a HTTP transcript; only parsed values count.
  if (hasBreak && target.name !== "REQUEST_BODY") {
    const inj = headerInjection(v);
    // Names, headers and cookies never hold a line break; any `Name:` after one is injected there.
    const strictPlace =
      target.name.startsWith("ARGS_NAMES:") ||
      target.name.startsWith("REQUEST_HEADERS:") ||
      target.name.startsWith("REQUEST_COOKIES:");
    if (inj.known || (inj.generic && strictPlace)) push("protocol-header-injection");
    else if (inj.generic) push("protocol-header-injection-generic");
    if (inj.splitting || (strictPlace && /(\r\n|\n)\s*(\r\n|\n)/.test(v)))
      push("protocol-response-splitting");
  }
  if (v.indexOf("http-equiv") >= 0) {
    const at = v.indexOf("http-equiv");
    const meta = v.lastIndexOf("<meta", at);
    if (meta >= 0 && at - meta < 100) {
      const rest = v.slice(at + 10, at + 40).replace(/[\s='"]/g, "");
      if (rest.startsWith("refresh") || rest.startsWith("location")) push("protocol-meta-http-equiv");
    }
  }
  return out;
}

export const protocolValueDetector: Detector = {
  name: "protocol",
  inspect: inspectValue,
  // Smuggling needs `HTTP/`, injection and splitting a break, `http-equiv` its `-`; an unparsable
  // body is reported whatever its value.
  needs: { bits: CHAR_SLASH | CHAR_BREAK | CHAR_DASH, anyway: (_value, name) => name === "REQBODY_ERROR" },
};
