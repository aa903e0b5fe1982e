// Test certificates made with openssl: EC P-256, self-signed or signed by an earlier one, written
// into a directory the test owns.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

export interface CertificateOptions {
  /** The subject's common name. */
  cn: string;
  /** subjectAltName entries, e.g. `DNS:example.com`, `IP:127.0.0.1`, `URI:spiffe://prod/billing`. */
  san?: string[];
  /** The issuing certificate; self-signed when absent. */
  ca?: CertificateFiles;
  /** An end-entity certificate (basicConstraints CA:FALSE). */
  leaf?: boolean;
  /** Validity in days (default 2). */
  days?: number;
}

/** Writes `<name>.crt` and `<name>.key` into `dir`. */
export function issueCertificate(dir: string, name: string, o: CertificateOptions): CertificateFiles {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  args.push("-days", String(o.days ?? 2), "-subj", `/CN=${o.cn}`);
  if (o.ca) args.push("-CA", o.ca.certFile, "-CAkey", o.ca.keyFile);
  if (o.san?.length) args.push("-addext", `subjectAltName=${o.san.join(",")}`);
  if (o.leaf) args.push("-addext", "basicConstraints=critical,CA:FALSE");
  execFileSync("openssl", [...args, "-keyout", keyFile, "-out", certFile], { stdio: "ignore" });
  return { certFile, keyFile };
}
