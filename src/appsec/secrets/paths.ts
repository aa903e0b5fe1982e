// What a secret path, a listing prefix and a value map may look like, checked at the boundary.
import { Invalid } from "../../platform/errors.ts";

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const DATA_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,255}$/;
export const MAX_VALUE_BYTES = 64 * 1024;
export const MAX_SECRET_BYTES = 1024 * 1024;
export const MAX_KEYS = 1000;

/** Checks `/{environment}/{service}/{name}` and returns it unchanged. */
export function secretPath(path: unknown, where = "path"): string {
  if (typeof path !== "string") throw new Invalid("expected a path /{environment}/{service}/{name}", where);
  const parts = path.split("/");
  if (parts.length !== 4 || parts[0] !== "") {
    throw new Invalid(
      `expected /{environment}/{service}/{name}, got ${JSON.stringify(path.slice(0, 300))}`,
      where,
    );
  }
  for (const [i, name] of (["environment", "service", "name"] as const).entries()) {
    checkSegment(parts[i + 1] as string, name, where);
  }
  return path;
}

/** Checks a listing prefix: `/`, `/{environment}/` or `/{environment}/{service}/`. */
export function secretPrefix(prefix: unknown, where = "prefix"): string {
  if (typeof prefix !== "string" || !prefix.startsWith("/")) {
    throw new Invalid("expected a prefix such as /prod/ or /prod/api/", where);
  }
  const p = prefix.endsWith("/") ? prefix : `${prefix}/`;
  const parts = p.split("/").slice(1, -1);
  if (parts.length > 2) throw new Invalid("a prefix has at most an environment and a service", where);
  for (const [i, part] of parts.entries()) checkSegment(part, i === 0 ? "environment" : "service", where);
  return p;
}

function checkSegment(segment: string, name: string, where: string): void {
  if (!SEGMENT.test(segment)) {
    throw new Invalid(
      `the ${name} segment ${JSON.stringify(segment.slice(0, 140))} must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      where,
    );
  }
}

/** Checks a value map: key names, string values, sizes. Errors name keys, never values. */
export function secretData(data: unknown, where = "data"): Record<string, string> {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new Invalid("expected an object of string values", where);
  }
  const entries = Object.entries(data);
  if (entries.length === 0) throw new Invalid("a secret holds at least one key", where);
  if (entries.length > MAX_KEYS) throw new Invalid(`a secret holds at most ${MAX_KEYS} keys`, where);
  let total = 0;
  const out: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (!DATA_KEY.test(key)) {
      throw new Invalid(
        `key ${JSON.stringify(key.slice(0, 80))} must start with a letter or '_' and hold letters, digits, '_', '.' or '-' (at most 256)`,
        where,
      );
    }
    if (typeof value !== "string")
      throw new Invalid(`the value of ${key} must be a string`, `${where}.${key}`);
    const bytes = Buffer.byteLength(value, "utf8");
    if (bytes > MAX_VALUE_BYTES) {
      throw new Invalid(
        `the value of ${key} is ${bytes} bytes, more than ${MAX_VALUE_BYTES}`,
        `${where}.${key}`,
      );
    }
    total += bytes + key.length;
    out[key] = value;
  }
  if (total > MAX_SECRET_BYTES)
    throw new Invalid(`the secret is ${total} bytes, more than ${MAX_SECRET_BYTES}`, where);
  return out;
}
