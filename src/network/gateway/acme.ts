// Certificates over ACME (RFC 8555) with acme-client: ordered for names that have none, renewed
// before expiry, and kept in `stateDir` so a restart serves them without a new order. The CA
// checks control of a name by HTTP-01 (the plain listener answers the token) or by TLS-ALPN-01
// (RFC 8737: a handshake offering `acme-tls/1` gets a self-signed certificate naming the key
// authorization). A failed order is logged, retried with backoff, and the old certificate stays.
import cluster from "node:cluster";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { Agent, get as httpsGet } from "node:https";
import type { Socket } from "node:net";
import { join, resolve } from "node:path";
import { createSecureContext, createServer as createTlsServer, rootCertificates } from "node:tls";
import type { SecureContext, Server as TlsServer } from "node:tls";
import { axios, Client, crypto as acmeCrypto } from "acme-client";
import type { z } from "zod";
import type { acmeSchema } from "../../config/schema.ts";
import type { Clock } from "../../platform/clock.ts";
import { Invalid } from "../../platform/errors.ts";
import { newEvent, type SecurityEvent, systemActor } from "../../platform/events/index.ts";
import type { Logger } from "../../platform/logging.ts";
import { type CertificateStore, divertHandshakes } from "./tls.ts";

export type AcmeConfig = z.output<typeof acmeSchema>;

export interface CertificateAutomation {
  /** The key authorization for an HTTP-01 token this gateway is being asked about, if it is ours. */
  http01(token: string): string | undefined;
  /** Sends TLS-ALPN-01 validation handshakes arriving at `server` to the challenge certificates. */
  attach(server: TlsServer): void;
  /** Orders what is missing now and starts the renewal timer; call once the listeners are up. */
  start(): void;
  /** Orders every certificate that is missing or due (one order per host set at a time). */
  renewDue(): Promise<void>;
  close(): void;
}

const DAY_MS = 86_400_000;
const ACME_TLS_ALPN = "acme-tls/1";
/** First retry after a failed order; doubles per failure, up to a day. */
const RETRY_BASE_MS = 5 * 60_000;

interface HostSet {
  hosts: string[];
  file: string;
  notBefore?: Date;
  notAfter?: Date;
  failures: number;
  retryAt: number;
  inFlight?: Promise<void> | undefined;
}

