// Path traversal and local file inclusion: dot-dot segments that climb out of a directory, names of
// files an attacker reads first (credentials, system and server configuration), and PHP stream
// wrappers that turn an include into a file read or a command. The engine feeds decoded variants,
// so `%2e%2e%2f`, `%c0%ae` and `.%00.` arrive here as plain dots and slashes; this file also reads
// dots and slashes spelt as hex literals (`0x2e0x2e0x2f`). Also: backups and dumps a scanner asks
// for (`db.sql.gz`, `wp-config.php.bak`), values that are only slashes and dots (`/./././`), and
// uploads named after configuration they would replace (`.htaccess`, `settings.php`). Rules are our own.
import { urlDecode } from "../decode.ts";
import type { Detection, Detector, ParanoiaLevel, Severity, Target } from "../types.ts";

type RuleId =
  | "lfi-dot-dot"
  | "lfi-dot-dot-single"
  | "lfi-sensitive-file"
  | "lfi-wrapper"
  | "lfi-system-path"
  | "lfi-hidden-file"
  | "lfi-path-shape"
  | "lfi-backup-file"
  | "lfi-upload-name";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tag: string;
}

/**
 * PL1: two or more dot-dot segments, or one that starts the value (the value *is* a path climbing
 * up), a sensitive file (system, home-directory, Windows, application and AI-assistant
 * configuration), a wrapper, a backup or dump file name, a slashes-and-dots value, a configuration
 * file's name given to an upload (FILES_NAMES, X-Filename). PL2: a single `../` inside text (a
 * Markdown link, "see ../README"), an absolute path into a system directory and a hidden file or
 * directory (`/.foo/`), all common in benign technical text or in the paths of real sites.
 */
export const TRAVERSAL_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "lfi-dot-dot": { paranoia: 1, severity: "critical", tag: "path-traversal" },
  "lfi-sensitive-file": { paranoia: 1, severity: "critical", tag: "sensitive-file" },
  "lfi-wrapper": { paranoia: 1, severity: "critical", tag: "php-wrapper" },
  "lfi-dot-dot-single": { paranoia: 2, severity: "critical", tag: "path-traversal" },
  "lfi-system-path": { paranoia: 2, severity: "critical", tag: "sensitive-file" },
  "lfi-hidden-file": { paranoia: 2, severity: "critical", tag: "sensitive-file" },
  "lfi-path-shape": { paranoia: 1, severity: "critical", tag: "path-traversal" },
  "lfi-backup-file": { paranoia: 1, severity: "critical", tag: "sensitive-file" },
  "lfi-upload-name": { paranoia: 1, severity: "critical", tag: "sensitive-file" },
};

const isAlnum = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90);
const isSlash = (c: number): boolean => c === 47 || c === 92;

