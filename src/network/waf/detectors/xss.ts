// Cross-site scripting by structure: a small HTML tokeniser (plain char loops, no regular expressions)
// reads the value the way a browser's would, in the three places an application usually puts it:
// in the page's text (tags and their attributes), inside a tag's attribute (where a quote or a space
// ends the value and new attributes follow), and inside a JavaScript string (where a quote ends the
// literal and code follows). Rules fire on what each reading yields. Rules and lists are our own.
import type { Detection, Detector, ParanoiaLevel, Severity, Target } from "../types.ts";
import { words } from "./lexicon.ts";

type RuleId =
  | "xss-script-tag"
  | "xss-event-handler"
  | "xss-js-url"
  | "xss-style-injection"
  | "xss-dangerous-tag"
  | "xss-dangerous-attribute"
  | "xss-js-breakout"
  | "xss-js-obfuscation"
  | "xss-html-injection"
  | "xss-attribute-injection"
  | "xss-js-expression"
  | "xss-script-scheme"
  | "xss-dom-access"
  | "xss-sink-call"
  | "xss-html-markup";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tag: string;
}

/** Every rule this detector reports: PL1 for structures benign text does not produce, higher for weaker signals. */
export const XSS_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "xss-script-tag": { paranoia: 1, severity: "critical", tag: "xss-tag" },
  "xss-event-handler": { paranoia: 1, severity: "critical", tag: "xss-attribute" },
  "xss-js-url": { paranoia: 1, severity: "critical", tag: "xss-url" },
  "xss-style-injection": { paranoia: 1, severity: "critical", tag: "xss-css" },
  "xss-dangerous-tag": { paranoia: 1, severity: "critical", tag: "xss-tag" },
  "xss-dangerous-attribute": { paranoia: 1, severity: "critical", tag: "xss-attribute" },
  "xss-js-breakout": { paranoia: 1, severity: "critical", tag: "xss-js-context" },
  "xss-js-obfuscation": { paranoia: 1, severity: "critical", tag: "xss-js-context" },
  "xss-html-injection": { paranoia: 2, severity: "error", tag: "xss-tag" },
  "xss-attribute-injection": { paranoia: 2, severity: "error", tag: "xss-attribute" },
  "xss-js-expression": { paranoia: 2, severity: "error", tag: "xss-js-context" },
  "xss-script-scheme": { paranoia: 2, severity: "error", tag: "xss-url" },
  "xss-dom-access": { paranoia: 2, severity: "warning", tag: "xss-sink" },
  "xss-sink-call": { paranoia: 2, severity: "warning", tag: "xss-sink" },
  "xss-html-markup": { paranoia: 3, severity: "notice", tag: "xss-tag" },
};

type Report = (rule: RuleId) => void;

// Tags that load or run content on their own, or change where the page's URLs and forms go.
const DANGEROUS_TAGS = words(
  "iframe frame frameset object embed applet base isindex bgsound layer ilayer import vmlframe xss",
);
// Tags that matter in an injection (forms, styles, foreign content, raw-text breakers) but also
// appear in pasted HTML; a handler or a script URL on them is caught by the attribute rules anyway.
const ACTIVE_TAGS = words(
  "form link style svg math xml meta body html head template textarea xmp plaintext noscript noembed " +
    "title marquee video audio source img image input button select keygen details animate set " +
    "handler listener foreignobject use",
);
// Functions an XSS proof or payload calls; the names are the payload's intent, not its structure.
const SINKS = words(
  "alert prompt confirm eval settimeout setinterval function execscript fromcharcode atob " +
    "write writeln import fetch constructor globaleval",
);

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
// Inside a tag, `+` separates too: it is a space once the application decodes the form again.
const isTagSpace = (c: number): boolean => isSpace(c) || c === 43;
const isLetter = (c: number): boolean => c >= 97 && c <= 122; // the value is lowercased first
const isIdent = (c: number): boolean =>
  isLetter(c) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c >= 0x80;

/**
 * Whether `s` at `i` holds a script-running URL scheme (browsers drop controls and spaces inside
 * it): 0 no, 1 yes, 2 yes and split by such chars (`java\tscript:`), which no benign text does.
 */
