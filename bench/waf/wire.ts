// Sends an evaluation-set request byte for byte as recorded (method, target, HTTP version, headers,
// body), as a regression harness does, and reports whether it reached the upstream.
import { connect } from "node:net";
import type { Sample } from "./dev-set.ts";
import { UPSTREAM_MARK } from "./servers.ts";

/** passed: the upstream answered; refused: a status from the proxy itself (403 WAF, 400 parser...). */
export type Outcome = { passed: true } | { passed: false; status: number | "reset" | "timeout" };

export function wireBytes(r: Sample): Buffer {
  const version = (r.meta as { http_version?: string } | undefined)?.http_version ?? "HTTP/1.1";
  const body = r.body === null ? undefined : Buffer.from(r.body, "utf8");
  const names = Object.keys(r.headers).map((k) => k.toLowerCase());
  const lines = [`${r.method} ${r.uri} ${version}`];
  for (const [k, v] of Object.entries(r.headers)) lines.push(`${k}: ${v}`);
  if (body && !names.includes("content-length") && !names.includes("transfer-encoding"))
    lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "utf8");
  return body ? Buffer.concat([head, body]) : head;
}

export function send(port: number, bytes: Buffer, timeoutMs = 3000): Promise<Outcome> {
  return new Promise((resolve) => {
    let got = "";
    let done = false;
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const socket = connect(port, "127.0.0.1", () => socket.write(bytes));
    const timer = setTimeout(() => finish({ passed: false, status: "timeout" }), timeoutMs);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      got += chunk;
      const end = got.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = got.slice(0, end).toLowerCase();
      const status = Number(/^http\/\d(?:\.\d)? (\d{3})/.exec(head)?.[1] ?? 0);
      if (status === 100) {
        got = got.slice(end + 4); // interim response; the final one follows
        return;
      }
      finish(head.includes(`\r\n${UPSTREAM_MARK}:`) ? { passed: true } : { passed: false, status });
    });
    socket.on("error", () => finish({ passed: false, status: "reset" }));
    socket.on("close", () => finish({ passed: false, status: "reset" }));
  });
}

/** Sends every request with `concurrency` in flight; `onDone` counts progress. */
export async function sendAll(
  port: number,
  requests: readonly Buffer[],
  concurrency: number,
  onDone: () => void,
): Promise<Outcome[]> {
  const out: Outcome[] = new Array(requests.length);
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const i = next++;
      out[i] = await send(port, requests[i] as Buffer);
      onDone();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}