/** Dot-dot segments: a run of 2+ dots not glued to a word, then a slash (`..;/` too), or `/..` at the end. */
export function dotDotSegments(v: string): { count: number; leading: boolean } {
  let count = 0;
  let leading = false;
  for (let i = 0; i < v.length; i++) {
    if (v.charCodeAt(i) !== 46) continue;
    let j = i;
    while (j < v.length && v.charCodeAt(j) === 46) j++;
    const prev = i > 0 ? v.charCodeAt(i - 1) : -1;
    if (j - i >= 2 && !isAlnum(prev)) {
      let k = j;
      // Tomcat path parameters: `..;jsessionid=x/`
      if (v.charCodeAt(k) === 59) {
        const stop = Math.min(v.length, k + 32);
        while (k < stop && !isSlash(v.charCodeAt(k))) k++;
      }
      // `/..` at the end or before what no file name holds: `/..{file}`, `/....%00`, `/..?x`
      const next = v.charCodeAt(k);
      if (
        isSlash(next) ||
        (isSlash(prev) && (k === v.length || (next < 128 && "{%?#;\"'<*\0".includes(v[k]!))))
      ) {
        count++;
        if (count === 1)
          leading =
            v
              .slice(0, i)
              .trim()
              .replace(/^["'/\\]+/, "") === "";
      }
    }
    i = j - 1;
  }
  return { count, leading };
}

// What charFlags finds in a value.
const DOT = 1;
const SLASH = 2;
const BACKSLASH = 4;
const COLON = 8;
const UNDERSCORE = 16;
const PERCENT = 32;
const UPPER = 64; // an ASCII capital, or non-ASCII text: lowercasing changes it
const HEX = 128; // `0x` or `0X`: a hex literal may spell a dot or slash
const ETC = 256; // `etc` or `etp` in any case, which the needles without `.`, `/`, `:`, `_` start with
const DOT_DOT = 512;
const COLLAPSE = 1024; // `//` or `/./`
const ALL = 2047;
/**
 * Every rule needs one of these: a dot, slash, backslash, colon or underscore, a `%` that may decode
 * to one, a hex literal spelling one, or (for `etcpasswd`, `etcshadow`, `inetpubwwwroot`) an `etc`/`etp`;
 * all but the upload name's, which looks at the target too.
 */
const TRIGGERS = DOT | SLASH | BACKSLASH | COLON | UNDERSCORE | PERCENT | HEX | ETC;

/** The value as a path: lowercase, `\` as `/`, runs of slashes and `/./` collapsed (so `etc//./passwd` reads `etc/passwd`). */
function pathView(value: string, flags: number): string {
  let v = flags & UPPER ? value.toLowerCase() : value;
  if (flags & BACKSLASH) v = v.replaceAll("\\", "/");
  // nothing to collapse without `//` or `/./`: the first slash dropped needs one of them
  if ((flags & (BACKSLASH | COLLAPSE)) === 0 || (v.indexOf("//") < 0 && v.indexOf("/./") < 0)) return v;
  let out = "";
  let from = 0; // v[from, i) is kept but not yet appended to `out`
  let n = 0; // the path's length so far, and its last two characters
  let last = -1;
  let before = -1;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 47 && n > 0) {
      if (last === 47) {
        out += v.slice(from, i);
        from = i + 1;
        continue;
      }
      // `/.` then `/`: drop the dot (but keep `/..`); the dot is v[i - 1], not yet appended
      if (last === 46 && n > 1 && before === 47) {
        out += v.slice(from, i - 1);
        from = i + 1;
        n--;
        last = 47;
        continue;
      }
    }
    n++;
    before = last;
    last = c;
  }
  return out + v.slice(from);
}

