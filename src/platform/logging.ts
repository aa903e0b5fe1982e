// Structured logs (pino). Fields that may carry secrets are redacted before they are written.
import pino, { type Logger } from "pino";

export type { Logger };

export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.RAMPART_LOG_LEVEL ?? "info",
      base: { service: "rampart" },
      redact: {
        paths: [
          "token",
          "*.token",
          "authorization",
          "*.authorization",
          "req.headers.authorization",
          "secret",
          "*.secret",
          "password",
          "*.password",
        ],
        censor: "[redacted]",
      },
    },
    opts.destination ?? pino.destination(2),
  );
}
