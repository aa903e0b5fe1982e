// Code injection: Log4Shell JNDI lookups (with nested-lookup evasions resolved first), PHP code,
// Java runtime access, Node.js process access, prototype pollution, serialised-object markers and
// server-side template injection, and Perl's `@{[…]}`. Every check is an indexOf scan, a char loop
// over a bounded slice after a marker, or a literal regular expression that cannot backtrack; loops
// that search forward remember what they found, so the work stays linear (the test times 64 KiB).
// The engine feeds decoded variants, so `%24%7B` and `\x5f` arrive here decoded. Rules are our own.
import type { Detection, Detector, ParanoiaLevel, Severity, Target } from "../types.ts";
import { base64Java, javaProcessPath, MIN_CLASS_RUN, MIN_RUN } from "./code-java.ts";
import {
  builtCall,
  iniDirective,
  isFileNameTarget,
  joinedName,
  phpCall,
  superglobal,
  uploadName,
  variableVariable,
} from "./code-php.ts";

type RuleId =
  | "code-jndi"
  | "code-php"
  | "code-php-function"
  | "code-php-superglobal"
  | "code-php-ini"
  | "code-php-extension-call"
  | "code-php-word-call"
  | "code-upload-script"
  | "code-upload-double-extension"
  | "code-java"
  | "code-java-class-path"
  | "code-java-stream-base64"
  | "code-java-class-base64"
  | "code-ruby"
  | "code-node"
  | "code-perl"
  | "code-prototype-pollution"
  | "code-deserialization"
  | "code-template-injection"
  | "code-template-expression";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

/**
 * PL1: shapes that benign text does not produce: a JNDI lookup, PHP open tags and injection-typical
 * calls with code-shaped arguments, calls of PHP built-ins whose names are no words, superglobals,
 * php.ini assignments, uploads named as server scripts or PHP session files, Java runtime and Node
 * process access, Ruby process calls, Perl `@{[`, prototype-pollution paths, serialised-object
 * headers (also Java's stream header in shifted base64: 32 fixed bits that random data does not
 * hit), a process class under any `java.` package, template expressions that multiply numbers or
 * reach the runtime. PL2: template expressions with other arithmetic (`{{1+1}}`, `${9-2}`), which
 * also appear in prose; calls of functions from PHP's extension families (`pg_…(`), which other
 * languages' snake_case resembles; a script extension inside an upload's name (`shell.php.jpg`).
 * PL3: PHP functions named by plain words
 * called with any argument (`crypt(abc)`, which prose writes too); process and gadget class
 * names inside base64 (which encoded configuration could also hold).
 */
export const CODE_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "code-jndi": { paranoia: 1, severity: "critical", tags: ["attack-injection-java", "log4shell"] },
  "code-php": { paranoia: 1, severity: "critical", tags: ["attack-injection-php"] },
  "code-php-function": { paranoia: 1, severity: "critical", tags: ["attack-injection-php"] },
  "code-php-superglobal": { paranoia: 1, severity: "critical", tags: ["attack-injection-php"] },
  "code-php-ini": { paranoia: 1, severity: "critical", tags: ["attack-injection-php"] },
  "code-php-extension-call": { paranoia: 2, severity: "critical", tags: ["attack-injection-php"] },
  "code-php-word-call": { paranoia: 3, severity: "critical", tags: ["attack-injection-php"] },
  "code-upload-script": { paranoia: 1, severity: "critical", tags: ["attack-injection-php", "file-upload"] },
  "code-upload-double-extension": {
    paranoia: 2,
    severity: "critical",
    tags: ["attack-injection-php", "file-upload"],
  },
  "code-java": { paranoia: 1, severity: "critical", tags: ["attack-injection-java"] },
  "code-java-class-path": { paranoia: 1, severity: "critical", tags: ["attack-injection-java"] },
  "code-java-stream-base64": { paranoia: 1, severity: "critical", tags: ["attack-deserialization"] },
  "code-java-class-base64": { paranoia: 3, severity: "critical", tags: ["attack-injection-java"] },
  "code-ruby": { paranoia: 1, severity: "critical", tags: ["attack-injection-ruby"] },
  "code-node": { paranoia: 1, severity: "critical", tags: ["attack-injection-node"] },
  "code-perl": { paranoia: 1, severity: "critical", tags: ["attack-injection-perl"] },
  "code-prototype-pollution": {
    paranoia: 1,
    severity: "critical",
    tags: ["attack-injection-node", "attack-prototype-pollution"],
  },
  "code-deserialization": { paranoia: 1, severity: "critical", tags: ["attack-deserialization"] },
  "code-template-injection": { paranoia: 1, severity: "critical", tags: ["attack-ssti"] },
  "code-template-expression": { paranoia: 2, severity: "critical", tags: ["attack-ssti"] },
};

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isLower = (c: number): boolean => c >= 97 && c <= 122;
const isIdent = (c: number): boolean => isLower(c) || isDigit(c) || c === 95 || (c >= 65 && c <= 90);
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);

/** Whether `needle` occurs in `v` with no identifier char right before it. */
function hasWordStart(v: string, needle: string): boolean {
  for (let i = v.indexOf(needle); i >= 0; i = v.indexOf(needle, i + 1))
    if (i === 0 || !isIdent(v.charCodeAt(i - 1))) return true;
  return false;
}

/** The text from the first `marker` to `span` chars past the last one ("" if none): one slice, not one per occurrence. */
function after(v: string, marker: string, span: number): string {
  const first = v.indexOf(marker);
  return first < 0 ? "" : v.slice(first, v.lastIndexOf(marker) + marker.length + span);
}

/**
 * `s` without whitespace and comments: whitespace tricks (`system /**\/ (`, `exec #x⏎ (`) vanish.
 * `#` and `//` start a comment only when a newline ends it, so URLs and anchors stay.
 */
