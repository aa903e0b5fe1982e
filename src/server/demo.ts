// The built-in sample app `rampart up` starts when there is no config: something to put behind
// the gateway so a new user sees requests pass and attacks get stopped.
import { createServer, type Server } from "node:http";

export interface SampleApp {
  readonly url: string;
  close(): Promise<void>;
}

export async function startSampleApp(port: number, host = "127.0.0.1"): Promise<SampleApp> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://sample");
    if (url.pathname === "/api/orders") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          orders: [
            { id: 1001, item: "coffee", qty: 2 },
            { id: 1002, item: "tea", qty: 1 },
          ],
        }),
      );
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(
      "<!doctype html><title>Sample app</title><h1>Sample app</h1><p>This app sits behind Rampart.</p>\n",
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const addr = server.address();
  const actual = typeof addr === "object" && addr ? addr.port : port;
  return {
    url: `http://${host}:${actual}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
