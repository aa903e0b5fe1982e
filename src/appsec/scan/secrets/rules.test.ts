// Every rule: a true case built at runtime from random bytes (no live-looking secret is committed)
// and look-alikes people write in docs, tests and templates that must not be reported.
import { createHmac, generateKeyPairSync, randomBytes, randomInt } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isPlaceholder } from "./entropy.ts";
import { secretRules } from "./rules.ts";
import { scanText } from "./scanner.ts";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
// A true case is random, and like a real key it may spell "token" by chance (about one draw in
// 100,000); draw again then, so a run never fails on the placeholder filter's known odds.
const drawn = (draw: () => string) => {
  for (;;) {
    const value = draw();
    if (!isPlaceholder(value)) return value;
  }
};
const pick = (alphabet: string, n: number) =>
  drawn(() => Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join(""));
const alnum = (n: number) => pick(ALNUM, n);
const b64 = (bytes: number) => drawn(() => randomBytes(bytes).toString("base64"));
const b64url = (bytes: number) => drawn(() => randomBytes(bytes).toString("base64url"));
const hex = (n: number) => pick("0123456789abcdef", n);
const digits = (n: number) => String(randomInt(1, 10)) + pick("0123456789", n - 1);

const rulesIn = (text: string, file = "src/app.ts") => scanText(text, file).map((f) => f.finding.rule);

function jwt(header: object, claims: object): string {
  const h = Buffer.from(JSON.stringify(header)).toString("base64url");
  const c = Buffer.from(JSON.stringify(claims)).toString("base64url");
  const sig = createHmac("sha256", randomBytes(32)).update(`${h}.${c}`).digest("base64url");
  return `${h}.${c}.${sig}`;
}

interface Case {
  rule: string;
  /** Texts in which the rule must find exactly one secret. */
  found: (() => string)[];
  /** Look-alikes: no finding of this rule. */
  notFound: string[];
  file?: string;
}

const rsaPem = () =>
  generateKeyPairSync("rsa", { modulusLength: 1024 })
    .privateKey.export({ type: "pkcs1", format: "pem" })
    .toString();
const ecPem = () =>
  generateKeyPairSync("ec", { namedCurve: "P-256" })
    .privateKey.export({ type: "sec1", format: "pem" })
    .toString();
const wrap = (s: string) => s.match(/.{1,64}/g)!.join("\n");

