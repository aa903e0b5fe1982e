// The processes the WAF benchmark measures, all on loopback: an upstream that marks every response
// it gives (a request that reached it passed the firewall), nginx + ModSecurity v3 + OWASP CRS from
// Debian's packages at a chosen paranoia level, and `rampart gateway` with one WAF route.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const UPSTREAM_MARK = "x-bench-upstream";

const MODSEC_MODULE = "/usr/lib/nginx/modules/ngx_http_modsecurity_module.so";
const MODSEC_RECOMMENDED = "/etc/nginx/modsecurity.conf";
const CRS_SETUP = "/etc/modsecurity/crs/crs-setup.conf";
const CRS_RULES = "/usr/share/modsecurity-crs/rules";

/** Installs nginx, its ModSecurity module and the CRS from Debian's packages when missing. */
export function ensureModSecurity(progress: (msg: string) => void): void {
  if ([MODSEC_MODULE, MODSEC_RECOMMENDED, CRS_SETUP, CRS_RULES].every((f) => existsSync(f))) return;
  const pkgs = ["nginx-light", "libnginx-mod-http-modsecurity", "modsecurity-crs"];
  if (process.getuid?.() !== 0)
    throw new Error(`nginx + ModSecurity + CRS are not installed: run apt-get install ${pkgs.join(" ")}`);
  progress(`installing ${pkgs.join(", ")} (apt-get)`);
  execFileSync("apt-get", ["install", "-y", "-qq", ...pkgs], {
    stdio: "ignore",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

/** An upstream that answers 200 with a mark to anything, even what its own parser refuses. */
export async function startUpstream(port: number): Promise<Server> {
  const server = createServer({ insecureHTTPParser: true }, (req, res) => {
    req.resume();
    res.writeHead(200, { [UPSTREAM_MARK]: "1", "content-type": "text/plain", "content-length": "3" });
    res.end("ok\n");
  });
  server.on("clientError", (_err, socket) => {
    if (socket.writable)
      socket.end(`HTTP/1.1 200 OK\r\n${UPSTREAM_MARK}: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return server;
}

/**
 * nginx proxying to the upstream through ModSecurity with the CRS, configured as Debian ships them
 * (the recommended modsecurity.conf and crs-setup.conf) with the engine switched from DetectionOnly
 * to On, the chosen paranoia level, and the audit and response-body logging off (not a request check).
 */
export function startModSecurity(o: {
  dir: string;
  name: string;
  port: number;
  upstreamPort: number;
  paranoia: number;
  workers: number;
}): ChildProcess {
  const rules = join(o.dir, `${o.name}-modsec.conf`);
  writeFileSync(
    rules,
    [
      `Include ${MODSEC_RECOMMENDED}`,
      "SecRuleEngine On",
      "SecAuditEngine Off",
      "SecResponseBodyAccess Off",
      `SecTmpDir ${o.dir}`,
      `SecDataDir ${o.dir}`,
      `Include ${CRS_SETUP}`,
      `SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level=${o.paranoia}"`,
      `Include ${CRS_RULES}/*.conf`,
      "",
    ].join("\n"),
  );
  const conf = join(o.dir, `${o.name}.conf`);
  writeFileSync(
    conf,
    `load_module ${MODSEC_MODULE};
worker_processes ${o.workers};
pid ${o.dir}/${o.name}.pid;
error_log ${o.dir}/${o.name}.log error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${o.dir}; proxy_temp_path ${o.dir};
  client_max_body_size 16m;
  upstream app { server 127.0.0.1:${o.upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${o.port};
    modsecurity on;
    modsecurity_rules_file ${rules};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
  );
  // nginx reads unicode.mapping relative to its configuration prefix.
  return spawn("nginx", ["-p", "/etc/nginx", "-c", conf, "-g", "daemon off;"], { stdio: "ignore" });
}

/** `rampart gateway` with one route to the upstream; `paranoia` 0 turns the WAF off. */
export function startRampart(o: {
  dir: string;
  port: number;
  upstreamPort: number;
  paranoia: number;
  workers: number;
}): ChildProcess {
  const file = join(o.dir, `rampart-${o.port}.yaml`);
  writeFileSync(
    file,
    [
      "version: 1",
      "gateway:",
      `  port: ${o.port}`,
      "routes:",
      "  - path: /",
      `    upstream: http://127.0.0.1:${o.upstreamPort}`,
      o.paranoia === 0 ? "    waf: { mode: off }" : `    waf: { mode: block, paranoia: ${o.paranoia} }`,
      "",
    ].join("\n"),
  );
  const bin = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
  return spawn(process.execPath, [bin, "gateway", "-c", file, "--workers", String(o.workers)], {
    stdio: "ignore",
    env: { ...process.env, LOG_LEVEL: "error" },
  });
}
