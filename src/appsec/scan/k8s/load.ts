// Reading manifests: files, directories, stdin; multi-document YAML, `kind: List`, `helm template`
// output (`# Source:` comments name the template) and `kustomize build` output. Documents keep
// their YAML node tree so a finding can point at the line of the offending field.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type Document, LineCounter, parseAllDocuments } from "yaml";
import { documentData } from "../../../config/yaml.ts";
import { Invalid } from "../../../platform/errors.ts";

/** A path inside a document: keys and list indexes. */
export type NodePath = (string | number)[];

/** One YAML document of a manifest stream, parsed, with what is needed to place findings. */
export interface ParsedDoc {
  /** The file findings name: the input path, or the template named by helm's `# Source:` comment. */
  file: string;
  /** The input the document was read from, when `file` is a helm template name. */
  stream?: string;
  /** Lines of the stream before this document's first line when `file` is a helm template (else 0). */
  lineBase: number;
  doc: Document;
  lines: LineCounter;
  /** The document as plain data. */
  value: unknown;
}

const sourceComment = /^\s*Source:\s*(\S.*?)\s*$/m;

/** The document as plain data; an unresolved alias, an alias bomb or a list as a key throws Invalid there. */
function toData(doc: Document, lines: LineCounter, file: string): unknown {
  const read = documentData(doc);
  if ("value" in read) return read.value;
  const [problem] = read.problems;
  const pos = lines.linePos(problem?.offset ?? 0);
  throw new Invalid(problem?.message ?? "cannot read the document as data", `${file}:${pos.line}:${pos.col}`);
}

/** Parses a manifest stream; throws Invalid with `file:line:col` on bad YAML. */
export function parseManifests(text: string, file = "<stdin>"): ParsedDoc[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    // Not "warn": a collection used as a key would print to stderr while the value is read anyway.
    logLevel: "error",
  });
  if (!Array.isArray(docs)) {
    // An empty stream gives an EmptyStream object, not a list.
    return [];
  }
  const out: ParsedDoc[] = [];
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
      const message = err.message.split("\n")[0] ?? "invalid YAML";
      throw new Invalid(message, `${file}:${pos.line}:${pos.col}`);
    }
    if (doc.contents === null) continue;
    const value = toData(doc, lines, file);
    if (value === null || value === undefined) continue;
    // helm puts `# Source: chart/templates/x.yaml` right after `---`: before the document or its first node.
    const comment = `${doc.commentBefore ?? ""}\n${doc.contents.commentBefore ?? ""}`;
    const source = sourceComment.exec(comment)?.[1];
    const start = doc.contents.range?.[0] ?? 0;
    out.push({
      file: source ?? file,
      ...(source ? { stream: file } : {}),
      lineBase: source ? lines.linePos(start).line - 1 : 0,
      doc,
      lines,
      value,
    });
  }
  return out;
}

const manifestFile = /\.(ya?ml|json)$/i;

async function collect(path: string, out: string[]): Promise<void> {
  const s = await stat(path).catch(() => undefined);
  if (!s) throw new Invalid("no such file or directory", path);
  if (!s.isDirectory()) {
    out.push(path);
    return;
  }
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    // Hidden folders and dependencies are never the manifests a team deploys.
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    const p = join(path, e.name);
    if (e.isDirectory()) await collect(p, out);
    else if (manifestFile.test(e.name)) out.push(p);
  }
}

/** The manifest files under PATHs: files as given, directories recursively (*.yaml, *.yml, *.json). */
export async function manifestFiles(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) await collect(p, out);
  return out;
}

/** Reads and parses PATHs (`-` reads `stdin`). */
export async function loadManifests(
  paths: string[],
  o: { stdin?: () => Promise<string>; onFile?: (done: number, total: number) => void } = {},
): Promise<{ docs: ParsedDoc[]; files: number }> {
  const files: string[] = [];
  for (const p of paths) {
    if (p === "-") files.push("-");
    else files.push(...(await manifestFiles([p])));
  }
  const docs: ParsedDoc[] = [];
  let done = 0;
  for (const f of files) {
    const text = f === "-" ? await (o.stdin ?? readStdin)() : await readFile(f, "utf8");
    docs.push(...parseManifests(text, f === "-" ? "<stdin>" : f));
    o.onFile?.(++done, files.length);
  }
  return { docs, files: files.length };
}

/** All of standard input as UTF-8. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
