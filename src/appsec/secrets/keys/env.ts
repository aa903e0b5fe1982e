// A root key handed in through an environment variable (base64 of 32 bytes), e.g. from a platform secret.
import { Invalid } from "../../../platform/errors.ts";
import { localRootKey, ROOT_KEY_BYTES } from "./local.ts";
import type { RootKeyProvider } from "./types.ts";

/** Reads `variable` from `env`; the error names the variable and what is wrong, never the value. */
export function envRootKey(variable: string, env: NodeJS.ProcessEnv = process.env): RootKeyProvider {
  const where = "secrets.root.variable";
  const raw = env[variable]?.trim();
  if (!raw)
    throw new Invalid(
      `environment variable ${variable} is not set (expected base64 of 32 random bytes)`,
      where,
    );
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) {
    throw new Invalid(
      `environment variable ${variable} is not base64 (expected base64 of 32 random bytes)`,
      where,
    );
  }
  const key = Buffer.from(raw, "base64");
  if (key.length !== ROOT_KEY_BYTES) {
    throw new Invalid(
      `environment variable ${variable} decodes to ${key.length} bytes, expected ${ROOT_KEY_BYTES} (make one with \`openssl rand -base64 32\`)`,
      where,
    );
  }
  return localRootKey("env", () => key);
}
