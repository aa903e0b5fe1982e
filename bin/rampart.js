#!/usr/bin/env node
// Rampart runs on Node.js 24, pinned as the `node` devDependency. When this launcher is
// started by an older system Node, it re-executes itself on the pinned runtime.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const major = Number(process.versions.node.split(".")[0]);
const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));

if (major >= 24) {
  await import(main);
} else {
  const require = createRequire(import.meta.url);
  let pinned;
  try {
    pinned = require.resolve("node/bin/node");
  } catch {
    console.error(
      `rampart needs Node.js >= 24 (found ${process.versions.node}); run 'npm ci' to install the pinned runtime.`,
    );
    process.exit(1);
  }
  const child = spawnSync(pinned, [main, ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(child.status ?? 1);
}