const cases: Case[] = [
  {
    rule: "gcp-service-account-key",
    found: [
      () =>
        JSON.stringify(
          {
            type: "service_account",
            project_id: "acme-prod",
            private_key_id: hex(40),
            private_key: generateKeyPairSync("rsa", { modulusLength: 1024 })
              .privateKey.export({ type: "pkcs8", format: "pem" })
              .toString(),
            client_email: "deployer@acme-prod.iam.gserviceaccount.com",
          },
          null,
          2,
        ),
    ],
    notFound: [
      '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----\\n"}',
    ],
  },
  {
    rule: "private-key",
    found: [
      rsaPem,
      ecPem,
      () => `-----BEGIN OPENSSH PRIVATE KEY-----\n${wrap(b64(600))}\n-----END OPENSSH PRIVATE KEY-----\n`,
      () =>
        `-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n${wrap(b64(900))}\n=${b64(3)}\n-----END PGP PRIVATE KEY BLOCK-----`,
      () => `const key = "${rsaPem().replace(/\n/g, "\\n")}";`,
    ],
    notFound: [
      "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
      "-----BEGIN PRIVATE KEY-----\n<your private key here, base64 encoded, several lines long>\n-----END PRIVATE KEY-----",
      `-----BEGIN PUBLIC KEY-----\n${wrap(b64(270))}\n-----END PUBLIC KEY-----`,
      `-----BEGIN CERTIFICATE-----\n${wrap(b64(600))}\n-----END CERTIFICATE-----`,
      `-----BEGIN RSA PRIVATE KEY-----\n${"A".repeat(64)}\n${"x".repeat(64)}\n-----END RSA PRIVATE KEY-----`,
    ],
  },
  {
    rule: "aws-access-key-id",
    found: [() => `aws_access_key_id = AKIA${pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)}`],
    notFound: [
      "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
      "AKIAXXXXXXXXXXXXXXXX",
      "timezone: Asia/Kolkata",
      `id = "XAKIA${pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)}"`,
    ],
  },
  {
    rule: "aws-secret-access-key",
    found: [
      () => `aws_secret_access_key = ${b64(30)}`,
      () => `AKIA${pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)},${b64(30)}\n`,
      () =>
        `{"AccessKeyId": "ASIA${pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)}", "SecretAccessKey": "${b64(30)}"}`,
    ],
    notFound: [
      "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      `const digest = "${b64(30)}"; // no AWS context`,
      `aws_secret_access_key = ${"ab12".repeat(10)}`,
    ],
  },
  {
    rule: "gcp-api-key",
    found: [() => `const firebase = { apiKey: "AIza${pick(ALNUM + "-_", 35)}" };`],
    notFound: [`apiKey: "AIza${"x".repeat(35)}"`, "apiKey: 'AIzaSyEXAMPLE-placeholder-key-0000000000'"],
  },
  {
    rule: "azure-storage-connection-string",
    found: [
      () =>
        `AZURE_STORAGE=DefaultEndpointsProtocol=https;AccountName=acmeprod01;AccountKey=${b64(64)};EndpointSuffix=core.windows.net`,
    ],
    notFound: [
      `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${b64(64)};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;`,
      "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=<your-account-key>;EndpointSuffix=core.windows.net",
    ],
  },
  {
    rule: "azure-sas-token",
    found: [
      () =>
        `https://acme.blob.core.windows.net/backups/db.gz?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-12-31T00:00:00Z&spr=https&sig=${encodeURIComponent(b64(32))}`,
    ],
    notFound: [
      "https://acme.blob.core.windows.net/c/b?sv=2022-11-02&sp=r&sig=XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
      "https://acme.blob.core.windows.net/c/b?sv=2022-11-02&sp=r&sig=<signature>",
    ],
  },
  {
    rule: "github-token",
    found: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"].map((p) => () => `GITHUB_TOKEN=${p}${alnum(36)}`),
    notFound: [
      `GITHUB_TOKEN=ghp_${"x".repeat(36)}`,
      "token: ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
      `ghp_${alnum(20)}`,
    ],
  },
  {
    rule: "github-fine-grained-token",
    found: [() => `token = github_pat_${alnum(22)}_${alnum(59)}`],
    notFound: [`token = github_pat_${"A".repeat(22)}_${"A".repeat(59)}`],
  },
  {
    rule: "gitlab-token",
    found: [() => `GITLAB_TOKEN=glpat-${pick(ALNUM + "-_", 20)}`],
    notFound: ["GITLAB_TOKEN=glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-<your-token>"],
  },
  {
    rule: "slack-token",
    found: [
      () => `SLACK_BOT_TOKEN=xoxb-${digits(12)}-${digits(13)}-${alnum(24)}`,
      () => `"xoxp-${digits(12)}-${digits(12)}-${digits(13)}-${hex(32)}"`,
    ],
    notFound: [
      "SLACK_BOT_TOKEN=xoxb-your-bot-token",
      "xoxb-000000000000-0000000000000-xxxxxxxxxxxxxxxxxxxxxxxx",
    ],
  },
  {
    rule: "slack-webhook",
    found: [
      () =>
        `url: https://hooks.slack.com/services/T${pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10)}/B${pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10)}/${alnum(24)}`,
    ],
    notFound: [
      "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
      "https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/your-webhook-token",
    ],
  },
  {
    rule: "discord-bot-token",
    found: [() => `DISCORD_BOT_TOKEN=M${b64url(18)}.${b64url(4).slice(0, 6)}.${b64url(28)}`],
    notFound: [
      // Same shape but nothing says Discord: too generic to report.
      `SOME_VALUE=M${b64url(18)}.${b64url(4).slice(0, 6)}.${b64url(28)}`,
      `discord: MTIzNDU2Nzg5MDEyMzQ1Njc4.XXXXXX.${"x".repeat(38)}`,
    ],
  },
  {
    rule: "discord-webhook",
    found: [() => `https://discord.com/api/webhooks/${digits(18)}/${b64url(51)}`],
    notFound: [`https://discord.com/api/webhooks/${digits(18)}/${"x".repeat(68)}`],
  },
  {
    rule: "telegram-bot-token",
    found: [() => `TELEGRAM_TOKEN=${digits(10)}:AA${pick(ALNUM + "_-", 33)}`],
    notFound: [`TELEGRAM_TOKEN=123456789:AA${"x".repeat(33)}`, "TELEGRAM_TOKEN=<bot-id>:AA<token>"],
  },
  {
    rule: "stripe-secret-key",
    found: [() => `STRIPE_KEY=sk_live_${alnum(24)}`, () => `const k = "rk_live_${alnum(99)}";`],
    notFound: [
      `STRIPE_KEY=sk_test_${alnum(24)}`,
      `STRIPE_KEY=sk_live_${"x".repeat(24)}`,
      "sk_live_your_key_here",
    ],
  },
  {
    rule: "paypal-braintree-token",
    found: [
      () => `BT=access_token$production$${pick("0123456789abcdefghijklmnopqrstuvwxyz", 16)}$${hex(32)}`,
    ],
    notFound: [
      `BT=access_token$sandbox$${pick("abcdefghijklmnopqrstuvwxyz", 16)}$${hex(32)}`,
      `access_token$production$${"0".repeat(16)}$${"0".repeat(32)}`,
    ],
  },
  {
    rule: "razorpay-key",
    found: [() => `RAZORPAY_KEY_ID=rzp_live_${alnum(14)}`],
    notFound: [`RAZORPAY_KEY_ID=rzp_test_${alnum(14)}`, "rzp_live_XXXXXXXXXXXXXX"],
  },
  {
    rule: "twilio-api-key",
    found: [() => `TWILIO_API_KEY=SK${hex(32)}`],
    notFound: [`SOME_HASH=SK${hex(32)}`, `TWILIO_API_KEY=SK${"0".repeat(32)}`],
  },
  {
    rule: "sendgrid-api-key",
    found: [() => `SENDGRID_API_KEY=SG.${b64url(16).slice(0, 22)}.${b64url(32).slice(0, 43)}`],
    notFound: [`SENDGRID_API_KEY=SG.${"x".repeat(22)}.${"x".repeat(43)}`, "msg.length"],
  },
  {
    rule: "npm-token",
    found: [() => `//registry.npmjs.org/:_authToken=npm_${alnum(36)}`],
    notFound: ["//registry.npmjs.org/:_authToken=${NPM_TOKEN}", `npm_${"a".repeat(36)}`],
  },
  {
    rule: "pypi-token",
    found: [() => `password = pypi-AgEIcHlwaS5vcmc${b64url(60)}`],
    notFound: [`pypi-${b64url(60)}`],
  },
  {
    rule: "rampart-api-key",
    found: [() => `RAMPART_TOKEN=rpk_${pick("abcdefghijklmnopqrstuvwxyz0123456789", 8)}_${b64url(32)}`],
    notFound: [`RAMPART_TOKEN=rpk_abcdefgh_${"x".repeat(43)}`, "rpk_<id>_<secret>"],
  },
  {
    rule: "jwt",
    found: [
      () =>
        `Authorization: Bearer ${jwt({ alg: "HS256", typ: "JWT" }, { sub: `svc-${hex(8)}`, exp: Math.floor(Date.now() / 1000) + 3600 })}`,
      () => `token = "${jwt({ alg: "RS256", kid: hex(8) }, { sub: hex(12), scope: "admin" })}"`,
    ],
    notFound: [
      jwt({ alg: "none" }, { sub: "x1y2z3" }),
      jwt({ alg: "HS256" }, { sub: "abc", exp: 1_500_000_000 }),
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
      `eyJ${b64url(30)}.eyJ${b64url(30)}.${b64url(30)}`,
    ],
  },
  {
    rule: "connection-string-password",
    found: [
      () => `DATABASE_URL=postgres://app:${alnum(16)}@db.internal:5432/app`,
      () => `mysql://root:${alnum(12)}@10.0.0.5/shop`,
      () => `mongodb+srv://svc:${alnum(20)}@cluster0.abcd.mongodb.net/prod`,
      () => `REDIS_URL=redis://:${alnum(24)}@cache:6379/0`,
      () => `amqp://worker:${alnum(14)}@mq.internal:5672/`,
    ],
    notFound: [
      "postgres://user:password@localhost:5432/db",
      "postgres://app:${DB_PASSWORD}@db:5432/app",
      "postgres://postgres:postgres@localhost/postgres",
      "mongodb://user:<password>@host/db",
      "redis://:****@cache:6379",
      "postgres://localhost:5432/app",
    ],
  },
  {
    rule: "generic-secret",
    found: [
      () => `const api_key = "${alnum(27)}7";`,
      () => `{"client_secret": "${b64url(24)}9"}`,
      () => `DB_PASSWORD=${alnum(19)}4`,
    ],
    notFound: [
      'password: "${DB_PASSWORD}"',
      'token: "STRING_VALUE"',
      'secret = "changeme-please"',
      'api_key = "your-api-key-here"',
      'token: "aaaaaaaaaaaaaaaaaaaa"',
      'password: "abcdefghijklmnopq"',
      'token: "5f0c7b8e-2d1a-4f3b-9c6e-1a2b3c4d5e6f"',
      'integrity: "sha512-Zm9vYmFyYmF6cXV4cXV1eGZvb2Jhcg=="',
      "token = process.env.TOKEN",
      'secret: "config.auth.secret.path"',
      'password: "correcthorsebatterystaple"',
      'tokenizer: "?NonExpressionParenEnd"',
    ],
    file: ".env",
  },
];

