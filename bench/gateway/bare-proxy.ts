// The benchmark's Node anchor: the least a node:http server with an undici pool can do as a proxy
// (no checks, no header rewriting, no error pages), so the gateway's figures can be read against
// what Node itself costs on the same machine. Usage: node bare-proxy.ts PORT UPSTREAM_URL
import { createServer } from "node:http";
import { Pool } from "undici";

const [port, upstream] = process.argv.slice(2);
const pool = new Pool(upstream as string);
createServer((req, res) => {
  pool.dispatch(
    { method: req.method as string, path: req.url as string, headers: req.headers, body: req },
    {
      onRequestStart() {},
      onResponseStart(_c, status, headers) {
        res.writeHead(status, headers as Record<string, string>);
      },
      onResponseData(_c, chunk) {
        res.write(chunk);
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError() {
        res.destroy();
      },
    },
  );
}).listen(Number(port), "127.0.0.1");
