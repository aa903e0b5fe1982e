// CRLF injection: HTTP response splitting, header injection and request smuggling through values
// that reach a header, a redirect or a raw socket. A line break only matters when what follows it
// parses as protocol: a header the attacker wants the response (or a proxied request) to carry, in
// that header's own grammar (`Set-Cookie: a=b`, `Location: //evil`, `Content-Length: 0`), an HTTP
// status line that starts a second response, a request line that starts a second request, or a
// blank line and markup that becomes a forged body. Line breaks count raw, percent-encoded (the
// engine's variants undo that) and as the Unicode chars whose low byte is CR or LF (`嘍` U+560D,
// `嘊` U+560A), which servers that narrow strings to Latin-1 turn into real ones. A multi-line
// textarea with `Location: Berlin` or `Host: the Smiths` is prose: those values fail the grammar.
// Raw request bodies (batch requests, MIME documents) legitimately hold headers and are skipped.
// Plain char loops, linear in the value. Rules are our own.
import { CHAR_BACKSLASH, CHAR_BREAK, CHAR_LT, CHAR_NON_ASCII, CHAR_SLASH } from "../chars.ts";
import {
  type Detection,
  type Detector,
  type ParanoiaLevel,
  type Severity,
  type Target,
  NO_DETECTIONS,
} from "../types.ts";
import { words } from "./lexicon.ts";

type RuleId =
  | "crlf-header-injection"
  | "crlf-status-line"
  | "crlf-request-line"
  | "crlf-body-injection"
  | "crlf-name-break"
  | "crlf-path-break"
  | "crlf-meta-http-equiv"
  | "crlf-escaped-header"
  | "crlf-header-break"
  | "crlf-header-block"
  | "crlf-header-in-text"
  | "crlf-header-generic";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

const SPLIT = ["attack-crlf", "attack-header-injection"] as const;

/**
 * PL1: protocol after a line break (a header in its grammar, a status line, a request line, a
 * blank line and markup in a header), any line break in a parameter name or the path, and HTML's
 * own header injection (`<meta http-equiv=refresh>`). PL2: the same headers written as escape text
 * (`\r\n`, which code snippets also hold), a decoded line break inside a request header or cookie,
 * and any hyphenated `Name: value` line after a break.
 */
export const CRLF_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "crlf-header-injection": { paranoia: 1, severity: "critical", tags: SPLIT },
  "crlf-status-line": { paranoia: 1, severity: "critical", tags: [...SPLIT, "response-splitting"] },
  "crlf-request-line": { paranoia: 1, severity: "critical", tags: [...SPLIT, "request-smuggling"] },
  "crlf-body-injection": { paranoia: 1, severity: "critical", tags: [...SPLIT, "response-splitting"] },
  "crlf-name-break": { paranoia: 1, severity: "critical", tags: SPLIT },
  "crlf-path-break": { paranoia: 1, severity: "critical", tags: SPLIT },
  "crlf-meta-http-equiv": { paranoia: 1, severity: "critical", tags: ["attack-header-injection"] },
  "crlf-escaped-header": { paranoia: 2, severity: "error", tags: SPLIT },
  "crlf-header-break": { paranoia: 2, severity: "error", tags: SPLIT },
  "crlf-header-block": { paranoia: 2, severity: "error", tags: SPLIT },
  "crlf-header-in-text": { paranoia: 2, severity: "error", tags: SPLIT },
  "crlf-header-generic": { paranoia: 2, severity: "warning", tags: SPLIT },
};

const isCR = (c: number): boolean => c === 13 || (c > 0xff && (c & 0xff) === 13);
const isLF = (c: number): boolean => c === 10 || (c > 0xff && (c & 0xff) === 10);
/** A line break as a server may see it: CR, LF, or a wide char that narrows to one. */
export const isBreak = (c: number): boolean => isCR(c) || isLF(c);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
const isTokenChar = (c: number): boolean => isAlpha(c) || isDigit(c) || c === 45 || c === 95;
const isBlank = (c: number): boolean => c === 32 || c === 9;

const WIDE = /[\u0100-\uffff]/;

/** One line that follows a run of line breaks. */
export interface BrokenLine {
  /** Index where the line starts (just past the breaks). */
  start: number;
  /** Index where it ends (the next break, or the value's end). */
  end: number;
  /** LF-equivalents in the run before it: two or more make a blank line. */
  feeds: number;
  /** Whether the run held a real CR or LF (not only a wide char that narrows to one). */
  real: boolean;
}