function dangerousScheme(s: string, i: number, end = s.length): number {
  let scheme = "";
  let split = false;
  let j = i;
  for (; j < end && j < i + 64 && scheme.length < 12; j++) {
    const c = s.charCodeAt(j);
    if (c <= 32) {
      split ||= scheme.length > 0;
      continue;
    }
    if (c === 58 /* : */) break;
    if (!isLetter(c)) return 0;
    scheme += s[j];
  }
  if (s.charCodeAt(j) !== 58) return 0;
  if (scheme === "javascript" || scheme === "vbscript" || scheme === "livescript" || scheme === "mocha")
    return split ? 2 : 1;
  if (scheme !== "data") return 0;
  // data: only runs script as a document (HTML, SVG, XML); an image or plain text does not.
  let rest = "";
  for (j++; j < end && j < i + 128 && rest.length < 16; j++) if (s.charCodeAt(j) > 32) rest += s[j];
  const runs =
    rest.startsWith("text/html") ||
    rest.startsWith("image/svg") ||
    rest.startsWith("text/xml") ||
    rest.startsWith("application/") ||
    rest.startsWith(","); // a script src may take a bare `data:,code`
  return runs ? (split ? 2 : 1) : 0;
}

/** CSS that runs code: `expression(`, `url(javascript:`, behaviours and bindings, spaces and comments dropped. */
function styleRuns(s: string, from: number, to: number): boolean {
  let css = "";
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 47 && s.charCodeAt(i + 1) === 42 /* comment */) {
      const close = s.indexOf("*/", i + 2);
      i = close < 0 || close >= to ? to : close + 1;
    } else if (!isSpace(c) && c !== 34 && c !== 39 /* " ' */) css += s[i];
  }
  let k = css.indexOf("url(");
  for (; k >= 0; k = css.indexOf("url(", k + 4)) if (dangerousScheme(css, k + 4) > 0) return true;
  return (
    css.includes(":expression(") ||
    css.includes("-moz-binding:") ||
    css.includes("behavior:url(") ||
    css.includes("behaviour:url(")
  );
}

const EVENT_PREFIXES = [
  "click dblclick mouse pointer key focus blur load error unload beforeunload change input submit reset",
  "select scroll wheel drag drop touch animation transition play pause ended toggle resize hashchange",
  "message popstate pageshow pagehide copy cut paste contextmenu auxclick begin end repeat show search",
  "invalid readystatechange start finish bounce cancel close afterprint beforeprint beforescriptexecute",
  "canplay durationchange emptied loadeddata loadedmetadata progress ratechange seek stalled suspend",
  "timeupdate volumechange waiting filterchange online offline storage transitionend webkit",
].flatMap((l) => l.split(" "));

/** `on` + a DOM event's name (a handler attribute) rather than a word such as `onwards`. */
function isEventName(name: string): boolean {
  if (!name.startsWith("on") || name.length < 5) return false;
  return EVENT_PREFIXES.some((p) => name.startsWith(p, 2));
}

const isHandlerLike = (name: string): boolean => {
  if (name.length < 4 || !name.startsWith("on")) return false;
  for (let i = 2; i < name.length; i++) if (!isLetter(name.charCodeAt(i))) return false;
  return true;
};

/** A handler's value that reads as code: a call, an assignment, an index or a tagged template. */
function codeLike(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 40 || c === 96 || c === 61 || c === 91) return true; // ( ` = [
  }
  return SINKS.has(v.trim());
}

interface Attribute {
  name: string;
  /** Null when the attribute has no `=`. */
  value: string | null;
  /** Where the value starts and ends in the scanned string. */
  from: number;
  to: number;
}

/**
 * Reads attributes from `j` the way a browser does after a tag name: names end at space, `/`, `>`
 * or `=`; values are quoted or run to space or `>`. Stops at `>` or at a `<` that starts another tag.
 * Returns where it stopped and the first `<` inside a quoted value, if any, for a rescan.
 */
