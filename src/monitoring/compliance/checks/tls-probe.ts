// A live look at what a TLS listener agrees to: one handshake offering only TLS 1.0/1.1 (it must be
// refused) and one offering TLS 1.2 and 1.3 (it must succeed). The probe checks protocols, not
// identity, so it does not verify the certificate; it sends no application data.
import { connect } from "node:tls";
import type { TlsProbe } from "../model.ts";

const TIMEOUT_MS = 3000;

type Handshake = { protocol: string } | { error: string };

function handshake(
  host: string,
  port: number,
  o: {
    minVersion: "TLSv1" | "TLSv1.2";
    maxVersion: "TLSv1.1" | "TLSv1.3";
    legacy: boolean;
    servername?: string;
  },
): Promise<Handshake> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: Handshake) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const socket = connect({
      host,
      port,
      minVersion: o.minVersion,
      maxVersion: o.maxVersion,
      // OpenSSL refuses TLS 1.0/1.1 at its default security level; lower it so that the server,
      // not our client, decides whether the old protocols are accepted.
      ...(o.legacy ? { ciphers: "DEFAULT@SECLEVEL=0" } : {}),
      rejectUnauthorized: false,
      // SNI takes host names only; an IP address is not sent.
      ...(o.servername && !/^[\d.]+$|:/.test(o.servername) ? { servername: o.servername } : {}),
    });
    const timer = setTimeout(() => done({ error: `no handshake within ${TIMEOUT_MS} ms` }), TIMEOUT_MS);
    socket.once("secureConnect", () => done({ protocol: socket.getProtocol() ?? "unknown" }));
    socket.once("error", (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message }));
    socket.once("close", () => done({ error: "connection closed during the handshake" }));
  });
}

/**
 * Probes `host:port`. `servername` is sent as SNI (the first configured certificate's host), so a
 * listener that picks certificates by name answers as it would for real clients.
 */
export async function probeTls(host: string, port: number, servername?: string): Promise<TlsProbe> {
  const base = servername === undefined ? {} : { servername };
  const legacy = await handshake(host, port, {
    ...base,
    minVersion: "TLSv1",
    maxVersion: "TLSv1.1",
    legacy: true,
  });
  const modern = await handshake(host, port, {
    ...base,
    minVersion: "TLSv1.2",
    maxVersion: "TLSv1.3",
    legacy: false,
  });
  return {
    legacyRefused: "error" in legacy,
    modern: "error" in modern ? { error: modern.error } : modern.protocol,
  };
}
