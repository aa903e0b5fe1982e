// Cross-site scripting by structure: a small HTML tokeniser (plain char loops, no regular expressions)
// reads the value the way a browser's would, in the three places an application usually puts it:
// in the page's text (tags and their attributes), inside a tag's attribute (where a quote or a space
// ends the value and new attributes follow), and inside a JavaScript string (where a quote ends the
// literal and code follows). Rules fire on what each reading yields. Around those readings sit the
// evasions filters miss: tag names split by spaces or prefixes (`<f o r m`, `< x: script`), tags
// written in another charset (UTF-7 `+ADw-`, US-ASCII with the high bit set `¼script¾`), CSS that
// runs script, script with its brackets stripped by a naive filter, JavaScript that reaches the DOM
// (`document.cookie`, `window.location`) or hides its calls, and payloads that a parser split at
// `=` (a parameter named `x onerror`). Rules and lists are our own.
import { base64Decode } from "../decode.ts";
import type { Detection, Detector, ParanoiaLevel, Severity, Target } from "../types.ts";
import { words } from "./lexicon.ts";

type RuleId =
  | "xss-script-tag"
  | "xss-event-handler"
  | "xss-handler-attribute"
  | "xss-js-url"
  | "xss-style-injection"
  | "xss-dangerous-tag"
  | "xss-dangerous-attribute"
  | "xss-form-injection"
  | "xss-xml-injection"
  | "xss-tag-evasion"
  | "xss-context-breakout"
  | "xss-js-breakout"
  | "xss-js-obfuscation"
  | "xss-js-call"
  | "xss-dom-access"
  | "xss-html-injection"
  | "xss-comment-breakout"
  | "xss-js-assignment"
  | "xss-template-injection"
  | "xss-attribute-injection"
  | "xss-js-expression"
  | "xss-script-scheme"
  | "xss-dom-property"
  | "xss-sink-call"
  | "xss-html-markup";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tag: string;
}

/**
 * Every rule this detector reports. PL1 (critical, one match blocks): structures benign text does
 * not produce. PL2: shapes that pasted HTML, code snippets and arrows in prose also make (any
 * element with attributes, comment delimiters, template expressions, an assignment after a quote),
 * critical where a PL2 payload shows no more than that. PL3: any tag with an attribute.
 */
export const XSS_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "xss-script-tag": { paranoia: 1, severity: "critical", tag: "xss-tag" },
  "xss-event-handler": { paranoia: 1, severity: "critical", tag: "xss-attribute" },
  "xss-handler-attribute": { paranoia: 1, severity: "critical", tag: "xss-attribute" },
  "xss-js-url": { paranoia: 1, severity: "critical", tag: "xss-url" },
  "xss-style-injection": { paranoia: 1, severity: "critical", tag: "xss-css" },
  "xss-dangerous-tag": { paranoia: 1, severity: "critical", tag: "xss-tag" },
  "xss-dangerous-attribute": { paranoia: 1, severity: "critical", tag: "xss-attribute" },
  "xss-form-injection": { paranoia: 1, severity: "critical", tag: "xss-tag" },
  "xss-xml-injection": { paranoia: 1, severity: "critical", tag: "xss-tag" },
  "xss-tag-evasion": { paranoia: 1, severity: "critical", tag: "xss-tag" },
  "xss-context-breakout": { paranoia: 1, severity: "critical", tag: "xss-tag" },
  "xss-js-breakout": { paranoia: 1, severity: "critical", tag: "xss-js-context" },
  "xss-js-obfuscation": { paranoia: 1, severity: "critical", tag: "xss-js-context" },
  "xss-js-call": { paranoia: 1, severity: "critical", tag: "xss-sink" },
  "xss-dom-access": { paranoia: 1, severity: "critical", tag: "xss-sink" },
  "xss-html-injection": { paranoia: 2, severity: "critical", tag: "xss-tag" },
  "xss-comment-breakout": { paranoia: 2, severity: "critical", tag: "xss-tag" },
  "xss-js-assignment": { paranoia: 2, severity: "critical", tag: "xss-js-context" },
  "xss-template-injection": { paranoia: 2, severity: "critical", tag: "xss-js-context" },
  "xss-attribute-injection": { paranoia: 2, severity: "error", tag: "xss-attribute" },
  "xss-js-expression": { paranoia: 2, severity: "error", tag: "xss-js-context" },
  "xss-script-scheme": { paranoia: 2, severity: "error", tag: "xss-url" },
  "xss-dom-property": { paranoia: 2, severity: "warning", tag: "xss-sink" },
  "xss-sink-call": { paranoia: 2, severity: "warning", tag: "xss-sink" },
  "xss-html-markup": { paranoia: 3, severity: "notice", tag: "xss-tag" },
};

type Report = (rule: RuleId) => void;

// Tags that load or run content on their own, or change where the page's URLs and forms go.
const DANGEROUS_TAGS = words(
  "iframe frame frameset object embed applet base isindex bgsound layer ilayer import vmlframe xss",
);
// Tags that matter in an injection (forms, styles, foreign content, raw-text breakers) but also
// appear in pasted HTML or as placeholders (`<input>`, `<title>`); a handler or a script URL on them
// is caught by the attribute rules anyway.
const ACTIVE_TAGS = words(
  "form link style svg math xml meta body html head template textarea xmp plaintext noscript noembed " +
    "noframes title marquee video audio source img image input button select keygen details dialog " +
    "animate set handler listener foreignobject use",
);
// The rest of HTML's elements: markup, not script, but no prose opens them with attributes.
const HTML_TAGS = words(
  "a abbr address area article aside b bdi bdo big blink blockquote br canvas caption center cite " +
    "code col colgroup data datalist dd del dfn dir div dl dt em fieldset figcaption figure font " +
    "footer h1 h2 h3 h4 h5 h6 header hgroup hr i ins kbd label legend li main map mark menu meter " +
    "nav nobr ol optgroup option output p param picture pre progress q rp rt ruby s samp section " +
    "small span strike strong sub summary sup table tbody td tfoot th thead time tr track tt u ul " +
    "var wbr",
);
// Form controls: with an attribute they build a form that posts to the attacker.
const FORM_TAGS = words("form input button select textarea keygen isindex");
// Elements whose content the parser reads differently (raw text, foreign content): opening one,
// even bare, changes how what follows is parsed (mutation XSS).
const RAW_TEXT_TAGS = words("svg math noscript noembed noframes style xmp plaintext textarea template");
// Attributes whose value a browser fetches or navigates to.
const URL_ATTRIBUTES = words(
  "href src action formaction data background poster codebase lowsrc dynsrc xlink:href srcset cite",
);
// Closing one of these ends the context the value was placed in (a raw-text element, the document).
const CONTEXT_CLOSERS = words(
  "textarea title style noscript noembed noframes xmp iframe template plaintext head body html",
);
// Tag names an evasion spells out (`<f o r m`, `< x: script`): any tag a payload uses.
const EVASION_TAGS = new Set([...DANGEROUS_TAGS, ...ACTIVE_TAGS, ...words("script img div table svg a")]);
// Functions an XSS proof or payload calls; the names are the payload's intent, not its structure.
const SINKS = words(
  "alert prompt confirm eval settimeout setinterval function execscript fromcharcode atob btoa " +
    "write writeln import fetch constructor globaleval msgbox",
);
// The sinks whose call alone is a payload: proofs (`alert(1)`), string evaluation and decoding.
const STRONG_SINKS = words(
  "alert prompt confirm eval settimeout setinterval execscript fromcharcode atob btoa globaleval msgbox",
);

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
// Inside a tag, `+` separates too: it is a space once the application decodes the form again.
const isTagSpace = (c: number): boolean => isSpace(c) || c === 43;
const isLetter = (c: number): boolean => c >= 97 && c <= 122; // the value is lowercased first
const isIdent = (c: number): boolean =>
  isLetter(c) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c >= 0x80;

