// XML external entities and their kin: markup that makes a server's XML parser fetch or expand
// something the document did not contain. External entities and DTDs (`<!ENTITY x SYSTEM
// "file:///etc/passwd">`, `<!DOCTYPE x SYSTEM "http://evil/x.dtd">`, `PUBLIC "id" "uri"`) read files
// or reach the network whatever the scheme (file, http, php, expect, jar, netdoc, a bare `//host`);
// parameter entities (`<!ENTITY % x …>`, `%x;`) are how blind XXE exfiltrates; entities whose value
// references other entities are the billion-laughs expansion; XInclude and XML Schema's include,
// import and redefine fetch documents outside any DTD; and an XML declaration in UTF-7 or EBCDIC is
// how a payload hides from byte matchers (UTF-7 text is decoded here and read again). It reads the
// targets.ts XML scanner's `XML:!DOCTYPE` (the raw declaration), element paths in target names
// (`XML:xs:schema/xs:include/@schemaLocation`), unparsed bodies and XML inside any parameter. The
// standard DTDs of the W3C and OASIS (XHTML, SVG, DocBook) are what benign documents declare and
// are not flagged. Plain char loops over the lowercased value. Rules are our own.
import { CHAR_LT, CHAR_PLUS } from "../chars.ts";
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
  | "xxe-external-entity"
  | "xxe-parameter-entity"
  | "xxe-entity-expansion"
  | "xxe-external-dtd"
  | "xxe-xinclude"
  | "xxe-schema-include"
  | "xxe-xml-encoding"
  | "xxe-schema-location"
  | "xxe-entity-declaration";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

const TAGS = ["attack-xxe"] as const;

/**
 * PL1: what makes a parser fetch (external entities and DTDs, XInclude, schema includes), expand
 * (parameter entities, entities built of entities) or misread (UTF-7, EBCDIC) a document. PL2: an
 * instance document's `schemaLocation` hint to a non-standard host (validating parsers fetch it,
 * but APIs also send it), and any internal entity declaration.
 */
export const XXE_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "xxe-external-entity": { paranoia: 1, severity: "critical", tags: TAGS },
  "xxe-parameter-entity": { paranoia: 1, severity: "critical", tags: TAGS },
  "xxe-entity-expansion": { paranoia: 1, severity: "critical", tags: [...TAGS, "xml-dos"] },
  "xxe-external-dtd": { paranoia: 1, severity: "critical", tags: TAGS },
  "xxe-xinclude": { paranoia: 1, severity: "critical", tags: TAGS },
  "xxe-schema-include": { paranoia: 1, severity: "critical", tags: TAGS },
  "xxe-xml-encoding": { paranoia: 1, severity: "critical", tags: [...TAGS, "evasion"] },
  "xxe-schema-location": { paranoia: 2, severity: "error", tags: TAGS },
  "xxe-entity-declaration": { paranoia: 2, severity: "warning", tags: TAGS },
};

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;
const isNameChar = (c: number): boolean => c > 32 && c !== 34 && c !== 39 && c !== 62 && c !== 60 && c !== 91;

/** Hosts of the standard DTDs and schemas (XHTML, SVG, MathML, DocBook, OASIS catalogs). */
const STANDARD_HOSTS = words(
  "www.w3.org w3.org www.oasis-open.org docs.oasis-open.org www.docbook.org docbook.org",
);
const PREDEFINED = words("amp lt gt quot apos");

/** Whether a system identifier is a standard DTD or the HTML5 legacy doctype, which parsers do not need to fetch. */
function standardSystemId(uri: string): boolean {
  const u = uri.trim();
  if (u === "about:legacy-compat") return true;
  const m = /^https?:\/\/([a-z0-9.-]{1,64})(?:[/:]|$)/.exec(u);
  return m !== null && STANDARD_HOSTS.has(m[1]!);
}

class Reader {
  i: number;
  readonly s: string;
  constructor(s: string, i: number) {
    this.s = s;
    this.i = i;
  }
  spaces(): number {
    const from = this.i;
    while (this.i < this.s.length && isSpace(this.s.charCodeAt(this.i))) this.i++;
    return this.i - from;
  }
  name(): string {
    const from = this.i;
    while (this.i < this.s.length && this.i - from < 128 && isNameChar(this.s.charCodeAt(this.i))) this.i++;
    return this.s.slice(from, this.i);
  }
  word(w: string): boolean {
    if (!this.s.startsWith(w, this.i)) return false;
    this.i += w.length;
    return true;
  }
  /** A quoted literal, or null when none starts here. Unterminated literals run to the end. */
  literal(): string | null {
    const q = this.s[this.i];
    if (q !== '"' && q !== "'") return null;
    const end = this.s.indexOf(q, this.i + 1);
    const stop = end < 0 ? this.s.length : end;
    const text = this.s.slice(this.i + 1, stop);
    this.i = end < 0 ? stop : stop + 1;
    return text;
  }
  /** `SYSTEM "uri"` or `PUBLIC "id" "uri"`: the system id ("" when PUBLIC has none), or null. */
  externalId(): string | null {
    if (this.word("system")) {
      this.spaces();
      return this.literal() ?? this.name();
    }
    if (this.word("public")) {
      this.spaces();
      if (this.literal() === null) this.name();
      this.spaces();
      return this.literal() ?? "";
    }
    return null;
  }
}

