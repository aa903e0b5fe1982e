// TLS termination: PEM certificates per host name (SNI), reloaded when their files change, plus
// certificates added at runtime (ACME). A reload that fails (bad PEM, a key that does not match)
// keeps the certificate in service and says why. Certificates close to expiry are reported as a
// log line, a `gateway.certificate_expiring` event (once a day each) and a Prometheus gauge.
import type { Socket } from "node:net";
import { createSecureContext, type SecureContext, type Server as TlsServer } from "node:tls";
import { readFileSync, type Stats, unwatchFile, watchFile } from "node:fs";
import { X509Certificate } from "node:crypto";
import { Gauge, type Registry } from "prom-client";
import type { z } from "zod";
import type { certificateSchema } from "../../config/schema.ts";
import type { Clock } from "../../platform/clock.ts";
import { newEvent, type SecurityEvent, systemActor } from "../../platform/events/index.ts";
import type { Logger } from "../../platform/logging.ts";

type CertificateConfig = z.output<typeof certificateSchema>;
export type TlsVersion = "TLSv1.2" | "TLSv1.3";

export interface PemPair {
  cert: Buffer;
  key: Buffer;
}

export interface CertificateStatus {
  hosts: string[];
  notAfter: string;
  daysLeft: number;
  /** Where it came from: a configured file, or issued over ACME. */
  source: "file" | "acme";
}

export interface CertificateStore {
  /** For `SNICallback`: the context for `servername`, else the default one (none while empty). */
  contextFor(servername: string | undefined): SecureContext | undefined;
  /** The first certificate as server options, for clients that send no server name. */
  defaultOptions(): PemPair | undefined;
  /** Called with new default options whenever the default certificate changes. */
  onDefaultChange(listener: (options: PemPair) => void): void;
  /**
   * Serves `pem` for exactly `hosts` from now on, replacing what was put for them before (ACME).
   * Throws, and keeps the old one, when the pair is unusable.
   */
  put(hosts: readonly string[], pem: PemPair): CertificateStatus;
  status(): CertificateStatus[];
  close(): void;
}

const DAY_MS = 86_400_000;
/** Certificates this close to expiry are reported: a warning, an event a day, and the gauge. */
export const EXPIRY_WARNING_DAYS = 30;
/** How often expiry is looked at again, so a certificate that crosses the line gets reported. */
const EXPIRY_CHECK_MS = 3_600_000;

interface Loaded {
  hosts: string[];
  source: "file" | "acme";
  pem: PemPair;
  context: SecureContext;
  notAfter: Date;
  fingerprint: string;
}

/**
 * TLS 1.2 suites: forward-secret ECDHE with AEAD ciphers only (Mozilla's "intermediate" list less
 * its DHE suites, which need dhparams and cost more). TLS 1.3 suites are all AEAD: OpenSSL's defaults.
 */
export const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

export interface ServerTlsOptions {
  minVersion: TlsVersion;
  /** CAs (PEM) that client certificates are verified against; absent: none are asked for. */
  clientCa?: Buffer | undefined;
}

/**
 * Options every server-side secure context of the gateway shares. Client certificates are asked
 * for, never required: the handshake succeeds without one or with an unverified one, and the
 * identity step admits only verified certificates that config maps to an identity.
 */