const SCRIPT_SCHEMES = words("javascript vbscript livescript mocha mhtml");

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
  // mhtml: makes old IE load a web archive from anywhere, script included.
  if (SCRIPT_SCHEMES.has(scheme)) return split ? 2 : 1;
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

/**
 * CSS that runs code: `expression(`, `url(javascript:`, behaviours and bindings. Comments and spaces
 * are dropped and quotes too, but a comment cannot start inside a quoted string (`"*//*"`), so a
 * string cannot hide the comment that splits `ex/**\/pression`.
 */
function styleRuns(s: string, from: number, to: number): boolean {
  let css = "";
  let quote = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (quote !== 0) {
      if (c === quote) quote = 0;
      else if (!isSpace(c)) css += s[i];
    } else if (c === 34 || c === 39) quote = c;
    else if (c === 47 && s.charCodeAt(i + 1) === 42 /* comment */) {
      // Within [from, to) only: many styles, each with an open comment, must not rescan the rest.
      let close = i + 2;
      while (close + 1 < to && !(s.charCodeAt(close) === 42 && s.charCodeAt(close + 1) === 47)) close++;
      i = close + 1 >= to ? to : close + 1;
    } else if (!isSpace(c)) css += s[i];
  }
  for (let k = css.indexOf("url("); k >= 0; k = css.indexOf("url(", k + 4)) {
    // `url(javascript` cut short still names the scheme: nothing benign spells it.
    if (
      dangerousScheme(css, k + 4) > 0 ||
      css.startsWith("javascript", k + 4) ||
      css.startsWith("vbscript", k + 4)
    )
      return true;
  }
  return (
    css.includes(":expression(") ||
    css.includes("binding:url(") ||
    css.includes("-moz-binding:") ||
    css.includes("behavior:url(") ||
    css.includes("behaviour:url(")
  );
}

// The names of DOM events, current and historical (IE, old Gecko), as prefixes of handler names.
const EVENT_PREFIXES = [
  "click dblclick mouse pointer key focus blur load error unload beforeunload change input submit reset",
  "select scroll wheel drag drop touch animation transition play pause ended toggle resize hashchange",
  "message popstate pageshow pagehide copy cut paste contextmenu auxclick begin end repeat show search",
  "invalid readystatechange start finish bounce cancel close afterprint beforeprint beforescriptexecute",
  "canplay durationchange emptied loadeddata loadedmetadata progress ratechange seek stalled suspend",
  "timeupdate volumechange waiting filterchange online offline storage transitionend webkit zoom",
  "abort activate after before cached checking cuechange formdata fullscreen gotpointercapture help",
  "languagechange layoutcomplete losecapture lostpointercapture move open propertychange rejectionhandled",
  "unhandledrejection rowenter rowexit rowsdelete rowsinserted cellchange controlselect deactivate",
  "dataavailable datasetchanged datasetcomplete errorupdate securitypolicyviolation slotchange",
  "visibilitychange moz ms pointerlockchange orientationchange devicemotion deviceorientation",
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
  if (inTag) checkTagAttribute(s, a, name, tag, report);
  if (a.value === null) {
    if (!inTag && name === "autofocus") report("xss-attribute-injection");
    return;
  }
  // srcdoc is a document; formaction re-targets a form; datasrc/dataformatas bind HTML (old IE).
  if (name === "srcdoc" || name === "formaction" || (inTag && name === "dataformatas"))
    report("xss-dangerous-attribute");
  // Any attribute counts, not only href/src/action: browsers keep adding URL-valued ones.
  if (dangerousScheme(s, a.from, a.to) > 0) report("xss-js-url");
  if (name === "style" && styleRuns(s, a.from, a.to)) report("xss-style-injection");
}

/** Rules for an attribute of a real tag (`tag` is its local name). */
function checkTagAttribute(s: string, a: Attribute, name: string, tag: string, report: Report): void {
  // autofocus fires a focus handler with no click.
  if (name === "autofocus") report("xss-dangerous-attribute");
  // A style sheet or an XML data island from elsewhere: script by the back door.
  if ((tag === "link" && name === "href") || (tag === "xml" && name === "src")) report("xss-dangerous-tag");
  // A namespace, schema or link to another document makes a value an XML document that fetches.
  if (
    name === "xmlns" ||
    name.startsWith("xmlns:") ||
    name.endsWith(":schemalocation") ||
    name === "xlink:href"
  )
    if (a.value !== null && a.value.includes("//")) report("xss-xml-injection");
  // Old IE's `<import implementation=…>` loads a behaviour (script).
  if (name === "implementation") report("xss-dangerous-tag");
  if (a.value === null) return;
  // Form controls with attributes build a form that posts to the attacker or phishes a password.
  if (FORM_TAGS.has(tag)) report("xss-form-injection");
  // A link or an embedded resource in a value: markup injection, if not (yet) script.
  if (URL_ATTRIBUTES.has(name)) report("xss-html-injection");
  if (tag === "style" && name === "type" && a.value.includes("javascript")) report("xss-style-injection");
  // Netscape's JavaScript entities: `<img src=&{alert(1)};>` runs the braces.
  if (a.value.startsWith("&{")) report("xss-dangerous-attribute");
  if (tag === "meta") {
    // A refresh, cookie or charset set by the page: redirects, fixation, UTF-7 script.
    if (name === "http-equiv" || name === "charset") report("xss-dangerous-tag");
    const at = name === "content" ? a.value.indexOf("url=") : -1;
    if (at >= 0 && dangerousScheme(s, a.from + at + 4, a.to) > 0) report("xss-js-url");
  }
}

/** The local name of a tag (`x:script` is `script` to an XHTML parser). */
const localName = (name: string): string => name.slice(name.lastIndexOf(":") + 1);

/** A style element's body that reaches outside: `@import`, `@charset`, CSS escapes (`\65xpression`). */
function styleBodyRuns(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) === 64 || s.charCodeAt(i) === 92) return true;
  return styleRuns(s, from, to);
}

const isNameChar = (c: number): boolean =>
  isLetter(c) || (c >= 48 && c <= 57) || c === 58 || c === 45 || c === 95 || c >= 0x80;

/**
 * `<f o r m`, `< x: script`, `< script`: a tag name spelled so that a filter reads text, which
 * lenient parsers (and filters that drop spaces) still read as the tag.
 */