// Files read first after a traversal: credentials, keys, system and server configuration.
// Matched at a word boundary on both ends; `etcpasswd` is the form left when slashes are stripped.
// prettier-ignore
const SENSITIVE = [
  "etc/passwd", "etc/shadow", "etc/gshadow", "etc/group", "etc/master.passwd", "etc/sudoers", "etc/hosts",
  "etc/issue", "etc/crontab", "etc/subuid", "etc/subgid", "etc/security/", "etc/ssh/", "etc/httpd/",
  "etc/apache2/", "etc/nginx/", "etc/mysql/", "etcpasswd", "etcshadow",
  "proc/self/", "proc/version", "proc/cpuinfo", "proc/meminfo", "proc/mounts", "proc/net/", "proc/interrupts",
  "proc/sched_debug", "sys/class", "var/run/secrets", ".ssh/", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519",
  "authorized_keys", ".bash_history", ".zsh_history", ".history", ".bashrc", ".env", ".htaccess", ".htpasswd",
  ".git/", ".svn/", ".hg/", ".aws/credentials", ".kube/config", ".docker/", ".npmrc", ".netrc", ".pgpass",
  ".my.cnf", "web-inf/", "meta-inf/", "wp-config.php", "php.ini", "httpd.conf", "nginx.conf",
  "boot.ini", "win.ini", "system.ini", "windows/repair", "winnt/",
  "inetpub/", "global.asa", "system32/config/", "autoexec.bat",
  // more of the system: its identity, mounts, boot and login configuration, logs, mail and cron spools
  "etc/fstab", "etc/resolv.conf", "etc/hostname", "etc/motd", "etc/profile", "etc/environment", "etc/inittab",
  "etc/os-release", "etc/lsb-release", "etc/redhat-release", "etc/debian_version", "etc/shells",
  "etc/ld.so.preload", "etc/pam.d/", "etc/sysconfig/", "etc/cron.d/", "etc/exports", "etc/aliases",
  "var/log/apache", "var/log/httpd", "var/log/nginx", "var/log/auth.log", "var/log/secure", "var/log/syslog",
  "var/log/messages", "var/mail/", "var/spool/cron", "var/lib/mysql", "usr/local/apache", "usr/local/etc/",
  "apache2/conf", "opt/lampp/", "run/secrets", "docker.sock", ".dockerenv",
  // shell and tool histories, keyrings, cloud credentials in a home directory
  ".bash_profile", ".bash_logout", ".profile", ".viminfo", ".mysql_history", ".psql_history",
  ".python_history", ".node_repl_history", ".lesshst", ".wget-hsts", ".xauthority", ".gnupg/",
  ".terraform.d/", ".config/gcloud", ".aws/config",
  // Windows secrets and IIS / .NET configuration
  "repair/sam", "config/sam", "ntds.dit", "unattend.xml", "sysprep.inf", "sysprep.xml", "drivers/etc/hosts",
  "applicationhost.config", "machine.config", "web.config", "my.ini", "my.cnf", "appsettings.json",
  // application secrets: Rails, Magento, Jenkins
  "config/database.yml", "config/secrets.yml", "config/master.key", "app/etc/env.php", "app/etc/local.xml",
  "credentials.xml",
  // configuration of AI coding assistants and developer tools: keys, prompts, MCP servers
  ".claude/", ".cursor/", ".continue/", ".aider/", ".roo/", ".zed/", ".cline/", ".kiro/", ".windsurf/",
  ".rovodev/", ".codex/", ".opencode/", ".a0proj/", ".plandex/", ".fabric/", ".n8n/", ".junie/", ".gemini/",
  ".amazonq/", ".copilot/", ".tabnine/", ".codeium/", ".sourcegraph/", ".goose/", ".crush/", ".qwen/",
  ".kilocode/", ".augment/", ".openhands/", ".trae/", ".azure/", ".gcloud/",
  ".terraform/", ".vagrant/", ".pypirc", ".git-credentials", ".gitconfig", ".dockercfg",
  ".aiignore", ".cursorignore", ".codeiumignore", ".aiderignore", ".cursorrules", ".windsurfrules",
  ".clinerules", ".mcp.json", ".boto", ".s3cfg", ".user.ini",
  // application logs that leak paths, queries and secrets
  "wp-content/debug.log", "wp-content/error.log", "wp-content/errors.log", "storage/logs/", "laravel.log",
  // a dev server's file-system door (Vite's `/@fs/`, its NUL-prefixed virtual modules)
  "@fs/", "__x00__",
];
const SYSTEM_DIRS = [
  "/etc/",
  "/proc/",
  "/sys/",
  "/dev/",
  "/var/log/",
  "/root/",
  "/home/",
  "c:/windows/",
  "c:/users/",
  "windows/system32",
];
// Matched without word boundaries: slash-stripped forms glue them to other words, and so does the
// JS decoder, which reads `\default\ntuser.dat` as escapes.
const UNBOUNDED = ["ntuser.dat", "inetpubwwwroot", "windowswin.ini", "web-infweb.xml"];
// Matched in the path view, where `php://` reads `php:/`.
// prettier-ignore
const WRAPPERS = [
  "php:/", "file:/", "zip:/", "phar:/", "expect:/", "glob:/", "compress.zlib:/", "compress.bzip2:/",
  "rar:/", "ogg:/", "ssh2.", "jar:file:", "netdoc:/",
];

// Every needle holds a `.`, `/`, `:` or `_` (its anchor), but for three found with indexOf. The
// needles are indexed by their first anchor and the character after it, so the path is searched
// for the anchors alone (a native scan) and each one found tests the few needles that fit there.
const SENSITIVE_HIT = 1;
const WRAPPER_HIT = 2;
const SYSTEM_HIT = 4;
interface Needle {
  text: string;
  hit: number;
  /** Matched at a word boundary (`isWordAt`), or anywhere (UNBOUNDED). */
  bounded: boolean;
  /** Where its anchor is. */
  at: number;
}
const ANCHORS = "./:_";
const END = 128; // the key of a needle that ends with its anchor: any character may follow
/** By `anchor index * 129 + the character after the anchor`. */
const ANCHORED: Needle[][] = Array.from({ length: ANCHORS.length * 129 }, () => []);
const UNANCHORED: Needle[] = [];
/** What a path must hold (`charFlags`) for each anchor to be in it: its `/` may have been a `\`. */
const ANCHOR_FLAGS = [DOT, SLASH | BACKSLASH, COLON, UNDERSCORE];
for (const [list, hit, bounded] of [
  [SENSITIVE, SENSITIVE_HIT, true],
  [UNBOUNDED, SENSITIVE_HIT, false],
  [WRAPPERS, WRAPPER_HIT, true],
  [SYSTEM_DIRS, SYSTEM_HIT, true],
] as const)
  for (const text of list) {
    let at = 0;
    while (at < text.length && ANCHORS.indexOf(text[at]!) < 0) at++;
    const needle = { text, hit, bounded, at };
    if (at === text.length) {
      // needleHits looks for these only where charFlags saw their `etc` or `etp`
      if (!/et[cp]/.test(text)) throw new Error(`traversal needle ${text} needs an anchor or an etc/etp`);
      UNANCHORED.push(needle);
    } else
      ANCHORED[
        ANCHORS.indexOf(text[at]!) * 129 + (at + 1 < text.length ? text.charCodeAt(at + 1) : END)
      ]!.push(needle);
  }

