import { type Logger, pino } from "pino";

/**
 * The logger a runtime uses when given none: JSON lines on stderr, so that crash reports never
 * mix with a program's own output. SESSIONVISOR_LOG_LEVEL sets the level (default `info`).
 */
export function defaultLogger(): Logger {
  return pino(
    { name: "sessionvisor", level: process.env.SESSIONVISOR_LOG_LEVEL ?? "info" },
    pino.destination({ dest: 2, sync: true }),
  );
}

/** A logger that writes nothing (for tests and benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
