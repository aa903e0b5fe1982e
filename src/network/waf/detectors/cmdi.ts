// OS command injection, POSIX and Windows shells. The detector finds command positions (after a
// separator such as `;` `|` `&&` or a newline, inside `$(…)` or backticks, at the start of the value)
// and reads the word there as a shell would; a known command counts according to how unlike prose
// it is: `whoami` is never English, `cat` is, so `cat` needs arguments shaped like a shell's (`-x`,
// `/path`, `$VAR`, a redirection) or to stand bare between separators (`;id;`). decode.ts's shell
// view undoes `c''at`, `c^md`, `$@`, `${IFS}`; this file also reads quote-split words on the raw value
// (to flag the split itself), drops `$?`, `$_`, `$u`, lower-case `$ifs` and `c\at` escapes, which the
// shell view misses or the JS decoder mangles. Rules are our own.
import type { Detection, Detector, ParanoiaLevel, Severity, Target } from "../types.ts";
import { words } from "./lexicon.ts";

type RuleId =
  | "cmdi-separator-command"
  | "cmdi-substitution"
  | "cmdi-windows"
  | "cmdi-shellshock"
  | "cmdi-binary-path"
  | "cmdi-command-line"
  | "cmdi-glob-path"
  | "cmdi-evasion"
  | "cmdi-option-command"
  | "cmdi-reverse-shell"
  | "cmdi-command-word";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tag: string;
}

/**
 * PL1: shapes prose does not produce: a separator or substitution then a tool that is no English word
 * or a command with shell-shaped arguments, a binary path, path globs, quote-split command names,
 * batch syntax, Shellshock, and a value that is itself a command line (`ls -la /tmp`; on the dev set
 * this adds 3.6 points of RCE detection and no real-traffic false positive; a field meant for code
 * gets a scoped exclusion). PL2: a known command word after `&&`/`||`/`|` with prose arguments
 * (`a && echo vulnerable`), `` `id` ``, an unknown program given options after a separator.
 */
export const CMDI_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "cmdi-separator-command": { paranoia: 1, severity: "critical", tag: "platform-unix" },
  "cmdi-substitution": { paranoia: 1, severity: "critical", tag: "platform-unix" },
  "cmdi-windows": { paranoia: 1, severity: "critical", tag: "platform-windows" },
  "cmdi-shellshock": { paranoia: 1, severity: "critical", tag: "shellshock" },
  "cmdi-binary-path": { paranoia: 1, severity: "critical", tag: "platform-unix" },
  "cmdi-command-line": { paranoia: 1, severity: "critical", tag: "platform-unix" },
  "cmdi-glob-path": { paranoia: 1, severity: "critical", tag: "platform-unix" },
  "cmdi-evasion": { paranoia: 1, severity: "critical", tag: "evasion" },
  "cmdi-option-command": { paranoia: 2, severity: "critical", tag: "platform-unix" },
  "cmdi-reverse-shell": { paranoia: 1, severity: "critical", tag: "platform-unix" },
  "cmdi-command-word": { paranoia: 2, severity: "critical", tag: "platform-unix" },
};