/** Custom entity references in an entity's value: `&lol;` counts, `&amp;` and `&#60;` do not. */
function entityRefs(text: string): number {
  let n = 0;
  for (let at = text.indexOf("&"); at >= 0 && n < 16; at = text.indexOf("&", at + 1)) {
    const semi = text.slice(at, at + 66).indexOf(";");
    if (semi < 0) continue;
    const name = text.slice(at + 1, at + semi);
    if (name !== "" && name[0] !== "#" && !PREDEFINED.has(name) && !/[\s&<>"']/.test(name)) n++;
  }
  return n;
}

/** `<!ENTITY` declarations, `<!DOCTYPE` external ids and `%name;` in an internal subset. */
function declarations(lower: string, out: Set<RuleId>): void {
  for (let at = lower.indexOf("<!entity"); at >= 0; at = lower.indexOf("<!entity", at + 8)) {
    const r = new Reader(lower, at + 8);
    if (r.spaces() === 0 && lower[r.i] !== "%") continue;
    const parameter = r.word("%");
    r.spaces();
    if (r.name() === "") continue;
    r.spaces();
    const external = r.externalId();
    if (parameter) out.add("xxe-parameter-entity");
    if (external !== null) {
      out.add("xxe-external-entity");
      continue;
    }
    const value = r.literal();
    if (value === null) continue;
    out.add("xxe-entity-declaration");
    if (entityRefs(value) >= 2 || value.includes("<!entity")) out.add("xxe-entity-expansion");
  }
  // A document has one DOCTYPE; a few suffice for values that quote several, and bound the subset scans.
  let doctypes = 0;
  for (
    let at = lower.indexOf("<!doctype");
    at >= 0 && doctypes++ < 8;
    at = lower.indexOf("<!doctype", at + 9)
  ) {
    const r = new Reader(lower, at + 9);
    if (r.spaces() === 0) continue;
    r.name();
    r.spaces();
    const system = r.externalId();
    if (system !== null && system !== "" && !standardSystemId(system)) out.add("xxe-external-dtd");
    r.spaces();
    if (lower[r.i] === "[" && parameterReference(lower, r.i + 1)) out.add("xxe-parameter-entity");
  }
}

/** A `%name;` reference in an internal subset (from `from` to its `]`), outside quoted literals. */
function parameterReference(s: string, from: number): boolean {
  let quote = 0;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === 34 || c === 39) quote = c;
    else if (c === 93 /* ] */) return false;
    else if (c === 37 /* % */) {
      let j = i + 1;
      while (j < s.length && j - i <= 64 && isNameChar(s.charCodeAt(j)) && s.charCodeAt(j) !== 59) j++;
      if (j > i + 1 && s.charCodeAt(j) === 59 /* ; */) return true;
    }
  }
  return false;
}

/** `<?xml … encoding="utf-7"?>` and the EBCDIC code pages. */
function exoticEncoding(lower: string): boolean {
  for (let at = lower.indexOf("<?xml"); at >= 0; at = lower.indexOf("<?xml", at + 5)) {
    const head = lower.slice(at, at + 256); // a declaration is short: never search past it
    const end = head.indexOf("?>");
    const decl = end < 0 ? head : head.slice(0, end);
    const m = /encoding\s*=\s*["']?([a-z0-9_.:-]{1,40})/.exec(decl);
    if (
      m !== null &&
      /^(?:x-)?(?:utf-?7|ibm-?0?(?:37|273|277|278|280|284|285|297|500|870|871|875|1026|1047)|cp-?0?(?:37|500|875|1026|1047)|ebcdic)/.test(
        m[1]!,
      )
    )
      return true;
  }
  return false;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Decodes UTF-7's `+…-` runs (modified base64 of UTF-16); other text stays. */
export function utf7Decode(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "+") {
      out += s[i];
      continue;
    }
    let j = i + 1;
    let bits = 0;
    let acc = 0;
    let text = "";
    for (; j < s.length; j++) {
      const d = B64.indexOf(s[j]!);
      if (d < 0) break;
      acc = ((acc << 6) | d) & 0xffffff;
      bits += 6;
      if (bits >= 16) {
        bits -= 16;
        text += String.fromCharCode((acc >> bits) & 0xffff);
      }
    }
    if (text === "") {
      out += "+"; // `+-` is a plus; a `+` that encodes nothing stays as it is
      if (j === i + 1 && s[j] === "-") i = j;
      continue;
    }
    out += text;
    i = s[j] === "-" ? j : j - 1;
  }
  return out;
}

