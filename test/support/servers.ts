import {
  type ExitReason,
  type From,
  GenServer,
  NoReply,
  type SystemMessage,
} from "../../src/runtime/index.js";

export type EchoCall =
  | { op: "echo"; value: unknown }
  | { op: "crash"; message: string }
  | { op: "reject"; message: string }
  | { op: "sleep"; ms: number }
  | { op: "never" }
  | { op: "stop"; reason: ExitReason };

/** Answers calls; can be told to crash, reject, sleep, never answer or stop. Records infos. */
export class Echo extends GenServer<
  EchoCall,
  unknown,
  { op: "note"; value: unknown },
  unknown,
  { onTerminate?: (r: ExitReason) => void } | undefined
> {
  infos: unknown[] = [];
  notes: unknown[] = [];
  private onTerminate: ((reason: ExitReason) => void) | undefined;

  override init(args?: { onTerminate?: (r: ExitReason) => void }): void {
    this.onTerminate = args?.onTerminate;
  }

  override async handleCall(message: EchoCall, _from: From<unknown>): Promise<unknown> {
    switch (message.op) {
      case "echo":
        return message.value;
      case "crash":
        throw new Error(message.message);
      case "reject":
        return Promise.reject(new Error(message.message));
      case "sleep":
        await new Promise((resolve) => setTimeout(resolve, message.ms));
        return "slept";
      case "never":
        return NoReply;
      case "stop":
        this.stop(message.reason);
        return "stopping";
    }
  }

  override handleCast(message: { op: "note"; value: unknown }): void {
    this.notes.push(message.value);
  }

  override handleInfo(message: unknown | SystemMessage): void {
    this.infos.push(message);
  }

  override terminate(reason: ExitReason): void {
    this.onTerminate?.(reason);
  }
}

/** A server that counts synchronously; the smallest useful process. */
export class Counter extends GenServer<"get" | "inc", number, "inc", never, number | undefined> {
  count = 0;

  override init(start?: number): void {
    this.count = start ?? 0;
  }

  override handleCall(message: "get" | "inc"): number {
    if (message === "inc") this.count++;
    return this.count;
  }

  override handleCast(): void {
    this.count++;
  }
}

/** Waits for `predicate` to hold, polling the event loop; fails after `ms`. */
export async function eventually(predicate: () => boolean, ms = 2000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** A worker that records its starts and stops in a shared journal, for ordering assertions. */
export class Probe extends GenServer<
  EchoCall,
  unknown,
  never,
  never,
  {
    name: string;
    journal: string[];
    trap?: boolean;
    slowStopMs?: number | undefined;
    hang?: boolean | undefined;
  }
> {
  private name = "";
  private journal: string[] = [];
  private slowStopMs = 0;
  private hang = false;

  override init(args: {
    name: string;
    journal: string[];
    trap?: boolean;
    slowStopMs?: number;
    hang?: boolean;
  }): void {
    this.name = args.name;
    this.journal = args.journal;
    this.slowStopMs = args.slowStopMs ?? 0;
    this.hang = args.hang ?? false;
    if (args.trap) this.trapExits(true);
    this.journal.push(`start ${this.name}`);
  }

  override handleCall(message: EchoCall): unknown {
    if (message.op === "crash") throw new Error(message.message);
    if (message.op === "stop") {
      this.stop(message.reason);
      return "stopping";
    }
    return message.op === "echo" ? message.value : null;
  }

  override async terminate(): Promise<void> {
    this.journal.push(`stop ${this.name}`);
    if (this.hang) await new Promise(() => {});
    if (this.slowStopMs > 0) await new Promise((resolve) => setTimeout(resolve, this.slowStopMs));
    this.journal.push(`stopped ${this.name}`);
  }
}