// Not English words: reconnaissance, download and shell tools. Any use after a separator counts.
const DISTINCT = words(
  "whoami uname ifconfig ipconfig nslookup netstat wget curl netcat ncat socat telnet busybox chmod chown " +
    "useradd adduser crontab xterm xxd nmap sudo passwd pwd printenv hostname lsof killall nohup " +
    "mkfifo uptime getent systeminfo tasklist taskkill certutil bitsadmin mshta regsvr32 rundll32 wmic " +
    "powershell pwsh regedit cscript wscript schtasks icacls whoami.exe net.exe cmd.exe bcdboot bcdedit " +
    "vssadmin wevtutil diskpart aptitude strace ltrace gunzip zcat",
);
// Commands that are also words ("cat", "id", "sleep"): they need shell-shaped arguments.
const COMMON = words(
  "cat tac id ls ps env echo printf sleep ping kill find grep egrep head tail more less sort wc cut awk sed " +
    "base64 tr rev tee touch rm cp mv mkdir rmdir ln cd dig host who w time timeout exec eval export alias source " +
    "xargs which whereis locate file stat diff tar zip unzip gzip nc sh bash zsh ksh csh dash tcsh fish " +
    "python perl ruby php node lua java gcc cc vi vim column set type dir net del copy ver start cmd " +
    "iex iwr irm at",
);
const WINDOWS = words(
  "type dir net del copy ver start cmd cmd.exe powershell pwsh ipconfig systeminfo tasklist taskkill certutil " +
    "bitsadmin mshta regsvr32 rundll32 wmic regedit cscript wscript schtasks icacls iex iwr irm net.exe whoami.exe " +
    "bcdboot bcdedit vssadmin wevtutil diskpart",
);
// Commands that run the next word as a command.
const PREFIXES = words("time sudo doas nohup strace ltrace exec env nice xargs command builtin");
const SHELLS = words("sh bash zsh ksh dash csh tcsh");
// Commands whose plain numeric argument is already a shell shape (`sleep 5`, `ping 127.0.0.1`).
const NUMERIC = words("sleep ping timeout");

// Windows PowerShell and cmd.exe spellings that are commands wherever they appear.
// prettier-ignore
const WINDOWS_NEEDLES = [
  "invoke-expression", "invoke-webrequest", "invoke-restmethod", "invoke-command", "start-process",
  "downloadstring(", "downloadfile(", "net.webclient", "-encodedcommand", "frombase64string(",
];

// `+` too: payloads URL-encoded twice keep it where a space was meant.
const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 11 || c === 12 || c === 43;
const isWordChar = (c: number): boolean =>
  (c >= 97 && c <= 122) ||
  (c >= 48 && c <= 57) ||
  (c >= 65 && c <= 90) ||
  c === 46 ||
  c === 95 ||
  c === 45 ||
  c === 47 ||
  c === 92 ||
  c === 58;
const isAlnum = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 48 && c <= 57);

/** Where a command may start: after `;`, `|`, `&`, a newline, `` ` ``, `$(`, `<(`, `(`, `{`. */
type Position = "start" | "separator" | "dollar" | "backtick" | "group";

function positionAt(v: string, i: number): Position | null {
  const c = v.charCodeAt(i);
  if (c === 59 || c === 124 || c === 38 || c === 10 || c === 13) return "separator";
  if (c === 96) return "backtick";
  if (c === 40) {
    const p = v.charCodeAt(i - 1);
    return p === 36 || p === 60 ? "dollar" : "group";
  }
  if (c === 123) return "group";
  return null;
}

/** Reduces `/usr/bin/cat`, `C:\Windows\System32\cmd.exe`, `python3.10` to the command; `bin` tells whether a binary directory was named. */
function commandName(word: string): { name: string; bin: boolean } {
  let name = word.indexOf("\\") < 0 ? word : word.replace(/\\/g, "/");
  let bin = false;
  const slash = name.lastIndexOf("/");
  if (slash >= 0) {
    const dir = name.slice(0, slash);
    name = name.slice(slash + 1);
    const windows = dir.endsWith("system32") && WINDOWS.has(name.replace(/\.exe$/, ""));
    if (!(dir.endsWith("bin") || windows)) return { name: "", bin: false };
    bin = true;
  }
  if (name.endsWith(".exe") && !DISTINCT.has(name)) name = name.slice(0, -4);
  const versioned = isAlnum(name.charCodeAt(name.length - 1)) && name.charCodeAt(name.length - 1) < 58;
  const v = versioned ? /^(python|perl|php|ruby|node|bash)[0-9.]*$/.exec(name) : null;
  return { name: v ? v[1]! : name, bin };
}

