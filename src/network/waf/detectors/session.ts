// Session fixation: an attacker who can make a victim's browser carry a session id the attacker
// already knows owns that session once the victim logs in. Two ways in are visible in a request:
// a value that sets a cookie where it will be reflected (`document.cookie=`, a
// `<meta http-equiv="set-cookie">` tag, a `Set-Cookie:` line or a raw cookie string with
// `; domain=`/`; expires=`), and a session id passed as a request parameter (`?PHPSESSID=…`,
// `jsessionid`, `connect.sid`, `_myapp_session`…) that a framework with URL-carried sessions
// adopts. The latter is how a fixation link arrives: from another site, or with no Referer at all
// (a link in a mail); from a page of the same site it is the site's own URL rewriting, which only
// PL3 notes. `sessionDetector` is therefore both a value detector (`inspect`, the cookie-setting
// shapes in every decoded variant) and a request detector (`inspectRequest`, parameter names and
// Referer): register it in both lists. Plain char scanning, linear in the input.
import { urlDecode } from "../decode.ts";
import { type InspectedRequest, requestTargets } from "../targets.ts";
import type { Detection, Detector, ParanoiaLevel, RequestDetector, Severity, Target } from "../types.ts";
import { words } from "./lexicon.ts";

type RuleId =
  | "session-cookie-set-script"
  | "session-cookie-set-meta"
  | "session-cookie-set-header"
  | "session-cookie-string"
  | "session-fixation-param"
  | "session-id-param-weak"
  | "session-id-param-same-site";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

const TAGS = ["attack-fixation", "session"] as const;

/**
 * PL1: a value that sets a cookie (script, meta tag, header line, cookie string with attributes),
 * and a session-id parameter name on a request that comes from another site or from nowhere.
 * PL2: the ambiguous names (`sid`, `session`) on such a request. PL3: any session-id parameter, even
 * from the same site (frameworks that carry the session in the URL do this on every link).
 */
export const SESSION_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "session-cookie-set-script": { paranoia: 1, severity: "critical", tags: TAGS },
  "session-cookie-set-meta": { paranoia: 1, severity: "critical", tags: TAGS },
  "session-cookie-set-header": { paranoia: 1, severity: "critical", tags: TAGS },
  "session-cookie-string": { paranoia: 1, severity: "critical", tags: TAGS },
  "session-fixation-param": { paranoia: 1, severity: "critical", tags: TAGS },
  "session-id-param-weak": { paranoia: 2, severity: "error", tags: TAGS },
  "session-id-param-same-site": { paranoia: 3, severity: "warning", tags: TAGS },
};

const detection = (rule: RuleId, target: string): Detection => ({ rule, target, ...SESSION_RULES[rule] });

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;
const isWordChar = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 95 || c === 36;

function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

/** Cookie attributes that only a cookie being *set* carries. */
const COOKIE_ATTRIBUTES = ["expires", "domain", "path", "max-age", "samesite"];

/** `name=value; domain=` or `; expires=` after the word cookie, within the same statement. */
function cookieString(v: string, from: number): boolean {
  const end = Math.min(v.length, from + 300);
  for (let i = from; i < end; i++) {
    const c = v.charCodeAt(i);
    if (c === 10 || c === 13) return false;
    if (c !== 59) continue; // `;`
    let j = i + 1;
    while (j < end && !isWordChar(v.charCodeAt(j)) && v.charCodeAt(j) !== 45 && v.charCodeAt(j) !== 10) j++;
    for (const a of COOKIE_ATTRIBUTES) {
      if (v.startsWith(a, j)) {
        const k = skipSpace(v, j + a.length);
        if (v.charCodeAt(k) === 61) return true; // `=`
      }
    }
  }
  return false;
}

/** Cookie-setting shapes in one decoded (lowercased by the engine's variants) value. */
function inspectValue(target: Target): Detection[] {
  const v = target.value;
  if (v.indexOf("cookie") < 0) return [];
  const out: Detection[] = [];
  let script = false;
  let meta = false;
  let header = false;
  let str = false;
  for (let at = v.indexOf("cookie"); at >= 0; at = v.indexOf("cookie", at + 6)) {
    const before = at > 0 ? v.charCodeAt(at - 1) : 32;
    const afterI = at + 6;
    // `document.cookie =` (also `window.document['cookie']=` is left to the XSS detector).
    if (before === 46 && !isWordChar(v.charCodeAt(afterI) || 32)) {
      const k = skipSpace(v, afterI);
      if (v.charCodeAt(k) === 61 && v.charCodeAt(k + 1) !== 61) {
        if (v.slice(Math.max(0, at - 9), at) === "document.") script = true;
        else if (cookieString(v, k + 1)) str = true;
      } else if (cookieString(v, afterI)) str = true;
    }
    // `set-cookie` as a meta tag's http-equiv or as a header line.
    if (at >= 4 && v.slice(at - 4, at) === "set-") {
      const pre = at >= 5 ? v.charCodeAt(at - 5) : 32;
      const k = skipSpace(v, afterI);
      if (v.charCodeAt(k) === 58 && !isWordChar(pre)) {
        // `Set-Cookie:` at the start of the value or of a line: a header, not prose.
        let p = at - 5;
        while (p >= 0 && (v.charCodeAt(p) === 32 || v.charCodeAt(p) === 9)) p--;
        if (p < 0 || v.charCodeAt(p) === 10 || v.charCodeAt(p) === 13) header = true;
      }
      // `http-equiv="set-cookie"` (quotes optional) inside a `<meta` tag.
      const from = Math.max(0, at - 200);
      const tag = v.slice(from, at);
      const lt = tag.lastIndexOf("<meta");
      if (lt >= 0 && tag.indexOf(">", lt) < 0 && tag.indexOf("http-equiv", lt) > lt) meta = true;
    }
  }
  if (script) out.push(detection("session-cookie-set-script", target.name));
  if (meta) out.push(detection("session-cookie-set-meta", target.name));
  if (header) out.push(detection("session-cookie-set-header", target.name));
  if (str) out.push(detection("session-cookie-string", target.name));
  return out;
}

