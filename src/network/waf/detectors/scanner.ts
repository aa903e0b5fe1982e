// Security scanners and attack tools: the names they put in User-Agent (sqlmap, Nikto, the Nmap
// Scripting Engine, masscan, ZGrab, Nuclei, WPScan, the directory brute-forcers, commercial DAST
// products), the headers commercial scanners add to tag their own traffic, and the out-of-band
// interaction domains (Burp Collaborator, interactsh/OAST, DNS loggers) that blind-injection
// payloads call back to, in any value. Tool traffic is not an attack in itself, but nobody runs
// these against a site they do not test, and their payloads follow; one match blocks at PL1. Names
// that are also ordinary words or products wait for PL2. Matching is token-based on the lowercased
// variant the engine supplies (`variants()`), so it is linear and case-insensitive.
import { CHAR_DOT, CHAR_LOWER_W, CHAR_LPAREN } from "../chars.ts";
import type { Detection, Detector, ParanoiaLevel, Severity, Target } from "../types.ts";
import { words } from "./lexicon.ts";

type RuleId =
  | "scanner-user-agent"
  | "scanner-header"
  | "scanner-oob-domain"
  | "scanner-probe-path"
  | "scanner-payload-marker"
  | "scanner-user-agent-weak"
  | "scanner-oob-webhook";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

/**
 * PL1: a tool's own name in User-Agent, a scanner's marker header, an out-of-band callback domain,
 * Nmap's service probe path. PL2: tool names that are also words (`vega`, `hydra`), and public
 * request bins, which developers also point webhooks at.
 */
export const SCANNER_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "scanner-user-agent": {
    paranoia: 1,
    severity: "critical",
    tags: ["attack-reputation-scanner", "user-agent"],
  },
  "scanner-header": {
    paranoia: 1,
    severity: "critical",
    tags: ["attack-reputation-scanner", "scanner-header"],
  },
  "scanner-oob-domain": {
    paranoia: 1,
    severity: "critical",
    tags: ["attack-reputation-scanner", "oob-callback"],
  },
  "scanner-probe-path": { paranoia: 1, severity: "critical", tags: ["attack-reputation-scanner", "probe"] },
  "scanner-payload-marker": {
    paranoia: 1,
    severity: "critical",
    tags: ["attack-reputation-scanner", "probe"],
  },
  "scanner-user-agent-weak": {
    paranoia: 2,
    severity: "error",
    tags: ["attack-reputation-scanner", "user-agent"],
  },
  "scanner-oob-webhook": {
    paranoia: 2,
    severity: "warning",
    tags: ["attack-reputation-scanner", "oob-callback"],
  },
};

// Tool names as they appear in User-Agent, lowercased: vulnerability scanners, fuzzers and
// brute-forcers, CMS scanners, injection tools, internet-wide scanners.
// prettier-ignore
const TOOLS = words(
  "sqlmap sqlninja havij pangolin bsqlbf absinthe marathon-tool nosqlmap commix xsser xsstrike dalfox " +
  "nikto wikto whisker nessus nasl openvas openvasvt nexpose qualys qualysguard acunetix netsparker invicti " +
  "appscan webinspect arachni w3af skipfish wapiti grendel-scan uniscan webshag nsauditor paros " +
  "burpsuite owasp-zap zaproxy jaeles nuclei wpscan joomscan droopescan cmsmap cmseek whatweb " +
  "dirbuster gobuster feroxbuster ffuf wfuzz dirsearch dirb jbrofuzz " +
  "masscan zgrab zmap zmeu morfeus fimap brutus webvulnscan sitelockspider jorgee " +
  "crowdstrike-scanner bbot httpx-toolkit",
);

// Phrases some tools use instead of (or beside) their short name.
const TOOL_PHRASES = [
  "nmap scripting engine",
  "fuzz faster u fool",
  "open-source project (github.com/projectdiscovery",
  "mozilla/5.00 (nikto",
  "internet-measurement",
];

// Tool names that are also ordinary words or unrelated products: PL2.
const WEAK_TOOLS = words("vega hydra medusa grabber nmap zap sqlscan scanner scan-bot fuzzer hacker");

// Header names commercial scanners add to their requests, lowercased.
// prettier-ignore
const SCANNER_HEADERS = words(
  "acunetix-aspect acunetix-aspect-password acunetix-aspect-queries acunetix-aspect-scanner " +
  "acunetix-product acunetix-scanning-agreement acunetix-user-agreement x-wipp x-scan-memo " +
  "x-requestmanager-memo x-request-memo x-scanner x-wvs-id x-bug-bounty",
);

// Payload markers the scanners embed in their probes.
const PAYLOAD_MARKERS = [
  "acunetix_wvs_security_test",
  "acunetix-wvs-test",
  "wvstest=",
  "netsparker(0x",
  "testasp.vulnweb.com",
];

// Out-of-band interaction services: a payload that names one wants the server to call back.
// prettier-ignore
const OOB_DOMAINS = [
  "burpcollaborator.net", "oastify.com", "oast.me", "oast.fun", "oast.pro", "oast.live", "oast.site",
  "oast.online", "interact.sh", "interactsh.com", "bxss.me", "dnslog.cn", "dnslog.link", "ceye.io",
  "xss.ht", "xss.report", "canarytokens.com", "dnsbin.zhack.ca", "r87.me", "ssrf.localdomain.pw",
];
// Public request bins: attackers' favourites, but developers point webhooks at them too.
const OOB_WEBHOOKS = [
  "requestbin.net",
  "requestbin.com",
  "pipedream.net",
  "webhook.site",
  "requestcatcher.com",
  "hookbin.com",
];

