// The WAF development set (../shared/eval/waf, or WAF_EVAL_DIR) as the per-detector scripts read it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { InspectedRequest } from "../../src/network/waf/targets.ts";

export interface Sample {
  id: string;
  source: string;
  label: "attack" | "benign";
  category: string;
  method: string;
  uri: string;
  headers: Record<string, string>;
  body: string | null;
  meta?: { paranoia_level?: number } | null;
}

const dir = process.env.WAF_EVAL_DIR ?? join(import.meta.dirname, "../../../shared/eval/waf");

/** Every attack, then every benign request. */
export function devSet(): Sample[] {
  return ["dev-attack.jsonl", "dev-benign.jsonl"].flatMap((file) =>
    readFileSync(join(dir, file), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as Sample),
  );
}

export const asRequest = (r: Sample): InspectedRequest => ({
  method: r.method,
  path: r.uri,
  headers: r.headers,
  ...(r.body === null ? {} : { body: Buffer.from(r.body, "utf8") }),
});

/** SHOW=fp:1 lists benign requests flagged at PL1; SHOW=fn:2 attacks missed at PL2. */
export const [showKind, showLevel] = (process.env.SHOW ?? "").split(":");
