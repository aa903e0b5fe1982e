// secrets.no-plaintext-config: credentials in rampart.yaml must be references (`${env:…}`,
// `${secret:…}`, `${file:…}`), not literal values in a file that is copied, diffed and committed.
//
// The resolved config no longer tells which values came from references (load.ts replaces them
// before validation), so this check reads the unresolved YAML object the server loaded,
// `ctx.rawConfig`. Without it there is nothing to judge.
//
// SLA default: 7 days, 2 of tolerance: moving a value into the secrets store and rotating it (it
// was exposed) takes a deploy.
import { parseTemplate } from "../../../config/references.ts";
import type { CheckDefinition, CheckItem } from "../model.ts";
import { notApplicable } from "./common.ts";

// Keys whose string value is a credential: token, secret, password, clientSecret, cookieSecret,
// routingKey (PagerDuty), api keys; and HTTP headers that carry credentials (siem exporters).
const CREDENTIAL_KEY =
  /^(token|secret|password|passwd|pass|passphrase|apikey|api_key|api-key|routingkey|privatekey|authorization|proxy-authorization|x-api-key|cookie)$|(Token|Secret|Password|ApiKey|PrivateKey)$/i;
// URL-valued keys that carry a credential in the path itself (chat webhooks).
const WEBHOOK_HOSTS =
  /^(hooks\.slack\.com|outlook\.office\.com|[a-z0-9-]+\.webhook\.office\.com|discord(app)?\.com)$/i;

const REF = "\u0000";

type Verdict = { reference: boolean; kind: string };

/** Whether the credential part of `value` (the whole value, or a URL's password) is a reference. */
function judge(key: string, value: string): Verdict | undefined {
  const template = parseTemplate(value);
  const hasReference = template.ok && template.parts.some((p) => p.kind !== "text");
  if (CREDENTIAL_KEY.test(key)) {
    if (value === "") return undefined;
    // "Bearer ${env:X}" is fine: the literal part is the scheme, not the secret.
    return { reference: hasReference, kind: "credential" };
  }
  // References may hold `/` and `#` (`${secret:/a/b/c#key}`): mark each with one character first.
  const masked = template.ok ? template.parts.map((p) => (p.kind === "text" ? p.text : REF)).join("") : value;
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/?#@]*)@/i.exec(masked)?.[1];
  const colon = userinfo?.indexOf(":") ?? -1;
  if (userinfo !== undefined && colon >= 0 && colon < userinfo.length - 1)
    return { reference: userinfo.slice(colon + 1).includes(REF), kind: "password in URL" };
  // A whole URL from a reference hides whatever it holds; a literal webhook URL is its own secret.
  if (!hasReference && URL.canParse(value)) {
    const url = new URL(value);
    if (
      (url.protocol === "https:" || url.protocol === "http:") &&
      WEBHOOK_HOSTS.test(url.hostname) &&
      url.pathname.length > 1
    )
      return { reference: false, kind: "webhook URL" };
  }
  return undefined;
}

function walk(node: unknown, path: string, out: CheckItem[], depth: number): void {
  if (depth > 64 || node === null || typeof node !== "object") return;
  const entries: [string, unknown][] = Array.isArray(node)
    ? node.map((v, i) => [String(i), v])
    : Object.entries(node as Record<string, unknown>);
  for (const [key, value] of entries) {
    const at = path === "" ? key : Array.isArray(node) ? `${path}[${key}]` : `${path}.${key}`;
    if (typeof value === "string") {
      // Keys of an array element are judged by the array's own key (`headers: [...]` is not a credential list).
      const verdict = judge(Array.isArray(node) ? "" : key, value);
      if (!verdict) continue;
      out.push(
        verdict.reference
          ? { resource: `config:${at}`, status: "pass", detail: `${verdict.kind} from a reference` }
          : {
              resource: `config:${at}`,
              status: "fail",
              detail: `${verdict.kind} written in the file in clear`,
            },
      );
    } else walk(value, at, out, depth + 1);
  }
}

export const noPlaintextConfig: CheckDefinition = {
  id: "secrets.no-plaintext-config",
  title: "Credentials in rampart.yaml are references, not values",
  source: "secrets",
  remediation:
    "Store the value in the secrets store (or the environment) and write a reference such as ${secret:/prod/gateway/token} or ${env:RAMPART_TOKEN} in its place; then rotate the credential, since it sat in the file.",
  slaDays: 7,
  toleranceDays: 2,
  async run(ctx) {
    const raw = ctx.rawConfig;
    if (raw === undefined || raw === null || typeof raw !== "object")
      return notApplicable("config:raw", "the unresolved config was not provided to the check");
    const items: CheckItem[] = [];
    walk(raw, "", items, 0);
    return items.length > 0
      ? items
      : notApplicable("config:credentials", "no credential fields in the config");
  },
};
