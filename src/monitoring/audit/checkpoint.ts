// Signed tree heads as C2SP checkpoints (c2sp.org/tlog-checkpoint) in signed-note form (c2sp.org/signed-note),
// signed with Ed25519 (signature type 0x01), so standard tlog tooling and witnesses can read them.
import {
  createHash,
  createPublicKey,
  sign as ed25519Sign,
  verify as ed25519Verify,
  KeyObject,
} from "node:crypto";
import { Invalid } from "../../platform/errors.ts";
import { HASH_SIZE } from "./merkle.ts";

const SIGNATURE_PREFIX = "\u2014 "; // em dash, space
const ED25519 = 0x01;
const ED25519_KEY_SIZE = 32;
const ED25519_SIGNATURE_SIZE = 64;
// The spec asks verifiers to accept at least 16 signatures and to bound the note; Go's x/mod/sumdb/note allows 100.
const MAX_SIGNATURES = 100;
const MAX_NOTE_CHARS = 1 << 20;

/** The tree head a checkpoint states. */
export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  extensions: string[];
}

/** One signature line of a note; `keyId` is the big-endian uint32 prefix, `signature` the bytes after it. */
export interface NoteSignature {
  name: string;
  keyId: number;
  signature: Buffer;
}

/** A checkpoint as parsed, before any signature is checked: `body` is the signed note text. */
export interface ParsedCheckpoint extends Checkpoint {
  body: string;
  signatures: NoteSignature[];
}

export interface CheckpointSigner {
  readonly name: string;
  readonly keyId: number;
  readonly publicKey: KeyObject;
  /** C2SP verifier key: `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`. */
  readonly verifierKey: string;
  /** Formats and signs a checkpoint; returns the whole signed note. */
  sign(checkpoint: {
    origin: string;
    size: number;
    root: Uint8Array;
    extensions?: readonly string[];
  }): string;
}

/** A parsed C2SP Ed25519 verifier key. */
export interface VerifierKey {
  name: string;
  keyId: number;
  publicKey: KeyObject;
}

/** Creates a signer for checkpoints with an Ed25519 private key under the key name `name`. */
export function createCheckpointSigner(opts: { name: string; privateKey: KeyObject }): CheckpointSigner {
  const { name, privateKey } = opts;
  checkKeyName(name, "signer name");
  if (
    !(privateKey instanceof KeyObject) ||
    privateKey.type !== "private" ||
    privateKey.asymmetricKeyType !== "ed25519"
  ) {
    throw new Invalid("must be an Ed25519 private KeyObject", "checkpoint signer privateKey");
  }
  const publicKey = createPublicKey(privateKey);
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
  const keyId = ed25519KeyId(name, raw);
  const verifierKey = `${name}+${hex8(keyId)}+${Buffer.concat([Buffer.of(ED25519), raw]).toString("base64")}`;
  const idBytes = Buffer.alloc(4);
  idBytes.writeUInt32BE(keyId);

  return {
    name,
    keyId,
    publicKey,
    verifierKey,
    sign(checkpoint) {
      const body = formatBody(checkpoint);
      const signature = ed25519Sign(null, Buffer.from(body, "utf8"), privateKey);
      return `${body}\n${SIGNATURE_PREFIX}${name} ${Buffer.concat([idBytes, signature]).toString("base64")}\n`;
    },
  };
}

/** Parses a C2SP verifier key (Ed25519 only) and checks its key ID against the key. */
export function parseVerifierKey(verifierKey: string): VerifierKey {
  const where = "verifier key";
  if (typeof verifierKey !== "string") throw new Invalid("must be a string", where);
  const plus = verifierKey.indexOf("+");
  const name = plus < 0 ? "" : verifierKey.slice(0, plus);
  const id = verifierKey.slice(plus + 1, plus + 9);
  if (plus < 0 || verifierKey[plus + 9] !== "+" || !/^[0-9a-fA-F]{8}$/.test(id)) {
    throw new Invalid("expected <name>+<8 hex digit key ID>+<base64 key>", where);
  }
  checkKeyName(name, where);
  const key = decodeBase64(verifierKey.slice(plus + 10), where);
  if (key[0] !== ED25519)
    throw new Invalid(`unsupported signature type 0x${hex2(key[0])}, only Ed25519 (0x01)`, where);
  if (key.length !== 1 + ED25519_KEY_SIZE) {
    throw new Invalid(`an Ed25519 key is ${ED25519_KEY_SIZE} bytes, got ${key.length - 1}`, where);
  }
  const raw = key.subarray(1);
  const keyId = Number.parseInt(id, 16);
  if (ed25519KeyId(name, raw) !== keyId) throw new Invalid(`key ID ${id} does not match the key`, where);
  const publicKey = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") },
    format: "jwk",
  });
  return { name, keyId, publicKey };
}

