// Risk categories of GCP permissions, after Rhino Security Labs' GCP privilege-escalation research
// and the flags iam-dataset puts on predefined roles (privesc, data access, credential exposure).
import type { RiskFlags } from "../types.ts";

const PRIVESC = new Set([
  "iam.serviceAccounts.actAs",
  "iam.serviceAccounts.getAccessToken",
  "iam.serviceAccounts.getOpenIdToken",
  "iam.serviceAccounts.implicitDelegation",
  "iam.serviceAccounts.signBlob",
  "iam.serviceAccounts.signJwt",
  "iam.serviceAccountKeys.create",
  "iam.roles.create",
  "iam.roles.update",
  "deploymentmanager.deployments.create",
  "cloudbuild.builds.create",
  "cloudbuild.builds.update",
  "cloudfunctions.functions.create",
  "cloudfunctions.functions.update",
  "cloudfunctions.functions.sourceCodeSet",
  "compute.instances.setMetadata",
  "compute.instances.setServiceAccount",
  "compute.projects.setCommonInstanceMetadata",
  "composer.environments.update",
  "dataflow.jobs.create",
  "dataproc.clusters.create",
  "orgpolicy.policy.set",
  "run.services.create",
  "run.services.update",
  "run.jobs.create",
  "run.jobs.update",
  "serviceusage.apiKeys.create",
  "storage.hmacKeys.create",
]);

const CREDENTIALS = new Set([
  "iam.serviceAccountKeys.create",
  "iam.serviceAccounts.getAccessToken",
  "iam.serviceAccounts.getOpenIdToken",
  "iam.serviceAccounts.signBlob",
  "iam.serviceAccounts.signJwt",
  "iam.serviceAccounts.implicitDelegation",
  "secretmanager.versions.access",
  "apikeys.keys.getKeyString",
  "storage.hmacKeys.create",
  "container.secrets.get",
  "container.secrets.list",
  "cloudkms.cryptoKeyVersions.useToDecrypt",
]);

const DATA = new Set([
  "storage.objects.get",
  "storage.objects.list",
  "bigquery.tables.getData",
  "bigquery.tables.export",
  "bigquery.readsessions.getData",
  "spanner.databases.read",
  "spanner.databases.select",
  "datastore.entities.get",
  "datastore.entities.list",
  "bigtable.tables.readRows",
  "cloudsql.instances.export",
  "cloudsql.instances.connect",
  "cloudsql.instances.login",
  "pubsub.subscriptions.consume",
  "secretmanager.versions.access",
  "logging.privateLogEntries.list",
  "firebasedatabase.instances.get",
]);

const EXPOSURE = new Set([
  "compute.firewalls.create",
  "compute.firewalls.update",
  "storage.buckets.update",
  "storage.objects.setRetention",
  "compute.instances.setTags",
]);

/** Permissions in `perms` that fall in each risk category (sorted). */
export function gcpRiskFlags(perms: Iterable<string>): RiskFlags {
  const flags: RiskFlags = { privesc: [], dataAccess: [], credentialsExposure: [], resourceExposure: [] };
  for (const p of perms) {
    const setsPolicy = p.endsWith(".setIamPolicy");
    if (PRIVESC.has(p) || setsPolicy) flags.privesc.push(p);
    if (CREDENTIALS.has(p)) flags.credentialsExposure.push(p);
    if (DATA.has(p) || p.endsWith(".getData")) flags.dataAccess.push(p);
    if (EXPOSURE.has(p) || setsPolicy) flags.resourceExposure.push(p);
  }
  for (const k of Object.keys(flags) as (keyof RiskFlags)[]) flags[k] = [...new Set(flags[k])].sort();
  return flags;
}
