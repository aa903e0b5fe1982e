// OS command injection, POSIX and Windows shells. The detector finds command positions (after a
// separator such as `;` `|` `&&` or a newline, inside `$(…)` or backticks, at the start of the value)
// and reads the word there as a shell would; a known command counts according to how unlike prose
// it is: `whoami` is never English, `cat` is, so `cat` needs arguments shaped like a shell's (`-x`,
// `/path`, `$VAR`, a redirection) or to stand bare between separators (`;id;`). decode.ts's shell
// view undoes `c''at`, `c^md`, `$@`, `${IFS}`; this file also reads quote-split words on the raw value
// (to flag the split itself), drops `$?`, `$_`, `$u`, lower-case `$ifs` and `c\at` escapes, which the
// shell view misses or the JS decoder mangles. Beyond command words it knows the shell's own
// grammar: expansions (`$((…))`, `${x#…}`, `~+`, `!-1`), brace lists that build a command
// (`{cat,/etc/passwd}`), variables assigned a command and then run (`c=cat;$c …`), aliases, fork
// bombs, redirections, cmd.exe conditions, the SQLite shell's dot commands and mail-protocol verbs
// smuggled after a line break. Rules are our own.
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
  | "cmdi-command-word"
  | "cmdi-expansion"
  | "cmdi-brace-expansion"
  | "cmdi-variable-command"
  | "cmdi-alias"
  | "cmdi-fork-bomb"
  | "cmdi-shell-syntax"
  | "cmdi-sqlite-dot"
  | "cmdi-mail-command"
  | "cmdi-mail-verb"
  | "cmdi-redirection";

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
 * gets a scoped exclusion), a command opening the value and ended by a separator (`id;`), bash-only
 * expansions, brace-built commands, assigned-variable commands, aliases, fork bombs, redirections
 * (`2>&1`, `>/dev/null`, a value opening with `>/tmp/x`), `MAIL FROM:<…>` after a line break,
 * SQLite shell dot commands after a separator (`;` then `.shell`).
 * PL2: a known command word after `&&`/`||`/`|` with prose arguments (`a && echo vulnerable`),
 * `` `id` `` inside text, an unknown program given options, a tool named first with arguments that
 * read as no sentence (`cscli alerts list`), mail verbs (`RETR 1`, `a1 LIST`),
 * `~0`, `!!`.
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
  "cmdi-expansion": { paranoia: 1, severity: "critical", tag: "platform-unix" },
  "cmdi-brace-expansion": { paranoia: 1, severity: "critical", tag: "evasion" },
  "cmdi-variable-command": { paranoia: 1, severity: "critical", tag: "evasion" },
  "cmdi-alias": { paranoia: 1, severity: "critical", tag: "platform-unix" },
  "cmdi-fork-bomb": { paranoia: 1, severity: "critical", tag: "platform-unix" },
  "cmdi-shell-syntax": { paranoia: 2, severity: "critical", tag: "platform-unix" },
  "cmdi-sqlite-dot": { paranoia: 1, severity: "critical", tag: "platform-sqlite" },
  "cmdi-mail-command": { paranoia: 1, severity: "critical", tag: "mail-injection" },
  "cmdi-mail-verb": { paranoia: 2, severity: "critical", tag: "mail-injection" },
  "cmdi-redirection": { paranoia: 1, severity: "critical", tag: "platform-unix" },
};

// Not English words: reconnaissance, download and shell tools. Any use after a separator counts.
const DISTINCT = words(
  "whoami uname ifconfig ipconfig nslookup netstat wget curl netcat ncat socat telnet busybox chmod chown " +
    "useradd adduser crontab xterm xxd nmap sudo passwd pwd printenv hostname lsof killall nohup " +
    "mkfifo uptime getent systeminfo tasklist taskkill certutil bitsadmin mshta regsvr32 rundll32 wmic " +
    "powershell pwsh regedit cscript wscript schtasks icacls whoami.exe net.exe cmd.exe bcdboot bcdedit " +
    "vssadmin wevtutil diskpart netsh nltest dsquery aptitude strace ltrace gunzip zcat " +
    // package, build and admin tools, archivers and viewers no prose uses as words
    "apt-get dpkg yum dnf rpm zypper pacman pip pip3 pipx gem gcc g++ clang c89 c99 c11 irb " +
    "ansible visudo vipw vigr cscli htop iotop atop pkexec doas runuser chroot nsenter unshare " +
    "setcap getcap chattr lsattr setfacl getfacl mknod mkswap fdisk parted losetup dmesg lspci lsusb lsblk " +
    "blkid modprobe insmod rmmod lsmod sysctl systemctl journalctl loginctl hostnamectl ldd objdump readelf " +
    "hexdump strace base32 openssl keytool flock cpulimit ionice taskset setsid disown shutdown reboot " +
    "poweroff zstdcat zstd unzstd xzcat bzcat lzcat lz4cat bsdtar bsdcat unxz bunzip2 uncompress 7z 7za unrar " +
    "cpio tcpdump tshark iptables ip6tables nft ufw scp sftp rsync sshpass tftp smbclient rpcclient mysqldump " +
    "pg_dump sqlite3 redis-cli msfconsole msfvenom sqlmap hydra nikto gobuster dirb hashcat mkpasswd chpasswd " +
    "usermod userdel groupadd newgrp chsh chfn fuser pgrep pkill renice lsns runcon sestatus getenforce " +
    "setenforce aa-status aa-disable aa-complain php-cgi phpdbg nodejs ruby1.9 jrunscript jjs rlwrap " +
    "tclsh gdb ncftp lftp wput aria2c httpie xdg-open",
);
// Tool families whose every hyphenated member is a command (`ansible-vault`, `chef-client`, `rmt-tar`).
const FAMILIES = words("ansible chef rmt aa ssh apt dpkg systemd grub lvm xfs mkfs fsck update iptables");
// Commands that are also words ("cat", "id", "sleep"): they need shell-shaped arguments.
const COMMON = words(
  "cat tac id ls ps env echo printf sleep ping kill find grep egrep head tail more less sort wc cut awk sed " +
    "base64 tr rev tee touch rm cp mv mkdir rmdir ln cd dig host who w time timeout exec eval export alias source " +
    "xargs which whereis locate file stat diff tar zip unzip gzip nc sh bash zsh ksh csh dash tcsh fish " +
    "python perl ruby php node lua java gcc cc vi vim column set type dir net del copy ver start cmd " +
    "iex iwr irm at reg trap column fold comm paste nl fmt od strings top service mount umount halt ex chef rc " +
    "ll ping6 traceroute tracepath sendmail seq shuf shred cmake mvn gradle",
);
const WINDOWS = words(
  "type dir net del copy ver start cmd cmd.exe powershell pwsh ipconfig systeminfo tasklist taskkill certutil " +
    "bitsadmin mshta regsvr32 rundll32 wmic regedit cscript wscript schtasks icacls iex iwr irm net.exe whoami.exe " +
    "bcdboot bcdedit vssadmin wevtutil diskpart reg netsh nltest dsquery",
);
// Commands that run the next word as a command.
const PREFIXES = words("time sudo doas nohup strace ltrace exec env nice xargs command builtin");
const SHELLS = words("sh bash zsh ksh dash csh tcsh");
// Commands whose plain numeric argument is already a shell shape (`sleep 5`, `ping 127.0.0.1`).
const NUMERIC = words("sleep ping timeout");
// Subcommands that make a Windows tool's first argument a command line's, not prose.
const SUBCOMMANDS: Readonly<Record<string, ReadonlySet<string>>> = {
  net: words("user users localgroup group view share use session accounts config start stop"),
  reg: words("query add delete export save load copy import"),
};

