// A local AWS KMS that speaks the documented JSON 1.1 wire protocol for the two calls Rampart
// uses: POST / with `X-Amz-Target: TrentService.Encrypt | TrentService.Decrypt`, base64 blobs,
// an EncryptionContext bound as associated data, and `__type` error shapes.
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { close, listen, noFaults, open, readBody, reply, seal, type KmsFaults } from "./wire.ts";

export interface LocalAwsKms {
  url: string;
  region: string;
  keyId: string;
  arn: string;
  faults: KmsFaults;
  /** Targets the server answered, in order (`Encrypt`, `Decrypt`). */
  calls: string[];
  close(): Promise<void>;
}

const JSON_11 = "application/x-amz-json-1.1";

/** Starts a KMS stand-in holding one symmetric key (also reachable as `alias/rampart`). */
export async function startAwsKms(region = "eu-west-1"): Promise<LocalAwsKms> {
  const keyId = randomUUID();
  const arn = `arn:aws:kms:${region}:111122223333:key/${keyId}`;
  const material = randomBytes(32);
  const faults = noFaults();
  const calls: string[] = [];
  const known = new Set([keyId, arn, "alias/rampart", `arn:aws:kms:${region}:111122223333:alias/rampart`]);

  const fail = (res: ServerResponse, status: number, type: string, message: string) =>
    reply(
      res,
      status,
      { __type: type, message },
      { "content-type": JSON_11, "x-amzn-requestid": randomUUID() },
    );

  // The context is bound as canonical JSON of its sorted entries, so order does not matter.
  const aadOf = (context: unknown): Buffer => {
    const entries = Object.entries((context ?? {}) as Record<string, string>).sort(([a], [b]) =>
      a < b ? -1 : 1,
    );
    return Buffer.from(JSON.stringify(entries));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers["x-amz-target"] ?? "");
    if (req.method !== "POST" || req.url !== "/" || !target.startsWith("TrentService.")) {
      return fail(res, 400, "UnknownOperationException", "");
    }
    if (!String(req.headers["content-type"]).startsWith(JSON_11)) {
      return fail(res, 400, "SerializationException", "expected application/x-amz-json-1.1");
    }
    if (!String(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 Credential=")) {
      return fail(res, 400, "MissingAuthenticationTokenException", "Missing Authentication Token");
    }
    const body = JSON.parse(await readBody(req)) as Record<string, unknown>;
    const op = target.slice("TrentService.".length);
    calls.push(op);
    if (faults.internalError) return fail(res, 500, "KMSInternalException", "internal error");
    if (faults.denied) {
      return fail(
        res,
        400,
        "AccessDeniedException",
        `User is not authorized to perform: kms:${op} on resource: ${arn}`,
      );
    }
    if (op === "Encrypt") {
      if (typeof body.KeyId !== "string" || !known.has(body.KeyId)) {
        return fail(res, 400, "NotFoundException", `Key '${String(body.KeyId)}' does not exist`);
      }
      if (faults.disabled) return fail(res, 400, "DisabledException", `${arn} is disabled.`);
      const plaintext = Buffer.from(String(body.Plaintext ?? ""), "base64");
      if (plaintext.length < 1 || plaintext.length > 4096) {
        return fail(res, 400, "ValidationException", "Plaintext must be 1 to 4096 bytes");
      }
      // The blob names its key, as real KMS ciphertexts do, so Decrypt needs no KeyId.
      const id = Buffer.from(keyId);
      const blob = Buffer.concat([
        Buffer.from([1, id.length]),
        id,
        seal(material, plaintext, aadOf(body.EncryptionContext)),
      ]);
      return reply(
        res,
        200,
        { CiphertextBlob: blob.toString("base64"), KeyId: arn, EncryptionAlgorithm: "SYMMETRIC_DEFAULT" },
        { "content-type": JSON_11 },
      );
    }
    if (op === "Decrypt") {
      const blob = Buffer.from(String(body.CiphertextBlob ?? ""), "base64");
      const idLength = blob[1] ?? 0;
      const blobKey = blob.subarray(2, 2 + idLength).toString();
      if (blob[0] !== 1 || blobKey !== keyId) return fail(res, 400, "InvalidCiphertextException", "");
      if (body.KeyId !== undefined && !known.has(String(body.KeyId))) {
        return fail(
          res,
          400,
          "IncorrectKeyException",
          "The key ID in the request does not identify a CMK that can perform this operation.",
        );
      }
      if (faults.disabled) return fail(res, 400, "DisabledException", `${arn} is disabled.`);
      const plaintext = open(material, blob.subarray(2 + idLength), aadOf(body.EncryptionContext));
      if (!plaintext) return fail(res, 400, "InvalidCiphertextException", "");
      return reply(
        res,
        200,
        { KeyId: arn, Plaintext: plaintext.toString("base64"), EncryptionAlgorithm: "SYMMETRIC_DEFAULT" },
        { "content-type": JSON_11 },
      );
    }
    return fail(res, 400, "UnknownOperationException", "");
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => fail(res, 400, "SerializationException", "malformed request"));
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, region, keyId, arn, faults, calls, close: () => close(server) };
}