/** Writes `data` to `path` through a temporary file and a rename, so a crash leaves old or new. */
async function writeAtomic(path: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const fh = await open(tmp, "wx", mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function readIfPresent(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----\s*/g;

/** A stored `<name>.pem` holds the private key then the chain: one file, so one atomic rename. */
function splitBundle(pem: Buffer): { cert: Buffer; key: Buffer } {
  const blocks = [...pem.toString("ascii").matchAll(PEM_BLOCK)];
  const key = blocks.find((b) => (b[1] as string).endsWith("PRIVATE KEY"))?.[0];
  const cert = blocks
    .filter((b) => b[1] === "CERTIFICATE")
    .map((b) => b[0])
    .join("");
  if (!key || !cert) throw new Error("expected a private key and a certificate chain");
  return { cert: Buffer.from(cert), key: Buffer.from(key) };
}

export function createCertificateAutomation(
  config: AcmeConfig,
  o: {
    store: CertificateStore;
    clock: Clock;
    logger?: Logger | undefined;
    emit?: ((e: SecurityEvent) => void) | undefined;
    source?: string | undefined;
  },
): CertificateAutomation {
  // Challenge answers live in this process; the CA's check may reach another worker.
  if (cluster.isWorker)
    throw new Invalid("runs in one process: start the gateway without --workers", "gateway.tls.acme");
  const stateDir = resolve(config.stateDir);
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new Invalid(
      `cannot create ${stateDir} (${(err as NodeJS.ErrnoException).code ?? "error"})`,
      "gateway.tls.acme.stateDir",
    );
  }
  const directoryOrigin = new URL(config.directoryUrl).origin;
  const extraCa = config.caFile ? readCaFile(config.caFile) : undefined;

  // acme-client talks through one axios instance shared by the process. Requests to this CA get
  // the extra CA and a timeout; the interceptor goes away on close.
  const agent = extraCa ? new Agent({ ca: [...rootCertificates, extraCa], keepAlive: true }) : undefined;
  const interceptor = axios.interceptors.request.use((req) => {
    if (req.url && new URL(req.url, config.directoryUrl).origin === directoryOrigin) {
      if (agent) req.httpsAgent ??= agent;
      req.timeout ||= 30_000;
    }
    return req;
  });
  const sets: HostSet[] = config.hosts.map((entry) => {
    const hosts = (typeof entry === "string" ? [entry] : entry).map((h) => h.toLowerCase());
    // The file name changes with the names and the CA, so a config change orders anew.
    const id = createHash("sha256")
      .update(`${config.directoryUrl}\n${hosts.join(",")}`)
      .digest("hex");
    return {
      hosts,
      file: join(stateDir, `${hosts[0]?.slice(0, 100)}-${id.slice(0, 12)}.pem`),
      failures: 0,
      retryAt: 0,
    };
  });

  const http01Tokens = new Map<string, string>();
  const alpnContexts = new Map<string, SecureContext>();
  const challengeServer = createTlsServer({
    ALPNProtocols: [ACME_TLS_ALPN],
    minVersion: "TLSv1.2",
    SNICallback: (name, cb) => cb(null, alpnContexts.get(name.toLowerCase())),
  });
  // RFC 8737: the validator closes right after the handshake; nothing is read or written.
  challengeServer.on("secureConnection", (socket: Socket) => {
    socket.on("error", () => socket.destroy());
    socket.setTimeout(10_000, () => socket.destroy());
  });
  challengeServer.on("tlsClientError", () => {});

  const serve = (set: HostSet, pem: { cert: Buffer; key: Buffer }) => {
    o.store.put(set.hosts, pem);
    const x509 = new X509Certificate(pem.cert);
    set.notBefore = new Date(x509.validFrom);
    set.notAfter = new Date(x509.validTo);
  };

  // What a previous run left: served at once, renewed only when due.
  for (const set of sets) {
    const stored = readIfPresent(set.file);
    if (!stored) continue;
    try {
      serve(set, splitBundle(stored));
      o.logger?.info({ hosts: set.hosts, notAfter: set.notAfter?.toISOString() }, "ACME certificate loaded");
    } catch (err) {
      o.logger?.warn(
        { hosts: set.hosts, file: set.file, err: (err as Error).message },
        "stored ACME certificate unusable; ordering a new one",
      );
    }
  }

  // Registered (or found again: RFC 8555 §7.3.1) by key once per process and after a failure, so
  // an account the CA has lost is registered anew instead of failing every order.
  let client: Promise<Client> | undefined;
  const accountKeyFile = join(stateDir, "account.key");
  const account = async (): Promise<Client> => {
    let key = readIfPresent(accountKeyFile);
    if (key) {
      if ((statSync(accountKeyFile).mode & 0o077) !== 0) {
        o.logger?.warn(
          { file: accountKeyFile },
          "ACME account key was readable by others; setting mode 0600",
        );
        chmodSync(accountKeyFile, 0o600);
      }
    } else {
      key = await acmeCrypto.createPrivateEcdsaKey();
      await writeAtomic(accountKeyFile, key, 0o600);
    }
    return new Client({
      directoryUrl: config.directoryUrl,
      accountKey: key,
      backoffAttempts: 10,
      backoffMin: 500,
      backoffMax: 5_000,
    });
  };

  const event = (type: string, set: HostSet, extra: Partial<SecurityEvent>, data: Record<string, unknown>) =>
    o.emit?.(
      newEvent(
        {
          type,
          actor: systemActor,
          target: { kind: "certificate", id: set.hosts.join(",").slice(0, 512) },
          data: { hosts: set.hosts, ...data },
          ...extra,
          ...(o.source ? { source: o.source } : {}),
        },
        o.clock.now(),
      ),
    );

  const renewAt = (set: HostSet): number => {
    if (!set.notAfter) return 0;
    const end = set.notAfter.getTime();
    const life = end - (set.notBefore?.getTime() ?? end);
    // Short-lived certificates renew at two thirds of their life, not every day.
    return end - Math.min(config.renewDaysBefore * DAY_MS, life / 3);
  };
  const nextAttempt = (set: HostSet) => Math.max(set.retryAt, renewAt(set));

  // acme-client 5.4 loses the cause of a network error (its retry handler then fails on a missing
  // response), so the directory is fetched first: "CA unreachable" gets a message that says so.
  const probeDirectory = () =>
    new Promise<void>((resolve, reject) => {
      const fail = (why: string) =>
        reject(new Error(`cannot use the ACME directory ${config.directoryUrl}: ${why}`));
      const req = httpsGet(config.directoryUrl, { agent, timeout: 30_000 }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          if (res.statusCode !== 200) return fail(`it answered ${res.statusCode}`);
          try {
            if (typeof (JSON.parse(body) as { newOrder?: unknown }).newOrder === "string") return resolve();
          } catch {
            // not JSON: said below
          }
          fail("it is not an ACME directory (no newOrder)");
        });
      });
      req.on("timeout", () => req.destroy(new Error("no answer within 30 s")));
      req.on("error", (err) => fail(err.message));
    });

  let closed = false;
  const order = async (set: HostSet): Promise<void> => {
    const started = performance.now();
    try {
      await probeDirectory();
      client ??= account().catch((err: unknown) => {
        client = undefined;
        throw err;
      });
      const acme = await client;
      const key = await acmeCrypto.createPrivateEcdsaKey();
      const [, csr] = await acmeCrypto.createCsr({ commonName: set.hosts[0], altNames: set.hosts }, key);
      const chain = await acme.auto({
        csr,
        ...(config.email ? { email: config.email } : {}),
        termsOfServiceAgreed: true,
        challengePriority: [config.challenge],
        // Checking our own listener from here proves little: the CA checks from outside.
        skipChallengeVerification: true,
        challengeCreateFn: async (authz, challenge, keyAuthorization) => {
          const host = authz.identifier.value.toLowerCase();
          if (challenge.type !== config.challenge)
            throw new Error(`the CA offered no ${config.challenge} challenge for ${host}`);
          if (challenge.type === "http-01") http01Tokens.set(challenge.token, keyAuthorization);
          else {
            const [alpnKey, alpnCert] = await acmeCrypto.createAlpnCertificate(
              authz,
              keyAuthorization,
              await acmeCrypto.createPrivateEcdsaKey(),
            );
            alpnContexts.set(
              host,
              createSecureContext({ key: alpnKey, cert: alpnCert, minVersion: "TLSv1.2" }),
            );
          }
        },
        challengeRemoveFn: async (authz, challenge) => {
          http01Tokens.delete(challenge.token);
          alpnContexts.delete(authz.identifier.value.toLowerCase());
        },
      });
      if (closed) return;
      const pem = { cert: Buffer.from(chain), key: Buffer.from(key) };
      await writeAtomic(set.file, Buffer.concat([pem.key, Buffer.from("\n"), pem.cert]), 0o600);
      const renewed = set.notAfter !== undefined;
      serve(set, pem);
      set.failures = 0;
      set.retryAt = 0;
      // A new certificate already due means our clock or the CA's lifetimes are off: order again
      // tomorrow, not in a loop.
      if (renewAt(set) <= o.clock.now().getTime()) {
        set.retryAt = o.clock.now().getTime() + DAY_MS;
        o.logger?.warn(
          {
            hosts: set.hosts,
            notAfter: set.notAfter?.toISOString(),
            renewDaysBefore: config.renewDaysBefore,
          },
          "new ACME certificate is already due for renewal; check the clock and renewDaysBefore",
        );
      }
      o.logger?.info(
        {
          hosts: set.hosts,
          notAfter: set.notAfter?.toISOString(),
          ms: Math.round(performance.now() - started),
        },
        renewed ? "ACME certificate renewed" : "ACME certificate issued",
      );
      event(
        "gateway.certificate_issued",
        set,
        { retention: "audit" },
        {
          notAfter: set.notAfter?.toISOString(),
          renewal: renewed,
          directoryUrl: config.directoryUrl,
        },
      );
    } catch (err) {
      if (closed) return;
      client = undefined;
      set.failures++;
      set.retryAt = o.clock.now().getTime() + Math.min(DAY_MS, RETRY_BASE_MS * 2 ** (set.failures - 1));
      const reason = describeFailure(err);
      const retryAt = new Date(set.retryAt).toISOString();
      o.logger?.error(
        {
          hosts: set.hosts,
          directoryUrl: config.directoryUrl,
          err: reason,
          failures: set.failures,
          retryAt,
          serving: set.notAfter
            ? `the current certificate, valid until ${set.notAfter.toISOString()}`
            : "no certificate",
        },
        "ACME order failed; keeping what is in service",
      );
      event(
        "gateway.certificate_order_failed",
        set,
        { severity: "medium", outcome: "failure" },
        {
          reason: reason.slice(0, 500),
          failures: set.failures,
          retryAt,
          directoryUrl: config.directoryUrl,
        },
      );
    }
  };

  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    clearTimeout(timer);
    if (closed) return;
    const now = o.clock.now().getTime();
    const next = Math.min(...sets.map(nextAttempt));
    // At least daily, so a clock that jumps or a missed wake-up is caught within a day.
    timer = setTimeout(() => void renewDue(), Math.min(DAY_MS, Math.max(1_000, next - now)));
    timer.unref();
  };

  const renewDue = async (): Promise<void> => {
    if (closed) return;
    const now = o.clock.now().getTime();
    const due = sets.filter((s) => s.inFlight || nextAttempt(s) <= now);
    await Promise.all(
      due.map((s) => {
        s.inFlight ??= order(s).finally(() => {
          s.inFlight = undefined;
        });
        return s.inFlight;
      }),
    );
    schedule();
  };

  return {
    http01: (token) => http01Tokens.get(token),
    attach(server) {
      divertHandshakes(
        server,
        challengeServer,
        () => alpnContexts.size > 0,
        (hello) =>
          hello.alpn.length === 1 &&
          hello.alpn[0] === ACME_TLS_ALPN &&
          hello.servername !== undefined &&
          alpnContexts.has(hello.servername),
      );
    },
    start() {
      void renewDue();
    },
    renewDue,
    close() {
      closed = true;
      clearTimeout(timer);
      // An order in flight runs out on its own (requests time out); its result is dropped.
      axios.interceptors.request.eject(interceptor);
      agent?.destroy();
    },
  };
}

function describeFailure(err: unknown): string {
  const message = (err as Error).message;
  // See probeDirectory: what acme-client 5.4 throws when the CA stopped answering mid-order.
  if (err instanceof TypeError && message.includes("reading 'config'"))
    return "the CA stopped answering during the order (a network error or a timeout)";
  return message;
}

function readCaFile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new Invalid(
      `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"})`,
      "gateway.tls.acme.caFile",
    );
  }
}