// Windows PowerShell spellings that are commands wherever they appear, by the `-`, `(` or `.` they
// hold: `invoke-expression`, `invoke-webrequest`, `invoke-restmethod`, `invoke-command`,
// `start-process`, `-encodedcommand`; `downloadstring(`, `downloadfile(`, `frombase64string(`;
// `net.webclient`.
const POWERSHELL_DASH = /invoke-(expression|webrequest|restmethod|command)|start-process|-encodedcommand/;
const POWERSHELL_PAREN = /download(string|file)\(|frombase64string\(/;
const CMD_SWITCH = /\bcmd(\.exe)?\s*\/[ckr]\b/;
const TCP_UDP = /\/(tcp|udp)\//;
const REVERSE_SHELL = /\/(tcp|udp)\/[a-z0-9-]{1,63}\.[a-z0-9.-]{1,64}\/\d{1,5}\b/;
const EXPANSION_SPLIT = /[$`]|[<>]\(\)/;

// What charFlags finds in a value, so each rule runs only where its characters are.
const SEMICOLON = 1;
const PIPE = 1 << 1;
const AMPERSAND = 1 << 2;
const NEWLINE = 1 << 3; // `\n` or `\r`
const BACKTICK = 1 << 4;
const PAREN = 1 << 5; // `(`
const BRACE = 1 << 6; // `{`
const BACKSLASH = 1 << 7;
const DOLLAR = 1 << 8;
const LESS = 1 << 9;
const GREATER = 1 << 10;
const SLASH = 1 << 11;
const PERCENT = 1 << 12;
const DASH = 1 << 13;
const DOT = 1 << 14;
const EQUALS = 1 << 15;
const COMMA = 1 << 16;
const BRACKET = 1 << 17; // `[`
const QUESTION = 1 << 18;
const IF = 1 << 19; // `if` in any case (cmd.exe's `if` test)
const UPPER = 1 << 20; // an ASCII capital or non-ASCII text: lowercasing changes it
const ALL = (1 << 21) - 1;
const LOOK = 1 << 21; // `f`: is it the end of an `if`?
/** Characters that may start a command after the value's first word (`positionAt`, and a `\n` written out). */
const SEPARATORS = SEMICOLON | PIPE | AMPERSAND | NEWLINE | BACKTICK | PAREN | BRACE | BACKSLASH;
const CLASS = new Uint32Array(128);
for (const [chars, flag] of [
  [";", SEMICOLON],
  ["|", PIPE],
  ["&", AMPERSAND],
  ["\n\r", NEWLINE],
  ["`", BACKTICK],
  ["(", PAREN],
  ["{", BRACE],
  ["\\", BACKSLASH],
  ["$", DOLLAR],
  ["<", LESS],
  [">", GREATER],
  ["/", SLASH],
  ["%", PERCENT],
  ["-", DASH],
  [".", DOT],
  ["=", EQUALS],
  [",", COMMA],
  ["[", BRACKET],
  ["?", QUESTION],
  ["ABCDEFGHIJKLMNOPQRSTUVWXYZ", UPPER],
  ["fF", LOOK],
] as const)
  for (const c of chars) CLASS[c.charCodeAt(0)]! |= flag;

/** Up to this length charFlags reads a value a character at a time; searchFlags looks for each in a longer one. */
const SHORT = 40;
const flagOf = (chars: string) => [...chars].map((c) => [c, CLASS[c.charCodeAt(0)]!] as const);
// Characters common in headers and text, and the rest, which one search can rule out together.
const COMMON_CHARS = flagOf(";(/-.,=?");
const RARE_CHARS = flagOf("|&\n\r`{\\$<>%[");
const RARE = /[|&\n\r`{\\$<>%[]/;

/** charFlags for a long value, already in lower case: a native search for each character. */
function searchFlags(v: string): number {
  let f = v.indexOf("if") >= 0 ? IF : 0;
  for (const [c, flag] of COMMON_CHARS) if (v.indexOf(c) >= 0) f |= flag;
  if (RARE.test(v)) for (const [c, flag] of RARE_CHARS) if (v.indexOf(c) >= 0) f |= flag;
  return f;
}

/**
 * One pass over `s` for the characters each check needs. Non-ASCII text may lowercase to ASCII
 * letters (the Kelvin sign to `k`), never to punctuation: it counts as a capital and may hold an `if`.
 */
function charFlags(s: string): number {
  let f = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) {
      f |= UPPER | IF;
      continue;
    }
    const k = CLASS[c]!;
    if (k === 0) continue;
    f |= k;
    if (k & LOOK && i > 0 && (s.charCodeAt(i - 1) | 32) === 105) f |= IF;
  }
  return f & ALL;
}

// `+` too: payloads URL-encoded twice keep it where a space was meant.
const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 11 || c === 12 || c === 43;
// Letters, digits and `.`, `_`, `-`, `/`, `\`, `:`, as a table.
const WORD_CHARS = new Uint8Array(128);
for (let c = 0; c < 128; c++) WORD_CHARS[c] = /[a-zA-Z0-9._\-/\\:]/.test(String.fromCharCode(c)) ? 1 : 0;
const isWordChar = (c: number): boolean => c < 128 && WORD_CHARS[c] === 1;
const isAlnum = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 48 && c <= 57);

// The characters of SEPARATORS; a regular expression scans a long value faster than a loop does.
const SEPARATOR = /[;|&\n\r`({\\]/g;
/** The index of the first SEPARATORS character in `v` at or after `from`, or `v.length`. */
function nextSeparator(v: string, from: number): number {
  SEPARATOR.lastIndex = from;
  return SEPARATOR.test(v) ? SEPARATOR.lastIndex - 1 : v.length;
}

/** Where a command may start: after `;`, `|`, `&`, a newline, `` ` ``, `$(`, `<(`, `(`, `{`. */
type Position = "start" | "separator" | "dollar" | "backtick" | "group";

function positionAt(v: string, i: number): Position | null {
  const c = v.charCodeAt(i);
  if (c === 59 || c === 124 || c === 38 || c === 10 || c === 13) return "separator";
  if (c === 96) return "backtick";
  if (c === 40) {
    const p = v.charCodeAt(i - 1);
    return p === 36 || p === 60 || p === 62 ? "dollar" : "group";
  }
  if (c === 123) return "group";
  return null;
}

/** A command that is no English word, or a member of a tool family (`ansible-vault`, `aa-disable`). */
const isDistinct = (name: string): boolean =>
  mayBeCommand(name) && (DISTINCT.has(name) || isFamilyMember(name) || isCmdlet(name));

// PowerShell cmdlets: a verb, a dash and a noun from the system's own vocabulary (`Get-Content`,
// `Invoke-WebRequest`); `get-together` is no cmdlet.
const CMDLET_VERBS = words(
  "get set new remove invoke start stop add out write import export select test copy move clear enable disable",
);
const CMDLET_NOUNS = words(
  "content childitem item itemproperty process service executionpolicy object webrequest restmethod expression " +
    "command location acl wmiobject ciminstance localuser localgroup localgroupmember netipaddress mppreference " +
    "sleep host file clipboard credential eventlog hotfix computerinfo psdrive alias variable history " +
    "scheduledtask nettcpconnection psreadlineoption base64",
);

function isCmdlet(name: string): boolean {
  const dash = name.indexOf("-");
  return dash > 2 && CMDLET_VERBS.has(name.slice(0, dash)) && CMDLET_NOUNS.has(name.slice(dash + 1));
}

function isFamilyMember(name: string): boolean {
  const dash = name.indexOf("-");
  // `ssh-copy-id`, not the page `ssh-honeypot-is-alive.html`
  return dash > 0 && dash < name.length - 1 && name.indexOf(".") < 0 && FAMILIES.has(name.slice(0, dash));
}

const isKnown = (name: string): boolean => mayBeCommand(name) && (isDistinct(name) || COMMON.has(name));

/** Whether a word holds a `/` or `\` (a loop: words are short, and most hold neither). */
function hasSlash(word: string): boolean {
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    if (c === 47 || c === 92) return true;
  }
  return false;
}

/** A 17-bit key of a name: a hash of it up to its first `-`, and whether it has one. */
function nameKey(name: string): number {
  let h = 0;
  let i = 0;
  for (; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 45) break;
    h = (Math.imul(h, 31) + c) | 0;
  }
  h = (Math.imul(h, 31) + i) | 0;
  return (h & 0xffff) | (i < name.length ? 0x10000 : 0);
}

// A filter before the set lookups (each hashes a new word): the keys of every name in DISTINCT,
// COMMON and PREFIXES, and those of any tool family's member or cmdlet, which have a family's
// name or a verb before their first `-`.
const NAME_KEYS = new Uint8Array(1 << 17);
for (const set of [DISTINCT, COMMON, PREFIXES]) for (const name of set) NAME_KEYS[nameKey(name)] = 1;
for (const set of [FAMILIES, CMDLET_VERBS]) for (const name of set) NAME_KEYS[nameKey(`${name}-`)] = 1;
/** False for a name that no lookup of isDistinct, COMMON or PREFIXES can find. */
const mayBeCommand = (name: string): boolean => NAME_KEYS[nameKey(name)] === 1;

/** A plausible program file name: what may follow `/usr/bin/` when the program itself is unknown. */
const PROGRAM = /^[a-z][a-z0-9_+-]{0,31}(\.[0-9]{1,4}){0,3}$/; // `ansible`, `python3.10`; not `readme.md`

/**
 * Reduces `/usr/bin/cat`, `C:\Windows\System32\cmd.exe`, `python3.10`, `gcc7.4` to the command; `bin`
 * tells whether a binary directory was named (then any program name counts); `bcdboot/r` is a
 * Windows tool and its switch.
 * `slashes` is false when the value holds no `/` or `\`, so neither can the word.
 */
function commandName(word: string, slashes = true): { name: string; bin: boolean } {
  let name = word;
  let bin = false;
  if (slashes && hasSlash(word)) {
    name = word.indexOf("\\") < 0 ? word : word.replace(/\\/g, "/");
    const slash = name.lastIndexOf("/");
    const dir = name.slice(0, slash);
    const file = name.slice(slash + 1);
    const windows = dir.endsWith("system32") && WINDOWS.has(file.replace(/\.exe$/, ""));
    const first = name.slice(0, name.indexOf("/"));
    if (dir.endsWith("bin") || windows) {
      name = file;
      bin = true;
      // an unknown program only in a real binary directory (`/usr/bin/ansible`, not `cabin/door`)
      const binDir = dir === "bin" || dir === "sbin" || dir.endsWith("/bin") || dir.endsWith("/sbin");
      if (!binDir && !isKnown(name.replace(/\.exe$/, ""))) return { name: "", bin: false };
    } else if (
      name.length - first.length <= 3 && // `/` and a switch of one or two letters
      (WINDOWS.has(first) || DISTINCT.has(first)) &&
      /^[a-z?]{1,2}$/.test(name.slice(first.length + 1))
    )
      return { name: first, bin: false };
    else return { name: "", bin: false };
  }
  if (name.charCodeAt(name.length - 1) === 101 && name.endsWith(".exe") && !DISTINCT.has(name))
    name = name.slice(0, -4);
  const last = name.charCodeAt(name.length - 1);
  if (last >= 48 && last <= 57 && !isKnown(name)) {
    // `python3.10`, `gcc7.4`, `pip3`: a known command with its version glued on
    let k = name.length;
    while (
      k > 0 &&
      ((name.charCodeAt(k - 1) >= 48 && name.charCodeAt(k - 1) <= 57) || name.charCodeAt(k - 1) === 46)
    )
      k--;
    const base = name.slice(0, k);
    if (base.length >= 2 && isKnown(base)) name = base;
  }
  return { name, bin };
}

/** `;`, `|`, `&`, a line break or a backtick: the end of a command's arguments. */
const isBreak = (c: number): boolean => c === 59 || c === 124 || c === 38 || c === 10 || c === 13 || c === 96;

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
    if (isBreak(c)) break;
    if (c === 45 /* - */ && (isAlnum(next) || (next === 45 && isAlnum(v.charCodeAt(i + 2))))) shell = true;
    else if (c === 47 && (i + 1 >= v.length || isSpace(next) || ";|&\n\r".includes(v[i + 1]!)))
      shell = true; // `cd /`
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
    while (j < stop && !isSpace(v.charCodeAt(j)) && !isBreak(v.charCodeAt(j))) j++;
    const token = v.slice(i, j);
    if (
      !shell &&
      /[.:%]/.test(token) &&
      (token.includes("://") ||
        /%[a-z_]{2,}%/.test(token) ||
        /^\d{1,3}(\.\d{1,3}){3}/.test(token) ||
        /^[a-z]:([/\\"]|$)/.test(token) ||
        /\.(exe|bat|cmd|ps1|vbs|sh)$/.test(token))
    )
      shell = true;
    // `net user`, `reg query`, `sc qc`: a Windows tool's own subcommand
    if (n === 0 && SUBCOMMANDS[command]?.has(token)) shell = true;
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
  /** A `;` with a blank before it and none after (`x ;top`), the reverse of prose punctuation. */
  reversed: boolean;
  /** The arguments read as a sentence: they hold a function word (`and`, `the`, `for` …). */
  sentence: boolean;
  /** A member of a tool family (`ansible-vault`): no prose word at all. */
  family: boolean;
  /** For a bare command opening the value: what follows it (`id;`: a separator, then nothing; `list`: a plain word). */
  then: "none" | "separator" | "separator-end" | "list";
  bin: boolean;
  args: "bare" | "shell" | "prose";
}

/** Adds `x` to the list `to` unless it is there already, as a set would. */
function add<T>(to: T[], x: T): void {
  if (!to.includes(x)) to.push(x);
}

/** The names a value assigns (`x=cat`): one list reused, as classifyCmdi never runs inside itself. */
const ASSIGNED: string[] = [];

/** Rules a value matches, at every paranoia level. */
export function classifyCmdi(value: string): RuleId[] {
  let flags: number;
  let v: string;
  if (value.length <= SHORT) {
    flags = charFlags(value);
    v = flags & UPPER ? value.toLowerCase() : value;
  } else {
    v = value.toLowerCase();
    flags = searchFlags(v);
  }
  // None of the flagged characters but `.` and `,` (a word, a name, a number, an e-mail address):
  // every check below but `net.webclient` is skipped and only the word opening the value stands at
  // a command position, with nothing after it that counts (no separator, no `-` option) but a `~`
  // or `!` expansion. Unless that word may be a command (scan's `maybe`), nothing matches.
  if ((flags & ~(DOT | COMMA)) === 0 && !(flags & DOT && v.includes("net.webclient"))) {
    const s = skipSpaces(v, 0);
    const lead = s < v.length ? v.charCodeAt(s) : -1;
    if (lead !== 126 && lead !== 33) {
      const word = readWord(v, s);
      if (word.end === s || word.end - s > 64 || !mayBeCommand(commandName(word.text, false).name)) return [];
    }
  }
  const out: RuleId[] = []; // arrays, not sets: they hold a few entries, and most values none
  // each check below is skipped when the value lacks a character every match of it holds
  const emptyParens = flags & PAREN && v.indexOf("()") >= 0; // `f()`: Shellshock and fork bombs need one
  if (emptyParens && isShellshock(v)) add(out, "cmdi-shellshock");
  if (
    (flags & DASH && POWERSHELL_DASH.test(v)) ||
    (flags & PAREN && POWERSHELL_PAREN.test(v)) ||
    (flags & DOT && v.includes("net.webclient")) ||
    (flags & SLASH && CMD_SWITCH.test(v)) ||
    // `for … in (…)` needs a `%` and a `(`, `if` its own two letters
    ((flags & IF || (flags & PERCENT && flags & PAREN)) && isBatchControl(v))
  )
    add(out, "cmdi-windows");
  if (
    flags & SLASH &&
    TCP_UDP.test(v) &&
    (v.includes("/dev/tcp/") || v.includes("/dev/udp/") || REVERSE_SHELL.test(v))
  )
    add(out, "cmdi-reverse-shell");
  if (flags & BACKTICK && isWholeSubstitution(v)) add(out, "cmdi-substitution");
  if (flags & GREATER && hasRedirection(v)) add(out, "cmdi-redirection");
  if (emptyParens && isForkBomb(v)) add(out, "cmdi-fork-bomb");
  if (flags & DOLLAR && hasExpansion(v)) add(out, "cmdi-expansion");
  const lead = v.charCodeAt(skipSpaces(v, 0));
  const tilde = lead === 126 || lead === 33 ? tildeExpansion(v) : null; // `~`, `!`
  if (tilde !== null) add(out, tilde);
  if (flags & EQUALS && hasAlias(v)) add(out, "cmdi-alias");
  if (flags & COMMA && flags & BRACE && hasBraceCommand(v)) add(out, "cmdi-brace-expansion");
  if (flags & NEWLINE) {
    const mail = mailCommand(v);
    if (mail !== null) add(out, mail);
  }
  const assigned = ASSIGNED;
  if (assigned.length > 0) assigned.length = 0;
  scan(v, flags, out, assigned, false);
  if (flags & (DOLLAR | BACKTICK | LESS | GREATER) && EXPANSION_SPLIT.test(v)) {
    const stripped = stripExpansions(v);
    if (stripped.text !== v) scan(stripped.text, ALL, out, assigned, stripped.split);
  }
  return out;
}

/**
 * Bash-only expansions: arithmetic `$((…))` and `$[1+2]`, parameter operators `${x#…}`, `${x:-…}`,
 * `${!x}`, `${#x}`. Template languages share `${x}` but none of these operators.
 */
function hasExpansion(v: string): boolean {
  for (let i = v.indexOf("$"); i >= 0; i = v.indexOf("$", i + 1)) {
    const n = v.charCodeAt(i + 1);
    if (n === 40 && v.charCodeAt(i + 2) === 40) {
      if (v.slice(i + 3, i + 96).includes("))")) return true;
    } else if (n === 91 /* [ */) {
      const close = v.slice(0, i + 40).indexOf("]", i + 2);
      if (close > 0 && /^(\s*\d+\s*[-+*/%^]\s*\d+\s*)?$/.test(v.slice(i + 2, close))) return true;
    } else if (n === 123 /* { */) {
      const inner = v.slice(i + 2, i + 40);
      if (/^([!#][a-z_][a-z0-9_]*\}|[a-z_][a-z0-9_]*(##?|%%|:[-=+?]|:\d))/.test(inner)) return true;
    }
  }
  return false;
}

/**
 * Tilde expansions to directory-stack entries and history expansions, as a whole value: `~+`, `~-`,
 * `~-1`, `!-1!-2` (PL1); `~0`, `!!`, `!3` (PL2).
 */
function tildeExpansion(v: string): RuleId | null {
  const t = v.trim();
  if (t.charCodeAt(0) === 33 && t.length <= 24) {
    if (/^(!-\d{1,4}){1,6}$/.test(t)) return "cmdi-expansion";
    return /^(!!|!\d{1,4})$/.test(t) ? "cmdi-shell-syntax" : null;
  }
  if (t.charCodeAt(0) !== 126 || t.length > 48) return null;
  if (/^~[+-]\d*(\/|$)/.test(t)) return "cmdi-expansion";
  return /^~\d+(\/|$)/.test(t) ? "cmdi-shell-syntax" : null;
}

/** `alias name=value` at a command position: a command renamed to slip past filters. */
function hasAlias(v: string): boolean {
  for (let i = v.indexOf("alias"); i >= 0; i = v.indexOf("alias", i + 5)) {
    let p = i - 1;
    while (p >= 0 && isSpace(v.charCodeAt(p))) p--;
    if (p >= 0 && positionAt(v, p) !== "separator" && v[p] !== "'" && v[p] !== '"') continue;
    if (/^alias(\s+[-+][a-z]\+?)*\s+(['"]?)[a-z0-9_.-]{1,32}\2=/.test(v.slice(i, i + 96))) return true;
  }
  return false;
}

/**
 * Redirections no text but a shell's holds: descriptors joined (`2>&1`, `>&2`), output thrown away
 * or sent to a device (`>/dev/null`), or a value that opens by writing to an absolute path (`>/tmp/x`).
 */
function hasRedirection(v: string): boolean {
  if (v.includes("2>&1") || v.includes(">&2") || v.includes("&>/dev/")) return true;
  for (let i = v.indexOf(">"); i >= 0; i = v.indexOf(">", i + 1)) {
    if (i > 0 && (v[i - 1] === "-" || v[i - 1] === "=")) continue; // `->`, `=>`: arrows
    const j = skipSpaces(v, v.charCodeAt(i + 1) === 62 ? i + 2 : i + 1);
    if (
      v.startsWith("/dev/", j) &&
      /^\/dev\/(null|zero|tcp|udp|stdout|stderr|shm)\b/.test(v.slice(j, j + 12))
    )
      return true;
  }
  const t = skipSpaces(v, 0);
  if (v.charCodeAt(t) !== 62) return false;
  const j = skipSpaces(v, v.charCodeAt(t + 1) === 62 ? t + 2 : t + 1);
  return /^(\/(tmp|var|etc|dev|home|root|usr|opt|srv|proc)\/|~\/)/.test(v.slice(j, j + 8));
}

/**
 * A value that is one backtick substitution of a command and nothing else (`` `id` ``,
 * `` "`true`" ``): the blind-injection probe, which compares how `` `true` `` and `` `false` `` answer.
 */
function isWholeSubstitution(v: string): boolean {
  const m = /^\s*['"]?`\s*([a-z][a-z0-9._-]{0,31})\s*`['"]?\s*$/.exec(v.length > 48 ? "" : v);
  if (!m) return false;
  const name = commandName(m[1]!).name;
  return isKnown(name) || name === "true" || name === "false";
}

/** A function that calls itself in the background: `f(){ f|f& };f`, `:(){ :|:& };:`. */
function isForkBomb(v: string): boolean {
  for (let i = v.indexOf("()"); i >= 0; i = v.indexOf("()", i + 2)) {
    let s = i;
    while (s > 0 && !isSpace(v.charCodeAt(s - 1)) && !";|&{}()".includes(v[s - 1]!)) s--;
    const name = v.slice(s, i);
    if (name.length === 0 || name.length > 32) continue;
    let j = i + 2;
    while (j < v.length && isSpace(v.charCodeAt(j))) j++;
    if (v.charCodeAt(j) !== 123) continue;
    const close = v.slice(0, j + 80).indexOf("}", j);
    if (close < 0) continue;
    const body = v.slice(j + 1, close).replace(/\(\)|\s/g, "");
    if (body.includes(`${name}|${name}`) || body.includes(`${name}&${name}`) || body.includes(`${name}&;`))
      return true;
  }
  return false;
}

/**
 * Brace expansion that builds a command: `{cat,/etc/passwd}`, `{,ifconfig}`, `c{a,oun}t`, `{l,-lh}s`.
 * The braces are expanded as bash would; the first word must be a command, and the braces must do
 * what no prose list does: touch a word, hold an empty alternative, or give the command a path or option.
 */
function hasBraceCommand(v: string): boolean {
  for (let i = v.indexOf("{"); i >= 0; i = v.indexOf("{", i + 1)) {
    const close = v.slice(0, i + 96).indexOf("}", i);
    if (close < 0) continue;
    const inner = v.slice(i + 1, close);
    if (inner.indexOf(",") < 0 || /[\s{]/.test(inner)) continue;
    let p = i;
    while (p > 0 && isAlnum(v.charCodeAt(p - 1))) p--;
    let q = close + 1;
    while (q < v.length && isAlnum(v.charCodeAt(q))) q++;
    const prefix = v.slice(p, i);
    const suffix = v.slice(close + 1, q);
    const alts = inner.split(",");
    const words = alts
      .map((a) => (prefix + a + suffix).replace(/^\$?['"]|['"]$/g, ""))
      .filter((w) => w !== "");
    const first = words[0] ?? "";
    const glob = first.startsWith("/") && /[?*]/.test(first);
    const name = commandName(first).name;
    if (!glob && !isKnown(name)) continue;
    const strong =
      glob ||
      isDistinct(name) ||
      prefix !== "" ||
      suffix !== "" ||
      alts.some((a) => a === "") ||
      words.slice(1).some((w) => /^[-/$~.]/.test(w));
    if (strong) return true;
  }
  return false;
}

// Mail protocol commands injected after a line break (SMTP, POP3, IMAP): the server runs them as its own.
const SMTP_ADDRESS = /^(mail\s+from|rcpt\s+to)\s*:\s*</;
const MAIL_LINE =
  /^((ehlo|helo)\s+[a-z0-9.-]+|data|quit|rset|starttls|(vrfy|expn)\s+\S+|(retr|dele|list|uidl)\s+\d+|top\s+\d+\s+\d+|apop\s+\S+\s+[0-9a-f]{32}|auth\s+[a-z0-9-]+(\s+\S+)?|[a-z]{0,3}\d{1,4}\s+(login|authenticate|select|examine|create|delete|rename|subscribe|list|lsub|status|append|expunge|search|fetch|store|copy|uid|logout|capability|quit)(\s[^\r\n]*)?)\s*$/;

function mailCommand(v: string): RuleId | null {
  let found: RuleId | null = null;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c !== 10 && c !== 13) continue;
    let s = i + 1;
    while (s < v.length && (v.charCodeAt(s) === 10 || v.charCodeAt(s) === 13 || v.charCodeAt(s) === 32)) s++;
    let e = s;
    while (e < v.length && e < s + 200 && v.charCodeAt(e) !== 10 && v.charCodeAt(e) !== 13) e++;
    const line = v.slice(s, e);
    if (SMTP_ADDRESS.test(line)) return "cmdi-mail-command";
    if (MAIL_LINE.test(line)) found = "cmdi-mail-verb";
    i = e - 1;
  }
  return found;
}

/** Finds command positions in `v` and judges the command at each. */
function scan(v: string, flags: number, out: RuleId[], assigned: string[], evasive: boolean): void {
  // `cmd=x=cat;$x …`: remember every `name=` a shell would read as an assignment
  if (flags & DOLLAR && v.indexOf("$") >= 0)
    for (const m of v.matchAll(/(?<=^|[\s;&|=(])([a-z_][a-z0-9_]{0,31})=(?!=)/g)) add(assigned, m[1]!);
  if ((flags & BRACKET || (flags & SLASH && flags & QUESTION)) && hasGlobPath(v)) add(out, "cmdi-glob-path");
  if (flags & SLASH && hasBinaryPath(v)) add(out, "cmdi-binary-path");
  let first = 0;
  while (
    first < v.length &&
    (isSpace(v.charCodeAt(first)) || v.charCodeAt(first) === 39 || v.charCodeAt(first) === 34)
  )
    first++;
  let backticks = 0;
  // without a separator only the value's first word stands at a command position
  const end = flags & SEPARATORS ? v.length : 0;
  // no command starts after any other character (positionAt, and `\` for a written-out `\n`)
  for (let i = -1; i < end; i = i + 1 < end ? nextSeparator(v, i + 1) : end) {
    // a literal `\n` is a line break to whatever unescapes the value later (`x\nrm -rf /`)
    const escapedBreak =
      i >= 0 && v.charCodeAt(i) === 92 && (v[i + 1] === "n" || v[i + 1] === "r") && i + 2 < v.length;
    const position: Position | null = i < 0 ? "start" : escapedBreak ? "separator" : positionAt(v, i);
    if (position === null) continue;
    // only an opening backtick starts a command; the word after a closing one is prose again
    if (position === "backtick" && ++backticks % 2 === 0) continue;
    let s = escapedBreak ? i + 2 : i + 1;
    // `&&`, `||`, `;;` and the like are one separator
    while (position === "separator" && s < v.length && positionAt(v, s) === "separator") s++;
    // a literal `\n` after a separator (`;\n.shell`) is a line break to whatever unescapes it
    if (position === "separator" && v.charCodeAt(s) === 92 && (v[s + 1] === "n" || v[s + 1] === "r")) s += 2;
    const opStart = i; // the separator, `v.slice(opStart, opEnd)`, read only for a known command
    const opEnd = Math.min(s, i + 3);
    if (position === "separator") i = s - 1; // a run of separators is read once
    const adjacent = s < v.length && !isSpace(v.charCodeAt(s));
    while (s < v.length && isSpace(v.charCodeAt(s))) s++;
    const word = readWord(v, s);
    if (word.end === s && s < v.length && v.charCodeAt(s) === 36) {
      if (variableCommand(v, s, assigned)) add(out, "cmdi-variable-command");
      continue;
    }
    if (word.end === s || word.end - s > 64) continue;
    // `&id=3` in a query string is a parameter, not a command; `c=cat;$c /etc/passwd` runs it
    if (word.end < v.length && v.charCodeAt(word.end) === 61) {
      if (/^[a-z_][a-z0-9_]{0,31}$/.test(word.text)) add(assigned, word.text);
      continue;
    }
    // `;.shell whoami`, `\n.system id`: the SQLite shell's dot commands run programs
    const dotWord = word.text === "." ? readWord(v, skipSpaces(v, word.end)).text : "";
    if (position === "separator" && word.text.startsWith(".") && isSqliteDot(word.text + dotWord)) {
      add(out, "cmdi-sqlite-dot");
      continue;
    }
    let { name, bin } = commandName(word.text, (flags & (SLASH | BACKSLASH)) !== 0);
    let e = word.end;
    let prefix = "";
    // most words are no command: the sets are read only for a name whose key (nameKey) is a command's
    const maybe = bin || mayBeCommand(name);
    if (maybe && PREFIXES.has(name)) {
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
    const distinct = maybe && (isDistinct(name) || (bin && !COMMON.has(name) && PROGRAM.test(name)));
    if (!distinct && !(maybe && COMMON.has(name))) {
      // An unknown program after a separator, given options (`;lastlog -u root`, `;perf --version`)
      if (position === "separator" && optionFollows(v, e) && /^[a-z][a-z0-9_-]{1,23}$/.test(name))
        add(out, adjacent || i === first ? "cmdi-separator-command" : "cmdi-option-command");
      // or a value that is such a command line with a long option (`perf --version`)
      else if (position === "start" && optionFollows(v, e, true) && /^[a-z][a-z0-9_-]{1,23}$/.test(name))
        add(out, "cmdi-option-command");
      continue;
    }
    // `nohup x`, `strace x`, `sudo x` run a known command; `time x` and `nice x` only with a distinct one
    if (position === "start" && prefix !== "" && (distinct || !(prefix === "time" || prefix === "nice")))
      add(out, "cmdi-command-line");
    // `w'h'o'am'i`, `c"a"t`, `c^md`: quotes inside a command word only hide it (`I'd` is not `id`);
    // `cu$@rl`: so does an empty expansion (this scan reads the value with them removed)
    if ((word.split || evasive) && name.length > 2 && position !== "group") add(out, "cmdi-evasion");
    const args = shellArguments(v, e, name);
    // `\ls`: a backslash before a command skips any alias or function of that name
    if (v.charCodeAt(s) === 92 && position !== "group" && args !== "prose") add(out, "cmdi-evasion");
    // `… | sh`: piping into a shell needs no arguments
    const op = v.slice(opStart, opEnd);
    if (op === "|" && args === "bare" && SHELLS.has(name)) add(out, "cmdi-separator-command");
    const rule = judge({
      position,
      family: isFamilyMember(name),
      reversed: op === ";" && adjacent && i > 0 && isSpace(v.charCodeAt(i - 1)),
      // judge reads `sentence` only for a distinct command
      sentence: position === "start" && args === "prose" && distinct && isSentence(v, e),
      then: position === "start" && args === "bare" ? afterSeparator(v, e) : "none",
      operator: op === "&&" || op === "||" || op === "|",
      leading: i === first,
      adjacent,
      glued: i > 0 && !isSpace(v.charCodeAt(i - 1)) && v[i - 1] !== "(",
      distinct,
      bin,
      args,
    });
    if (rule === null) continue;
    add(
      out,
      rule === "cmdi-separator-command" && (WINDOWS.has(name) || isCmdlet(name)) ? "cmdi-windows" : rule,
    );
    i = e - 1;
  }
}

// Function words: arguments holding one are a sentence about the tool, not its command line.
const FUNCTION_WORDS = words(
  "a an the and or but nor of to in on at by for with from into onto about as than then so if is are was were " +
    "be been am do does did can could will would should may might must not no vs how what why when where which " +
    "who whom whose my your our their his her its i you we they me us them it this that these those there here " +
    "examples example tutorial guide download free online windows linux mac",
);

/** Whether the words after a command (up to 8, before a separator) include a function word. */
function isSentence(v: string, e: number): boolean {
  if (!isSpace(v.charCodeAt(e))) return true; // glued to the word (`curl%20and`): no arguments at all
  const text = v.slice(e, e + 120);
  let n = 0;
  for (const w of text.split(/[\s+,.!?]+/)) {
    if (w === "") continue;
    if (";|&\n\r`".includes(w[0]!) || ++n > 8) break;
    if (FUNCTION_WORDS.has(w)) return true;
  }
  return n > 6; // a long run of words is prose too
}

function skipSpaces(v: string, i: number): number {
  while (i < v.length && isSpace(v.charCodeAt(i))) i++;
  return i;
}

/** Whether the next argument after `e` is an option: `-u`, `--version`. */
function optionFollows(v: string, e: number, long = false): boolean {
  if (e >= v.length || !isSpace(v.charCodeAt(e))) return false;
  let i = e;
  while (i < v.length && isSpace(v.charCodeAt(i))) i++;
  if (v.charCodeAt(i) !== 45 || (long && v.charCodeAt(i + 1) !== 45)) return false;
  if (v.charCodeAt(i + 1) === 45) i++;
  const c = v.charCodeAt(i + 1);
  if (!(c >= 97 && c <= 122)) return false;
  let j = i + 1;
  while (j < v.length && j < i + 24 && (isAlnum(v.charCodeAt(j)) || v.charCodeAt(j) === 45)) j++;
  return (
    j >= v.length || isSpace(v.charCodeAt(j)) || v.charCodeAt(j) === 61 || positionAt(v, j) === "separator"
  );
}

/** What follows a bare command at `e`: a separator, and whether only blanks and quotes come after it. */
function afterSeparator(v: string, e: number): Context["then"] {
  let i = e;
  while (i < v.length && isSpace(v.charCodeAt(i))) i++;
  if (i >= v.length || positionAt(v, i) !== "separator") return "none";
  const newline = v.charCodeAt(i) === 10 || v.charCodeAt(i) === 13;
  while (
    i < v.length &&
    (positionAt(v, i) === "separator" || isSpace(v.charCodeAt(i)) || v[i] === "'" || v[i] === '"')
  )
    i++;
  // a trailing line break ends many a typed word (`Time⏎`): only `;`, `|`, `&` end a common one
  if (i >= v.length) return newline ? "separator" : "separator-end";
  // `hostname;ip;port` is a list of words, not two commands
  let j = i;
  while (j < v.length && v.charCodeAt(j) >= 97 && v.charCodeAt(j) <= 122) j++;
  const word = v.slice(i, j);
  if (j > i && (j >= v.length || !isWordChar(v.charCodeAt(j))) && !isKnown(word)) return "list";
  return "separator";
}

/** A variable at a command position that runs a command: `$SHELL -c …`, or one the value assigned (`c=cat;$c /etc/passwd`). */
function variableCommand(v: string, s: number, assigned: string[]): boolean {
  const m = /^\$\{?([a-z_][a-z0-9_]{0,31})\}?/.exec(v.slice(s, s + 40));
  if (!m) return false;
  const name = m[1]!;
  if (assigned.includes(name)) return true;
  return (name === "shell" || name === "bash") && optionFollows(v, s + m[0].length);
}

// The SQLite shell's dot commands that reach files or programs; it accepts any unique prefix.
const SQLITE_DOT = [
  "shell",
  "system",
  "databases",
  "tables",
  "dump",
  "import",
  "output",
  "once",
  "load",
  "read",
  "open",
  "schema",
];

function isSqliteDot(word: string): boolean {
  const w = word.replace(/\\/g, "").slice(1);
  return (
    w.length >= 2 &&
    SQLITE_DOT.some((d) => d.startsWith(w) && (w.length >= 4 || d === "shell" || d === "system"))
  );
}

/** Reads a command word at `s`, dropping quotes and carets; `split` says whether one fell inside the word. */
function readWord(v: string, s: number): { text: string; end: number; split: boolean } {
  // the common word, with no quote, caret or backslash in it, is a slice of the value
  let e = s;
  while (e < v.length && e < s + 80) {
    const c = v.charCodeAt(e);
    if (c === 92 || !isWordChar(c)) break;
    e++;
  }
  const after = e < v.length ? v.charCodeAt(e) : -1;
  if (after === -1 || e === s + 80 || (after !== 39 && after !== 34 && after !== 94 && after !== 92))
    return { text: v.slice(s, e), end: e, split: false };
  return readQuotedWord(v, s);
}

/** readWord where a quote, caret or backslash stopped the plain word. */
function readQuotedWord(v: string, s: number): { text: string; end: number; split: boolean } {
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

/**
 * Removes expansions that are empty in a fresh shell (`$?`, `$_`, `$u`, `${a}`, `$()`, ``` `` ```),
 * which split words (`c$_at`); `${IFS}` is a space. `split` tells whether one fell inside a word.
 */
function stripExpansions(v: string): { text: string; split: boolean } {
  let out = "";
  let split = false;
  const cut = (next: number): void => {
    if (!split && isAlnum(out.charCodeAt(out.length - 1)) && isAlnum(v.charCodeAt(next))) split = true;
  };
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    // empty substitutions: ``` `` ```, `<()`, `>()`
    if (c === 96 && v.charCodeAt(i + 1) === 96) {
      cut(i + 2);
      i++;
      continue;
    }
    if ((c === 60 || c === 62) && v.charCodeAt(i + 1) === 40 && v.charCodeAt(i + 2) === 41) {
      cut(i + 3);
      i += 2;
      continue;
    }
    if (c !== 36) {
      out += v[i];
      continue;
    }
    const n = v.charCodeAt(i + 1);
    if ((n === 40 && v.charCodeAt(i + 2) === 41) || n === 36) {
      i += n === 36 ? 1 : 2; // `$()`, and `$$` (a number, but only noise inside a word)
      cut(i + 1);
      continue;
    }
    if ("?!_#-*@".includes(v[i + 1] ?? "x") || (n >= 48 && n <= 57)) {
      i++;
      cut(i + 1);
      continue;
    }
    if (n === 123 /* { */) {
      const close = v.slice(0, i + 17).indexOf("}", i);
      if (close > 0) {
        if (v.slice(i + 2, close) === "ifs") out += " ";
        else cut(close + 1);
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
      cut(j);
      i = j - 1; // `$u`, `$xx`: unset short names
      continue;
    }
    out += "$";
  }
  return { text: out, split };
}

/** Which rule a command earns in its context, or null: the stronger the context, the less the command itself must prove. */
function judge(c: Context): RuleId | null {
  if (c.bin) return "cmdi-binary-path";
  if (c.position === "dollar") return "cmdi-substitution";
  if (c.position === "backtick")
    return c.distinct || c.args === "shell" || c.glued ? "cmdi-substitution" : "cmdi-command-word";
  if (c.position === "start") {
    if (c.args === "shell" || (c.family && c.args === "prose")) return "cmdi-command-line";
    // `whoami;…`, `visudo⏎`, `id;`: a command ended by a separator
    if (c.then === "separator-end" || (c.distinct && c.then === "separator")) return "cmdi-command-line";
    // `cscli alerts list`, `pip3 install x`: arguments, not a sentence (`curl and divergence`)
    return c.distinct && (c.args === "bare" || (c.args === "prose" && !c.sentence))
      ? "cmdi-command-word"
      : null;
  }
  if (c.position === "group") return c.args === "shell" ? "cmdi-separator-command" : null;
  if (c.distinct || c.args === "shell") return "cmdi-separator-command";
  if (c.args === "bare") return c.adjacent || c.leading ? "cmdi-separator-command" : "cmdi-command-word";
  // A word after `;` or `&` is prose more often than not; after `&&`, `||` or `|` much less so, and
  // prose puts a blank after its semicolon (`x ;top -b` does not).
  return c.operator || c.leading || c.reversed ? "cmdi-command-word" : null;
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

// cmd.exe control flow: `for [/r c:\x] %a in (…)`, `if [/i] [not] exist|errorlevel|"%v%"==…`,
// `if (1) equ (1)`, `IF [%1] EQU []`: operands quoted, bracketed or bare around `==` or a word operator.
// Applied to at most 160 chars from each `for`/`if`, so the optional groups cannot cost much.
const FOR_LOOP = /^for(\s+\/[a-z](\s+("[^"]{0,64}"|[a-z]:[^\s]{0,64}))?)*\s+%%?[^\s]{1,16}\s+in\s*\(/;
const IF_TEST =
  /^if(\s*\/i)?(\s+not)?(\s+|(?=[(["]))((exist|errorlevel|cmdextversion|defined)\s|"?%|[^\s(=]{1,32}\s*==|("[^"]{0,32}"|\([^()]{0,32}\)|\[[^\]]{0,32}\])\s*==|(\(\s*)?("[^"]{0,32}"|\([^()]{0,32}\)|\[[^\]]{0,32}\]|[^\s(=[]{1,32})\s+(equ|neq|lss|leq|gtr|geq)\s)/;

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
    const found = classifyCmdi(target.value);
    // a Referer's query parameters are the client's own values, each a command line of its own
    if (target.name === "REQUEST_HEADERS:referer") {
      const q = target.value.indexOf("?");
      if (q >= 0)
        for (const pair of target.value.slice(q + 1, q + 2049).split("&")) {
          const eq = pair.indexOf("=");
          if (eq >= 0)
            for (const r of classifyCmdi(pair.slice(eq + 1))) if (!found.includes(r)) found.push(r);
        }
    }
    if (found.length === 0) return [];
    // a page named after a tool (`/tags/iptables`) is no command: the file name needs more than the word
    const rules = target.name === "REQUEST_FILENAME" ? found.filter((r) => r !== "cmdi-command-word") : found;
    return rules.map((rule) => {
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
