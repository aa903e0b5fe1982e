// Kubernetes manifests for secrets: plain `Secret`s (values inline, for `kubectl apply` from a safe
// place), or a SecretStore + ExternalSecrets that let External Secrets Operator fetch them from
// Rampart's webhook endpoint. Secrets carry Stakater Reloader's match annotation.
import { stringify } from "yaml";

export const RELOADER_MATCH = "reloader.stakater.com/match";

export interface RenderedManifest {
  /** A file name for it: `<kind>-<name>.yaml`. */
  file: string;
  yaml: string;
}

/** A DNS-1123 name for the Kubernetes object holding `path` (`/prod/api/db` → `api-db`). */
export function manifestName(path: string): string {
  const [, , service = "", name = ""] = path.split("/");
  const base = `${service}-${name}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return base.slice(0, 253).replace(/-+$/, "") || "secret";
}

const labels = (path: string) => ({
  "app.kubernetes.io/managed-by": "rampart",
  "rampart.dev/environment": path.split("/")[1] ?? "",
});

const doc = (kind: string, name: string, body: object): RenderedManifest => ({
  file: `${kind.toLowerCase()}-${name}.yaml`,
  yaml: stringify(body, { lineWidth: 0 }),
});

/** One `Secret` per secret, values base64 in `data`, annotated for Reloader. */
export function renderSecrets(
  secrets: readonly { path: string; version: number; data: Record<string, string> }[],
  namespace: string,
): RenderedManifest[] {
  return secrets.map((s) => {
    const name = manifestName(s.path);
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.data)) data[k] = Buffer.from(v, "utf8").toString("base64");
    return doc("Secret", name, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name,
        namespace,
        labels: labels(s.path),
        annotations: {
          [RELOADER_MATCH]: "true",
          "rampart.dev/path": s.path,
          "rampart.dev/version": String(s.version),
        },
      },
      type: "Opaque",
      data,
    });
  });
}

export interface ExternalOptions {
  namespace: string;
  /** The control plane's base URL as the cluster reaches it. */
  serverUrl: string;
  /** The SecretStore's name (default `rampart`). */
  storeName?: string;
  /** The Secret holding the namespace's machine token under key `token` (default `rampart-token`). */
  tokenSecret?: string;
  refreshInterval?: string;
}

/** A webhook SecretStore for the namespace and one ExternalSecret per secret path (every key of the secret). */
export function renderExternal(secrets: readonly { path: string }[], o: ExternalOptions): RenderedManifest[] {
  const storeName = o.storeName ?? "rampart";
  const tokenSecret = o.tokenSecret ?? "rampart-token";
  const base = o.serverUrl.replace(/\/+$/, "");
  const store = doc("SecretStore", storeName, {
    apiVersion: "external-secrets.io/v1",
    kind: "SecretStore",
    metadata: { name: storeName, namespace: o.namespace },
    spec: {
      provider: {
        webhook: {
          url: `${base}/api/v1/secrets/k8s/${o.namespace}{{ .remoteRef.key }}?version={{ .remoteRef.version }}`,
          method: "GET",
          headers: { Authorization: "Bearer {{ .auth.token }}" },
          secrets: [{ name: "auth", secretRef: { name: tokenSecret } }],
          result: { jsonPath: "$.data" },
        },
      },
    },
  });
  const externals = secrets.map((s) => {
    const name = manifestName(s.path);
    return doc("ExternalSecret", name, {
      apiVersion: "external-secrets.io/v1",
      kind: "ExternalSecret",
      metadata: { name, namespace: o.namespace, labels: labels(s.path) },
      spec: {
        refreshInterval: o.refreshInterval ?? "1m",
        secretStoreRef: { name: storeName, kind: "SecretStore" },
        target: {
          name,
          creationPolicy: "Owner",
          template: { metadata: { annotations: { [RELOADER_MATCH]: "true", "rampart.dev/path": s.path } } },
        },
        // The endpoint answers `{data, version}`; the store's jsonPath `$.data` makes every key a Secret key.
        dataFrom: [{ extract: { key: s.path } }],
      },
    });
  });
  return [store, ...externals];
}