function spacedTag(s: string, i: number): boolean {
  const n = s.length;
  let j = i + 1;
  while (j < n && j < i + 5 && isSpace(s.charCodeAt(j))) j++;
  const lead = j > i + 1;
  let prefix = false;
  let k = j;
  while (k < n && k < j + 8 && isLetter(s.charCodeAt(k))) k++;
  if (k > j && s[k] === ":") {
    const colon = k;
    j = k + 1;
    while (j < n && j < colon + 5 && isSpace(s.charCodeAt(j))) j++;
    prefix = lead || j > colon + 1; // `<x:script` is the plain tag path's
  }
  let name = "";
  const spaced = isLetter(s.charCodeAt(j)) && isSpace(s.charCodeAt(j + 1)) && isLetter(s.charCodeAt(j + 2));
  if (spaced) {
    // Single letters, one space apart: `f o r m`.
    for (; j < n && name.length < 16 && isLetter(s.charCodeAt(j)); j += 2) {
      name += s[j];
      if (isLetter(s.charCodeAt(j + 1)) || !isSpace(s.charCodeAt(j + 1))) break;
    }
    if (isLetter(s.charCodeAt(j + 1))) return false;
    return name.length >= 3 && EVASION_TAGS.has(name);
  }
  for (; j < n && name.length < 16 && isLetter(s.charCodeAt(j)); j++) name += s[j];
  if (isNameChar(s.charCodeAt(j))) return false;
  if (prefix) return EVASION_TAGS.has(name);
  return lead && (name === "script" || DANGEROUS_TAGS.has(name));
}

// Server-side include directives: `<!--#exec cmd=…-->` runs where the page is assembled.
const SSI_DIRECTIVES = words("exec include echo set config printenv fsize flastmod");

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
      } else {
        // `</textarea>`, `</title>`, `</body>`: the value closes the element it was placed in.
        let j = i + 2;
        while (j < n && j < i + 14 && isLetter(s.charCodeAt(j))) j++;
        let k = j;
        while (k < n && k < j + 4 && isSpace(s.charCodeAt(k))) k++;
        if (s[k] === ">" && CONTEXT_CLOSERS.has(s.slice(i + 2, j))) report("xss-context-breakout");
      }
      i = s.indexOf("<", i + 2);
      continue;
    }
    if (c === 33 /* <! */ && s.startsWith("!--#", i + 1)) {
      let j = i + 5;
      while (j < n && j < i + 14 && isLetter(s.charCodeAt(j))) j++;
      if (SSI_DIRECTIVES.has(s.slice(i + 5, j))) report("xss-context-breakout");
    }
    if (c === 63 /* <? */ && (s.startsWith("import", i + 2) || s.startsWith("xml:namespace", i + 2)))
      report("xss-dangerous-tag"); // old IE's behaviours and namespaces run script
    if (spacedTag(s, i)) report("xss-tag-evasion");
    if (!isLetter(c) && c !== 58 /* <:vmlframe */) {
      i = s.indexOf("<", i + 1);
      continue;
    }
    let j = i + 1;
    while (j < n && isNameChar(s.charCodeAt(j))) j++;
    const name = s.slice(i + 1, j);
    const tag = localName(name);
    const next = s.charCodeAt(j);
    const real = j >= n || isTagSpace(next) || next === 47 || next === 62;
    // `<script<b>`: filters that strip `<b>` leave a script tag behind.
    if ((real || next === 60) && tag === "script") report("xss-script-tag");
    else if (real && DANGEROUS_TAGS.has(tag)) report("xss-dangerous-tag");
    else if (tag.startsWith("import") && (tag === "import" || tag.includes("implementation")))
      report("xss-dangerous-tag"); // old IE's `<import implementation=…>`
    else if (tag === "include" && name !== tag)
      report("xss-xml-injection"); // `<xi:include href=…>`
    // `<noscript#`: any end of the name still opens the tag for some parser or filter; but a bare
    // `<input>` or `<title>` is as often a placeholder in prose.
    else if (next !== 60 && (ACTIVE_TAGS.has(tag) || DANGEROUS_TAGS.has(tag)))
      if (next !== 62 || RAW_TEXT_TAGS.has(tag)) report("xss-html-injection");
    let attributes = 0;
    const { end, inner } = readAttributes(s, j, (a) => {
      if (isLetter(a.name.charCodeAt(0)) && a.value !== null) attributes++; // `<b && c>d` is a comparison
      checkAttribute(s, a, tag, true, report);
    });
    if (attributes > 0) report("xss-html-markup");
    // Any HTML element opened with more than a bare `<b>`: `<div#`, `<span style=…`, `<p title=…`.
    // One-letter names need an attribute (`a <b and c` is prose).
    const bare = next === 62 || (next === 47 && s.charCodeAt(j + 1) === 62); // `<br>`, `<br/>`
    if (j < n && next !== 60 && !bare && HTML_TAGS.has(tag) && (tag.length > 1 || attributes > 0))
      report("xss-html-injection");
    if (tag === "style") {
      // Up to the next tag (`</style>` or anything else), which the loop looks for next anyway.
      const lt = s.indexOf("<", end);
      if (styleBodyRuns(s, end, lt < 0 ? n : lt)) report("xss-style-injection");
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
  readAttributes(s, 0, (a) => checkAttribute(s, a, "", false, report));
  for (const from of [dq < 0 ? -1 : dq + 1, sq < 0 ? -1 : sq + 1]) {
    if (from < 0) continue;
    readAttributes(s, from, (a) => {
      checkAttribute(s, a, "", false, report);
      // `" src=…`, `' style=…`: a closed quote, then a fetching or styling attribute.
      if (a.value !== null && (URL_ATTRIBUTES.has(a.name) || a.name === "style"))
        report("xss-html-injection");
    });
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

/** Every sink's name, or a shorter one it contains (`eval` in `globaleval`, `write` in `writeln`). */
const SINK_HINT =
  /alert|prompt|confirm|eval|settimeout|setinterval|function|execscript|fromcharcode|atob|btoa|write|import|fetch|constructor|msgbox/;

/** Starts and ends of the words in `s` that name a sink; found once, used by every JS reading. */
function sinkWords(s: string): { starts: number[]; ends: number[] } {
  return SINK_HINT.test(s) ? hintedSinkWords(s) : NO_WORDS; // no sink's name, not even inside a word
}

const NO_WORDS: { starts: number[]; ends: number[] } = { starts: [], ends: [] };

/** `sinkWords` for a value that `SINK_HINT` matched. */
function hintedSinkWords(s: string): { starts: number[]; ends: number[] } {
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
function sinkCalls(s: string): SinkCalls {
  const hinted = SINK_HINT.test(s);
  const words = hinted ? hintedSinkWords(s) : NO_WORDS;
  const calls: SinkCall[] = [];
  const starts: number[] = [];
  for (let k = 0; k < words.starts.length; k++) {
    const call = sinkCall(s, words.starts[k]!, words.ends[k]!);
    if (call !== null) {
      calls.push(call);
      starts.push(words.starts[k]!);
    }
  }
  return { calls, starts, hinted };
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

/**
 * Drops JS comments and whitespace, so that `document /*x*\/ . cookie` reads `document.cookie`;
 * one space stays between two words (`return document.cookie` is not `returndocument`).
 */
function jsCompact(s: string): string {
  let out = "";
  let gap = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 47 && s.charCodeAt(i + 1) === 42) {
      const close = s.indexOf("*/", i + 2);
      i = close < 0 ? s.length : close + 1;
      gap = true;
    } else if (isSpace(c)) gap = true;
    else {
      if (gap && out.length > 0 && isIdent(out.charCodeAt(out.length - 1)) && isIdent(c)) out += " ";
      out += s[i];
      gap = false;
    }
  }
  return out;
}

// What `document.x` reaches that a payload wants: cookies, the origin, navigation, new markup.
const DOM_PROPERTIES = words(
  "cookie domain write writeln location createelement body queryselector queryselectorall " +
    "getelementbyid getelementsbytagname getelementsbyname getelementsbyclassname documentelement " +
    "execcommand defaultview referrer implementation createrange evaluate scripts",
);
// Names of the global object (and its frames): `window.location`, `self['alert']`.
const GLOBALS = words("window self top parent frames opener content globalthis this document");
const CALL_HELPERS = words("call apply bind");

/** The `)` closing a call's arguments opened at `open` (within 128 chars), or -1. */
function closeParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open + 1; i < s.length && i < open + 128; i++) {
    if (s[i] === "(") depth++;
    else if (s[i] === ")" && depth-- === 0) return i;
  }
  return -1;
}