/** Whether the arguments up to the next separator look like a shell's: options, paths, variables, redirections, addresses. */
function shellArguments(v: string, from: number, command: string): "bare" | "shell" | "prose" {
  // `tr?abal`: a word glued to what follows is not a command with arguments
  if (from < v.length && !isSpace(v.charCodeAt(from)) && !";|&\n\r`}#,<>".includes(v[from]!)) return "prose";
  let i = from;
  while (i < v.length && (isSpace(v.charCodeAt(i)) || v.charCodeAt(i) === 44)) i++;
  if (i >= v.length) return "bare";
  if (";|&\n\r`}#".includes(v[i]!)) return "bare";
  let shell = false;
  for (let n = 0; n < 4 && i < v.length && !shell; n++) {
    const c = v.charCodeAt(i);
    const next = v.charCodeAt(i + 1);
    if (";|&\n\r`".includes(v[i]!)) break;
    if (c === 45 /* - */ && isAlnum(next)) shell = true;
    else if (
      (c === 47 || c === 126 || c === 92) /* / ~ \ */ &&
      (isAlnum(next) || next === 46 || next === 63 || next === 42 || next === 47)
    )
      shell = true;
    else if (c === 36 || c === 62 || c === 60 || c === 42 || c === 63)
      shell = true; // $ > < * ?
    else if (c === 46 && next === 47) shell = true; // ./x
    let j = i;
    const stop = Math.min(v.length, i + 256); // a token longer than this is not an argument we judge
    while (j < stop && !isSpace(v.charCodeAt(j)) && !";|&\n\r`".includes(v[j]!)) j++;
    const token = v.slice(i, j);
    if (
      !shell &&
      /[.:%]/.test(token) &&
      (token.includes("://") ||
        /%[a-z_]{2,}%/.test(token) ||
        /^\d{1,3}(\.\d{1,3}){3}/.test(token) ||
        /^[a-z]:([/\\"]|$)/.test(token))
    )
      shell = true;
    if (NUMERIC.has(command) && n === 0 && /^\d+$/.test(token)) {
      // `sleep 5` then the end or a separator, not `sleep 8 hours`
      let k = j;
      while (k < v.length && isSpace(v.charCodeAt(k))) k++;
      if (k >= v.length || ";|&\n\r`)#".includes(v[k]!)) shell = true;
    }
    i = j;
    while (i < v.length && isSpace(v.charCodeAt(i))) i++;
  }
  return shell ? "shell" : "prose";
}

/** What surrounds a command word, for `judge`. */
interface Context {
  position: Position;
  /** The separator is a shell-only operator: `&&`, `||` or a pipe. */
  operator: boolean;
  /** Nothing but blanks and quotes before the separator: the value opens by ending a command. */
  leading: boolean;
  /** No blank between the separator and the command (`;id`). */
  adjacent: boolean;
  /** The separator is glued to a word before it (`--exec=`id``), as Markdown code spans are not. */
  glued: boolean;
  distinct: boolean;
  bin: boolean;
  args: "bare" | "shell" | "prose";
}

/** Rules a value matches, at every paranoia level. */
export function classifyCmdi(value: string): RuleId[] {
  const v = value.toLowerCase();
  const out = new Set<RuleId>();
  if (isShellshock(v)) out.add("cmdi-shellshock");
  if (WINDOWS_NEEDLES.some((n) => v.includes(n)) || /\bcmd(\.exe)?\s*\/[ckr]\b/.test(v) || isBatchControl(v))
    out.add("cmdi-windows");
  if (v.includes("/dev/tcp/") || v.includes("/dev/udp/")) out.add("cmdi-reverse-shell");
  scan(v, out);
  const stripped = v.indexOf("$") >= 0 ? stripExpansions(v) : v;
  if (stripped !== v) scan(stripped, out);
  return [...out];
}

/** Finds command positions in `v` and judges the command at each. */
function scan(v: string, out: Set<RuleId>): void {
  if (hasGlobPath(v)) out.add("cmdi-glob-path");
  if (hasBinaryPath(v)) out.add("cmdi-binary-path");
  let first = 0;
  while (first < v.length && (isSpace(v.charCodeAt(first)) || v[first] === "'" || v[first] === '"')) first++;
  let backticks = 0;
  for (let i = -1; i < v.length; i++) {
    const position: Position | null = i < 0 ? "start" : positionAt(v, i);
    if (position === null) continue;
    // only an opening backtick starts a command; the word after a closing one is prose again
    if (position === "backtick" && ++backticks % 2 === 0) continue;
    let s = i + 1;
    // `&&`, `||`, `;;` and the like are one separator
    while (position === "separator" && s < v.length && positionAt(v, s) === "separator") s++;
    const op = v.slice(i, Math.min(s, i + 3));
    if (position === "separator") i = s - 1; // a run of separators is read once
    const adjacent = s < v.length && !isSpace(v.charCodeAt(s));
    while (s < v.length && isSpace(v.charCodeAt(s))) s++;
    const word = readWord(v, s);
    // `&id=3` in a query string is a parameter, not a command
    if (word.end === s || word.end - s > 64 || v.charCodeAt(word.end) === 61) continue;
    let { name, bin } = commandName(word.text);
    let e = word.end;
    let prefix = "";
    if (PREFIXES.has(name)) {
      // `time`, `sudo`, `nohup` … run the next word: judge that one
      let t = e;
      while (t < v.length && isSpace(v.charCodeAt(t))) t++;
      const next = readWord(v, t);
      const inner = commandName(next.text);
      if (DISTINCT.has(inner.name) || COMMON.has(inner.name)) {
        prefix = name;
        name = inner.name;
        bin ||= inner.bin;
        e = next.end;
      }
    }
    const distinct = DISTINCT.has(name);
    if (!distinct && !COMMON.has(name)) {
      // An unknown program after a separator, given options (`;lastlog -u root`, `;perf --version`)
      if (position === "separator" && /^[a-z][a-z0-9_-]{1,23}$/.test(name) && optionFollows(v, e))
        out.add(adjacent || i === first ? "cmdi-separator-command" : "cmdi-option-command");
      continue;
    }
    // `nohup x`, `strace x`, `sudo x` run a known command; `time x` and `nice x` only with a distinct one
    if (position === "start" && prefix !== "" && (distinct || !(prefix === "time" || prefix === "nice")))
      out.add("cmdi-command-line");
    // `w'h'o'am'i`, `c"a"t`, `c^md`: quotes inside a command word only hide it (`I'd` is not `id`)
    if (word.split && name.length > 2) out.add("cmdi-evasion");
    const args = shellArguments(v, e, name);
    // `… | sh`: piping into a shell needs no arguments
    if (op === "|" && args === "bare" && SHELLS.has(name)) out.add("cmdi-separator-command");
    const rule = judge({
      position,
      operator: op === "&&" || op === "||" || op === "|",
      leading: i === first,
      adjacent,
      glued: i > 0 && !isSpace(v.charCodeAt(i - 1)) && v[i - 1] !== "(",
      distinct,
      bin,
      args,
    });
    if (rule === null) continue;
    out.add(rule === "cmdi-separator-command" && WINDOWS.has(name) ? "cmdi-windows" : rule);
    i = e - 1;
  }
}

/** Whether the next argument after `e` is an option: `-u`, `--version`. */
function optionFollows(v: string, e: number): boolean {
  if (!isSpace(v.charCodeAt(e))) return false;
  let i = e;
  while (i < v.length && isSpace(v.charCodeAt(i))) i++;
  if (v.charCodeAt(i) !== 45) return false;
  if (v.charCodeAt(i + 1) === 45) i++;
  const c = v.charCodeAt(i + 1);
  if (!(c >= 97 && c <= 122)) return false;
  let j = i + 1;
  while (j < v.length && j < i + 24 && (isAlnum(v.charCodeAt(j)) || v.charCodeAt(j) === 45)) j++;
  return (
    j >= v.length || isSpace(v.charCodeAt(j)) || v.charCodeAt(j) === 61 || positionAt(v, j) === "separator"
  );
}

/** Reads a command word at `s`, dropping quotes and carets; `split` says whether one fell inside the word. */
function readWord(v: string, s: number): { text: string; end: number; split: boolean } {
  let text = "";
  let pending = false;
  let split = false;
  let e = s;
  for (; e < v.length && e < s + 80; e++) {
    const c = v.charCodeAt(e);
    // a backslash escapes a letter (`c\at`) unless the word is a Windows path (`c:\windows`)
    const escape = c === 92 && text.indexOf(":") < 0 && isAlnum(v.charCodeAt(e + 1));
    if (c === 39 || c === 34 || c === 94 || escape) pending = text.length > 0;
    else if (isWordChar(c)) {
      if (pending) split = true;
      pending = false;
      text += v[e];
    } else break;
  }
  return { text, end: e, split };
}

/** Removes expansions that are empty in a fresh shell (`$?`, `$_`, `$u`, `${a}`), which split words (`c$_at`); `${IFS}` is a space. */
function stripExpansions(v: string): string {
  let out = "";
  for (let i = 0; i < v.length; i++) {
    if (v.charCodeAt(i) !== 36) {
      out += v[i];
      continue;
    }
    const n = v.charCodeAt(i + 1);
    if ("?!_#-*@".includes(v[i + 1] ?? "x") || (n >= 48 && n <= 57)) {
      i++;
      continue;
    }
    if (n === 123 /* { */) {
      const close = v.indexOf("}", i);
      if (close > 0 && close - i <= 16) {
        if (v.slice(i + 2, close) === "ifs") out += " ";
        i = close;
        continue;
      }
    }
    if (v.startsWith("ifs", i + 1) && !isAlnum(v.charCodeAt(i + 4))) {
      out += " "; // `$IFS`, in any case
      i += 3;
      continue;
    }
    let j = i + 1;
    while (j < v.length && j < i + 4 && isAlnum(v.charCodeAt(j))) j++;
    if (j > i + 1 && j - i <= 3 && !isAlnum(v.charCodeAt(j))) {
      i = j - 1; // `$u`, `$xx`: unset short names
      continue;
    }
    out += "$";
  }
  return out;
}

/** Which rule a command earns in its context, or null: the stronger the context, the less the command itself must prove. */
function judge(c: Context): RuleId | null {
  if (c.bin) return "cmdi-binary-path";
  if (c.position === "dollar") return "cmdi-substitution";
  if (c.position === "backtick")
    return c.distinct || c.args === "shell" || c.glued ? "cmdi-substitution" : "cmdi-command-word";
  if (c.position === "start") {
    if (c.args === "shell") return "cmdi-command-line";
    return c.distinct && c.args === "bare" ? "cmdi-command-word" : null;
  }
  if (c.position === "group") return c.args === "shell" ? "cmdi-separator-command" : null;
  if (c.distinct || c.args === "shell") return "cmdi-separator-command";
  if (c.args === "bare") return c.adjacent || c.leading ? "cmdi-separator-command" : "cmdi-command-word";
  // A word after `;` or `&` is prose more often than not; after `&&`, `||` or `|` much less so.
  return c.operator || c.leading ? "cmdi-command-word" : null;
}

/** A known command named by its binary directory anywhere in the value (`cmd="/usr/bin/id`, `/sbin/ifconfig`). */
function hasBinaryPath(v: string): boolean {
  for (let i = v.indexOf("bin/"); i >= 0; i = v.indexOf("bin/", i + 4)) {
    if (!(i === 0 || v[i - 1] === "/" || (v[i - 1] === "s" && (i === 1 || v[i - 2] === "/")))) continue;
    let e = i + 4;
    while (e < v.length && e < i + 40 && isAlnum(v.charCodeAt(e))) e++;
    const name = v.slice(i + 4, e).replace(/[0-9]+$/, "");
    const c = v.charCodeAt(e);
    // `env` is left out: `#!/usr/bin/env node` heads every script pasted into a form
    if (name !== "env" && c !== 46 && c !== 95 && (DISTINCT.has(name) || COMMON.has(name))) return true;
  }
  return false;
}

// cmd.exe control flow: `for [/r c:\x] %a in (…)`, `if [/i] [not] exist|errorlevel|"%v%"==…`.
// Applied to at most 160 chars from each `for`/`if`, so the optional groups cannot cost much.
const FOR_LOOP = /^for(\s+\/[a-z](\s+("[^"]{0,64}"|[a-z]:[^\s]{0,64}))?)*\s+%%?[^\s]{1,16}\s+in\s*\(/;
const IF_TEST =
  /^if(\s+\/i)?(\s+not)?\s+((exist|errorlevel|cmdextversion|defined)\s|"?%|[^\s(=]{1,32}\s*==|"[^"]{0,32}"\s*(==|equ|neq|lss|leq|gtr|geq)\s)/;

/** A Windows batch `for` loop or `if` test. */
function isBatchControl(v: string): boolean {
  for (const [word, re] of [
    ["for", FOR_LOOP],
    ["if", IF_TEST],
  ] as const) {
    for (let i = v.indexOf(word); i >= 0; i = v.indexOf(word, i + word.length)) {
      if (i > 0 && isAlnum(v.charCodeAt(i - 1))) continue;
      if (re.test(v.slice(i, i + 160))) return true;
    }
  }
  return false;
}

/**
 * Shell globs standing for a path (`/???/c?t`, `/etc/pas[s]wd`, `/bi[n]/bash`): a `[…]` class inside a
 * path word, or a segment of two or more wildcards alone between slashes.
 */
function hasGlobPath(v: string): boolean {
  for (let i = v.indexOf("["); i >= 0; i = v.indexOf("[", i + 1)) {
    const close = v.indexOf("]", i);
    if (close < 0 || close - i > 12) continue;
    let j = i - 1;
    while (j >= 0 && j > i - 32 && isAlnum(v.charCodeAt(j))) j--;
    const inPath = j >= 0 && v.charCodeAt(j) === 47;
    const after = v.charCodeAt(close + 1);
    if (inPath && (isAlnum(after) || after === 47) && !v.slice(i + 1, close).includes("@")) return true;
  }
  for (let i = v.indexOf("/?"); i >= 0; i = v.indexOf("/?", i + 1)) {
    let j = i + 1;
    while (v.charCodeAt(j) === 63 || v.charCodeAt(j) === 42) j++;
    if (j - i > 2 && (v.charCodeAt(j) === 47 || v.charCodeAt(j) === 32 || j === v.length)) return true;
  }
  return false;
}

/** Bash function import syntax in a value: `() {` at the start, or `() { :;` anywhere. */
function isShellshock(v: string): boolean {
  const at = v.indexOf("()");
  if (at < 0) return false;
  let first = 0;
  while (first < v.length && isSpace(v.charCodeAt(first))) first++;
  for (let i = at; i >= 0; i = v.indexOf("()", i + 2)) {
    let j = i + 2;
    while (j < v.length && isSpace(v.charCodeAt(j))) j++;
    if (v.charCodeAt(j) !== 123) continue;
    if (i === first) return true;
    j++;
    while (j < v.length && isSpace(v.charCodeAt(j))) j++;
    if (v.charCodeAt(j) === 58 /* : */ || v.charCodeAt(j) === 95 /* _ */) return true;
  }
  return false;
}

export const cmdiDetector: Detector = {
  name: "cmdi",
  inspect(target: Target): Detection[] {
    return classifyCmdi(target.value).map((rule) => {
      const r = CMDI_RULES[rule];
      return {
        rule,
        tags: ["attack-rce", r.tag],
        paranoia: r.paranoia,
        severity: r.severity,
        target: target.name,
      };
    });
  },
};