function compact(s: string): string {
  if (!/[\s/#]/.test(s)) return s;
  let out = "";
  let run = 0; // start of the chars kept since the last skip
  let nl = -1; // the next newline at or after i; found once per line, so the scan stays linear
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let skipTo = -1; // the last char skipped
    if (isSpace(c)) skipTo = i;
    else if (c === 35 || (c === 47 && s.charCodeAt(i + 1) === 47)) {
      if (nl !== Infinity && nl < i) {
        const at = s.indexOf("\n", i);
        nl = at < 0 ? Infinity : at;
      }
      if (nl !== Infinity) skipTo = nl;
    } else if (c === 47 && s.charCodeAt(i + 1) === 42) {
      const close = s.indexOf("*/", i + 2);
      skipTo = close < 0 ? s.length - 1 : close + 1;
    }
    if (skipTo < 0) continue;
    out += s.slice(run, i);
    i = skipTo;
    run = skipTo + 1;
  }
  return run === 0 ? s : out + s.slice(run);
}

// ---------------------------------------------------------------------------------------------
// Log4Shell

/** How a simple lookup resolves: `lower:x`, `upper:x` → `x`; `anything:-x` (a default) → `x`; else null. */
function resolveLookup(inner: string): string | null {
  const dflt = inner.indexOf(":-");
  if (dflt >= 0) return inner.slice(dflt + 2);
  for (const p of ["lower:", "upper:", "date:"])
    if (inner.startsWith(p)) return inner.slice(p.length).replace(/['"]/g, "");
  return null;
}

/** One pass resolving innermost `${…}` lookups (at most 64 chars, no `${` inside). */
function resolvePass(s: string): string {
  let out = "";
  let i = 0;
  for (let at = s.indexOf("${"); at >= 0; at = s.indexOf("${", i)) {
    out += s.slice(i, at);
    const stop = Math.min(s.length, at + 66);
    let j = at + 2;
    while (j < stop && s.charCodeAt(j) !== 125 && !(s.charCodeAt(j) === 36 && s.charCodeAt(j + 1) === 123))
      j++;
    const resolved = j < stop && s.charCodeAt(j) === 125 ? resolveLookup(s.slice(at + 2, j)) : null;
    if (resolved === null) {
      out += "${";
      i = at + 2;
    } else {
      out += resolved;
      i = j + 1;
    }
  }
  return out + s.slice(i);
}

function isJndi(value: string, compacted: string): boolean {
  // `$&LBRACE;`: named entities are case-sensitive, so the decoder leaves the upper-case spelling.
  const v = value.includes("&lbrace") ? value.split("&lbrace;").join("{").split("&lbrace").join("{") : value;
  if (v.indexOf("${") < 0) return false;
  let s = v === value ? compacted : compact(v);
  if (s.includes("${jndi:")) return true;
  for (let pass = 0; pass < 4; pass++) {
    const next = resolvePass(s);
    if (next === s) break;
    s = next;
    if (s.includes("${jndi:")) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// PHP

// Calls an injection makes; they count when an argument looks like code, not prose: `system('id')`.
// prettier-ignore
const PHP_CALLS_SET: ReadonlySet<string> = new Set([
  "system", "passthru", "shell_exec", "exec", "popen", "proc_open", "pcntl_exec", "eval", "assert",
  "create_function", "call_user_func", "call_user_func_array", "file_put_contents",
]);

// PHP functions that webshells and droppers call and ordinary request data does not name: any call counts.
// prettier-ignore
const PHP_ONLY_CALLS = [
  "gzinflate", "gzuncompress", "gzdecode", "bzdecompress", "str_rot13", "fsockopen", "pfsockopen", "proc_open",
  "shell_exec", "passthru", "pcntl_exec", "pcntl_fork", "create_function", "call_user_func", "call_user_func_array",
  "assert_options", "get_defined_functions", "get_defined_vars", "show_source", "highlight_file", "php_uname",
  "posix_getpwuid", "posix_getuid", "posix_geteuid", "posix_getegid", "posix_kill", "posix_setuid", "posix_mkfifo",
  "move_uploaded_file", "ini_set", "set_time_limit", "ignore_user_abort", "escapeshellcmd", "escapeshellarg",
];

const VARIABLE_CALLS_SET: ReadonlySet<string> = new Set([
  "system",
  "passthru",
  "shell_exec",
  "exec",
  "popen",
  "proc_open",
  "eval",
  "assert",
]);

/** `system(whoami)`: a bare word of 2+ chars as the only argument. */
function bareArgument(v: string, i: number): boolean {
  let k = i;
  const stop = Math.min(v.length, i + 40);
  while (k < stop && isIdent(v.charCodeAt(k))) k++;
  return k - i >= 2 && v.charCodeAt(k) === 41;
}

/**
 * `$a(1)`, `$__['o'](5)`, `${'a'}(2)`, `$GLOBALS['x'](3)`: a variable called as a function. With
 * `strict` (the compacted text, where `$USD (approx)` became `$usd(approx)`), the argument must
 * look like code: a number, a string, a variable, `@` or nothing.
 */
function variableCall(v: string, strict = false): boolean {
  for (let i = v.indexOf("$"); i >= 0; i = v.indexOf("$", i + 1)) {
    let k = i + 1;
    while (v.charCodeAt(k) === 36) k++;
    const stop = Math.min(v.length, k + 80);
    if (v.charCodeAt(k) === 123) {
      // `${'a'}`, `${@a}`, `${$s}`: not a template's `${price}`
      const first = v.charCodeAt(k + 1);
      if (first !== 39 && first !== 34 && first !== 64 && first !== 36) continue;
      while (k < stop && v.charCodeAt(k) !== 125) k++;
      k++;
    } else {
      const c = v.charCodeAt(k);
      if (!(isLower(c) || c === 95)) continue;
      while (k < stop && isIdent(v.charCodeAt(k))) k++;
    }
    for (let groups = 0; groups < 3 && k < stop; groups++) {
      const open = v.charCodeAt(k);
      if (open !== 91 && open !== 123) break;
      // `$__[$_[1]]`: brackets nest
      let depth = 0;
      for (; k < stop; k++) {
        const ch = v.charCodeAt(k);
        if (ch === 91 || ch === 123) depth++;
        else if ((ch === 93 || ch === 125) && --depth === 0) break;
      }
      k++;
    }
    if (k < v.length && v.charCodeAt(k) === 40) {
      if (!strict) return true;
      const a = v.charCodeAt(k + 1);
      if (isDigit(a) || a === 39 || a === 34 || a === 36 || a === 64 || a === 41) return true;
    }
  }
  return false;
}

/** Whether `name(` at `i` has a code-shaped first argument: a variable, a string, or a nested call. */
function codeArgument(v: string, i: number): boolean {
  let k = i;
  while (k < v.length && (isSpace(v.charCodeAt(k)) || v.charCodeAt(k) === 64)) k++;
  const c = v.charCodeAt(k);
  if (c === 36 || c === 39 || c === 34 || c === 96) return true;
  if (!isLower(c)) return false;
  const stop = Math.min(v.length, k + 40);
  while (k < stop && (isIdent(v.charCodeAt(k)) || v.charCodeAt(k) === 46)) k++;
  while (k < stop && isSpace(v.charCodeAt(k))) k++;
  return v.charCodeAt(k) === 40;
}

function isPhp(v: string, c: string): boolean {
  for (let i = v.indexOf("<?"); i >= 0; i = v.indexOf("<?", i + 2)) {
    if (v.startsWith("php", i + 2) && !isIdent(v.charCodeAt(i + 5))) return true;
    if (isSpace(v.charCodeAt(i + 2))) {
      // `<? echo 1; ?>`: a short open tag followed by code.
      let k = i + 3;
      while (k < v.length && k < i + 16 && isSpace(v.charCodeAt(k))) k++;
      if (v.charCodeAt(k) === 36 || isLower(v.charCodeAt(k))) return true;
    }
    if (v.charCodeAt(i + 2) === 61) {
      let k = i + 3;
      while (k < v.length && k < i + 16 && isSpace(v.charCodeAt(k))) k++;
      const c = v.charCodeAt(k);
      if (c === 36 || c === 96 || c === 64 || isLower(c) || isDigit(c)) return true;
    }
  }
  if (v.includes("phpinfo(")) return true;
  // `<?xml :echo 1;`: a short open tag that only looks like an XML declaration (which names attributes).
  for (let i = v.indexOf("<?xml"); i >= 0; i = v.indexOf("<?xml", i + 5)) {
    let k = i + 5;
    while (k < v.length && k < i + 40 && isSpace(v.charCodeAt(k))) k++;
    const n = v.charCodeAt(k);
    if (k < v.length && !isLower(n) && n !== 63 && n !== 45 && n !== 95 && n !== 62) return true;
  }
  // `test<?`: an open tag ending the value, the rest of the line left to the server's own code.
  if (v.trimEnd().endsWith("<?")) return true;
  // `[php]…[/php]`: template engines' and forum software's PHP blocks.
  if (v.includes("[php]") || v.includes("[/php]") || v.includes("[\\php]")) return true;
  if (v.indexOf("(") < 0) return false;
  // One pass over the calls: the name before each `(` (spaces and comments are gone in `c`).
  for (let p = c.indexOf("("); p >= 0; p = c.indexOf("(", p + 1)) {
    let k = p - 1;
    const quoted = c.charCodeAt(k) === 41 || c.charCodeAt(k) === 34 || c.charCodeAt(k) === 39;
    // `("system")("id")`, `"system"(ls)`, `(system)(id)`: a function name as a string, then called.
    if (quoted)
      while (
        k >= 0 &&
        k > p - 4 &&
        (c.charCodeAt(k) === 41 || c.charCodeAt(k) === 34 || c.charCodeAt(k) === 39)
      )
        k--;
    const end = k + 1;
    while (k >= 0 && end - k <= 40 && isIdent(c.charCodeAt(k))) k--;
    if (k === end - 1 || end - k > 40) continue;
    const name = c.slice(k + 1, end);
    if (quoted) {
      const open = c.charCodeAt(k);
      if (VARIABLE_CALLS_SET.has(name) && (open === 34 || open === 39 || open === 40)) return true;
      continue;
    }
    // `FOOgzinflate()`: these names count even glued to other letters.
    if (PHP_ONLY_CALLS.some((n) => name.endsWith(n))) return true;
    const before = k >= 0 ? c.charCodeAt(k) : -1;
    if (before === 46 || !PHP_CALLS_SET.has(name)) continue; // `.exec(` is a method: Node's rule
    if (codeArgument(c, p + 1) || (VARIABLE_CALLS_SET.has(name) && bareArgument(c, p + 1))) return true;
  }
  if (variableCall(v) || (c !== v && variableCall(c, true))) return true;
  if (builtCall(c) || joinedName(c)) return true;
  // preg_replace with the `e` modifier evaluates the replacement.
  for (let i = c.indexOf("preg_replace("); i >= 0; i = c.indexOf("preg_replace(", i + 1)) {
    const q = c.charCodeAt(i + 13);
    if (q !== 39 && q !== 34) continue;
    const stop = Math.min(c.length, i + 270);
    let k = i + 15;
    while (k < stop && c.charCodeAt(k) !== q) k++; // end of the pattern string
    let m = k - 1;
    while (m > i + 14 && isLower(c.charCodeAt(m))) m--;
    if (c.charCodeAt(m) !== 47 && c.charCodeAt(m) !== 35) continue;
    if (c.slice(m + 1, k).includes("e")) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Java, Node.js

// prettier-ignore
const JAVA = [
  "java.lang.runtime", "getruntime().exec(", "java.lang.processbuilder", "newprocessbuilder(",
  "javax.script.scriptenginemanager", "class.forname(", "java.beans.xmldecoder",
  ".getclass().forname(", "sun.misc.unsafe", "ognl.ognlcontext", "@ognl", "#_memberaccess",
];

// prettier-ignore
const NODE = [
  "process.mainmodule", "global.process", "globalthis.process", "child_process.exec", "child_process.spawn",
  "child_process.fork", "execsync(", "spawnsync(", "execfilesync(", "process.binding(", "this.constructor.constructor", "constructor.constructor(",
  "mainmodule", "require.main", "constructor._load(", ":constructor:constructor",
];

// Packages whose classes an exploit names (runtime, files, sockets, reflection, script engines, JNDI,
// gadget chains); in a value or a parameter name (`<java.io.File>`, `java.lang.Runtime=x`).
// prettier-ignore
const JAVA_PACKAGES = [
  "java.lang.", "java.io.", "java.net.", "java.nio.", "java.rmi.", "java.beans.", "javax.script", "javax.naming",
  "javax.management", "com.sun.", "org.omg.corba", "sun.misc.", "sun.reflect.", "jdk.nashorn",
  "org.apache.commons", "org.codehaus.groovy.runtime", "bsh.interpreter", "com.opensymphony.xwork2",
];
// Classes of the known deserialisation gadget chains (Commons Collections, Xalan, the JDK's own).
// prettier-ignore
const GADGET_HINTS = ["transformer", "factory", "templatesimpl", "invocationhandler", "badattribute"];
const PACKAGE_HINTS = ["java", "com.", "org.", "sun.", "jdk.", "bsh."];
// prettier-ignore
const GADGETS = [
  "invokertransformer", "instantiatetransformer", "instantiatefactory", "clonetransformer", "chainedtransformer",
  "constanttransformer", "prototypeclonefactory", "prototypeserializationfactory", "templatesimpl",
  "annotationinvocationhandler", "badattributevalueexpexception",
];

function isJava(v: string, c: string, name: string): boolean {
  if (JAVA.some((m) => c.includes(m)) || v.includes("#_memberaccess")) return true;
  const both = name === "" ? c : c + " " + name;
  // Cheap gates first: every gadget and package name holds one of these.
  if (GADGET_HINTS.some((h) => both.includes(h)) && GADGETS.some((g) => both.includes(g))) return true;
  // `forclosure`, `whileclosure`: gadget names, but also a common misspelling; with a process class only.
  if (both.includes("closure") && /forclosure|whileclosure/.test(both) && /processbuilder|runtime/.test(both))
    return true;
  if (!PACKAGE_HINTS.some((h) => both.includes(h))) return false;
  if (hasWordStart(c, "java.processbuilder")) return true;
  // `java.Runtime` (but not the `java.runtime.version` property)
  for (let i = c.indexOf("java.runtime"); i >= 0; i = c.indexOf("java.runtime", i + 1))
    if (c.charCodeAt(i + 12) !== 46 && (i === 0 || !isIdent(c.charCodeAt(i - 1)))) return true;
  return JAVA_PACKAGES.some((p) => hasWordStart(c, p) || hasWordStart(name, p));
}

// Conditions that never change: `while(!0)`, `while(+Infinity)`, `while(new Date)` hang the event loop.
const CONSTANT_WORDS = new Set([
  "true",
  "false",
  "null",
  "undefined",
  "nan",
  "infinity",
  "this",
  "string",
  "newdate",
]);

const TRUTHY_WORDS = new Set(["true", "infinity", "this", "string", "newdate"]);

/** `while(<constant>)`: the condition is signs, brackets and quotes around a literal or nothing. */
function constantLoop(c: string): boolean {
  for (let i = c.indexOf("while("); i >= 0; i = c.indexOf("while(", i + 1)) {
    if (i > 0 && isIdent(c.charCodeAt(i - 1))) continue;
    let depth = 1;
    let word = "";
    let ok = true;
    let bangs = 0;
    let object = false;
    const stop = Math.min(c.length, i + 30);
    let k = i + 6;
    for (; k < stop && depth > 0; k++) {
      const ch = c.charCodeAt(k);
      if (ch === 40) depth++;
      else if (ch === 41) depth--;
      else if (isIdent(ch)) word += c[k];
      else if (ch === 33) bangs++;
      else if (ch === 91 || ch === 123) object = true;
      else if (!"+-]}'\"`".includes(c[k]!)) ok = false;
    }
    if (!ok || depth > 0 || !(word === "" || CONSTANT_WORDS.has(word) || /^\d+$/.test(word))) continue;
    // Truthy as JavaScript reads it: `while(!true)` never runs, `while(!'')` never ends.
    const truthy = word === "" ? object : TRUTHY_WORDS.has(word) || /[1-9]/.test(word);
    if (truthy !== (bangs % 2 === 1)) return true;
  }
  return false;
}

// Every entry of NODE holds one of these.
const NODE_HINTS = ["process", "sync(", "constructor", "mainmodule", "require.main"];

// Node's globals reached the way an injected expression reaches them (compacted, lowercased).
// prettier-ignore
const NODE_GLOBALS = [
  "process[", "require[", "module.exports", "newfunction(", "eval(string.fromcharcode",
  "console[", "'child_process'", '"child_process"', "`child_process`", "function(){", "process.kill(",
  "process.exit(", "process.cwd(", "process.dlopen(", "process.binding",
];
// Console methods an injection calls to probe whether its code runs.
const CONSOLE_METHODS = ["log", "info", "warn", "error", "debug", "trace", "dir", "table"];

function isNode(c: string, v: string): boolean {
  if (NODE_HINTS.some((h) => c.includes(h)) && NODE.some((n) => c.includes(n))) return true;
  if (NODE_GLOBALS.some((g) => hasWordStart(c, g))) return true;
  // `process.env` read whole (to leak it); `process.env.NODE_ENV` is how docs and configs name one variable.
  for (let i = c.indexOf("process.env"); i >= 0; i = c.indexOf("process.env", i + 1))
    if (
      (i === 0 || !isIdent(c.charCodeAt(i - 1))) &&
      !isIdent(c.charCodeAt(i + 11)) &&
      c.charCodeAt(i + 11) !== 46
    )
      return true;
  for (let i = c.indexOf("console."); i >= 0; i = c.indexOf("console.", i + 1)) {
    if (i > 0 && isIdent(c.charCodeAt(i - 1))) continue;
    for (const m of CONSOLE_METHODS)
      if (
        c.startsWith(m, i + 8) &&
        (c.charCodeAt(i + 8 + m.length) === 40 || c.startsWith(".call(", i + 8 + m.length))
      )
        return true;
  }
  if (flightReference(v)) return true;
  if (constantLoop(c)) return true;
  for (let i = c.indexOf("require("); i >= 0; i = c.indexOf("require(", i + 1)) {
    const q = c.charCodeAt(i + 8);
    if (
      (q === 39 || q === 34 || q === 96) &&
      /^(?:child_process|vm|fs|net)['"`]/.test(c.slice(i + 9, i + 24))
    )
      return true;
  }
  return false;
}

/**
 * React Flight's `"$7:Module:prototype"`: a server-component reference walking a module's
 * properties into its prototype or constructor (the CVE-2025-55182 shape).
 */
function flightReference(v: string): boolean {
  if (v.indexOf('"$') < 0) return false;
  for (const key of [":prototype", ":__proto__", ":constructor"])
    for (let i = v.indexOf(key); i >= 0; i = v.indexOf(key, i + 1)) {
      let k = i - 1;
      const stop = Math.max(0, i - 48);
      while (k > stop && (isIdent(v.charCodeAt(k)) || v.charCodeAt(k) === 58 || v.charCodeAt(k) === 64)) k--;
      if (v.charCodeAt(k) === 36 && v.charCodeAt(k - 1) === 34) return true;
    }
  return false;
}

// Ruby's ways to start a process from an injected expression.
// prettier-ignore
const RUBY = [
  "process.spawn(", "kernel.exec(", "kernel.system(", "kernel.spawn(", "kernel.open(", "io.popen(",
  "open3.popen3(", "open3.capture2(", "open3.capture3(", "pty.spawn(", "kernel.`",
];

function isRuby(c: string): boolean {
  return c.indexOf(".") >= 0 && RUBY.some((r) => hasWordStart(c, r));
}

// ---------------------------------------------------------------------------------------------
// Prototype pollution

/** Whether `__proto__` or `constructor` then `prototype` appears as a key path (joined by `.`, `[`, `"`, `:`). */
function isPollution(v: string, name: boolean): boolean {
  for (let i = v.indexOf("__proto__"); i >= 0; i = v.indexOf("__proto__", i + 1)) {
    if (name) return true;
    let k = i + 9;
    while (
      k < v.length &&
      k < i + 14 &&
      (v.charCodeAt(k) === 93 || v.charCodeAt(k) === 34 || v.charCodeAt(k) === 39)
    )
      k++;
    while (k < v.length && k < i + 20 && isSpace(v.charCodeAt(k))) k++;
    const c = v.charCodeAt(k);
    if (c === 91 || c === 46 || c === 61 || c === 58) return true; // [ . = :
    const prev = i > 0 ? v.charCodeAt(i - 1) : -1;
    if (prev === 91 || prev === 46) return true; // x[__proto__], x.__proto__
  }
  for (let i = v.indexOf("constructor"); i >= 0; i = v.indexOf("constructor", i + 1)) {
    let k = i + 11;
    let joined = false;
    const stop = Math.min(v.length, i + 24);
    for (; k < stop; k++) {
      const c = v.charCodeAt(k);
      if (c === 46 || c === 91 || c === 93 || c === 34 || c === 39 || c === 58 || c === 123) joined = true;
      else if (!isSpace(c)) break;
    }
    if (joined && v.startsWith("prototype", k)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Deserialisation

// prettier-ignore
const SERIAL_MARKERS = [
  "!!python/", "!!javax.", "!!java.", "!!com.sun.", "!!org.apache.", "!ruby/object", "!ruby/hash",
  "c__builtin__", "cbuiltins\n", "os\nsystem", "posix\nsystem", "subprocess\npopen", "os\\nsystem",
  "posix\\nsystem", "objectdataprovider", "windowsidentity", "typeconfusedelegate",
  "system.data.services.internal", "system.windows.data", "activitysurrogateselector",
  "_$$nd_func$$_", "__js_function",
];

/** `O:8:"stdClass":1:{` (and `C:` custom) as PHP's serialize() writes objects, lowercased. */
function phpObjectAt(v: string, i: number): boolean {
  let k = i + 2;
  const start = k;
  while (k < v.length && k < start + 5 && isDigit(v.charCodeAt(k))) k++;
  if (k === start || v.charCodeAt(k) !== 58 || v.charCodeAt(k + 1) !== 34) return false;
  const len = Number(v.slice(start, k));
  if (len > 128) return false;
  k += 2;
  const nameEnd = k + len;
  if (nameEnd >= v.length || v.charCodeAt(nameEnd) !== 34 || v.charCodeAt(nameEnd + 1) !== 58) return false;
  for (let m = k; m < nameEnd; m++) if (!isIdent(v.charCodeAt(m)) && v.charCodeAt(m) !== 92) return false;
  k = nameEnd + 2;
  const digits = k;
  while (k < v.length && k < digits + 6 && isDigit(v.charCodeAt(k))) k++;
  return k > digits && v.charCodeAt(k) === 58 && v.charCodeAt(k + 1) === 123;
}

function isDeserialization(raw: string, v: string): boolean {
  // Java's stream header, as base64, as hex and as bytes (NULs dropped by the decoder).
  for (let i = raw.indexOf("rO0AB"); i >= 0; i = raw.indexOf("rO0AB", i + 1))
    if (i === 0 || !isIdent(raw.charCodeAt(i - 1))) return true;
  if (hasWordStart(v, "aced0005")) return true;
  for (let i = raw.indexOf("\xac\xed"); i >= 0; i = raw.indexOf("\xac\xed", i + 1)) {
    const n = raw.charCodeAt(i + 2) === 0 ? raw.charCodeAt(i + 3) : raw.charCodeAt(i + 2);
    if (n === 5) return true;
  }
  for (const p of ["o:", "c:"])
    for (let i = v.indexOf(p); i >= 0; i = v.indexOf(p, i + 1))
      if ((i === 0 || !isIdent(v.charCodeAt(i - 1))) && phpObjectAt(v, i)) return true;
  if (SERIAL_MARKERS.some((m) => v.includes(m))) return true;
  if (v.startsWith("cos\n") || v.includes("\ncos\n") || v.startsWith("cposix\n")) return true;
  // .NET type hints naming a framework type.
  for (const key of ["$type", "__type", "typeobject"]) {
    const w = after(v, key, 200);
    if (w.includes("system.") || w.includes("microsoft.")) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Template injection

// Expression openers and where their expression ends.
const OPENERS: readonly (readonly [string, string])[] = [
  ["{{", "}}"],
  ["{%", "%}"],
  ["${", "}"],
  ["#{", "}"],
  ["*{", "}"],
  ["@{", "}"],
  ["<%", "%>"],
  ["@(", ")"],
];

// Inside a template expression these reach the runtime, the shell or the interpreter's internals.
// prettier-ignore
const RUNTIME = [
  "runtime", ".exec(", "processbuilder", "getclass", "forname(", "popen(", "os.system", "system(", "subprocess",
  "__import__", "eval(", "`", "%x(", "%x{", "io.popen", "file.open", "file.read", "passthru", "shell_exec",
  "_self.env", "registerundefinedfiltercallback", "|attr(", "|filter(", "|map(", "getattribute(",
  "self.__", "config.items", "request.application", "request.environ", "lipsum.", "cycler.", "joiner.",
  "namespace.", "url_for.", "get_flashed_messages", "t(java", "new java.", "java.lang", "freemarker",
  "require(", "child_process", "process.mainmodule", "constructor.constructor",
];
// Anywhere in a value: Python sandbox escapes and template engines' own escape hatches.
// prettier-ignore
const TEMPLATE_ANYWHERE = [
  "__globals__", "__subclasses__", "__mro__", "__builtins__", "__init__.__", "__class__.__",
  "freemarker.template.utility", "?new()", "registerundefinedfiltercallback", "{php}", "{/php}",
  "$class.inspect", "$class.forname", ".getclass().forname",
];

/** The expression text of each opener, up to its closer or 256 chars; windows do not overlap. */
function expressions(v: string, open: string, close: string, visit: (inner: string) => boolean): boolean {
  let nextClose = 0;
  for (let i = v.indexOf(open); i >= 0;) {
    const start = i + open.length;
    const stop = Math.min(v.length, start + 256);
    // The next closer, searched again only once passed: unclosed openers cost one scan in all.
    if (nextClose >= 0 && nextClose < start) nextClose = v.indexOf(close, start);
    const end = nextClose;
    const inner = v.slice(start, end >= 0 && end < stop ? end : stop);
    // `{{ a {{7*7}}`: the innermost opener's expression.
    const nested = inner.lastIndexOf(open);
    if (visit(inner) || (nested >= 0 && visit(inner.slice(nested + open.length)))) return true;
    i = v.indexOf(open, start + inner.length);
  }
  return false;
}

/** `7*7`, `7*'7'`, `1337 * 1337`: numbers and one operator, quotes and spaces allowed. */
function arithmetic(inner: string): "*" | "other" | null {
  let s = "";
  for (let i = 0; i < inner.length; i++) {
    const c = inner.charCodeAt(i);
    if (isSpace(c) || c === 39 || c === 34 || c === 123 || c === 40 || c === 41 || c === 61) continue;
    s += inner[i];
  }
  const m = /^(\d{1,9})([*+\-/%])(\d{1,9})$/.exec(s);
  if (m === null) return null;
  return m[2] === "*" ? "*" : "other";
}

function classifyTemplate(v: string): RuleId | null {
  if (TEMPLATE_ANYWHERE.some((m) => v.includes(m))) return "code-template-injection";
  const set = after(v, "#set(", 300);
  if (set.includes("getclass") || set.includes("forname") || set.includes("runtime"))
    return "code-template-injection";
  const assign = after(v, "<#assign", 300);
  if (assign.includes("?new") || assign.includes("execute") || assign.includes("objectconstructor"))
    return "code-template-injection";
  let expression = false;
  for (const [open, close] of OPENERS) {
    if (v.indexOf(open) < 0) continue;
    const hit = expressions(v, open, close, (inner) => {
      if (RUNTIME.some((m) => inner.includes(m))) return true;
      const a = arithmetic(inner);
      if (a === "other") expression = true;
      // `{{config}}`, `{{self}}`: Jinja's config object and template self-reference.
      const bare = inner.trim();
      if (open === "{{" && (bare === "config" || bare === "self" || bare === "settings")) return true;
      // `{% if True %}49{% endif %}`: a probe for which engine renders control tags.
      if ((open === "{%" || open === "<%") && /^[=-]?\s*if\s*(?:true|1|1\s*==\s*1)\s*$/.test(bare))
        return true;
      return a === "*";
    });
    if (hit) return "code-template-injection";
  }
  return expression ? "code-template-expression" : null;
}

// ---------------------------------------------------------------------------------------------
// Prefilter: one pass over a value finds the anchors, characters or keywords, without which a
// group of rules cannot match; only the groups found then run. Nearly every benign value finds
// none, and skips lowercasing, compaction and every rule but the base64 one.

const G_JNDI = 1;
const G_PHP = 2; // isPhp and variableVariable
const G_PHP_CALL = 4;
const G_SUPERGLOBAL = 8;
const G_INI = 16;
const G_JAVA = 32;
const G_JAVA_PATH = 64;
const G_NODE_JS = 128;
const G_RUBY = 256;
const G_PERL = 512;
const G_POLLUTION = 1024;
const G_DESERIALIZATION = 2048;
const G_TEMPLATE = 4096;
/** Not a group: `c` may drop a comment from the value, and join text across it. */
const G_COMMENT = 8192;
/** The groups whose rules read the compacted value. */
const G_C_GROUPS =
  G_JNDI | G_PHP | G_PHP_CALL | G_SUPERGLOBAL | G_JAVA | G_JAVA_PATH | G_NODE_JS | G_RUBY | G_PERL;
/** The groups that read the target's name. */
const G_NAME_GROUPS = G_JAVA | G_JAVA_PATH | G_POLLUTION;

// Each group's anchors, lowercase. Rules reading the compacted text (`c`) find their anchors in
// it, so the scan skips whitespace as compact() does; one reading the value (`v`) finds them in
// it, and then also in that whitespace-free text. Every rule's every match contains one of its
// group's anchors; the comments say which rule needs which.
// prettier-ignore
const ANCHORS: readonly (readonly [number, readonly string[]])[] = [
  // isJndi: `${` in the value once `&lbrace;` became `{`.
  [G_JNDI, ["${", "$&lbrace"]],
  // isPhp: open tags, phpinfo, `[php]` blocks (in v); in c, the calls it knows followed by `(`,
  // a name built from pieces (a quote or bracket before `(`, quoted pieces joined), preg_replace;
  // a variable called (`$`). variableVariable needs `$` too.
  [G_PHP, [
    "<?", "phpinfo(", "[php]", "[/php]", "[\\php]", "$", ")(", "](", "}(", "\"(", "'(", "'.'", "'+'", "\".\"",
    "\"+\"", "preg_replace(", ...[...PHP_CALLS_SET, ...PHP_ONLY_CALLS].map((n) => n + "("),
  ]],
  // superglobal: `$`. (G_PHP_CALL has no anchor: the scan looks for a name before `(`.)
  [G_SUPERGLOBAL, ["$"]],
  // iniDirective: `=`.
  [G_INI, ["="]],
  // isJava, in c and the name: its JAVA markers, the gadget hints, `closure`, and the package
  // hints that every package path starts with.
  [G_JAVA, [
    "java", "getruntime", "newprocessbuilder(", "forname", "ognl", "memberaccess", "closure", ...GADGET_HINTS,
    ...PACKAGE_HINTS.filter((h) => h !== "java"),
  ]],
  // javaProcessPath, in c and the name: `java.` or `javax.`.
  [G_JAVA_PATH, ["java"]],
  // isNode, in c: the hints every NODE entry holds; the globals' and loops' words; `"$` in v.
  [G_NODE_JS, [
    ...NODE_HINTS, "require", "module.exports", "newfunction(", "eval(", "console", "function(){", "while(", '"$',
  ]],
  // isRuby, in c.
  [G_RUBY, ["process.spawn(", "kernel.", "io.popen(", "open3.", "pty.spawn("]],
  // Perl's `@{[`, in c.
  [G_PERL, ["@{["]],
  // isPollution, in v and the name.
  [G_POLLUTION, ["__proto__", "constructor"]],
  // isDeserialization, in the raw value and v (markers with a newline: the scan flags newlines).
  [G_DESERIALIZATION, [
    "ro0ab", "aced0005", "\xac\xed", "o:", "c:", "!!", "!ruby/", "c__builtin__", "\\nsystem", "objectdataprovider",
    "windowsidentity", "typeconfusedelegate", "system.", "microsoft.", "activitysurrogateselector", "_$$nd_func$$_",
    "__js_function",
  ]],
  // classifyTemplate, in v: `__` starts the Python escapes; the engines' hatches; the openers.
  [G_TEMPLATE, [
    "__", "freemarker", "?new()", "registerundefinedfiltercallback", "{php}", "{/php}", "$class.", ".getclass()",
    "#set(", "<#assign", ...OPENERS.map(([open]) => open),
  ]],
];

// Per ASCII char: its identifier kind (isIdent: a letter or `_`, or a digit), whether base64Java
// counts it in a run (as upper case or digit, as lower case, as `A`), and whether the scan looks
// at it apart (RARE: `(`, comment openers, newlines).
const IDENT_LETTER = 1;
const IDENT_DIGIT = 2;
const B64 = 4;
const B64_UPPER = 8;
const B64_LOWER = 16;
const B64_ZERO = 32; // `A`, six zero bits
const RARE = 64;
const CHAR_INFO = new Uint8Array(128);
for (let ch = 0; ch < 128; ch++) {
  let info = isDigit(ch) ? IDENT_DIGIT : isIdent(ch) ? IDENT_LETTER : 0;
  if (isIdent(ch) || ch === 43 || ch === 47 || ch === 45) info |= B64;
  if (isDigit(ch) || (ch >= 65 && ch <= 90)) info |= B64_UPPER;
  if (isLower(ch)) info |= B64_LOWER;
  if (ch === 65) info |= B64_ZERO;
  if (ch === 40 || ch === 35 || ch === 47 || ch === 42 || ch === 10) info |= RARE;
  CHAR_INFO[ch] = info;
}
const B64_MIXED = B64_UPPER | B64_LOWER;

// The scan is an Aho-Corasick automaton over char classes: each char an anchor holds has a class
// (upper case folded onto lower case); every other char is class 0, which no anchor holds.
const ASCII_CLASS = new Uint8Array(128);
let classCount = 1;
for (const [, words] of ANCHORS)
  for (const w of words)
    for (let i = 0; i < w.length; i++) {
      const ch = w.charCodeAt(i);
      if (ch < 128 && ASCII_CLASS[ch] === 0) {
        ASCII_CLASS[ch] = classCount++;
        if (isLower(ch)) ASCII_CLASS[ch - 32] = ASCII_CLASS[ch]!;
      }
    }
const CLASS_AC = classCount++;
const CLASS_ED = classCount++;
/** Whitespace: compact() drops it, so it leaves the automaton where it is. */
const CLASS_SPACE = classCount++;
for (let ch = 0; ch < 128; ch++) if (isSpace(ch)) ASCII_CLASS[ch] = CLASS_SPACE;
const CLASSES = classCount;
/** Per ASCII char, CHAR_INFO and the class in one load: `info << 8 | class`. */
const CHAR_ENTRY = new Uint16Array(128); // info fits in 8 bits, classes too
for (let ch = 0; ch < 128; ch++) CHAR_ENTRY[ch] = (CHAR_INFO[ch]! << 8) | ASCII_CLASS[ch]!;
/** A state's row in TABLE: the next state's row per class, then the groups found on arriving. */
const ROW = CLASSES + 1;

/**
 * The class of char `ch` as lowercased text shows it: `İ` lowercases to `i` and a combining dot,
 * `K` (Kelvin) to `k`; no other char outside ASCII lowercases to ASCII. `\xac\xed` is read raw.
 */
function classOf(ch: number): number {
  if (ch < 128) return ASCII_CLASS[ch]!;
  if (ch === 0xac) return CLASS_AC;
  if (ch === 0xed) return CLASS_ED;
  if (ch === 0x130) return ASCII_CLASS[105]!;
  if (ch === 0x212a) return ASCII_CLASS[107]!;
  return 0;
}

/** The automaton, one ROW per state (rows, not state numbers, so the scan needs no multiplication). */
const TABLE = (() => {
  const children: number[][] = [[]];
  const out: number[] = [0];
  for (const [groups, words] of ANCHORS)
    for (const w of words) {
      let s = 0;
      for (let i = 0; i < w.length; i++) {
        const k = classOf(w.charCodeAt(i));
        if (children[s]![k] === undefined) {
          children[s]![k] = children.length;
          children.push([]);
          out.push(0);
        }
        s = children[s]![k]!;
      }
      out[s]! |= groups;
    }
  const next = new Int32Array(children.length * CLASSES); // next state per class
  const fail = new Int32Array(children.length);
  const queue: number[] = [];
  for (let k = 0; k < CLASSES; k++) {
    const t = children[0]![k];
    if (t !== undefined) {
      next[k] = t;
      queue.push(t);
    }
  }
  // Breadth first: a state's fallback (the longest proper suffix in the trie) is shallower, so done.
  for (let q = 0; q < queue.length; q++) {
    const s = queue[q]!;
    out[s]! |= out[fail[s]!]!;
    for (let k = 0; k < CLASSES; k++) {
      const t = children[s]![k];
      const viaFail = next[fail[s]! * CLASSES + k]!;
      if (t === undefined) next[s * CLASSES + k] = viaFail;
      else {
        fail[t] = viaFail;
        next[s * CLASSES + k] = t;
        queue.push(t);
      }
    }
  }
  // Rows and group bits fit in 16 bits (a check at load, should anchors grow): half the cache lines.
  if (children.length * ROW > 0xffff) throw new Error("code anchors: automaton too large for 16 bits");
  const table = new Uint16Array(children.length * ROW);
  for (let s = 0; s < children.length; s++) {
    for (let k = 0; k < CLASSES; k++)
      table[s * ROW + k] = k === CLASS_SPACE ? s * ROW : next[s * CLASSES + k]! * ROW;
    table[s * ROW + CLASSES] = out[s]!;
  }
  return table;
})();

/** Not a group: base64Java has a run to decode. */
const G_BASE64 = 16384;

/**
 * The rule groups whose anchors `s` holds, read with whitespace skipped (as compact() drops it:
 * anchors in `c`, and those in `v`, are then all found, with some extra). `G_PHP_CALL` when an
 * identifier that does not start with a digit comes right before `(`, the only calls phpCall
 * reads. `G_COMMENT` when compact() may drop a comment with text after it: `/*` closed by `*` and
 * `/`, or `#` or `//` and a newline (a `/*` never closed drops the rest, which joins nothing).
 * `G_BASE64` when a run of base64 chars could hold what base64Java looks for.
 */
function anchorsIn(s: string): number {
  let row = 0;
  let groups = 0;
  let b64 = 0; // length of the base64 run just read
  let b64Kinds = 0;
  let commentStart = false; // `#` or `//`
  let blockAt = -1; // the first `/*`
  let newline = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    const entry = ch < 128 ? CHAR_ENTRY[ch]! : classOf(ch);
    row = TABLE[row + (entry & 0xff)]!;
    groups |= TABLE[row + CLASSES]!;
    if ((entry & (B64 << 8)) !== 0) {
      b64++;
      b64Kinds |= entry >> 8;
      // base64Java decodes runs of MIN_RUN chars mixing cases, with an `A` or of MIN_CLASS_RUN chars.
      if (
        b64 >= MIN_RUN &&
        (b64Kinds & B64_MIXED) === B64_MIXED &&
        (b64 >= MIN_CLASS_RUN || (b64Kinds & B64_ZERO) !== 0)
      )
        groups |= G_BASE64;
    } else {
      b64 = 0;
      b64Kinds = 0;
    }
    if ((entry & (RARE << 8)) === 0) continue;
    const before = i > 0 ? s.charCodeAt(i - 1) : -1;
    if (ch === 40) {
      if (callNameStart(s, i) === IDENT_LETTER) groups |= G_PHP_CALL;
    } else if (ch === 10) newline = true;
    else if (ch === 35 || (ch === 47 && before === 47)) commentStart = true;
    else if (ch === 42 && before === 47) {
      if (blockAt < 0) blockAt = i - 1;
    } else if (ch === 47 && before === 42 && blockAt >= 0 && i - 1 >= blockAt + 2) groups |= G_COMMENT;
  }
  // Pickle's and PHP's markers hold newlines (`cos\nsystem`); a comment to the end of a line needs one.
  if (newline) groups |= G_DESERIALIZATION | (commentStart ? G_COMMENT : 0);
  return groups;
}

/**
 * The identifier kind of the first char of the name before the `(` at `p`, whitespace skipped
 * (compact() joins `system (`), 0 if none. `K` lowercases to a letter; `İ` to `i` and a combining
 * dot, which ends the name. Each walk stops at the char before the name, at latest the previous
 * `(`, so the walks together stay linear.
 */
function callNameStart(s: string, p: number): number {
  let first = 0;
  for (let k = p - 1; k >= 0; k--) {
    const ch = s.charCodeAt(k);
    if (isSpace(ch)) continue;
    const kind = ch < 128 ? CHAR_INFO[ch]! & (IDENT_LETTER | IDENT_DIGIT) : ch === 0x212a ? IDENT_LETTER : 0;
    if (kind === 0) break;
    first = kind;
  }
  return first;
}

/** What classifyCode needs of a target's name, kept per name. */
interface NameFacts {
  /** The rule groups whose anchors the name holds (G_NAME_GROUPS only). */
  groups: number;
  /** isFileNameTarget. */
  fileName: boolean;
}

// Facts of recent target names (a request's names recur in the next, its variants come one after
// another under one name): short names only, and at most NAME_CACHE, so attackers cannot grow it.
const NAME_CACHE = 1024;
const nameCache = new Map<string, NameFacts>();
let lastName = "";
let lastFacts: NameFacts = { groups: 0, fileName: false };

function nameFacts(name: string): NameFacts {
  if (name === lastName) return lastFacts;
  let facts = nameCache.get(name);
  if (facts === undefined) {
    facts = {
      groups: anchorsIn(name) & G_NAME_GROUPS,
      fileName: isFileNameTarget(name),
    };
    if (name.length <= 64) {
      if (nameCache.size >= NAME_CACHE) nameCache.clear();
      nameCache.set(name, facts);
    }
  }
  lastName = name;
  lastFacts = facts;
  return facts;
}

const NO_BASE64 = { stream: false, className: false } as const;

/** Rules a value (and, for prototype pollution, the target's name) matches, at every paranoia level. */
export function classifyCode(value: string, name = ""): RuleId[] {
  const out: RuleId[] = [];
  let groups = anchorsIn(value);
  const facts = name === "" ? null : nameFacts(name);
  const named = facts === null ? 0 : facts.groups;
  let v = "";
  let c = "";
  if (((groups | named) & ~G_BASE64) !== 0) {
    v = value.toLowerCase();
    // A dropped comment can join text into an anchor that the value does not hold: read `c` too.
    if ((groups & G_COMMENT) !== 0) {
      c = compact(v);
      groups |= anchorsIn(c) & ~G_COMMENT;
    } else if (((groups | named) & G_C_GROUPS) !== 0) c = compact(v);
  }
  const n = (groups & G_JAVA) !== 0 || named !== 0 ? name.toLowerCase() : "";
  if ((groups & G_JNDI) !== 0 && isJndi(v, c)) out.push("code-jndi");
  if ((groups & G_PHP) !== 0 && (isPhp(v, c) || variableVariable(v))) out.push("code-php");
  if ((groups & G_PHP_CALL) !== 0) {
    const call = phpCall(c);
    if (call === "function" || call === "word-code") out.push("code-php-function");
    else if (call === "prefix") out.push("code-php-extension-call");
    else if (call === "word") out.push("code-php-word-call");
  }
  if ((groups & G_SUPERGLOBAL) !== 0 && superglobal(c)) out.push("code-php-superglobal");
  if ((groups & G_INI) !== 0 && iniDirective(v)) out.push("code-php-ini");
  if (facts !== null && facts.fileName) {
    const u = uploadName(value);
    if (u === "final" || u === "session") out.push("code-upload-script");
    else if (u === "inner") out.push("code-upload-double-extension");
  }
  if (((groups | named) & G_JAVA) !== 0 && isJava(v, c, n)) out.push("code-java");
  if (
    ((groups & G_JAVA_PATH) !== 0 && javaProcessPath(c)) ||
    ((named & G_JAVA_PATH) !== 0 && javaProcessPath(n))
  )
    out.push("code-java-class-path");
  const b64 = (groups & G_BASE64) !== 0 ? base64Java(value) : NO_BASE64;
  if (b64.stream) out.push("code-java-stream-base64");
  if (b64.className) out.push("code-java-class-base64");
  if ((groups & G_NODE_JS) !== 0 && isNode(c, v)) out.push("code-node");
  if ((groups & G_RUBY) !== 0 && isRuby(c)) out.push("code-ruby");
  // Perl's `@{[ … ]}` runs code inside an interpolated string; nothing else writes it.
  if ((groups & G_PERL) !== 0 && c.includes("@{[")) out.push("code-perl");
  if (
    ((groups & G_POLLUTION) !== 0 && isPollution(v, false)) ||
    ((named & G_POLLUTION) !== 0 && isPollution(n, true))
  )
    out.push("code-prototype-pollution");
  if ((groups & G_DESERIALIZATION) !== 0 && isDeserialization(value, v)) out.push("code-deserialization");
  if ((groups & G_TEMPLATE) !== 0) {
    const t = classifyTemplate(v);
    if (t !== null) out.push(t);
  }
  return out;
}

export const codeDetector: Detector = {
  name: "code",
  inspect(target: Target): Detection[] {
    return classifyCode(target.value, target.name).map((rule) => {
      const r = CODE_RULES[rule];
      return { rule, tags: r.tags, paranoia: r.paranoia, severity: r.severity, target: target.name };
    });
  },
};