function readAttributes(s: string, j: number, seen: (a: Attribute) => void): { end: number; inner: number } {
  let inner = -1;
  const n = s.length;
  for (;;) {
    while (j < n && (isTagSpace(s.charCodeAt(j)) || s.charCodeAt(j) === 47)) j++;
    if (j >= n || s[j] === ">" || s[j] === "<") return { end: j, inner };
    const nameStart = j;
    j++; // a first `=` or quote belongs to the name
    while (j < n) {
      const c = s.charCodeAt(j);
      if (isTagSpace(c) || c === 47 || c === 62 || c === 61 || c === 60) break;
      j++;
    }
    const name = s.slice(nameStart, j);
    let k = j;
    while (k < n && isSpace(s.charCodeAt(k))) k++;
    if (s[k] !== "=") {
      seen({ name, value: null, from: j, to: j });
      continue;
    }
    k++;
    while (k < n && isSpace(s.charCodeAt(k))) k++;
    const q = s.charCodeAt(k);
    let from = k;
    let to: number;
    if (q === 34 || q === 39 || q === 96) {
      from = k + 1;
      to = s.indexOf(s[k]!, from);
      if (to < 0) to = n;
      for (let m = from; m < to && inner < 0; m++) if (s.charCodeAt(m) === 60) inner = m;
      j = Math.min(n, to + 1);
    } else {
      to = k;
      while (to < n && !isTagSpace(s.charCodeAt(to)) && s.charCodeAt(to) !== 62) to++;
      j = to;
    }
    seen({ name, value: s.slice(from, to), from, to });
  }
}

/** Rules for one attribute; `inTag` is false when it was found by breaking out of an attribute value. */
function checkAttribute(s: string, a: Attribute, tag: string, inTag: boolean, report: Report): void {
  // Browsers read `/onload`, `"onload` or `\onload` as an attribute; the handler name is what counts.
  let first = 0;
  while (first < a.name.length && !isLetter(a.name.charCodeAt(first))) first++;
  const name = a.name.slice(first);
  // Old engines end a handler's name at the first non-letter: `<body onload!#$=…>`.
  let letters = 0;
  while (letters < name.length && isLetter(name.charCodeAt(letters))) letters++;
  const handler = inTag ? isHandlerLike(name.slice(0, letters)) : isHandlerLike(name);
  if (handler && a.value !== null) {
    if (inTag || isEventName(name) || codeLike(a.value)) report("xss-event-handler");
    else report("xss-attribute-injection");
  } else if (handler && inTag && letters < name.length && isEventName(name.slice(0, letters))) {
    report("xss-event-handler"); // `<body onload!#$%…` with the value further on
  }
  if (a.value === null) {
    if (!inTag && name === "autofocus") report("xss-attribute-injection");
    return;
  }
  // srcdoc is a document; formaction re-targets a form; datasrc/dataformatas bind HTML (old IE).
  if (name === "srcdoc" || (inTag && (name === "formaction" || name === "dataformatas")))
    report("xss-dangerous-attribute");
  // Any attribute counts, not only href/src/action: browsers keep adding URL-valued ones.
  if (dangerousScheme(s, a.from, a.to) > 0) report("xss-js-url");
  if (name === "style" && styleRuns(s, a.from, a.to)) report("xss-style-injection");
  if (tag === "style" && name === "type" && a.value.includes("javascript")) report("xss-style-injection");
  // Netscape's JavaScript entities: `<img src=&{alert(1)};>` runs the braces.
  if (inTag && a.value.startsWith("&{")) report("xss-dangerous-attribute");
  if (tag === "meta" && name === "http-equiv") {
    const v = a.value.trim();
    if (v === "refresh" || v === "set-cookie" || v === "content-type" || v === "link")
      report("xss-dangerous-tag");
  }
  // A style sheet or an XML data island from elsewhere: script by the back door.
  if ((tag === "link" && name === "href") || (tag === "xml" && name === "src")) report("xss-dangerous-tag");
  if (tag === "meta" && name === "content" && a.value.includes("url=")) {
    const at = s.indexOf("url=", a.from);
    if (at >= 0 && at < a.to && dangerousScheme(s, at + 4, a.to) > 0) report("xss-js-url");
  }
}

/** The local name of a tag (`x:script` is `script` to an XHTML parser). */
const localName = (name: string): string => name.slice(name.lastIndexOf(":") + 1);

/** `@import` in a style element pulls in a foreign style sheet (behaviours, bindings, exfiltration). */
function hasImport(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) === 64 && s.startsWith("@im", i)) return true;
  return false;
}

