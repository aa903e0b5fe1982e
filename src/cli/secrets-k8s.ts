// `rampart secrets k8s`: a namespace's machine token for External Secrets Operator (issue, rotate,
// revoke), and Secret / ExternalSecret manifests for the secrets under a path, through the API.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { namespaceName, renderExternal, renderSecrets } from "../appsec/secrets/kubernetes/index.ts";
import { defaultConfig, loadConfig } from "../config/index.ts";
import { apiSecretsReader, scopeOf } from "./secrets-run.ts";
import { serverApi } from "./server-api.ts";

interface Common {
  config?: string;
  server?: string;
}

async function api(o: Common) {
  const config = o.config ? await loadConfig(o.config) : defaultConfig();
  const found = serverApi(config, o.server);
  if (!found)
    throw new Error("no running server found: start `rampart up` or `rampart server`, or pass --server URL");
  return found;
}

const namespaceArg = (v: string) => {
  try {
    return namespaceName(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
};

const seconds = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected whole seconds >= 0");
  return n;
};

/** Registers `rampart secrets k8s token|render` under the `secrets` command group. */
export function registerSecretsK8sCommands(secrets: Command): void {
  const k8s = secrets
    .command("k8s")
    .description("Kubernetes sync: machine tokens for External Secrets Operator, manifests");
  const common = (c: Command) =>
    c
      .option("-c, --config <file>", "rampart.yaml (default: embedded defaults)")
      .option("--server <url>", "the control plane to use (default: the one running on this data directory)");

  common(
    k8s
      .command("token")
      .description("issue a namespace's machine token (printed once), or --rotate / --revoke it")
      .requiredOption("--namespace <ns>", "the Kubernetes namespace", namespaceArg)
      .option("--rotate", "issue a new token; the old one keeps working for --grace seconds")
      .option("--grace <seconds>", "how long a rotated-out token keeps working (default 3600)", seconds)
      .option("--revoke", "end every token of the namespace now"),
  ).action(async (o: Common & { namespace: string; rotate?: boolean; grace?: number; revoke?: boolean }) => {
    const { call } = await api(o);
    const path = `/api/v1/secrets/kubernetes/tokens/${o.namespace}`;
    if (o.revoke) {
      const r = await call<{ revoked: number }>("DELETE", path);
      process.stdout.write(`revoked ${r.revoked} token(s) of namespace ${o.namespace}\n`);
      return;
    }
    const body = { rotate: o.rotate === true, ...(o.grace !== undefined ? { graceSeconds: o.grace } : {}) };
    const r = await call<{ token: string; previousExpiresAt?: string }>("POST", path, body);
    // The one place a credential is printed: it is shown once and stored only as a hash.
    process.stdout.write(`${r.token}\n`);
    const after = r.previousExpiresAt ? `; the previous token works until ${r.previousExpiresAt}` : "";
    process.stderr.write(
      `machine token for namespace ${o.namespace} (shown once)${after}\n` +
        `store it: kubectl -n ${o.namespace} create secret generic rampart-token --from-literal=token=<token>\n`,
    );
  });

  common(
    k8s
      .command("render")
      .description(
        "write Secret manifests (values inline) or, with --external, a SecretStore and ExternalSecrets",
      )
      .requiredOption("--env <environment>", "the environment the path belongs to")
      .requiredOption("--path <path>", "a prefix such as /prod/api, or one secret /prod/api/db")
      .requiredOption("--namespace <ns>", "the Kubernetes namespace", namespaceArg)
      .option("--out <dir>", "write one file per manifest here (default: all to stdout)")
      .option("--external", "External Secrets Operator manifests instead of values")
      .option(
        "--server-url <url>",
        "the control plane's URL as the cluster reaches it (--external; default --server)",
      ),
  ).action(
    async (
      o: Common & {
        env: string;
        path: string;
        namespace: string;
        out?: string;
        external?: boolean;
        serverUrl?: string;
      },
    ) => {
      const scope = scopeOf(o.env, o.path);
      const { url, call } = await api(o);
      const reader = apiSecretsReader(call);
      let manifests;
      if (o.external) {
        const paths = "secret" in scope ? [scope.secret] : (await reader.list(scope.prefix)).toSorted();
        manifests = renderExternal(
          paths.map((path) => ({ path })),
          { namespace: o.namespace, serverUrl: o.serverUrl ?? url },
        );
      } else {
        const paths = "secret" in scope ? [scope.secret] : (await reader.list(scope.prefix)).toSorted();
        const values = [];
        for (const path of paths) values.push({ path, ...(await reader.get(path)) });
        manifests = renderSecrets(values, o.namespace);
      }
      if (!o.out) {
        process.stdout.write(manifests.map((m) => m.yaml).join("---\n"));
        return;
      }
      const dir = resolve(o.out);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // Secret manifests hold values: readable by the owner only.
      for (const m of manifests) writeFileSync(join(dir, m.file), m.yaml, { mode: 0o600 });
      process.stderr.write(`wrote ${manifests.length} manifest(s) to ${o.out}\n`);
    },
  );
}
