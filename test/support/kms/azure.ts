// A local Azure Key Vault (keys API) over real TLS, implementing the documented calls the SDK makes
// for wrap/unwrap: the 401 + `WWW-Authenticate: Bearer authorization=…, resource=…` challenge, then
// Bearer-authenticated GET /keys/{name}[/{version}], POST …/wrapkey and …/unwrapkey with
// `{alg, value}` base64url bodies, RSA-OAEP-256 on a real RSA key, and Key Vault's error JSON.
import {
  constants,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueCertificate } from "../certificates.ts";
import { close, listen, noFaults, readBody, reply, type KmsFaults } from "./wire.ts";

export interface LocalKeyVault {
  /** `https://127.0.0.1:port`, the vault URL. */
  url: string;
  keyName: string;
  /** PEM of the server's self-signed certificate: the only CA a test client should trust. */
  ca: string;
  /** The resource the challenge names; a token must be for `${resource}/.default`. */
  resource: string;
  /** The bearer token the vault accepts. */
  token: string;
  faults: KmsFaults;
  /** Authenticated requests answered, as `METHOD path` without the query. */
  calls: string[];
  /** How many unauthenticated requests got the bearer challenge. */
  challenges: number;
  /** Adds a key version and makes it current; returns its version id. */
  rotate(): string;
  close(): Promise<void>;
}

interface KeyVersion {
  version: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A self-signed P-256 certificate for 127.0.0.1, as PEM. */
function selfSignedCertificate(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "rampart-akv-"));
  try {
    const files = issueCertificate(dir, "vault", { cn: "127.0.0.1", san: ["IP:127.0.0.1"], days: 1 });
    return { cert: readFileSync(files.certFile, "utf8"), key: readFileSync(files.keyFile, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts a Key Vault stand-in holding one RSA-2048 key named `keyName`. */
export async function startKeyVault(keyName = "rampart-root"): Promise<LocalKeyVault> {
  const tls = selfSignedCertificate();
  const resource = "https://vault.azure.net";
  const token = `akv-${randomBytes(8).toString("hex")}`;
  const faults = noFaults();
  const calls: string[] = [];
  const versions: KeyVersion[] = [];
  let url = "";

  const rotate = (): string => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const version = randomBytes(16).toString("hex");
    versions.push({ version, privateKey, publicKey });
    return version;
  };
  rotate();

  const fail = (res: ServerResponse, status: number, code: string, message: string, inner?: string) =>
    reply(res, status, { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } });
  const bundle = (v: KeyVersion) => {
    const jwk = v.publicKey.export({ format: "jwk" });
    const now = Math.floor(Date.now() / 1000);
    return {
      key: {
        kid: `${url}/keys/${keyName}/${v.version}`,
        kty: "RSA",
        key_ops: ["wrapKey", "unwrapKey", "encrypt", "decrypt"],
        n: jwk.n,
        e: jwk.e,
      },
      attributes: {
        enabled: !faults.disabled,
        created: now,
        updated: now,
        recoveryLevel: "Recoverable+Purgeable",
      },
    };
  };
  const oaep = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const target = new URL(req.url ?? "/", url);
    if (String(req.headers.authorization ?? "") !== `Bearer ${token}`) {
      state.challenges++;
      // The challenge tells the SDK which authority and resource to get a token for.
      res.setHeader(
        "www-authenticate",
        `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="${resource}"`,
      );
      return fail(res, 401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.");
    }
    calls.push(`${req.method} ${target.pathname}`);
    if (!target.searchParams.get("api-version"))
      return fail(res, 400, "BadParameter", "The api-version query parameter is required.");
    const match = /^\/keys\/([^/]+)(?:\/([^/]*))?(?:\/(wrapkey|unwrapkey))?\/?$/.exec(target.pathname);
    if (!match || match[1] !== keyName)
      return fail(
        res,
        404,
        "KeyNotFound",
        `A key with (name/id) ${match?.[1] ?? "?"} was not found in this key vault.`,
      );
    const [, , versionId, op] = match;
    const key = versionId ? versions.find((v) => v.version === versionId) : versions.at(-1);
    if (!key)
      return fail(
        res,
        404,
        "KeyNotFound",
        `A key with (name/id) ${keyName}/${versionId} was not found in this key vault.`,
      );
    if (faults.internalError)
      return fail(res, 500, "InternalServerError", "The server encountered an internal error.");
    const permission = op === undefined ? "get" : op === "wrapkey" ? "wrapKey" : "unwrapKey";
    if (faults.denied) {
      return fail(
        res,
        403,
        "Forbidden",
        `The user, group or application does not have keys ${permission} permission on key vault.`,
        "AccessDenied",
      );
    }
    if (req.method === "GET" && op === undefined) return reply(res, 200, bundle(key));
    if (req.method !== "POST" || op === undefined)
      return fail(res, 405, "BadParameter", "Method not allowed.");
    if (faults.disabled)
      return fail(
        res,
        403,
        "Forbidden",
        `Operation ${permission} is not allowed on a disabled key.`,
        "KeyDisabled",
      );
    const params = JSON.parse(body) as { alg?: string; value?: string };
    if (params.alg !== "RSA-OAEP-256")
      return fail(
        res,
        400,
        "BadParameter",
        `Unsupported algorithm ${String(params.alg)} for this operation.`,
      );
    const value = Buffer.from(params.value ?? "", "base64url");
    const kid = `${url}/keys/${keyName}/${key.version}`;
    if (op === "wrapkey") {
      return reply(res, 200, {
        kid,
        value: publicEncrypt({ key: key.publicKey, ...oaep }, value).toString("base64url"),
      });
    }
    try {
      return reply(res, 200, {
        kid,
        value: privateDecrypt({ key: key.privateKey, ...oaep }, value).toString("base64url"),
      });
    } catch {
      return fail(res, 400, "BadParameter", "The parameter is incorrect.");
    }
  }

  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    handle(req, res).catch(() => fail(res, 400, "BadParameter", "The request body is not valid JSON."));
  });
  url = `https://127.0.0.1:${await listen(server)}`;
  const state: LocalKeyVault = {
    url,
    keyName,
    ca: tls.cert,
    resource,
    token,
    faults,
    calls,
    challenges: 0,
    rotate,
    close: () => close(server),
  };
  return state;
}