// Session cookie names of servers and frameworks that also accept the id from a parameter,
// lowercased and without the `__Host-`/`__Secure-` prefixes.
// prettier-ignore
const SESSION_NAMES = words(
  "phpsessid phpsession jsessionid jservsession jwsession weblogicsession aspsessionid asp.net_sessionid " +
  "sessionid session_id session-id sessid sess_id _session_id cfid cftoken cfsid cfglobals " +
  "connect.sid sails.sid koa.sess koa:sess koa.sess.sig rack.session laravel_session ci_session " +
  "cakephp play_session _flask_session flask_session meteor_login_token shiny-token zend_session_id " +
  "next-auth.session-token authjs.session-token express.sid " +
  "_rails_session django_sessionid symfony frontend_session",
);
/** Ambiguous names: also site ids, course sessions… */
const WEAK_NAMES = words("sid session sess sessiontoken session_token session-token");

/** Whether a parameter name is a session id: a known name or a framework's `<app>_session` shape. */
export function sessionIdName(raw: string): "strong" | "weak" | null {
  let n = raw.toLowerCase();
  if (n.startsWith("__host-")) n = n.slice(7);
  else if (n.startsWith("__secure-")) n = n.slice(9);
  if (SESSION_NAMES.has(n)) return "strong";
  if (n.startsWith("aspsessionid")) return "strong"; // classic ASP appends random letters
  if (n.includes("sessionid") || n.includes("session_id") || n.includes("sessid")) return "strong";
  // Rails and others: `_<app>_session`, `<app>.sid`, `<app>_sess`.
  if (n.length > 8 && n.charCodeAt(0) === 95 && n.endsWith("_session")) return "strong";
  if (WEAK_NAMES.has(n)) return "weak";
  return null;
}

function header(req: InspectedRequest, name: string): string | undefined {
  for (const [k, v] of Object.entries(req.headers))
    if (k.length === name.length && k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  return undefined;
}

/** The host of a URL-ish header value (`https://a.b:8080/x`), lowercased, or "" when it has none. */
export function urlHost(url: string): string {
  const s = url.indexOf("//");
  if (s < 0) return "";
  let e = s + 2;
  while (e < url.length && !"/?#\\".includes(url[e]!)) e++;
  let host = url.slice(s + 2, e).toLowerCase();
  const at = host.lastIndexOf("@");
  if (at >= 0) host = host.slice(at + 1);
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.indexOf(":");
  return colon < 0 ? host : host.slice(0, colon);
}

const bareHost = (h: string): string => {
  const x = h.trim().toLowerCase();
  const colon = x.startsWith("[") ? x.indexOf(":", x.indexOf("]")) : x.indexOf(":");
  const noPort = colon < 0 ? x : x.slice(0, colon);
  return noPort.startsWith("www.") ? noPort.slice(4) : noPort;
};

/** Parameter names of a query string or urlencoded body. */
function formNames(query: string, out: string[]): void {
  let start = 0;
  while (start < query.length && out.length < 512) {
    let end = query.indexOf("&", start);
    if (end < 0) end = query.length;
    const eq = query.indexOf("=", start);
    const nameEnd = eq >= 0 && eq < end ? eq : end;
    if (nameEnd > start) out.push(urlDecode(query.slice(start, nameEnd), true));
    start = end + 1;
  }
}

/**
 * Parameter names as the engine's targets give them (query, form, JSON keys, multipart fields),
 * and `;jsessionid=…` path parameters (Java URL rewriting), which no target carries.
 */
function inspectRequest(
  req: InspectedRequest,
  targets: readonly Target[] = requestTargets(req),
): Detection[] {
  const names: string[] = [];
  for (const t of targets) {
    if (t.name.startsWith("ARGS_NAMES:") || t.name.startsWith("ARGS_JSON_NAMES:")) names.push(t.value);
    else if (t.name.startsWith("MULTIPART:") || t.name.startsWith("FILES_NAMES:"))
      names.push(t.name.slice(t.name.indexOf(":") + 1));
  }
  const q = req.path.indexOf("?");
  const path = q < 0 ? req.path : req.path.slice(0, q);
  const semi = path.indexOf(";");
  if (semi >= 0) formNames(path.slice(semi + 1).replaceAll(";", "&"), names);
  let strong = "";
  let weak = "";
  for (const n of names) {
    const kind = sessionIdName(n);
    if (kind === "strong") {
      strong = n;
      break;
    }
    if (kind === "weak" && !weak) weak = n;
  }
  if (!strong && !weak) return [];
  const referer = header(req, "referer");
  const host = bareHost(header(req, "host") ?? "");
  const refHost = referer === undefined ? "" : bareHost(urlHost(referer));
  const sameSite = refHost !== "" && host !== "" && refHost === host;
  const name = `ARGS_NAMES:${(strong || weak).slice(0, 200)}`;
  if (sameSite) return [detection("session-id-param-same-site", name)];
  return [detection(strong ? "session-fixation-param" : "session-id-param-weak", name)];
}

/** Session fixation, both per value (cookie-setting shapes) and per request (session-id parameters). */
export const sessionDetector: Detector & RequestDetector = {
  name: "session",
  inspect: inspectValue,
  inspectRequest,
};