/** Every line that starts after a line break, in order; a value without breaks yields none. */
export function linesAfterBreaks(v: string, limit = 256): BrokenLine[] {
  const out: BrokenLine[] = [];
  // Most values hold neither a break nor a wide char: native searches settle that without the loop.
  if (v.indexOf("\n") < 0 && v.indexOf("\r") < 0 && !WIDE.test(v)) return out;
  let i = 0;
  const n = v.length;
  while (i < n && out.length < limit) {
    const c = v.charCodeAt(i);
    if (!isBreak(c)) {
      i++;
      continue;
    }
    let feeds = 0;
    let crs = 0;
    let real = false;
    for (; i < n; i++) {
      const d = v.charCodeAt(i);
      if (isLF(d)) feeds++;
      else if (isCR(d)) crs++;
      else break;
      if (d === 10 || d === 13) real = true;
    }
    // CR CR or LF LF or CRLF CRLF all end a header block for a lenient parser.
    const start = i;
    while (i < n && !isBreak(v.charCodeAt(i))) i++;
    out.push({ start, end: i, feeds: Math.max(feeds, crs), real });
  }
  return out;
}

/** Reads `Name:` at `start` (a header field name, optional blanks before the colon); the lowercased name and where the value starts. */
export function headerAt(v: string, start: number, end: number): { name: string; value: string } | null {
  let i = start;
  while (i < end && i - start <= 64 && isTokenChar(v.charCodeAt(i))) i++;
  if (i === start || i - start > 64) return null;
  const name = v.slice(start, i).toLowerCase();
  while (i < end && isBlank(v.charCodeAt(i))) i++;
  if (v.charCodeAt(i) !== 58 /* : */) return null;
  return { name, value: v.slice(i + 1, Math.min(end, i + 1 + 512)).trim() };
}

const hasNoBlank = (s: string): boolean => !s.includes(" ") && !s.includes("\t");
const URL_START = /^(?:[a-z][a-z0-9+.-]{0,15}:\/\/|\/\/|\/|\\\\|(?:javascript|vbscript|data):)/i;
const HOSTISH = /^\[?[a-z0-9_.:-]{1,253}\]?(?::\d{1,5})?$/i;
const looksHost = (s: string): boolean =>
  HOSTISH.test(s) && (s.includes(".") || s.includes(":") || s.toLowerCase() === "localhost");

/**
 * Headers an attacker plants, each with the grammar its value must have for the line to count as
 * that header (so that prose such as `Location: Berlin` does not). `true`: any value will do,
 * since the name itself never starts a line of prose.
 */
const HEADER_GRAMMAR: Record<string, true | ((value: string) => boolean)> = {
  "set-cookie": (s) => /^[^=\s;,]{1,128}=/.test(s),
  "set-cookie2": (s) => /^[^=\s;,]{1,128}=/.test(s),
  cookie: (s) => /^[^=\s;,]{1,128}=[^\s]*(?:;|$)/.test(s),
  location: (s) => URL_START.test(s),
  "content-location": (s) => URL_START.test(s),
  refresh: (s) => /^\d{1,6}\s*(?:[;,]|$)/.test(s),
  "content-length": (s) => /^\d{1,19}(?:\D|$)/.test(s),
  "content-type": (s) => /^[a-z0-9.+-]{1,64}\/[a-z0-9.+*-]{1,64}(?:\s*;|$)/i.test(s),
  "content-encoding": (s) => /^(?:gzip|deflate|br|compress|identity|zstd)\b/i.test(s),
  "transfer-encoding": (s) => /^(?:chunked|gzip|deflate|compress|identity)\b/i.test(s),
  "content-disposition": (s) => /^(?:attachment|inline|form-data)\b/i.test(s),
  link: (s) => s.startsWith("<"),
  host: (s) => looksHost(s),
  "x-forwarded-host": (s) => looksHost(s),
  "x-forwarded-server": (s) => looksHost(s),
  "x-forwarded-for": (s) => looksHost(s.split(",")[0]!.trim()),
  "x-real-ip": (s) => looksHost(s),
  "x-client-ip": (s) => looksHost(s),
  "x-originating-ip": (s) => looksHost(s.replace(/^\[|\]$/g, "")),
  "x-remote-ip": (s) => looksHost(s),
  "x-remote-addr": (s) => looksHost(s),
  "true-client-ip": (s) => looksHost(s),
  "remote-addr": (s) => looksHost(s),
  "remote-ip": (s) => looksHost(s),
  "client-ip": (s) => looksHost(s),
  "x-forwarded-proto": (s) => /^(?:https?|wss?)$/i.test(s),
  "x-original-url": (s) => URL_START.test(s),
  "x-rewrite-url": (s) => URL_START.test(s),
  "x-accel-redirect": (s) => URL_START.test(s),
  "x-sendfile": (s) => URL_START.test(s) || /^[a-z]:\\/i.test(s),
  "x-http-method-override": (s) => /^[a-z]{3,12}$/i.test(s),
  "access-control-allow-origin": true,
  "access-control-allow-credentials": true,
  "access-control-allow-headers": true,
  "access-control-allow-methods": true,
  "content-security-policy": true,
  "content-security-policy-report-only": true,
  "strict-transport-security": true,
  "x-xss-protection": true,
  "x-frame-options": true,
  "x-content-type-options": true,
  "www-authenticate": true,
  "proxy-authenticate": true,
  "cache-control": (s) => /^(?:no-cache|no-store|public|private|max-age=)/i.test(s),
};