/** Page-text reading: every `<tag …>` and its attributes, rescanning `<` inside quoted values within a work budget. */
function scanTags(s: string, report: Report): void {
  const n = s.length;
  let budget = 4 * n + 1024; // chars tag parsing may revisit; past it, parsing goes strictly forward
  let i = s.indexOf("<");
  while (i >= 0 && i < n - 1) {
    const c = s.charCodeAt(i + 1);
    if (c === 47 /* </ */) {
      if (s.startsWith("script", i + 2)) {
        // Code right before it (`…;</script>`) or a tag after it (`</script><svg …`) ends a script
        // block on purpose; `</script>` after a space is more likely prose about HTML.
        const before = i > 0 ? s.charCodeAt(i - 1) : 32;
        const close = s.indexOf(">", i + 8);
        const tagAfter = close >= 0 && close < i + 16 && s[close + 1] === "<";
        report(!isSpace(before) || tagAfter ? "xss-js-breakout" : "xss-js-expression");
      }
      i = s.indexOf("<", i + 2);
      continue;
    }
    if (c === 63 /* <? */ && (s.startsWith("import", i + 2) || s.startsWith("xml:namespace", i + 2)))
      report("xss-dangerous-tag"); // old IE's behaviours and namespaces run script
    if (!isLetter(c)) {
      i = s.indexOf("<", i + 1);
      continue;
    }
    let j = i + 1;
    while (j < n) {
      const d = s.charCodeAt(j);
      if (isTagSpace(d) || d === 47 || d === 62 || d === 60) break;
      j++;
    }
    const name = s.slice(i + 1, j);
    const tag = localName(name);
    const next = s.charCodeAt(j);
    const real = j >= n || isTagSpace(next) || next === 47 || next === 62;
    // `<script<b>`: filters that strip `<b>` leave a script tag behind.
    if ((real || next === 60) && tag === "script") report("xss-script-tag");
    else if (real && DANGEROUS_TAGS.has(tag)) report("xss-dangerous-tag");
    else if (real && ACTIVE_TAGS.has(tag)) report("xss-html-injection");
    let attributes = 0;
    const { end, inner } = readAttributes(s, j, (a) => {
      if (isLetter(a.name.charCodeAt(0)) && a.value !== null) attributes++; // `<b && c>d` is a comparison
      checkAttribute(s, a, tag, true, report);
    });
    if (attributes > 0) report("xss-html-markup");
    if (tag === "style") {
      // Up to the next tag (`</style>` or anything else), which the loop looks for next anyway.
      const lt = s.indexOf("<", end);
      const to = lt < 0 ? n : lt;
      if (styleRuns(s, end, to) || hasImport(s, end, to)) report("xss-style-injection");
    }
    const resume = inner > i && budget > end - inner ? inner : end;
    budget -= end - resume;
    i = s.indexOf("<", Math.max(resume, i + 1));
  }
}

/**
 * Attribute-value reading: from the start (an unquoted value, or a tag's attribute list), and after
 * the first `"` and the first `'` (a quoted value the input closes).
 */
function scanAttributeBreakouts(s: string, report: Report): void {
  if (!s.includes("=")) return;
  const dq = s.indexOf('"');
  const sq = s.indexOf("'");
  for (const from of [0, dq < 0 ? -1 : dq + 1, sq < 0 ? -1 : sq + 1]) {
    if (from >= 0) readAttributes(s, from, (a) => checkAttribute(s, a, "", false, report));
  }
}

interface Callee {
  /** Where the chain ends: a `(` or a backquote there makes it a call. */
  end: number;
  names: string[];
  /** Reached through `x['name']` or `x?.name`, ways to hide a name from a pattern. */
  hidden: boolean;
}

