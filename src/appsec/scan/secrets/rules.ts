// Credential rules, written for Rampart (gitleaks and detect-secrets taught the approach: a cheap
// keyword prefilter per rule, a linear regex, then entropy and validators to drop look-alikes).
// Every regex here is linear: no nested quantifiers, every repeat bounded, lazy repeats only
// after a literal prefix that rarely occurs. rules.test.ts checks that on pathological input.
import type { ScanSeverity } from "../types.ts";
import { API_KEY_PATTERN } from "../../../identity/service-auth/api-keys.ts";
import { charClasses, isDigest, isPlaceholder, isRepetitive, isUuid, shannonEntropy } from "./entropy.ts";

/** Around a match, for validators that pair a value with its neighbours (AWS id + secret). */
export interface MatchContext {
  text: string;
  index: number;
  file: string;
}

export interface SecretRule {
  id: string;
  title: string;
  severity: ScanSeverity;
  /** The rule runs on a text only if one keyword occurs (lowercase, matched case-insensitively). */
  keywords: string[];
  /** Keywords matched exactly (for prefixes whose lowercase is common prose, like `ASIA`). */
  exactKeywords?: boolean;
  /**
   * Matches start where a keyword occurs, so the regex runs only at keyword positions (sticky)
   * instead of over the whole text.
   */
  anchored?: boolean;
  /** Global regex; the named group `s` is the secret (else the whole match). */
  regex: RegExp;
  /** Minimum Shannon entropy (bits/char) of the secret. */
  minEntropy?: number;
  /** Run on files whose path matches only. */
  path?: RegExp;
  /** Look-alike filter beyond the shared ones; false drops the match. */
  validate?: (secret: string, m: RegExpExecArray, ctx: MatchContext) => boolean;
  /** Skip the shared placeholder filter (for long values such as key blocks, which have their own). */
  ownPlaceholderCheck?: boolean;
  fix?: string;
}

const ROTATE = "Revoke and rotate the credential, then load it from a secret store or the environment";

/** Base64url JSON decode, or undefined. */
function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function near(ctx: MatchContext, span: number): string {
  return ctx.text.slice(Math.max(0, ctx.index - span), ctx.index + span);
}

/** Random-looking: mixed classes, not a run, not a UUID. */
function randomish(s: string, classes = 2): boolean {
  return charClasses(s) >= classes && !isRepetitive(s) && !isUuid(s);
}

const PEM_BODY = /[A-Za-z0-9+/]{40,}/;
const CONFIG_FILE =
  /(?:^|[\\/])(?:\.env[^\\/]*|[^\\/]*\.(?:env|properties|ini|cfg|conf|toml|ya?ml)|Dockerfile)$/i;
const CODE_REF = /^(?:process\.env|os\.environ|env\.|config\.|this\.|self\.|settings\.)/;
const WORD_PATH = /^[a-z0-9_./:-]+$/i;

const CONSTANT_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;
const CONTAINS_UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const FILE_NAME = /\.(?:[a-z]{2,4}|json|yaml|html)$/;

function genericValue(s: string): boolean {
  if (isPlaceholder(s) || !randomish(s) || isDigest(s) || CODE_REF.test(s)) return false;
  if (CONSTANT_NAME.test(s) || CONTAINS_UUID.test(s) || FILE_NAME.test(s)) return false;
  // Needs a digit beside letters, or plenty of entropy: `?NonExpressionParenEnd` is a name,
  // `Xk9_rT2q…` is not.
  if (!/[0-9]/.test(s) && !(charClasses(s) >= 3 && shannonEntropy(s) >= 4.2)) return false;
  if (!/[A-Za-z]/.test(s)) return false;
  // Base64 of counting or repeated bytes (`AAECAwQF…` is 0x00 0x01 0x02…): documentation filler.
  if (/^[A-Za-z0-9+/]{16,}={0,2}$/.test(s) && isRepetitive(Buffer.from(s, "base64").toString("latin1")))
    return false;
  // Dotted names and paths (`foo.bar.baz`, `/var/run/x`, `a-b-c`) are identifiers.
  if (
    WORD_PATH.test(s) &&
    /[./:-]/.test(s) &&
    s.split(/[./:-]/).every((p) => p.length === 0 || /^[a-z]*[0-9]*$/i.test(p))
  )
    return false;
  return true;
}