/**
 * Whether a sink's call at `at` looks like a payload's: a tagged template, or arguments that close;
 * `confirm(s)` and `prompt(ing)` are prose's plural and tense, not calls.
 */
function payloadCall(s: string, at: number): boolean {
  if (s[at] === "`") return true;
  const close = closeParen(s, at);
  if (close < 0) return false;
  const args = s.slice(at + 1, close).trim();
  if (args.length === 0 || args.length > 3) return true;
  for (let i = 0; i < args.length; i++) if (!isLetter(args.charCodeAt(i))) return true;
  return false;
}

interface SinkCalls {
  calls: SinkCall[];
  starts: number[];
  /** Whether the text holds a sink's name at all (`SINK_HINT`). */
  hinted: boolean;
}

const NO_CALLS: SinkCalls = { calls: [], starts: [], hinted: false };

function hasSpace(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (isSpace(s.charCodeAt(i))) return true;
  return false;
}

/** Reports the sink calls in `text` that block alone: see `scanSinks`. */
function payloadCalls(text: string, found: SinkCalls, report: Report): void {
  for (let k = 0; k < found.calls.length; k++) {
    const call = found.calls[k]!;
    const start = found.starts[k]!;
    let end = start;
    while (isIdent(text.charCodeAt(end))) end++;
    const word = text.slice(start, end);
    if (STRONG_SINKS.has(word) && payloadCall(text, call.at)) report("xss-js-call");
    else if (word === "function" && text.startsWith("new", start - 4) && isSpace(text.charCodeAt(start - 1)))
      report("xss-js-call"); // new Function(…)
    else if (word === "import" && call.at === end && `'"\``.includes(text[end + 1] ?? ""))
      report("xss-js-call");
  }
}

/**
 * Sinks: a payload-shaped call of a sink that proves or evaluates (`alert(1)`, `eval(x)`,
 * `new Function(…)`, `import('//…')`) blocks alone; other calls (`fetch(`) are weaker. Also a call
 * in a handler's tail (`alert(1)>`) or in a form that only hides a call from filters
 * (`alert.call(`, `top['alert'](`, `(alert)(1)`, `eval(atob(`, `x.constructor('…')()`, JSFuck).
 */
function scanSinks(s: string, raw: SinkCalls, report: Report): void {
  // Nothing below can match without an index, a backquote, a sink's name (calls and callbacks need
  // one; `raw.hinted` is false without a `(`) or a DOM name (`html` only as `innerhtml`,
  // `outerhtml`, `insertadjacenthtml`, not the user agent's `(KHTML, …)`): most values stop here.
  if (!s.includes("[") && !s.includes("`") && !raw.hinted && !DOM_NAMES.test(s)) return;
  const paren = s.includes("(") || s.includes("`");
  if (raw.calls.length > 0) report("xss-sink-call");
  const c = s.includes("/*") || hasSpace(s) ? jsCompact(s) : s;
  // Calls are read compacted only past comments (`alert/**/(1)`): prose puts a space before its
  // parentheses (`call the constructor (see below)`).
  const t = s.includes("/*") ? c : s;
  const found = t === s ? raw : sinkCalls(t);
  payloadCalls(s, raw, report);
  if (t !== s) payloadCalls(t, found, report);
  for (const call of raw.calls) if (endsTag(s, call.at)) report("xss-event-handler");
  const { calls, starts } = found;
  for (let k = 0; k < calls.length; k++) {
    const call = calls[k]!;
    // Hidden calls, the Function constructor, and a sink fed by another (`eval(atob(`).
    if (call.hidden || t.startsWith("constructor", starts[k]) || anyIn(starts, call.at + 1, call.at + 2))
      report("xss-js-obfuscation");
  }
  // [1].map(alert), .find(confirm): a sink passed as a callback runs without being named in a call.
  const named = paren ? sinkWords(c) : { starts: [], ends: [] };
  for (let k = 0; k < named.starts.length; k++) {
    const at = named.starts[k]!;
    const end = named.ends[k]!;
    if (c[at - 1] === "(" && isIdent(c.charCodeAt(at - 2)) && (c[end] === ")" || c[end] === ","))
      if (STRONG_SINKS.has(c.slice(at, end))) report("xss-js-obfuscation");
  }
  // [].sort.call`${alert}1`: a tagged template runs a function without a `(`.
  if (c.includes(".call`") || c.includes(".apply`") || c.includes(".bind`")) report("xss-js-obfuscation");
  if (isJsFuck(c)) report("xss-js-obfuscation");
  if (c.includes("import{") || c.includes("import*")) moduleImport(c, report);
  const dom = domAccess(c);
  if (dom === 2) report("xss-dom-access");
  else if (dom === 1) report("xss-dom-property");
  if (dom !== 2 && c.includes("[")) globalIndex(c, report);
}

const DOM_NAMES = /document|location|innerhtml|outerhtml|insertadjacenthtml|parentnode|import/;

/** `import {a, b} from "./x.js"` (compacted): a module import pulls in script from a URL. */
function moduleImport(c: string, report: Report): void {
  let from = -1;
  for (let i = c.indexOf("import"); i >= 0; i = c.indexOf("import", i + 6)) {
    if (i > 0 && isIdent(c.charCodeAt(i - 1))) continue;
    if (from < i + 7) from = c.indexOf("from", i + 7);
    if (from < 0) return;
    if (from < i + 200 && `'"\``.includes(c[from + 4] ?? "")) {
      report("xss-js-call");
      return;
    }
  }
}

/**
 * The global object indexed by a string, `self["\x24"]`, `top['al'+'ert']` (compacted JS): an
 * escape, a concatenation or a computed key hides a name from filters; a plain key is only a hint
 * (Python's `self["name"]` reads the same).
 */
