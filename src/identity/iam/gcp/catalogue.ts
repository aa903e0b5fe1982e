// The catalogue of predefined GCP roles and the permissions each includes. A compact copy ships
// beside this file (catalogue.json.gz, from iann0036/iam-dataset, MIT); `--catalogue FILE` may name
// a newer one, in the compact form or in iam-dataset's roles-permissions form.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { z } from "zod";
import { Invalid } from "../../../platform/errors.ts";

/** Launch stage of a role; DELETED comes from `gcloud iam roles list --show-deleted`. */
export type RoleStage = "GA" | "BETA" | "ALPHA" | "DEPRECATED" | "DELETED" | "EAP" | "DISABLED";

export interface RoleDefinition {
  name: string;
  title: string;
  stage: string;
  permissions: ReadonlySet<string>;
}

/** Predefined roles by name (`roles/...`). */
export interface RoleCatalogue {
  source: string;
  roles: ReadonlyMap<string, RoleDefinition>;
}

/** On-disk form: interned permissions, per role delta-encoded indexes into them. */
export interface CompactCatalogue {
  source: string;
  permissions: string[];
  roles: Record<string, { title: string; stage: string; p: number[] }>;
}

const compactSchema = z.object({
  source: z.string(),
  permissions: z.array(z.string()),
  roles: z.record(
    z.string(),
    z.object({ title: z.string(), stage: z.string(), p: z.array(z.number().int().nonnegative()) }),
  ),
});

const datasetSchema = z.record(
  z.string(),
  z.object({
    includedPermissions: z.array(z.string()).default([]),
    stage: z.string().optional(),
    title: z.string().optional(),
  }),
);

/** Where the bundled catalogue lives. */
export const BUNDLED_CATALOGUE = join(import.meta.dirname, "catalogue.json.gz");

/** Builds a catalogue from either on-disk form (already parsed JSON). */
export function catalogueFrom(json: unknown, where = "catalogue"): RoleCatalogue {
  const compact = compactSchema.safeParse(json);
  const roles = new Map<string, RoleDefinition>();
  if (compact.success) {
    const { permissions } = compact.data;
    for (const [name, r] of Object.entries(compact.data.roles)) {
      const set = new Set<string>();
      let at = 0;
      r.p.forEach((d, i) => {
        at = i === 0 ? d : at + d;
        const perm = permissions[at];
        if (perm === undefined)
          throw new Invalid(`role ${name} refers to permission #${at}, beyond the list`, where);
        set.add(perm);
      });
      roles.set(name, { name, title: r.title, stage: r.stage, permissions: set });
    }
    return { source: compact.data.source, roles };
  }
  const dataset = datasetSchema.safeParse(json);
  if (!dataset.success)
    throw new Invalid(
      "expected a compact catalogue or iam-dataset roles-permissions JSON ({role: {includedPermissions}})",
      where,
    );
  for (const [name, r] of Object.entries(dataset.data))
    roles.set(name, {
      name,
      title: r.title ?? name,
      stage: r.stage ?? "GA",
      permissions: new Set(r.includedPermissions),
    });
  return { source: where, roles };
}

/** Loads a catalogue file (.json or .json.gz); the bundled one when no file is given. */
export async function loadCatalogue(file: string = BUNDLED_CATALOGUE): Promise<RoleCatalogue> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    throw new Invalid(`cannot read the role catalogue: ${(err as Error).message}`, file);
  }
  const text = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Invalid("not JSON", file);
  }
  return catalogueFrom(json, file);
}
