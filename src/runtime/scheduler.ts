import { monotonicMs } from "./clock.js";
import type { Proc } from "./process.js";
import { Queue } from "./queue.js";

/**
 * Process steps between two reads of the clock at first and at most (see `sliceUsedUp`). The
 * most bounds how far a slice can overrun when cheap messages are suddenly followed by
 * expensive ones; a read every 64 steps costs well under a nanosecond per message.
 */
const INITIAL_CHECK_EVERY = 1;
const MAX_CHECK_EVERY = 64;

/**
 * Runs `task` as a microtask, as `queueMicrotask` does (the same queue, the same order), through
 * a settled promise: Node's `queueMicrotask` makes an AsyncResource and a bound function for
 * every task (~200 bytes, and a drain is queued for nearly every call or start made from outside
 * the runtime), a `then` on a settled promise only its reaction. `task` must not throw (a drain
 * catches what handlers throw).
 */
const SETTLED = Promise.resolve();
function runSoon(task: () => void): void {
  void SETTLED.then(task);
}

/**
 * The run queue of one node: runnable processes take turns of at most `reductions` messages,
 * and the whole run yields to timers and I/O once it has taken `sliceMs`.
 */
export class Scheduler {
  private readonly runQueue = new Queue<Proc>();
  private drainPending = false;
  /**
   * A time slice spans every drain from the first one after the event loop had a turn to the
   * loop's next check phase (where `closeSlice` runs), so that drains chained through
   * microtasks (an async handler's turns) count against one slice instead of each starting
   * afresh.
   */
  private sliceOpen = false;
  private sliceStart = 0;
  /** Steps left before the clock is read; reading it per message would cost more than a cast. */
  private stepsToCheck = 0;
  /** Steps between clock reads, adapted so that the clock is read a few times per slice. */
  private checkEvery = INITIAL_CHECK_EVERY;
  private lastCheck = 0;

  constructor(
    private readonly reductions: number,
    private readonly sliceMs: number,
  ) {}

  /** Queues `proc` to run if it has mail and can take it. */
  schedule(proc: Proc): void {
    if (proc.queued || proc.busy || proc.state !== "running" || proc.mailbox.length === 0) return;
    proc.queued = true;
    this.runQueue.push(proc);
    if (!this.drainPending) {
      this.drainPending = true;
      runSoon(this.drain);
    }
  }

  /**
   * Gives each process in the run queue one turn of at most `reductions` messages (a round),
   * then lets pending promise callbacks run before the next round (queueMicrotask), so that a
   * process with an async handler, which can take its next message only once its handler's
   * promise settles, gets a turn each round as a sync one does. Once the slice is used up, the
   * rest waits for the event loop's check phase (setImmediate), after timers and I/O.
   */
  private readonly drain = (): void => {
    if (!this.sliceOpen) this.openSlice();
    for (let round = this.runQueue.length; round > 0; round--) {
      const proc = this.runQueue.shift() as Proc;
      proc.queued = false;
      for (let n = 0; n < this.reductions; n++) {
        if (proc.busy || proc.state !== "running" || proc.mailbox.length === 0) break;
        proc.step();
        if (--this.stepsToCheck <= 0 && this.sliceUsedUp()) {
          // drainPending stays true: whatever becomes runnable meanwhile waits in the queue.
          this.schedule(proc);
          setImmediate(this.drain);
          return;
        }
      }
      this.schedule(proc);
    }
    if (this.runQueue.length > 0) runSoon(this.nextRound);
    else this.drainPending = false;
  };

  /**
   * Two microtask hops, not one: an async handler that awaited nothing slow settles in two
   * (its own continuation, then the step's `then`), and so is back in the queue for the round.
   */
  private readonly nextRound = (): void => {
    runSoon(this.drain);
  };

  private openSlice(): void {
    this.sliceOpen = true;
    this.sliceStart = monotonicMs();
    this.lastCheck = this.sliceStart;
    this.stepsToCheck = this.checkEvery;
    setImmediate(this.closeSlice);
  }

  /** Runs in the check phase: the event loop had its turn, so the next drain starts a new slice. */
  private readonly closeSlice = (): void => {
    this.sliceOpen = false;
  };

  /**
   * Reads the clock, and sets how many steps to run before the next read from what the last
   * ones cost, aiming at a read every eighth of a slice: a slice then overruns by about that
   * much whether a message takes a microsecond or a millisecond, and the clock costs nothing
   * noticeable per message. (The time since the last read may include other work between
   * drains; that only makes the reads more frequent.)
   */
  private sliceUsedUp(): boolean {
    const now = monotonicMs();
    const perStep = (now - this.lastCheck) / this.checkEvery;
    this.lastCheck = now;
    const steps = perStep > 0 ? Math.floor(this.sliceMs / 8 / perStep) : MAX_CHECK_EVERY;
    this.checkEvery = Math.max(1, Math.min(steps, MAX_CHECK_EVERY));
    this.stepsToCheck = this.checkEvery;
    return now - this.sliceStart >= this.sliceMs;
  }
}
