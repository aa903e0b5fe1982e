// TLS termination: PEM certificates per host name (SNI), reloaded when their files change. A reload
// that fails (bad PEM, a key that does not match) keeps the certificate in service and says why.
import { createSecureContext, type SecureContext } from "node:tls";
import { readFileSync, type Stats, unwatchFile, watchFile } from "node:fs";
import { X509Certificate } from "node:crypto";
import type { z } from "zod";
import type { certificateSchema } from "../../config/schema.ts";
import type { Clock } from "../../platform/clock.ts";
import type { Logger } from "../../platform/logging.ts";

type CertificateConfig = z.output<typeof certificateSchema>;

export interface CertificateStatus {
  hosts: string[];
  notAfter: string;
  daysLeft: number;
}

export interface CertificateStore {
  /** For `SNICallback`: the context for `servername`, or the first certificate's. */
  contextFor(servername: string | undefined): SecureContext;
  /** The first certificate as server options, for clients that send no server name. */
  defaultOptions(): { cert: Buffer; key: Buffer };
  /** Called with new default options whenever the first certificate is reloaded. */
  onDefaultChange(listener: (options: { cert: Buffer; key: Buffer }) => void): void;
  status(): CertificateStatus[];
  close(): void;
}

const DAY_MS = 86_400_000;
/** Certificates this close to expiry are reported (warning now; an event and a metric to come). */
export const EXPIRY_WARNING_DAYS = 30;

interface Loaded {
  config: CertificateConfig;
  pem: { cert: Buffer; key: Buffer };
  context: SecureContext;
  notAfter: Date;
}

function load(c: CertificateConfig, minVersion: "TLSv1.2" | "TLSv1.3"): Loaded {
  const cert = readFileSync(c.certFile);
  const key = readFileSync(c.keyFile);
  const x509 = new X509Certificate(cert);
  // createSecureContext checks that the key matches the certificate.
  const context = createSecureContext({ cert, key, minVersion });
  return { config: c, pem: { cert, key }, context, notAfter: new Date(x509.validTo) };
}

function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  if (!p.startsWith("*.")) return p === host;
  const dot = host.indexOf(".");
  return dot > 0 && host.slice(dot + 1) === p.slice(2);
}

export function loadCertificates(
  list: readonly CertificateConfig[],
  o: { minVersion: "TLSv1.2" | "TLSv1.3"; clock: Clock; logger?: Logger | undefined },
): CertificateStore {
  // Throws on a bad file at start: a gateway must not come up without its certificates.
  const loaded = list.map((c) => load(c, o.minVersion));
  const check = (l: Loaded) => {
    const daysLeft = Math.floor((l.notAfter.getTime() - o.clock.now().getTime()) / DAY_MS);
    if (daysLeft < EXPIRY_WARNING_DAYS)
      o.logger?.warn(
        { hosts: l.config.hosts, notAfter: l.notAfter.toISOString(), daysLeft },
        "certificate expires soon",
      );
  };
  loaded.forEach(check);
  let defaultListener: ((options: { cert: Buffer; key: Buffer }) => void) | undefined;
  const files = list.flatMap((c, i) => [c.certFile, c.keyFile].map((f) => ({ f, i })));
  const watchers = files.map(({ f, i }) => {
    const onChange = (cur: Stats, prev: Stats) => {
      if (cur.mtimeMs === prev.mtimeMs) return;
      try {
        const fresh = load(list[i] as CertificateConfig, o.minVersion);
        loaded[i] = fresh;
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
  return {
    contextFor(servername) {
      const host = servername?.toLowerCase();
      const match = host ? loaded.find((l) => l.config.hosts.some((p) => hostMatches(p, host))) : undefined;
      return (match ?? (loaded[0] as Loaded)).context;
    },
    defaultOptions: () => (loaded[0] as Loaded).pem,
    onDefaultChange(listener) {
      defaultListener = listener;
    },
    status: () =>
      loaded.map((l) => ({
        hosts: l.config.hosts,
        notAfter: l.notAfter.toISOString(),
        daysLeft: Math.floor((l.notAfter.getTime() - o.clock.now().getTime()) / DAY_MS),
      })),
    close() {
      for (const { f, onChange } of watchers) unwatchFile(f, onChange);
    },
  };
}
