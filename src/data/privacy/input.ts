// Input checks shared by the privacy services: what callers pass in (API bodies, CLI files,
// library calls) is checked against its zod schema before anything is stored.
import type { z } from "zod";
import { Invalid } from "../../platform/errors.ts";

/** `v` as `schema` reads it; Invalid with the first problem, named by its path, otherwise. */
export function parseInput<T>(schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  throw new Invalid(first?.message ?? "invalid", first?.path.map(String).join(".") || undefined);
}
