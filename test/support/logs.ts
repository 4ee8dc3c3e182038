import { Writable } from "node:stream";
import { type Logger, pino } from "pino";

export interface CapturedLogs {
  logger: Logger;
  records: Record<string, unknown>[];
  /** Records whose `event` field equals `event`. */
  events(event: string): Record<string, unknown>[];
}

/** A pino logger that keeps every record in memory, for asserting on crash reports. */
export function captureLogs(level: pino.LevelWithSilent = "debug"): CapturedLogs {
  const records: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) {
        if (line.trim()) records.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const logger = pino({ level }, sink);
  return { logger, records, events: (event) => records.filter((r) => r.event === event) };
}
