import { Worker } from "node:worker_threads";

// Runs in a worker thread, so that a pattern that backtracks for ever can be stopped: a regular
// expression running on the main thread cannot be interrupted, a worker can be terminated.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const pattern = new RegExp(workerData.source, workerData.flags);
const max = workerData.maxLineLength;
parentPort.on("message", ({ id, text }) => {
  const lines = text.split("\\n");
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (pattern.test(line.length > max ? line.slice(0, max) : line)) found.push(i);
  }
  parentPort.postMessage({ id, found });
});
`;

/** The line numbers (0-based) of a text that match, or "timeout" when the deadline came first. */
export type LineMatches = number[] | "timeout";

/** Finds matching lines with a regular expression, in a worker that a deadline can kill. */
export class RegexLineMatcher {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(found: number[]): void; reject(error: unknown): void }>();
  #nextId = 0;
  #failure: unknown;
  #closing = false;

  /** Throws the SyntaxError of an invalid pattern here, before any worker starts. */
  constructor(source: string, flags: string, maxLineLength: number) {
    new RegExp(source, flags);
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { source, flags, maxLineLength },
      // The worker needs no loader or preload of the parent's.
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    this.#worker.on("message", ({ id, found }: { id: number; found: number[] }) => {
      this.#pending.get(id)?.resolve(found);
      this.#pending.delete(id);
    });
    this.#worker.on("error", (error) => this.#fail(error));
    this.#worker.on("exit", (code) => {
      if (!this.#closing) this.#fail(new Error(`the search worker exited (${code})`));
    });
  }

  #fail(error: unknown): void {
    this.#failure ??= error;
    for (const waiting of this.#pending.values()) waiting.reject(error);
    this.#pending.clear();
  }

  /** The matching lines of `text`, unless `deadline` (epoch ms) passes or the signal fires first. */
  async match(text: string, deadline: number, signal?: AbortSignal): Promise<LineMatches> {
    if (this.#failure !== undefined) throw this.#failure;
    const id = this.#nextId++;
    const answer = new Promise<number[]>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#worker.postMessage({ id, text });
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const late = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
      onAbort = () => resolve("timeout");
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([answer, late]);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Stops the worker, mid-match if need be. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#pending.clear();
    await this.#worker.terminate();
  }
}
