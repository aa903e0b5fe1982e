// Security scanners and attack tools: the names they put in User-Agent (sqlmap, Nikto, the Nmap
// Scripting Engine, masscan, ZGrab, Nuclei, WPScan, the directory brute-forcers, commercial DAST
// products), the headers commercial scanners add to tag their own traffic, and the out-of-band
// interaction domains (Burp Collaborator, interactsh/OAST, DNS loggers) that blind-injection
// payloads call back to, in any value. Tool traffic is not an attack in itself, but nobody runs
// these against a site they do not test, and their payloads follow; one match blocks at PL1. Names
// that are also ordinary words or products wait for PL2. Matching is token-based on the lowercased
// variant the engine supplies (`variants()`), so it is linear and case-insensitive.
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

const isWordChar = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 95;

/** The lowercase words of a User-Agent (letters, digits, `-`, `_`), each checked against a table. */
function hasToolWord(ua: string, table: ReadonlySet<string>): boolean {
  let start = -1;
  for (let i = 0; i <= ua.length; i++) {
    const c = i < ua.length ? ua.charCodeAt(i) : 32;
    if (isWordChar(c) || c === 45) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      const w = ua.slice(start, i);
      if (table.has(w)) return true;
      // `openvas-vt`, `nikto-scan`: the first part of a hyphenated word.
      const dash = w.indexOf("-");
      if (dash > 2 && table.has(w.slice(0, dash))) return true;
      // `sqlmap/1.7`, `zgrab2`: a trailing version digit glued to the name.
      let end = w.length;
      while (end > 0 && w.charCodeAt(end - 1) >= 48 && w.charCodeAt(end - 1) <= 57) end--;
      if (end < w.length && end > 2 && table.has(w.slice(0, end))) return true;
      start = -1;
    }
  }
  return false;
}

const OOB_SET = new Set(OOB_DOMAINS);
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

function inspect(target: Target): Detection[] {
  const out: Detection[] = [];
  const name = target.name;
  const v = target.value;
  if (name.startsWith("REQUEST_HEADERS:")) {
    const header = name.slice(16);
    if (SCANNER_HEADERS.has(header) || header.startsWith("acunetix-"))
      out.push(detection("scanner-header", name));
    if (header === "user-agent") {
      const ua = v.toLowerCase();
      if (hasToolWord(ua, TOOLS) || TOOL_PHRASES.some((p) => ua.includes(p)))
        out.push(detection("scanner-user-agent", name));
      else if (hasToolWord(ua, WEAK_TOOLS)) out.push(detection("scanner-user-agent-weak", name));
    }
  }
  if (v.indexOf(".") >= 0) {
    const kind = oobKind(v);
    if (kind === "oob") out.push(detection("scanner-oob-domain", name));
    else if (kind === "webhook") out.push(detection("scanner-oob-webhook", name));
    if (name === "REQUEST_PATH" && v.includes("nice ports,/tri"))
      out.push(detection("scanner-probe-path", name));
  }
  if (PAYLOAD_MARKERS.some((m) => v.includes(m))) out.push(detection("scanner-payload-marker", name));
  return out;
}

export const scannerDetector: Detector = { name: "scanner", inspect };
