// Node processes for bench/cluster-sessions.ts: each runs bench/cluster-node-child.ts, answers
// requests a line at a time, and is killed with SIGKILL when the bench wants a crash. Every
// process started here is tracked until it has exited: `stopAll` ends them (stdin closed, then
// SIGKILL after a bound), and a process-exit hook kills any still running if the bench itself
// dies.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface NodeConfig {
  node: string;
  servers: string;
  prefix: string;
  connectionString: string;
  schema: string;
  buckets: { nodes: string; leases: string };
  leaseTtlMs: number;
}

/** An ownership event a node printed (ClusterNodeEvent, as JSON). */
export interface PrintedEvent {
  type: string;
  sessionId: string;
  node: string;
  how?: string;
  at: number;
}

const living = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const child of living) child.kill("SIGKILL");
  });
}

/** The child's script: the compiled .js beside this file, or the .ts under a loader (tsx). */
function childCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".ts"))
    return ["--import", "tsx", here.replace(/cluster-node-procs\.ts$/, "cluster-node-child.ts")];
  return [here.replace(/cluster-node-procs\.js$/, "cluster-node-child.js")];
}

export class NodeProcess {
  readonly ready: Promise<void>;
  readonly exited: Promise<string>;
  readonly events: PrintedEvent[] = [];
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private stderr = "";

  constructor(readonly config: NodeConfig) {
    hookExit();
    this.child = spawn(process.execPath, [...childCommand(), JSON.stringify(config)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    living.add(this.child);
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-2000);
    });
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => {
        living.delete(this.child);
        const why = new Error(`node ${config.node} exited (${signal ?? code}): ${this.stderr.trim()}`);
        for (const { reject } of this.pending.values()) reject(why);
        this.pending.clear();
        resolve(String(signal ?? code));
      }),
    );
    this.ready = new Promise<void>((resolve, reject) => {
      this.child.once("exit", () =>
        reject(new Error(`node ${config.node} exited before it was ready: ${this.stderr.trim()}`)),
      );
      createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        let message: {
          type?: string;
          id?: number;
          ok?: boolean;
          result?: unknown;
          error?: string;
          event?: PrintedEvent;
        };
        try {
          message = JSON.parse(line);
        } catch {
          return;
        }
        if (message.type === "ready") resolve();
        else if (message.type === "event" && message.event) this.events.push(message.event);
        else if (message.id !== undefined) {
          const waiter = this.pending.get(message.id);
          this.pending.delete(message.id);
          if (message.ok) waiter?.resolve(message.result);
          else waiter?.reject(new Error(`node ${config.node}: ${message.error}`));
        }
      });
    });
    this.ready.catch(() => undefined);
  }

  get node(): string {
    return this.config.node;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Asks the node to do `op`; fails after `timeoutMs`, or when the node exits. */
  request<T>(op: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    if (!this.alive)
      return Promise.reject(new Error(`node ${this.node}: ${op} asked of a node that has exited`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`node ${this.node}: ${op} not answered within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin?.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  /** A crash: SIGKILL, resolved once the process is gone. */
  async kill(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /** A clean leave (stdin closed: the node closes), SIGKILL if it takes longer than `ms`. */
  async stop(ms = 5000): Promise<void> {
    if (!this.alive) return;
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), ms);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Stops every node process still running (clean leave first, SIGKILL after `ms`). */
export async function stopAll(nodes: NodeProcess[], ms = 5000): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop(ms)));
}