/** Parses a signed checkpoint strictly, without checking signatures; throws `Invalid` saying what is wrong and where. */
export function parseCheckpoint(text: string): ParsedCheckpoint {
  if (typeof text !== "string") throw new Invalid("must be a string", "checkpoint");
  if (text.length > MAX_NOTE_CHARS)
    throw new Invalid(`longer than ${MAX_NOTE_CHARS} characters`, "checkpoint");
  if (!text.isWellFormed()) throw new Invalid("is not valid Unicode (lone surrogate)", "checkpoint");
  const control = firstControlChar(text, true);
  if (control >= 0) {
    const code = text.charCodeAt(control);
    throw new Invalid(
      `control character 0x${hex2(code)} is not allowed`,
      `checkpoint line ${lineOf(text, control)}`,
    );
  }
  if (!text.endsWith("\n")) throw new Invalid("must end with a newline", "checkpoint");
  // The text is separated from the signatures by the last blank line.
  const split = text.lastIndexOf("\n\n");
  if (split < 0)
    throw new Invalid("no blank line separates the checkpoint text from its signatures", "checkpoint");
  const body = text.slice(0, split + 1);
  const bodyLines = body.slice(0, -1).split("\n");
  if (bodyLines.length < 3) {
    throw new Invalid("the text needs at least 3 lines: origin, tree size, root hash", "checkpoint");
  }
  const emptyLine = bodyLines.indexOf("");
  if (emptyLine >= 0)
    throw new Invalid("lines of the checkpoint text must not be empty", `checkpoint line ${emptyLine + 1}`);
  const [origin, sizeText, rootText, ...extensions] = bodyLines as [string, string, string, ...string[]];
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) {
    throw new Invalid("tree size must be a decimal number without leading zeros", "checkpoint line 2");
  }
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new Invalid("tree size is too large", "checkpoint line 2");
  const root = decodeBase64(rootText, "checkpoint line 3");
  if (root.length !== HASH_SIZE) {
    throw new Invalid(`root hash must be ${HASH_SIZE} bytes, got ${root.length}`, "checkpoint line 3");
  }
  const signatures = parseSignatureLines(text.slice(split + 2, -1).split("\n"), bodyLines.length + 2);
  return { origin, size, root, extensions, body, signatures };
}

/**
 * Verifies a signed checkpoint against one verifier key and returns what it states. Signatures by other keys are
 * ignored (witness cosignatures, rotated keys); throws `Invalid` if the key did not sign it or a signature fails.
 */
export function verifyCheckpoint(text: string, verifierKey: string): Checkpoint {
  const key = parseVerifierKey(verifierKey);
  const cp = parseCheckpoint(text);
  const keyName = `${key.name}+${hex8(key.keyId)}`;
  const mine = cp.signatures.filter((s) => s.name === key.name && s.keyId === key.keyId);
  if (mine.length === 0) throw new Invalid(`no signature by ${keyName}`, "checkpoint signature");
  const message = Buffer.from(cp.body, "utf8");
  for (const s of mine) {
    const ok =
      s.signature.length === ED25519_SIGNATURE_SIZE &&
      ed25519Verify(null, message, key.publicKey, s.signature);
    if (!ok) throw new Invalid(`signature by ${keyName} does not verify`, "checkpoint signature");
  }
  return { origin: cp.origin, size: cp.size, root: cp.root, extensions: cp.extensions };
}