/** Which needle families (SENSITIVE_HIT, WRAPPER_HIT, SYSTEM_HIT) occur in `path`; `flags` are its characters'. */
function needleHits(path: string, flags: number): number {
  let hits = 0;
  if (flags & ETC)
    for (const n of UNANCHORED)
      for (let i = path.indexOf(n.text); i >= 0 && (hits & n.hit) === 0; i = path.indexOf(n.text, i + 1))
        if (!n.bounded || isWordAt(path, i, n.text)) hits |= n.hit;
  for (let a = 0; a < ANCHORS.length; a++)
    if (flags & ANCHOR_FLAGS[a]!)
      for (let p = path.indexOf(ANCHORS[a]!); p >= 0; p = path.indexOf(ANCHORS[a]!, p + 1)) {
        const next = path.charCodeAt(p + 1);
        if (next < 128) hits |= anchoredHits(path, p, ANCHORED[a * 129 + next]!, hits);
        hits |= anchoredHits(path, p, ANCHORED[a * 129 + END]!, hits);
      }
  return hits;
}

/** The families of `needles` (their anchor at `p`) that `path` holds there, skipping those in `found`. */
function anchoredHits(path: string, p: number, needles: Needle[], found: number): number {
  let hits = 0;
  for (let j = 0; j < needles.length; j++) {
    const n = needles[j]!;
    const start = p - n.at;
    if ((found & n.hit) === 0 && start >= 0 && path.startsWith(n.text, start)) {
      if (!n.bounded || isWordAt(path, start, n.text)) hits |= n.hit;
    }
  }
  return hits;
}

/** Whether `needle`, found at `i` in `v`, has no letter or digit on either side (nor a template's `$`/`{` after a `/`). */
function isWordAt(v: string, i: number, needle: string): boolean {
  const last = needle.charCodeAt(needle.length - 1);
  const before = i > 0 ? v.charCodeAt(i - 1) : -1;
  let k = i + needle.length;
  while (v.charCodeAt(k) === 47) k++;
  const after = v.charCodeAt(k);
  const open = isSlash(last) || last === 46;
  return !isAlnum(before) && (open ? after !== 36 && after !== 123 : !isAlnum(after));
}

/** Up to this length charFlags reads a value a character at a time; a longer one goes to searchFlags. */
const SHORT = 40;
const ETC_OR_NON_ASCII = /et[cp]|[\u0080-\uffff]/i;

/** charFlags for a long value: a native search for each character, faster there than a loop. */
function searchFlags(s: string): number {
  let f = UPPER; // lowercasing a long value costs less than looking for its capitals
  if (s.indexOf(".") >= 0) f |= s.indexOf("..") >= 0 ? DOT | DOT_DOT : DOT;
  if (s.indexOf("/") >= 0) f |= s.indexOf("//") >= 0 || s.indexOf("/./") >= 0 ? SLASH | COLLAPSE : SLASH;
  if (s.indexOf("\\") >= 0) f |= BACKSLASH;
  if (s.indexOf(":") >= 0) f |= COLON;
  if (s.indexOf("_") >= 0) f |= UNDERSCORE;
  if (s.indexOf("%") >= 0) f |= PERCENT;
  if (s.indexOf("0x") >= 0 || s.indexOf("0X") >= 0) f |= HEX;
  if (ETC_OR_NON_ASCII.test(s)) f |= ETC;
  return f;
}

