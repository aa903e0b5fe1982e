// Cloud Audit Log entries, streamed: JSON lines or a JSON array (as `gcloud logging read
// --format=json` prints), plain or gzipped. Only whole top-level objects are held in memory, one at
// a time, so a log of any length is read in bounded memory.
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { Invalid } from "../../../platform/errors.ts";

/** One permission check recorded in an audit log entry. */
export interface AuthorizationCheck {
  permission: string;
  granted: boolean;
  resource?: string;
}

/** The fields of a Cloud Audit Log entry this analysis reads. */
export interface AuditEntry {
  principalEmail?: string;
  methodName?: string;
  serviceName?: string;
  timestamp?: string;
  checks: AuthorizationCheck[];
}

/** Largest single entry accepted; a larger one is malformed or hostile. */
export const MAX_ENTRY_BYTES = 4 * 1024 * 1024;

/** Splits a text stream into its top-level JSON objects (JSON lines or one JSON array of objects). */
export async function* topLevelObjects(chunks: AsyncIterable<string>, where: string): AsyncGenerator<string> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let current: string[] = [];
  let size = 0;
  let arrayDepth = 0;
  for await (const chunk of chunks) {
    let start = depth > 0 ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (depth === 0) {
        if (c === 0x7b /* { */) {
          depth = 1;
          start = i;
        } else if (c === 0x5b /* [ */) {
          if (arrayDepth > 0)
            throw new Invalid("nested arrays at the top level are not audit log entries", where);
          arrayDepth++;
        } else if (c === 0x5d /* ] */) {
          arrayDepth = Math.max(0, arrayDepth - 1);
        } else if (c !== 0x2c && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09 && c !== 0xfeff) {
          throw new Invalid(`unexpected '${chunk[i]}' between log entries`, where);
        }
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 0x5c) escaped = true;
        else if (c === 0x22) inString = false;
      } else if (c === 0x22) inString = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) {
          current.push(chunk.slice(start, i + 1));
          yield current.join("");
          current = [];
          size = 0;
          start = -1;
        }
      }
    }
    if (depth > 0 && start >= 0) {
      const rest = chunk.slice(start);
      size += rest.length;
      if (size > MAX_ENTRY_BYTES)
        throw new Invalid(`a log entry is larger than ${MAX_ENTRY_BYTES} bytes`, where);
      current.push(rest);
    }
  }
  if (depth > 0) throw new Invalid("the log ends inside an entry (truncated?)", where);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

/** The audit fields of one parsed log entry; undefined when it is not an audit log entry. */
export function auditEntry(json: unknown): AuditEntry | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const entry = json as Record<string, unknown>;
  const proto = entry.protoPayload as Record<string, unknown> | undefined;
  if (typeof proto !== "object" || proto === null) return undefined;
  const authn = proto.authenticationInfo as Record<string, unknown> | undefined;
  const authz = Array.isArray(proto.authorizationInfo) ? (proto.authorizationInfo as unknown[]) : [];
  const checks: AuthorizationCheck[] = [];
  for (const a of authz) {
    if (typeof a !== "object" || a === null) continue;
    const r = a as Record<string, unknown>;
    const permission = str(r.permission);
    if (!permission) continue;
    const resource = str(r.resource);
    // proto3 JSON omits false booleans: a missing `granted` is a denial.
    checks.push({ permission, granted: r.granted === true, ...(resource ? { resource } : {}) });
  }
  const principalEmail = str(authn?.principalEmail);
  const methodName = str(proto.methodName);
  const serviceName = str(proto.serviceName);
  const timestamp = str(entry.timestamp) ?? str(entry.receiveTimestamp);
  return {
    ...(principalEmail ? { principalEmail } : {}),
    ...(methodName ? { methodName } : {}),
    ...(serviceName ? { serviceName } : {}),
    ...(timestamp ? { timestamp } : {}),
    checks,
  };
}

async function* textOf(file: string): AsyncGenerator<string> {
  const raw = createReadStream(file);
  const head = await new Promise<Buffer | undefined>((resolve, reject) => {
    raw.once("readable", () => {
      const b = raw.read(2) as Buffer | null;
      if (b) raw.unshift(b);
      resolve(b ?? undefined);
    });
    raw.once("error", reject);
  });
  const gz = head !== undefined && head[0] === 0x1f && head[1] === 0x8b;
  const stream = gz ? raw.pipe(createGunzip()) : raw;
  if (gz) raw.on("error", (e) => stream.destroy(e));
  stream.setEncoding("utf8");
  for await (const chunk of stream) yield chunk as string;
}

/** Streams the audit entries of one file (JSON lines or a JSON array; .gz or plain). */
export async function* readAuditLog(file: string): AsyncGenerator<AuditEntry> {
  let n = 0;
  try {
    for await (const text of topLevelObjects(textOf(file), file)) {
      n++;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new Invalid(`entry ${n} is not valid JSON`, file);
      }
      const e = auditEntry(json);
      if (e) yield e;
    }
  } catch (err) {
    if (err instanceof Invalid) throw err;
    throw new Invalid(`cannot read: ${(err as Error).message}`, file);
  }
}