/** Whether the line is one of the planted headers, in its grammar. */
/** The planted header's name when the line is one, in its grammar; else null. */
function plantedHeader(v: string, line: BrokenLine): string | null {
  // Lenient parsers drop the blanks a payload puts after the break (`%0d%0a%20Set-Cookie:`).
  let start = line.start;
  while (start < line.end && start - line.start < 8 && isBlank(v.charCodeAt(start))) start++;
  const h = headerAt(v, start, line.end);
  if (h === null || h.value === "" || !Object.hasOwn(HEADER_GRAMMAR, h.name)) return null;
  const grammar = HEADER_GRAMMAR[h.name]!;
  return grammar === true || grammar(h.value) ? h.name : null;
}

/**
 * Header names that also label lines of prose with a URL or a host after them: a meeting invite's
 * `Location: https://meet.example/123`, a note's `Host: db.example.com`. After a first line of prose
 * these wait for PL2; after a single field (`en`, `/next`, an id) they are injection.
 */
const PROSE_LABELS = words("location content-location host link refresh cache-control content-disposition");

/** `HTTP/1.1 200`, `HTTP/2 302`: the first line of a response. */
function statusLineAt(v: string, at: number): boolean {
  const s = v.slice(at, at + 16).toLowerCase();
  return /^http\/\d(?:\.\d)?[ \t]+[1-5]\d\d(?:[ \t]|$)/.test(s);
}

// Request methods a front end or back end forwards (WebDAV included, which smuggling tests use).
const METHODS = words(
  "get post head put delete options patch trace track connect propfind proppatch mkcol copy move lock unlock search",
);

/** `GET /path HTTP/1.1`, `HEAD http://host/ HTTP/1.0`: a request line at `at`. */
function requestLineAt(v: string, at: number, end: number): boolean {
  let i = at;
  while (i < end && i - at <= 10 && isAlpha(v.charCodeAt(i))) i++;
  if (!METHODS.has(v.slice(at, i).toLowerCase()) || !isBlank(v.charCodeAt(i))) return false;
  while (i < end && isBlank(v.charCodeAt(i))) i++;
  const target = i;
  while (i < end && i - target <= 4096 && v.charCodeAt(i) > 32) i++;
  if (i === target || !isBlank(v.charCodeAt(i))) return false;
  const t = v.charCodeAt(target);
  // The target is a path, an absolute URL, `*` or an authority (CONNECT).
  if (!(t === 47 || t === 42 || isAlpha(t) || isDigit(t))) return false;
  while (i < end && isBlank(v.charCodeAt(i))) i++;
  return /^http\/\d/i.test(v.slice(i, i + 6));
}

/** Markup that starts a forged body: `<html`, `<script`, `<!doctype`, any tag. */
const markupAt = (v: string, at: number): boolean =>
  v.charCodeAt(at) === 60 && (isAlpha(v.charCodeAt(at + 1)) || v.charCodeAt(at + 1) === 33);

type Kind = "param" | "name" | "path" | "header" | "body";