function globalIndex(s: string, report: Report): void {
  for (let i = s.indexOf("["); i > 0; i = s.indexOf("[", i + 1)) {
    let j = i - 1;
    if (s[j] === ")") j--;
    const wordEnd = j + 1;
    while (j >= 0 && j > i - 14 && isLetter(s.charCodeAt(j))) j--;
    if (j >= 0 && isIdent(s.charCodeAt(j))) continue;
    if (!GLOBALS.has(s.slice(j + 1, wordEnd))) continue;
    const q = s[i + 1];
    if (q !== '"' && q !== "'" && q !== "`") {
      // An unquoted key built at run time: `top[/al/.source+/ert/.source]`, `self[atob('…')]`.
      let close = i + 1;
      while (close < s.length && close < i + 64 && s[close] !== "]") close++;
      const key = s.slice(i + 1, close);
      if (q === "/" || key.includes("+") || key.includes("(")) report("xss-js-obfuscation");
      continue;
    }
    let close = i + 2;
    while (close < s.length && close < i + 42 && s[close] !== q) close++;
    if (s[close] !== q) continue;
    const key = s.slice(i + 2, close);
    if (key.includes("\\") || s[close + 1] === "+" || SINKS.has(key)) report("xss-js-obfuscation");
    else if (DOM_PROPERTIES.has(key)) report("xss-dom-access");
    else report("xss-dom-property");
  }
}

/**
 * DOM access in compacted JS: 2 for `document.cookie`, `(document)['cookie']`, `window.location`,
 * `el.innerHTML`, `x.parentNode`; 1 for a bare `innerHTML`; 0 for none.
 */
function domAccess(c: string): 0 | 1 | 2 {
  for (let i = c.indexOf("document"); i >= 0; i = c.indexOf("document", i + 8)) {
    // `my-document.cookie-policy.html`, `/docs/document.body`: a file's name, not code.
    if (i > 0 && (isIdent(c.charCodeAt(i - 1)) || "-/\\".includes(c[i - 1]!))) continue;
    let j = i + 8;
    if (c[j] === ")") j++;
    if (c[j] !== "." && c[j] !== "[") continue;
    const { names, end } = readCallee(c, c[j] === "." ? j + 1 : j);
    if (DOM_PROPERTIES.has(names[0] ?? "") && c[end] !== "-") return 2;
  }
  for (let i = c.indexOf("location"); i > 0; i = c.indexOf("location", i + 8)) {
    if (isIdent(c.charCodeAt(i + 8))) continue;
    // window.location, self['location']
    let j = i - 1;
    if (c[j] === "'" || c[j] === '"') j -= 1;
    if (c[j] !== "." && c[j] !== "[") continue;
    let k = j - 1;
    if (c[k] === ")") k--;
    const wordEnd = k + 1;
    while (k >= 0 && k > j - 14 && isLetter(c.charCodeAt(k))) k--;
    if (k >= 0 && isIdent(c.charCodeAt(k))) continue;
    if (GLOBALS.has(c.slice(k + 1, wordEnd))) return 2;
  }
  let weak = false;
  for (const w of ["innerhtml", "outerhtml", "parentnode"]) {
    const at = c.indexOf(w);
    if (at < 0) continue;
    weak = true;
    // `el.innerHTML`, `x.parentNode`: a property of an element, read or written.
    if (c[at - 1] === "." && !isIdent(c.charCodeAt(at + w.length))) return 2;
  }
  if (c.includes("insertadjacenthtml(")) return 2;
  return weak ? 1 : 0;
}

/** JSFuck-style code: nearly all `[]()!+`, with `![]` in it; or its short atoms `!![]`, `!+[]`. */
function isJsFuck(c: string): boolean {
  if (c.includes("!![]") || c.includes("!+[]") || c.includes("+!+[]")) return true;
  if (c.length < 12 || !c.includes("![]")) return false;
  let k = 0;
  for (let i = 0; i < c.length; i++) if ("[]()!+".includes(c[i]!)) k++;
  return k >= c.length * 0.8;
}

const OPERATORS = "+-*/%|&^<>?:;,=";

/**
 * JavaScript-string reading: after each quote (the literal's end), optional closing brackets, an
 * operator, `;` or `in`, then code. A sink called within a short window makes it a breakout; an
 * assignment to a name after an operator (`';x.y=`, `" in valueOf=`) is a weaker one.
 */
function scanJsBreakouts(s: string, sinkStarts: readonly number[], report: Report): void {
  for (let q = 0; q < s.length; q++) {
    const c = s.charCodeAt(q);
    if (c !== 34 && c !== 39 && c !== 96) continue;
    let j = q + 1;
    while (j < s.length && j < q + 8 && (isSpace(s.charCodeAt(j)) || ")]}".includes(s[j]!))) j++;
    const spaced = j > q + 1;
    const opStart = j;
    while (j < s.length && j < opStart + 3 && OPERATORS.includes(s[j]!)) j++;
    let op = j > opStart;
    // After `;` or `,` a plain name may be a header's parameter (`name="a"; filename="b"`).
    let member = op && !hasArithmetic(s, opStart, j);
    // `'x' in y`, `'x' instanceof y`: keyword operators.
    for (const kw of ["in", "instanceof"]) {
      if (!op && s.startsWith(kw, j) && isSpace(s.charCodeAt(j + kw.length))) {
        j += kw.length;
        op = true;
        member = false;
      }
    }
    if (!op) {
      // `'  a.b=`: a member assignment right after the literal (old IE's filter looked for it).
      if (spaced && isIdent(s.charCodeAt(j))) assignment(s, j, true, report);
      continue;
    }
    // Prefix operators and keywords that may precede the code.
    while (j < s.length && j < opStart + 16 && (isSpace(s.charCodeAt(j)) || "(!~+-[".includes(s[j]!))) j++;
    for (const kw of ["void", "new", "typeof", "await", "throw", "if(", "return"])
      if (s.startsWith(kw, j)) j += kw.length;
    if (anyIn(sinkStarts, j, j + 64)) {
      report("xss-js-breakout");
      return;
    }
    if (!isIdent(s.charCodeAt(j))) continue;
    if (isCall(s, readCallee(s, j).end)) report("xss-js-expression");
    else assignment(s, j, member, report);
  }
}

/** Whether `s[from, to)` holds an operator other than `;` and `,`. */
function hasArithmetic(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (OPERATORS.includes(s[i]!) && s[i] !== ";" && s[i] !== ",") return true;
  return false;
}

/** Whether the name chain at `j` is assigned (`=`, not `==`); with `member`, only a dotted chain. */
function assignment(s: string, j: number, member: boolean, report: Report): void {
  const { end, names } = readCallee(s, j);
  if (member && names.length < 2) return;
  let k = end;
  while (k < s.length && k < end + 4 && isSpace(s.charCodeAt(k))) k++;
  if (s[k] === "=" && s[k + 1] !== "=" && s[k + 1] !== ">") report("xss-js-assignment");
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

/**
 * `¼` and `¾` read as `<` and `>` with the high bit dropped, unless they end a UTF-8 pair read as
 * Latin-1 (`Ð¼` is Cyrillic, `Ã¼` is `ü`); `Â¼` is `¼` itself so read that way.
 */
function highBitAscii(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // The value is lowercased: `Â` is `â` here, and `Ã` is `ã`.
    const p = i > 0 ? s.charCodeAt(i - 1) : 0;
    const lead = p >= 0xc3 && p <= 0xff && p !== 0xe2;
    out += c === 0xbc && !lead ? "<" : c === 0xbe && !lead ? ">" : s[i];
  }
  return out;
}

