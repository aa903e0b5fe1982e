// HTML to PDF with headless Chromium: the report's HTML is already print-ready, so Chromium's own
// print-to-PDF is all that is needed (no page scripting, no network: the page's CSP forbids it).
import { execFile } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import { RampartError } from "../../../platform/errors.ts";

const CANDIDATES = ["chromium", "chromium-browser", "google-chrome"];
const TIMEOUT_MS = 60_000;

export const NO_CHROMIUM =
  "PDF reports need Chromium: install it (Debian: apt-get install chromium) or set compliance.reports.chromium";

const executable = (p: string): boolean => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The Chromium binary to use: the option, RAMPART_CHROMIUM, else the first of chromium, chromium-browser, google-chrome on PATH. */
export function findChromium(explicit?: string): string {
  const chosen = explicit ?? process.env.RAMPART_CHROMIUM;
  if (chosen) {
    const found = isAbsolute(chosen) ? (executable(chosen) ? chosen : undefined) : findOnPath(chosen);
    if (found) return found;
    throw new RampartError(
      "chromium_missing",
      500,
      `${NO_CHROMIUM} (configured Chromium was not found or is not executable)`,
    );
  }
  for (const name of CANDIDATES) {
    const found = findOnPath(name);
    if (found) return found;
  }
  throw new RampartError("chromium_missing", 500, NO_CHROMIUM);
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (executable(p)) return p;
  }
  return undefined;
}

/** Runs headless Chromium with `args` in a fresh profile under `work`; rejects with Chromium's last words on failure. */
export function runChromium(binary: string, work: string, args: string[]): Promise<void> {
  const argv = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    `--user-data-dir=${join(work, "profile")}`,
    ...args,
  ];
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      argv,
      { timeout: TIMEOUT_MS, killSignal: "SIGKILL", maxBuffer: 4 << 20 },
      (err, _out, stderr) => {
        if (!err) return resolve();
        const timedOut = (err as { killed?: boolean }).killed;
        const tail = String(stderr).trim().split("\n").slice(-3).join(" | ").slice(0, 500);
        reject(
          new RampartError(
            "chromium_failed",
            500,
            timedOut
              ? `Chromium did not finish within ${TIMEOUT_MS / 1000} s`
              : `Chromium failed (${err.message.split("\n")[0]})${tail ? `: ${tail}` : ""}`,
          ),
        );
      },
    );
  });
}

/** Prints `html` to PDF with headless Chromium and returns the PDF bytes; temp files are removed. */
export async function renderPdf(html: string, o: { chromium?: string } = {}): Promise<Buffer> {
  const binary = findChromium(o.chromium);
  const work = mkdtempSync(join(tmpdir(), "rampart-pdf-"));
  try {
    const input = join(work, "report.html");
    const output = join(work, "report.pdf");
    writeFileSync(input, html);
    await runChromium(binary, work, [
      "--no-pdf-header-footer",
      `--print-to-pdf=${output}`,
      pathToFileURL(input).href,
    ]);
    let pdf: Buffer;
    try {
      pdf = readFileSync(output);
    } catch {
      throw new RampartError("chromium_failed", 500, "Chromium exited without writing the PDF");
    }
    if (pdf.subarray(0, 5).toString("latin1") !== "%PDF-")
      throw new RampartError("chromium_failed", 500, "Chromium wrote a file that is not a PDF");
    return pdf;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
