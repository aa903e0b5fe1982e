// Picks the root key provider the `secrets.root` config names. Cloud providers live in cloud.ts and
// are passed in by the server.
import { join } from "node:path";
import { Invalid } from "../../../platform/errors.ts";
import type { Store } from "../../../platform/store/index.ts";
import type { RootKeyConfig } from "../schema.ts";
import { envRootKey } from "./env.ts";
import { fileRootKey } from "./file.ts";
import { type ShamirRootKey, shamirRootKey } from "./shamir.ts";
import type { RootKeyProvider } from "./types.ts";

export { envRootKey } from "./env.ts";
export { fileRootKey } from "./file.ts";
export { gcmOpen, gcmSeal, localRootKey, ROOT_KEY_BYTES } from "./local.ts";
export {
  initShamir,
  readShamirState,
  type ShamirRootKey,
  type ShamirState,
  shamirRootKey,
} from "./shamir.ts";
export type { RootKeyKind, RootKeyProvider } from "./types.ts";

/** Default location of the generated root key file. */
export const defaultRootKeyFile = (dataDir: string) => join(dataDir, "keys", "secrets-root.key");

/** The configured provider; `root` (a cloud provider the server built) wins when given. */
export async function openRootKey(
  config: RootKeyConfig,
  o: { store: Store; dataDir: string; root?: RootKeyProvider | undefined; env?: NodeJS.ProcessEnv },
): Promise<{ provider: RootKeyProvider; shamir?: ShamirRootKey }> {
  if (o.root) return { provider: o.root };
  switch (config.provider) {
    case "file":
      return { provider: fileRootKey(config.file ?? defaultRootKeyFile(o.dataDir)) };
    case "env":
      return { provider: envRootKey(config.variable, o.env) };
    case "shamir": {
      const shamir = await shamirRootKey(o.store);
      return { provider: shamir, shamir };
    }
    default:
      throw new Invalid(`the ${config.provider} root key provider is wired by the server`, "secrets.root");
  }
}