/**
 * A closing tag written with high-bit brackets, `¼/script¾`: whatever byte leads the `¼` and the
 * `¾` (UTF-8 read as Latin-1), a slash, an ASCII name and `¾` is markup in a charset that drops the
 * bit, not text; an opening `¼script¾` alone may be Cyrillic text that happens to meet ASCII.
 */
function highBitCloser(s: string): boolean {
  for (let i = s.indexOf("\u00bc/"); i >= 0; i = s.indexOf("\u00bc/", i + 2)) {
    let j = i + 2;
    while (j < s.length && j < i + 14 && isLetter(s.charCodeAt(j))) j++;
    if (j > i + 2 && s.charCodeAt(j) >= 0xc0 && s.charCodeAt(j) <= 0xff) j++; // a lead byte, as before `¼`
    if (j > i + 2 && s.charCodeAt(j) === 0xbe) return true;
  }
  return false;
}

/** Whether the letters at `i` (up to 16) begin with a word of `set`: `alertx` begins with `alert`. */
function leadingWord(s: string, i: number, set: ReadonlySet<string>): boolean {
  let w = "";
  for (let j = i; j < s.length && j < i + 16 && isLetter(s.charCodeAt(j)); j++) {
    w += s[j];
    if (set.has(w)) return true;
  }
  return false;
}

/**
 * Whether the name at `i` starts an attribute the value opened: right after a quote (`"onx=`), or
 * after spaces that follow a quote or the value's start (`' onx=`, `  onx=`); not after a word
 * (`be online=`) or a list's separator (`lang=en; online=1`).
 */
function attributeStart(s: string, i: number): boolean {
  let j = i - 1;
  while (j >= 0 && j > i - 16 && isTagSpace(s.charCodeAt(j))) j--;
  if (j < 0) return j < i - 1;
  const c = s.charCodeAt(j);
  return c === 34 || c === 39 || c === 96;
}

/**
 * Handlers anywhere: `on` + letters + `=` — a filter that reads tags misses `&gt; x onerror=…`.
 * Where the value opens an attribute (after a quote), any `on…=` word is a handler (browsers add
 * events; probes invent them); after `/` (`<svg/onload=`) a DOM event's name is; after a word and a
 * space, `;`, `{` or `.` (`b.onclick=`), a DOM event's name with code in the value. Never after a
 * letter or digit: base64 and signatures hold `…9onab=`.
 */
function scanHandlers(s: string, report: Report): void {
  const n = s.length;
  for (let i = s.indexOf("on"); i >= 0; i = s.indexOf("on", i + 2)) {
    const p = i > 0 ? s.charCodeAt(i - 1) : -1;
    if (p < 0 || isIdent(p)) continue;
    let j = i + 2;
    while (j < n && j < i + 53 && isLetter(s.charCodeAt(j))) j++;
    const letters = j - i - 2;
    if (letters < 3 || letters > 50 || isIdent(s.charCodeAt(j))) continue;
    let k = j;
    while (k < n && k < j + 8 && isTagSpace(s.charCodeAt(k))) k++;
    if (s[k] !== "=" || s[k + 1] === "=") continue;
    const known = isEventName(s.slice(i, j));
    if (attributeStart(s, i)) {
      report(known ? "xss-event-handler" : "xss-handler-attribute");
      continue;
    }
    if (known && p === 47 /* <svg/onload= */) report("xss-event-handler");
    if (!known || !(isTagSpace(p) || p === 46 || p === 59 || p === 44 || p === 40 || p === 123)) continue;
    // After a word and a space, `;`, `{` or `.`: a handler only with code in the value.
    let v = k + 1;
    while (v < n && v < k + 8 && isSpace(s.charCodeAt(v))) v++;
    if (s[v] === '"' || s[v] === "'") v++;
    if (codeLike(s.slice(v, v + 64)) || leadingWord(s, v, SINKS)) report("xss-event-handler");
  }
}

/**
 * `-->` ends an HTML comment the value was placed in: after a quote (`"-->`, closing an attribute
 * first) it is a breakout; glued to the start or to a word it may be an arrow, so only at PL2.
 */
function scanCommentClose(s: string, report: Report): void {
  for (let i = s.indexOf("-->"); i >= 0; i = s.indexOf("-->", i + 3)) {
    const p = i > 0 ? s.charCodeAt(i - 1) : -1;
    if (p === 34 || p === 39 || p === 96) report("xss-context-breakout");
    else if (p < 0 || !isSpace(p)) report("xss-comment-breakout");
  }
}

/** Netscape's JavaScript entities, `&{alert(1)};`: braces after `&` that hold a call or an assignment. */
function scanJsEntities(s: string, report: Report): void {
  for (let i = s.indexOf("&{"); i >= 0; i = s.indexOf("&{", i + 2)) {
    for (let j = i + 2; j < s.length && j < i + 66 && s[j] !== "}"; j++) {
      if (s[j] === "(" || s[j] === "=") {
        report("xss-dangerous-attribute");
        return;
      }
    }
  }
}

/**
 * A script element whose brackets a filter stripped or swapped: `scriptalert(1)/script`,
 * `[a]script>…[a]/script>`. The word, then code (a sink or the DOM) right after it, then `/script`.
 */
function scanStrippedScript(s: string, sinkStarts: readonly number[], report: Report): void {
  let close = -1; // the next `/script` (found once per stretch: `scriptscript…` stays linear)
  for (let i = s.indexOf("script"); i >= 0; i = s.indexOf("script", i + 6)) {
    if (i > 0 && (isLetter(s.charCodeAt(i - 1)) || s[i - 1] === "<" || s[i - 1] === "/")) continue;
    let j = i + 6;
    if (s[j] === ">") j++;
    if (close < j) close = s.indexOf("/script", j);
    if (close < 0) return;
    if (close - j > 512 || isLetter(s.charCodeAt(close + 7))) continue;
    // Code right after the opener: `alert(`, `document.cookie`.
    if (s.startsWith("document", j) || anyIn(sinkStarts, j, j + 1) || leadingWord(s, j, STRONG_SINKS)) {
      report("xss-script-tag");
      return;
    }
  }
}

/**
 * A call whose tail closes a tag, as a handler's value does: `x(1)>`, `f(0);'>`. After the `)`, at
 * most `;`, quotes, slashes and spaces, then `>`; with a quote or `;` in the tail, or `>` ending
 * the value or opening the next tag (`f(x)>0` is a comparison).
 */
