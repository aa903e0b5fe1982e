// Audit key material: an Ed25519 key that signs checkpoints and a secret from which the entry
// MAC key, the value-hashing key and the key wrapping people's data keys are derived. Kept in a
// 0600 file outside the database, so someone who can write to the database cannot forge entries
// or checkpoints, and someone who can read it cannot open personal details.
import {
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Kysely } from "kysely";
import { Invalid } from "../../platform/errors.ts";
import type { AuditTables } from "./schema.ts";

export interface AuditKeys {
  /** Signs checkpoints and export manifests. */
  readonly signingKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Authenticates each stored entry, so a modified row is pinpointed without trusting the database. */
  readonly entryMacKey: KeyObject;
  /** Keyed hash for sensitive values (secrets, tokens) and searchable references to them. */
  readonly valueHashKey: KeyObject;
  /** Wraps each person's data key in `audit_subjects`, so a database dump alone opens no personal details. */
  readonly dataKeyWrapKey: KeyObject;
}

interface KeyFile {
  version: 1;
  signingKey: string;
  secret: string;
}

/**
 * Writes a new key file at `path` (mode 0600, in a 0700 directory); false when one is already
 * there, so two servers starting together on a shared path both end up with the same keys.
 */
export function writeAuditKeyFile(path: string): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync("ed25519");
  const file: KeyFile = {
    version: 1,
    signingKey: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    secret: randomBytes(32).toString("base64"),
  };
  try {
    writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/** Loads the audit keys from `path`, creating them (mode 0600) on first start. */
export function loadOrCreateAuditKeys(path: string): AuditKeys {
  if (!existsSync(path)) writeAuditKeyFile(path);
  const mode = statSync(path).mode & 0o077;
  if (mode !== 0) chmodSync(path, 0o600);
  let file: KeyFile;
  try {
    file = JSON.parse(readFileSync(path, "utf8")) as KeyFile;
  } catch {
    throw new Invalid("audit key file is not valid JSON", path);
  }
  if (file.version !== 1 || typeof file.signingKey !== "string" || typeof file.secret !== "string") {
    throw new Invalid("audit key file is missing 'signingKey' or 'secret'", path);
  }
  return auditKeysFrom(file.signingKey, Buffer.from(file.secret, "base64"));
}

/** Builds the key set from a PKCS#8 PEM Ed25519 key and a 32-byte secret. */
function auditKeysFrom(signingKeyPem: string, secret: Buffer): AuditKeys {
  if (secret.length < 32) throw new Invalid("audit secret must be at least 32 bytes");
  const signingKey = createPrivateKey(signingKeyPem);
  if (signingKey.asymmetricKeyType !== "ed25519") throw new Invalid("audit signing key must be Ed25519");
  // KeyObjects, not Buffers: HMAC with a KeyObject is several times faster per call in Node.
  const derive = (info: string) =>
    createSecretKey(Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), info, 32)));
  return {
    signingKey,
    publicKey: createPublicKey(signingKey),
    entryMacKey: derive("rampart audit entry mac v1"),
    valueHashKey: derive("rampart audit value hash v1"),
    dataKeyWrapKey: derive("rampart audit subject data key wrap v1"),
  };
}

/**
 * Loads the audit keys, creating them only for a log that holds nothing yet: a new key could not
 * verify entries and checkpoints made with a lost one, so that case is refused with what to do.
 */
export async function openAuditKeys(db: Kysely<AuditTables>, path: string): Promise<AuditKeys> {
  if (!existsSync(path)) {
    const existing = await db.selectFrom("audit_logs").select("log_id").limit(1).executeTakeFirst();
    if (existing) {
      throw new Invalid(
        `audit key file ${path} is missing, but the audit log already holds entries; restore the key file from backup (a new key could not verify them)`,
        "audit.keyFile",
      );
    }
  }
  return loadOrCreateAuditKeys(path);
}
