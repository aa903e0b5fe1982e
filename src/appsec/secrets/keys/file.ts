// The default root key: 32 random bytes in a file only the owner can read, made at first start.
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { Invalid } from "../../../platform/errors.ts";
import { localRootKey, ROOT_KEY_BYTES } from "./local.ts";
import type { RootKeyProvider } from "./types.ts";

const WHERE = "secrets.root.file";

/** Loads the key file, creating it (0600) if absent; refuses a file that group or others can read. */
export function fileRootKey(file: string): RootKeyProvider {
  let key: Buffer;
  try {
    key = readKey(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    key = createKey(file);
  }
  return localRootKey("file", () => key);
}

function readKey(file: string): Buffer {
  const mode = statSync(file).mode & 0o777;
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    throw new Invalid(
      `the root key file ${file} is readable by group or others (mode ${mode.toString(8)}); run \`chmod 600 ${file}\``,
      WHERE,
    );
  }
  const key = readFileSync(file);
  if (key.length !== ROOT_KEY_BYTES) {
    throw new Invalid(
      `the root key file ${file} holds ${key.length} bytes, expected ${ROOT_KEY_BYTES}`,
      WHERE,
    );
  }
  return key;
}

function createKey(file: string): Buffer {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(ROOT_KEY_BYTES);
  // "wx": never overwrite a key another process made at the same moment; read theirs instead.
  let fd: number;
  try {
    fd = openSync(file, "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readKey(file);
    throw err;
  }
  try {
    writeSync(fd, key);
  } finally {
    closeSync(fd);
  }
  return key;
}