/** The identifier chain at `i`: `top.alert`, `window['eval']`, `.call`, at most 8 parts. */
function readCallee(s: string, i: number): Callee {
  const names: string[] = [];
  let hidden = false;
  let j = i;
  for (let parts = 0; parts < 8; parts++) {
    const start = j;
    while (j < s.length && isIdent(s.charCodeAt(j))) j++;
    if (j > start) names.push(s.slice(start, j));
    else if (s[j] === "[" && (s[j + 1] === '"' || s[j + 1] === "'")) {
      let close = j + 2;
      while (close < s.length && close < j + 40 && s[close] !== s[j + 1]) close++;
      if (s[close] !== s[j + 1] || s[close + 1] !== "]") break;
      names.push(s.slice(j + 2, close));
      hidden = true;
      j = close + 2;
    } else break;
    if (s[j] === "?" && s[j + 1] === ".") {
      hidden = true;
      j += 2;
    } else if (s[j] === ".") j++;
    else if (s[j] !== "[") break;
  }
  // `alert?.(`: the call follows the dot; otherwise a trailing dot is not part of the chain.
  if (s[j - 1] === "." && s[j] !== "(" && s[j] !== "`") j -= s[j - 2] === "?" ? 2 : 1;
  return { end: j, names, hidden };
}

const isCall = (s: string, at: number): boolean => s[at] === "(" || s[at] === "`";

/** Starts and ends of the words in `s` that name a sink; found once, used by every JS reading. */
function sinkWords(s: string): { starts: number[]; ends: number[] } {
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (!isIdent(s.charCodeAt(i))) continue;
    let j = i + 1;
    while (j < s.length && isIdent(s.charCodeAt(j))) j++;
    if (j - i >= 4 && j - i <= 12 && SINKS.has(s.slice(i, j))) {
      starts.push(i);
      ends.push(j);
    }
    i = j;
  }
  return { starts, ends };
}

interface SinkCall {
  /** Where the `(` or backquote is. */
  at: number;
  /** Called in a way that hides the call from filters: `['alert']`, `?.`, `.call`, tagged template. */
  hidden: boolean;
}

/** Whether the sink word `s[i, end)` is called, through whatever chain follows it. */
function sinkCall(s: string, i: number, end: number): SinkCall | null {
  let j = end;
  let hidden = false;
  const q = s[i - 1];
  if ((q === "'" || q === '"') && s[i - 2] === "[" && s[j] === q && s[j + 1] === "]") {
    j += 2; // top['alert']
    hidden = true;
  }
  if (s[j] === ")" && s[i - 1] === "(" && s[j + 1] === "(") return { at: j + 1, hidden: true }; // (alert)(1)
  let rest: Callee | null = null;
  if (s[j] === "?" && s[j + 1] === ".") {
    hidden = true;
    j += 2;
    if (!isCall(s, j)) rest = readCallee(s, j);
  } else if (s[j] === ".") rest = readCallee(s, j + 1);
  else if (s[j] === "[") rest = readCallee(s, j);
  if (rest !== null) {
    j = rest.end;
    hidden ||= rest.hidden || rest.names.some((x) => CALL_HELPERS.has(x));
  }
  if (!isCall(s, j)) return null;
  return { at: j, hidden: hidden || s[j] === "`" };
}

/** Positions of the `(` of every sink call in `s`, ascending. */
function sinkCalls(s: string): { calls: SinkCall[]; starts: number[] } {
  const words = sinkWords(s);
  const calls: SinkCall[] = [];
  const starts: number[] = [];
  for (let k = 0; k < words.starts.length; k++) {
    const call = sinkCall(s, words.starts[k]!, words.ends[k]!);
    if (call !== null) {
      calls.push(call);
      starts.push(words.starts[k]!);
    }
  }
  return { calls, starts };
}

/** Whether any of the ascending `starts` lies in [from, to). */
function anyIn(starts: readonly number[], from: number, to: number): boolean {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]! < from) lo = mid + 1;
    else hi = mid;
  }
  return lo < starts.length && starts[lo]! < to;
}

/** After a call's `(` at `open`: whether `)`, then at most `;`, quotes, slashes and spaces, then `>` follow (a handler's tail). */
function endsTag(s: string, open: number): boolean {
  let close = open;
  while (close < s.length && close < open + 64 && s[close] !== ")") close++;
  if (s[close] !== ")") return false;
  let j = close + 1;
  while (j < s.length && j < close + 8 && ";'\"/ ".includes(s[j]!)) j++;
  return s[j] === ">";
}

/** Drops JS comments and whitespace, so that `document /*x*\/ . cookie` reads `document.cookie`. */
function jsCompact(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 47 && s.charCodeAt(i + 1) === 42) {
      const close = s.indexOf("*/", i + 2);
      i = close < 0 ? s.length : close + 1;
    } else if (!isSpace(c)) out += s[i];
  }
  return out;
}

