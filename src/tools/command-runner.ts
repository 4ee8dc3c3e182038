import { spawn } from "node:child_process";
import { OutputCapture } from "./output-capture.js";
import { stopGroup } from "./process-group.js";

export interface CommandOptions {
  command: string;
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  maxOutputBytes: number;
  killGraceMs: number;
  signal?: AbortSignal;
}

export interface CommandOutcome {
  /** The shell's exit code; null when it was ended by a signal. */
  exitCode: number | null;
  /** The signal that ended the shell, if one did. */
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number;
}

/**
 * Runs `/bin/sh -c command` as the leader of a new process group, so that the command, its
 * children and theirs can be stopped together: on timeout, when the signal fires, and when the
 * shell exits with something still running in its group (a command leaves nothing behind).
 * A process that leaves the group (setsid) escapes this; only an OS sandbox would catch it.
 */
export function runCommand(options: CommandOptions): Promise<CommandOutcome> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", options.command], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stdout = new OutputCapture(options.maxOutputBytes);
    const stderr = new OutputCapture(options.maxOutputBytes);
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));

    let ending: "timeout" | "aborted" | undefined;
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      if (child.pid === undefined) return Promise.resolve();
      stopping ??= stopGroup(child.pid, options.killGraceMs);
      return stopping;
    };
    const timer = setTimeout(() => {
      ending ??= "timeout";
      void stop();
    }, options.timeoutMs);
    const onAbort = (): void => {
      ending ??= "aborted";
      void stop();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) onAbort();

    const cleanUp = (): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    };
    child.once("error", (error) => {
      cleanUp();
      reject(error);
    });
    child.once("exit", (code, signal) => {
      // The command is over: a timeout or cancel from here on would misreport how it ended.
      cleanUp();
      void (async () => {
        // Whatever the shell left running in its group goes with it.
        if (child.pid !== undefined) await stopGroup(child.pid, options.killGraceMs);
        await stopping;
        // The pipes close when their last writer dies; one that escaped the group must not hold the result.
        await streamsClosed(child.stdout, child.stderr, options.killGraceMs);
        resolve({
          exitCode: code,
          signal,
          timedOut: ending === "timeout",
          aborted: ending === "aborted",
          stdout: stdout.text(),
          stderr: stderr.text(),
          stdoutTruncated: stdout.truncated,
          stderrTruncated: stderr.truncated,
          durationMs: Date.now() - started,
        });
      })();
    });
  });
}

async function streamsClosed(
  a: NodeJS.ReadableStream & { destroy(): void; closed: boolean },
  b: NodeJS.ReadableStream & { destroy(): void; closed: boolean },
  waitMs: number,
): Promise<void> {
  const closed = (stream: typeof a) =>
    stream.closed ? Promise.resolve() : new Promise<void>((done) => stream.once("close", () => done()));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((done) => {
    timer = setTimeout(done, waitMs);
  });
  await Promise.race([Promise.all([closed(a), closed(b)]), late]);
  clearTimeout(timer);
  a.destroy();
  b.destroy();
}