function kindOf(name: string): Kind {
  if (name.startsWith("ARGS_NAMES:") || name.startsWith("ARGS_JSON_NAMES:")) return "name";
  if (name === "REQUEST_PATH" || name === "REQUEST_FILENAME") return "path";
  if (name.startsWith("REQUEST_HEADERS:") || name.startsWith("REQUEST_COOKIES:")) return "header";
  if (name === "REQUEST_BODY" || name === "REQBODY_ERROR" || name.startsWith("LIMIT:")) return "body";
  return "param";
}

/** Headers whose values are URLs the browser built, where an encoded line break is the page's, not the request's. */
const URL_HEADERS = new Set([
  "REQUEST_HEADERS:referer",
  "REQUEST_HEADERS:origin",
  "REQUEST_HEADERS:location",
]);

const COOKIE_OR_URL = (name: string): boolean => name.startsWith("REQUEST_COOKIES:") || URL_HEADERS.has(name);

/** `<meta http-equiv="refresh">` and kin: headers set from markup. */
function metaHttpEquiv(lower: string): boolean {
  for (let at = lower.indexOf("<meta"); at >= 0; at = lower.indexOf("<meta", at + 5)) {
    const head = lower.slice(at, at + 512);
    const close = head.indexOf(">");
    const tag = close < 0 ? head : head.slice(0, close);
    const eq = tag.indexOf("http-equiv");
    if (eq < 0) continue;
    let i = eq + 10;
    while (
      i < tag.length &&
      (isBlank(tag.charCodeAt(i)) || tag[i] === "=" || tag[i] === '"' || tag[i] === "'")
    )
      i++;
    const rest = tag.slice(i, i + 24);
    if (/^(?:refresh|set-cookie|location|content-security-policy)\b/.test(rest)) return true;
  }
  return false;
}

/** Turns the escape text `\r` and `\n` into the chars, for the PL2 look at code-like values. */
function unescapeBreaks(v: string): string {
  return v.replaceAll("\\r", "\r").replaceAll("\\n", "\n");
}

/** The value's first line, leading blanks skipped. */
function firstLine(v: string): { start: number; end: number } {
  let start = 0;
  while (start < v.length && isBlank(v.charCodeAt(start))) start++;
  let end = start;
  while (end < v.length && !isBreak(v.charCodeAt(end))) end++;
  return { start, end };
}

function isHeaderLine(v: string, line: { start: number; end: number }): boolean {
  const h = headerAt(v, line.start, line.end);
  return h !== null && h.value !== "";
}

// Shared, frozen empty results (callers only read them): a value that matches nothing allocates nothing.
const NO_RULES: readonly RuleId[] = Object.freeze([]);

/** What every rule but `crlf-request-line` on a whole value needs: a break, a wide char, `<` or `\`. */
const NEEDED = /[\n\r<\\\u0100-\uffff]/;

/**
 * A request line as a whole parameter value (or name) is the same smuggling as one after a break,
 * sent where a raw socket gets it. Its `HTTP/` version needs a `/`.
 */
function wholeRequestLine(v: string, targetName: string): readonly RuleId[] {
  let s = 0;
  while (s < v.length && v.charCodeAt(s) <= 32) s++;
  // A method (3 to 9 letters) then a blank must open it: most values fail here, before any slicing.
  let m = s;
  while (m < v.length && m - s < 10 && isAlpha(v.charCodeAt(m))) m++;
  if (m - s < 3 || m - s > 9 || !isBlank(v.charCodeAt(m))) return NO_RULES;
  const kind = kindOf(targetName);
  if (kind !== "param" && kind !== "name") return NO_RULES;
  // The target ends at whitespace, so the line's own end need not be found first.
  return isAlpha(v.charCodeAt(s)) && requestLineAt(v, s, v.length) ? ["crlf-request-line"] : NO_RULES;
}

/** Rules a value matches, at every paranoia level. */
export function classifyCrlf(value: string, targetName = ""): readonly RuleId[] {
  const v = value.length > 65536 ? value.slice(0, 65536) : value;
  // Every rule but the whole-value request line needs a line break (raw, or a wide char that may
  // narrow to one), `<` (`<meta http-equiv`) or `\` (escaped breaks); most values hold none.
  if (!NEEDED.test(v)) return v.indexOf("/") < 0 ? NO_RULES : wholeRequestLine(v, targetName);
  return classifyLines(v, targetName);
}

