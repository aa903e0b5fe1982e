// Path traversal and local file inclusion: dot-dot segments that climb out of a directory, names of
// files an attacker reads first (credentials, system and server configuration), and PHP stream
// wrappers that turn an include into a file read or a command. The engine feeds decoded variants,
// so `%2e%2e%2f`, `%c0%ae` and `.%00.` arrive here as plain dots and slashes. Rules are our own.
import { urlDecode } from "../decode.ts";
import type { Detection, Detector, ParanoiaLevel, Severity, Target } from "../types.ts";

type RuleId =
  | "lfi-dot-dot"
  | "lfi-dot-dot-single"
  | "lfi-sensitive-file"
  | "lfi-wrapper"
  | "lfi-system-path"
  | "lfi-hidden-file";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tag: string;
}

/**
 * PL1: two or more dot-dot segments, or one that starts the value (the value *is* a path climbing
 * up), a sensitive file, a wrapper. PL2: a single `../` inside text (a Markdown link, "see
 * ../README"), an absolute path into a system directory and a hidden file or directory (`/.cursor/`),
 * all common in benign technical text or in the paths of real sites.
 */
export const TRAVERSAL_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "lfi-dot-dot": { paranoia: 1, severity: "critical", tag: "path-traversal" },
  "lfi-sensitive-file": { paranoia: 1, severity: "critical", tag: "sensitive-file" },
  "lfi-wrapper": { paranoia: 1, severity: "critical", tag: "php-wrapper" },
  "lfi-dot-dot-single": { paranoia: 2, severity: "critical", tag: "path-traversal" },
  "lfi-system-path": { paranoia: 2, severity: "critical", tag: "sensitive-file" },
  "lfi-hidden-file": { paranoia: 2, severity: "critical", tag: "sensitive-file" },
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
      if (isSlash(v.charCodeAt(k)) || (k === v.length && isSlash(prev))) {
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

/** The value as a path: lowercase, `\` as `/`, runs of slashes and `/./` collapsed (so `etc//./passwd` reads `etc/passwd`). */
function pathView(value: string): string {
  const v = value.toLowerCase();
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    let c = v.charCodeAt(i);
    if (c === 92) c = 47;
    const n = out.length;
    if (c === 47 && n > 0) {
      if (out[n - 1] === 47) continue;
      // `/.` then `/`: drop the dot (but keep `/..`)
      if (out[n - 1] === 46 && n > 1 && out[n - 2] === 47) {
        out.pop();
        continue;
      }
    }
    out.push(c);
  }
  let s = "";
  for (let i = 0; i < out.length; i += 4096) s += String.fromCharCode(...out.slice(i, i + 4096));
  return s;
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

/** Whether `needle` occurs in `v` with no letter or digit on either side (nor a template's `$`/`{` after a `/`). */
function hasWord(v: string, needle: string): boolean {
  const last = needle.charCodeAt(needle.length - 1);
  for (let i = v.indexOf(needle); i >= 0; i = v.indexOf(needle, i + 1)) {
    const before = i > 0 ? v.charCodeAt(i - 1) : -1;
    let k = i + needle.length;
    while (v.charCodeAt(k) === 47) k++;
    const after = v.charCodeAt(k);
    const open = isSlash(last) || last === 46;
    if (!isAlnum(before) && (open ? after !== 36 && after !== 123 : !isAlnum(after))) return true;
  }
  return false;
}

/** Rules a value matches, at every paranoia level. */
export function classifyTraversal(value: string): RuleId[] {
  const out: RuleId[] = [];
  const dots = value.indexOf("..") >= 0 ? dotDotSegments(value) : { count: 0, leading: false };
  if (dots.count >= 2 || dots.leading) out.push("lfi-dot-dot");
  else if (dots.count === 1) out.push("lfi-dot-dot-single");
  // Multipart and JSON values reach us URL-encoded; the decoded variant has also been through the
  // JS decoder, which eats backslashes (`\users` becomes `users`), so decode `%5c` here alone.
  const path = pathView(/%5c/i.test(value) ? urlDecode(value) : value);
  if (SENSITIVE.some((n) => hasWord(path, n)) || UNBOUNDED.some((n) => path.includes(n)))
    out.push("lfi-sensitive-file");
  if (WRAPPERS.some((n) => hasWord(path, n))) out.push("lfi-wrapper");
  if (SYSTEM_DIRS.some((n) => hasWord(path, n))) out.push("lfi-system-path");
  if (hasHiddenSegment(path)) out.push("lfi-hidden-file");
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
    return classifyTraversal(target.value).map((rule) => {
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
