// Where each part of a loaded data map was written, so semantic checks can point at file:line:column
// and the key path. Kept beside the model (not in it) so maps built in code need no positions.
import type { ConfigIssue } from "../../../config/errors.ts";

export interface Position {
  file: string;
  line: number;
  column: number;
  /** Key path inside the file, e.g. `dataset[0].collections[2].fields[1]`. */
  path: string;
}

const positions = new WeakMap<object, Map<string, Position>>();

/** Records where `node` (or its key `key`; "" for the node itself) was written. */
export function recordPosition(node: object, key: string, at: Position): void {
  let byKey = positions.get(node);
  if (!byKey) positions.set(node, (byKey = new Map()));
  byKey.set(key, at);
}

/** An issue at `node`'s `key`, else at `node`; maps built in code fall back to their `source`. */
export function issueAt(
  node: object & { source?: { file: string; line: number } },
  key: string,
  message: string,
): ConfigIssue {
  const byKey = positions.get(node);
  const at = byKey?.get(key) ?? byKey?.get("");
  if (at) return { ...at, message };
  return {
    file: node.source?.file ?? "<data map>",
    line: node.source?.line ?? 1,
    column: 1,
    path: key,
    message,
  };
}
