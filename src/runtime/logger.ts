import { createRequire } from "node:module";
import type { Logger as PinoLogger } from "pino";

type Pino = typeof import("pino")["pino"];
let pinoFunction: Pino | undefined;

/**
 * pino, loaded at the first logger made with it: a worker-thread or child-process host whose
 * parent is silent never loads it (it is over a third of the code a host would load otherwise).
 * pino is CommonJS, so `require` loads it synchronously: built, from `pino.cjs`, the bundle of it
 * beside this code (scripts/bundle.mjs); from the sources, the package itself.
 */
function pino(): Pino {
  if (pinoFunction === undefined) {
    const require = createRequire(import.meta.url);
    let loaded: typeof import("pino");
    try {
      loaded = require("./pino.cjs");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw error;
      loaded = require("pino");
    }
    pinoFunction = loaded.pino;
  }
  return pinoFunction;
}

/** One structured record: the fields first, then a human message (pino's argument order). */
export type LogMethod = (fields: object, message?: string) => void;

/**
 * What the library logs through: structured records with a message. A pino logger fits as it is;
 * anything else needs only these four methods. `level` and `isLevelEnabled` are optional: when a
 * logger has them, records below its level are not even built, and worker-thread and
 * child-process hosts log at the same level.
 */
export interface Logger {
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  debug: LogMethod;
  /** The lowest level written (`"silent"`, `"error"`, `"warn"`, `"info"`, `"debug"`, …). */
  level?: string;
  isLevelEnabled?(level: string): boolean;
}

/** Whether `logger` writes records of `level`; a logger that cannot say is asked to write everything. */
export function logsAt(logger: Logger, level: "error" | "warn" | "info" | "debug"): boolean {
  return logger.isLevelEnabled ? logger.isLevelEnabled(level) : true;
}

/**
 * A logger that writes pino's JSON lines to stderr, for a program that wants the runtime's crash
 * and supervisor reports there. `level` defaults to SESSIONVISOR_LOG_LEVEL, else `info`. The
 * library never uses it unless asked: a Runtime or SessionSystem given no logger is silent.
 */
export function stderrLogger(level: string = process.env.SESSIONVISOR_LOG_LEVEL ?? "info"): PinoLogger {
  const lib = pino();
  // A level pino does not know (another logger's, passed on to a host) would make pino throw.
  const known = level === "silent" || Object.hasOwn(lib.levels.values, level);
  return lib(
    { name: "sessionvisor", level: known ? level : "info" },
    lib.destination({ dest: 2, sync: true }),
  );
}

/** @deprecated The runtime's default is now silent; this is {@link stderrLogger}. */
export function defaultLogger(): PinoLogger {
  return stderrLogger();
}

/** A logger that writes nothing: what a Runtime uses when given none. */
export function silentLogger(): PinoLogger {
  return pino()({ level: "silent" });
}