const CONN_DEFAULTS =
  /^(?:pass(?:word)?|pwd|pw|user(?:name)?|root|admin|guest|postgres|mysql|redis|mongo|secret|\*+|x+)$/i;

/** The built-in rules, most specific first (an overlapping generic match yields to an earlier rule). */
export const secretRules: readonly SecretRule[] = [
  {
    id: "gcp-service-account-key",
    title: "GCP service-account private key",
    severity: "critical",
    anchored: true,
    keywords: ['"private_key"'],
    regex:
      /"private_key"\s{0,5}:\s{0,5}"(?<s>-----BEGIN (?:RSA )?PRIVATE KEY-----(?:\\n|\\r|[A-Za-z0-9+/=\s]){64,12000}?-----END (?:RSA )?PRIVATE KEY-----(?:\\n)?)"/g,
    ownPlaceholderCheck: true,
    validate: (s, _m, ctx) =>
      PEM_BODY.test(s) &&
      /\.iam\.gserviceaccount\.com|"type"\s{0,5}:\s{0,5}"service_account"/.test(near(ctx, 6000)),
    fix: "Delete the key in IAM (service account → keys), create a new one or use workload identity",
  },
  {
    id: "private-key",
    title: "Private key",
    severity: "critical",
    keywords: ["private key"],
    regex:
      // The body has no dash outside its armour headers, so a BEGIN without an END costs one pass.
      /-----BEGIN (?<kind>(?:[A-Z0-9]{2,10} ){0,2})PRIVATE KEY(?: BLOCK)?-----(?:\\[nr]|[\s"',+]){0,40}(?<s>[A-Za-z0-9/](?:[A-Za-z0-9+/=\s\\"',:]|(?:Proc-Type|DEK-Info|Comment)[^\n]{0,200}){39,20000}?)-----END \k<kind>PRIVATE KEY(?: BLOCK)?-----/g,
    ownPlaceholderCheck: true,
    validate: (s) => {
      const body = s.replace(/\\[nr]|[\s"'+,]|^Proc-Type.*$|^DEK-Info.*$|^Version.*$|^Comment.*$/gm, "");
      return (
        PEM_BODY.test(body) && !/\.\.\.|xxxx|EXAMPLE|<[a-z ]+>|\$\{/i.test(s) && shannonEntropy(body) > 4.5
      );
    },
    fix: "Treat the key as compromised: revoke or replace it everywhere it is trusted, keep keys out of the repository",
  },
  {
    id: "aws-access-key-id",
    title: "AWS access key id",
    severity: "high",
    anchored: true,
    keywords: ["AKIA", "ASIA", "ABIA", "ACCA"],
    exactKeywords: true,
    regex: /(?<![A-Za-z0-9])(?<s>(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?![A-Za-z0-9])/g,
    validate: (s) => !isRepetitive(s.slice(4)),
    fix: `${ROTATE}; deactivate the key in IAM`,
  },
  {
    id: "aws-secret-access-key",
    title: "AWS secret access key",
    severity: "critical",
    anchored: true,
    keywords: ["aws", "secret", "akia", "asia"],
    // After an access key id (paired by proximity) or after a key named like the secret.
    regex:
      /(?:(?:AKIA|ASIA)[A-Z2-7]{16}[\s\S]{0,300}?|(?:aws|secret)[A-Za-z0-9_.-]{0,40}["']?\s{0,5}(?::=|=>|[:=,])\s{0,5}["']?)(?<![A-Za-z0-9/+])(?<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/gi,
    minEntropy: 4.2,
    validate: (s) => randomish(s, 3),
    fix: `${ROTATE}; deactivate the key pair in IAM`,
  },
  {
    id: "gcp-api-key",
    title: "Google API key",
    severity: "high",
    anchored: true,
    keywords: ["AIza"],
    exactKeywords: true,
    regex: /(?<![A-Za-z0-9_-])(?<s>AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9_-])/g,
    validate: (s) => randomish(s.slice(4), 2),
    fix: `${ROTATE}; restrict the key to its APIs and referrers`,
  },
  {
    id: "azure-storage-connection-string",
    title: "Azure storage account key",
    severity: "critical",
    keywords: ["accountkey="],
    regex: /AccountName=(?<account>[a-z0-9]{3,24});AccountKey=(?<s>[A-Za-z0-9+/]{86}==)/gi,
    // Azurite's documented development account is public.
    validate: (_s, m) => m.groups?.account !== "devstoreaccount1",
    fix: "Rotate the storage account key and use a managed identity or SAS with a short expiry",
  },
  {
    id: "azure-sas-token",
    title: "Azure shared access signature",
    severity: "high",
    keywords: ["sig="],
    regex: /[?&]sv=\d{4}-\d{2}-\d{2}&[^\s"'<>#]{0,400}?[?&]sig=(?<s>[A-Za-z0-9%+/]{40,100}(?:%3D|=){0,2})/gi,
    validate: (s) => randomish(s, 2),
    fix: "Revoke the SAS (rotate the key it was signed with, or its stored access policy)",
  },
  {
    id: "github-token",
    title: "GitHub token",
    severity: "critical",
    anchored: true,
    keywords: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
    regex: /(?<![A-Za-z0-9_])(?<s>gh[pousr]_[A-Za-z0-9]{36})(?![A-Za-z0-9_])/g,
    validate: (s) => randomish(s.slice(4), 2),
    fix: `${ROTATE}; revoke it under Settings → Developer settings`,
  },
  {
    id: "github-fine-grained-token",
    title: "GitHub fine-grained personal access token",
    severity: "critical",
    anchored: true,
    keywords: ["github_pat_"],
    regex: /(?<![A-Za-z0-9_])(?<s>github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?![A-Za-z0-9_])/g,
    validate: (s) => randomish(s.slice(11), 2),
    fix: `${ROTATE}; revoke it under Settings → Developer settings`,
  },
  {
    id: "gitlab-token",
    title: "GitLab personal access token",
    severity: "critical",
    anchored: true,
    keywords: ["glpat-"],
    regex: /(?<![A-Za-z0-9_-])(?<s>glpat-[A-Za-z0-9_-]{20}(?:[A-Za-z0-9_.-]{0,60}))(?![A-Za-z0-9_-])/g,
    validate: (s) => randomish(s.slice(6), 2),
    fix: `${ROTATE}; revoke it under User settings → Access tokens`,
  },
  {
    id: "slack-token",
    title: "Slack token",
    severity: "high",
    anchored: true,
    keywords: ["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"],
    regex: /(?<![A-Za-z0-9])(?<s>xox[baprs]-[0-9]{6,15}-[0-9A-Za-z-]{8,200})(?![A-Za-z0-9-])/g,
    validate: (s) => randomish(s.slice(5), 2) && !/-x{4}|-\.{3}/i.test(s),
    fix: `${ROTATE}; revoke it in the Slack app settings`,
  },
  {
    id: "slack-webhook",
    title: "Slack incoming webhook URL",
    severity: "high",
    anchored: true,
    keywords: ["https://hooks.slack.com/"],
    regex:
      /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/(?<s>T[A-Z0-9]{6,12}\/[A-Z0-9]{6,12}\/[A-Za-z0-9]{20,40})/g,
    validate: (s) => randomish(s.slice(s.lastIndexOf("/") + 1), 2),
    fix: "Regenerate the webhook in the Slack app (webhook URLs are credentials)",
  },
  {
    id: "discord-bot-token",
    title: "Discord bot token",
    severity: "high",
    keywords: ["discord"],
    regex:
      /(?<![A-Za-z0-9_-])(?<s>[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40})(?![A-Za-z0-9_-])/g,
    validate: (s) => randomish(s, 3),
    fix: `${ROTATE}; reset the token in the Discord developer portal`,
  },
  {
    id: "discord-webhook",
    title: "Discord webhook URL",
    severity: "high",
    anchored: true,
    keywords: ["discord.com/api/webhooks/", "discordapp.com/api/webhooks/"],
    regex: /discord(?:app)?\.com\/api\/webhooks\/\d{15,22}\/(?<s>[A-Za-z0-9_-]{60,70})/g,
    validate: (s) => randomish(s, 3),
    fix: "Delete and recreate the webhook (webhook URLs are credentials)",
  },
  {
    id: "telegram-bot-token",
    title: "Telegram bot token",
    severity: "high",
    keywords: [":aa"],
    regex: /(?<![A-Za-z0-9:])(?<s>\d{8,10}:AA[A-Za-z0-9_-]{33})(?![A-Za-z0-9_-])/g,
    validate: (s) => randomish(s.slice(s.indexOf(":") + 3), 2),
    fix: `${ROTATE}; revoke it with @BotFather`,
  },
  {
    id: "stripe-secret-key",
    title: "Stripe live secret key",
    severity: "critical",
    anchored: true,
    keywords: ["sk_live_", "rk_live_"],
    regex: /(?<![A-Za-z0-9_])(?<s>[sr]k_live_[A-Za-z0-9]{24,99})(?![A-Za-z0-9_])/g,
    validate: (s) => randomish(s.slice(8), 2),
    fix: `${ROTATE}; roll the key in the Stripe dashboard`,
  },
  {
    id: "paypal-braintree-token",
    title: "PayPal Braintree access token",
    severity: "critical",
    anchored: true,
    keywords: ["access_token$production$"],
    regex: /(?<s>access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32})/g,
    ownPlaceholderCheck: true,
    validate: (s) => !isRepetitive(s.slice(-32)),
    fix: `${ROTATE}; revoke it in the Braintree control panel`,
  },
  {
    id: "razorpay-key",
    title: "Razorpay live key id",
    severity: "medium",
    anchored: true,
    keywords: ["rzp_live_"],
    regex: /(?<![A-Za-z0-9_])(?<s>rzp_live_[A-Za-z0-9]{14})(?![A-Za-z0-9_])/g,
    validate: (s) => randomish(s.slice(9), 2),
    fix: "Regenerate the key pair in the Razorpay dashboard; the key secret must never sit beside the id",
  },
  {
    id: "twilio-api-key",
    title: "Twilio API key",
    severity: "high",
    keywords: ["twilio"],
    regex: /(?<![A-Za-z0-9])(?<s>SK[0-9a-f]{32})(?![A-Za-z0-9])/g,
    validate: (s) => !isRepetitive(s.slice(2)) && shannonEntropy(s.slice(2)) > 3,
    fix: `${ROTATE}; delete the API key in the Twilio console`,
  },
  {
    id: "sendgrid-api-key",
    title: "SendGrid API key",
    severity: "high",
    anchored: true,
    keywords: ["SG."],
    exactKeywords: true,
    regex: /(?<![A-Za-z0-9_-])(?<s>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/g,
    validate: (s) => randomish(s.slice(3), 3),
    fix: `${ROTATE}; delete the key in SendGrid settings`,
  },
  {
    id: "npm-token",
    title: "npm access token",
    severity: "critical",
    anchored: true,
    keywords: ["npm_"],
    regex: /(?<![A-Za-z0-9_])(?<s>npm_[A-Za-z0-9]{36})(?![A-Za-z0-9_])/g,
    validate: (s) => randomish(s.slice(4), 2),
    fix: `${ROTATE}; revoke it with \`npm token revoke\``,
  },
  {
    id: "pypi-token",
    title: "PyPI upload token",
    severity: "critical",
    anchored: true,
    keywords: ["pypi-ageichlwas5vcmc"],
    regex: /(?<![A-Za-z0-9_-])(?<s>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,300})(?![A-Za-z0-9_-])/g,
    fix: `${ROTATE}; delete the token in PyPI account settings`,
  },
  {
    id: "rampart-api-key",
    title: "Rampart API key",
    severity: "critical",
    anchored: true,
    keywords: ["rpk_"],
    regex: new RegExp(`(?<![A-Za-z0-9_])(?<s>${API_KEY_PATTERN.source})(?![A-Za-z0-9_-])`, "g"),
    validate: (s) => randomish(s.slice(13), 2),
    fix: "Revoke the key (`rampart identity api-keys revoke`) and issue a new one",
  },
  {
    id: "jwt",
    title: "JSON Web Token",
    severity: "medium",
    anchored: true,
    keywords: ["eyj"],
    regex:
      // (?=(x+))\1 is an atomic group: no backtracking through a long run that has no dot after it.
      /(?<![A-Za-z0-9_-])(?<s>eyJ(?=(?<h>[A-Za-z0-9_-]{10,1500}))\k<h>\.eyJ(?=(?<p>[A-Za-z0-9_-]{4,8000}))\k<p>\.[A-Za-z0-9_-]{16,2000})(?![A-Za-z0-9_-])/g,
    validate: (s) => {
      const [head, body] = s.split(".");
      const header = decodeJson(head!);
      if (!header || typeof header.alg !== "string" || header.alg.toLowerCase() === "none") return false;
      const claims = decodeJson(body!);
      // jwt.io's sample token (sub 1234567890, John Doe) and other demo claims.
      if (!claims || /1234567890|john doe|example\.(?:com|org)/i.test(JSON.stringify(claims))) return false;
      // A token that expired long ago no longer opens anything.
      return !(typeof claims.exp === "number" && claims.exp * 1000 < Date.now() - 86_400_000);
    },
    ownPlaceholderCheck: true,
    fix: "Revoke the token (or rotate its signing key) and keep tokens out of the repository",
  },
  {
    id: "connection-string-password",
    title: "Connection string with a password",
    severity: "high",
    anchored: true,
    keywords: ["postgres", "mysql", "mariadb", "mongodb", "redis", "amqp"],
    regex:
      /(?<![A-Za-z0-9+])(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?):\/\/(?<user>[^\s:@/"'<>`]{0,64}):(?<s>[^\s@/"'<>`]{3,128})@(?<host>[^\s/:"'<>`?,]{1,255})/gi,
    validate: (s, m) => !CONN_DEFAULTS.test(s) && s !== m.groups?.user && !/^[$%{<[*]|\$\{|\{\{/.test(s),
    fix: "Move the password out of the URL into a secret store; rotate it",
  },
  {
    id: "generic-secret",
    title: "Hard-coded secret",
    severity: "medium",
    anchored: true,
    keywords: [
      "password",
      "passwd",
      "pwd",
      "secret",
      "token",
      "api_key",
      "apikey",
      "api-key",
      "access_key",
      "accesskey",
    ],
    regex:
      /(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)[A-Za-z0-9_.-]{0,20}["']?\s{0,5}(?::=|=>|[:=])\s{0,5}(?<q>["'`])(?<s>[\x21\x23-\x26\x28-\x5b\x5d-\x5f\x61-\x7e]{12,200})\k<q>/gi,
    minEntropy: 3.3,
    validate: genericValue,
  },
  {
    id: "generic-secret",
    title: "Hard-coded secret",
    severity: "medium",
    anchored: true,
    keywords: [
      "password",
      "passwd",
      "pwd",
      "secret",
      "token",
      "api_key",
      "apikey",
      "api-key",
      "access_key",
      "accesskey",
    ],
    path: CONFIG_FILE,
    regex:
      /(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)[A-Za-z0-9_.-]{0,20}\s{0,5}[:=][ \t]{0,5}(?<s>[\x21\x24-\x26\x28-\x5f\x61-\x7e]{12,200})[ \t]*(?:#|\r?$)/gim,
    minEntropy: 3.3,
    validate: genericValue,
  },
];

/** Redacted form for every output: the first four characters, an ellipsis and the length. */
export function redact(secret: string): string {
  return `${secret.slice(0, 4)}…(${secret.length})`;
}