/** `classifyCrlf` for a value that holds a break, a wide char, `<` or `\`. */
function classifyLines(v: string, targetName: string): readonly RuleId[] {
  const out = new Set<RuleId>();
  const kind = kindOf(targetName);
  if (kind === "body") return NO_RULES;
  if (v.includes("<") && v.includes("http-equiv") && metaHttpEquiv(v.toLowerCase()))
    out.add("crlf-meta-http-equiv");
  const lines = linesAfterBreaks(v);
  // A trailing LF (a body posted from a text file) ends the value; a CR, or text after the break, splits it.
  const realBreak = lines.some((l) => l.real && (v.slice(l.start, l.end).trim() !== "" || v.includes("\r")));
  if (realBreak && kind === "name") out.add("crlf-name-break");
  if (lines.some((l) => l.real) && kind === "path") out.add("crlf-path-break");
  // A value whose own first line is a header (`Received: …`, `MIME-Version: 1.0`) or a status line
  // is a block of headers, a raw mail or HTTP message pasted or relayed whole, not one field split
  // by a break. (A request line there is smuggling all the same, below.)
  const first = lines.length > 0 ? firstLine(v) : { start: 0, end: 0 };
  const block =
    kind !== "header" && lines.length > 0 && (isHeaderLine(v, first) || statusLineAt(v, first.start));
  const firstText = v.slice(first.start, first.end).trim();
  const prose = lines.length > 0 && /[ \t]/.test(firstText);
  // A message shown in docs or a ticket: a status or request line after a paragraph or a Markdown
  // fence, with its headers below. Splitting needs the break to end a single value (`en`, `/next`)
  // or a blank line to end the first message's headers; a dump has neither, and waits for PL2.
  const introduced =
    kind !== "header" && (prose || firstText.startsWith("```") || firstText.startsWith("~~~"));
  let dump = block;
  for (const line of lines) {
    const planted = plantedHeader(v, line);
    const message =
      planted === null && (statusLineAt(v, line.start) || requestLineAt(v, line.start, line.end));
    if (message && !dump && introduced && line.feeds < 2) dump = true;
    if (planted !== null) {
      if (dump) out.add("crlf-header-block");
      else if (prose && PROSE_LABELS.has(planted)) out.add("crlf-header-in-text");
      else out.add("crlf-header-injection");
    } else if (message) {
      if (dump) out.add("crlf-header-block");
      else out.add(statusLineAt(v, line.start) ? "crlf-status-line" : "crlf-request-line");
    } else if (line.feeds >= 2 && kind !== "param" && markupAt(v, line.start)) out.add("crlf-body-injection");
    else {
      const h = headerAt(v, line.start, line.end);
      // In a request header, any `Name: value` after a break is a second header; elsewhere it may be prose.
      if (h !== null && h.value !== "" && kind === "header" && !COOKIE_OR_URL(targetName))
        out.add("crlf-header-injection");
      else if (h !== null && h.value !== "" && h.name.includes("-") && hasNoBlank(h.name) && !prose && !dump)
        out.add("crlf-header-generic");
    }
    if (line.real && kind === "header" && !URL_HEADERS.has(targetName) && line.start < line.end)
      out.add("crlf-header-break");
  }
  for (const rule of wholeRequestLine(v, targetName)) out.add(rule);
  if (lines.length === 0 && (v.includes("\\n") || v.includes("\\r"))) {
    const u = unescapeBreaks(v);
    for (const line of linesAfterBreaks(u))
      if (plantedHeader(u, line) !== null || statusLineAt(u, line.start)) out.add("crlf-escaped-header");
  }
  return [...out];
}

export const crlfDetector: Detector = {
  name: "crlf",
  // NEEDED, or the `/` of a whole request line.
  needs: { bits: CHAR_BREAK | CHAR_LT | CHAR_BACKSLASH | CHAR_NON_ASCII | CHAR_SLASH },
  inspect(target: Target): readonly Detection[] {
    const rules = classifyCrlf(target.value, target.name);
    if (rules.length === 0) return NO_DETECTIONS; // the usual case: nothing to map
    return rules.map((rule) => {
      const r = CRLF_RULES[rule];
      return { rule, tags: r.tags, paranoia: r.paranoia, severity: r.severity, target: target.name };
    });
  },
};
