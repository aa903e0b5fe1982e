// The event forwarder's disk spool: one file per batch, written atomically (temp file, fsync,
// rename, fsync of the directory) so a crash leaves either the whole batch or nothing. File names
// start with a sequence number, so the oldest batch is the lowest number whatever the clock did.
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A batch on disk. */
export interface SpoolFile {
  readonly name: string;
  readonly seq: number;
  readonly batchId: string;
  readonly events: number;
  readonly bytes: number;
}

/** Batches the control plane refused for good are kept here for a person to look at. */
export const REJECTED_DIR = "rejected";

const NAME = /^(\d{12,})-(\d+)-([A-Za-z0-9._:-]{8,128})\.json$/;
const TEMP_PREFIX = ".tmp-";

export function spoolFileName(seq: number, events: number, batchId: string): string {
  return `${String(seq).padStart(12, "0")}-${events}-${batchId}.json`;
}

// A temp file older than this was left by a crash; a younger one may be a sibling process's
// write in progress (gateway workers share the spool directory).
const STALE_TEMP_MS = 60_000;

/**
 * Lists the batches in `dir`, oldest first, creating it if needed. Half-written temp files from a
 * crash are removed: their batch was never complete on disk. Other unknown files are left alone.
 */
export async function scanSpool(dir: string): Promise<{ files: SpoolFile[]; removedTemp: number }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files: SpoolFile[] = [];
  let removedTemp = 0;
  for (const name of await readdir(dir)) {
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (!info?.isFile()) continue; // gone meanwhile, or the rejected/ folder
    if (name.startsWith(TEMP_PREFIX)) {
      if (Date.now() - info.mtimeMs < STALE_TEMP_MS) continue;
      await rm(join(dir, name), { force: true });
      removedTemp++;
      continue;
    }
    const m = NAME.exec(name);
    if (!m) continue;
    files.push({ name, seq: Number(m[1]), events: Number(m[2]), batchId: m[3] as string, bytes: info.size });
  }
  files.sort((a, b) => a.seq - b.seq || a.name.localeCompare(b.name));
  return { files, removedTemp };
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes one batch durably; on any failure (ENOSPC, EACCES…) nothing is left behind and it throws. */
export async function writeSpoolFile(
  dir: string,
  seq: number,
  batchId: string,
  events: number,
  body: string,
): Promise<SpoolFile> {
  const name = spoolFileName(seq, events, batchId);
  const temp = join(dir, `${TEMP_PREFIX}${name}`);
  try {
    // 0600: events name client addresses, which are personal data.
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(body, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, join(dir, name));
    await syncDir(dir);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => {});
    throw err;
  }
  return { name, seq, batchId, events, bytes: Buffer.byteLength(body) };
}

export function readSpoolFile(dir: string, file: SpoolFile): Promise<string> {
  return readFile(join(dir, file.name), "utf8");
}

/** Deletes a delivered batch; one already gone counts as deleted. */
export async function removeSpoolFile(dir: string, file: SpoolFile): Promise<void> {
  await unlink(join(dir, file.name)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}

/**
 * Keeps a refused batch in `rejected/`: moves its spool file there, or writes `body` when the
 * batch never reached the disk. Returns the path it is kept at.
 */
export async function keepRejected(
  dir: string,
  name: string,
  from: { file: SpoolFile } | { body: string },
): Promise<string> {
  const target = join(dir, REJECTED_DIR);
  await mkdir(target, { recursive: true, mode: 0o700 });
  const path = join(target, name);
  if ("file" in from) await rename(join(dir, from.file.name), path);
  else await writeFile(path, from.body, { mode: 0o600 });
  return path;
}