function scanCallTails(s: string, report: Report): void {
  for (let at = s.indexOf("("); at > 1; at = s.indexOf("(", at + 1)) {
    if (!isIdent(s.charCodeAt(at - 1)) || !isIdent(s.charCodeAt(at - 2))) continue;
    const close = closeParen(s, at);
    if (close < 0) continue;
    let j = close + 1;
    let quoted = false;
    while (j < s.length && j < close + 8 && ";'\"/ ".includes(s[j]!)) {
      quoted ||= s[j] === ";" || s[j] === "'" || s[j] === '"';
      j++;
    }
    if (s[j] !== ">") {
      // `write(1) autofocus>`: a bare autofocus after the call, then the tag's end.
      if (!s.startsWith("autofocus", j) || s[j + 9] !== ">") continue;
      j += 9;
    }
    if (quoted || j + 1 >= s.length || s[j + 1] === "<") {
      report("xss-event-handler");
      return;
    }
  }
}

/** `<!ENTITY name SYSTEM "…">`: an XML entity declaration smuggles markup (or a file) into a document. */
function scanEntityDeclaration(s: string, report: Report): void {
  for (let i = s.indexOf("!entity"); i >= 0; i = s.indexOf("!entity", i + 7)) {
    const tail = s.slice(i + 7, i + 100);
    if (!isSpace(tail.charCodeAt(0))) continue;
    if (tail.includes(" system") || tail.includes(" public")) {
      report("xss-xml-injection");
      return;
    }
  }
}

/**
 * The chars and words `scan` starts from, and the names `scanSinks` needs (with a dot, but
 * testing them with the rest costs e-mail addresses one search fewer).
 */