/** Element paths in an XML target's name, lowercased: `xml:a/xs:include/@schemalocation`. */
function schemaTarget(lowerName: string, lowerValue: string, out: Set<RuleId>): void {
  const at = lowerName.lastIndexOf("/@");
  if (at < 0) return;
  const attr = lowerName.slice(at + 2);
  const path = lowerName.slice(4, at).split("/");
  const element = path[path.length - 1]!;
  const local = element.slice(element.indexOf(":") + 1);
  const url = /^\s*(?:[a-z][a-z0-9+.-]{1,15}:|\/\/|\\\\)/.test(lowerValue);
  // `<xi:include href=…>`, or a namespace declaration binding a prefix to XInclude.
  if (element === "xi:include" || (attr.startsWith("xmlns") && lowerValue.includes("w3.org/2001/xinclude")))
    out.add("xxe-xinclude");
  const schemaRoot = path.some(
    (p) => p === "schema" || p.endsWith(":schema") || p.endsWith(":definitions") || p.endsWith(":types"),
  );
  if (
    schemaRoot &&
    (local === "include" || local === "redefine" || local === "override" || local === "import")
  ) {
    const fetches = attr === "schemalocation" || (local !== "import" && url);
    if (fetches && url && !standardSystemId(lowerValue)) out.add("xxe-schema-include");
  }
  if ((attr.endsWith("schemalocation") || attr.endsWith("nonamespaceschemalocation")) && url) {
    // `schemaLocation` holds namespace/location pairs: any location off the standard hosts.
    const parts = lowerValue.trim().split(/\s+/);
    const locations = attr.endsWith("nonamespaceschemalocation")
      ? parts
      : parts.filter((_, k) => k % 2 === 1 || parts.length === 1);
    if (locations.some((p) => !standardSystemId(p))) out.add("xxe-schema-location");
  }
}

// Shared, frozen empty results (callers only read them): a value that matches nothing allocates nothing.
const NO_RULES: readonly RuleId[] = Object.freeze([]);

const NEEDED = /<|\+ADw/;

/** Rules a value matches, at every paranoia level. */
export function classifyXxe(value: string, targetName = ""): readonly RuleId[] {
  const v = value.length > 65536 ? value.slice(0, 65536) : value;
  const schema = targetName.startsWith("XML:") && targetName.includes("/@");
  // Besides the schema rules on an XML target's name, every rule needs markup's `<` or UTF-7's `+ADw`.
  if (!schema && !NEEDED.test(v)) return NO_RULES;
  const out = new Set<RuleId>();
  if (schema) schemaTarget(targetName.toLowerCase(), v.toLowerCase(), out);
  const markup = v.includes("<");
  const utf7 = v.includes("+ADw"); // UTF-7's `<`: nothing to decode without one
  if (!markup && !utf7) return [...out];
  const lower = v.toLowerCase();
  if (markup) scanMarkup(lower, out);
  if (utf7) {
    const decoded = utf7Decode(v).toLowerCase();
    if (decoded !== lower && decoded.includes("<")) scanMarkup(decoded, out);
  }
  return [...out];
}

function scanMarkup(lower: string, out: Set<RuleId>): void {
  if (lower.includes("<!")) declarations(lower, out);
  if (lower.includes("<?xml") && lower.includes("encoding") && exoticEncoding(lower))
    out.add("xxe-xml-encoding");
  if (lower.includes("include")) {
    // `<xi:include href=…>`, or any prefix bound to the XInclude namespace.
    if (
      /<xi:include[\s/>]/.test(lower) ||
      (lower.includes("w3.org/2001/xinclude") && /<[a-z0-9_.-]{1,32}:include[\s/>]/.test(lower))
    )
      out.add("xxe-xinclude");
  }
}

export const xxeDetector: Detector = {
  name: "xxe",
  // NEEDED: `<` or `+ADw`, except for the schema rules on an XML attribute target.
  needs: {
    bits: CHAR_LT | CHAR_PLUS,
    anyway: (_value, name) => name.startsWith("XML:") && name.includes("/@"),
  },
  inspect(target: Target): readonly Detection[] {
    const rules = classifyXxe(target.value, target.name);
    if (rules.length === 0) return NO_DETECTIONS; // the usual case: nothing to map
    return rules.map((rule) => {
      const r = XXE_RULES[rule];
      return { rule, tags: r.tags, paranoia: r.paranoia, severity: r.severity, target: target.name };
    });
  },
};
