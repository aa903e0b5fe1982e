// Random tokens and API keys: a new value under one key of the secret; nothing to retire, since
// the systems that check the token read it from the secret.
import { randomBytes } from "node:crypto";
import type { CredentialData, Rotator } from "./types.ts";

/** Rotates a random token: `prefix` + base64url of `bytes` random bytes under `key`; other keys are kept. */
export function randomTokenRotator(target: { key: string; bytes: number; prefix: string }): Rotator {
  return {
    kind: "random",
    async rotate(current: CredentialData | undefined) {
      return { ...current, [target.key]: target.prefix + randomBytes(target.bytes).toString("base64url") };
    },
    async discard() {},
    async retire() {},
  };
}
