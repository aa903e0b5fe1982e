// The built web console for browser tests: built once with Vite on the pinned Node when missing or
// older than its sources. Test files run in parallel workers, so a lock directory makes the second
// one wait for the first build instead of writing console/dist while the first serves it.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";

const repo = fileURLToPath(new URL("../..", import.meta.url));
export const consoleDir = join(repo, "console");
export const consoleDist = join(consoleDir, "dist");
const lock = join(consoleDir, ".build-lock");
const STALE_LOCK_MS = 180_000;

/** Newest modification time under `dir` (skipping dist and node_modules). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "dist" || e.name === "node_modules" || e.name === ".build-lock") continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const fresh = () => {
  const index = join(consoleDist, "index.html");
  return existsSync(index) && statSync(index).mtimeMs >= newest(consoleDir);
};

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Makes sure console/dist holds a build of the current sources. */
export function ensureConsoleBuilt(): void {
  if (fresh()) return;
  const deadline = Date.now() + STALE_LOCK_MS;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another worker builds; a lock older than any build is left by a killed run.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS)
        rmSync(lock, { force: true, recursive: true });
      if (Date.now() > deadline) throw new Error("timed out waiting for another worker's console build");
      sleep(250);
    }
  }
  try {
    if (fresh()) return;
    execFileSync(
      process.execPath,
      [join(repo, "node_modules", "vite", "bin", "vite.js"), "build", "console"],
      {
        cwd: repo,
        // Vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
        env: { ...process.env, NODE_ENV: "production" },
        stdio: "pipe",
        timeout: 120_000,
      },
    );
  } finally {
    rmSync(lock, { force: true, recursive: true });
  }
}

/** Signs in on the console's own form with the admin token or an API key. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel("Admin token or API key").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** The page's uncaught errors and console errors as they happen; a test expects none. */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  return problems;
}

/** Evaluated in the page: true when nothing scrolls sideways (the phone-width checks). */
export const fitsWidth = "document.documentElement.scrollWidth <= window.innerWidth";