/** Each needs a lookback: `..`, `//` or `/./`, `0x`, `etc` or `etp`. */
const LOOK = 1 << 15;
const CLASS = new Uint16Array(128); // ASCII characters to their flags
CLASS[46] = DOT | LOOK;
CLASS[47] = SLASH | LOOK;
CLASS[92] = BACKSLASH;
CLASS[58] = COLON;
CLASS[95] = UNDERSCORE;
CLASS[37] = PERCENT;
for (let c = 65; c <= 90; c++) CLASS[c] = UPPER;
for (const c of "xXcCpP") CLASS[c.charCodeAt(0)]! |= LOOK;

/**
 * One pass over `s` for the characters each rule needs (DOT, SLASH, …). Non-ASCII text gets every
 * flag: lowercasing can turn it into ASCII (the Kelvin sign into `k`).
 */
function charFlags(s: string): number {
  if (s.length > SHORT) return searchFlags(s);
  let f = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) return ALL;
    const k = CLASS[c]!;
    if (k === 0) continue;
    f |= k;
    if ((k & LOOK) === 0) continue;
    // (reading before the start is slow: `i > 0` first)
    const p = i > 0 ? s.charCodeAt(i - 1) : -1;
    if (c === 46) {
      if (p === 46) f |= DOT_DOT;
    } else if (c === 47) {
      if (p === 47 || (p === 46 && i > 1 && s.charCodeAt(i - 2) === 47)) f |= COLLAPSE;
    } else if ((c | 32) === 120) {
      if (p === 48) f |= HEX;
    } else if ((p | 32) === 116 && i > 1 && (s.charCodeAt(i - 2) | 32) === 101) f |= ETC;
  }
  return f & ~LOOK;
}

/** Whether the path ends as a backup's name: `bak`, `old`, `orig`, `save`, `swp`, `swo`, `tmp`, `dist`, `copy`, `~`. */
function hasBackupTail(path: string): boolean {
  switch (path.charCodeAt(path.length - 1)) {
    case 126: // ~
      return true;
    case 107: // k
      return path.endsWith("bak");
    case 100: // d
      return path.endsWith("old");
    case 103: // g
      return path.endsWith("orig");
    case 101: // e
      return path.endsWith("save");
    case 112: // p
      return path.endsWith("swp") || path.endsWith("tmp");
    case 111: // o
      return path.endsWith("swo");
    case 116: // t
      return path.endsWith("dist");
    case 121: // y
      return path.endsWith("copy");
    default:
      return false;
  }
}

/** `0x2e0x2e0x2f`: dots and slashes spelt as C hex literals, which some fuzzers and decoders use. */
function hexLiterals(value: string): string {
  // a fuzzer's broken spelling drops the zero (`0x2e0x2ex2e`): read `x2e` too
  return value.replace(/0?x(2e|2f|5c)/gi, (m) => {
    const c = m[m.length - 1]!.toLowerCase();
    return c === "e" ? "." : c === "f" ? "/" : "\\";
  });
}

/**
 * A value that is nothing but slashes and dots (`/./././`, `//..`), perhaps with a fuzzer's
 * `{file}` placeholder after them: path-normalisation probes, never data.
 */
function isPathShape(v: string): boolean {
  const t = v.trim();
  let i = 0;
  let slashes = 0;
  let dots = 0;
  for (; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (isSlash(c)) slashes++;
    else if (c === 46) dots++;
    else break;
  }
  if (slashes === 0) return false; // a shape needs a slash
  const rest = t.slice(i);
  if (rest !== "" && !/^\{[a-z_]{1,16}\}$/i.test(rest)) return false;
  if (i < 3 && rest === "") return false;
  return slashes >= 2 || (slashes >= 1 && dots >= 2);
}

// Backups and dumps a scanner asks for: `db.sql.gz`, `backup.sql.zip`, `config.php.bak`, `wp-config.php~`.
const BACKUP =
  /(^|[/\\])([^/\\\s]{1,64}\.sql\.(gz|zip|bz2|xz|7z|tar|tgz|rar|zst)|[^/\\\s]{0,32}(backup|dump|db|database|mysql|export)[^/\\\s]{0,32}\.sql|[^/\\\s]{1,64}\.(php|asp|aspx|jsp|config|conf|cfg|ini|env|ya?ml|inc|py|rb)[._-]?(bak|old|orig|save|swp|swo|tmp|dist|copy|~))$/;