function parseSignatureLines(lines: string[], firstLine: number): NoteSignature[] {
  if (lines.length === 1 && lines[0] === "")
    throw new Invalid("no signature lines after the blank line", "checkpoint");
  if (lines.length > MAX_SIGNATURES)
    throw new Invalid(`more than ${MAX_SIGNATURES} signatures`, "checkpoint");
  return lines.map((line, i) => {
    const where = `checkpoint line ${firstLine + i}`;
    if (!line.startsWith(SIGNATURE_PREFIX)) {
      throw new Invalid('a signature line must start with "\u2014 " (em dash, space)', where);
    }
    const rest = line.slice(SIGNATURE_PREFIX.length);
    // Base64 has no spaces, so the last one ends the key name; a space inside the name is then reported as such.
    const space = rest.lastIndexOf(" ");
    if (space < 0) throw new Invalid("expected a key name, a space and a base64 signature", where);
    const name = rest.slice(0, space);
    checkKeyName(name, where);
    const bytes = decodeBase64(rest.slice(space + 1), where);
    if (bytes.length < 5)
      throw new Invalid("a signature holds a 4-byte key ID and at least one more byte", where);
    return { name, keyId: bytes.readUInt32BE(0), signature: Buffer.from(bytes.subarray(4)) };
  });
}

function formatBody(cp: {
  origin: string;
  size: number;
  root: Uint8Array;
  extensions?: readonly string[];
}): string {
  const where = "checkpoint";
  const lineOk = (s: unknown): s is string =>
    typeof s === "string" && s.length > 0 && s.isWellFormed() && firstControlChar(s, false) < 0;
  if (!lineOk(cp.origin))
    throw new Invalid("must be a non-empty line without control characters", `${where} origin`);
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) {
    throw new Invalid(`must be a non-negative safe integer, got ${cp.size}`, `${where} size`);
  }
  if (!(cp.root instanceof Uint8Array) || cp.root.length !== HASH_SIZE) {
    throw new Invalid(`must be ${HASH_SIZE} bytes`, `${where} root`);
  }
  const extensions = cp.extensions ?? [];
  extensions.forEach((e, i) => {
    if (!lineOk(e))
      throw new Invalid("must be a non-empty line without control characters", `${where} extension ${i}`);
  });
  const root = Buffer.from(cp.root.buffer, cp.root.byteOffset, cp.root.byteLength).toString("base64");
  return [cp.origin, String(cp.size), root, ...extensions].map((l) => `${l}\n`).join("");
}

/** Key names are non-empty, without Unicode spaces or "+" (signed-note), and without control characters. */
function checkKeyName(name: unknown, where: string): void {
  if (
    typeof name !== "string" ||
    name.length === 0 ||
    !name.isWellFormed() ||
    /[\s\u0085+]/u.test(name) ||
    firstControlChar(name, false) >= 0
  ) {
    throw new Invalid("key name must be non-empty, without spaces, '+' or control characters", where);
  }
}

/** Strict standard base64 (RFC 4648 §4): padded, canonical, nothing Buffer.from would silently skip. */
function decodeBase64(s: string, where: string): Buffer {
  const bytes = Buffer.from(s, "base64");
  if (
    s.length === 0 ||
    s.length % 4 !== 0 ||
    !/^[A-Za-z0-9+/]+={0,2}$/.test(s) ||
    bytes.toString("base64") !== s
  ) {
    throw new Invalid("malformed base64", where);
  }
  return bytes;
}

function ed25519KeyId(name: string, rawPublicKey: Uint8Array): number {
  return createHash("sha256")
    .update(`${name}\n`, "utf8")
    .update(Buffer.of(ED25519))
    .update(rawPublicKey)
    .digest()
    .readUInt32BE(0);
}

/** Index of the first ASCII control character (below U+0020), optionally allowing newlines; -1 if none. */
function firstControlChar(s: string, allowNewline: boolean): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && !(allowNewline && c === 0x0a)) return i;
  }
  return -1;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function hex2(n: number | undefined): string {
  return (n ?? 0).toString(16).padStart(2, "0");
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < index; i = text.indexOf("\n", i + 1)) line++;
  return line;
}
