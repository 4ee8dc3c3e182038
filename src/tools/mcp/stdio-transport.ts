import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { groupAlive, signalGroup } from "../process-group.js";

/** How a server's process ended. */
export interface ProcessExit {
  exitCode: number | null;
  signal: string | null;
}

export interface StdioParameters {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string | undefined;
  /** After stdin is closed, how long the server has to exit before SIGTERM, then SIGKILL. */
  graceMs: number;
}

const STDERR_TAIL = 4096;

/**
 * The SDK's StdioClientTransport, but the server runs in its own process group and is stopped
 * as a group: servers are usually started through a launcher (`npx`, `uvx`, a shell script)
 * whose own child would outlive a kill of the launcher alone. It also keeps the end of the
 * server's stderr and how its process ended, for the errors that name the server.
 * Framing is the SDK's own (ReadBuffer / serializeMessage), loaded with the SDK.
 */
export class ProcessGroupStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  readonly #params: StdioParameters;
  readonly #framing: typeof import("@modelcontextprotocol/sdk/shared/stdio.js");
  #child: ChildProcess | undefined;
  #stderr = "";
  #exit: ProcessExit | undefined;
  #exited: Promise<void> | undefined;
  #closed = false;

  constructor(params: StdioParameters, framing: typeof import("@modelcontextprotocol/sdk/shared/stdio.js")) {
    this.#params = params;
    this.#framing = framing;
  }

  /** The server's pid (and process group id) once started. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The last few KiB the server wrote to stderr. */
  get stderrTail(): string {
    return this.#stderr;
  }

  /** How the process ended, once it has. */
  get exit(): ProcessExit | undefined {
    return this.#exit;
  }

  start(): Promise<void> {
    const { command, args, env, cwd } = this.#params;
    const buffer = new this.#framing.ReadBuffer();
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, {
        env,
        cwd,
        stdio: ["pipe", "pipe", "pipe"],
        detached: true,
        windowsHide: true,
      });
      this.#child = child;
      this.#exited = new Promise((done) => {
        child.once("close", (exitCode, signal) => {
          this.#exit = { exitCode, signal };
          done();
          this.#closed = true;
          this.onclose?.();
        });
      });
      child.once("error", (error) => {
        reject(error);
        this.onerror?.(error);
      });
      child.once("spawn", () => resolve());
      child.stdin?.on("error", (error) => this.onerror?.(error));
      child.stdout?.on("data", (chunk: Buffer) => {
        buffer.append(chunk);
        for (;;) {
          let message: JSONRPCMessage | null;
          try {
            message = buffer.readMessage();
          } catch (error) {
            // A line that is not JSON-RPC (a server printing to stdout): reported, skipped.
            this.onerror?.(error as Error);
            continue;
          }
          if (message === null) break;
          this.onmessage?.(message);
        }
      });
      child.stderr?.setEncoding("utf8");
      child.stderr?.on("data", (text: string) => {
        this.#stderr = (this.#stderr + text).slice(-STDERR_TAIL);
      });
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#child?.stdin;
    if (stdin == null || this.#closed || stdin.destroyed) return Promise.reject(new Error("Not connected"));
    return new Promise((resolve) => {
      if (stdin.write(this.#framing.serializeMessage(message))) resolve();
      else stdin.once("drain", resolve);
    });
  }

  /**
   * Stops the server: stdin closed (the MCP way to ask a stdio server to exit), then SIGTERM and
   * at last SIGKILL to its whole group; resolves once no process of the group is alive.
   */
  async close(): Promise<void> {
    const child = this.#child;
    if (child?.pid === undefined) return;
    const pgid = child.pid;
    const grace = this.#params.graceMs;
    child.stdin?.end();
    if (!(await this.#exitedWithin(grace / 2)) || groupAlive(pgid)) {
      signalGroup(pgid, "SIGTERM");
      const deadline = Date.now() + grace / 2;
      while (groupAlive(pgid) && Date.now() < deadline) await sleep(20);
      signalGroup(pgid, "SIGKILL");
    }
    await this.#exited;
  }

  /** Kills the whole group at once, without waiting (the backstop when the owner was killed). */
  kill(): void {
    const pid = this.#child?.pid;
    // The group id is ours while its leader is unreaped or any member lives; after that the
    // number may belong to someone else, so it is not signalled.
    if (pid !== undefined && (this.#exit === undefined || groupAlive(pid))) signalGroup(pid, "SIGKILL");
  }

  async #exitedWithin(ms: number): Promise<boolean> {
    if (this.#exit !== undefined) return true;
    const timer = sleep(ms).then(() => false);
    return Promise.race([this.#exited!.then(() => true), timer]);
  }
}