describe("secret rules", () => {
  it("covers every rule with cases", () => {
    expect(new Set(cases.map((c) => c.rule))).toEqual(new Set(secretRules.map((r) => r.id)));
  });

  for (const c of cases) {
    describe(c.rule, () => {
      it("finds the credential", () => {
        for (const make of c.found) {
          const text = make();
          const found = rulesIn(`# config\n${text}\n`, c.file);
          expect(found, text.slice(0, 60)).toContain(c.rule);
          expect(found.filter((r) => r === c.rule)).toHaveLength(1);
        }
      });
      it("ignores look-alikes", () => {
        for (const text of c.notFound)
          expect(rulesIn(`# config\n${text}\n`, c.file), text.slice(0, 80)).not.toContain(c.rule);
      });
    });
  }

  it("reports a service-account key once, not also as a private key", () => {
    const sa = cases[0]!.found[0]!();
    expect(rulesIn(sa, "sa.json")).toEqual(["gcp-service-account-key"]);
  });

  it("reports an AWS key pair as the id and the secret", () => {
    const id = `AKIA${pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)}`;
    expect(
      rulesIn(`[default]\naws_access_key_id = ${id}\naws_secret_access_key = ${b64(30)}\n`).sort(),
    ).toEqual(["aws-access-key-id", "aws-secret-access-key"]);
  });

  it("takes unquoted values only in configuration files", () => {
    const line = `DB_PASSWORD=${alnum(19)}5\n`;
    expect(rulesIn(line, "deploy/.env.production")).toEqual(["generic-secret"]);
    expect(rulesIn(line, "k8s/values.yaml")).toEqual(["generic-secret"]);
    expect(rulesIn(line, "src/main.ts")).toEqual([]);
    expect(rulesIn(line.replace("\n", "\r\n"), "windows.env")).toEqual(["generic-secret"]);
  });
});

