// Server-side includes and edge-side includes: markup that a web server (Apache mod_include, IIS,
// nginx's ssi module) or a caching proxy (Varnish, Akamai, Squid, Fastly) runs when it serves a page
// that echoes the value back. SSI directives live in an HTML comment, `<!--#name attr="value" -->`
// (IIS also accepts a space after `<!--`); ESI elements are namespaced tags, `<esi:include src=…>`.
// A directive counts by its grammar: the directive's name and one of its own attributes (`exec cmd=`,
// `include virtual=`, `echo var=`, `config timefmt=`), so that HTML comments such as `<!-- #header -->`
// (an id marker) do not. Plain char loops over the lowercased value. Rules are our own.
import { CHAR_DOLLAR, CHAR_LT } from "../chars.ts";
import {
  type Detection,
  type Detector,
  type ParanoiaLevel,
  type Severity,
  type Target,
  NO_DETECTIONS,
} from "../types.ts";
import { words } from "./lexicon.ts";

type RuleId = "ssi-exec" | "ssi-directive" | "ssi-esi-tag" | "ssi-directive-bare" | "ssi-esi-variable";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

/**
 * PL1: a command run (`#exec`), any other directive with one of its attributes (or `#printenv`,
 * which takes none), an ESI element. PL2: a directive name alone (`<!--#else-->`), and ESI's
 * request variables (`$(HTTP_COOKIE{…})`) outside a tag.
 */
export const SSI_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "ssi-exec": { paranoia: 1, severity: "critical", tags: ["attack-ssi", "attack-rce"] },
  "ssi-directive": { paranoia: 1, severity: "critical", tags: ["attack-ssi"] },
  "ssi-esi-tag": { paranoia: 1, severity: "critical", tags: ["attack-ssi", "esi"] },
  "ssi-directive-bare": { paranoia: 2, severity: "error", tags: ["attack-ssi"] },
  "ssi-esi-variable": { paranoia: 2, severity: "warning", tags: ["attack-ssi", "esi"] },
};

/** Each directive and the attributes it takes (Apache mod_include, IIS, nginx). */
const DIRECTIVES: Record<string, ReadonlySet<string>> = {
  exec: words("cmd cgi"),
  include: words("virtual file wait set stub"),
  echo: words("var encoding decoding"),
  config: words("timefmt sizefmt errmsg echomsg"),
  printenv: words(""),
  set: words("var value decoding encoding"),
  fsize: words("file virtual"),
  flastmod: words("file virtual"),
  if: words("expr"),
  elif: words("expr"),
  else: words(""),
  endif: words(""),
  block: words("name"),
};

// ESI 1.0 elements plus the Akamai extensions attackers probe with.
const ESI_ELEMENTS = words(
  "include inline eval vars debug assign choose when otherwise try attempt except remove comment function return text dispatch foreach break",
);

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
const isLetter = (c: number): boolean => c >= 97 && c <= 122;

/** The SSI directives in a lowercased value. */
function directives(lower: string, out: Set<RuleId>): void {
  for (let at = lower.indexOf("<!--"); at >= 0; at = lower.indexOf("<!--", at + 4)) {
    let i = at + 4;
    while (i < lower.length && i - at < 12 && isSpace(lower.charCodeAt(i))) i++;
    if (lower.charCodeAt(i) !== 35 /* # */) continue;
    i++;
    while (i < lower.length && i - at < 24 && isSpace(lower.charCodeAt(i))) i++;
    const nameStart = i;
    while (i < lower.length && i - nameStart <= 10 && isLetter(lower.charCodeAt(i))) i++;
    const name = lower.slice(nameStart, i);
    if (!Object.hasOwn(DIRECTIVES, name)) continue;
    const attrs = DIRECTIVES[name]!;
    const afterName = lower.charCodeAt(i);
    // The name ends at a space or at the comment's end (`<!--#printenv-->`).
    if (!(isSpace(afterName) || lower.startsWith("-->", i) || i >= lower.length)) continue;
    while (i < lower.length && isSpace(lower.charCodeAt(i))) i++;
    const attrStart = i;
    while (i < lower.length && i - attrStart <= 10 && isLetter(lower.charCodeAt(i))) i++;
    const attr = lower.slice(attrStart, i);
    while (i < lower.length && isSpace(lower.charCodeAt(i))) i++;
    const hasAttr = attr !== "" && attrs.has(attr) && lower.charCodeAt(i) === 61; /* = */
    if (name === "exec" && hasAttr) out.add("ssi-exec");
    else if (hasAttr || (name === "printenv" && (attr === "" || lower.startsWith("-->", attrStart))))
      out.add("ssi-directive");
    else out.add("ssi-directive-bare");
  }
}

/** ESI elements: `<esi:include`, `</esi:try>`, with any case. */
function esiTags(lower: string, out: Set<RuleId>): void {
  for (let at = lower.indexOf("esi:"); at >= 0; at = lower.indexOf("esi:", at + 4)) {
    const open =
      lower.charCodeAt(at - 1) === 60 || (lower.charCodeAt(at - 1) === 47 && lower.charCodeAt(at - 2) === 60);
    if (!open) continue;
    let i = at + 4;
    while (i < lower.length && i - at <= 14 && isLetter(lower.charCodeAt(i))) i++;
    const next = lower.charCodeAt(i);
    if (
      ESI_ELEMENTS.has(lower.slice(at + 4, i)) &&
      (isSpace(next) || next === 47 || next === 62 || i >= lower.length)
    )
      out.add("ssi-esi-tag");
  }
}

// ESI's request variables; `$(HTTP_COOKIE)` echoes the cookie into the page for a later read.
const ESI_VARIABLES = ["$(http_", "$(query_string", "$(remote_addr", "$(request_path"];

// Shared, frozen empty results (callers only read them): a value that matches nothing allocates nothing.
const NO_RULES: readonly RuleId[] = Object.freeze([]);

const NEEDED = /[<$]/;

/** Rules a value matches, at every paranoia level. */
export function classifySsi(value: string): readonly RuleId[] {
  const v = value.length > 65536 ? value.slice(0, 65536) : value;
  // Directives open with `<!--`, ESI tags with `<` and ESI variables with `$(`: without `<` or `$`
  // nothing can match (lowercasing creates neither).
  if (!NEEDED.test(v)) return NO_RULES;
  const out = new Set<RuleId>();
  const hasComment = v.includes("<!--");
  const hasEsi = v.includes("esi:") || v.includes("ESI:") || v.includes("Esi:");
  const hasVar = v.includes("$(");
  if (!hasComment && !hasEsi && !hasVar) return NO_RULES;
  const lower = v.toLowerCase();
  if (hasComment) directives(lower, out);
  if (hasEsi || lower.includes("esi:")) esiTags(lower, out);
  if (hasVar && ESI_VARIABLES.some((p) => lower.includes(p))) out.add("ssi-esi-variable");
  return [...out];
}

export const ssiDetector: Detector = {
  name: "ssi",
  // NEEDED.
  needs: { bits: CHAR_LT | CHAR_DOLLAR },
  inspect(target: Target): readonly Detection[] {
    const rules = classifySsi(target.value);
    if (rules.length === 0) return NO_DETECTIONS; // the usual case: nothing to map
    return rules.map((rule) => {
      const r = SSI_RULES[rule];
      return { rule, tags: r.tags, paranoia: r.paranoia, severity: r.severity, target: target.name };
    });
  },
};