const DOM_PROPERTIES = words("cookie domain write writeln location createelement body queryselector");
const CALL_HELPERS = words("call apply bind");

/**
 * Sinks: a plain call (`alert(1)`) is a weak signal; a call in a handler's tail (`alert(1)>`) or in
 * a form that only hides a call from filters (`alert.call(`, `top['alert'](`, `(alert)(1)`,
 * `eval(atob(`, `x.constructor('…')()`, JSFuck) is not.
 */
function scanSinks(s: string, raw: { calls: SinkCall[]; starts: number[] }, report: Report): void {
  if (raw.calls.length > 0) report("xss-sink-call");
  for (const call of raw.calls) if (endsTag(s, call.at)) report("xss-event-handler");
  const c = jsCompact(s);
  const { calls, starts } = c === s ? raw : sinkCalls(c);
  for (let k = 0; k < calls.length; k++) {
    const call = calls[k]!;
    // Hidden calls, the Function constructor, and a sink fed by another (`eval(atob(`).
    if (call.hidden || c.startsWith("constructor", starts[k]) || anyIn(starts, call.at + 1, call.at + 2))
      report("xss-js-obfuscation");
  }
  // [].sort.call`${alert}1`: a tagged template runs a function without a `(`.
  if (c.includes(".call`") || c.includes(".apply`") || c.includes(".bind`")) report("xss-js-obfuscation");
  if (isJsFuck(c)) report("xss-js-obfuscation");
  if (domAccess(c)) report("xss-dom-access");
}

/** `document.cookie`, `(document)['cookie']`, `window.location`, `.innerHTML` and the like, in compacted JS. */
function domAccess(c: string): boolean {
  if (c.includes("innerhtml") || c.includes("outerhtml")) return true;
  for (let i = c.indexOf("document"); i >= 0; i = c.indexOf("document", i + 8)) {
    let j = i + 8;
    if (c[j] === ")") j++;
    if (c[j] !== "." && c[j] !== "[") continue;
    const { names } = readCallee(c, c[j] === "." ? j + 1 : j);
    if (DOM_PROPERTIES.has(names[0] ?? "")) return true;
  }
  for (const w of ["window.location", "self.location", "top.location", "parent.location"])
    if (c.includes(w)) return true;
  return false;
}

/** JSFuck-style code: nearly all `[]()!+`, with `![]` in it. */
function isJsFuck(c: string): boolean {
  if (c.length < 12 || !c.includes("![]")) return false;
  let k = 0;
  for (let i = 0; i < c.length; i++) if ("[]()!+".includes(c[i]!)) k++;
  return k >= c.length * 0.8;
}

const OPERATORS = "+-*/%|&^<>?:;,=";

/**
 * JavaScript-string reading: after each quote (the literal's end), optional closing brackets, an
 * operator or `;`, then code. A sink called within a short window makes it a breakout.
 */
function scanJsBreakouts(s: string, sinkStarts: readonly number[], report: Report): void {
  for (let q = 0; q < s.length; q++) {
    const c = s.charCodeAt(q);
    if (c !== 34 && c !== 39 && c !== 96) continue;
    let j = q + 1;
    while (j < s.length && j < q + 8 && (isSpace(s.charCodeAt(j)) || ")]}".includes(s[j]!))) j++;
    const opStart = j;
    while (j < s.length && j < opStart + 3 && OPERATORS.includes(s[j]!)) j++;
    if (j === opStart) continue;
    // Prefix operators and keywords that may precede the code.
    while (j < s.length && j < opStart + 16 && (isSpace(s.charCodeAt(j)) || "(!~+-[".includes(s[j]!))) j++;
    for (const kw of ["void", "new", "typeof", "await", "throw", "if(", "return"])
      if (s.startsWith(kw, j)) j += kw.length;
    if (anyIn(sinkStarts, j, j + 64)) {
      report("xss-js-breakout");
      return;
    }
    if (isIdent(s.charCodeAt(j)) && isCall(s, readCallee(s, j).end)) report("xss-js-expression");
  }
}