describe("regex safety", () => {
  // Keywords followed by fillers that start, but never finish, a match: a backtracking regex
  // blows up on exactly this (seconds to hours per megabyte); linear rules get through at once.
  const fillers = [
    "",
    "a",
    "A1",
    '="',
    "-----",
    ":",
    ".",
    "/",
    "@",
    "eyJ",
    " = '",
    "\\n",
    "-----BEGIN RSA PRIVATE KEY-----",
  ];
  const units = secretRules.flatMap((r) => r.keywords.flatMap((k) => fillers.map((f) => `${k}${f}x`)));

  it("stays linear on 1 MB of every keyword and filler mixed", { timeout: 60_000 }, () => {
    let text = "";
    while (text.length < 1_000_000) text += units[randomInt(units.length)];
    expect(() => scanText(text, "x.env")).not.toThrow();
  });

  it("stays linear on 64 KB of each keyword and filler repeated", { timeout: 60_000 }, () => {
    for (const unit of units) {
      const text = unit.repeat(Math.ceil(65_536 / unit.length));
      expect(() => scanText(text, "x.env")).not.toThrow();
    }
  });

  it("never throws on random bytes", () => {
    for (let i = 0; i < 200; i++) {
      const buf = randomBytes(randomInt(0, 20_000));
      expect(() => scanText(buf.toString("latin1"), "random.bin")).not.toThrow();
      expect(() => scanText(buf.toString("utf8"), "random.txt")).not.toThrow();
    }
  });
});
