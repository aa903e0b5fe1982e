// A local Cloud KMS that speaks the documented REST v1 calls Rampart uses:
// POST /v1/{cryptoKey}:encrypt and :decrypt with base64 fields, additionalAuthenticatedData bound,
// CRC32C integrity fields checked and returned, and Google's JSON error envelope.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { crc32c } from "../../../src/appsec/secrets/keys/gcp-kms.ts";
import { close, listen, noFaults, open, readBody, reply, seal, type KmsFaults } from "./wire.ts";

export interface LocalGcpKms {
  /** `http://127.0.0.1:port`, usable as the provider's apiEndpoint. */
  url: string;
  keyName: string;
  faults: KmsFaults & {
    /** Answer with a checksum that does not match the data (a corrupted response). */
    badChecksum: boolean;
    /** Answer without confirming the request checksums were verified. */
    unverified: boolean;
  };
  /** Bearer tokens seen, in order. */
  tokens: string[];
  close(): Promise<void>;
}

/** Starts a Cloud KMS stand-in holding one symmetric crypto key, version 1. */
export async function startGcpKms(
  keyName = "projects/rampart-test/locations/europe-west1/keyRings/rampart/cryptoKeys/root",
): Promise<LocalGcpKms> {
  const material = randomBytes(32);
  const faults = { ...noFaults(), badChecksum: false, unverified: false };
  const tokens: string[] = [];

  const fail = (res: ServerResponse, code: number, status: string, message: string) =>
    reply(res, code, { error: { code, message, status } });
  // proto3 JSON carries int64 wrappers as strings; accept numbers too.
  const crcOf = (field: unknown): number | undefined =>
    field === undefined || field === null ? undefined : Number(field);
  const b64 = (field: unknown) => Buffer.from(typeof field === "string" ? field : "", "base64");
  const checksum = (data: Buffer) => String(faults.badChecksum ? (crc32c(data) ^ 1) >>> 0 : crc32c(data));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/v1\/(.+):(encrypt|decrypt)(?:\?.*)?$/.exec(req.url ?? "");
    if (req.method !== "POST" || !match)
      return fail(res, 404, "NOT_FOUND", `no route ${req.method} ${req.url}`);
    const auth = String(req.headers.authorization ?? "");
    if (!auth.startsWith("Bearer ")) {
      return fail(res, 401, "UNAUTHENTICATED", "Request is missing required authentication credential.");
    }
    tokens.push(auth.slice(7));
    const [, name, op] = match;
    const body = JSON.parse(await readBody(req)) as Record<string, unknown>;
    if (faults.internalError) return fail(res, 503, "UNAVAILABLE", "The service is currently unavailable.");
    const permission = op === "encrypt" ? "useToEncrypt" : "useToDecrypt";
    if (faults.denied || name !== keyName) {
      return fail(
        res,
        403,
        "PERMISSION_DENIED",
        `Permission 'cloudkms.cryptoKeyVersions.${permission}' denied on resource '${name}' (or it may not exist).`,
      );
    }
    if (faults.disabled) {
      return fail(
        res,
        400,
        "FAILED_PRECONDITION",
        `${keyName}/cryptoKeyVersions/1 is not enabled, current state is: DISABLED.`,
      );
    }
    const aad = b64(body.additionalAuthenticatedData);
    const aadCrc = crcOf(body.additionalAuthenticatedDataCrc32c);
    if (aadCrc !== undefined && aadCrc !== crc32c(aad)) {
      return fail(
        res,
        400,
        "INVALID_ARGUMENT",
        "The checksum in field additional_authenticated_data_crc32c did not match the data in field additional_authenticated_data.",
      );
    }
    if (op === "encrypt") {
      const plaintext = b64(body.plaintext);
      const plainCrc = crcOf(body.plaintextCrc32c);
      if (plainCrc !== undefined && plainCrc !== crc32c(plaintext)) {
        return fail(
          res,
          400,
          "INVALID_ARGUMENT",
          "The checksum in field plaintext_crc32c did not match the data in field plaintext.",
        );
      }
      const ciphertext = Buffer.concat([Buffer.from([1]), seal(material, plaintext, aad)]);
      return reply(res, 200, {
        name: `${keyName}/cryptoKeyVersions/1`,
        ciphertext: ciphertext.toString("base64"),
        ciphertextCrc32c: checksum(ciphertext),
        verifiedPlaintextCrc32c: plainCrc !== undefined && !faults.unverified,
        verifiedAdditionalAuthenticatedDataCrc32c: aadCrc !== undefined && !faults.unverified,
        protectionLevel: "SOFTWARE",
      });
    }
    const ciphertext = b64(body.ciphertext);
    const cipherCrc = crcOf(body.ciphertextCrc32c);
    if (cipherCrc !== undefined && cipherCrc !== crc32c(ciphertext)) {
      return fail(
        res,
        400,
        "INVALID_ARGUMENT",
        "The checksum in field ciphertext_crc32c did not match the data in field ciphertext.",
      );
    }
    const plaintext = ciphertext[0] === 1 ? open(material, ciphertext.subarray(1), aad) : undefined;
    if (!plaintext) {
      return fail(res, 400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid.");
    }
    return reply(res, 200, {
      plaintext: plaintext.toString("base64"),
      plaintextCrc32c: checksum(plaintext),
      usedPrimary: true,
      protectionLevel: "SOFTWARE",
    });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => fail(res, 400, "INVALID_ARGUMENT", "Invalid JSON payload received."));
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, keyName, faults, tokens, close: () => close(server) };
}