/** Template literal substitutions: one holding a call (`${alert(1)}`) or passing a sink (`${alert}`). */
function scanTemplates(s: string, sinkStarts: readonly number[], report: Report): void {
  for (let i = s.indexOf("${"); i >= 0; i = s.indexOf("${", i + 2)) {
    const body = s.slice(i + 2, i + 66); // bounded: `${${${…` must not rescan the rest each time
    const close = body.indexOf("}");
    const inside = (close < 0 ? body : body.slice(0, close)).trim();
    if (SINKS.has(inside) && s.lastIndexOf("`", i) >= 0) report("xss-js-obfuscation");
    else if (anyIn(sinkStarts, i + 2, i + 2 + (close < 0 ? body.length : close))) report("xss-js-breakout");
    else if (inside.includes("(") || inside.includes("`")) report("xss-js-expression");
  }
}

/** `¼` and `¾` read as `<` and `>` with the high bit dropped, unless they end a UTF-8 pair read as Latin-1 (`Ð¼` is Cyrillic). */
function highBitAscii(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const lead = i > 0 && s.charCodeAt(i - 1) >= 0xc0 && s.charCodeAt(i - 1) <= 0xff;
    out += c === 0xbc && !lead ? "<" : c === 0xbe && !lead ? ">" : s[i];
  }
  return out;
}

/** Finds the XSS rules a value matches, in page-text, attribute-value and JavaScript-string contexts. */
export function classifyXss(value: string): RuleId[] {
  const found = new Set<RuleId>();
  const report: Report = (rule) => found.add(rule);
  const s = value.toLowerCase();
  scan(s, report);
  // Filters that delete tags turn `o<x>nfocus=alert<x>(1)` into a handler: read that form too.
  if (s.includes("<")) {
    const stripped = stripBareTags(s);
    if (stripped !== s) scan(stripped, report);
  }
  return [...found];
}

/** `s` without tags that have a short name and no attributes (`<x>`, `</b>`), as a naive filter leaves it. */
function stripBareTags(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "<") {
      let j = i + 1;
      if (s[j] === "/") j++;
      const nameStart = j;
      while (j < s.length && j < nameStart + 8 && isLetter(s.charCodeAt(j))) j++;
      if (j > nameStart && s[j] === ">") {
        i = j;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

function scan(s: string, report: Report): void {
  if (s.includes("<")) scanTags(s, report);
  // UTF-7 (`+ADw-script+AD4-`) and US-ASCII with the high bit set (`¼script¾`) still reach pages
  // served without a charset.
  if (s.includes("+adw-")) scanTags(s.split("+adw-").join("<").split("+ad4-").join(">"), report);
  if (s.includes("\u00bc")) scanTags(highBitAscii(s), report);
  scanAttributeBreakouts(s, report);
  // A whole value that is a script URL, e.g. a `next=` or `href` parameter. A scheme split by
  // controls is an evasion; a plain one needs code after it (not "javascript: it's great").
  let start = 0;
  while (start < s.length && s.charCodeAt(start) <= 32) start++;
  const scheme = dangerousScheme(s, start);
  if (scheme === 2 || (scheme === 1 && codeLike(s.slice(s.indexOf(":", start) + 1)))) report("xss-js-url");
  else if (scheme === 1) {
    // `javascript:void` is a URL; `JavaScript: Basics` (or `JavaScript:%20Basics`, undecoded) a title.
    const next = s.charCodeAt(s.indexOf(":", start) + 1);
    if (next > 32 && next !== 37) report("xss-script-scheme");
  }
  if (s.includes("url") || s.includes("expression") || s.includes("binding") || s.includes("behavio")) {
    if (styleRuns(s, 0, s.length)) report("xss-style-injection");
  }
  const sinks = sinkCalls(s);
  scanJsBreakouts(s, sinks.starts, report);
  if (s.includes("${")) scanTemplates(s, sinks.starts, report);
  scanSinks(s, sinks, report);
}

/** The XSS detector: HTML/attribute/JS-context rules, see `XSS_RULES`. */
export const xssDetector: Detector = {
  name: "xss",
  inspect(target: Target): Detection[] {
    return classifyXss(target.value).map((rule) => {
      const info = XSS_RULES[rule];
      return {
        rule,
        tags: ["attack-xss", info.tag],
        paranoia: info.paranoia,
        severity: info.severity,
        target: target.name,
      };
    });
  },
};
