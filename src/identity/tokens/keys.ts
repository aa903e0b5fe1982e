// Signing keys every gateway replica agrees on without a database: each rotation epoch's key pair
// is derived from one configured secret with HKDF, so replicas compute the same keys and rotate at
// the same instant. The current epoch signs; the previous and next are still accepted and
// published, so tokens signed just before a rotation, by a replica whose clock runs slightly
// ahead, or checked against a cached JWKS all keep verifying.
import { createECDH, createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, type JSONWebKeySet, type JWK } from "jose";
import type { Clock } from "../../platform/clock.ts";
import { Invalid, Unauthorized } from "../../platform/errors.ts";

export type SigningAlgorithm = "EdDSA" | "ES256";

export interface TokenKeysOptions {
  /** At least 32 bytes; every replica must be given the same one. */
  secret: string | Uint8Array;
  /** Default EdDSA (Ed25519). */
  algorithm?: SigningAlgorithm;
  /** How long one key signs (default 24 h); token lifetimes may not exceed it. */
  rotationPeriodMs?: number;
  clock: Clock;
}

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JWK;
}

/** The deployment's token keys: the one that signs now, the ones accepted now, and their JWKS. */
export interface TokenKeys {
  readonly algorithm: SigningAlgorithm;
  readonly rotationPeriodMs: number;
  /** The key of the current epoch. */
  signingKey(): Promise<SigningKey>;
  /** The public key for a token's protected header; Unauthorized unless it is one of ours in force. */
  verificationKey(header: { alg?: string; kid?: string }): Promise<KeyObject>;
  /** The document served at `/.well-known/rampart/jwks.json`: previous, current and next keys. */
  jwks(): Promise<JSONWebKeySet>;
}

const DAY_MS = 86_400_000;
const MIN_ROTATION_MS = 60_000;
// PKCS#8 DER for an Ed25519 private key is this fixed prefix followed by the 32-byte seed (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const P256_ORDER = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
const SALT = "rampart/identity/token-keys/v1";
// Epochs are whole numbers; a kid is `<epoch>.<thumbprint prefix>`.
const KID = /^(\d{1,12})\.[A-Za-z0-9_-]{16}$/;

/** Derives the deployment's token keys from `secret`; see the module comment. */
export function createTokenKeys(opts: TokenKeysOptions): TokenKeys {
  const secret =
    typeof opts.secret === "string" ? Buffer.from(opts.secret, "utf8") : Buffer.from(opts.secret);
  if (secret.length < 32) throw new Invalid("must be at least 32 bytes", "identity.tokens.secret");
  const algorithm = opts.algorithm ?? "EdDSA";
  if (algorithm !== "EdDSA" && algorithm !== "ES256")
    throw new Invalid("must be EdDSA or ES256", "identity.tokens.algorithm");
  const rotationPeriodMs = opts.rotationPeriodMs ?? DAY_MS;
  if (!Number.isSafeInteger(rotationPeriodMs) || rotationPeriodMs < MIN_ROTATION_MS)
    throw new Invalid(
      `must be a whole number of milliseconds >= ${MIN_ROTATION_MS}`,
      "identity.tokens.rotationPeriodMs",
    );

  // A handful of epochs are ever in use at once; keep a few derived keys, dropping the oldest.
  const derived = new Map<number, Promise<SigningKey>>();

  function epochNow(): number {
    return Math.floor(opts.clock.now().getTime() / rotationPeriodMs);
  }

  function keyFor(epoch: number): Promise<SigningKey> {
    let k = derived.get(epoch);
    if (!k) {
      k = derive(epoch);
      derived.set(epoch, k);
      if (derived.size > 6) derived.delete(derived.keys().next().value as number);
    }
    return k;
  }

  function material(epoch: number, counter: number): Buffer {
    return Buffer.from(hkdfSync("sha256", secret, SALT, `${algorithm}:${epoch}:${counter}`, 32));
  }

  function privateKeyFor(epoch: number): KeyObject {
    if (algorithm === "EdDSA") {
      return createPrivateKey({
        key: Buffer.concat([ED25519_PKCS8_PREFIX, material(epoch, 0)]),
        format: "der",
        type: "pkcs8",
      });
    }
    // A P-256 scalar must lie in [1, n-1]; the odds of retrying are about 2^-32.
    for (let counter = 0; ; counter++) {
      const d = material(epoch, counter);
      const n = BigInt(`0x${d.toString("hex")}`);
      if (n === 0n || n >= P256_ORDER) continue;
      const ecdh = createECDH("prime256v1");
      ecdh.setPrivateKey(d);
      const point = ecdh.getPublicKey(); // 0x04 || x || y
      return createPrivateKey({
        key: {
          kty: "EC",
          crv: "P-256",
          d: d.toString("base64url"),
          x: point.subarray(1, 33).toString("base64url"),
          y: point.subarray(33, 65).toString("base64url"),
        },
        format: "jwk",
      });
    }
  }

  async function derive(epoch: number): Promise<SigningKey> {
    const privateKey = privateKeyFor(epoch);
    const publicKey = createPublicKey(privateKey);
    const exported = await exportJWK(publicKey);
    const kid = `${epoch}.${(await calculateJwkThumbprint(exported)).slice(0, 16)}`;
    const jwk: JWK = { ...exported, kid, alg: algorithm, use: "sig" };
    return { kid, alg: algorithm, privateKey, publicKey, jwk };
  }

  return {
    algorithm,
    rotationPeriodMs,
    signingKey: () => keyFor(epochNow()),
    async verificationKey(header) {
      const m = header.kid === undefined ? null : KID.exec(header.kid);
      if (header.alg !== algorithm || !m) throw new Unauthorized("token not signed by a Rampart key");
      const epoch = Number(m[1]);
      const now = epochNow();
      if (epoch < now - 1 || epoch > now + 1) throw new Unauthorized("token signed by a retired key");
      const key = await keyFor(epoch);
      if (key.kid !== header.kid) throw new Unauthorized("token not signed by a Rampart key");
      return key.publicKey;
    },
    async jwks() {
      const now = epochNow();
      const keys = await Promise.all([now - 1, now, now + 1].map(keyFor));
      return { keys: keys.map((k) => k.jwk) };
    },
  };
}