const TRIGGERS_OR_DOM =
  /[<="'`([{\u00bc]|-->|-moz-binding|\+adw-|!entity|script|document|location|html|import|parentnode/i;
/** A whole-value script URL (`wholeValueScheme`): letters, maybe split by controls, then `:`. */
// eslint-disable-next-line no-control-regex -- browsers drop controls inside a scheme
const SCHEME_START = /^[\x00-\x20]*[jvlmd][a-z\x00-\x20]*:/i;
/** The words that let `styleRuns` run on a value with a colon. */
const STYLE_WORDS = /url|expression|binding|behavio/i;

/** The chars and words `scan` starts from, with `:` and `.`: one search rejects most values. */
const ANY_TRIGGER = /[<="'`([{\u00bc:.]|-->|-moz-binding|\+adw-|!entity|script/i;

/**
 * Whether `scan` could report anything for the value: the chars and words its readings start from
 * (see `scan`'s gates). Tested on the value before it is lowercased, case-insensitively: no
 * punctuation has a case, and the only non-ASCII chars that lowercase to ASCII letters (U+0130 to
 * `i` and a combining dot, U+212A to `k`) cannot complete any of these words or schemes.
 */
function mayMatch(value: string): boolean {
  if (!ANY_TRIGGER.test(value)) return false;
  if (TRIGGERS_OR_DOM.test(value)) return true;
  return value.includes(":") && (SCHEME_START.test(value) || STYLE_WORDS.test(value));
}

/** Finds the XSS rules a value matches, in page-text, attribute-value and JavaScript-string contexts. */
export function classifyXss(value: string): RuleId[] {
  if (!mayMatch(value)) return [];
  const s = value.toLowerCase();
  // The engine passes a value and its lowercased variant one after the other: read each `s` once.
  // (Values seen in earlier requests are remembered by the engine.)
  let rules = s === lastLowered ? lastRules : undefined;
  if (rules === undefined) {
    const found = new Set<RuleId>();
    const report: Report = (rule) => found.add(rule);
    scan(s, report);
    // Filters that delete tags turn `o<x>nfocus=alert<x>(1)` into a handler: read that form too.
    if (s.includes("<")) {
      const stripped = stripBareTags(s);
      if (stripped !== s) scan(stripped, report);
    }
    rules = [...found];
  }
  lastLowered = s;
  lastRules = rules;
  return rules.slice();
}

// The last lowercased value `classifyXss` read, and its rules.
let lastLowered = "";
let lastRules: RuleId[] = [];

/**
 * `s` without tags that have a short name and no attributes (`<x>`, `</b>`), as a naive filter
 * leaves it, and without short HTML comments, which split words for a filter but not for old
 * parsers (`javas<!-- -->cript:`).
 */
function stripBareTags(s: string): string {
  let out = "";
  let close = -1; // the next `-->`, found once per stretch (`<!--<!--…` stays linear)
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "<" && s.startsWith("<!--", i)) {
      if (close < i + 4) {
        close = s.indexOf("-->", i + 4);
        if (close < 0) close = s.length; // none: never look again
      }
      if (close < i + 68) {
        i = close + 2;
        continue;
      }
    }
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

// Which of the chars the readings need a value holds: one pass, then each reading runs only if
// its chars are there (most values are words, numbers and URLs, and need none).
const LT = 1;
const GT = 2;
const EQ = 4;
const QUOTE = 8;
const PAREN = 16;
const BACKTICK = 32;
const BRACKET = 64;
const DOT = 128;
const COLON = 256;
const AMP = 512;
const BANG = 1024;
const PLUS = 2048;
const DOLLAR = 4096;
const SLASH = 8192;
const HIGH = 16384;

/**
 * `on` + letters + `=`, what both handler readings need (`scanHandlers` reads 3 to 50 letters and
 * up to 8 spaces or `+`; an attribute's name is all letters after `on`, then spaces).
 */
const HANDLER_SHAPE = /on[a-z]{2,51}[\s+]*=/;
/**
 * Without a quote, the attribute reading from the value's start reports only a handler, these
 * names, or a script URL as a value (`=`, spaces, controls or a quote, a scheme's letters, `:`).
 */
const ATTRIBUTE_WORDS =
  // eslint-disable-next-line no-control-regex -- browsers drop controls inside a scheme
  /autofocus|srcdoc|formaction|style|on[a-z]{2,51}[\s+]*=|=[\x00-\x20"'`]*[jvlmd][a-z\x00-\x20]*:/;

// Each ASCII char's census flag (letters, digits and the rest have none).
const CENSUS = new Uint16Array(128);
for (const [chars, flag] of [
  ["<", LT],
  [">", GT],
  ["=", EQ],
  [`"'`, QUOTE],
  ["`", QUOTE | BACKTICK],
  ["(", PAREN],
  ["[", BRACKET],
  [".", DOT],
  [":", COLON],
  ["&", AMP],
  ["!", BANG],
  ["+", PLUS],
  ["$", DOLLAR],
  ["/", SLASH],
] as const)
  for (const c of chars) CENSUS[c.charCodeAt(0)] = flag;

function census(s: string): number {
  let m = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    m |= c < 128 ? CENSUS[c]! : HIGH;
  }
  return m;
}

function scan(s: string, report: Report): void {
  const m = census(s);
  if (m & LT) scanTags(s, report);
  // UTF-7 (`+ADw-script+AD4-`) and US-ASCII with the high bit set (`¼script¾`) still reach pages
  // served without a charset.
  if (m & PLUS && s.includes("+adw-")) {
    scanTags(s.split("+adw-").join("<").split("+ad4-").join(">"), report);
    // Both brackets in UTF-7, whatever the tag: no text spells `+ADw-…+AD4-`.
    if (s.indexOf("+ad4-") > s.indexOf("+adw-")) report("xss-tag-evasion");
  }
  if (m & LT && m & BANG && (s.includes("<!--") || s.includes("<![cdata["))) report("xss-comment-breakout");
  if (s.includes("-moz-binding")) report("xss-style-injection");
  if (s.includes("{{")) scanTemplateExpressions(s, report);
  if (m & HIGH && s.includes("\u00bc")) {
    scanTags(highBitAscii(s), report);
    if (highBitCloser(s)) report("xss-tag-evasion");
  }
  if (m & EQ) {
    if (m & QUOTE || ATTRIBUTE_WORDS.test(s)) scanAttributeBreakouts(s, report);
    if (HANDLER_SHAPE.test(s)) scanHandlers(s, report);
  }
  if (m & GT && s.includes("-->")) scanCommentClose(s, report);
  if (m & AMP && s.includes("&{")) scanJsEntities(s, report);
  if (m & BANG && s.includes("!entity")) scanEntityDeclaration(s, report);
  if (m & COLON) wholeValueScheme(s, report);
  if (
    m & (PAREN | COLON) &&
    (s.includes("url") || s.includes("expression") || s.includes("binding") || s.includes("behavio"))
  )
    if (styleRuns(s, 0, s.length)) report("xss-style-injection");
  const sinks = m & (PAREN | BACKTICK) ? sinkCalls(s) : NO_CALLS;
  if (m & QUOTE) scanJsBreakouts(s, sinks.starts, report);
  if (m & DOLLAR && s.includes("${")) scanTemplates(s, sinks.starts, report);
  if (m & PAREN && m & GT) scanCallTails(s, report);
  if (m & SLASH && s.includes("script")) scanStrippedScript(s, sinks.starts, report);
  if (m & (PAREN | BACKTICK | BRACKET | DOT)) scanSinks(s, sinks, report);
}

/**
 * A whole value that is a script URL, e.g. a `next=` or `href` parameter. A scheme split by
 * controls is an evasion; a plain one needs code after it (not "javascript: it's great"): a call,
 * an assignment, an escape or markup.
 */
function wholeValueScheme(s: string, report: Report): void {
  let start = 0;
  while (start < s.length && s.charCodeAt(start) <= 32) start++;
  const scheme = dangerousScheme(s, start);
  if (scheme === 0) return;
  const rest = s.slice(s.indexOf(":", start) + 1);
  // mhtml: needs no code: the archive it loads carries the script.
  const mhtml = s.startsWith("mhtml", start);
  if (scheme === 2 || mhtml || codeLike(rest) || rest.includes("\\") || rest.includes("<"))
    report("xss-js-url");
  else {
    // `javascript:void` is a URL; `JavaScript: Basics` (or `JavaScript:%20Basics`, undecoded) a title.
    const next = rest.charCodeAt(0);
    if (next > 32 && next !== 37) report("xss-script-scheme");
  }
}

/**
 * Client-side template expressions, `{{constructor.constructor('alert(1)')()}}`: AngularJS-style
 * templates evaluate what the page echoes between double braces. Code in the braces (a call, an
 * index, an operator, `$`), not a plain `{{user.name}}` placeholder.
 */
function scanTemplateExpressions(s: string, report: Report): void {
  let close = -1; // the next `}}`, found once per stretch (`{{{{…` stays linear)
  for (let i = s.indexOf("{{"); i >= 0; i = s.indexOf("{{", i + 2)) {
    if (close < i + 2) close = s.indexOf("}}", i + 2);
    if (close < 0) return;
    for (let j = i + 2; j < close && j < i + 130; j++) {
      if ("([=*+-'\"$`".includes(s[j]!)) {
        report("xss-template-injection");
        return;
      }
    }
  }
}

// Targets whose value is a path: `document.cookie` there is a file name (a manual's page).
const PATH_TARGETS = words("REQUEST_PATH REQUEST_FILENAME");

/**
 * Where a parser split a payload at `=`: a parameter named `x onerror` holding `alert(1)`. Returns
 * the text to read besides the value, or null. (Cookie names are targets of their own.)
 */
function splitText(target: Target): string | null {
  if (target.name !== lastSplitTarget) {
    lastSplitTarget = target.name;
    lastSplitName = splitName(target.name);
  }
  if (lastSplitName === null) return null;
  return `${lastSplitName}=${target.value}`;
}

// The last target name `splitText` read (the engine passes each variant under the same name).
let lastSplitTarget = "";
let lastSplitName: string | null = null;

/** The name part of a target that may hold a split payload (see `splitText`), or null. */
function splitName(targetName: string): string | null {
  if (!targetName.startsWith("ARGS:") && !targetName.startsWith("MULTIPART:")) return null;
  const colon = targetName.indexOf(":");
  // Only a name that ends with a handler's name: `… onerror`, `"onmouseover`.
  let j = targetName.length;
  while (j > colon + 1 && isSpace(targetName.charCodeAt(j - 1))) j--;
  let i = j;
  while (i > colon + 1 && isLetter(targetName.charCodeAt(i - 1) | 0x20)) i--;
  // A handler's name starts with `on` (checked before slicing: most names are no handler's).
  if ((targetName.charCodeAt(i) | 0x20) !== 111 || (targetName.charCodeAt(i + 1) | 0x20) !== 110) return null;
  if (i === colon + 1 || !isHandlerLike(targetName.slice(i, j).toLowerCase())) return null;
  return targetName.slice(colon + 1);
}

/**
 * Base64 that form decoding broke: each `+` became a space, so the engine's base64 view rejects it.
 * Only a value of base64 chars and single inner spaces (not prose, which has no mixed-case runs).
 */
function spacedBase64(value: string): string | null {
  if (value.length < 16 || !value.includes(" ")) return null;
  // `base64Decode` wants both cases (encoded text mixes them); most spaced values are prose.
  if (!HAS_UPPER.test(value) || !HAS_LOWER.test(value) || !SPACED_BASE64.test(value)) return null;
  return base64Decode(value.replaceAll(" ", "+"));
}

/** Base64 chars (without `+`) in runs that single spaces separate. */
const SPACED_BASE64 = /^[A-Za-z0-9/=]+(?: [A-Za-z0-9/=]+)+$/;
const HAS_UPPER = /[A-Z]/;
const HAS_LOWER = /[a-z]/;

const NO_RULES: readonly RuleId[] = [];

/** The XSS detector: HTML/attribute/JS-context rules, see `XSS_RULES`. */
export const xssDetector: Detector = {
  name: "xss",
  inspect(target: Target): Detection[] {
    const rules = classifyXss(target.value);
    const decoded = spacedBase64(target.value);
    const fromDecoded = decoded === null ? NO_RULES : classifyXss(decoded);
    const split = splitText(target);
    let extra = NO_RULES;
    if (split !== null) extra = classifyXss(split);
    if (rules.length === 0 && fromDecoded.length === 0 && extra.length === 0) return [];
    const found = new Set(rules);
    for (const rule of fromDecoded) found.add(rule);
    for (const rule of extra) found.add(rule);
    if (PATH_TARGETS.has(target.name) && found.delete("xss-dom-access")) found.add("xss-dom-property");
    return [...found].map((rule) => {
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
