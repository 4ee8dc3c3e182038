// A ChatApp driven from a test: typed into and read through streams, as a terminal would be.
import { PassThrough } from "node:stream";
import { ChatApp, type ChatOptions } from "../../src/cli/chat.js";

/** A terminal's escape sequences: what is left without them is what a person reads. */
export const ESCAPE_SEQUENCE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, "g");

/** A ChatApp in this process, read and typed into through streams as a terminal would be. */
export class StreamChat {
  readonly input = new PassThrough();
  readonly output = new PassThrough();
  readonly running: Promise<void>;
  private screen = "";

  constructor(options: Partial<ChatOptions> = {}) {
    this.output.on("data", (chunk: Buffer) => {
      this.screen += chunk.toString("utf8").replace(ESCAPE_SEQUENCE, "").replace(/\r/g, "");
    });
    const app = new ChatApp({
      input: this.input,
      output: this.output,
      terminal: true,
      colors: false,
      streamDelayMs: 0,
      ...options,
    });
    this.running = app.run();
  }

  /** Where the screen ends now, for waiting on what comes after it. */
  mark(): number {
    return this.screen.length;
  }

  type(line: string): void {
    this.input.write(`${line}\r`);
  }

  since(from: number): string {
    return this.screen.slice(from);
  }

  interrupt(): void {
    this.input.write("\x03");
  }

  async waitFor(pattern: RegExp, from = 0, ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (!pattern.test(this.screen.slice(from))) {
      if (Date.now() > deadline)
        throw new Error(
          `screen never showed ${pattern}; after ${from} it shows:\n${this.screen.slice(from)}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.screen.slice(from);
  }

  /** Quits (whatever state the chat is in) and waits for run() to end. */
  async close(): Promise<void> {
    this.type("/quit");
    this.input.end();
    await this.running;
  }
}
