// The WAF benchmark: accuracy beside nginx + ModSecurity + OWASP CRS on the dev set, and speed. See
// bench/README.md. Usage: node bench/waf/run.ts [--accuracy | --speed] [--json] [--limit N]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accuracyChecks, measureAccuracy, printAccuracy } from "./accuracy.ts";
import { measureSpeed, printSpeed, speedChecks } from "./speed.ts";

const args = process.argv.slice(2);
const json = args.includes("--json");
const limitAt = args.indexOf("--limit");
const limit = limitAt >= 0 ? Number(args[limitAt + 1]) : undefined;
const only = args.includes("--accuracy") ? "accuracy" : args.includes("--speed") ? "speed" : undefined;
const progress = (msg: string) => process.stderr.write(`  · ${msg}\n`);

const dir = mkdtempSync(join(tmpdir(), "rampart-bench-waf-"));
try {
  const checks: [string, boolean][] = [];
  const out: Record<string, unknown> = {};
  if (only !== "speed") {
    const accuracy = await measureAccuracy({ dir, progress, ...(limit ? { limit } : {}) });
    out.accuracy = accuracy;
    if (!json) printAccuracy(accuracy);
    checks.push(...accuracyChecks(accuracy));
  }
  if (only !== "accuracy") {
    const speed = await measureSpeed({ dir, progress });
    out.speed = speed;
    if (!json) printSpeed(speed);
    checks.push(...speedChecks(speed));
  }
  if (json) console.log(JSON.stringify({ ...out, checks }, null, 2));
  else {
    console.log("\nTargets");
    for (const [text, ok] of checks) console.log(`  ${ok ? "✓" : "✗"} ${text}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