export const serverTls = (o: ServerTlsOptions) => ({
  minVersion: o.minVersion,
  ciphers: TLS12_CIPHERS,
  honorCipherOrder: true,
  ...(o.clientCa ? { ca: o.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
});

function fromPem(hosts: string[], source: Loaded["source"], pem: PemPair, tls: ServerTlsOptions): Loaded {
  const x509 = new X509Certificate(pem.cert);
  // createSecureContext checks that the key matches the certificate.
  const context = createSecureContext({ ...pem, ...serverTls(tls) });
  return { hosts, source, pem, context, notAfter: new Date(x509.validTo), fingerprint: x509.fingerprint256 };
}

function load(c: CertificateConfig, tls: ServerTlsOptions): Loaded {
  return fromPem(c.hosts, "file", { cert: readFileSync(c.certFile), key: readFileSync(c.keyFile) }, tls);
}

function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  if (!p.startsWith("*.")) return p === host;
  const dot = host.indexOf(".");
  return dot > 0 && host.slice(dot + 1) === p.slice(2);
}

const sameHosts = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((h, i) => h.toLowerCase() === b[i]?.toLowerCase());

export function loadCertificates(
  list: readonly CertificateConfig[],
  o: ServerTlsOptions & {
    clock: Clock;
    logger?: Logger | undefined;
    /** Where `gateway.certificate_expiring` events go. */
    emit?: ((e: SecurityEvent) => void) | undefined;
    /** Registry for `rampart_gateway_certificate_expiry_seconds`. */
    registry?: Registry | undefined;
    source?: string | undefined;
  },
): CertificateStore {
  // Throws on a bad file at start: a gateway must not come up without its certificates.
  const files = list.map((c) => load(c, o));
  // Issued at runtime; searched after the files, so a configured certificate wins.
  const added: Loaded[] = [];
  const all = () => [...files, ...added];
  const daysLeft = (l: Loaded) => Math.floor((l.notAfter.getTime() - o.clock.now().getTime()) / DAY_MS);
  const reportedOn = new Map<string, number>(); // fingerprint → day last reported
  const check = (l: Loaded) => {
    const left = daysLeft(l);
    if (left >= EXPIRY_WARNING_DAYS) return;
    const day = Math.floor(o.clock.now().getTime() / DAY_MS);
    if (reportedOn.get(l.fingerprint) === day) return;
    reportedOn.set(l.fingerprint, day);
    const notAfter = l.notAfter.toISOString();
    o.logger?.warn(
      { hosts: l.hosts, notAfter, daysLeft: left, source: l.source },
      "certificate expires soon",
    );
    o.emit?.(
      newEvent(
        {
          type: "gateway.certificate_expiring",
          severity: left < 7 ? "high" : "medium",
          actor: systemActor,
          target: { kind: "certificate", id: l.hosts.join(",").slice(0, 512) },
          data: { hosts: l.hosts, notAfter, daysLeft: left, source: l.source },
          ...(o.source ? { source: o.source } : {}),
        },
        o.clock.now(),
      ),
    );
  };
  const checkAll = () => all().forEach(check);
  checkAll();
  const expiryTimer = setInterval(checkAll, EXPIRY_CHECK_MS);
  expiryTimer.unref();
  if (o.registry)
    new Gauge({
      name: "rampart_gateway_certificate_expiry_seconds",
      help: "Seconds until each certificate in service expires (negative once expired), by its host names.",
      labelNames: ["hosts", "source"],
      registers: [o.registry],
      collect() {
        this.reset();
        const now = o.clock.now().getTime();
        for (const l of all())
          this.set({ hosts: l.hosts.join(","), source: l.source }, (l.notAfter.getTime() - now) / 1000);
      },
    });

  let defaultListener: ((options: PemPair) => void) | undefined;
  const watched = list.flatMap((c, i) => [c.certFile, c.keyFile].map((f) => ({ f, i })));
  const watchers = watched.map(({ f, i }) => {
    const onChange = (cur: Stats, prev: Stats) => {
      if (cur.mtimeMs === prev.mtimeMs) return;
      try {
        const fresh = load(list[i] as CertificateConfig, o);
        files[i] = fresh;
        check(fresh);
        if (i === 0) defaultListener?.(fresh.pem);
        o.logger?.info({ hosts: list[i]?.hosts }, "certificate reloaded");
      } catch (err) {
        // Often half of a cert/key pair written before the other: the next change reloads it.
        o.logger?.error(
          { hosts: list[i]?.hosts, err: (err as Error).message },
          "certificate reload failed; keeping the previous one",
        );
      }
    };
    watchFile(f, { interval: 500, persistent: false }, onChange);
    return { f, onChange };
  });
  const status = (l: Loaded): CertificateStatus => ({
    hosts: l.hosts,
    notAfter: l.notAfter.toISOString(),
    daysLeft: daysLeft(l),
    source: l.source,
  });
  return {
    contextFor(servername) {
      const host = servername?.toLowerCase();
      const match = host ? all().find((l) => l.hosts.some((p) => hostMatches(p, host))) : undefined;
      return (match ?? all()[0])?.context;
    },
    defaultOptions: () => all()[0]?.pem,
    onDefaultChange(listener) {
      defaultListener = listener;
    },
    put(hosts, pem) {
      const fresh = fromPem([...hosts], "acme", pem, o);
      const i = added.findIndex((l) => sameHosts(l.hosts, hosts));
      const wasDefault = all()[0];
      if (i === -1) added.push(fresh);
      else added[i] = fresh;
      if (all()[0] !== wasDefault) defaultListener?.(fresh.pem);
      check(fresh);
      return status(fresh);
    },
    status: () => all().map(status),
    close() {
      clearInterval(expiryTimer);
      for (const { f, onChange } of watchers) unwatchFile(f, onChange);
    },
  };
}

/** What a TLS ClientHello asks for, read before the handshake starts. */
export interface ClientHello {
  servername: string | undefined;
  alpn: string[];
}

/**
 * Parses the ClientHello at the start of `data` (a TLS record): the SNI host name and the ALPN
 * protocols offered. Undefined when `data` is not a whole ClientHello record.
 */
export function parseClientHello(data: Buffer): ClientHello | undefined {
  // Record: type 22 (handshake), version, length; then handshake type 1 (ClientHello), length.
  if (data.length < 9 || data[0] !== 22 || data[5] !== 1) return undefined;
  const recordEnd = 5 + data.readUInt16BE(3);
  if (data.length < recordEnd) return undefined;
  let p = 9 + 2 + 32; // after the handshake header: client version, random
  const skip = (lengthBytes: 1 | 2) => {
    if (p + lengthBytes > recordEnd) return false;
    p += lengthBytes + (lengthBytes === 1 ? (data[p] as number) : data.readUInt16BE(p));
    return p <= recordEnd;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return undefined; // session id, cipher suites, compression
  const hello: ClientHello = { servername: undefined, alpn: [] };
  if (p + 2 > recordEnd) return hello; // no extensions
  const extensionsEnd = Math.min(recordEnd, p + 2 + data.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extensionsEnd) {
    const type = data.readUInt16BE(p);
    const end = p + 4 + data.readUInt16BE(p + 2);
    if (end > extensionsEnd) return undefined;
    if (type === 0 && p + 9 <= end && data[p + 6] === 0) {
      // server_name: list length, then entries of (type 0 = host_name, length, name).
      const nameEnd = p + 9 + data.readUInt16BE(p + 7);
      if (nameEnd <= end) hello.servername = data.toString("ascii", p + 9, nameEnd).toLowerCase();
    } else if (type === 16) {
      // application_layer_protocol_negotiation: list length, then (length, name) pairs.
      for (let q = p + 6; q < end;) {
        const len = data[q] as number;
        if (q + 1 + len > end) return undefined;
        hello.alpn.push(data.toString("ascii", q + 1, q + 1 + len));
        q += 1 + len;
      }
    }
    p = end;
  }
  return hello;
}

/** How long a diverting listener waits for the ClientHello. */
const HELLO_WAIT_MS = 10_000;
const HELLO_MAX_BYTES = 16_384 + 5;

/**
 * While `active()`, reads each connection's ClientHello before `server` does, and hands the
 * connections whose hello is `wanted` to `other` instead (ACME TLS-ALPN-01 validation). SNI and
 * ALPN callbacks cannot do this: the certificate is chosen before ALPN in TLS 1.2, after in 1.3.
 */
export function divertHandshakes(
  server: TlsServer,
  other: TlsServer,
  active: () => boolean,
  wanted: (hello: ClientHello) => boolean,
): void {
  // The TLS server's own connection listener(s), called directly for every ordinary connection.
  const original = server.listeners("connection") as ((socket: Socket) => void)[];
  server.removeAllListeners("connection");
  const toServer = (socket: Socket) => {
    for (const listener of original) listener.call(server, socket);
  };
  server.on("connection", (socket: Socket) => {
    // Nothing to divert: no peeking, no cost.
    if (!active()) return toServer(socket);
    let seen: Buffer = Buffer.alloc(0);
    const onError = () => socket.destroy();
    const handOver = (divert: boolean) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.pause();
      // The TLS socket reads what is buffered before the wire, so the handshake sees every byte.
      if (seen.length > 0) socket.unshift(seen);
      if (divert) other.emit("connection", socket);
      else toServer(socket);
    };
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      if (seen[0] !== 22 || seen.length >= HELLO_MAX_BYTES) return handOver(false);
      if (seen.length < 5 || seen.length < 5 + seen.readUInt16BE(3)) return; // the rest of the record
      const hello = parseClientHello(seen);
      handOver(hello !== undefined && wanted(hello));
    };
    const timer = setTimeout(() => handOver(false), HELLO_WAIT_MS);
    socket.on("error", onError);
    socket.once("close", () => clearTimeout(timer));
    socket.on("data", onData);
  });
}
