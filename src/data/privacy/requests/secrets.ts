// The request's secrets: the emailed one-time code (kept only as a salted scrypt hash, so a copy
// of the table does not hand out codes cheaply) and the status and download tokens (random, kept
// as SHA-256). Every comparison is constant-time.
import { createHash, randomBytes, randomInt, scrypt, timingSafeEqual } from "node:crypto";

/** A code of `digits` decimal digits, uniformly drawn. */
export function newCode(digits: number): string {
  let out = "";
  for (let i = 0; i < digits; i++) out += String(randomInt(10));
  return out;
}

const scryptAsync = (code: string, salt: Buffer) =>
  new Promise<Buffer>((resolve, reject) =>
    scrypt(code, salt, 32, { N: 16_384, r: 8, p: 1 }, (err, key) => (err ? reject(err) : resolve(key))),
  );

export async function hashCode(code: string): Promise<{ hash: string; salt: string }> {
  const salt = randomBytes(16);
  return { hash: (await scryptAsync(code, salt)).toString("base64"), salt: salt.toString("base64") };
}

export async function codeMatches(code: string, hash: string, salt: string): Promise<boolean> {
  const got = await scryptAsync(code, Buffer.from(salt, "base64"));
  const want = Buffer.from(hash, "base64");
  return got.length === want.length && timingSafeEqual(got, want);
}

/** A bearer token for the requester (status, download): 32 random bytes. */
export const newToken = (): string => randomBytes(32).toString("base64url");

export const tokenHash = (token: string): string => createHash("sha256").update(token).digest("base64");

export function tokenMatches(token: string, hash: string): boolean {
  const got = Buffer.from(tokenHash(token), "base64");
  const want = Buffer.from(hash, "base64");
  return got.length === want.length && timingSafeEqual(got, want);
}

/** A request id: hard to guess, so knowing one is not a way in. */
export const newRequestId = (): string => `dsr_${randomBytes(15).toString("hex").slice(0, 24)}`;
