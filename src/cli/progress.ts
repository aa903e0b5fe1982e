// A one-line progress bar on stderr, only when stderr is a terminal.
export function progressBar(
  label: string,
): { update(done: number, total: number): void; done(): void } | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = 0;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const width = 30;
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const fill = Math.round(frac * width);
      process.stderr.write(`\r${label} [${"#".repeat(fill)}${"-".repeat(width - fill)}] ${done}/${total}`);
    },
    done() {
      process.stderr.write("\r\x1b[K");
    },
  };
}
