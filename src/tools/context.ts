import { createHash } from "node:crypto";
import { InvalidArgumentError } from "../errors.js";
import { type ApprovalPolicies, type Approver, DEFAULT_APPROVAL } from "./approval.js";
import { ReadBeforeWriteError } from "./errors.js";
import { DEFAULT_TOOL_LIMITS, type ToolLimits } from "./limits.js";
import type { Project } from "./project.js";

export interface ToolContextOptions {
  project: Project;
  /** Fires when the turn is cancelled: a running command is killed, a pending approval dropped. */
  signal?: AbortSignal;
  limits?: Partial<ToolLimits>;
  approval?: Partial<ApprovalPolicies>;
  /** Asked for calls whose kind has the policy `ask`; without one, such calls are denied. */
  approve?: Approver;
  /** The environment commands start from, scrubbed of secrets; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * What the tools of one session work with: its project, the turn's abort signal, the limits,
 * the approval policy, and the memory of which files were read in which state (the read-before-
 * write rule). `withSignal` gives the next turn a context that keeps that memory.
 */
export class ToolContext {
  readonly project: Project;
  readonly signal: AbortSignal;
  readonly limits: Readonly<ToolLimits>;
  readonly approval: Readonly<ApprovalPolicies>;
  readonly approve: Approver | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly #shared: SharedState;

  constructor(options: ToolContextOptions, shared: SharedState = { reads: new Map(), locks: new Map() }) {
    this.project = options.project;
    this.signal = options.signal ?? new AbortController().signal;
    this.limits = Object.freeze({ ...DEFAULT_TOOL_LIMITS, ...definedOnly(options.limits ?? {}) });
    for (const [name, value] of Object.entries(this.limits)) {
      if (!Number.isSafeInteger(value) || value <= 0) {
        throw new InvalidArgumentError(
          `limits.${name}`,
          `must be a positive whole number, got ${String(value)}`,
        );
      }
    }
    for (const [kind, policy] of Object.entries(options.approval ?? {})) {
      if (policy !== undefined && !["auto", "ask", "deny"].includes(policy)) {
        throw new InvalidArgumentError(
          `approval.${kind}`,
          `must be auto, ask or deny, got ${String(policy)}`,
        );
      }
    }
    this.approval = Object.freeze({ ...DEFAULT_APPROVAL, ...definedOnly(options.approval ?? {}) });
    this.approve = options.approve;
    this.env = options.env ?? process.env;
    this.#shared = shared;
  }

  /** The same context (and read memory) for a new turn's signal. */
  withSignal(signal: AbortSignal): ToolContext {
    return new ToolContext(
      {
        project: this.project,
        signal,
        limits: this.limits,
        approval: this.approval,
        env: this.env,
        ...(this.approve === undefined ? {} : { approve: this.approve }),
      },
      this.#shared,
    );
  }

  /** Notes that the whole of a file (by real path) was seen with this content. */
  rememberRead(absolute: string, content: Buffer | string): void {
    this.#shared.reads.set(absolute, hashOf(content));
  }

  /** Refuses a change to an existing file not read whole in its current state. */
  checkUnchanged(absolute: string, shown: string, current: Buffer | string): void {
    const seen = this.#shared.reads.get(absolute);
    if (seen === undefined) throw new ReadBeforeWriteError(shown, "not_read");
    if (seen !== hashOf(current)) throw new ReadBeforeWriteError(shown, "changed");
  }

  /**
   * Runs `change` when no other change of the same file (by real path) is running: two edits of
   * one file called in parallel apply one after the other, the second on the first's result,
   * instead of both starting from the same text and the second undoing the first.
   */
  async withFileLock<T>(absolute: string, change: () => Promise<T>): Promise<T> {
    const { locks } = this.#shared;
    const before = locks.get(absolute) ?? Promise.resolve();
    const run = before.then(change);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    locks.set(absolute, settled);
    try {
      return await run;
    } finally {
      if (locks.get(absolute) === settled) locks.delete(absolute);
    }
  }
}

/** What the contexts of one session share across turns. */
interface SharedState {
  /** Real path → sha256 of the whole file as last read or written by a tool. */
  reads: Map<string, string>;
  /** Real path → the end of the last change queued on it. */
  locks: Map<string, Promise<void>>;
}

function hashOf(content: Buffer | string): string {
  return createHash("sha256").update(content).digest("hex");
}

function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}
