import { z } from "zod";
import { type CommandOutcome, runCommand } from "./command-runner.js";
import { scrubEnvironment } from "./environment.js";
import { ToolAbortedError, ToolError } from "./errors.js";
import { defineTool } from "./tool.js";

export type RunCommandResult = Omit<CommandOutcome, "aborted">;

export const runCommandTool = defineTool({
  name: "run_command",
  description:
    "Run a shell command (/bin/sh -c) in the project directory or a directory of it, with no input, a time " +
    "limit and an output cap (the start and the end of long output are kept). The environment holds no " +
    "secrets. When the command ends, times out or is cancelled, everything it started is stopped. Returns " +
    "the exit code (or the signal that ended it), stdout and stderr.",
  kind: "command",
  input: z.strictObject({
    command: z.string().min(1).describe("The shell command line"),
    cwd: z.string().min(1).default(".").describe("Directory to run in, relative to the project root"),
    timeoutMs: z.number().int().min(1).optional().describe("Time limit in ms (capped by the session's)"),
  }),
  async execute({ command, cwd, timeoutMs }, context): Promise<RunCommandResult> {
    const { project, limits, signal } = context;
    const dir = await project.directory(cwd);
    let outcome: CommandOutcome;
    try {
      outcome = await runCommand({
        command,
        cwd: dir.absolute,
        env: scrubEnvironment(context.env),
        timeoutMs: Math.min(timeoutMs ?? limits.commandTimeoutMs, limits.commandTimeoutMs),
        maxOutputBytes: limits.maxCommandOutputBytes,
        killGraceMs: limits.killGraceMs,
        signal,
      });
    } catch (error) {
      throw new ToolError("command_failed_to_start", `the command could not be started: ${String(error)}`, {
        cause: error,
      });
    }
    if (outcome.aborted) throw new ToolAbortedError("run_command", signal.reason);
    const { aborted: _aborted, ...result } = outcome;
    return result;
  },
});