// Names a file upload must not take: server and application configuration that the upload would
// replace (`.htaccess`, `web.config`, `wp-config.php`, `settings.php`, `config.yml`) and credentials.
const UPLOAD_NAME =
  /^(\.htaccess|\.htpasswd|\.user\.ini|php\.ini|web\.config|\.env|\.boto|\.npmrc|\.pypirc|\.netrc|\.git-credentials|\.bashrc|\.profile|authorized_keys|id_(rsa|dsa|ecdsa|ed25519)|(wp-config|settings|local_?settings|config|configuration|database|parameters|secrets|credentials)[._-]?(php|ya?ml|json|ini|xml|inc|conf|py|rb|env)([._-]?(bak|old|orig|save|swp|txt|dist|copy|~))?)$/;
const isUploadName = (target: string): boolean =>
  target.startsWith("FILES_NAMES:") ||
  target === "REQUEST_HEADERS:x-filename" ||
  target === "REQUEST_HEADERS:x_filename" ||
  target === "REQUEST_HEADERS:x-file-name";

/** Rules a value matches, at every paranoia level; `target` names where it came from. */
export function classifyTraversal(raw: string, target = ""): RuleId[] {
  let flags = charFlags(raw);
  if ((flags & TRIGGERS) === 0 && !isUploadName(target)) return [];
  const out: RuleId[] = [];
  const value = flags & HEX ? hexLiterals(raw) : raw;
  if (value !== raw) flags = charFlags(value);
  const dots = flags & DOT_DOT ? dotDotSegments(value) : { count: 0, leading: false };
  // an uploaded file named `..x`: the multipart parser has already eaten a `\` after the dots
  if (dots.count === 0 && value.startsWith("..") && target.startsWith("FILES_NAMES:")) dots.leading = true;
  if (dots.count >= 2 || dots.leading) out.push("lfi-dot-dot");
  else if (dots.count === 1) out.push("lfi-dot-dot-single");
  // Multipart and JSON values reach us URL-encoded; the decoded variant has also been through the
  // JS decoder, which eats backslashes (`\users` becomes `users`), so decode `%5c` here alone.
  const decoded = flags & PERCENT && /%5c/i.test(value) ? urlDecode(value) : value;
  const pathFlags = decoded === value ? flags : charFlags(decoded);
  const path = pathView(decoded, pathFlags);
  const hits = needleHits(path, pathFlags);
  if (hits & SENSITIVE_HIT) out.push("lfi-sensitive-file");
  if (hits & WRAPPER_HIT) out.push("lfi-wrapper");
  if (hits & SYSTEM_HIT) out.push("lfi-system-path");
  if (pathFlags & (SLASH | BACKSLASH) && pathFlags & DOT && hasHiddenSegment(path))
    out.push("lfi-hidden-file");
  if (flags & (SLASH | BACKSLASH) && isPathShape(value)) out.push("lfi-path-shape");
  if (
    pathFlags & DOT && // every backup name has one
    (path.indexOf(".sql") >= 0 || hasBackupTail(path)) &&
    BACKUP.test(path.length > 256 ? path.slice(-256) : path)
  )
    out.push("lfi-backup-file");
  if (isUploadName(target) && UPLOAD_NAME.test(path.replace(/\s/g, "").replace(/^.*\//, "")))
    out.push("lfi-upload-name");
  return out;
}

/** A `/.name` path segment (a dotfile or dot-directory) other than `/.well-known`. */
function hasHiddenSegment(path: string): boolean {
  for (let i = path.indexOf("/."); i >= 0; i = path.indexOf("/.", i + 2)) {
    const c = path.charCodeAt(i + 2);
    if (isAlnum(c) && !path.startsWith("well-known", i + 2)) return true;
  }
  return false;
}

export const traversalDetector: Detector = {
  name: "lfi",
  inspect(target: Target): Detection[] {
    return classifyTraversal(target.value, target.name).map((rule) => {
      const r = TRAVERSAL_RULES[rule];
      return {
        rule,
        tags: ["attack-lfi", r.tag],
        paranoia: r.paranoia,
        severity: r.severity,
        target: target.name,
      };
    });
  },
};