/**
 * Whether a word of the lowercased User-Agent (a run of letters, digits, `-`, `_`) is a table's
 * name, or starts with one and then a hyphen (`openvas-vt`, `nikto-scan`: the first part of a
 * hyphenated word) or a version number glued to it (`sqlmap/1.7`, `zgrab2`). One regex over the
 * value (a char loop slicing every word cost more): the names are 3 chars or longer and none ends
 * in a digit, so `name` + digits is the word without its trailing digits.
 */
function toolWords(table: ReadonlySet<string>): RegExp {
  const names = [...table].sort((a, b) => b.length - a.length);
  const plain = names.filter((w) => !w.includes("-")).join("|");
  const hyphenated = names.filter((w) => w.includes("-")).join("|");
  const dashed = hyphenated === "" ? "" : `|(?:${hyphenated})[0-9]*`;
  return new RegExp(`(?<![a-z0-9_-])(?:(?:${plain})(?:-[a-z0-9_-]*|[0-9]+)?${dashed})(?![a-z0-9_-])`);
}

const OOB_SET = new Set(OOB_DOMAINS);
const TOOL_WORDS = toolWords(TOOLS);
const WEAK_TOOL_WORDS = toolWords(WEAK_TOOLS);
/** Every payload marker holds one of these. */
const MARKER_HINT = /wvs|netsparker\(0x|vulnweb/;
/** What ends a run that ends in a listed domain: a dot, the domain's last label, maybe the FQDN's dot. */
const LISTED_END = new RegExp(
  `\\.(?:${[...new Set([...OOB_DOMAINS, ...OOB_WEBHOOKS].map((d) => d.slice(d.lastIndexOf(".") + 1)))].join("|")})\\.?(?![a-z0-9.-])`,
);
const WEBHOOK_SET = new Set(OOB_WEBHOOKS);

/**
 * Which table a host-like run of the value (`[a-z0-9.-]+`) ends in, at a label boundary:
 * `x.oast.me/` and `@oast.me` match, `oast.media` does not. One pass over the value, then a set
 * lookup per dot of each run.
 */
function oobKind(value: string): "oob" | "webhook" | null {
  let found: "oob" | "webhook" | null = null;
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    const c = i < value.length ? value.charCodeAt(i) : 32;
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46) continue;
    if (i - start > 5) {
      let run = value.slice(start, i);
      if (run.endsWith(".")) run = run.slice(0, -1); // the FQDN form `oast.me.`
      // The tables' domains have at most four labels: only the last four suffixes can match.
      let d = run.length;
      for (let labels = 0; labels < 4 && d > 0; labels++) {
        d = run.lastIndexOf(".", d - 1);
        const suffix = run.slice(d + 1);
        if (OOB_SET.has(suffix)) return "oob";
        if (WEBHOOK_SET.has(suffix)) found = "webhook";
        if (d < 0) break;
      }
    }
    start = i + 1;
  }
  return found;
}

function detection(rule: RuleId, target: string): Detection {
  return { rule, target, ...SCANNER_RULES[rule] };
}

/** One pass over a short value: whether it holds a dot, `wv` or `(`, which the value rules need. */
function dotOrMarker(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 46 || c === 40 || (c === 119 && v.charCodeAt(i + 1) === 118)) return true;
  }
  return false;
}

// The last lowercased User-Agent read, and its rule: the engine passes the header and its
// lowercased variant one after the other, and a client sends the same one on every request.
let lastUa = "";
let lastUaRule: RuleId | null = null;

/** The rule a lowercased User-Agent matches: a tool's name or phrase, else a weak name, else none. */
function userAgentRule(ua: string): RuleId | null {
  if (ua !== lastUa) {
    lastUa = ua;
    if (TOOL_WORDS.test(ua) || TOOL_PHRASES.some((p) => ua.includes(p))) lastUaRule = "scanner-user-agent";
    else lastUaRule = WEAK_TOOL_WORDS.test(ua) ? "scanner-user-agent-weak" : null;
  }
  return lastUaRule;
}

function inspect(target: Target): Detection[] {
  const out: Detection[] = [];
  const name = target.name;
  const v = target.value;
  if (name.startsWith("REQUEST_HEADERS:")) {
    const header = name.slice(16);
    if (SCANNER_HEADERS.has(header) || header.startsWith("acunetix-"))
      out.push(detection("scanner-header", name));
    if (header === "user-agent") {
      const rule = userAgentRule(v.toLowerCase());
      if (rule !== null) out.push(detection(rule, name));
    }
  }
  // A short value without a dot (for a domain), `wv` or `(` (for a marker) matches nothing below.
  if (v.length <= 64 && !dotOrMarker(v)) return out;
  // Only a value where a listed domain's last label ends a run can name one (most dots are in
  // versions, numbers and ordinary host names).
  if (v.indexOf(".") >= 0) {
    const kind = LISTED_END.test(v) ? oobKind(v) : null;
    if (kind === "oob") out.push(detection("scanner-oob-domain", name));
    else if (kind === "webhook") out.push(detection("scanner-oob-webhook", name));
    if (name === "REQUEST_PATH" && v.includes("nice ports,/tri"))
      out.push(detection("scanner-probe-path", name));
  }
  if (MARKER_HINT.test(v) && PAYLOAD_MARKERS.some((m) => v.includes(m)))
    out.push(detection("scanner-payload-marker", name));
  return out;
}

export const scannerDetector: Detector = {
  name: "scanner",
  inspect,
  // Past the header rules, every rule needs a domain's `.`, a marker's `(` or a `w` (dotOrMarker,
  // MARKER_HINT).
  needs: {
    bits: CHAR_DOT | CHAR_LPAREN | CHAR_LOWER_W,
    anyway: (_value, name) => name.startsWith("REQUEST_HEADERS:"),
  },
};
