// Validates OSCAL assessment-results documents against NIST's JSON schema, vendored unchanged next
// to this file (see README.md). The schema is compiled once, on first use.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";

export const SCHEMA_FILE = join(import.meta.dirname, "oscal_assessment-results_schema.json");

let schema: { $id: string } | undefined;
let validator: ValidateFunction | undefined;

function loadSchema(): { $id: string } {
  schema ??= JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as { $id: string };
  return schema;
}

/** The OSCAL version the vendored schema describes, from its $id (".../oscal/1.0.4/oscal-ar-schema.json"). */
export function oscalVersion(): string {
  const m = /\/oscal\/(\d+\.\d+\.\d+)\//.exec(loadSchema().$id);
  if (!m) throw new Error(`cannot read the OSCAL version from the schema's $id ${loadSchema().$id}`);
  return m[1] as string;
}

function compiled(): ValidateFunction {
  if (!validator) {
    // OSCAL's token and string patterns use Unicode property classes (\p{L}); strict mode would
    // reject the schema's draft-07 keywords ajv does not know, which OSCAL uses as annotations.
    const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: true });
    addFormats.default(ajv);
    validator = ajv.compile(loadSchema());
  }
  return validator;
}

function describe(err: ErrorObject): string {
  const where = err.instancePath || "/";
  const p = err.params as Record<string, unknown>;
  if (err.keyword === "required") return `${where}: missing required property '${String(p.missingProperty)}'`;
  if (err.keyword === "additionalProperties")
    return `${where}: unexpected property '${String(p.additionalProperty)}'`;
  if (err.keyword === "enum") return `${where}: must be one of ${JSON.stringify(p.allowedValues)}`;
  return `${where}: ${err.message ?? err.keyword}`;
}

/** Checks `doc` against the OSCAL assessment-results schema; errors name the JSON pointer and the rule broken. */
export function validateOscal(doc: unknown): { ok: boolean; errors: string[] } {
  const validate = compiled();
  if (validate(doc)) return { ok: true, errors: [] };
  const errors = [...new Set((validate.errors ?? []).map(describe))];
  return { ok: false, errors };
}
