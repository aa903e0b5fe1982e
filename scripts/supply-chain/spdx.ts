// SPDX licence expressions, parsed by spdx-expression-parse (the parser npm itself uses), then
// judged here: a package passes when some choice its expression allows avoids refused licences.
import { createRequire } from "node:module";
import { CannotRun } from "./npm.ts";

/** spdx-expression-parse's tree. */
export type SpdxNode =
  | { license: string; plus?: boolean; exception?: string }
  | { left: SpdxNode; conjunction: "and" | "or"; right: SpdxNode };

type Parse = (expression: string) => SpdxNode;
let parser: Parse | undefined;

function parse(expression: string): SpdxNode {
  if (!parser) {
    try {
      parser = createRequire(import.meta.url)("spdx-expression-parse") as Parse;
    } catch {
      throw new CannotRun(
        "the licence check needs the spdx-expression-parse package: npm install --save-dev spdx-expression-parse",
      );
    }
  }
  return parser(expression);
}

/** ok: usable as is; refused: only refused licences can be chosen; unknown: not a known SPDX licence. */
export type Verdict = "ok" | "refused" | "unknown";

/** Licences never accepted in the runtime tree: network-copyleft and source-available ones. */
export const isRefused = (id: string): boolean => /^AGPL-/i.test(id) || /^SSPL-/i.test(id);

function judge(node: SpdxNode): Verdict {
  if ("license" in node) {
    // LicenseRef-… is a private name: someone has to read that licence.
    if (/^(LicenseRef|DocumentRef)-/i.test(node.license)) return "unknown";
    return isRefused(node.license) ? "refused" : "ok";
  }
  const l = judge(node.left);
  const r = judge(node.right);
  if (node.conjunction === "or") {
    // The user may pick either side: the better one counts.
    if (l === "ok" || r === "ok") return "ok";
    return l === "unknown" || r === "unknown" ? "unknown" : "refused";
  }
  // Both apply: the worse one counts.
  if (l === "refused" || r === "refused") return "refused";
  return l === "unknown" || r === "unknown" ? "unknown" : "ok";
}

/** The verdict on a lockfile `license` value: missing, unparseable or private licences are unknown. */
export function judgeLicence(license: unknown): { expression: string; verdict: Verdict; why?: string } {
  // Old package.json files have { type, url }.
  const expression =
    typeof license === "string"
      ? license.trim()
      : license !== null &&
          typeof license === "object" &&
          typeof (license as { type?: unknown }).type === "string"
        ? (license as { type: string }).type.trim()
        : "";
  if (expression === "") return { expression: "(none)", verdict: "unknown", why: "no licence declared" };
  let tree: SpdxNode;
  try {
    tree = parse(expression);
  } catch (err) {
    if (err instanceof CannotRun) throw err;
    return { expression, verdict: "unknown", why: "not an SPDX expression" };
  }
  const verdict = judge(tree);
  if (verdict === "ok") return { expression, verdict };
  return {
    expression,
    verdict,
    why:
      verdict === "refused"
        ? "only refused licences (AGPL, SSPL) can be chosen"
        : "names a private licence (LicenseRef)",
  };
}
