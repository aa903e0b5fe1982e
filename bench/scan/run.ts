// Scan benchmarks: secrets scanning MB/s (target >= 50 MB/s on 2 cores) and Kubernetes checks
// manifests/s (target >= 2,000/s), each beside anchors measured in the same run.
// Usage: node bench/scan/run.ts [--json]
// env: BENCH_SECRETS_PATH (default: this repository's node_modules), BENCH_WORKERS (default 2),
//      BENCH_DEPLOYMENTS (default 1000)
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { benchK8s } from "./k8s.ts";
import { benchSecrets } from "./secrets.ts";

const json = process.argv.includes("--json");
const root = process.env.BENCH_SECRETS_PATH ?? fileURLToPath(new URL("../../node_modules", import.meta.url));
const TARGET_MBPS = 50;
const TARGET_MANIFESTS = 2000;

const secrets = await benchSecrets(root, Number(process.env.BENCH_WORKERS ?? 2));
const k8s = benchK8s(Number(process.env.BENCH_DEPLOYMENTS ?? 1000));

if (json) {
  process.stdout.write(`${JSON.stringify({ secrets, k8s }, null, 2)}\n`);
} else {
  const pass = (ok: boolean) => (ok ? "PASS" : "MISS");
  const f = (n: number) => n.toFixed(0).padStart(8);
  const ratio = (anchor: number, figure: number) => `${(anchor / figure).toFixed(2)}×`.padStart(8);
  console.log(
    `scan benchmarks: ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), load ${loadavg()[0]!.toFixed(2)}`,
  );
  console.log(
    `secrets corpus: ${secrets.corpus}: ${secrets.files} files, ${secrets.mb.toFixed(0)} MB, ${secrets.findings} findings`,
  );
  console.log("");
  console.log("line                                   figure    anchor    ratio   target");
  console.log(
    `secrets MB/s, ${secrets.workers} workers vs plain read     ${f(secrets.scanMbps)}  ${f(secrets.readMbps)}  ${ratio(secrets.readMbps, secrets.scanMbps)}   >= ${TARGET_MBPS} ${pass(secrets.scanMbps >= TARGET_MBPS)}`,
  );
  if (secrets.grepMbps !== undefined)
    console.log(
      `secrets MB/s, ${secrets.workers} workers vs grep -rEIc     ${f(secrets.scanMbps)}  ${f(secrets.grepMbps)}  ${ratio(secrets.grepMbps, secrets.scanMbps)}`,
    );
  console.log(
    `secrets MB/s, main thread vs plain read ${f(secrets.singleMbps)}  ${f(secrets.readMbps)}  ${ratio(secrets.readMbps, secrets.singleMbps)}`,
  );
  console.log(
    `k8s manifests/s, parse+checks vs parse  ${f(k8s.scanPerS)}  ${f(k8s.parsePerS)}  ${ratio(k8s.parsePerS, k8s.scanPerS)}   >= ${TARGET_MANIFESTS} ${pass(k8s.scanPerS >= TARGET_MANIFESTS)}`,
  );
  console.log(`k8s manifests/s, checks only            ${f(k8s.checksPerS)}`);
  console.log("");
  console.log(
    `summary: secrets ${secrets.scanMbps.toFixed(0)} MB/s (${pass(secrets.scanMbps >= TARGET_MBPS)}), k8s ${k8s.scanPerS.toFixed(0)} manifests/s (${pass(k8s.scanPerS >= TARGET_MANIFESTS)})`,
  );
}
